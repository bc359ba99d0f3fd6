"""Paper 000's Figure 5: robustness to a minor mode of the normal data (``studies/minor_mode.yaml``).

The normal training data mix a primary class y_a and a secondary class y_b at ratio r (adcore's
``minor_mode`` benchmark). Each trial records the test AUROC of each normal mode against the
anomalies (``test_auroc_primary``, ``test_auroc_secondary``). One panel per pair (y_a, y_b): each
method's secondary AUROC relative to its own value at the largest r (r = 1 in the study) against r,
solid, and the primary AUROC relative the same way, dashed; mean over seeds.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from dashboards.describe import common_value, short_budget
from dashboards.figures.base import FIGURES, finished, pyplot, save, value_labels
from studyspec.schema import Study

RATIO, PRIMARY, SECONDARY = "data.minor_ratio", "data.fold", "data.secondary_class"
MODES = {"test_auroc_secondary": "-", "test_auroc_primary": "--"}  # the paper: primary dashed


def class_name(dataset: str, index: int) -> str:
    """'7 (Sneaker)' for the datasets whose class names are known without loading them."""
    if dataset == "fashion_mnist":
        from adcore.data.sources.fashion_mnist import CLASS_NAMES

        return f"{index} ({CLASS_NAMES[index]})"
    return str(index)


def relative_curves(rows: pd.DataFrame, group_by: str | None) -> dict[tuple, pd.DataFrame]:
    """{(y_a, y_b, method): frame indexed by r with each mode's mean AUROC / its mean at the largest r}."""
    curves = {}
    keys = [PRIMARY, SECONDARY] + ([group_by] if group_by else [])
    for key, group in rows.groupby(keys, sort=False):
        means = group.groupby(RATIO)[list(MODES)].mean().sort_index()
        curves[key if group_by else (*key, "all")] = means / means.iloc[-1]
    return curves


@FIGURES.register("minor_mode")
def minor_mode(study: Study, frame: pd.DataFrame, folder: Path) -> Path | None:
    """Draw the panels; None without the minor-mode columns (another benchmark, or no finished trial)."""
    rows = finished(frame)
    if rows.empty or not {RATIO, PRIMARY, SECONDARY, *MODES} <= set(rows.columns):
        return None
    group_by = study.rows_axis if study.rows_axis in rows else None
    names = value_labels(rows, group_by)
    curves = relative_curves(rows, group_by)
    pairs = list(dict.fromkeys(key[:2] for key in curves))
    found = list(dict.fromkeys(key[2] for key in curves))
    methods = [m for m in study.labels(group_by) if m in found] + [m for m in found if m not in study.labels(group_by)]
    colours = {m: f"C{i % 10}" for i, m in enumerate(methods)}
    plt = pyplot()
    fig, axes = plt.subplots(1, len(pairs), figsize=(max(6.0, 4.2 * len(pairs)), 4.4), squeeze=False, sharey=True)
    dataset = str(common_value(rows, "data.dataset"))
    reference = rows[RATIO].max()
    for ax, pair in zip(axes[0], pairs):
        for method in methods:
            curve = curves.get((*pair, method))
            if curve is None:
                continue
            for column, style in MODES.items():
                ax.plot(curve.index, curve[column], style, marker="o" if style == "-" else None, markersize=3,
                        color=colours[method], label=names.get(str(method), f"{group_by} = {method}")
                        if style == "-" else None)
        ax.set_xscale("symlog", linthresh=_smallest_positive(rows[RATIO]), linscale=0.5)
        ticks = sorted(rows[RATIO].unique())
        ax.set_xticks(ticks, [f"{r:g}" for r in ticks], fontsize=7)
        ax.axhline(1.0, color="gray", lw=0.5)
        ax.set_title(f"y_a = {class_name(dataset, int(pair[0]))}, y_b = {class_name(dataset, int(pair[1]))}",
                     fontsize=9)
        ax.set_xlabel("ratio r of secondary to primary images")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"test AUROC relative to r = {reference:g}")
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], color="gray", ls="--"))
    labels.append("dashed: primary class y_a")
    axes[0][-1].legend(handles, labels, fontsize=7, loc="lower right")
    fig.suptitle(f"{study.name}: AUROC of y_b (solid) and y_a (dashed) against the anomalies", fontsize=10)
    return save(fig, folder, "minor_mode_relative_auroc",
                short_budget(rows) + f"; {common_value(rows, 'data.oe_corpus')} OE; mean over seeds")


def _smallest_positive(values: pd.Series) -> float:
    positive = values[values > 0]
    return float(positive.min()) if len(positive) else 1.0
