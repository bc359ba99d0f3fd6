"""A trial whose worker process is killed is retried by Tune from its last checkpoint."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from conftest import runs_of, the_run, trials, write_study
from tune.local_cluster import wait_for


def test_trial_whose_worker_is_killed_is_retried_from_its_checkpoint(tmp_path: Path, run_study, ray_cluster) -> None:
    epochs = 3
    study = write_study(tmp_path, "worker_killed", base={"data": {"n_normal": 192}, "optim": {"epochs": epochs}},
                        grid={"arm": ["a2"]}, max_failures=1)
    out = tmp_path / "results"
    killed: list[int] = []

    def first_result_seen_by_the_driver() -> bool:  # the driver has then registered its checkpoint
        runs = runs_of(out, "worker_killed")
        return bool(runs) and any(p.stat().st_size for p in runs[0].tune_dir.glob("*/result.json"))

    def kill_the_worker_after_its_first_checkpoint() -> None:
        wait_for(first_result_seen_by_the_driver, 240, "the trial's first epoch", every=0.05)
        time.sleep(0.5)  # the driver's save call to the trial, which registers the checkpoint, is answered
        worker = ray_cluster.trial_workers()
        assert len(worker) == 1, worker
        os.kill(worker[0], signal.SIGKILL)
        killed.append(worker[0])

    killer = threading.Thread(target=kill_the_worker_after_its_first_checkpoint, daemon=True)
    killer.start()
    assert run_study(study) == 0
    killer.join(timeout=5)
    assert killed, "the worker was not killed"
    row = trials(the_run(out, "worker_killed")).iloc[0]
    assert row["status"] == "ok" and row["epochs_run"] == epochs
    assert 1 <= row["resumed_from_epoch"] < epochs  # the retry started from a checkpoint, not from scratch
