"""One row contract (adcore/row.py) and one function that completes a row, whoever writes it: a trial's
own row (the worker) and the row of a trial that returned none (the driver) have the same keys, in the
same order of identity first, with the provenance of the trial's starts."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from adcore.config import build_config
from adcore.row import EPOCH_METRICS, IDENTITY, PROVENANCE, Status, empty_row, unended_row
from tune.grid import GridPoint, expand, trial_row, unended_trial_row
from tune.progress import StudyClock, clock, trial_line
from tune.results import TUNE_PLACEMENT, RunDir, complete_row, write_trials_csv
from tune.study import load_study
from tune.trial_store import TrialStore

from conftest import write_study


def _run_with_point(tmp_path) -> tuple[RunDir, GridPoint]:
    study = load_study(write_study(tmp_path, "rows", grid={"arm": ["a7"], "data.fold": [3]}))
    (point,) = expand(study)
    run = RunDir.create(tmp_path / "results", study.name)
    run.write_points([point.as_dict()])
    return run, point


def test_statuses_are_plain_strings_in_rows_csv_and_json() -> None:
    assert [status.value for status in Status] == ["ok", "failed", "error", "stopped_early", "unfinished"]
    assert {s for s in Status if s.done} == {Status.OK, Status.FAILED, Status.STOPPED_EARLY}  # a resume skips them
    assert {s for s in Status if s.trouble} == {Status.FAILED, Status.ERROR, Status.UNFINISHED}
    assert json.loads(json.dumps({"status": Status.STOPPED_EARLY})) == {"status": "stopped_early"}
    assert pd.Series(["ok", "error"]).eq(Status.OK).tolist() == [True, False]


def test_the_worker_and_the_driver_complete_rows_with_the_same_keys(tmp_path) -> None:
    run, point = _run_with_point(tmp_path)
    store = TrialStore(run.path, point.key)
    store.log_attempt({"at": 100.0, "resumed_from_epoch": 0, "unreadable": [], "worker_pid": 11,
                       "cuda_visible_devices": "", "tune_trial_id": "abc_00000", "ray_node_id": "n1"})
    store.log_attempt({"at": 200.0, "resumed_from_epoch": 1, "unreadable": [2], "worker_pid": 12,
                       "cuda_visible_devices": "0", "tune_trial_id": "def_00000", "ray_node_id": "n2"})
    config = {"point": point.key}
    own = trial_row(run, config, {**empty_row(point.config, Status.OK), "test_ap": 0.7}, "abc1234")
    stopped = unended_trial_row(run, config, {"epoch": 1, "val_ap": 0.4, "lr": 0.1}, Status.STOPPED_EARLY, "abc1234")
    assert list(own) == list(stopped)  # same keys, same order
    assert list(own)[:len(IDENTITY)] == list(IDENTITY) and own["trial_id"] == point.key and own["arm"] == "a7"
    assert "trial" not in own  # one name for one id
    for row in (own, stopped):
        assert row["git_commit"] == "abc1234" and row["attempts"] == 2 and row["started_at"] == 200.0
        assert (row["resumed_from_epoch"], row["unreadable_checkpoints"], row["ray_node_id"]) == (1, "2", "n2")
        assert row["wall_s"] == row["ended_at"] - 200.0
    assert stopped["val_ap"] == 0.4 and stopped["epochs_run"] == 1 and stopped["test_ap"] is None
    unfinished = unended_trial_row(run, config, {}, Status.UNFINISHED, "abc1234")
    assert unfinished["ended_at"] is None and unfinished["wall_s"] is None  # it has not ended


def test_a_trial_that_never_started_gets_every_provenance_key_empty(tmp_path) -> None:
    run, point = _run_with_point(tmp_path)
    row = unended_trial_row(run, {"point": point.key}, {}, Status.UNFINISHED, "abc1234")
    assert {*PROVENANCE, *TUNE_PLACEMENT} <= set(row) and row["attempts"] is None and row["epochs_run"] == 0
    with pytest.raises(KeyError, match="not provenance keys of a row: node"):
        complete_row(row, point.as_dict(), point.key, {"node": "x"})


def test_a_driver_row_keeps_the_last_epoch_metrics_only() -> None:
    config = build_config({"data": {"n_test": 64}})
    row = unended_row(config, {"epoch": 3, "val_ap": 0.5, "train_loss": 0.2, "test_ap": 0.9}, Status.ERROR, "boom")
    assert set(EPOCH_METRICS) <= set(row) and row["test_ap"] is None  # no final evaluation happened
    assert (row["status"], row["message"], row["epochs_run"], row["val_ap"]) == ("error", "boom", 3, 0.5)


def test_trials_csv_leads_with_the_identity_columns(tmp_path) -> None:
    run, point = _run_with_point(tmp_path)
    row = unended_trial_row(run, {"point": point.key}, {}, Status.UNFINISHED, "abc1234")
    frame = write_trials_csv(run, [row])
    assert list(frame.columns[:3]) == list(IDENTITY) and frame["status"].tolist() == ["unfinished"]


def test_the_progress_line_gives_elapsed_time_and_an_estimate_of_the_rest(monkeypatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("tune.progress.time.monotonic", lambda: now[0])
    study_clock = StudyClock(4)
    now[0] += 30
    line = trial_line(study_clock, "a2-fold0", "ok", {"test_ap": 0.512, "val_ap": 0.8}, ("test_ap", "val_ap"), 8, 17.3)
    assert line.startswith("[1/4] a2-fold0") and "test_ap  51.2" in line and "val_ap  80.0" in line
    assert line.endswith("epochs 8  17.3 s  elapsed 0:30  eta 1:30")  # 30 s per trial, 3 left
    for _ in range(3):
        line = trial_line(study_clock, "x", "ok", {}, ("test_ap",), 1, None)
    assert line.endswith("elapsed 0:30") and clock(3725) == "1:02:05"  # nothing left: no estimate
