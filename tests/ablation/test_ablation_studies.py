"""The four ablation study files validate at every budget, keep their --smoke runs tiny (tests/tune runs
them), and the alpha search variant is a no-peek search; a minor-mode trial runs at r = 0."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from adcore.config import TrialConfig, build_config
from adcore.presets import PRESETS, preset
from adcore.trial import run_trial
from tune.grid import expand
from tune.space import resolve_space
from tune.study import load_study

STUDIES = {"alpha_sweep": 60, "oe_corpus": 90, "minor_mode": 63, "one_vs_rest": 80}  # trials at the default


@pytest.mark.parametrize("name", STUDIES)
@pytest.mark.parametrize("overlay", [{}, {"smoke": True}, {"budget": "paper_cifar10"}])
def test_study_expands_into_valid_trials(name: str, overlay: dict) -> None:
    study = load_study(Path("studies") / f"{name}.yaml", **overlay)
    points = expand(study)
    assert study.metric.startswith("val_") and study.table.deviations
    assert len(points) <= 4 if overlay.get("smoke") else len(points) == STUDIES[name]


def test_alpha_search_variant_searches_alpha_and_lr_on_held_out_classes() -> None:
    study = load_study("studies/alpha_sweep.yaml", sets=[
        "data.fold=0", "seed=0", "regularizer.alpha=0.01", "scheduler.name=asha",
        "search={num_samples: 12, algorithm: tpe, seed: 0, "
        "space: {regularizer.alpha: {}, optim.lr: {low: 0.003, high: 0.3}}}"])
    (point,) = expand(study)
    cfg = TrialConfig.model_validate(point.config)
    assert cfg.data.val_protocol == "class_holdout" and study.metric == "val_ap" and study.scheduler.name == "asha"
    assert resolve_space(study, [point]) == {"regularizer.alpha": {"type": "loguniform", "low": 1e-5, "high": 1.0},
                                         "optim.lr": {"type": "loguniform", "low": 0.003, "high": 0.3}}


def test_sad_of_figure_5_is_adib_without_its_pull() -> None:
    adib, sad = preset("adib"), preset("adib_alpha0")
    assert {**sad, "regularizer": adib["regularizer"]} == adib and sad["regularizer"]["alpha"] == 0.0
    assert "alpha = 0" in PRESETS.get("adib_alpha0").label and preset("sad")["method"]["name"] == "sad"  # Deep SAD stays


def test_a_minor_mode_trial_runs_with_no_secondary_image(tiny_budget) -> None:
    tiny_budget["optim"]["epochs"] = 1
    tiny_budget["data"].update(benchmark="minor_mode", fold=7, secondary_class=9, minor_ratio=0.0)
    row = run_trial(build_config(tiny_budget, preset("adib_alpha0")))
    assert row["n_train_normal"] == tiny_budget["data"]["n_normal"]
    assert math.isfinite(row["test_auroc_secondary"]) and math.isfinite(row["test_auroc_primary"])
