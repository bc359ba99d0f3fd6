"""Paper 000's Table 6 as a figure: each method's gain over a baseline method, per value of the table's
columns axis (the OE corpus in ``studies/oe_corpus.yaml``), beside the paper's gains.

Left: the table's first metric per column value (x) and row value (bars), mean ± std over the other
axes (the classes). Right: row minus ``table.baseline`` per column value, ours as filled markers and
the paper's (``table.paper.columns``, keyed by row value) as hollow ones at their own x positions.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dashboards.describe import short_budget
from dashboards.figures.base import FIGURES, finished, pyplot, save, value_labels
from dashboards.metrics import metric_label, metric_name, scale
from studyspec.schema import Study


def gain_table(rows: pd.DataFrame, methods: str, groups: str, metric: str, baseline: str) -> pd.DataFrame:
    """(group x method) mean metric minus the baseline method's mean in the same group."""
    means = rows.pivot_table(index=groups, columns=methods, values=metric, aggfunc="mean")
    means.columns = means.columns.astype(str)
    return means.drop(columns=baseline).sub(means[baseline], axis=0)


@FIGURES.register("baseline_gain")
def baseline_gain(study: Study, frame: pd.DataFrame, folder: Path) -> Path | None:
    """Draw both panels; None without a baseline and a columns axis, or without the rows they need."""
    methods, groups, baseline = study.rows_axis, study.table.columns, study.table.baseline
    metric = study.table.metrics[0]
    rows = finished(frame)
    if baseline is None or groups is None or rows.empty or not {methods, groups, metric} <= set(rows.columns):
        return None
    rows = rows.assign(**{methods: rows[methods].astype(str), groups: rows[groups].astype(str)})
    if baseline not in set(rows[methods]):
        return None
    labels = value_labels(rows, methods)
    rows[metric] = rows[metric] * scale(study.table.percent)
    order = [str(v) for v in study.labels(methods) if str(v) in set(rows[methods])]
    group_order = [str(v) for v in study.labels(groups) if str(v) in set(rows[groups])]
    colours = {m: f"C{i % 10}" for i, m in enumerate(order)}
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.3), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / len(order)
    stats = rows.groupby([groups, methods])[metric].agg(["mean", "std"])
    for i, method in enumerate(order):
        means = [stats["mean"].get((g, method), np.nan) for g in group_order]
        stds = [stats["std"].get((g, method), np.nan) for g in group_order]
        left.bar(np.arange(len(group_order)) + (i - (len(order) - 1) / 2) * width, means, width, yerr=stds,
                 capsize=2, color=colours[method], label=labels.get(method, method))
    left.set_xticks(range(len(group_order)), group_order)
    left.set_xlabel(groups)
    left.set_ylabel(f"{metric_label(metric, study.table.percent)}, mean ± std")
    left.set_ylim(bottom=max(0.0, np.nanmin(stats["mean"] - stats["std"].fillna(0)) - 5))
    left.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(order), frameon=False)
    left.grid(axis="y", alpha=0.3)
    gains = gain_table(rows, methods, groups, metric, baseline).reindex(index=group_order)
    paper = study.table.paper.columns if study.table.paper else {}
    names = group_order + [f"paper: {column}" for column in paper]
    for method in [m for m in order if m != baseline]:
        right.plot(range(len(group_order)), gains[method], "o", color=colours[method], ms=7,
                   label=f"{labels.get(method, method)} - {baseline}")
        published = [numbers.get(method, np.nan) - numbers.get(baseline, np.nan) for numbers in paper.values()]
        right.plot(range(len(group_order), len(names)), published, "o", mfc="none", color=colours[method], ms=7)
    right.axhline(0.0, color="gray", lw=0.5)
    right.axvline(len(group_order) - 0.5, color="gray", ls=":", lw=0.8)
    right.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
    right.set_ylabel(f"gain over {baseline} ({metric_name(metric)} points)")
    right.set_title("filled: ours; hollow: the paper", fontsize=8)
    right.legend(fontsize=7)
    right.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{study.name}: {metric_name(metric)} per {groups} and the gain over {baseline}", fontsize=10)
    caption = short_budget(rows)
    if study.table.paper:
        caption += f"; paper: {study.table.paper.metric}"
    return save(fig, folder, f"gain_over_{baseline}", caption)
