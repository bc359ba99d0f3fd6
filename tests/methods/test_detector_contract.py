"""The detector contract for every registered method, at a tiny budget on real Fashion-MNIST: it
builds, trains (or declares that it does not), checkpoints after its first epoch, resumes from that
checkpoint and ends with the scores of an uninterrupted run (the resume rules in
adcore/methods/base.py). A new method is tested here without new test code."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from adcore import run_trial
from adcore.methods import METHODS
from adcore.train import CHECKPOINT_FILE

SCORES = ("val_ap", "val_auroc", "test_ap", "test_auroc")


@pytest.mark.parametrize("name", METHODS.names())
def test_builds_trains_checkpoints_resumes_and_scores(name: str, trained, tmp_path: Path,
                                                      interrupt_after_first_epoch) -> None:
    cfg, uninterrupted = trained(name).cfg, trained(name).row  # one step an epoch (tests/methods/conftest.py)
    assert uninterrupted["status"] == "ok", uninterrupted["message"]
    assert all(math.isfinite(uninterrupted[key]) for key in SCORES)
    method = METHODS.get(name)
    assert (uninterrupted["train_loss"] == 0.0) == (not method.trains), "only a method that trains has a loss"

    interrupt_after_first_epoch(cfg, tmp_path)
    assert (tmp_path / CHECKPOINT_FILE).exists()
    resumed = run_trial(cfg, checkpoint_dir=tmp_path)
    for key in SCORES:
        assert resumed[key] == pytest.approx(uninterrupted[key], abs=1e-6), key
