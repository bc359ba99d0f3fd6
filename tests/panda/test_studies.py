"""The three PANDA study files validate at every budget, the EWC study also as an Optuna search,
and the Figure-1 plot draws from result rows (the --smoke runs are in tests/tune)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dashboards.figures.steps import auroc_vs_steps, step_columns
from tune.grid import expand
from tune.space import resolve_space
from tune.study import load_study

STUDIES = ["panda_adaptation", "finetuned_blocks", "ewc_lambda"]


@pytest.mark.parametrize("name", STUDIES)
@pytest.mark.parametrize("overlay", [{}, {"smoke": True}, {"budget": "full_lite0"},
                                     {"budget": "paper", "sets": ["model.weights_path=resnet152.pth"]}])
def test_study_expands_into_valid_trials(name: str, overlay: dict) -> None:
    study = load_study(Path("studies") / f"{name}.yaml", **overlay)
    points = expand(study)
    assert points and study.metric.startswith("val_")
    assert study.table.paper is not None and study.table.paper.columns


def test_ewc_lambda_runs_as_an_optuna_search_over_the_declared_range() -> None:
    study = load_study("studies/ewc_lambda.yaml", sets=[
        "data.fold=0", "regularizer.lam=10000.0",
        "search={num_samples: 12, algorithm: tpe, seed: 0, space: {regularizer.lam: {}}}"])
    (point,) = expand(study)
    space = resolve_space(study, [point])
    assert space == {"regularizer.lam": {"type": "loguniform", "low": 1.0, "high": 100000.0}}


def test_auroc_against_steps_figure(tmp_path: Path) -> None:
    frame = pd.DataFrame({"status": ["ok"] * 4, "regularizer.lam": [0.0, 0.0, 1e4, 1e4],
                          "test_auroc_step31": [0.9, 0.8, 0.9, 0.85], "test_auroc_step62": [0.7, 0.6, 0.88, 0.86],
                          "test_auroc_last": [0.7, 0.6, 0.88, 0.86]})
    assert list(step_columns(frame)) == [31, 62]
    written = auroc_vs_steps(frame, "regularizer.lam", tmp_path / "figures")
    assert written is not None and written.stat().st_size > 0 and (tmp_path / "figures" / "auroc_vs_steps.svg").exists()
    without_steps = frame.drop(columns=["test_auroc_step31", "test_auroc_step62"])
    assert auroc_vs_steps(without_steps, "regularizer.lam", tmp_path) is None
