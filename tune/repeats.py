"""After a search: the best configuration of each arm again on further seeds (``search.repeat_best: K``).

A search picks each arm's best trial by the validation metric alone (the first objective), on the
seed it searched with; picking the best of many trials on one seed favours that seed's luck. The
repeats run each arm's chosen configuration on K other seeds (the searched seed + 1 .. + K), the same
seeds for every arm, so arms compare paired over seeds at their best settings (the table's
statistics, ``dashboards/tables.py``). Each repeat is a grid point of its own, labelled with its arm,
its seed and ``repeat_of`` (the trial it repeats); its id is ``repeat-<arm>-...-seed<s>``. An arm
without a finished trial has nothing to repeat: its repeats get failed rows saying so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adcore.config import TrialConfig
from adcore.row import Status, unended_row
from studyspec.schema import ARM_AXIS, Study
from tune.grid import GridPoint, point_key, trial_row, with_searched
from tune.results import RunDir
from tune.trial_store import records

REPEAT_OF = "repeat_of"  # the label a repeat carries: the id of the searched trial it repeats


@dataclass
class RepeatPlan:
    points: list[GridPoint] = field(default_factory=list)  # every repeat, those with nothing to run included
    skipped: dict[str, str] = field(default_factory=dict)  # key -> why it cannot run (its arm has no finished trial)

    @property
    def runnable(self) -> list[GridPoint]:
        return [point for point in self.points if point.key not in self.skipped]


def best_of_arms(study: Study, run: RunDir) -> dict[str, dict[str, Any] | None]:
    """arm ("" when arms are not searched) -> the row of its best finished searched trial by the
    selection metric (ties: the lower trial id), or None when the arm has none."""
    assert study.search is not None
    metric, mode = study.selection_metric, study.selection_mode
    arms = study.search.arms or [""]
    best: dict[str, dict[str, Any] | None] = dict.fromkeys(arms)
    rows = sorted((row for row in run.rows() if row.get(REPEAT_OF) is None and row["status"] == Status.OK
                   and isinstance(row.get(metric), (int, float))), key=lambda row: row["trial_id"])
    for row in rows:
        arm = str(row.get(ARM_AXIS, "")) if study.search.arms else ""
        current = best.get(arm)
        better = current is None or (row[metric] > current[metric] if mode == "max" else row[metric] < current[metric])
        if arm in best and better:
            best[arm] = row
    return best


def repeat_plan(study: Study, points: list[GridPoint], run: RunDir) -> RepeatPlan:
    """The repeats of a finished search: K seeds per arm of its best trial's configuration."""
    plan = RepeatPlan()
    if study.search is None or not study.search.repeat_best:
        return plan
    started = records(run.path)
    by_arm = {str(point.labels.get(ARM_AXIS, "")) if study.search.arms else "": point for point in points}
    for arm, best in best_of_arms(study, run).items():
        point = by_arm[arm]
        if best is None:
            config, of = point.config, "-"
        else:
            record = started[best["trial_id"]]
            config, of = with_searched(run.read_point(record["point"])["config"], record["search"]), best["trial_id"]
        for k in range(1, study.search.repeat_best + 1):
            seed = int(config["seed"]) + k
            labels = {**point.labels, "seed": seed, REPEAT_OF: of}
            key = "repeat-" + point_key({name: value for name, value in labels.items() if name != REPEAT_OF})
            plan.points.append(GridPoint(key, labels, TrialConfig.model_validate({**config, "seed": seed}), point.columns))
            if best is None:
                plan.skipped[key] = f"arm {arm or point.key} has no finished searched trial to repeat"
    return plan


def write_skipped(run: RunDir, plan: RepeatPlan, git_commit: str) -> None:
    """Failed rows for the repeats that have nothing to run (once: a done row is kept)."""
    skipped = [point for point in plan.points if point.key in plan.skipped and run.read_row(point.key) is None]
    run.write_points(point.as_dict() for point in skipped)
    for point in skipped:
        row = unended_row(point.trial, {}, Status.FAILED, plan.skipped[point.key])
        run.write_row(trial_row(run, {"point": point.key}, row, git_commit))
