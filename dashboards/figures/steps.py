"""Paper 001's Figure 1: test AUROC against training steps, one line per value of the study's rows
axis (the EWC weight lambda in ``studies/ewc_lambda.yaml``: lambda = 0 collapses, EWC holds the
features up), mean ± std over the other axes (the classes).

Rows of PANDA-SES trials carry ``test_auroc_step<n>``, the kNN AUROC of the checkpoint after n
minibatches, recorded once at the end of the trial (never used to choose).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from dashboards.describe import short_budget
from dashboards.figures.base import FIGURES, finished, pyplot, save
from studyspec.schema import Study

STEP_COLUMN = re.compile(r"^test_auroc_step(\d+)$")


def step_columns(frame: pd.DataFrame) -> dict[int, str]:
    """{steps: column} of the per-checkpoint AUROC columns, in order of steps."""
    found = {int(m.group(1)): column for column in frame.columns if (m := STEP_COLUMN.match(column))}
    return dict(sorted(found.items()))


def auroc_vs_steps(frame: pd.DataFrame, group_by: str | None, folder: Path, title: str = "") -> Path | None:
    """Plot mean ± std AUROC (%) per checkpoint for each value of ``group_by``; None without step columns."""
    columns = step_columns(frame)
    rows = finished(frame)
    if not columns or rows.empty:
        return None
    plt = pyplot()
    groups = rows.groupby(group_by, sort=True) if group_by in rows else [("all", rows)]
    fig, ax = plt.subplots(figsize=(6, 4.3))
    steps = list(columns)
    for value, group in groups:
        curve = group[list(columns.values())].mul(100.0)  # (trials, checkpoints), NaN where a trial lacks one
        mean, std = curve.mean(), curve.std(ddof=1).fillna(0.0)
        ax.plot(steps, mean.values, marker="o", markersize=3, label=f"{group_by} = {value} (n = {len(group)})")
        ax.fill_between(steps, (mean - std).values, (mean + std).values, alpha=0.15)
    ax.set_xlabel("training minibatches")
    ax.set_ylabel("test AUROC (%), mean ± std over trials")
    ax.set_title(title or "AUROC against training steps", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, folder, "auroc_vs_steps", short_budget(rows))


@FIGURES.register("auroc_vs_steps")
def figure(study: Study, frame: pd.DataFrame, folder: Path) -> Path | None:
    return auroc_vs_steps(frame, study.rows_axis, folder, f"{study.name}: AUROC against training steps")
