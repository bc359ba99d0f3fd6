"""Driver-side Tune callbacks: rows for trials that end without writing their own, trials.csv
rewritten whenever a trial ends, and concise progress lines.

Both are pickled into Tune's experiment state and come back on ``--resume``, so they hold
only paths and counters that ``setup`` rebuilds.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial

from tune.results import RunDir, unended_row, write_trials_csv
from tune.trainable import trial_config


def _error_text(trial: Trial) -> str:
    path = trial.error_file
    try:
        return Path(path).read_text() if path else "the trial errored"
    except OSError:
        return "the trial errored"


def tune_row(trial: Trial, status: str, message: str = "") -> dict[str, Any]:
    """The row of a Tune trial that has none of its own, from its config and last result."""
    point = trial.config["point"]
    return unended_row(str(trial), trial.trial_id, trial_config(trial.config), {**point["labels"], **point["columns"]},
                       trial.last_result or {}, status, message)


class RowWriter(Callback):
    """Whenever a trial ends: if it wrote no row (a scheduler stopped it, or it errored out of its
    retries), write one for it; then rewrite trials.csv, so finished results are on disk however
    the study ends."""

    def __init__(self, run: RunDir) -> None:
        self.run = run

    def _ended(self, trial: Trial, status: str, message: str = "") -> None:
        if not self.run.row_file(trial.trial_id).exists():
            self.run.write_row(tune_row(trial, status, message))
        write_trials_csv(self.run)

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._ended(trial, "stopped_early")  # a trial that finished wrote its own row

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        error = _error_text(trial).strip().splitlines()
        self._ended(trial, "error", error[-1] if error else "the trial errored")


class Progress(Callback):
    """One line per finished trial, and a status line at most every ``every_s`` seconds."""

    def __init__(self, metric: str, every_s: float = 30.0) -> None:
        self.metric, self.every_s = metric, every_s
        self.total = 0
        self.last_status = 0.0

    def setup(self, total_num_samples: int | None = None, **info: Any) -> None:
        self.total = total_num_samples or 0
        self.last_status = time.monotonic()

    def _counts(self, trials: list[Trial]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for trial in trials:
            counts[trial.status] = counts.get(trial.status, 0) + 1
        return counts

    def _done(self, trials: list[Trial], trial: Trial) -> str:
        """'[done/total]', counting ``trial`` (whose status is not updated yet) as done."""
        done = 1 + sum(t.status in (Trial.TERMINATED, Trial.ERROR) for t in trials if t is not trial)
        total = max(self.total, len(trials))
        return f"[{done:>{len(str(total))}}/{total}]"

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        last = trial.last_result or {}
        status = last.get("status", "stopped early")
        parts = [f"{self._done(trials, trial)} {str(trial):<22} {status:<13}"]
        for key in ("test_ap", self.metric):
            value = last.get(key)
            if isinstance(value, float):
                parts.append(f"{key} {100 * value:5.1f}")
        parts.append(f"epochs {last.get('epoch', 0)}" + (f"  {last['wall_s']:.1f} s" if "wall_s" in last else ""))
        print("  ".join(parts), flush=True)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        message = _error_text(trial).strip().splitlines()[-1:] or ["?"]
        print(f"{self._done(trials, trial)} {str(trial):<22} ERROR         {message[0][:200]}", flush=True)

    def on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        print(f"        {str(trial):<22} worker lost; retrying from its last checkpoint", flush=True)

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        if time.monotonic() - self.last_status < self.every_s:
            return
        self.last_status = time.monotonic()
        running = [t for t in trials if t.status == Trial.RUNNING]
        epochs = ", ".join(f"{t} epoch {(t.last_result or {}).get('epoch', 0)}" for t in running[:4])
        counts = self._counts(trials)
        print(f"        {len(running)} running ({epochs}); {counts.get(Trial.PENDING, 0)} pending", flush=True)
