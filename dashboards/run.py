"""One study run as the dashboards read it: ``results/<study>/<run-id>/`` as tune/ writes it
(run.json, study.yaml, trials.csv, table.json, figures/, and Tune's per-trial files under tune/).

Loaded without importing tune/ or torch: a report takes seconds.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dashboards.tables import TABLE_JSON, Table
from studyspec.schema import Study

CURVE_METRICS = ("val_ap", "val_auroc", "train_loss")  # what every trial reports once per epoch
PLACEMENT = ["trial", "status", "node", "ray_node_id", "worker_pid", "start_s", "end_s", "queued_s"]


def find_run(path: str | Path) -> Path:
    """A run directory: ``path`` itself, or the newest run in a study directory (run ids are start times)."""
    path = Path(path).resolve()
    if (path / "run.json").exists():
        return path
    runs = sorted(p for p in path.iterdir() if (p / "run.json").exists()) if path.is_dir() else []
    if not runs:
        raise FileNotFoundError(f"{path}: not a study run (no run.json) nor a study directory with runs "
                                "(results/<study>/<run-id>/run.json)")
    return runs[-1]


@dataclass(frozen=True, eq=False)
class Run:
    path: Path
    meta: dict[str, Any]  # run.json
    study: Study  # study.yaml: the study as run, overlays applied
    trials: pd.DataFrame  # trials.csv: one row per trial

    @classmethod
    def load(cls, path: str | Path) -> "Run":
        path = find_run(path)
        trials_csv = path / "trials.csv"
        trials = pd.read_csv(trials_csv) if trials_csv.exists() else pd.DataFrame(columns=["trial", "status"])
        return cls(path, json.loads((path / "run.json").read_text()), Study.read(path / "study.yaml"),
                   trials)

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
        by_stem = {path.stem: path for suffix in ("png", "svg") for path in (self.path / "figures").glob(f"*.{suffix}")}
        return [by_stem[stem] for stem in sorted(by_stem)]

    def sessions(self) -> list[dict[str, Any]]:
        """The run's driver sessions (its start, then each --resume): command and when Tune started."""
        if self.meta.get("sessions"):
            return self.meta["sessions"]
        return [{"command": None, "fit_started_at": self.meta.get("fit_started_at", self.meta.get("started_at"))}]

    def history(self) -> pd.DataFrame:
        """Per-epoch metrics of every trial: Tune's ``tune/<trial>/result.json``, one line per
        report, inside the run directory (offline, whatever MLflow store was used). Tune appends
        to it across retries and resumes, so the latest report of an epoch wins."""
        records = []
        for result in sorted((self.path / "tune").glob("*/result.json")):
            for line in result.read_text().splitlines():
                report = json.loads(line) if line.strip() else {}
                if "epoch" in report:  # a trial that failed reports no epoch
                    records.append({"trial": result.parent.name, "epoch": int(report["epoch"]),
                                    **{key: report.get(key) for key in CURVE_METRICS}})
        frame = pd.DataFrame(records, columns=["trial", "epoch", *CURVE_METRICS])
        return frame.drop_duplicates(["trial", "epoch"], keep="last").sort_values(["trial", "epoch"], ignore_index=True)

    def placement(self) -> pd.DataFrame:
        """Where and when each trial ran: node, Ray node, worker process, start and end in seconds
        since the first session started, and how long it queued (from the start of the session
        it ran in until it started; node clocks against the driver's)."""
        starts = sorted(float(s["fit_started_at"]) for s in self.sessions() if s.get("fit_started_at"))
        origin = starts[0] if starts else 0.0
        records = []
        for _, row in self.trials.iterrows():
            started = row.get("started_at")
            record = {"trial": row["trial"], "status": row["status"], "node": row.get("node"),
                      "ray_node_id": row.get("ray_node_id"), "worker_pid": row.get("worker_pid"),
                      "start_s": float("nan"), "end_s": float("nan"), "queued_s": float("nan")}
            if pd.notna(started) and starts:
                session = max((s for s in starts if s <= started), default=origin)
                record.update(start_s=started - origin, queued_s=started - session,
                              end_s=row.get("ended_at", float("nan")) - origin)
            records.append(record)
        return pd.DataFrame(records, columns=PLACEMENT)
