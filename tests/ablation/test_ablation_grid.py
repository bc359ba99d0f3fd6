"""Grid and table mechanisms the ablation studies use: an axis whose values set several keys together
(class pairs), a searched axis that names no trial, and the table's rows of gains over a baseline row."""
from __future__ import annotations

import pandas as pd
import pytest

from dashboards.tables import grid_table, shown
from studyspec.schema import Study, value_label
from tune.grid import expand, point_key
from tune.study import StudyError, _validate

PAIRS = [{"fold": 7, "secondary_class": 9}, {"fold": 0, "secondary_class": 6}]


def _study(**fields) -> Study:
    return Study.model_validate({"name": "t", **fields})


def test_a_mapping_axis_sets_its_keys_together_under_a_readable_name() -> None:
    study = _study(base={"data": {"benchmark": "minor_mode"}},
                   grid={"arm": ["adib"], "data": PAIRS, "data.minor_ratio": [0.0, 1.0]})
    points = expand(study)
    assert [p.key for p in points] == ["adib-fold7-secondary_class9-minor_ratio0.0",
                                       "adib-fold7-secondary_class9-minor_ratio1.0",
                                       "adib-fold0-secondary_class6-minor_ratio0.0",
                                       "adib-fold0-secondary_class6-minor_ratio1.0"]
    assert points[2].labels == {"arm": "adib", "data": "fold0-secondary_class6", "data.minor_ratio": 0.0}
    data = points[2].config["data"]
    assert (data["fold"], data["secondary_class"], data["minor_ratio"], data["benchmark"]) == (0, 6, 0.0, "minor_mode")
    assert study.labels("data") == ["fold7-secondary_class9", "fold0-secondary_class6"]
    assert value_label(3) == 3 and point_key({"data.fold": 3}) == "fold3"


def test_a_searched_axis_is_a_placeholder_that_labels_no_trial() -> None:
    study = _study(grid={"arm": ["adib"], "regularizer.alpha": [0.01], "data.fold": [0]},
                   search={"num_samples": 2, "space": {"regularizer.alpha": {}}})
    (point,) = expand(study)
    assert point.key == "adib-fold0" and "regularizer.alpha" not in point.labels
    assert point.config["regularizer"]["alpha"] == 0.01  # what the searcher's value replaces


def test_the_baseline_must_be_a_value_of_the_rows_axis() -> None:
    with pytest.raises(StudyError, match="table.baseline 'sad' is not a value of the rows axis 'arm'"):
        _validate({"name": "t", "grid": {"arm": ["hsc", "adib"]}, "table": {"baseline": "sad"}}, "x.yaml")


def test_gain_rows_subtract_the_baseline_row_per_column_and_for_the_paper() -> None:
    study = _study(grid={"arm": ["hsc", "adib"], "data.oe_corpus": ["mnist5k", "smooth_noise"], "data.fold": [0, 1]},
                   table={"rows": "arm", "columns": "data.oe_corpus", "baseline": "hsc", "metrics": ["test_auroc"],
                          "paper": {"metric": "mAUC", "columns": {"SVHN": {"hsc": 70.2, "adib": 79.8}}}})
    auroc = {("hsc", "mnist5k"): [0.80, 0.90], ("hsc", "smooth_noise"): [0.60, 0.70],
             ("adib", "mnist5k"): [0.85, 0.95], ("adib", "smooth_noise"): [0.75, 0.85]}
    frame = pd.DataFrame([{"status": "ok", "arm": arm, "data.oe_corpus": corpus, "data.fold": fold, "test_auroc": v}
                          for (arm, corpus), values in auroc.items() for fold, v in enumerate(values)])
    table, notes = grid_table(study, frame)
    gain = table[table["arm"] == "adib - hsc"].iloc[0]
    assert gain["oe_corpus mnist5k"] == pytest.approx(5.0) and gain["oe_corpus smooth_noise"] == pytest.approx(15.0)
    assert gain["test_auroc_mean"] == pytest.approx(10.0) and pd.isna(gain["test_auroc_std"])
    assert gain["paper SVHN"] == pytest.approx(9.6) and gain["n"] == 4
    assert list(table["arm"]) == ["hsc", "adib", "adib - hsc"]
    assert any("gain over hsc" in note.text for note in notes)
    header, cells = shown(study, table)
    assert cells[2][header.index("test AUROC (%)")] == "10.0"


def test_a_list_value_names_its_points_and_rows_by_its_items() -> None:
    colours = [["red"], ["red", "blue"]]
    study = _study(base={"data": {"dataset": "scenes", "oe_corpus": "scenes", "benchmark": "factors",
                                  "val_protocol": "oe_holdout",
                                  "factors": {"normal": {"object_shape": "cone"},
                                              "intervention": {"object_shape": "cube"}}}},
                   grid={"arm": ["sad"], "data.factors.normal.object_color": colours})
    points = expand(study)
    assert [p.key for p in points] == ["sad-object_colorred", "sad-object_colorred+blue"]
    assert points[1].labels["data.factors.normal.object_color"] == "red+blue"
    assert points[1].config["data"]["factors"]["normal"] == {"object_shape": "cone", "object_color": ["red", "blue"]}
    assert study.labels("data.factors.normal.object_color") == ["red", "red+blue"]
    assert value_label({"object_color": ["red", "blue"], "object_size": "large"}) == "object_colorred+blue-object_sizelarge"
