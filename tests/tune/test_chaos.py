"""The chaos drill's short version (benchmarks/chaos.py runs the full one): on the session's two-node
Ray cluster, the driver is SIGKILLed at random moments (one as Tune writes its experiment state) and
resumed, a trial worker is killed, the tracking server stops and starts again and one trial's newest
checkpoint is truncated; for a grid and for an Optuna search, nothing is lost or duplicated."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from benchmarks.chaos import drill


@pytest.fixture
def folder() -> Path:
    path = Path(tempfile.mkdtemp(prefix="adstudy-chaos-", dir="/tmp"))
    os.chmod(path, 0o755)
    return path


def test_chaos_drill_on_a_grid_loses_nothing(folder: Path, cluster) -> None:
    counts = drill(folder, "grid", trials=6, driver_kills=2, worker_kills=1, seed=1, cluster=cluster)
    assert counts.driver_kills == 2 and counts.kills_during_state_write >= 1, counts.lines()
    assert counts.clean, counts.lines()
    assert counts.truncated is not None and counts.truncated_resumed_from == counts.truncated[1] - 1


def test_chaos_drill_on_an_optuna_search_loses_nothing(folder: Path, cluster) -> None:
    counts = drill(folder, "search", trials=6, driver_kills=2, worker_kills=0, seed=2, outage=False,
                   truncate=False, cluster=cluster)
    assert counts.driver_kills == 2 and counts.clean, counts.lines()
