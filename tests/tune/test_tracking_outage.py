"""A tracking outage costs no trial: the MLflow server stops in the middle of a study, every trial
still finishes and trials.csv and the report are written; what MLflow missed stays journaled in the
run directory, and `tune/sync_tracking.py` sends it when the server is back: one parent, one child
per trial, every epoch's metrics once. Sending again changes nothing. Without Ray: a send cut between
creating a run and logging its params, and a journal line cut by a killed process, lose nothing."""
from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

from benchmarks.chaos import TrackingServer
from conftest import logged, runs_of, the_run, trials, write_study
from testing.processes import wait_for
from tune.sync_tracking import main as sync_tracking
from tune.tracking import STUDY, TRIAL_TAG, Tracking


def test_outage_mid_study_loses_nothing_and_the_sync_completes_mlflow_without_duplicates(
        tmp_path: Path, run_study) -> None:
    folder = Path(tempfile.mkdtemp(prefix="adstudy-mlflow-", dir="/tmp"))
    os.chmod(folder, 0o755)
    server = TrackingServer(folder)
    epochs = 3
    study = write_study(tmp_path, "outage", base={"optim": {"epochs": epochs}},
                        grid={"arm": ["a2"], "data.fold": [0, 1, 2]}, concurrency=1)
    out = tmp_path / "results"

    stopped: list[BaseException | str] = []  # what the stopper did, asserted below

    def stop_after_the_first_trial() -> None:
        try:
            wait_for(lambda: runs_of(out, "outage") and logged(runs_of(out, "outage")[0]), 600, "a finished trial")
            server.stop()
            stopped.append("stopped")
        except BaseException as error:  # noqa: BLE001 - reported by the assertion in the test's thread
            stopped.append(error)

    stopper = threading.Thread(target=stop_after_the_first_trial, daemon=True)
    try:
        server.start()
        stopper.start()
        assert run_study(study, "--tracking-uri", server.uri) == 0  # the study does not wait for MLflow
        stopper.join(timeout=5)
        assert stopped == ["stopped"], stopped  # the server was down before the study ended
        run = the_run(out, "outage")
        frame = trials(run)
        assert len(frame) == 3 and (frame["status"] == "ok").all()
        assert (run.path / "report.html").stat().st_size > 0
        meta_tracking = {k: v for k, v in json.loads(run.run_json.read_text())["tracking"].items()
                         if k in ("uri", "experiment", "run_path", "artifact_root")}
        journals = Tracking(**meta_tracking).journals()
        assert sum(journal.behind() for journal in journals) > 0  # the outage kept records back

        server.start()
        assert sync_tracking([str(run.path)]) == 0
        assert sum(journal.behind() for journal in journals) == 0
        first = _mlflow(server.uri, frame["trial_id"].tolist(), epochs)
        assert sync_tracking([str(run.path)]) == 0  # idempotent: sending again adds nothing
        assert _mlflow(server.uri, frame["trial_id"].tolist(), epochs) == first
    finally:
        server.stop()


def _mlflow(uri: str, trial_ids: list[str], epochs: int) -> dict[str, list[int]]:
    """Check the runs; return every child's val_ap steps."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("outage").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(c.data.tags["tune.trial_id"] for c in children) == sorted(trial_ids)  # one child per trial
    steps = {}
    for child in children:
        assert child.info.status == "FINISHED" and child.data.params["data.fold"] in ("0", "1", "2")
        steps[child.data.tags["tune.trial_id"]] = sorted(m.step for m in client.get_metric_history(child.info.run_id,
                                                                                                   "val_ap"))
        assert steps[child.data.tags["tune.trial_id"]] == list(range(1, epochs + 1))  # each epoch once
        assert [m.step for m in client.get_metric_history(child.info.run_id, "test_ap")] == [epochs]
    return steps


def test_a_server_lost_between_creating_a_run_and_taking_its_params_gets_them_on_the_next_send(
        tmp_path: Path, monkeypatch) -> None:
    from mlflow import MlflowClient

    tracking = Tracking(f"sqlite:///{tmp_path / 'mlflow.db'}", "cut", str(tmp_path / "run"))
    study = tracking.journal(STUDY)
    study.start("run", {"study.name": "cut"}, {"study": "cut"})
    assert study.send(wait=True)
    trial = tracking.journal("a2-fold0")
    trial.start("a2-fold0", {"data.fold": 0, "optim.lr": 0.1}, {TRIAL_TAG: "a2-fold0"})
    log_batch = MlflowClient.log_batch

    def gone_before_the_params(client, run_id, *args, params=(), **kwargs):  # the run was created, then the server went
        if params:
            raise ConnectionError("the tracking server went away")
        return log_batch(client, run_id, *args, params=params, **kwargs)

    for noted in (True, False):  # the sender noted the new run's id, or was killed before it could
        with monkeypatch.context() as patch:
            patch.setattr(MlflowClient, "log_batch", gone_before_the_params)
            assert not trial.send(wait=True)
        if not noted:
            trial.state_file.unlink()  # the next send finds the run by its journal tag
        assert trial.send(wait=True) and trial.behind() == 0
        runs = MlflowClient(tracking.uri).search_runs([tracking.ids()["experiment_id"]],
                                                     f"tags.`{TRIAL_TAG}` = 'a2-fold0'")
        assert len(runs) == 1 and runs[0].data.params == {"data.fold": "0", "optim.lr": "0.1"}
        trial.state_file.write_text("{}")  # the next round: send it all again
        trial.log_metrics({"val_ap": 0.5 if noted else 0.6}, step=1 if noted else 2)


def test_a_journal_line_cut_by_a_killed_process_costs_only_itself(tmp_path: Path) -> None:
    journal = Tracking(f"sqlite:///{tmp_path / 'mlflow.db'}", "cut", str(tmp_path / "run")).journal("a2-fold0")
    journal.start("a2-fold0", {"optim.lr": 0.1}, {})
    journal.file.write_bytes(journal.file.read_bytes() + b'{"op": "metrics", "step": 1, "val')  # killed mid-write
    journal.log_metrics({"val_ap": 0.5}, step=2)
    journal.set_status("FINISHED")
    assert [record["op"] for record in journal.records()] == ["start", "metrics", "status"]
