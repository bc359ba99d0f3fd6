"""A trial whose worker process is killed is retried by Tune from its last checkpoint."""
from __future__ import annotations

import os
import signal
from pathlib import Path

from conftest import finish_driver, runs_of, start_driver, stop_driver, the_run, trials, write_study
from testing.processes import wait_for
from tune.trial_store import TrialStore


def test_trial_whose_worker_is_killed_is_retried_from_its_checkpoint(tmp_path: Path, cluster) -> None:
    epochs = 4
    study = write_study(tmp_path, "worker_killed", base={"optim": {"epochs": epochs}}, grid={"arm": ["a2"]},
                        max_failures=1)
    out, log = tmp_path / "results", tmp_path / "driver.log"
    driver = start_driver([str(study), "--out", str(out), "--address", cluster.address], log, cluster.env)
    try:
        run = wait_for(lambda: runs_of(out, "worker_killed"), 300, "the run directory")[0]
        store = TrialStore(run.path, "a2")
        wait_for(store.checkpoints, 300, "the trial's first checkpoint", every=0.02)
        # A trial saves epoch e's checkpoint, reports e and waits until the driver asks for the next
        # epoch. With the driver stopped, a trial whose newest checkpoint (read after the stop) is of
        # an epoch before epochs - 1 cannot reach its last epoch: its worker is there to be killed.
        os.kill(driver.pid, signal.SIGSTOP)
        try:
            newest = store.checkpoints()[0][0]
            assert newest <= epochs - 2, f"the trial reached epoch {newest} of {epochs} before the driver stopped"
            worker = wait_for(lambda: (found := cluster.trial_workers()) and len(found) == 1 and found, 60,
                              "the trial's worker, alone on the cluster")
            os.kill(worker[0], signal.SIGKILL)
        finally:
            os.kill(driver.pid, signal.SIGCONT)
    except BaseException:
        stop_driver(driver, log)
        raise
    assert finish_driver(driver, log) == 0
    row = trials(the_run(out, "worker_killed")).iloc[0]
    assert row["status"] == "ok" and row["epochs_run"] == epochs and row["attempts"] == 2
    assert newest <= row["resumed_from_epoch"] < epochs  # the retry started from its checkpoint, not from scratch
