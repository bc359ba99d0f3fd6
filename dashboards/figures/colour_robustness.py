"""Paper 000's Figure 2: detecting a cube of any colour when the normal cones take a growing set of
colours (``studies/colour_robustness.yaml``; colour is the non-semantic factor).

x: the set of normal colours (the grid axis ``data.factors.normal.object_color``, in file order:
red, red + blue, ... all six); y: the table's first metric, one line per method (the rows axis),
mean ± std over seeds as a band, each seed as a dot. The paper gives this figure as curves only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dashboards.describe import short_budget
from dashboards.figures.base import FIGURES, pyplot, rows_by_axis, save, value_labels
from dashboards.metrics import metric_label, metric_scale
from studyspec.schema import Study

AXIS = "data.factors.normal.object_color"


def step_names(groups: list[str]) -> list[str]:
    """'red', 'red+blue', 'red+blue+green' -> 'red', '+ blue', '+ green': each step's added colour."""
    names, before = [], set()
    for group in groups:
        colours = group.split("+")
        added = [c for c in colours if c not in before]
        names.append(group if not before else "+ " + " + ".join(added))
        before = set(colours)
    return names


@FIGURES.register("colour_robustness")
def colour_robustness(study: Study, frame: pd.DataFrame, folder: Path) -> Path | None:
    """Draw the curves; None without the colour-set axis or a finished trial."""
    found = rows_by_axis(study, frame, AXIS)
    if found is None:
        return None
    rows, methods, metric, order, groups = found
    labels = value_labels(rows, methods)
    factor = metric_scale(metric, study.table.percent)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    x = np.arange(len(groups))
    for i, method in enumerate(order):
        per_step = [rows[(rows[methods] == method) & (rows[AXIS] == g)][metric].dropna() * factor for g in groups]
        means = np.array([v.mean() if len(v) else np.nan for v in per_step])
        stds = np.array([v.std(ddof=1) if len(v) > 1 else 0.0 for v in per_step])
        colour = f"C{i % 10}"
        ax.plot(x, means, "-o", color=colour, ms=4, label=labels.get(method, method))
        ax.fill_between(x, means - stds, means + stds, color=colour, alpha=0.15, lw=0)
        for xi, values in zip(x, per_step):
            ax.scatter(np.full(len(values), xi), values, s=6, color=colour, alpha=0.5)
    ax.set_xticks(x, step_names(groups))
    ax.set_xlabel("colours of the normal cones (each step adds one)")
    ax.set_ylabel(f"{metric_label(metric, study.table.percent)} of cube vs cone, mean ± std")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle(f"{study.name}: robustness to colour, a non-semantic factor", fontsize=10)
    seeds = rows["seed"].nunique() if "seed" in rows else 1
    caption = short_budget(rows) + f"; {seeds} seed(s); OE: the other shapes, in the normal colours only"
    return save(fig, folder, "colour_robustness", caption)
