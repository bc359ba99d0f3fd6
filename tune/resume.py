"""What a resumed run still has to do, read from the run directory's own files.

The run directory is the truth, not Ray Tune's experiment state: Tune writes that state every
few seconds without an atomic rename, and a driver killed during the write leaves an empty or
half file that cannot be restored. Each ``--resume`` therefore starts a new Tuner over what is
left, decided here from files that are written atomically:

- a trial is *done* when its row says ``ok``, ``failed`` or ``stopped_early``; a trial whose row
  says ``error`` (it failed after its retries) is tried again, as before;
- a grid resumes every point without a done row; a point that had started continues from its
  checkpoint in ``trials/<point>/`` because its trial id is the point's key;
- a search's Optuna study is on a storage that outlives the driver; each session first reconciles
  it with the rows (``tune/optuna_study.py``): trials a killed session left running are proposed
  again first under their old ids (they continue from their checkpoints and log into their MLflow
  runs), then new ones up to ``num_samples``. The resumed sampler is seeded with the study's seed
  plus the number of earlier sessions, so it does not propose its first random points again;
- once the search has all its trials, the best of each arm runs again on further seeds
  (``search.repeat_best``, ``tune/repeats.py``): those without a done row are left.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adcore.row import Status
from studyspec.schema import Study
from tune.grid import GridPoint
from tune.repeats import repeat_plan
from tune.results import RunDir


def search_trial_id(point: str, index: int) -> str:
    """The id of a search's index-th trial (the searcher names its trials; see tune/searcher.py)."""
    return f"{point}_{index:03d}"


def trial_index(trial_id: str) -> int:
    return int(trial_id.rsplit("_", 1)[1])


@dataclass
class Remaining:
    """The trials a (resumed) session runs."""

    points: list[GridPoint]  # grid: the points without a done row; search: its points (one per arm)
    searching: bool = False
    num_samples: int = 0  # search: trials to run in this session (those a killed session left included)
    repeats: list[GridPoint] = field(default_factory=list)  # search done: the best of each arm on further seeds

    @property
    def empty(self) -> bool:
        return self.num_samples == 0 and not self.repeats if self.searching else not self.points


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
    left = max(0, total - sum(row.get("repeat_of") is None for row in done.values()))
    repeats = [point for point in repeat_plan(study, points, run).points if point.key not in done] if left == 0 else []
    return Remaining(points, searching=True, num_samples=left, repeats=repeats)
