"""Figures of dashboards/stat_tests.py's results: each row's paired difference to the reference with
its intervals, and Demšar's critical-difference diagram. Functions take results and return a
matplotlib Figure; saving (PNG, SVG) is the caller's."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # drawn without a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from dashboards.stat_tests import FriedmanResult, PairedDifference  # noqa: E402

RESOLVED, UNRESOLVED = "tab:blue", "0.5"


def _p(p: float) -> str:
    return "p –" if math.isnan(p) else "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def interval_plot(differences: list[PairedDifference], unit_label: str, metric_label: str) -> Figure:
    """One line per row, top to bottom in the given order: the mean difference to the reference over
    units (a dot, filled where the difference is marked), the bootstrap interval (thick bar), the t
    interval (thin line) and the t interval widened for the rows compared, which the mark reads (dotted,
    with end ticks); units and Holm's p on the right."""
    if not differences:
        raise ValueError("no differences to draw")
    references = {d.reference for d in differences}
    if len(references) > 1:
        raise ValueError(f"one reference per figure, got {sorted(references)}")
    first = differences[0]
    reference, level, widened = first.reference, f"{first.confidence:.0%}", f"{first.marked_confidence:.1%}"
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(differences) + 1.6), layout="constrained")
    for y, d in enumerate(differences):
        colour = RESOLVED if d.resolved else UNRESOLVED
        ax.hlines(y, d.marked_t_low, d.marked_t_high, lw=1, color=colour, ls=":")
        ax.plot([d.marked_t_low, d.marked_t_high], [y, y], "|", ms=8, color=colour)
        ax.hlines(y, d.boot_low, d.boot_high, lw=7, color=colour, alpha=0.35)
        ax.hlines(y, d.t_low, d.t_high, lw=1.5, color=colour)
        ax.plot(d.mean, y, "o", ms=7, mew=1.5, mec=colour, mfc=colour if d.resolved else "white")
    ax.axvline(0, color="black", lw=0.8)
    ys = range(len(differences))
    ax.set_yticks(ys, [d.row for d in differences])
    ax.set_ylim(len(differences) - 0.5, -0.5)  # first row on top
    right = ax.secondary_yaxis("right")
    right.set_yticks(ys, [f"n={d.n}  Holm {_p(d.p_holm)}" for d in differences], fontsize=8)
    right.tick_params(length=0)
    ax.set_xlabel(f"{metric_label}: row − {reference}, paired over {unit_label}")
    ax.grid(axis="x", alpha=0.3)
    legend = [Line2D([], [], color=UNRESOLVED, lw=7, alpha=0.35, label=f"{level} bootstrap"),
              Line2D([], [], color=UNRESOLVED, lw=1.5, label=f"{level} t"),
              Line2D([], [], color=UNRESOLVED, lw=1, ls=":", marker="|", label=f"{widened} t ({len(differences)} rows)"),
              Line2D([], [], color=RESOLVED, marker="o", ls="", label="marked (*)"),
              Line2D([], [], color=UNRESOLVED, marker="o", ls="", mfc="white", label="not marked")]
    fig.legend(handles=legend, loc="outside upper center", ncol=5, fontsize=7, frameon=False)
    return fig


def cd_diagram(result: FriedmanResult, metric_label: str) -> Figure:
    """Demšar's (2006, Fig. 1) critical-difference diagram: the mean-rank axis with rank 1 (best) on
    the left, each row on a leader line (the better half to the left, the rest to the right), the
    CD above the axis, and, only where Friedman's test rejects, thick bars joining rows whose mean
    ranks lie within CD of each other (``result.groups`` is empty otherwise).

    Drawn in inches (x from the left end of the axis, y downwards from the top), so text keeps its
    size whatever k is."""
    k = len(result.rows)
    if k < 2 or any(math.isnan(rank) for rank in result.mean_ranks):
        raise ValueError(f"nothing to rank: {k} rows over {result.n} complete units")
    ranked = sorted(zip(result.mean_ranks, result.rows))
    labels = [f"{name} ({rank:.2f})" for rank, name in ranked]
    label_w = 0.075 * max(map(len, labels)) + 0.4  # 9-pt text
    axis_w = max(3.5, 0.6 * (k - 1))
    axis_y, group_y = 1.0, 1.15
    label_y = group_y + 0.12 * len(result.groups) + 0.2
    left = math.ceil(k / 2)
    height = label_y + 0.25 * (left - 1) + 0.3
    fig = plt.figure(figsize=(axis_w + 2 * label_w, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-label_w, axis_w + label_w)
    ax.set_ylim(height, 0)
    ax.set_axis_off()

    def x(rank: float) -> float:
        return (rank - 1) / (k - 1) * axis_w

    ax.hlines(axis_y, 0, axis_w, color="black", lw=1)
    for tick in range(1, k + 1):
        ax.vlines(x(tick), axis_y - 0.08, axis_y, color="black", lw=1)
        ax.text(x(tick), axis_y - 0.11, str(tick), ha="center", va="bottom", fontsize=9)
    if math.isfinite(result.cd):
        ends = (x(1), x(1 + result.cd))
        ax.hlines(0.6, *ends, color="black", lw=1.5)
        ax.vlines(ends, 0.55, 0.65, color="black", lw=1.5)
        ax.text(ends[0], 0.52, f"CD = {result.cd:.2f}", ha="left", va="bottom", fontsize=9)
    for level, group in enumerate(result.groups):
        ranks = [rank for rank, name in ranked if name in group]
        ax.hlines(group_y + 0.12 * level, x(min(ranks)) - 0.05, x(max(ranks)) + 0.05, color="black", lw=3.5)
    for i, ((rank, _), label) in enumerate(zip(ranked, labels)):
        on_left = i < left
        y = label_y + 0.25 * (i if on_left else k - 1 - i)  # the best and the worst nearest the axis
        end = -0.1 if on_left else axis_w + 0.1
        ax.plot([x(rank), x(rank), end], [axis_y, y, y], color="black", lw=0.8)
        ax.text(end - 0.05 if on_left else end + 0.05, y, label, ha="right" if on_left else "left",
                va="center", fontsize=9)
    if not math.isfinite(result.p):
        tested = f"Friedman not given: {result.note}"
    elif result.p < result.alpha:
        tested = f"Friedman {_p(result.p)}"
    else:
        tested = f"Friedman {_p(result.p)}, no groups drawn"
    fig.suptitle(f"{metric_label}: mean rank over {result.n} units "
                 f"(1 = best); {tested}", fontsize=10, y=1 - 0.12 / height, va="top")
    return fig
