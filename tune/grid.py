"""Grid expansion: a study's axes -> one validated trial config per grid point.

A trial config is merged in one strict order: the per-trial thread count and the study's metric
(the trial records its best epoch by it), the study's ``base``, the arm's preset, the other axes'
values, the study's ``overrides`` (``--set``). Every point is validated here, once, before Ray
starts; the worker validates it once more on its side. A trial's point, config, id and row are read
and made here too, without Ray, so ``scripts/adcore_grid.py`` runs a study's grid the same way.
"""
from __future__ import annotations

import itertools
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from adcore.config import TrialConfig, build_config, deep_merge, set_dotted
from adcore.presets import PRESETS
from adcore.row import Status, unended_row
from studyspec.schema import ARM_AXIS, Study, value_label
from tune.results import RunDir, complete_row
from tune.study import StudyError, format_errors
from tune.trial_store import TrialStore


@dataclass(frozen=True)
class GridPoint:
    key: str  # stable, filesystem-safe name of the point, e.g. "a3-fold4-seed0"
    labels: dict[str, Any]  # axis -> value at this point (a mapping value: its label, see value_label)
    trial: TrialConfig  # the resolved, validated trial config
    columns: dict[str, Any] = field(default_factory=dict)  # what rows record besides the labels: the arm's label

    @property
    def config(self) -> dict[str, Any]:
        return self.trial.model_dump(mode="json")

    def as_dict(self) -> dict[str, Any]:
        """What travels to the worker inside Tune's config: plain JSON."""
        return {"key": self.key, "labels": self.labels, "columns": self.columns, "config": self.config}


def expand(study: Study, where: str = "study") -> list[GridPoint]:
    """Every grid point in file order of the axes (the first axis varies slowest). An axis that a search
    also searches holds a placeholder: it names no point and labels no row (the searched value does).
    A search over arms (``search.space.arm``) has one point per arm, and its searcher picks the point."""
    grid = dict(study.grid)
    searched = set(study.search.space) if study.search else set()
    if study.search is not None and study.search.arms:
        grid = {ARM_AXIS: study.search.arms, **{axis: values for axis, values in grid.items() if axis != ARM_AXIS}}
        searched.discard(ARM_AXIS)
    axes = list(grid)
    points = []
    for values in itertools.product(*(grid[axis] for axis in axes)):
        at = dict(zip(axes, values))
        named = {axis: value for axis, value in at.items() if axis not in searched}
        labels = {axis: value_label(value) for axis, value in named.items()}
        trial = resolve(study, at, where)
        columns = {f"{ARM_AXIS}_label": PRESETS.get(named[ARM_AXIS]).label} if ARM_AXIS in named else {}
        points.append(GridPoint(point_key(named), labels, trial, columns))
    keys = [point.key for point in points]
    if len(set(keys)) != len(keys):
        raise StudyError(f"{where}: two grid points share a name; make the axis values distinct")
    return points


def point_layers(study: Study, labels: dict[str, Any], where: str = "study") -> list[dict[str, Any]]:
    """The config layers of one grid point, in merge order (see the module docstring)."""
    layers: list[dict[str, Any]] = [{"runtime": {"threads": math.ceil(study.resources.cpu)},
                                     "selection_metric": study.selection_metric}, study.base]
    for axis, value in labels.items():
        if axis == ARM_AXIS:
            if value not in PRESETS:
                raise StudyError(f"{where}: grid.{ARM_AXIS}: unknown preset {value!r}; "
                                 f"valid presets: {', '.join(PRESETS.names())}")
            layers.append(PRESETS.get(value).config)
        else:
            layers.append(set_dotted({}, axis, value))
    layers.append(study.overrides)
    return layers


def resolve(study: Study, labels: dict[str, Any], where: str = "study") -> TrialConfig:
    """The trial config at one grid point; errors name the point and the config key."""
    layers = point_layers(study, labels, where)
    try:
        return build_config(*layers)
    except ValidationError as error:
        merged: dict[str, Any] = {}
        for layer in layers:  # what was validated, for the error's list of valid keys
            merged = deep_merge(merged, layer)
        at = ", ".join(f"{axis}={value}" for axis, value in labels.items())
        where = f"{where} (grid point {at})" if at else where
        raise StudyError(format_errors(where, error, TrialConfig, merged)) from None


def point_key(labels: dict[str, Any]) -> str:
    """{'arm': 'a3', 'data.fold': 4, 'seed': 0} -> 'a3-fold4-seed0'; a mapping value names its own keys:
    {'data': {'fold': 7, 'secondary_class': 9}} -> 'fold7-secondary_class9'; a list joins its values:
    {'data.factors.normal.object_color': ['red', 'blue']} -> 'object_colorred+blue'."""
    parts = [str(value_label(value)) if axis == ARM_AXIS or isinstance(value, dict)
             else f"{axis.split('.')[-1]}{value_label(value)}" for axis, value in labels.items()]
    return re.sub(r"[^A-Za-z0-9_.=+-]", "_", "-".join(parts)) or "trial"


def with_searched(config: dict[str, Any], searched: dict[str, Any]) -> dict[str, Any]:
    """A grid point's config with the values a searcher proposed for its dotted keys."""
    for key, value in searched.items():
        config = set_dotted(config, key, value)
    return config


# A Tune trial's config is {"point": <key>} plus, in a search, "search" (the proposed values) and
# "trial_id" (the searcher's name for it); the point itself is in the run directory.

def trial_point(run: RunDir, config: dict[str, Any]) -> dict[str, Any]:
    """The grid point of a Tune trial, whose config names it by key (see ``RunDir.write_points``)."""
    return run.read_point(config["point"])


def trial_config(point: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The trial config of a Tune trial: its grid point plus what the searcher proposed."""
    return with_searched(point["config"], config.get("search", {}))


def trial_id(config: dict[str, Any]) -> str:
    """A trial's own id: the one its searcher gave it, else its grid point's key."""
    return config.get("trial_id") or config["point"]


def trial_row(run: RunDir, config: dict[str, Any], row: dict[str, Any], git_commit: str) -> dict[str, Any]:
    """A trial's row for the run directory, from the trial's own row (``run_trial``'s) or the one a
    runner made for it (``adcore.row.unended_row``): the one place a row is completed, for the worker,
    the driver and ``scripts/adcore_grid.py``. Its provenance comes from the trial's starts
    (``TrialStore.provenance``); a trial that has ended gets ``ended_at`` and ``wall_s``."""
    point, key = trial_point(run, config), trial_id(config)
    provenance: dict[str, Any] = {"git_commit": git_commit, **TrialStore(run.path, key).provenance()}
    if row["status"] != Status.UNFINISHED:
        provenance["ended_at"] = time.time()
        if provenance.get("started_at") is not None:
            provenance["wall_s"] = provenance["ended_at"] - provenance["started_at"]
    return complete_row(row, point, key, provenance)


def unended_trial_row(run: RunDir, config: dict[str, Any], last: dict[str, Any], status: Status, git_commit: str,
                      message: str = "") -> dict[str, Any]:
    """The row of a Tune trial that has none of its own, from its config and the last metrics it reported."""
    return trial_row(run, config, unended_row(trial_config(trial_point(run, config), config), last, status, message),
                     git_commit)
