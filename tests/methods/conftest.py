"""Every registered method trained once per test run at the contract's tiny budget, its detector kept:
the detector contract and the kept-detector round trip both use it."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from adcore import build_config, run_trial
from adcore.config import TrialConfig


@dataclass(frozen=True)
class Trained:
    cfg: TrialConfig
    row: dict[str, Any]  # the uninterrupted trial's row
    kept: Path  # its detector folder (adcore.saved)


_TRAINED: dict[str, Trained] = {}  # for the whole test run: each method trains once


@pytest.fixture
def trained(tiny_budget: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Trained]:
    """name -> that method trained uninterrupted at a tiny budget, once: one step of 8 normals (and 8 OE
    images) an epoch, since GEOM's epoch is a step per transformation (72)."""

    def train(name: str) -> Trained:
        if name not in _TRAINED:
            budget = copy.deepcopy(tiny_budget)
            budget["data"].update(n_normal=8, n_oe=8, n_val=4, n_test=64)
            budget["optim"]["batch_size"] = 8
            cfg = build_config(budget, {"method": {"name": name}})
            kept = tmp_path_factory.mktemp("kept") / name
            _TRAINED[name] = Trained(cfg, run_trial(cfg, model_dir=kept), kept)
        return _TRAINED[name]

    return train
