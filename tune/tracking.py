"""MLflow through a journal in the run directory: an outage of the tracking server never costs a trial.

One parent run per study run, one nested child run per trial. Whatever the driver or a trial
would log is first appended to that run's journal, ``<run>/tracking/<name>.jsonl`` (``study`` for
the parent, the trial id for a child), then sent to MLflow; what MLflow did not take (server down,
restarting, slow) stays in the journal and is sent later: by the trial on its next epochs, by the
driver when a trial ends and at the end of the study, on ``--resume``, and by
``python tune/sync_tracking.py RUN_DIR``. ``trials.csv`` and the report never read MLflow.

Sending is idempotent, so a record sent twice (the answer was lost, the sender was killed before
it noted its progress) changes nothing:
- a run is created once: found first by its ``adstudy.journal`` tag (``<run-id>/<name>``), created
  only if absent, under a lock file, its id then kept in ``<name>.state.json``; its params are a
  step of their own, noted there only once MLflow has taken them, so a server lost between
  creating the run and taking its params (or a run found by its tag) gets them on the next send;
- a metric carries the timestamp it was recorded at, so the same (key, step, timestamp, value)
  sent again is the same row (MLflow's SQL stores drop it); a step already journaled is never
  recorded again (a trial resumed from an older checkpoint repeats epochs);
- params are sent with their one value, tags and statuses overwrite;
- a kept detector's model is found first by its ``adstudy.model`` tag, and finished only if it was not
  (``tune/mlflow_model.py``), as is its version in the model registry.

The driver creates the store and the parent run before any trial starts (several processes
opening a fresh SQLite store at once corrupt it). Only ``MlflowClient`` is used (no fluent
active-run state that reused Ray actors would share).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from studyspec.layout import read_jsonl
from tune.results import atomic_write

log = logging.getLogger(__name__)

DB_FILE = "mlflow.db"  # under the results root: sqlite:///<out>/mlflow.db
JOURNAL_DIR = "tracking"
STUDY = "study"  # the parent run's journal
PARENT_TAG = "mlflow.parentRunId"
TRIAL_TAG = "tune.trial_id"
JOURNAL_TAG = "adstudy.journal"  # <run-id>/<journal name>: how a run is found before it is created
RETRY_S = 20.0  # after a failed send, a trial only journals for this long before trying again
_PARAMS = 100  # MLflow accepts at most 100 params (and 1000 metrics) per log_batch
_METRICS = 1000
# Unless the user set them: give up on an unreachable server at once rather than after MLflow's
# default seven retries over minutes; what was not sent stays in the journal.
_FAILED_AT: dict[str, float] = {}  # tracking URI -> when a send to it last failed, in this process
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "15"}


def default_tracking_uri(out: Path) -> str:
    return f"sqlite:///{(out / DB_FILE).resolve()}"


def is_local(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:"))


class Pending(Exception):
    """A record cannot be sent yet (a child before its parent run exists)."""


@dataclass(frozen=True)
class Tracking:
    """Where a study run's MLflow records go: the store, the experiment, the run directory."""

    uri: str
    experiment: str
    run_path: str
    artifact_root: str | None = None  # a local store's artifacts: <out>/mlartifacts

    @property
    def folder(self) -> Path:
        return Path(self.run_path) / JOURNAL_DIR

    @property
    def run_id(self) -> str:
        return Path(self.run_path).name

    def journal(self, name: str) -> "Journal":
        return Journal(self, name)

    def journals(self) -> list["Journal"]:
        """The study's journal first (children need their parent), then every trial's."""
        names = sorted(p.name.removesuffix(".jsonl") for p in self.folder.glob("*.jsonl"))
        return [self.journal(name) for name in sorted(names, key=lambda name: name != STUDY)]

    def ids(self) -> dict[str, str | None]:
        """The MLflow experiment and parent run ids, once the parent run has reached MLflow."""
        state = self.journal(STUDY).state()
        return {"experiment_id": state.get("experiment_id"), "parent_run_id": state.get("run_id")}

    def sync(self) -> dict[str, int]:
        """Send every journal's unsent records; return how many runs are up to date and behind."""
        counts = {"synced": 0, "behind": 0}
        for journal in self.journals():
            counts["synced" if journal.send(wait=True) else "behind"] += 1
        return counts


class Journal:
    """One MLflow run's records, appended as JSON lines, and how many of them MLflow has."""

    def __init__(self, tracking: Tracking, name: str) -> None:
        self.tracking, self.name = tracking, name
        self.file = tracking.folder / f"{name}.jsonl"
        self.state_file = tracking.folder / f"{name}.state.json"
        self.lock_file = tracking.folder / f"{name}.lock"
        self._steps: set[tuple[str, int]] | None = None

    # --- recording ---------------------------------------------------------------------------

    def records(self) -> list[dict[str, Any]]:
        """The journal's records; a line cut short by a killed process is not one."""
        return read_jsonl(self.file)

    def _append(self, record: dict[str, Any]) -> None:
        """One ``write`` per record on an append-only descriptor (a buffered file splits a long line into
        several, which another appender can come between); after a line that a killed process cut
        short, a new line first, so the cut line costs only itself."""
        self.file.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, default=str) + "\n").encode()
        fd = os.open(self.file, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            while line:
                line = line[os.write(fd, line):]
        finally:
            os.close(fd)

    def start(self, run_name: str, params: dict[str, Any], tags: dict[str, str]) -> None:
        """The run's creation with its params and tags (once: a retry or resume finds it journaled)."""
        if not any(record["op"] == "start" for record in self.records()):
            self._append({"op": "start", "name": run_name, "params": {k: str(v)[:6000] for k, v in params.items()},
                          "tags": tags, "time": _now()})

    def log_metrics(self, metrics: dict[str, Any], step: int) -> None:
        """Numbers of one step; a (key, step) already journaled is not recorded again."""
        if self._steps is None:
            self._steps = {(key, record["step"]) for record in self.records() if record["op"] == "metrics"
                           for key in record["values"]}
        values = {key: float(value) for key, value in metrics.items()
                  if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                  and (key, step) not in self._steps}
        if values:
            self._append({"op": "metrics", "step": step, "values": values, "time": _now()})
            self._steps.update((key, step) for key in values)

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._append({"op": "tags", "tags": {k: str(v) for k, v in tags.items()}})

    def set_status(self, status: str) -> None:
        self._append({"op": "status", "status": status, "time": _now()})

    def status(self) -> str | None:
        """The last status journaled."""
        return next((r["status"] for r in reversed(self.records()) if r["op"] == "status"), None)

    def log_artifacts(self, paths: Iterable[Path]) -> None:
        self._append({"op": "artifacts", "paths": [str(path) for path in paths]})

    def log_model(self, folder: Path, tags: dict[str, str], register: str | None, config: dict[str, str]) -> None:
        """A kept detector's folder as a model of this run (``tune/mlflow_model.py``), registered as
        ``register`` where given; once per folder."""
        if not any(record["op"] == "model" and record["path"] == str(folder) for record in self.records()):
            self._append({"op": "model", "path": str(folder), "key": f"{self.tracking.run_id}/{self.name}",
                          "tags": tags, "register": register, "config": config})

    # --- sending -----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def behind(self) -> int:
        """Records MLflow does not have yet."""
        return max(0, len(self.records()) - self.state().get("sent", 0))

    def send(self, wait: bool = False) -> bool:
        """Send what MLflow does not have yet; True when it has everything. ``wait=False`` (a trial):
        skip if another process is sending this journal or the last try failed under RETRY_S ago."""
        if not self.file.exists():
            return True  # nothing journaled, nothing to send
        if not wait and time.monotonic() - _FAILED_AT.get(self.tracking.uri, -math.inf) < RETRY_S:
            return False
        with self._locked(wait) as locked:
            if not locked:
                return False
            try:
                self._send()
                return True
            except Pending:
                return False
            except Exception as error:  # noqa: BLE001 - an unreachable or failing server; the journal keeps it all
                _FAILED_AT[self.tracking.uri] = time.monotonic()
                log.warning("MLflow at %s did not take the records of %s (%s: %s); they stay in %s and are sent "
                            "later", self.tracking.uri, self.name, type(error).__name__, str(error)[:300], self.file)
                return False

    @contextlib.contextmanager
    def _locked(self, wait: bool) -> Iterator[bool]:
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        with self.lock_file.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _send(self) -> None:
        records, state = self.records(), self.state()
        sent = state.get("sent", 0)
        if sent >= len(records):
            return
        from mlflow import MlflowClient

        client = MlflowClient(self.tracking.uri)
        try:
            while sent < len(records):
                record = records[sent]
                if "run_id" not in state or not state.get("params_sent"):
                    start = next((r for r in records if r["op"] == "start"), None)
                    if start is None:
                        raise Pending(f"{self.name}: no run created yet")
                    if "run_id" not in state:
                        state.update(self._create(client, start))
                    self._params(client, state["run_id"], start)  # the same values again: MLflow keeps one
                    state["params_sent"] = True
                if record["op"] == "metrics":  # consecutive steps go in one request
                    batch = [record]
                    while sent + len(batch) < len(records) and records[sent + len(batch)]["op"] == "metrics" \
                            and sum(len(r["values"]) for r in batch) < _METRICS - 100:
                        batch.append(records[sent + len(batch)])
                    self._metrics(client, state["run_id"], batch)
                    sent += len(batch)
                    continue
                self._apply(client, state["run_id"], record)
                sent += 1
        finally:
            state["sent"] = sent
            atomic_write(self.state_file, json.dumps(state))

    def _create(self, client: Any, start: dict[str, Any]) -> dict[str, str]:
        """Find the run by its journal tag, or create it (its params are sent apart, by ``_params``);
        the parent run first needs the experiment, a child its parent."""
        tags = {**start["tags"], JOURNAL_TAG: f"{self.tracking.run_id}/{self.name}"}
        if self.name == STUDY:
            experiment_id = _experiment(client, self.tracking)
        else:
            ids = self.tracking.ids()
            if ids["parent_run_id"] is None:
                raise Pending(f"{self.name}: the study's parent run is not in MLflow yet")
            experiment_id, tags[PARENT_TAG] = ids["experiment_id"], ids["parent_run_id"]
        found = client.search_runs([experiment_id], f"tags.`{JOURNAL_TAG}` = '{tags[JOURNAL_TAG]}'", max_results=1)
        if found:
            return {"run_id": found[0].info.run_id, "experiment_id": experiment_id}
        run = client.create_run(experiment_id, start_time=start["time"], run_name=start["name"], tags=tags)
        return {"run_id": run.info.run_id, "experiment_id": experiment_id}

    @staticmethod
    def _params(client: Any, run_id: str, start: dict[str, Any]) -> None:
        from mlflow.entities import Param

        params = [Param(key, value) for key, value in start["params"].items()]
        for at in range(0, len(params), _PARAMS):
            client.log_batch(run_id, params=params[at:at + _PARAMS])

    @staticmethod
    def _metrics(client: Any, run_id: str, batch: list[dict[str, Any]]) -> None:
        from mlflow.entities import Metric

        client.log_batch(run_id, metrics=[Metric(key, value, record["time"], record["step"])
                                          for record in batch for key, value in record["values"].items()])

    @staticmethod
    def _apply(client: Any, run_id: str, record: dict[str, Any]) -> None:
        op = record["op"]
        if op == "tags":
            from mlflow.entities import RunTag

            client.log_batch(run_id, tags=[RunTag(key, value) for key, value in record["tags"].items()])
        elif op == "status":
            if record["status"] == "RUNNING":
                client.update_run(run_id, status="RUNNING")
            else:
                client.set_terminated(run_id, status=record["status"], end_time=record["time"])
        elif op == "model":
            from tune.mlflow_model import send_model

            send_model(client, run_id, record)
        elif op == "artifacts":
            for path in map(Path, record["paths"]):
                if path.is_dir():
                    client.log_artifacts(run_id, str(path), artifact_path=path.name)
                elif path.exists():
                    client.log_artifact(run_id, str(path))


def _experiment(client: Any, tracking: Tracking) -> str:
    found = client.get_experiment_by_name(tracking.experiment)
    if found is not None:
        return found.experiment_id
    location = (Path(tracking.artifact_root) / tracking.experiment).resolve().as_uri() if tracking.artifact_root else None
    return client.create_experiment(tracking.experiment, artifact_location=location)


def _now() -> int:
    return int(time.time() * 1000)


def http_defaults() -> None:
    """Fail fast on an unreachable server (this process only; a user's own settings win)."""
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
