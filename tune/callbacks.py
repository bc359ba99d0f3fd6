"""Driver-side Tune callbacks: rows for trials that end without writing their own, trials.csv
rewritten as trials end, MLflow records a trial could not send, and concise progress lines.

A trial is named by its own id (``tune.grid.trial_id``), which survives a resume, never by
Tune's. Each callback's work per ended trial is constant (one row file read, one journal sent);
trials.csv, which is a whole-study file, is rewritten at most every few seconds and always at the end.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial

from adcore.row import Status
from tune.grid import trial_id, unended_trial_row
from tune.models import Selection
from tune.progress import StudyClock, trial_line
from tune.results import RunDir, write_trials_csv
from tune.tracking import Tracking


def _error_text(trial: Trial) -> str:
    path = trial.error_file
    try:
        return Path(path).read_text() if path else "the trial errored"
    except OSError:
        return "the trial errored"


class RowWriter(Callback):
    """Whenever a trial ends: if it wrote no row (a scheduler stopped it, or it errored out of its
    retries), write one for it; keep the ended rows in memory and rewrite trials.csv from them
    when ``every_s`` has passed (at least 20 times as long as the last write took), so finished
    results are on disk however the study ends without the study's cost growing with its square."""

    def __init__(self, run: RunDir, git_commit: str, every_s: float = 5.0) -> None:
        self.run, self.git_commit, self.every_s = run, git_commit, every_s
        self.ended: dict[str, dict[str, Any]] | None = None
        self.written_at, self.write_s = -float("inf"), 0.0

    def _ended(self, trial: Trial, status: Status, message: str = "") -> None:
        if self.ended is None:
            self.ended = {row["trial_id"]: row for row in self.run.rows()}  # rows of earlier sessions, once
        key = trial_id(trial.config)
        row = self.run.read_row(key)
        if row is None or row["status"] == Status.ERROR:  # an error row of an earlier session is retried, then replaced
            row = unended_trial_row(self.run, trial.config, trial.last_result or {}, status, self.git_commit, message)
            self.run.write_row(row)
        self.ended[key] = row
        if time.monotonic() - self.written_at >= max(self.every_s, 20 * self.write_s):
            started = time.monotonic()
            write_trials_csv(self.run, ended=self.ended.values())
            self.written_at, self.write_s = time.monotonic(), time.monotonic() - started

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._ended(trial, Status.STOPPED_EARLY)  # a trial that finished wrote its own row

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        error = _error_text(trial).strip().splitlines()
        self._ended(trial, Status.ERROR, error[-1] if error else "the trial errored")


class TrackingSync(Callback):
    """When a trial ends, send what it could not send to MLflow (its worker may have died, or the
    server was down); retry the study's parent run too while it has not reached MLflow."""

    def __init__(self, tracking: Tracking) -> None:
        self.tracking = tracking
        self.study = tracking.journal("study")

    def _ended(self, trial: Trial) -> None:
        if self.study.behind() and not self.study.send():
            return  # children wait for their parent run
        self.tracking.journal(trial_id(trial.config)).send()

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._ended(trial)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._ended(trial)


class KeptModels(Callback):
    """When a trial ends, remove the trained detector that lost to the study's selection (``tune/models.py``),
    so that a run keeps about one per arm on disk, not one per trial."""

    def __init__(self, selection: Selection) -> None:
        self.selection = selection

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.selection.ended(trial_id(trial.config))


class Progress(Callback):
    """One line per ended trial with the session's elapsed time and an estimate of the time left
    (``tune/progress.py``), and a status line at most every ``every_s`` seconds."""

    def __init__(self, metric: str, every_s: float = 30.0) -> None:
        self.metric, self.every_s = metric, every_s
        self.clock = StudyClock(0)
        self.last_status = 0.0

    def setup(self, total_num_samples: int | None = None, **info: Any) -> None:
        self.clock = StudyClock(total_num_samples or 0)
        self.last_status = time.monotonic()

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        last = trial.last_result or {}
        print(trial_line(self.clock, str(trial), last.get("status", "stopped early"), last, ("test_ap", self.metric),
                         last.get("epoch", 0), last.get("wall_s"), seen=len(trials)), flush=True)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        message = _error_text(trial).strip().splitlines()[-1:] or ["?"]
        print(f"{self.clock.tick(len(trials))} {str(trial):<22} ERROR         {message[0][:200]}  {self.clock.times()}",
              flush=True)

    def on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        print(f"        {str(trial):<22} worker lost; retrying from its last checkpoint", flush=True)

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        if time.monotonic() - self.last_status < self.every_s:
            return
        self.last_status = time.monotonic()
        running = [t for t in trials if t.status == Trial.RUNNING]
        epochs = ", ".join(f"{t} epoch {(t.last_result or {}).get('epoch', 0)}" for t in running[:4])
        pending = sum(t.status == Trial.PENDING for t in trials)
        print(f"        {len(running)} running ({epochs}); {pending} pending; {self.clock.times()}", flush=True)
