"""The ablation figures, drawn from synthetic results rows: alpha curve with the searched optimum,
minor-mode relative AUROC, gain over a baseline. Each writes PNG + SVG, or returns None when the rows
lack what it draws (a search run, another benchmark)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboards.aggregate import aggregate, main as aggregate_main
from dashboards.figures import COMPARISONS, FIGURES, Compared, alpha
from dashboards.figures.alpha import alpha_curve, alpha_curve_beside_searches, searched_optima
from dashboards.figures.baseline_gain import baseline_gain, gain_table
from dashboards.figures.minor_mode import minor_mode, relative_curves
from studyspec.schema import Study
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


def _run(folder: Path, study: Study, rows: pd.DataFrame) -> Path:
    """A run directory as a study leaves it (what aggregate reads)."""
    folder.mkdir(parents=True)
    (folder / "study.yaml").write_text(study.to_yaml())
    (folder / "run.json").write_text(json.dumps({"run_id": folder.name, "study": study.name, "started_at": 0.0}))
    rows.assign(trial_id=[f"t{i}" for i in range(len(rows))], message="").to_csv(folder / "trials.csv", index=False)
    return folder


def _search_rows() -> pd.DataFrame:
    """A finished search of the same study: the best val AP is not the best test AP."""
    return pd.DataFrame([
        {"status": "ok", "regularizer.alpha": 3e-3, "optim.lr": 0.05, "data.fold": 0, "val_ap": 0.90, "test_ap": 0.60,
         **BUDGET},
        {"status": "ok", "regularizer.alpha": 0.3, "optim.lr": 0.1, "data.fold": 0, "val_ap": 0.70, "test_ap": 0.95,
         **BUDGET},
        {"status": "stopped_early", "regularizer.alpha": 0.9, "optim.lr": 0.1, "data.fold": 0, "val_ap": 0.99, **BUDGET},
    ])


def test_alpha_curve_marks_the_trial_each_named_search_selects_by_validation(tmp_path: Path) -> None:
    frame, grid = _alpha_rows(), load_study("studies/alpha_sweep.yaml")
    named = [Compared("search", load_study("studies/alpha_sweep.yaml", sets=SEARCH), _search_rows()),
             Compared("grid", grid, frame)]  # a run that searched nothing marks nothing
    (optimum,) = searched_optima(named, frame)
    assert optimum.run_id == "search" and optimum.alpha == 3e-3 and optimum.trials == 2 and optimum.same_budget
    assert _written(alpha_curve_beside_searches(grid, frame, tmp_path / "figures", named))
    assert _written(alpha_curve(grid, frame, tmp_path / "alone"))
    assert "alpha_curve" in grid.figures and FIGURES.get("alpha_curve") and COMPARISONS.get("alpha_curve")


def test_aggregate_compares_the_runs_it_is_given_and_no_other(tmp_path: Path, monkeypatch) -> None:
    """A figure reads only its run's files and the runs named on the command line: a search run lying
    beside the grid run is not looked at unless named."""
    labels = {"arm": "adib", "seed": 0}  # the grid's other axes
    grid = _run(tmp_path / "alpha_sweep" / "grid", load_study("studies/alpha_sweep.yaml"), _alpha_rows().assign(**labels))
    search = _run(tmp_path / "alpha_sweep" / "search", load_study("studies/alpha_sweep.yaml", sets=SEARCH),
                  _search_rows().assign(**labels))
    seen: list[list[str]] = []
    original = alpha.searched_optima
    monkeypatch.setattr(alpha, "searched_optima", lambda runs, frame: seen.append([r.run_id for r in runs])
                        or original(runs, frame))
    aggregate(grid)
    assert seen == []  # alone: the plain figure
    aggregate(grid, compare=[search])
    assert seen == [["search"]] and _written(grid / "figures" / "test_ap_vs_alpha.png")


def test_aggregate_of_a_missing_run_says_so_and_exits_2(tmp_path: Path, capsys) -> None:
    assert aggregate_main([str(tmp_path / "missing")]) == 2
    assert "not a study run" in capsys.readouterr().err


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
