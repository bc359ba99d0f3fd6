"""Trained detectors a study run keeps (``runtime.keep_model``): which trials keep theirs, and their
records for MLflow.

Every finished trial of a run writes its detector to ``<run>/models/<trial_id>/`` (``adcore.saved``)
unless its keep_model is ``none``. With ``best`` only the trial that the study's validation metric
selects keeps it: in a grid, the best trial of each value of the table's rows axis (Table 4: each
arm); in a search, the best trial; ``all`` keeps every finished trial's. Test metrics never choose.
As trials end the driver removes the detectors that lost (``KeptModels``), so a run holds about one
detector per arm at any time, not one per trial.

When the run is complete, each kept detector is journaled as a model of its trial's MLflow child run
(``tune/tracking.py``: sent when MLflow answers, never lost to an outage, ``adstudy sync``), and the
best of a search is registered in MLflow's model registry as ``<study>``, with the metric, its value
and the trial's config as tags (``tune/mlflow_model.py`` sends them).
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from tune.results import RunDir

if TYPE_CHECKING:
    from studyspec.schema import Study
    from tune.tracking import Tracking

MODELS_DIR = "models"
KEEP_KEY = "runtime.keep_model"  # the flattened config key in a row


def model_dir(run_path: str | Path, trial_id: str) -> Path:
    return Path(run_path) / MODELS_DIR / trial_id


def _value(row: dict[str, Any], metric: str) -> float | None:
    value = row.get(metric)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def group_of(study: "Study", row: dict[str, Any]) -> str:
    """The rows compared for ``best``: the table's rows axis of a grid (one arm), everything in a search."""
    axis = None if study.search else study.rows_axis
    return "" if axis is None else str(row.get(axis))


def kept(study: "Study", rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    """trial_id -> why it keeps its detector (the best of its group, or all), over finished rows; ties go
    to the first trial id."""
    out: dict[str, str] = {}
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        mode = row.get(KEEP_KEY, "best")
        if row.get("status") != "ok" or _value(row, study.selection_metric) is None or mode == "none":
            continue
        if mode == "all":
            out[row["trial_id"]] = "all"
        group = group_of(study, row)
        if group not in best or _beats(study, row, best[group]):
            best[group] = row
    for group, row in best.items():
        out[row["trial_id"]] = f"best {study.selection_metric}" + (f" of {group}" if group else "")
    return out


def _beats(study: "Study", row: dict[str, Any], other: dict[str, Any]) -> bool:
    sign = 1.0 if study.selection_mode == "max" else -1.0
    ours, theirs = sign * _value(row, study.selection_metric), sign * _value(other, study.selection_metric)  # type: ignore[operator]
    return ours > theirs or (ours == theirs and row["trial_id"] < other["trial_id"])


def prune(run: RunDir, keep: Iterable[str]) -> None:
    """Remove every detector of the run but ``keep``'s."""
    keep = set(keep)
    folder = run.path / MODELS_DIR
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def finish_models(run: RunDir, study: "Study", rows: list[dict[str, Any]], tracking: "Tracking",
                  complete: bool) -> list[Path]:
    """Keep the selected detectors of a run's rows (every session's) and remove the rest; once the run is
    complete, journal each kept one for MLflow (once), registering a search's best. Returns the kept folders."""
    selected = kept(study, rows)
    prune(run, selected)
    folders = {trial: model_dir(run.path, trial) for trial in selected if model_dir(run.path, trial).is_dir()}
    if complete:
        by_id = {row["trial_id"]: row for row in rows}
        best = next((trial for trial, why in selected.items() if why.startswith("best")), None)
        for trial, folder in folders.items():
            row = by_id[trial]
            tags = {"study": study.name, "trial_id": trial, "selected_by": selected[trial], "metric": study.selection_metric,
                    study.selection_metric: str(row.get(study.selection_metric))}
            register = study.name if study.search and trial == best else None
            tracking.journal(trial).log_model(folder, tags, register, _config_tags(row))
    return list(folders.values())


def _config_tags(row: dict[str, Any]) -> dict[str, str]:
    """The trial's flattened config, as registry tags (``config.<key>``)."""
    from adcore.config import TrialConfig

    fields = set(TrialConfig.model_fields)
    return {f"config.{key}": str(value) for key, value in row.items() if key.split(".")[0] in fields}


class Selection:
    """The best finished row of each group while a study runs: when a trial ends, the detector that
    lost (its own or the group's previous best) is removed at once (the driver's ``KeptModels``)."""

    def __init__(self, study: "Study", run: RunDir) -> None:
        self.study, self.run = study, run
        self.best: dict[str, dict[str, Any]] | None = None

    def ended(self, trial_id: str) -> None:
        if self.best is None:  # the rows of earlier sessions, once
            self.best = {}
            for row in self.run.rows():
                self._compare(row)
        row = self.run.read_row(trial_id)
        if row is not None:
            self._compare(row)

    def _compare(self, row: dict[str, Any]) -> None:
        assert self.best is not None
        mode = row.get(KEEP_KEY, "best")
        if mode == "all":
            return
        if row.get("status") != "ok" or _value(row, self.study.selection_metric) is None or mode == "none":
            shutil.rmtree(model_dir(self.run.path, row["trial_id"]), ignore_errors=True)
            return
        group = group_of(self.study, row)
        previous = self.best.get(group)
        if previous is None or previous["trial_id"] == row["trial_id"]:
            self.best[group] = row
        elif _beats(self.study, row, previous):
            shutil.rmtree(model_dir(self.run.path, previous["trial_id"]), ignore_errors=True)
            self.best[group] = row
        else:
            shutil.rmtree(model_dir(self.run.path, row["trial_id"]), ignore_errors=True)
