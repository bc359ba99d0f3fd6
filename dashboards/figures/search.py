"""A search study's default figure: the validation metric against each searched key, finished
trials against those a scheduler stopped, and the trials the validation metric selects (each arm's
best). A search over arms draws the arm as a categorical axis; a conditional key shows only the
trials of the arms that have it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from adcore.row import Status
from dashboards.figures.base import FIGURES, pyplot, save
from dashboards.metrics import metric_label, scale
from dashboards.pareto import chosen, searched
from studyspec.schema import Study


@FIGURES.register("search")
def search_figure(study: Study, frame: pd.DataFrame, folder: Path) -> Path | None:
    metric = study.selection_metric
    keys = [key for key in study.searched if key in frame]
    if not keys or metric not in frame:
        return None
    trials = searched(frame)
    factor = scale(study.table.percent)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.6), squeeze=False)
    picked = trials[trials["trial_id"].astype(str).isin(chosen(study, frame))]
    for ax, key in zip(axes[0], keys):
        styles = {Status.OK: dict(c="tab:blue", label="finished"),
                  Status.STOPPED_EARLY: dict(c="tab:gray", marker="x", label="stopped early")}
        for status, style in styles.items():
            rows = trials[(trials["status"] == status) & trials[key].notna()]
            if len(rows):
                ax.scatter(rows[key].astype(str) if rows[key].dtype == object else rows[key], rows[metric] * factor,
                           **style)
        rows = picked[picked[key].notna()]
        if len(rows):
            ax.scatter(rows[key].astype(str) if rows[key].dtype == object else rows[key], rows[metric] * factor,
                       marker="*", s=200, c="tab:orange", label="selected")
        values = trials[key].dropna()
        numeric = pd.api.types.is_numeric_dtype(values)
        kind = study.search.space[key].type
        if numeric and (kind == "loguniform" or (kind is None and len(values) and values.min() > 0
                                                  and values.max() / values.min() > 50)):
            ax.set_xscale("log")
        ax.set_xlabel(key)
        ax.set_ylabel(metric_label(metric, study.table.percent))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{study.name}: search", fontsize=10)
    return save(fig, folder, f"search_{metric}")
