"""One study run as the dashboards read it: ``results/<study>/<run-id>/`` as tune/ (or
scripts/adcore_grid.py) writes it: run.json, study.yaml, trials.csv, epochs/, table.json, figures/.

Only the run directory's own files are read, never Ray Tune's (under tune/, which Tune writes for
itself and may change with any release). Loaded without importing tune/ or torch: a report takes seconds.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from adcore.row import EPOCH_METRICS
from dashboards.tables import TABLE_JSON, Table
from studyspec.layout import EPOCHS_DIR, FIGURES_DIR, RUN_JSON, STUDY_YAML, TRIALS_CSV, read_jsonl
from studyspec.schema import Study

PLACEMENT = ["trial_id", "status", "node", "ray_node_id", "worker_pid", "start_s", "end_s", "queued_s"]


def find_run(path: str | Path) -> Path:
    """A run directory: ``path`` itself, or the newest run in a study directory (run ids are start times)."""
    path = Path(path).resolve()
    if (path / RUN_JSON).exists():
        return path
    runs = sorted(p for p in path.iterdir() if (p / RUN_JSON).exists()) if path.is_dir() else []
    if not runs:
        raise FileNotFoundError(f"{path}: not a study run (no run.json) nor a study directory with runs "
                                "(results/<study>/<run-id>/run.json)")
    return runs[-1]


def read_trials(run_path: Path) -> pd.DataFrame:
    """A run's trials.csv; git_commit stays text (a hash such as 479e809 would parse as a float)."""
    return pd.read_csv(run_path / TRIALS_CSV, dtype={"git_commit": str})


@dataclass(frozen=True, eq=False)
class Run:
    path: Path
    meta: dict[str, Any]  # run.json
    study: Study  # study.yaml: the study as run, overlays applied
    trials: pd.DataFrame  # trials.csv: one row per trial

    @classmethod
    def load(cls, path: str | Path) -> "Run":
        path = find_run(path)
        trials = read_trials(path) if (path / TRIALS_CSV).exists() else pd.DataFrame(columns=["trial_id", "status"])
        return cls(path, json.loads((path / RUN_JSON).read_text()), Study.read(path / STUDY_YAML), trials)

    @property
    def name(self) -> str:
        return self.study.name

    @property
    def run_id(self) -> str:
        return self.path.name

    def table(self) -> Table | None:
        """table.json, the table as data (written by dashboards/aggregate.py)."""
        return Table.load(self.path) if (self.path / TABLE_JSON).exists() else None

    def figures(self) -> list[Path]:
        """Every figure of the run, one file per figure: the SVG where there is one, else the PNG."""
        by_stem = {path.stem: path for suffix in ("png", "svg") for path in (self.path / FIGURES_DIR).glob(f"*.{suffix}")}
        return [by_stem[stem] for stem in sorted(by_stem)]

    def sessions(self) -> list[dict[str, Any]]:
        """The run's driver sessions (its start, then each --resume): command and when Tune started."""
        if self.meta.get("sessions"):
            return self.meta["sessions"]
        return [{"command": None, "fit_started_at": self.meta.get("fit_started_at", self.meta.get("started_at"))}]

    def history(self) -> pd.DataFrame:
        """Per-epoch metrics of every trial (``adcore.row.EPOCH_METRICS``) from ``epochs/<trial_id>.jsonl``,
        one line per report. A retried or resumed trial repeats epochs: the latest report of an epoch
        wins; a line cut short by a killed worker is skipped."""
        records = [{"trial_id": path.stem, "epoch": int(report["epoch"]), **{key: report.get(key) for key in EPOCH_METRICS}}
                   for path in sorted((self.path / EPOCHS_DIR).glob("*.jsonl")) for report in read_jsonl(path)]
        frame = pd.DataFrame(records, columns=["trial_id", "epoch", *EPOCH_METRICS])
        return frame.drop_duplicates(["trial_id", "epoch"], keep="last").sort_values(["trial_id", "epoch"],
                                                                                     ignore_index=True)

    def placement(self) -> pd.DataFrame:
        """Where and when each trial ran: node, Ray node, worker process, start and end in seconds
        since the first session started, and how long it queued (from the start of the session
        it ran in until it started; node clocks against the driver's)."""
        starts = sorted(float(s["fit_started_at"]) for s in self.sessions() if s.get("fit_started_at"))
        origin = starts[0] if starts else 0.0
        records = []
        for _, row in self.trials.iterrows():
            started = row.get("started_at")
            record = {"trial_id": row["trial_id"], "status": row["status"], "node": row.get("node"),
                      "ray_node_id": row.get("ray_node_id"), "worker_pid": row.get("worker_pid"),
                      "start_s": float("nan"), "end_s": float("nan"), "queued_s": float("nan")}
            if pd.notna(started) and starts:
                session = max((s for s in starts if s <= started), default=origin)
                record.update(start_s=started - origin, queued_s=started - session,
                              end_s=row.get("ended_at", float("nan")) - origin)
            records.append(record)
        return pd.DataFrame(records, columns=PLACEMENT)
