"""A search study's default figure: the validation metric against each searched key, finished
trials against those a scheduler stopped, and the trial the validation metric selects."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from adcore.row import Status
from dashboards.figures.base import FIGURES, pyplot, save
from dashboards.metrics import metric_label, scale
from studyspec.schema import Study


@FIGURES.register("search")
def search_figure(study: Study, frame: pd.DataFrame, folder: Path) -> Path | None:
    keys = [key for key in study.searched if key in frame]
    if not keys or study.metric not in frame:
        return None
    factor = scale(study.table.percent)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.6), squeeze=False)
    ok = frame[frame["status"] == Status.OK].sort_values(study.metric, ascending=study.mode == "min")
    for ax, key in zip(axes[0], keys):
        styles = {Status.OK: dict(c="tab:blue", label="finished"),
                  Status.STOPPED_EARLY: dict(c="tab:gray", marker="x", label="stopped early")}
        for status, style in styles.items():
            rows = frame[frame["status"] == status]
            if len(rows):
                ax.scatter(rows[key], rows[study.metric] * factor, **style)
        if len(ok):
            ax.scatter(ok[key].iloc[:1], ok[study.metric].iloc[:1] * factor, marker="*", s=200, c="tab:orange",
                       label="selected")
        kind = study.search.space[key].type
        values = frame[key].dropna()
        if kind == "loguniform" or (kind is None and len(values) and values.min() > 0
                                    and values.max() / values.min() > 50):
            ax.set_xscale("log")
        ax.set_xlabel(key)
        ax.set_ylabel(metric_label(study.metric, study.table.percent))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{study.name}: search", fontsize=10)
    return save(fig, folder, f"search_{study.metric}")
