"""The ablation figures, drawn from synthetic results rows: alpha curve with the searched optimum,
minor-mode relative AUROC, gain over a baseline. Each writes PNG + SVG, or returns None when the rows
lack what it draws (a search run, another benchmark)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dashboards.figures import FIGURES
from dashboards.figures.alpha import alpha_curve, searched_optima
from dashboards.figures.baseline_gain import baseline_gain, gain_table
from dashboards.figures.minor_mode import minor_mode, relative_curves
from tune.study import load_study

BUDGET = {"data.dataset": "fashion_mnist", "model.backbone": "efficientnet_lite0", "data.image_size": 32,
          "data.n_normal": 384, "optim.epochs": 2, "optim.batch_size": 32, "data.oe_corpus": "mnist5k"}
SEARCH = ["data.fold=0", "seed=0", "regularizer.alpha=0.01", "scheduler.name=asha",
          "search={num_samples: 3, space: {regularizer.alpha: {}, optim.lr: {low: 0.003, high: 0.3}}}"]


def _written(path: Path | None) -> bool:
    return path is not None and path.is_file() and path.with_suffix(".svg").is_file()


def _alpha_rows() -> pd.DataFrame:
    rows = [{"status": "ok", "regularizer.alpha": a, "data.fold": f, "test_ap": 0.5 + a + 0.01 * f,
             "val_ap": 0.8 - a, "val_protocol": "class_holdout", **BUDGET}
            for a in (0.0, 1e-3, 1e-2, 1.0) for f in range(3)]
    return pd.DataFrame(rows + [{"status": "failed", "regularizer.alpha": 1e-2, "data.fold": 3, **BUDGET}])


def _search_run(folder: Path) -> None:
    """A finished search run of the same study: the best val AP is not the best test AP."""
    folder.mkdir(parents=True)
    study = load("studies/alpha_sweep.yaml", sets=SEARCH)
    (folder / "study.yaml").write_text(study.to_yaml())
    pd.DataFrame([
        {"trial": "a", "status": "ok", "regularizer.alpha": 3e-3, "optim.lr": 0.05, "data.fold": 0,
         "val_ap": 0.90, "test_ap": 0.60, **BUDGET},
        {"trial": "b", "status": "ok", "regularizer.alpha": 0.3, "optim.lr": 0.1, "data.fold": 0,
         "val_ap": 0.70, "test_ap": 0.95, **BUDGET},
        {"trial": "c", "status": "stopped_early", "regularizer.alpha": 0.9, "optim.lr": 0.1, "data.fold": 0,
         "val_ap": 0.99, **BUDGET},
    ]).to_csv(folder / "trials.csv", index=False)


def test_alpha_curve_marks_the_trial_the_search_selects_by_validation(tmp_path: Path) -> None:
    grid_run, frame = tmp_path / "alpha_sweep" / "grid", _alpha_rows()
    _search_run(tmp_path / "alpha_sweep" / "search")
    (tmp_path / "alpha_sweep" / "unrelated").mkdir()  # a run dir without files is skipped
    (optimum,) = searched_optima(grid_run, frame)
    assert optimum.alpha == 3e-3 and optimum.trials == 2 and optimum.same_budget  # val AP chose, not test AP
    study = load_study("studies/alpha_sweep.yaml")
    assert _written(alpha_curve(study, frame, grid_run / "figures"))
    assert "alpha_curve" in study.figures and FIGURES.get("alpha_curve")


def test_alpha_curve_is_not_drawn_for_a_search_run_or_rows_without_alpha(tmp_path: Path) -> None:
    frame = _alpha_rows()
    assert alpha_curve(load_study("studies/alpha_sweep.yaml", sets=SEARCH), frame, tmp_path) is None
    grid = load_study("studies/alpha_sweep.yaml")
    assert alpha_curve(grid, frame.drop(columns="regularizer.alpha"), tmp_path) is None


def _minor_rows() -> pd.DataFrame:
    rows = []
    for arm, drop in (("adib_alpha0", 0.3), ("adib", 0.05)):
        for fold, secondary in ((7, 9), (0, 6)):
            for r in (0.0, 0.1, 1.0):
                rows.append({"status": "ok", "arm": arm, "data.fold": fold, "data.secondary_class": secondary,
                             "data.minor_ratio": r, "test_auroc_primary": 0.9,
                             "test_auroc_secondary": 0.8 * (1 - drop * (1 - r)), **BUDGET})
    return pd.DataFrame(rows)


def test_minor_mode_curves_are_relative_to_the_largest_ratio(tmp_path: Path) -> None:
    frame = _minor_rows()
    curves = relative_curves(frame, "arm")
    sad = curves[(7, 9, "adib_alpha0")]
    assert sad.loc[1.0].tolist() == [1.0, 1.0] and sad.loc[0.0, "test_auroc_secondary"] == pytest.approx(0.7)
    assert curves[(0, 6, "adib")].loc[0.0, "test_auroc_primary"] == pytest.approx(1.0)
    study = load_study("studies/minor_mode.yaml")
    assert _written(minor_mode(study, frame, tmp_path))
    assert minor_mode(study, frame.drop(columns="test_auroc_secondary"), tmp_path / "none") is None


def _corpus_rows() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    base = {"hsc": 0.8, "adra": 0.83, "adib": 0.85}
    worse = {"mnist5k": 0.0, "digits": 0.05, "smooth_noise": 0.2}
    return pd.DataFrame([{**BUDGET, "status": "ok", "arm": arm, "data.oe_corpus": corpus, "data.fold": fold,
                          "test_auroc": base[arm] - worse[corpus] * (1.5 if arm == "hsc" else 1) + rng.normal(0, 0.01)}
                         for arm in base for corpus in worse for fold in range(3)])


def test_gain_over_the_baseline_per_corpus(tmp_path: Path) -> None:
    frame = _corpus_rows()
    gains = gain_table(frame, "arm", "data.oe_corpus", "test_auroc", "hsc")
    assert set(gains.columns) == {"adib", "adra"} and set(gains.index) == {"mnist5k", "digits", "smooth_noise"}
    assert gains.loc["smooth_noise", "adib"] > gains.loc["mnist5k", "adib"]  # the synthetic trend
    study = load_study("studies/oe_corpus.yaml")
    assert _written(baseline_gain(study, frame, tmp_path))
    assert baseline_gain(load_study("studies/one_vs_rest.yaml"), frame, tmp_path / "none") is None  # no baseline
