"""A trial's durable state in the run directory, ``trials/<trial_id>/``: what it is and where it got to.

Resume must not depend on Ray Tune's experiment state (a driver killed while Tune writes it leaves
an empty file), so everything a resumed trial needs lives here, keyed by the trial's own stable id
(a grid point's key, or ``<point>_<n>`` for the n-th trial of a search):

- ``trial.json``: the trial's grid point and searched values, written when it first starts, so a
  resumed search can propose an unfinished trial again under the same id;
- ``checkpoint-<epoch>.pt``: adcore's checkpoint after each epoch, copied in atomically; the newest
  ``KEEP`` are kept, so a truncated newest file falls back to the one before it, with a warning;
- ``attempts.jsonl``: one line per start of the trial (the first, Tune's retries, resumes): when and
  where it started, which epoch it resumed from and which checkpoints it found unreadable; the
  trial's row takes its provenance from the newest (``provenance``), whoever writes the row.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from studyspec.layout import read_jsonl
from tune.results import atomic_write

log = logging.getLogger(__name__)

TRIALS_DIR = "trials"
KEEP = 2  # checkpoints kept per trial: the newest and the one a damaged newest falls back to
PLACEMENT = ("worker_pid", "cuda_visible_devices", "tune_trial_id", "ray_node_id")  # where a start ran
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)\.pt$")


@dataclass
class Restored:
    """Where a start of a trial begins: the epoch of the checkpoint it resumed from (0: none) and the
    newer checkpoints it skipped because they could not be read."""

    epoch: int = 0
    unreadable: list[int] = field(default_factory=list)


class TrialStore:
    """``<run>/trials/<trial_id>/``."""

    def __init__(self, run_path: Path, trial_id: str) -> None:
        self.path = run_path / TRIALS_DIR / trial_id
        self.trial_id = trial_id

    @property
    def record_file(self) -> Path:
        return self.path / "trial.json"

    def record(self, point: str, searched: dict[str, Any]) -> None:
        """Write what the trial is, once (a retry or resume finds it there)."""
        if not self.record_file.exists():
            self.path.mkdir(parents=True, exist_ok=True)
            atomic_write(self.record_file, json.dumps({"trial_id": self.trial_id, "point": point, "search": searched}))

    def checkpoints(self) -> list[tuple[int, Path]]:
        """(epoch, file), newest first."""
        found = [(int(m.group(1)), p) for p in self.path.glob("checkpoint-*.pt") if (m := _CHECKPOINT.match(p.name))]
        return sorted(found, reverse=True)

    def save(self, source: Path, epoch: int) -> None:
        """Copy the checkpoint file ``source`` in as ``epoch``'s (atomically), keep the newest KEEP."""
        self.path.mkdir(parents=True, exist_ok=True)
        target = self.path / f"checkpoint-{epoch:04d}.pt"
        tmp = self.path / f".{target.name}.{os.getpid()}.tmp"
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
        for _, old in self.checkpoints()[KEEP:]:
            old.unlink(missing_ok=True)

    def restore(self, target: Path, load: Callable[[Path], Any]) -> Restored:
        """Copy the newest checkpoint that ``load`` reads into ``target`` (a file path); an unreadable
        newer one (truncated by a crash of its disk or node) is skipped with a warning."""
        restored = Restored()
        for epoch, path in self.checkpoints():
            shutil.copyfile(path, target)
            try:
                load(target)
            except Exception as error:  # noqa: BLE001 - whatever torch raises on a damaged file
                log.warning("trial %s: checkpoint of epoch %d (%s) is unreadable (%s: %s); trying the previous one",
                            self.trial_id, epoch, path, type(error).__name__, str(error)[:200])
                restored.unreadable.append(epoch)
                target.unlink(missing_ok=True)
                continue
            restored.epoch = epoch
            if restored.unreadable:
                log.warning("trial %s resumes from epoch %d, the newest readable checkpoint", self.trial_id, epoch)
            break
        return restored

    @property
    def attempts_file(self) -> Path:
        return self.path / "attempts.jsonl"

    def log_attempt(self, entry: dict[str, Any]) -> None:
        """Append one start of the trial (``at``, default now; where it runs; ``resumed_from_epoch``;
        ``unreadable``: the checkpoints it skipped)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with self.attempts_file.open("a") as handle:
            handle.write(json.dumps({"at": time.time(), **entry}) + "\n")

    def attempts(self) -> list[dict[str, Any]]:
        """Every start of the trial, oldest first."""
        return read_jsonl(self.attempts_file)

    def provenance(self) -> dict[str, Any]:
        """The row's provenance from the trial's starts: how many, and the newest one's time, place and
        the epoch it resumed from (nothing for a trial that never started)."""
        starts = self.attempts()
        if not starts:
            return {}
        last = starts[-1]
        return {"attempts": len(starts), "started_at": last["at"], "resumed_from_epoch": last["resumed_from_epoch"],
                "unreadable_checkpoints": " ".join(map(str, last.get("unreadable", []))),
                **{key: last.get(key) for key in PLACEMENT}}

    def prune(self) -> None:
        """A trial that has its final row needs no checkpoints."""
        for _, path in self.checkpoints():
            path.unlink(missing_ok=True)


def records(run_path: Path) -> dict[str, dict[str, Any]]:
    """trial id -> trial.json of every trial that has started in this run."""
    found = {}
    for path in sorted((run_path / TRIALS_DIR).glob("*/trial.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # written atomically; unreadable only if the disk lost it
        found[record["trial_id"]] = record
    return found
