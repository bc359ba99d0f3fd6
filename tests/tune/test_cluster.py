"""The session's two-node Ray cluster on loopback runs a study across both nodes; a logical GPU shared
at 0.25 per trial runs four trials at once, each seeing the card in CUDA_VISIBLE_DEVICES."""
from __future__ import annotations

from pathlib import Path

from conftest import the_run, trials, write_study


def test_two_node_cluster_on_loopback_runs_trials_on_both_nodes(tmp_path: Path, run_study) -> None:
    # 1 CPU per trial and per node: two trials at a time are one on each node
    study = write_study(tmp_path, "cluster", grid={"arm": ["a2"], "data.fold": [0, 1, 2, 3]})
    assert run_study(study) == 0  # with Ray's token authentication, as the cluster runs it
    frame = trials(the_run(tmp_path / "results", "cluster"))
    assert (frame["status"] == "ok").all() and len(frame) == 4
    assert frame["ray_node_id"].nunique() == 2  # trials ran on both nodes


def test_logical_gpu_at_a_quarter_per_trial_runs_four_trials_at_once(tmp_path: Path, run_study) -> None:
    study = write_study(tmp_path, "quarter_gpu", base={"data": {"n_normal": 128}},
                        grid={"arm": ["a2"], "data.fold": [0, 1, 2, 3]},
                        resources={"cpu": 0.25, "gpu": 0.25}, concurrency=4)
    assert run_study(study) == 0  # the head node declares 1 GPU that this machine does not have
    frame = trials(the_run(tmp_path / "results", "quarter_gpu"))
    assert (frame["status"] == "ok").all() and len(frame) == 4
    assert frame["cuda_visible_devices"].astype(str).eq("0").all()  # each trial sees the card Ray gave it
    assert frame["ray_node_id"].nunique() == 1  # the node with the card
    latest_start, earliest_end = frame["started_at"].max(), frame["ended_at"].min()
    assert latest_start < earliest_end  # all four were running at one moment
