"""MLflow: one parent run per study run, one nested child run per trial.

The driver creates the store, the experiment and the parent run before any trial starts
(several processes opening a fresh SQLite store at once corrupt it), and passes their ids to
the trials. A trial finds its child run by its Tune trial id before creating one, so a retried
or resumed trial logs into the same child run: no duplicates, no orphans. Only the
``MlflowClient`` is used (no fluent active-run state that reused Ray actors would share).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

DB_FILE = "mlflow.db"  # under the results root: sqlite:///<out>/mlflow.db
PARENT_TAG = "mlflow.parentRunId"
TRIAL_TAG = "tune.trial_id"
_BATCH = 100  # MLflow accepts at most 100 params (and 1000 metrics) per log_batch


def default_tracking_uri(out: Path) -> str:
    return f"sqlite:///{(out / DB_FILE).resolve()}"


@dataclass(frozen=True)
class TrackingInfo:
    """What a trial needs to log into its study's parent run."""

    uri: str
    experiment_id: str
    parent_run_id: str


def start_study_run(uri: str, experiment: str, run_name: str, artifact_root: Path | None,
                    params: dict[str, Any], tags: dict[str, str]) -> TrackingInfo:
    """Create (or open) the experiment and create the parent run; called once, in the driver."""
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        experiment_id = found.experiment_id
    else:
        location = (artifact_root / experiment).resolve().as_uri() if artifact_root is not None else None
        experiment_id = client.create_experiment(experiment, artifact_location=location)
    run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    _log_params(client, run.info.run_id, params)
    return TrackingInfo(uri, experiment_id, run.info.run_id)


def reopen_study_run(info: TrackingInfo) -> None:
    """A resumed study logs into the parent run it started with."""
    MlflowClient(info.uri).update_run(info.parent_run_id, status="RUNNING")


def finish_study_run(info: TrackingInfo, status: str, metrics: dict[str, float], artifacts: Iterable[Path]) -> None:
    client = MlflowClient(info.uri)
    _log_metrics(client, info.parent_run_id, metrics, step=0)
    for path in artifacts:
        if path.is_dir():
            client.log_artifacts(info.parent_run_id, str(path), artifact_path=path.name)
        elif path.exists():
            client.log_artifact(info.parent_run_id, str(path))
    client.set_terminated(info.parent_run_id, status=status)


def settle_children(info: TrackingInfo, statuses: dict[str, str]) -> None:
    """Give every child run the final status of its trial (trial id -> MLflow status).

    A trial whose worker died, or that a scheduler stopped, could not close its own run."""
    client = MlflowClient(info.uri)
    for run in children(info):
        status = statuses.get(run.data.tags.get(TRIAL_TAG, ""), "KILLED")
        if run.info.status != status:
            client.set_terminated(run.info.run_id, status=status)


def children(info: TrackingInfo) -> list[Any]:
    client = MlflowClient(info.uri)
    runs, token = [], None
    while True:
        page = client.search_runs([info.experiment_id], f"tags.`{PARENT_TAG}` = '{info.parent_run_id}'",
                                  page_token=token)
        runs += list(page)
        token = page.token
        if not token:
            return runs


class TrialRun:
    """A trial's child run: per-epoch metrics with their step, final summary, status."""

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.client, self.run_id = client, run_id

    @classmethod
    def open(cls, info: TrackingInfo, trial_id: str, name: str, params: dict[str, Any],
             tags: dict[str, str]) -> "TrialRun":
        client = MlflowClient(info.uri)
        found = client.search_runs(
            [info.experiment_id],
            f"tags.`{PARENT_TAG}` = '{info.parent_run_id}' and tags.`{TRIAL_TAG}` = '{trial_id}'")
        if found:  # a retry or a resumed study: same run, params already logged
            client.update_run(found[0].info.run_id, status="RUNNING")
            return cls(client, found[0].info.run_id)
        run = client.create_run(info.experiment_id, run_name=name,
                                tags={**tags, PARENT_TAG: info.parent_run_id, TRIAL_TAG: trial_id})
        _log_params(client, run.info.run_id, params)
        return cls(client, run.info.run_id)

    def log_metrics(self, metrics: dict[str, Any], step: int) -> None:
        _log_metrics(self.client, self.run_id, metrics, step)

    def set_tags(self, tags: dict[str, Any]) -> None:
        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def finish(self, status: str) -> None:
        self.client.set_terminated(self.run_id, status=status)


def _log_params(client: MlflowClient, run_id: str, params: dict[str, Any]) -> None:
    items = [Param(key, str(value)[:6000]) for key, value in params.items()]
    for start in range(0, len(items), _BATCH):
        client.log_batch(run_id, params=items[start:start + _BATCH])


def _log_metrics(client: MlflowClient, run_id: str, metrics: dict[str, Any], step: int) -> None:
    now = int(time.time() * 1000)
    items = [Metric(key, float(value), now, step) for key, value in metrics.items()
             if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)]
    for start in range(0, len(items), 1000):
        client.log_batch(run_id, metrics=items[start:start + 1000])
