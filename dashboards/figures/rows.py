"""A grid study's default figure: the table's first metric per value of its rows axis, one point
per trial (coloured by the next axis with several values: the folds), mean ± std, the paper's."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from dashboards.figures.base import FIGURES, finished, pyplot, value_labels
from dashboards.metrics import metric_label, metric_name, metric_scale
from studyspec.schema import Study


@FIGURES.register("rows")
def rows_figure(study: Study, frame: pd.DataFrame, folder: Path) -> Path | None:
    axis, metric = study.rows_axis, study.table.metrics[0]
    values = study.labels(axis) or [None]
    ok = finished(frame)
    factor = metric_scale(metric, study.table.percent)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.1 * len(values) + 3, 4))
    colour_by = next((a for a in study.grid if a != axis and len(study.grid[a]) > 1), None)
    colours = {v: plt.cm.tab10(i % 10) for i, v in enumerate(study.labels(colour_by))}
    for x, value in enumerate(values):
        rows = ok[ok[axis].astype(str) == str(value)] if axis else ok
        ys = rows[metric] * factor if metric in rows else pd.Series(dtype=float)
        jitter = [(i / max(1, len(ys) - 1) - 0.5) * 0.3 for i in range(len(ys))]
        ax.scatter([x - 0.1 + j for j in jitter], ys, s=14, alpha=0.8, zorder=2,
                   c=[colours.get(v, "tab:blue") for v in (rows[colour_by] if colour_by else [None] * len(ys))])
        if len(ys):
            ax.errorbar(x + 0.15, ys.mean(), yerr=ys.std(ddof=1) if len(ys) > 1 else 0, fmt="o", color="black",
                        capsize=4, zorder=3, label="ours: mean ± std" if x == 0 else None)
    for marker, (column, numbers) in zip("s^Dv", (study.table.paper.columns.items() if study.table.paper else [])):
        ax.scatter([x + 0.3 for x in range(len(values))], [numbers.get(str(v), float("nan")) for v in values],
                   marker=marker, facecolors="none", edgecolors="tab:red", label=f"paper: {column}", zorder=3)
    labels = value_labels(frame, axis)
    ax.set_xticks(range(len(values)), [str(v) if labels.get(str(v), str(v)) == str(v) else f"{v}\n{labels[str(v)]}"
                                       for v in values], fontsize=8)
    ax.set_xlabel(axis or "")
    ax.set_ylabel(metric_label(metric, study.table.percent))
    ax.set_title(f"{study.name}: {metric_name(metric)} per {axis}" + (f", points = {colour_by}" if colour_by else ""),
                 fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.add_artist(ax.legend(fontsize=8, loc="upper left"))
    if colour_by and len(colours) <= 10:  # which colour is which fold (or seed)
        handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=f"{colour_by.split('.')[-1]} {v}")
                   for v, c in colours.items()]
        ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=len(handles),
                  handletextpad=0.1, columnspacing=0.8, frameon=False)
    fig.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in ("png", "svg"):
        fig.savefig(folder / f"{metric}_by_{axis or 'trial'}.{suffix}", dpi=150, bbox_inches="tight")
    plt.close(fig)
    return folder / f"{metric}_by_{axis or 'trial'}.png"
