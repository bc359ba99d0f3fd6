"""The figure registry and what every figure shares: PNG and SVG side by side, a caption with the
budget, the labels of grid values (a preset's label travels with its rows as ``arm_label``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import pandas as pd

from adcore.registry import Registry
from adcore.row import Status
from studyspec.schema import Study

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# (study, trials frame, figures folder) -> the PNG written, or None when the rows lack what it draws
FigureFn = Callable[[Study, pd.DataFrame, Path], "Path | None"]
FIGURES: Registry[FigureFn] = Registry("figure")


@dataclass(frozen=True)
class Compared:
    """Another run a figure sets beside this one, named on the command line
    (``dashboards/aggregate.py RUN --compare OTHER``): a figure never looks for runs by itself."""

    run_id: str
    study: Study
    trials: pd.DataFrame


# The same, with the runs it compares; drawn instead of the FIGURES entry of that name when runs are named.
ComparisonFn = Callable[[Study, pd.DataFrame, Path, Sequence[Compared]], "Path | None"]
COMPARISONS: Registry[ComparisonFn] = Registry("comparison figure")


def pyplot():
    """matplotlib's pyplot on the file-only backend (no display on workers or CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def finished(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] == Status.OK] if "status" in frame else frame


def value_labels(frame: pd.DataFrame, axis: str | None) -> dict[str, str]:
    """{grid value: label}: the presets' labels for the arm axis, the values themselves elsewhere."""
    if axis is None or axis not in frame:
        return {}
    labels = {str(v): str(v) for v in frame[axis].dropna().unique()}
    if f"{axis}_label" in frame:
        labels.update({str(v): str(label) for v, label in zip(frame[axis], frame[f"{axis}_label"]) if pd.notna(label)})
    return labels


def rows_by_axis(study: Study, frame: pd.DataFrame,
                 axis: str) -> tuple[pd.DataFrame, str, str, list[str], list[str]] | None:
    """(finished rows with the study's rows axis and ``axis`` as strings, the rows axis, the first table
    metric, the rows in the study's order, the values of ``axis`` in its order), or None when the study
    has no rows axis, a column is missing or nothing finished."""
    methods, metric = study.rows_axis, study.table.metrics[0]
    rows = finished(frame)
    if rows.empty or methods is None or not {methods, axis, metric} <= set(rows.columns):
        return None
    rows = rows.assign(**{methods: rows[methods].astype(str), axis: rows[axis].astype(str)})
    order = [str(v) for v in study.labels(methods) if str(v) in set(rows[methods])]
    groups = [str(v) for v in study.labels(axis) if str(v) in set(rows[axis])]
    if not order or not groups:
        return None
    return rows, methods, metric, order, groups


def save(fig: "Figure", folder: Path, stem: str, caption: str = "", tight: bool = True) -> Path:
    """Write ``stem.png`` and ``stem.svg`` with the caption (the budget) under the axes; ``tight=False``
    for a figure placed by hand, which an automatic layout would move."""
    if caption:
        fig.text(0.01, 0.005, caption, fontsize=7, color="dimgray", ha="left", va="bottom", wrap=True)
    if tight and fig.get_layout_engine() is None:  # a figure with its own (constrained) layout keeps it
        fig.tight_layout(rect=(0, 0.05, 1, 1) if caption else None)
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "svg"):
        fig.savefig(folder / f"{stem}.{suffix}", dpi=150)
    pyplot().close(fig)
    return folder / f"{stem}.png"


DEFAULT_FIGURES = {"grid": ("rows", "paired_differences", "critical_difference"), "search": ("search", "pareto")}


def draw(study: Study, frame: pd.DataFrame, folder: Path, compared: Sequence[Compared] = ()) -> list[Path]:
    """Every figure of the study: its default ones (for a grid: per row, and the statistics where the
    table has them; for a search: the search plot) and the ones it names under ``figures:``, each
    beside the ``compared`` runs where it has a comparing form; a figure whose rows are missing is skipped."""
    names = dict.fromkeys([*DEFAULT_FIGURES["search" if study.search else "grid"], *study.figures])
    written = [COMPARISONS.get(name)(study, frame, folder, compared) if compared and name in COMPARISONS
               else FIGURES.get(name)(study, frame, folder) for name in names]
    return [path for path in written if path is not None]
