"""A study run's files, and its rows: ``results/<study>/<run-id>/``.

Every trial that ends has one row file, ``rows/<trial_id>.json``, written once: by the worker
(adcore's row, ``ok`` or ``failed``) or, for a trial that ended without one (stopped by a
scheduler, errored out of its retries), by the driver from the trial's config and last reported
metrics; either way completed by ``complete_row`` (identity, grid labels, provenance), so every row
has the same keys (``adcore.row``). Each epoch a trial reports is appended to ``epochs/<trial_id>.jsonl``
(the learning curves). ``trials.csv`` is written by one function, ``write_trials_csv``, from the row
files and the trials still unfinished. Nothing here imports Ray: ``scripts/adcore_grid.py`` writes
the same run directory without it.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from adcore.row import IDENTITY, PROVENANCE, Status
from studyspec.layout import (EPOCHS_DIR, FIGURES_DIR, POINTS_DIR, ROWS_DIR, RUN_JSON, STUDY_YAML, TRIALS_CSV,
                              TUNE_DIR)

if TYPE_CHECKING:  # pandas loads where trials.csv is written: refusing a study does not need it
    import pandas as pd

# Where a trial ran under Ray Tune (None for rows of other runners): Tune's id of the trial in the
# session that ran it, and the Ray node.
TUNE_PLACEMENT = ("tune_trial_id", "ray_node_id")


@dataclass(frozen=True)
class RunDir:
    """results/<study>/<run-id>/ and the files in it."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def study_yaml(self) -> Path:  # the resolved study (overlays applied): what --resume runs
        return self.path / STUDY_YAML

    @property
    def run_json(self) -> Path:  # ids a resume needs: MLflow experiment and parent run, commit
        return self.path / RUN_JSON

    @property
    def trials_csv(self) -> Path:
        return self.path / TRIALS_CSV

    @property
    def rows_dir(self) -> Path:  # one JSON row per ended trial
        return self.path / ROWS_DIR

    @property
    def points_dir(self) -> Path:  # one JSON per grid point (key, labels, columns, config): what its trials read
        return self.path / POINTS_DIR

    @property
    def epochs_dir(self) -> Path:  # one JSON line per epoch a trial reported (every attempt's)
        return self.path / EPOCHS_DIR

    @property
    def tune_dir(self) -> Path:  # Tune's storage: its experiment state and trial dirs (never read back)
        return self.path / TUNE_DIR

    @property
    def figures(self) -> Path:
        return self.path / FIGURES_DIR

    @classmethod
    def create(cls, out: Path, study: str) -> "RunDir":
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("", *(f"-{i}" for i in range(1, 100))):
            path = out / study / f"{stamp}{suffix}"
            try:
                path.mkdir(parents=True)
                return cls(path.resolve())
            except FileExistsError:
                continue
        raise FileExistsError(f"{out / study}: could not create a new run directory")

    @classmethod
    def find(cls, out: Path, study: str, run_id: str | None) -> "RunDir":
        """A run to resume: the named one, or the newest run of the study."""
        if run_id is not None and Path(run_id).is_dir():
            return cls(Path(run_id).resolve())
        runs = sorted(p for p in (out / study).glob("*") if (p / RUN_JSON).exists()) if (out / study).is_dir() else []
        if run_id is not None:
            runs = [p for p in runs if p.name == run_id]
        if not runs:
            raise FileNotFoundError(f"no run {run_id or ''} of study {study!r} to resume under {out / study}")
        return cls(runs[-1].resolve())

    def read_meta(self) -> dict[str, Any]:
        return json.loads(self.run_json.read_text())

    def write_meta(self, meta: dict[str, Any]) -> None:
        atomic_write(self.run_json, json.dumps(meta, indent=2))

    def write_points(self, points: Iterable[dict[str, Any]]) -> None:
        """The grid points a session runs, each under its key. Tune's config carries only the key:
        Tune deep-copies its whole param space for every trial it creates, so a grid of full
        configs would cost the driver time in the square of the study's size."""
        self.points_dir.mkdir(exist_ok=True)
        for point in points:
            atomic_write(self.points_dir / f"{point['key']}.json", json.dumps(point))

    def read_point(self, key: str) -> dict[str, Any]:
        return json.loads((self.points_dir / f"{key}.json").read_text())

    def row_file(self, trial_id: str) -> Path:
        return self.rows_dir / f"{trial_id}.json"

    def write_row(self, row: dict[str, Any]) -> Path:
        """A trial's row, written once it has ended (atomically: a reader never sees half a row)."""
        self.rows_dir.mkdir(exist_ok=True)
        path = self.row_file(row["trial_id"])
        atomic_write(path, json.dumps(row, default=str))
        return path

    def append_epoch(self, trial_id: str, metrics: dict[str, Any]) -> None:
        """One epoch's report; a retried or resumed trial repeats epochs, and readers keep the latest."""
        self.epochs_dir.mkdir(exist_ok=True)
        with (self.epochs_dir / f"{trial_id}.jsonl").open("a") as handle:
            handle.write(json.dumps(metrics, default=str) + "\n")

    def rows(self) -> list[dict[str, Any]]:
        """Every row written so far."""
        return [json.loads(path.read_text()) for path in sorted(self.rows_dir.glob("*.json"))]

    def read_row(self, trial_id: str) -> dict[str, Any] | None:
        path = self.row_file(trial_id)
        return json.loads(path.read_text()) if path.exists() else None


def complete_row(row: dict[str, Any], point: dict[str, Any], trial_id: str,
                 provenance: dict[str, Any]) -> dict[str, Any]:
    """A trial's row as the run directory keeps it, whoever wrote it (the worker, or the driver for a
    trial that returned none): identity first, then the grid point's labels and columns (``arm``,
    ``arm_label``), adcore's row, and every provenance key (``adcore.row.PROVENANCE`` and Tune's
    placement), None where the runner had no such fact."""
    keys = (*PROVENANCE, *TUNE_PLACEMENT)
    unknown = sorted(set(provenance) - set(keys))
    if unknown:
        raise KeyError(f"not provenance keys of a row: {', '.join(unknown)}; valid: {', '.join(keys)}")
    completed = {"trial_id": trial_id, "status": Status(row["status"]), "message": row["message"],
                 **point["labels"], **point["columns"], **row}
    return {**completed, **dict.fromkeys(keys), **provenance}


def write_trials_csv(run: RunDir, unfinished: Iterable[dict[str, Any]] = (),
                     ended: Iterable[dict[str, Any]] | None = None) -> pd.DataFrame:
    """trials.csv from the ended trials' rows (``ended``, default: every row file, read now) and the rows
    of trials not ended, sorted by trial name; list values as JSON. The one writer of trials.csv."""
    import pandas as pd

    rows = {row["trial_id"]: row for row in unfinished}
    rows.update({row["trial_id"]: row for row in (run.rows() if ended is None else ended)})  # an ended trial's own row wins
    flat = [{k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()} for row in rows.values()]
    columns = list(dict.fromkeys([*IDENTITY, *(key for row in flat for key in row)]))
    frame = pd.DataFrame(flat, columns=columns)
    if len(frame):
        frame = frame.sort_values("trial_id", kind="stable").reset_index(drop=True)
    tmp = run.trials_csv.with_name(f".{run.trials_csv.name}.{os.getpid()}.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, run.trials_csv)
    return frame


def git_commit() -> str:
    """The commit the code is at ('-dirty' with local changes); $GIT_COMMIT where there is no .git (images),
    else the installed distribution's version."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        from adcore.saved import adcore_version

        return os.environ.get("GIT_COMMIT", f"adstudy-{adcore_version()}")
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True).stdout
        return commit + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("GIT_COMMIT", "unknown")


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
