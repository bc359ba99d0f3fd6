"""The report's own figures, drawn with matplotlib into SVG (fonts as paths, so the page needs no
font): learning curves per arm (per trial in a search) and when and where the trials ran."""
from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # drawn without a display, in the driver at the end of a study
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from adcore.row import EPOCH_METRICS, Status  # noqa: E402
from dashboards.metrics import metric_label  # noqa: E402

STATUS_COLOURS = {Status.OK: "tab:blue", Status.FAILED: "tab:red", Status.ERROR: "tab:red",
                  Status.STOPPED_EARLY: "tab:gray", Status.UNFINISHED: "tab:orange"}


def svg(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def learning_curves(history: pd.DataFrame, group_of: dict[str, str], order: list[str], scale: float,
                    title: str) -> bytes | None:
    """One panel per metric, epochs on x; per group (an arm, or a search trial) the mean over its
    trials, with a band of ± one sample std where it has several."""
    frame = history.assign(group=history["trial_id"].map(group_of)).dropna(subset=["group"])
    metrics = [metric for metric in EPOCH_METRICS if frame[metric].notna().any()]
    if frame.empty or not metrics:
        return None
    colours = plt.cm.tab10 if len(order) <= 10 else plt.cm.tab20
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.4 * len(metrics), 3.3), squeeze=False, layout="constrained")
    for ax, metric in zip(axes[0], metrics):
        factor = 1.0 if metric == "train_loss" else scale
        stats = frame.groupby(["group", "epoch"])[metric].agg(["mean", "std"]) * factor
        for index, group in enumerate(order):
            if group not in stats.index.get_level_values(0):
                continue
            curve = stats.loc[group]
            colour = colours(index % colours.N)
            ax.plot(curve.index, curve["mean"], marker="o", ms=3, lw=1.5, color=colour, label=group)
            ax.fill_between(curve.index, curve["mean"] - curve["std"], curve["mean"] + curve["std"], color=colour,
                            alpha=0.07, lw=0)
        ax.set_xlabel("epoch")
        ax.set_title(metric_label(metric, factor == 100.0), fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    return svg(fig)


def timeline(placement: pd.DataFrame, resumes: list[float]) -> bytes | None:
    """A bar per trial from its start to its end, one lane per node and worker process, coloured
    by status; dashed lines where the study was resumed."""
    frame = placement.dropna(subset=["start_s", "end_s"])
    if frame.empty:
        return None
    # a trial the driver ended (stopped early, lost) may have no node or worker: its lane says "?"
    node = frame["node"].map(lambda n: "?" if pd.isna(n) else str(n))
    lane = node + "  pid " + frame["worker_pid"].map(lambda p: "?" if pd.isna(p) else f"{p:.0f}")
    lanes = sorted(lane.unique())
    fig, ax = plt.subplots(figsize=(11, 0.32 * len(lanes) + 1.3))
    ax.barh([lanes.index(name) for name in lane], frame["end_s"] - frame["start_s"], left=frame["start_s"],
            color=[STATUS_COLOURS.get(status, "tab:purple") for status in frame["status"]], edgecolor="white",
            height=0.7)
    for at in resumes:
        ax.axvline(at, color="black", ls="--", lw=1)
    ax.set_xlim(left=0)  # the gap before a trial's first bar is its queue
    ax.set_yticks(range(len(lanes)), lanes, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the study started" + (" (dashed: resumed)" if resumes else ""))
    shown = dict.fromkeys(frame["status"])
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=STATUS_COLOURS.get(s, "tab:purple"), label=s) for s in shown],
              fontsize=8, loc="lower right", bbox_to_anchor=(1, 1), ncol=len(shown), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return svg(fig)
