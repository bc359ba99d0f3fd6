"""What --resume and the tracking journal rest on, without Ray: the run directory's own files say what
is left (whatever Tune's experiment state says) and what each trial is (Tune's config names its grid
point by key), a truncated newest checkpoint falls back to the one before it with a warning, and a
journal sent twice to MLflow duplicates nothing; two runs never share a working folder."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from adcore.train import load_checkpoint, save_checkpoint
from conftest import write_study
from tune.grid import expand, trial_config, trial_id, trial_point
from tune.results import RunDir
from tune.resume import remaining
from tune.study import load_study
from tune.tracking import STUDY, Tracking
from tune.trainable import work_root
from tune.trial_store import TrialStore


def _row(run: RunDir, trial_id: str, status: str, **values: float) -> None:
    run.write_row({"trial_id": trial_id, "status": status, **values})


def test_a_grid_resumes_the_points_without_a_done_row_even_with_an_empty_tune_state(tmp_path: Path) -> None:
    study = load_study(write_study(tmp_path, "grid", grid={"arm": ["a2"], "data.fold": [0, 1, 2, 3]}))
    points = expand(study)
    run = RunDir(tmp_path / "run")
    (run.tune_dir).mkdir(parents=True)
    (run.tune_dir / "experiment_state-2026-11-29_10-00-00.json").write_text("")  # a kill during Tune's write
    _row(run, "a2-fold0", "ok")
    _row(run, "a2-fold1", "failed")  # an error a retry cannot fix: done
    _row(run, "a2-fold2", "error")  # failed after its retries: tried again
    assert [point.key for point in remaining(study, points, run).points] == ["a2-fold2", "a2-fold3"]
    assert remaining(study, points, None).points == points


def test_a_trial_named_by_its_point_key_reads_its_labels_and_config_from_the_run_directory(tmp_path: Path) -> None:
    study = load_study(write_study(tmp_path, "grid", grid={"arm": ["a2", "a7"], "data.fold": [0, 1]}))
    points = expand(study)
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_points(point.as_dict() for point in points)
    for point in points:
        config = {"point": point.key}  # what Tune carries for a grid trial
        assert trial_id(config) == point.key
        assert trial_point(run, config)["labels"] == point.labels
        assert trial_config(trial_point(run, config), config) == point.config
    searched = {"point": points[0].key, "search": {"optim.lr": 0.05}, "trial_id": f"{points[0].key}_000"}
    assert trial_id(searched) == f"{points[0].key}_000"
    assert trial_config(trial_point(run, searched), searched)["optim"]["lr"] == 0.05


def test_a_search_left_counts_its_done_trials_from_the_rows(tmp_path: Path) -> None:
    """What a resumed search runs: its trials without a done row (the started one among them, proposed again
    first by its reconciled Optuna storage: tests/tune/test_optuna_study.py)."""
    search = {"num_samples": 5, "seed": 0, "space": {"optim.lr": {"low": 0.01, "high": 0.3}}}
    study = load_study(write_study(tmp_path, "search", grid={"arm": ["a2"]}, search=search))
    run = RunDir(tmp_path / "run")
    for index, lr in enumerate([0.1, 0.2, 0.05]):
        TrialStore(run.path, f"a2_00{index}").record("a2", {"optim.lr": lr})
    _row(run, "a2_000", "ok", val_ap=0.7)
    _row(run, "a2_001", "failed", val_ap=0.1)
    todo = remaining(study, expand(study), run)
    assert todo.searching and todo.num_samples == 3 and todo.repeats == [] and not todo.empty  # 2 done of 5


def test_a_truncated_newest_checkpoint_resumes_from_the_previous_one_with_a_warning(tmp_path: Path, caplog) -> None:
    store, work = TrialStore(tmp_path / "run", "a2-fold0"), tmp_path / "work"
    for epoch in (1, 2, 3):  # the store keeps the newest two
        save_checkpoint(work, {"epoch": epoch, "weights": torch.full((64,), float(epoch))})
        store.save(work / "checkpoint.pt", epoch)
    assert [epoch for epoch, _ in store.checkpoints()] == [3, 2]
    newest = store.checkpoints()[0][1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    target = tmp_path / "restore" / "checkpoint.pt"
    target.parent.mkdir()
    with caplog.at_level(logging.WARNING):
        restored = store.restore(target, lambda path: load_checkpoint(path.parent))
    assert restored.epoch == 2 and restored.unreadable == [3]
    assert load_checkpoint(target.parent)["epoch"] == 2
    assert "checkpoint of epoch 3" in caplog.text and "unreadable" in caplog.text


def test_a_journal_sent_twice_duplicates_no_run_param_or_metric_step(tmp_path: Path) -> None:
    tracking = Tracking(f"sqlite:///{tmp_path / 'mlflow.db'}", "journal", str(tmp_path / "run"))
    study = tracking.journal(STUDY)
    study.start("run", {"study.name": "journal"}, {"study": "journal"})
    trial = tracking.journal("a2-fold0")
    trial.start("a2-fold0", {"optim.lr": 0.1}, {"tune.trial_id": "a2-fold0"})
    assert not trial.send(wait=True)  # a child waits for its parent run
    assert study.send(wait=True) and trial.send(wait=True)
    trial.log_metrics({"val_ap": 0.5}, step=1)
    trial.log_metrics({"val_ap": 0.6}, step=2)
    trial.log_metrics({"val_ap": 0.9}, step=2)  # a resumed trial repeating epoch 2: not journaled again
    trial.set_status("FINISHED")
    assert trial.send(wait=True) and trial.behind() == 0
    state = json.loads(trial.state_file.read_text())
    trial.state_file.write_text(json.dumps({**state, "sent": 0}))  # as if the sender died before noting it
    assert trial.behind() > 0 and tracking.sync() == {"synced": 2, "behind": 0}

    from mlflow import MlflowClient

    client = MlflowClient(tracking.uri)
    runs = client.search_runs([tracking.ids()["experiment_id"]])
    assert len(runs) == 2
    child = client.get_run(state["run_id"])
    assert child.data.params == {"optim.lr": "0.1"} and child.info.status == "FINISHED"
    assert child.data.tags["mlflow.parentRunId"] == tracking.ids()["parent_run_id"]
    assert [(m.step, m.value) for m in client.get_metric_history(child.info.run_id, "val_ap")] == [(1, 0.5), (2, 0.6)]


def test_runs_started_in_the_same_second_never_share_a_working_folder(tmp_path: Path) -> None:
    # run ids are start times: two studies, or one study under two results roots, can share one
    runs = [tmp_path / "results" / "grid" / "20261204-120000", tmp_path / "results" / "search" / "20261204-120000",
            tmp_path / "elsewhere" / "grid" / "20261204-120000"]
    assert len({work_root(str(run)) for run in runs}) == 3
