"""A driver SIGKILLed mid-study and resumed finishes the study without re-running finished trials,
with one row and one MLflow child run per trial; a resumed Optuna search continues its count, its
storage shows finished trials while the driver runs and agrees with the rows after the resume.
The driver joins the session's Ray node, so the cluster outlives it, as on a real cluster."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import optuna

from conftest import logged, mlflow_runs, runs_of, start_driver, stop_driver, the_run, trials, write_study
from studyspec.layout import optuna_storage
from testing.local_cluster import LocalCluster
from testing.processes import wait_for
from tune.optuna_study import disagreements
from tune.results import RunDir


def _kill_after_some_trials(study: Path, out: Path, tmp_path: Path, name: str, cluster: LocalCluster, total: int,
                            while_running: Callable[[RunDir], None] = lambda run: None) -> list[dict]:
    """Start the driver on the cluster, let a trial end, SIGKILL the driver mid-study (after
    ``while_running`` has looked at the run).

    Returns the rows of trials that had ended 1.5 s before the kill: Tune's state (saved every
    second) holds them as finished."""
    log = tmp_path / "driver.log"
    driver = start_driver([str(study), "--out", str(out), "--address", cluster.address], log, cluster.env)
    try:
        run = wait_for(lambda: runs_of(out, name), 120, "the run directory")[0]
        wait_for(lambda: logged(run), 180, "a finished trial", every=0.05)
        before = logged(run)
        while_running(run)
        time.sleep(1.5)
        assert driver.poll() is None, log.read_text()
    finally:
        stop_driver(driver, log)  # SIGKILL
    assert len(logged(run)) < total, "the study ended before the kill; make it longer"
    return before


def test_driver_killed_mid_study_resumes_to_one_finished_trial_per_grid_point(tmp_path: Path, run_study,
                                                                            cluster) -> None:
    study = write_study(tmp_path, "killed", grid={"arm": ["a2"], "data.fold": list(range(4))})
    out = tmp_path / "results"
    before = _kill_after_some_trials(study, out, tmp_path, "killed", cluster, total=4)

    assert run_study(study, "--resume") == 0
    frame = trials(the_run(out, "killed"))
    assert sorted(frame["trial_id"]) == [f"a2-fold{fold}" for fold in range(4)]  # exactly one row per grid point
    assert (frame["status"] == "ok").all() and frame["epochs_run"].eq(2).all()
    for row in before:  # finished trials were not run again
        assert frame.set_index("trial_id").loc[row["trial_id"], "started_at"] == row["started_at"]

    parents, children = mlflow_runs(out, "killed")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(c.data.tags["tune.trial_id"] for c in children) == sorted(frame["trial_id"])  # no duplicates
    assert {c.info.status for c in children} == {"FINISHED"}  # no orphaned RUNNING runs


def _optuna_study(run: RunDir) -> optuna.Study:
    """The run's Optuna study, opened on its storage as optuna-dashboard opens it."""
    entry = run.read_meta()["optuna"]
    return optuna.load_study(study_name=entry["study"], storage=optuna_storage(run.path, entry))


def _sees_finished_trials(run: RunDir) -> None:
    """While the driver runs, its Optuna storage already holds the trials whose rows are written."""
    done = {row["trial_id"]: row for row in logged(run)}
    live = wait_for(lambda: {t.user_attrs.get("trial_id"): t for t in _optuna_study(run).trials
                             if t.state == optuna.trial.TrialState.COMPLETE and t.user_attrs.get("trial_id") in done},
                    30, "the storage to hold a finished trial", every=0.2)
    for key, trial in live.items():
        assert trial.values == [done[key]["val_ap"]] and trial.params["optim.lr"] == done[key]["optim.lr"]
        assert sorted(trial.intermediate_values) == [1, 2]  # each epoch's val_ap, as it was reported


def test_optuna_search_resumed_continues_its_trial_count(tmp_path: Path, run_study, cluster) -> None:
    search = {"num_samples": 4, "seed": 3, "space": {"optim.lr": {"low": 0.01, "high": 0.3}}}
    study = write_study(tmp_path, "searched", grid={"arm": ["a2"]}, search=search)
    out = tmp_path / "results"
    before = _kill_after_some_trials(study, out, tmp_path, "searched", cluster, total=4,
                                     while_running=_sees_finished_trials)

    assert run_study(study, "--resume") == 0
    run = the_run(out, "searched")
    frame = trials(run)
    assert len(frame) == 4 and frame["trial_id"].is_unique and (frame["status"] == "ok").all()
    assert frame["optim.lr"].nunique() == 4  # a searcher restarted from scratch would propose its first points again
    by_id = frame.set_index("trial_id")
    for row in before:  # trials proposed before the kill keep their id, config and result
        assert by_id.loc[row["trial_id"], "optim.lr"] == row["optim.lr"]
        assert by_id.loc[row["trial_id"], "started_at"] == row["started_at"]
    # the storage outlived the driver and agrees with the rows: the same 4 trials, each once, none running
    stored = _optuna_study(run)
    assert disagreements(stored, run, [("val_ap", "max")]) == []
    assert sorted(t.user_attrs["trial_id"] for t in stored.trials) == sorted(frame["trial_id"])
    assert {t.state for t in stored.trials} == {optuna.trial.TrialState.COMPLETE}
    assert [s["seed"] for s in stored.user_attrs["samplers"]] == [3, 4]  # the resumed session's sampler: seed + 1
