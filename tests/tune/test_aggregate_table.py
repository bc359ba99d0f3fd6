"""The grid table's layouts from result rows alone: mean ± SEM, a mean row over classes, one column
per class (paper 002's Table 3), and the budget line naming the optimizer the rows used."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from dashboards.describe import budget_text
from dashboards.tables import grid_table, shown
from studyspec.schema import Study


def _study(**table) -> Study:
    return Study.model_validate({"name": "layout", "grid": {"arm": ["a6", "a7"], "data.fold": [0, 1], "seed": [0, 1]},
                                 "table": {"metrics": ["test_auroc"], **table}})


ROWS = pd.DataFrame([{"status": "ok", "arm": arm, "data.fold": fold, "seed": seed,
                      "test_auroc": 0.5 + 0.1 * fold + 0.2 * (arm == "a7") + 0.02 * seed}
                     for arm in ("a6", "a7") for fold in (0, 1) for seed in (0, 1)])


def test_sem_is_the_sample_std_over_root_n() -> None:
    std = grid_table(_study(), ROWS)[0].set_index("arm")["test_auroc_std"]
    sem = grid_table(_study(spread="sem"), ROWS)[0].set_index("arm")["test_auroc_std"]
    assert sem["a6"] == pytest.approx(std["a6"] / math.sqrt(4))


def test_columns_axis_gives_one_cell_per_class_and_the_mean_row_averages_rows() -> None:
    table, notes = grid_table(_study(columns="data.fold", mean_row=True), ROWS)
    a7 = table.set_index("arm").loc["a7"]
    assert a7["fold 0"] == pytest.approx(100 * 0.71) and a7["fold 1"] == pytest.approx(100 * 0.81)
    assert table["arm"].iloc[-1] == "mean" and table["n"].iloc[-1] == 8
    assert table["test_auroc_mean"].iloc[-1] == pytest.approx(table["test_auroc_mean"].iloc[:2].mean())
    assert any("fold <value>" in note.text for note in notes)


def test_columns_must_be_another_grid_axis() -> None:
    with pytest.raises(ValueError, match="table.columns"):
        _study(rows="arm", columns="arm")


def test_budget_line_names_the_optimizer() -> None:
    frame = pd.DataFrame([{"optim.optimizer": "adam", "optim.lr": 1e-3, "optim.weight_decay": 5e-4}])
    assert "Adam lr 0.001 (L2 0.0005" in budget_text(frame) and "momentum" not in budget_text(frame)
    assert "SGD lr" in budget_text(frame.assign(**{"optim.optimizer": "sgd"}))


def test_each_row_gets_its_paired_difference_to_the_reference_and_a_failed_unit_is_dropped() -> None:
    rows = ROWS.copy()
    rows.loc[(rows["arm"] == "a6") & (rows["data.fold"] == 1) & (rows["seed"] == 1), "status"] = "failed"
    study = _study(compare_to="a6")
    table, notes = grid_table(study, rows)
    a7 = table.set_index("arm").loc["a7"]
    # a7 - a6 is 20 points in every grid point; the one a6 failed is dropped, never imputed; the units are the 2
    # folds (seeds averaged within each), and a difference with no spread over fewer than 3 units is not marked
    assert a7["delta_test_auroc"] == pytest.approx(20.0) and a7["delta_test_auroc_units"] == 2
    assert a7["delta_test_auroc_low"] == pytest.approx(20.0) and not a7["delta_test_auroc_resolved"]
    assert pd.isna(table.set_index("arm").loc["a6", "delta_test_auroc"])  # the reference row
    texts = " ".join(note.text for note in notes)
    assert "data.fold=1, seed=1" in texts and "dropped, not imputed" in texts and "* marks" in texts
    assert "no spread to judge it by" in texts and "(unit: data.fold," in texts
    header, cells = shown(study, table)
    assert cells[1][header.index("Δ test AUROC vs a6 [95% CI]")] == "+20.0 [+20.0, +20.0]"


def test_a_percent_table_scales_fractions_and_shows_dci_as_it_is() -> None:
    rows = ROWS.assign(test_accuracy=0.9, test_dci_disentanglement=0.07)
    study = _study(metrics=["test_auroc", "test_accuracy", "test_dci_disentanglement"])
    table = grid_table(study, rows)[0].set_index("arm")
    assert table.loc["a6", "test_accuracy_mean"] == pytest.approx(90.0)
    assert table.loc["a6", "test_dci_disentanglement_mean"] == pytest.approx(0.07)
    header, _ = shown(study, table.reset_index())
    assert "test accuracy (%)" in header and "DCI disentanglement" in header
