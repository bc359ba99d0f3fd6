"""What a resumed run still has to do, read from the run directory's own files.

The run directory is the truth, not Ray Tune's experiment state: Tune writes that state every
few seconds without an atomic rename, and a driver killed during the write leaves an empty or
half file that cannot be restored. Each ``--resume`` therefore starts a new Tuner over what is
left, decided here from files that are written atomically:

- a trial is *done* when its row says ``ok``, ``failed`` or ``stopped_early``; a trial whose row
  says ``error`` (it failed after its retries) is tried again, as before;
- a grid resumes every point without a done row; a point that had started continues from its
  checkpoint in ``trials/<point>/`` because its trial id is the point's key;
- a search re-adds its done trials to a new Optuna study (parameters and result), proposes its
  started-but-not-done trials again under their old ids (so they continue from their checkpoints
  and log into their MLflow runs), and proposes new trials up to ``num_samples``. The resumed
  sampler is seeded with the study's seed plus the number of earlier sessions, so it does not
  propose its first points again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adcore.row import Status
from studyspec.schema import Study
from tune.grid import GridPoint
from tune.results import RunDir
from tune.trial_store import records


@dataclass(frozen=True)
class Evaluated:
    """A done trial of a search, told to a resumed searcher."""

    trial_id: str
    params: dict[str, Any]  # dotted config key -> value
    value: float | None  # the study's metric at the trial's end (as the searcher was told); None: failed


def search_trial_id(point: str, index: int) -> str:
    """The id of a search's index-th trial (the searcher names its trials; see tune/searcher.py)."""
    return f"{point}_{index:03d}"


def trial_index(trial_id: str) -> int:
    return int(trial_id.rsplit("_", 1)[1])


@dataclass
class Remaining:
    """The trials a (resumed) session runs."""

    points: list[GridPoint]  # grid: the points without a done row; search: its one point
    searching: bool = False
    num_samples: int = 0  # search: trials to run in this session (pending ones included)
    evaluated: list[Evaluated] = field(default_factory=list)  # search: done trials for the new searcher
    pending: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # search: (trial id, searched values)
    next_index: int = 0  # search: the index of the next new trial id

    @property
    def empty(self) -> bool:
        return self.num_samples == 0 if self.searching else not self.points


def done_rows(run: RunDir) -> dict[str, dict[str, Any]]:
    return {row["trial_id"]: row for row in run.rows() if Status(row["status"]).done}


def remaining(study: Study, points: list[GridPoint], run: RunDir | None) -> Remaining:
    """Everything, for a new run; what is left, for a resumed one."""
    if study.search is None:
        if run is None:
            return Remaining(points)
        done = done_rows(run)
        return Remaining([point for point in points if point.key not in done])
    total = study.search.num_samples
    if run is None:
        return Remaining(points, searching=True, num_samples=total)
    done = done_rows(run)
    started = records(run.path)
    searched = list(study.search.space)
    evaluated = [Evaluated(trial_id, _searched(started.get(trial_id), row, searched), _value(row, study.metric))
                 for trial_id, row in sorted(done.items())]
    pending = [(trial_id, record["search"]) for trial_id, record in sorted(started.items()) if trial_id not in done]
    pending = pending[: max(0, total - len(evaluated))]
    indices = [trial_index(trial_id) for trial_id in [*done, *started]]
    return Remaining(points, searching=True, num_samples=max(0, total - len(evaluated)), evaluated=evaluated, pending=pending,
                     next_index=max(indices, default=-1) + 1)


def _searched(record: dict[str, Any] | None, row: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """The values a trial was proposed: its record's, else its row's (flattened config) columns."""
    return dict(record["search"]) if record else {key: row[key] for key in keys}


def _value(row: dict[str, Any], metric: str) -> float | None:
    value = row.get(metric)
    return float(value) if row["status"] != Status.FAILED and isinstance(value, (int, float)) else None

