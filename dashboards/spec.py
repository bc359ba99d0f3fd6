"""How a study's results are shown: the ``table`` section of a study file, the label of a grid
value, and the saved study (``study.yaml`` as tune/ wrote it) as tables and figures read it.

tune/ embeds TableSpec in its study schema and writes study.yaml; nothing here imports tune/, so
dashboards/ rebuilds every table, figure and report from a run directory alone.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # tune/ loads this module to check a study file, without pandas
    import pandas as pd

ARM_AXIS = "arm"  # the grid axis whose values are adcore presets (Table 4's a1..a7)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaperSpec(_Strict):
    metric: str = Field(description="what the published numbers are, e.g. 'mAP (%)'")
    columns: dict[str, dict[str, float]] = Field(description="column (dataset) -> row value -> published number")
    budget: str = Field("", description="the paper's budget, in words")


class TableSpec(_Strict):
    rows: str | None = Field(None, description="grid axis whose values are the table rows (default: the first axis)")
    metrics: list[str] = Field(default_factory=lambda: ["test_ap", "test_auroc"])
    percent: bool = True
    paper: PaperSpec | None = None
    deviations: list[str] = Field(default_factory=list, description="how this study departs from the paper")
    spread: Literal["std", "sem"] = Field("std", description="± of each cell: sample std, or its standard error "
                                          "(std / sqrt(n)) as papers that report mean ± SEM over seeds")
    columns: str | None = Field(None, description="grid axis spread across the columns for the first metric "
                                "(e.g. data.fold: one column per held-out class, as paper 002's Table 3)")
    mean_row: bool = Field(False, description="add a row with the mean over the rows (over classes when the rows "
                           "are classes), the paper's numbers averaged the same way")
    baseline: str | None = Field(None, description="a value of the rows axis: add a row '<row> - <baseline>' for each "
                                 "other row, its means minus the baseline's (ours and the paper's), as paper 000's "
                                 "Table 6 prints each method's gain over HSC")
    compare_to: str | None = Field(None, description="a value of the rows axis: every other row's paired difference to it "
                                   "over units (the other grid axes but the seed, which is averaged within a unit), "
                                   "with 95 % bootstrap and t intervals, Wilcoxon p and Holm's correction; marked "
                                   "where the intervals widened for the rows compared both exclude 0")
    smallest_effect: float = Field(2.0, gt=0, description="a difference (in the table's units, e.g. AP points) for which "
                                   "the notes state how many folds, at the seeds run and with unlimited seeds, the "
                                   "observed paired spread would need to mark it")


def value_label(value: Any) -> Any:
    """A grid value as a results row records it. A mapping sets several keys of its axis together (e.g.
    ``data: [{fold: 7, secondary_class: 9}]``, a class pair) and reads 'fold7-secondary_class9'; a list
    (a set of factor values, ``[red, blue]``) reads 'red+blue', inside a mapping too."""
    if isinstance(value, dict):
        return "-".join(f"{key}{value_label(item)}" for key, item in value.items())
    if isinstance(value, list):
        return "+".join(str(value_label(item)) for item in value)
    return value


def _label_of_cell(cell: Any) -> Any:
    """A trials.csv cell as its grid value's label: a JSON list or mapping is read first."""
    if isinstance(cell, str) and cell[:1] in "[{":
        try:
            return value_label(json.loads(cell))
        except ValueError:
            return cell
    return cell


def rows_axis(table: TableSpec, grid: dict[str, list[Any]]) -> str | None:
    """The grid axis whose values are the table's rows: ``table.rows``, else the first axis."""
    return table.rows or next(iter(grid), None)


@dataclass(frozen=True)
class SavedStudy:
    """A study as it ran (overlays applied), read from its study.yaml: what tables and figures need."""

    name: str
    grid: dict[str, list[Any]]
    table: TableSpec
    metric: str = "val_ap"
    mode: str = "max"
    reproduces: str | None = None
    description: str = ""
    search: dict[str, Any] | None = None  # num_samples, algorithm, seed, space: {dotted key: range}
    scheduler: dict[str, Any] = field(default_factory=lambda: {"name": "fifo"})
    figures: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)  # --smoke, --budget NAME, --set KEY=VALUE

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "SavedStudy":
        return cls(name=raw["name"], grid=raw.get("grid") or {}, table=TableSpec.model_validate(raw.get("table") or {}),
                   metric=raw.get("metric", "val_ap"), mode=raw.get("mode", "max"), reproduces=raw.get("reproduces"),
                   description=raw.get("description") or "", search=raw.get("search"),
                   scheduler=raw.get("scheduler") or {"name": "fifo"}, figures=list(raw.get("figures") or []),
                   applied=list(raw.get("applied") or []))

    @classmethod
    def from_file(cls, path: Path) -> "SavedStudy":
        return cls.from_dict(yaml.safe_load(Path(path).read_text()))

    @property
    def rows_axis(self) -> str | None:
        return rows_axis(self.table, self.grid)

    @property
    def searched(self) -> list[str]:
        """The dotted config keys a search draws (empty for a grid study)."""
        return list((self.search or {}).get("space", {}))

    def labels(self, axis: str | None) -> list[Any]:
        """The values of a grid axis as rows, names and tables show them (see ``value_label``)."""
        return [value_label(value) for value in self.grid.get(axis, [])] if axis else []

    def labelled(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with each grid axis's values as ``labels`` gives them. An axis of lists (a set of factor
        values) is also a config key, so the row holds the list itself, which trials.csv writes as JSON."""
        axes = [axis for axis in self.grid if axis in frame]
        return frame.assign(**{axis: frame[axis].map(_label_of_cell) for axis in axes}) if axes else frame
