"""A real two-node Ray cluster on loopback runs a study across both nodes; a logical GPU shared at
0.25 per trial runs four trials at once, each seeing the card in CUDA_VISIBLE_DEVICES."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from conftest import the_run, trials, write_study
from tune.local_cluster import LocalCluster

@pytest.fixture
def two_nodes() -> Iterator[str]:
    """`ray start --head` plus one `ray start --address` worker node, 1 CPU each, on 127.0.0.1."""
    nodes = LocalCluster()
    try:
        nodes.head(num_cpus=1)
        nodes.worker(num_cpus=1)
        yield nodes.address
    finally:
        nodes.stop()


def test_two_node_cluster_on_loopback_runs_trials_on_both_nodes(tmp_path: Path, run_study, two_nodes: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    study = write_study(tmp_path, "cluster", grid={"arm": ["a2"], "data.fold": [0, 1, 2, 3]})
    assert run_study(study, "--address", two_nodes) == 0  # this --address wins over the session's
    frame = trials(the_run(tmp_path / "results", "cluster"))
    assert (frame["status"] == "ok").all() and len(frame) == 4
    assert frame["ray_node_id"].nunique() == 2  # trials ran on both nodes


def test_logical_gpu_at_a_quarter_per_trial_runs_four_trials_at_once(tmp_path: Path, run_study) -> None:
    study = write_study(tmp_path, "quarter_gpu", base={"data": {"n_normal": 128}},
                        grid={"arm": ["a2"], "data.fold": [0, 1, 2, 3]},
                        resources={"cpu": 0.5, "gpu": 0.25}, concurrency=4)
    assert run_study(study) == 0  # the session's node declares 1 GPU that this machine does not have
    frame = trials(the_run(tmp_path / "results", "quarter_gpu"))
    assert (frame["status"] == "ok").all() and len(frame) == 4
    assert frame["cuda_visible_devices"].astype(str).eq("0").all()  # each trial sees the card Ray gave it
    latest_start, earliest_end = frame["started_at"].max(), frame["ended_at"].min()
    assert latest_start < earliest_end  # all four were running at one moment
