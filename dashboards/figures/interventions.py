"""Paper 000's Figure 1: detection AUROC under interventions on one ground-truth factor each
(``studies/interventions.yaml``), and the DCI disentanglement the paper reports beside it.

Left: one group of bars per intervention (the grid axis ``data.factors.intervention``, in file order),
one bar per method (the rows axis), the table's first metric as mean ± std over seeds with each seed
as a dot; the paper's numbers (``table.paper.columns`` keyed by the intervention's label, e.g.
DSVDD's 11.7 AUC under colour -> blue) as red diamonds. Right, where the rows hold DCI scores: each
method's DCI disentanglement of its features (mean ± std over interventions and seeds), the paper's
(the paper column ``DCI disentanglement``: 0.068 DSVDD, 0.103 SAD) as red diamonds, and the same
estimate on a random code of the features' shape as a dashed line (its floor at the trials' settings).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dashboards.describe import short_budget
from dashboards.figures.base import FIGURES, pyplot, rows_by_axis, save, value_labels
from dashboards.metrics import metric_label, metric_scale
from studyspec.schema import Study

AXIS = "data.factors.intervention"
DCI = "test_dci_disentanglement"
RANDOM_DCI = "test_dci_disentanglement_random"
PAPER_DCI = "DCI disentanglement"  # the paper column that holds DCI, not the first metric


def intervention_names(rows: pd.DataFrame) -> dict[str, str]:
    """{label: 'color → blue'}: each intervention's factors and values, from the rows' flattened config."""
    prefix = f"{AXIS}."
    names = {}
    for label, group in rows.groupby(AXIS):
        first = group.iloc[0]
        changes = [f"{column[len(prefix):].removeprefix('object_')} → {first[column]}"
                   for column in rows.columns if column.startswith(prefix) and pd.notna(first[column])]
        names[str(label)] = ", ".join(changes) or str(label)
    return names


def _std(values: pd.Series) -> float:
    return values.std(ddof=1) if len(values) > 1 else 0.0


@FIGURES.register("interventions")
def interventions(study: Study, frame: pd.DataFrame, folder: Path) -> Path | None:
    """Draw the panels; None without the intervention axis or a finished trial."""
    found = rows_by_axis(study, frame, AXIS)
    if found is None:
        return None
    rows, methods, metric, order, groups = found
    labels, names = value_labels(rows, methods), intervention_names(rows)
    factor = metric_scale(metric, study.table.percent)
    paper = study.table.paper.columns if study.table.paper else {}
    has_dci = DCI in rows and rows[DCI].notna().any()
    plt = pyplot()
    fig, axes = plt.subplots(1, 2 if has_dci else 1, figsize=(12 if has_dci else 8, 4.4), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 1.3] if has_dci else [1]})
    left = axes[0][0]
    width = 0.8 / len(order)
    for i, method in enumerate(order):
        x = np.arange(len(groups)) + (i - (len(order) - 1) / 2) * width
        per_group = [rows[(rows[methods] == method) & (rows[AXIS] == g)][metric].dropna() * factor for g in groups]
        left.bar(x, [v.mean() for v in per_group], width, yerr=[_std(v) for v in per_group], capsize=2,
                 color=f"C{i % 10}", label=labels.get(method, method))
        for xi, values in zip(x, per_group):
            left.scatter(np.full(len(values), xi), values, s=6, color="black", alpha=0.5, zorder=3)
        published = [paper.get(g, {}).get(method, np.nan) for g in groups]
        left.scatter(x, published, marker="D", s=36, facecolors="none", edgecolors="tab:red", zorder=4,
                     label="paper" if i == 0 else None)
    left.axhline(50.0 if factor == 100 else 0.5, color="gray", ls=":", lw=0.8)
    left.set_xticks(range(len(groups)), [names.get(g, g) for g in groups])
    left.set_xlabel("intervention on the normal object")
    left.set_ylabel(f"{metric_label(metric, study.table.percent)}, mean ± std")
    left.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(order) + 1, frameon=False)
    left.grid(axis="y", alpha=0.3)
    if has_dci:
        right = axes[0][1]
        dci = [rows[rows[methods] == m][DCI].dropna() for m in order]
        right.bar(range(len(order)), [v.mean() for v in dci], 0.6, yerr=[_std(v) for v in dci], capsize=2,
                  color=[f"C{i % 10}" for i in range(len(order))])
        right.scatter(range(len(order)), [paper.get(PAPER_DCI, {}).get(m, np.nan) for m in order], marker="D", s=36,
                      facecolors="none", edgecolors="tab:red", zorder=4)
        floor = rows[RANDOM_DCI].dropna() if RANDOM_DCI in rows else pd.Series(dtype=float)
        if len(floor):  # the same estimate on a random code of the features' shape: what chance reaches
            right.axhline(floor.mean(), color="gray", ls="--", lw=0.8, label=f"random code {floor.mean():.3f}")
            right.legend(fontsize=7, frameon=False)
        right.set_xticks(range(len(order)), [labels.get(m, m) for m in order], rotation=20, fontsize=8)
        right.set_ylabel("DCI disentanglement of the features")
        right.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{study.name}: detecting an intervention on one factor of the normal object", fontsize=10)
    caption = short_budget(rows) + f"; {rows['seed'].nunique() if 'seed' in rows else 1} seed(s)"
    if study.table.paper:
        caption += f"; paper: {study.table.paper.metric}"
    return save(fig, folder, "interventions", caption)
