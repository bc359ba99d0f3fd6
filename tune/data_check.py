"""The check before Ray starts: every distinct data config of a study is resolved in the driver against
the data this machine has (``adcore.data.check``: sources found, splits and classes there, enough
images for the budget, the OE corpus apart from the benchmark's classes), and a problem ends the run
with one message naming the study file, the grid points, the key path and what to do, before a
trial is scheduled. ``--dry-run`` runs it too.

It resolves the grid points' data configs alone (no method, no network), so a refused study costs
the imports of pydantic, numpy and the source registry, not torch's. Keys a search varies are
checked at the grid point's value.
"""
from __future__ import annotations

import itertools
import json
from typing import Any

from pydantic import Field, ValidationError

from adcore.config import deep_merge
from adcore.data.check import Resolved, check_data
from adcore.data.config import DataConfig
from adcore.data.protocols import CheckedDataConfig
from adcore.data.sources import DataConfigError
from adcore.params import StrictModel
from studyspec.schema import Study
from tune.grid import point_layers
from tune.study import StudyError, format_errors

SHOWN_POINTS = 3  # grid points a problem names before it counts the rest


class _Data(StrictModel):
    """The part of a trial config this check validates, so errors carry their ``data.`` key path."""

    data: CheckedDataConfig = Field(default_factory=DataConfig)


def data_configs(study: Study, where: str) -> dict[str, tuple[DataConfig, list[str]]]:
    """Each distinct data config of the study's grid, with the grid points (as ``axis=value, ...``) that use it."""
    axes = list(study.grid)
    found: dict[str, tuple[DataConfig, list[str]]] = {}
    for values in itertools.product(*(study.grid[axis] for axis in axes)):
        labels = dict(zip(axes, values))
        point = ", ".join(f"{axis}={value}" for axis, value in labels.items())
        merged: dict[str, Any] = {}
        for layer in point_layers(study, labels, where):
            merged = deep_merge(merged, layer)
        data = {"data": merged.get("data", {})}
        try:
            cfg = _Data.model_validate(data).data
        except ValidationError as error:
            raise StudyError(format_errors(f"{where} (grid point {point})" if point else where, error, _Data, data)) from None
        entry = found.setdefault(json.dumps(cfg.model_dump(mode="json"), sort_keys=True), (cfg, []))
        entry[1].append(point)
    return found


def check_study_data(study: Study, where: str) -> None:
    """Raise a StudyError listing each data problem of the study once, with the grid points it affects."""
    problems: dict[tuple[str, str], list[str]] = {}
    resolved = Resolved()
    configs = data_configs(study, where)
    for cfg, points in configs.values():
        try:
            check_data(cfg, resolved)
        except DataConfigError as error:
            problems.setdefault((error.key, error.message), []).extend(points)
    if problems:
        every = sum(len(points) for _, points in configs.values())
        lines = [f"{where}: the data this study names is not there, or not enough of it (checked before starting Ray):"]
        for (key, message), points in problems.items():
            lines.append(f"  {key}: {message}{_where(points, every)}")
        raise StudyError("\n".join(lines))


def _where(points: list[str], every: int) -> str:
    """The grid points a problem affects, when it is not all of them."""
    if len(points) == every:
        return ""
    more = len(points) - SHOWN_POINTS
    return f" [grid point {'; '.join(points[:SHOWN_POINTS])}" + (f"; and {more} more" if more > 0 else "") + "]"
