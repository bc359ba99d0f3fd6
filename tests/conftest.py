"""Shared fixtures: a tiny real budget on Fashion-MNIST, and a private cache directory."""
from __future__ import annotations

from typing import Any

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fisher caches and other files go to a per-run directory, never the user's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ADCORE_CACHE", str(tmp_path_factory.mktemp("adcore-cache")))
    torch.set_num_threads(2)
    yield
    mp.undo()


TINY_BUDGET: dict[str, Any] = {
    "data": {"image_size": 16, "n_normal": 64, "n_oe": 64, "n_val": 16, "n_test": 96},
    "optim": {"epochs": 2, "batch_size": 16},
    "runtime": {"device": "cpu", "eval_batch_size": 64},
}


@pytest.fixture
def tiny_budget() -> dict[str, Any]:
    """A budget at which a trial takes about a second on a CPU core, on real Fashion-MNIST."""
    import copy

    return copy.deepcopy(TINY_BUDGET)
