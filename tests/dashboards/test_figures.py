"""Every registered figure draws from a synthetic results frame (PNG and SVG), without training:
the frame has the columns the study figures read (arms, folds, seeds, OE corpora, alpha, minor-mode
and per-step AUROC columns, interventions, normal colour sets, DCI), so a new figure is tested here by
adding what it reads to the frame."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboards.figures import FIGURES
from dashboards.spec import labelled
from studyspec.schema import Study

ARMS = ["hsc", "adra", "adib"]
GRID = {"arm": ARMS, "data.oe_corpus": ["mnist5k", "smooth_noise"], "data.fold": [7, 0], "regularizer.alpha": [0.0, 0.01],
        "data.minor_ratio": [0.0, 1.0], "data.factors.intervention": [{"object_color": "blue"}, {"object_shape": "cube"}],
        "data.factors.normal.object_color": [["red"], ["red", "blue"]]}
# the factor axes ride on two of the others: fold 7 is the colour intervention, ratio 1 the two-colour step
INTERVENTION = {7: ("object_colorblue", "blue", None), 0: ("object_shapecube", None, "cube")}
BUDGET = {"data.dataset": "fashion_mnist", "model.backbone": "efficientnet_lite0", "data.image_size": 32,
          "data.n_normal": 384, "optim.epochs": 2, "optim.batch_size": 32, "val_protocol": "oe_holdout"}


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for arm in ARMS:
        for corpus in GRID["data.oe_corpus"]:
            for fold, secondary in ((7, 9), (0, 6)):
                for alpha in GRID["regularizer.alpha"]:
                    for ratio in (0.0, 1.0):
                        auroc = 0.7 + 0.05 * ARMS.index(arm) + rng.normal(0, 0.02)
                        label, colour, shape = INTERVENTION[fold]
                        rows.append({**BUDGET, "status": "ok", "arm": arm, "arm_label": arm.upper(),
                                     "data.factors.intervention": label, "seed": 0,
                                     "data.factors.intervention.object_color": colour,
                                     "data.factors.intervention.object_shape": shape,
                                     "data.factors.normal.object_color": "red+blue" if ratio else "red",
                                     "test_dci_disentanglement": 0.05 + 0.01 * ARMS.index(arm),
                                     "test_dci_disentanglement_random": 0.004,
                                     "data.oe_corpus": corpus, "data.fold": fold, "data.secondary_class": secondary,
                                     "data.minor_ratio": ratio, "regularizer.alpha": alpha, "optim.lr": 0.1,
                                     "test_auroc": auroc, "test_ap": auroc - 0.3, "val_ap": 0.9, "val_auroc": 0.95,
                                     "test_auroc_primary": 0.9, "test_auroc_secondary": 0.6 + 0.2 * ratio,
                                     "test_auroc_step10": auroc - 0.05, "test_auroc_step20": auroc,
                                     "trial_id": f"t{len(rows):03d}", "train_s": 5 + rng.uniform(0, 5)})
    return pd.DataFrame(rows)


GRID_STUDY = Study.model_validate({
    "name": "synthetic", "grid": GRID,
    "table": {"rows": "arm", "columns": "data.oe_corpus", "baseline": "hsc", "compare_to": "hsc",
              "metrics": ["test_auroc", "test_ap"],
              "paper": {"metric": "mAUC (%)", "columns": {"SVHN": {"hsc": 70.2, "adra": 75.3, "adib": 79.8},
                                                          "object_colorblue": {"hsc": 11.7},
                                                          "DCI disentanglement": {"hsc": 0.068}}}}})
SEARCH_STUDY = Study.model_validate({
    "name": "synthetic_search", "grid": {"arm": ["adib"]}, "metric": "val_ap",
    "search": {"num_samples": 4, "space": {"regularizer.alpha": {"type": "loguniform"}, "optim.lr": {}}}})


PARETO_STUDY = Study.model_validate({
    "name": "synthetic_pareto", "metric": ["val_auroc", "train_s"], "mode": ["max", "min"],
    "search": {"num_samples": 4, "space": {"arm": {"choices": ARMS}, "optim.lr": {}}}})
STUDIES = {"search": SEARCH_STUDY, "pareto": PARETO_STUDY}  # figures of a search; the others draw a grid


@pytest.mark.parametrize("name", FIGURES.names())
def test_every_registered_figure_draws_from_rows_alone(name: str, tmp_path: Path) -> None:
    study = STUDIES.get(name, GRID_STUDY)
    written = FIGURES.get(name)(study, _frame(), tmp_path / "figures")
    assert written is not None and written.stat().st_size > 0 and written.with_suffix(".svg").is_file(), name


def test_an_axis_of_lists_reads_back_from_trials_csv_as_its_labels(tmp_path: Path) -> None:
    """A list-valued axis is also a config key, so trials.csv holds the list as JSON; the table and
    figures must still find each grid value's rows (they were empty for colour_robustness)."""
    axis = "data.factors.normal.object_color"
    frame = _frame().assign(**{axis: lambda f: f[axis].map(lambda label: json.dumps(label.split("+")))})
    frame.to_csv(tmp_path / "trials.csv", index=False)
    read = labelled(GRID_STUDY, pd.read_csv(tmp_path / "trials.csv"))
    assert set(read[axis]) == {"red", "red+blue"}
    assert read["data.factors.intervention"].tolist() == frame["data.factors.intervention"].tolist()
    assert FIGURES.get("colour_robustness")(GRID_STUDY, read, tmp_path / "figures") is not None
