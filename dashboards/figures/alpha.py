"""ADIB's alpha (paper 000, eq. 2): the table's first metric against alpha, mean ± std over the other axes
(the folds), with the searched optimum marked (``studies/alpha_sweep.yaml``).

alpha = 0 is eq. (2) without its pull toward theta_0 (SAD with pretrained weights, Fig. 5 of the
paper), so the x axis is symmetric-log: linear between 0 and the smallest positive alpha, log above.
Drawn beside search runs named on the command line (``dashboards/aggregate.py GRID_RUN --compare
SEARCH_RUN``; each a search over ``regularizer.alpha``), the figure marks the trial each search's
validation metric selects (never a test metric), labelled with the search's run id; the marker's
height is that trial's test metric, for the record. A search on another budget than the grid's says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from dashboards.describe import common_value, short_budget
from dashboards.figures.base import COMPARISONS, FIGURES, Compared, finished, pyplot, save
from dashboards.metrics import metric_name, scale, unit
from studyspec.schema import Study

ALPHA = "regularizer.alpha"


@dataclass(frozen=True)
class Optimum:
    """The trial a finished search selected by its validation metric."""

    run_id: str
    alpha: float
    row: pd.Series  # the selected trial's results row
    metric: str  # the validation metric that selected it
    trials: int  # finished trials of the search
    same_budget: bool  # the search ran at the grid's budget


def searched_optima(runs: Sequence[Compared], frame: pd.DataFrame) -> list[Optimum]:
    """The optimum of each named run that searched alpha (runs that did not are left out)."""
    optima: list[Optimum] = []
    for run in runs:
        if ALPHA not in run.study.searched:
            continue
        rows = finished(run.trials)
        if rows.empty or run.study.selection_metric not in rows:
            continue
        best = rows.sort_values(run.study.selection_metric, ascending=run.study.selection_mode == "min",
                                kind="stable").iloc[0]
        optima.append(Optimum(run.run_id, float(best[ALPHA]), best, run.study.selection_metric, len(rows),
                              short_budget(rows) == short_budget(frame)))
    return optima


@FIGURES.register("alpha_curve")
def alpha_curve(study: Study, frame: pd.DataFrame, folder: Path) -> Path | None:
    """Draw the curve; None for a search run or rows without alpha or the metric (e.g. other studies)."""
    return _alpha_curve(study, frame, folder, [])


@COMPARISONS.register("alpha_curve")
def alpha_curve_beside_searches(study: Study, frame: pd.DataFrame, folder: Path,
                                runs: Sequence[Compared]) -> Path | None:
    """The curve with the alpha each named search run selected by its validation metric."""
    return _alpha_curve(study, frame, folder, searched_optima(runs, frame))


def _alpha_curve(study: Study, frame: pd.DataFrame, folder: Path, optima: list[Optimum]) -> Path | None:
    metric = study.table.metrics[0]
    rows = finished(frame)
    if study.search is not None or rows.empty or ALPHA not in rows or metric not in rows:
        return None
    plt = pyplot()
    factor, shown_unit = scale(study.table.percent), unit(study.table.percent)
    fig, ax = plt.subplots(figsize=(7.0, 5.2))
    curves = [(metric, "-", "o", "tab:blue")]
    if metric != "val_ap" and "val_ap" in rows:
        curves.append(("val_ap", "--", ".", "tab:gray"))
    for name, style, marker, colour in curves:
        values = rows.groupby(ALPHA)[name].agg(["mean", "std", "count"]).mul([factor, factor, 1]).sort_index()
        std = values["std"].fillna(0.0)
        label = f"ours: {metric_name(name)}, mean ± std over {int(values['count'].max())} trials per alpha"
        if name == "val_ap":
            label = f"ours: val AP ({common_value(rows, 'val_protocol')}), what a no-peek choice sees"
        ax.plot(values.index, values["mean"], style, marker=marker, color=colour, label=label)
        ax.fill_between(values.index, values["mean"] - std, values["mean"] + std, color=colour, alpha=0.15)
    paper = study.table.paper.columns.items() if study.table.paper and study.rows_axis == ALPHA else []  # by alpha
    for marker, (column, numbers) in zip("s^Dv", paper):
        points = {float(alpha): value for alpha, value in numbers.items()}
        ax.scatter(list(points), list(points.values()), marker=marker, facecolors="none", edgecolors="tab:red",
                   label=f"paper: {column}", zorder=3)
    for i, optimum in enumerate(optima):
        lr = f", lr {optimum.row['optim.lr']:.2g}" if "optim.lr" in optimum.row else ""
        other = "" if optimum.same_budget else ", other budget"
        ax.axvline(optimum.alpha, color="tab:orange", ls=":", lw=1)
        ax.scatter([optimum.alpha], [optimum.row.get(metric, float("nan")) * factor], marker="*", s=180,
                   color="tab:orange", zorder=4, label=None if i else "searched optimum (selected by validation)")
        ax.annotate(f"{optimum.run_id}: alpha {optimum.alpha:.2g}{lr}\nfold {optimum.row.get('data.fold', '?')}, best "
                    f"{metric_name(optimum.metric)} of {optimum.trials} finished{other}",
                    (optimum.alpha, optimum.row.get(metric, float("nan")) * factor), textcoords="offset points",
                    xytext=(6, 8 + 22 * i), fontsize=7, color="tab:orange",
                    bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})
    positive = sorted(a for a in rows[ALPHA].unique() if a > 0)
    ax.set_xscale("symlog", linthresh=positive[0] if positive else 1e-4, linscale=0.5)
    ticks = sorted(rows[ALPHA].unique())
    ax.set_xticks(ticks, ["0\n(SAD)" if a == 0 else f"{a:g}" for a in ticks])
    ax.set_xlabel("alpha (weight of ||theta - theta_0||^2; 0 = no pull)")
    ax.set_ylabel(f"{metric_name(metric).split()[-1]}{shown_unit}")
    ax.set_title(f"{study.name}: {metric_name(metric)} against ADIB's alpha", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    caption = short_budget(rows) + ("; star: the trial each search run named beside this run selected by its "
                                    "validation metric (height: its test value, never used to choose)" if optima else "")
    return save(fig, folder, f"{metric}_vs_alpha", caption)
