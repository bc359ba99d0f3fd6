"""The files of a run directory, ``results/<study>/<run-id>/``: written by tune/ (and by
scripts/adcore_grid.py, which runs a study's grid without Ray), read back by dashboards/.

Readers read these and nothing else; ``TUNE_DIR`` is Ray Tune's own storage, written by Tune for
itself and read by no one outside tune/.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

STUDY_YAML = "study.yaml"  # the study as run (overlays applied): what --resume runs and dashboards read
RUN_JSON = "run.json"  # git commit, sessions (command, start), wall time, workers, MLflow ids
TRIALS_CSV = "trials.csv"  # one row per trial, rewritten from ROWS_DIR
ROWS_DIR = "rows"  # <trial_id>.json: each ended trial's row, written once
POINTS_DIR = "points"  # <key>.json: each grid point a session runs (labels and resolved config)
EPOCHS_DIR = "epochs"  # <trial_id>.jsonl: one line per epoch a trial reported (learning curves)
FIGURES_DIR = "figures"  # <name>.png and .svg
OPTUNA_DB = "optuna.db"  # a search's Optuna study (SQLite), unless run.json's "optuna" entry names another storage
TUNE_DIR = "tune"  # Ray Tune's experiment state and trial folders: never read outside tune/


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file of a run directory (epochs/, a trial's attempts, a tracking
    journal), each appended as one line: a line cut short by a killed writer is skipped."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def optuna_storage(run_path: Path, entry: dict[str, Any]) -> str:
    """The storage URL of a search run's Optuna study, from run.json's ``optuna`` entry: ``optuna.db`` in
    the run directory (wherever the directory has moved), or the URL the run used. A URL recorded with
    its password masked (``***``) takes the full URL from $OPTUNA_STORAGE; KeyError when that is unset."""
    storage = entry["storage"]
    if "://" not in storage:
        return f"sqlite:///{Path(run_path).resolve() / storage}"
    if "***" not in storage:
        return storage
    given = os.environ.get("OPTUNA_STORAGE")
    if not given:
        raise KeyError(f"the run's Optuna study is in {storage}: set OPTUNA_STORAGE to that URL with its password")
    return given
