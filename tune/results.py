"""A study run's files, and its rows: ``results/<study>/<run-id>/trials.csv``, one row per trial.

A row is adcore's row (flattened config, final and best metrics, timings, node) plus what the
trial reported around it (trial name and id, grid labels, resumed epoch, Ray node, MLflow run).
A trial without a row (failed for good, stopped by a scheduler, not finished) still gets a row:
its config, status, message and its last validation metrics. Rows are built from Tune's
results only, so they can be rebuilt from a finished or interrupted run at any time.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from adcore.config import flatten

FRONT = ["trial", "trial_id", "status", "message"]
LAST_METRICS = ("val_ap", "val_auroc", "train_loss", "best_val_ap")


@dataclass(frozen=True)
class RunDir:
    """results/<study>/<run-id>/ and the files in it."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def study_yaml(self) -> Path:  # the resolved study (overlays applied): what --resume runs
        return self.path / "study.yaml"

    @property
    def run_json(self) -> Path:  # ids a resume needs: MLflow experiment and parent run, commit
        return self.path / "run.json"

    @property
    def trials_csv(self) -> Path:
        return self.path / "trials.csv"

    @property
    def rows_jsonl(self) -> Path:  # appended as trials end; trials.csv is rewritten from it
        return self.path / "rows.jsonl"

    @property
    def tune_dir(self) -> Path:  # Tune's storage: experiment state, trial dirs, checkpoints
        return self.path / "tune"

    @property
    def figures(self) -> Path:
        return self.path / "figures"

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
        runs = sorted(p for p in (out / study).glob("*") if (p / "run.json").exists()) if (out / study).is_dir() else []
        if run_id is not None:
            runs = [p for p in runs if p.name == run_id]
        if not runs:
            raise FileNotFoundError(f"no run {run_id or ''} of study {study!r} to resume under {out / study}")
        return cls(runs[-1].resolve())

    def read_meta(self) -> dict[str, Any]:
        return json.loads(self.run_json.read_text())

    def write_meta(self, meta: dict[str, Any]) -> None:
        _atomic_write(self.run_json, json.dumps(meta, indent=2))


def trial_row(name: str, config: dict[str, Any], last: dict[str, Any], error: str | None, finished: bool,
              trial_config: dict[str, Any]) -> dict[str, Any]:
    """The results row of one Tune trial (named ``name``) from its config and last result."""
    if "row" in last:
        return json.loads(last["row"])
    row: dict[str, Any] = {
        "trial": name, "trial_id": last.get("trial_id"),
        "status": "error" if error else ("stopped_early" if finished else "unfinished"),
        "message": (error or "").strip().splitlines()[-1][:500] if error else "",
        **config["point"]["labels"], **flatten(trial_config)}
    row.update({key: last[key] for key in LAST_METRICS if key in last})
    row["epochs_run"] = last.get("epoch", 0)
    return row


def append_row(run: RunDir, row: dict[str, Any]) -> None:
    with run.rows_jsonl.open("a") as handle:
        handle.write(json.dumps(row, default=str) + "\n")


def logged_rows(run: RunDir) -> list[dict[str, Any]]:
    """The rows appended so far, the latest per trial."""
    if not run.rows_jsonl.exists():
        return []
    rows = {}
    for line in run.rows_jsonl.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row.get("trial_id") or row.get("trial")] = row
    return list(rows.values())


def write_trials_csv(rows: Iterable[dict[str, Any]], path: Path) -> pd.DataFrame:
    """trials.csv sorted by trial name; list values are written as JSON."""
    rows = [{k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()} for row in rows]
    columns = list(dict.fromkeys([*FRONT, *(key for row in rows for key in row)]))
    frame = pd.DataFrame(rows, columns=columns)
    if len(frame):
        frame = frame.sort_values("trial", kind="stable").reset_index(drop=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return frame


def read_trials(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
