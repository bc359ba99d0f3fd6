"""run_trial end to end on real Fashion-MNIST at a tiny budget: determinism, resume, errors."""
import json
import math
from pathlib import Path

import pytest

from adcore import build_config, run_trial
from adcore.presets import preset
from adcore.train import CHECKPOINT_FILE, NonFiniteLossError
from adcore.trial import train_and_evaluate

METRICS = ("test_ap", "test_auroc", "val_ap", "val_auroc", "train_loss")


def test_same_seed_gives_the_same_metrics(tiny_budget) -> None:
    cfg = build_config(tiny_budget, preset("a7"))
    first, second = run_trial(cfg), run_trial(cfg)
    assert {k: first[k] for k in METRICS} == {k: second[k] for k in METRICS}
    assert 0.0 <= first["test_ap"] <= 1.0 and first["status"] == "ok"
    assert first["data.fold"] == 0 and first["regularizer.name"] == "l2sp"  # flattened config columns
    json.dumps(first)  # a row is plain JSON


def test_report_is_called_once_per_epoch_and_last_has_test_metrics(tiny_budget) -> None:
    reports = []
    run_trial(build_config(tiny_budget, preset("a2")), report=reports.append)
    assert [r["epoch"] for r in reports] == [1, 2]
    assert "test_ap" not in reports[0] and "test_ap" in reports[1] and "val_ap" in reports[0]


def test_interrupted_and_resumed_run_ends_with_the_uninterrupted_metrics(
        tiny_budget, tmp_path: Path, interrupt_after_first_epoch) -> None:
    tiny_budget["optim"]["epochs"] = 3
    cfg = build_config(tiny_budget, preset("a7"))
    uninterrupted = run_trial(cfg)
    interrupt_after_first_epoch(cfg, tmp_path)
    assert (tmp_path / CHECKPOINT_FILE).exists()
    epochs_seen = []
    resumed = run_trial(cfg, report=lambda m: epochs_seen.append(m["epoch"]), checkpoint_dir=tmp_path)
    assert epochs_seen == [2, 3]
    for key in METRICS:
        assert resumed[key] == pytest.approx(uninterrupted[key], abs=1e-6), key


def test_nan_loss_ends_the_trial_with_a_clear_error(tiny_budget) -> None:
    tiny_budget["optim"]["lr"] = 1e12
    cfg = build_config(tiny_budget, preset("a2"))
    with pytest.raises(NonFiniteLossError, match="lower optim.lr"):
        train_and_evaluate(cfg)
    row = run_trial(cfg)  # the trial's row says so, with every key a finished row has
    assert row["status"] == "failed" and "NonFiniteLossError" in row["message"] and "lower optim.lr" in row["message"]
    assert row["test_ap"] is None and set(run_trial(build_config(tiny_budget, {"optim": {"lr": 0.1}}))) == set(row)


@pytest.mark.parametrize("arm", ["a1", "a3", "a4", "a5", "a6"])
def test_every_table4_arm_runs(tiny_budget, arm: str) -> None:
    tiny_budget["optim"]["epochs"] = 1
    row = run_trial(build_config(tiny_budget, preset(arm)))
    assert all(math.isfinite(row[k]) for k in METRICS)


@pytest.mark.parametrize("name", ["dsvdd", "sad"])
def test_one_class_baselines_run(tiny_budget, name: str) -> None:
    tiny_budget["optim"]["epochs"] = 1
    row = run_trial(build_config(tiny_budget, preset(name)))
    assert math.isfinite(row["test_auroc"])


def test_minor_mode_reports_primary_and_secondary_auroc(tiny_budget) -> None:
    tiny_budget["optim"]["epochs"] = 1
    tiny_budget["data"].update(benchmark="minor_mode", fold=7, secondary_class=9, minor_ratio=0.5)
    row = run_trial(build_config(tiny_budget, preset("a7")))
    modes = row["test_auroc_primary"], row["test_auroc_secondary"]
    # every normal test image is of one mode, so the AUROC over both is a weighted mean of the two
    assert min(modes) - 1e-9 <= row["test_auroc"] <= max(modes) + 1e-9 and modes[0] != modes[1]
