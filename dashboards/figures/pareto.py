"""A Pareto search's default figure: every finished searched trial as its validation metric against its
cost (the first two objectives), coloured by arm, the Pareto front joined by a step line, and the
trials the validation metric chose (each arm's best, the ones repeated on further seeds) starred."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from adcore.row import Status
from dashboards.figures.base import FIGURES, pyplot, save, value_labels
from dashboards.metrics import metric_label, metric_scale
from dashboards.pareto import arm_of, chosen, pareto_front, searched
from studyspec.schema import ARM_AXIS, Study


@FIGURES.register("pareto")
def pareto_figure(study: Study, frame: pd.DataFrame, folder: Path) -> Path | None:
    objectives = study.objectives
    if len(objectives) < 2 or not {m for m, _ in objectives} <= set(frame.columns):
        return None
    (y, _), (x, x_mode) = objectives[0], objectives[1]
    trials = searched(frame)
    ok = trials[(trials["status"] == Status.OK) & trials[[x, y]].notna().all(axis=1)]
    if ok.empty:
        return None
    xs, ys = metric_scale(x, study.table.percent), metric_scale(y, study.table.percent)
    on_front = pareto_front(study, ok)
    arms = arm_of(study, ok)
    labels = value_labels(ok, ARM_AXIS)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for arm in dict.fromkeys(arms):
        rows = ok[arms == arm]
        ax.scatter(rows[x] * xs, rows[y] * ys, s=28, alpha=0.75,
                   label=f"{arm}: {labels.get(arm, arm)}" if arm else "trials")
    front = ok[on_front].sort_values(x, ascending=x_mode == "min")
    ax.step(front[x] * xs, front[y] * ys, where="post", color="black", lw=1.2, label=f"Pareto front ({len(front)})")
    picked = ok[ok["trial_id"].astype(str).isin(chosen(study, frame))]
    ax.scatter(picked[x] * xs, picked[y] * ys, marker="*", s=160, c="gold", edgecolors="black", zorder=3,
               label="chosen by " + metric_label(y, study.table.percent).split(" (")[0])
    ax.scatter(front[x] * xs, front[y] * ys, s=90, facecolors="none", edgecolors="black", lw=1.4, zorder=4)
    ax.set_xlabel(metric_label(x, study.table.percent))
    ax.set_ylabel(metric_label(y, study.table.percent))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"{study.name}: {y} ({objectives[0][1]}) against {x} ({x_mode})", fontsize=10)
    caption = (f"{len(ok)} finished searched trials of {len(trials)}; front: not dominated in "
               + ", ".join(f"{m} ({mode})" for m, mode in objectives) + "; the star marks each arm's best by the "
               "validation metric (test metrics never choose).")
    return save(fig, folder, f"pareto_{y}_{x}", caption)
