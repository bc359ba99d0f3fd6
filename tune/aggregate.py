"""The study's table and figures from its finished results, without training anything:

    python tune/aggregate.py results/<study>/<run-id>

writes ``table.md``, ``table.csv``, ``table.tex`` and ``figures/*.png|svg`` into the run directory
and prints table.md. A grid study's table has one row per value of its rows axis (Table 4: the
arms), mean ± std over the other axes (folds and seeds), the paper's published numbers beside
ours, and the budget, protocol and deviations stated under it. A search study's table ranks its
trials by the validation metric the search used; test metrics are shown, never used to choose.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adcore.presets import ARM_LABELS  # noqa: E402
from tune.describe import budget_text, common_value  # noqa: E402
from tune.figures import FIGURES  # noqa: E402
from tune.results import RunDir, read_trials  # noqa: E402
from tune.study import ARM_AXIS, Study, load_study  # noqa: E402

NAMES = {"test_ap": "test AP", "test_auroc": "test AUROC", "val_ap": "val AP", "val_auroc": "val AUROC",
         "best_val_ap": "best val AP"}


def aggregate(run_dir: str | Path) -> str:
    """Write the table files and figures of a run; return table.md's text."""
    run = RunDir(Path(run_dir).resolve())
    study = load_study(run.study_yaml)
    frame = read_trials(run.trials_csv)
    meta = run.read_meta() if run.run_json.exists() else {}
    table, notes = (search_table if study.search else grid_table)(study, frame)
    table.to_csv(run.path / "table.csv", index=False)
    shown = _shown(study, table)
    title = f"{study.name}" + (f": {study.reproduces}" if study.reproduces else "")
    notes += _run_notes(study, frame, meta)
    markdown = f"## {title}\n\n{_markdown(shown)}\n\n" + "".join(f"- {note}\n" for note in notes)
    (run.path / "table.md").write_text(markdown)
    (run.path / "table.tex").write_text(_latex(shown, title))
    run.figures.mkdir(exist_ok=True)
    (search_figure if study.search else grid_figure)(study, frame, run.figures)
    for name in study.figures:
        FIGURES.get(name)(study, frame, run.figures)
    return markdown


# --- grid studies ------------------------------------------------------------------------------

def grid_table(study: Study, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    axis, across = study.rows_axis, study.table.columns
    ok = frame[frame["status"] == "ok"]
    scale = 100.0 if study.table.percent else 1.0
    first = study.table.metrics[0]
    records = []
    for value in study.labels(axis) or [None]:
        rows = ok[ok[axis].astype(str) == str(value)] if axis else ok
        record: dict[str, Any] = {axis or "rows": value}
        if axis == ARM_AXIS:
            record["method"] = ARM_LABELS.get(str(value), "")
        for column in study.labels(across):  # one cell per value, first metric
            cell = rows[rows[across].astype(str) == str(column)]
            record[f"{_axis_name(across)} {column}"] = _values(cell, first, scale).mean()
        for metric in study.table.metrics:
            values = _values(rows, metric, scale)
            record[f"{metric}_mean"] = values.mean() if len(values) else float("nan")
            record[f"{metric}_std"] = _spread(values, study.table.spread)
        record["n"] = len(rows)
        for column, numbers in (study.table.paper.columns.items() if study.table.paper else []):
            record[f"paper {column}"] = numbers.get(str(value), float("nan"))
        records.append(record)
    table = pd.DataFrame(records)
    gains = _gain_rows(table, axis or "rows", study.table.baseline) if study.table.baseline else None
    if study.table.mean_row and len(table) > 1:
        table = pd.concat([table, _mean_row(table, axis or "rows", study.table.spread)], ignore_index=True)
    if gains is not None:
        table = pd.concat([table, gains], ignore_index=True)
    others = [a for a in study.grid if a != axis]  # the columns axis too: each metric cell pools its values
    over = " × ".join(f"{len(study.grid[a])} {a}" for a in others) or "1 trial"
    unit = " (%)" if study.table.percent else ""
    spread = "SEM (sample std / sqrt(n))" if study.table.spread == "sem" else "std (sample std)"
    notes = [f"Ours: {', '.join(NAMES.get(m, m) for m in study.table.metrics)}{unit}, mean ± {spread} "
             f"over {over} per row; n counts the finished trials (failed ones are left out and listed below)."]
    if across:
        notes.append(f"Columns '{_axis_name(across)} <value>': {NAMES.get(first, first)}{unit} per value of {across}, "
                     f"mean over the other axes.")
    if study.table.mean_row and len(records) > 1:
        notes.append(f"Row 'mean': the mean of the {len(records)} rows above (± the {spread.split(' ')[0]} across "
                     f"them); paper columns averaged the same way where every row has a published number.")
    if study.table.baseline:
        notes.append(f"Rows '<row> - {study.table.baseline}': that row's means minus the {study.table.baseline} row's, "
                     f"ours and the paper's (its gain over {study.table.baseline}); n: the smaller of the two rows' n.")
    if study.table.paper:
        notes.append(f"Paper columns: the published {study.table.paper.metric}"
                     + (f"; paper budget: {study.table.paper.budget}" if study.table.paper.budget else "") + ".")
    return table, notes


def _values(rows: pd.DataFrame, metric: str, scale: float) -> pd.Series:
    return rows[metric].dropna() * scale if metric in rows else pd.Series(dtype=float)


def _spread(values: pd.Series, kind: str) -> float:
    if len(values) < 2:
        return float("nan")
    std = values.std(ddof=1)
    return std / math.sqrt(len(values)) if kind == "sem" else std


def _mean_row(table: pd.DataFrame, label_column: str, kind: str) -> pd.DataFrame:
    """The mean over the rows of every numeric column; the spread columns become the spread across rows."""
    row: dict[str, Any] = {label_column: "mean"}
    for column in table.columns:
        if column == label_column or not pd.api.types.is_numeric_dtype(table[column]):
            continue
        if column.endswith("_std"):
            row[column] = _spread(table[column.removesuffix("_std") + "_mean"].dropna(), kind)
        elif column == "n":
            row[column] = int(table[column].sum())
        elif column.startswith("paper "):
            row[column] = table[column].mean(skipna=False)
        else:
            row[column] = table[column].mean()
    return pd.DataFrame([row])


def _gain_rows(table: pd.DataFrame, label_column: str, baseline: str) -> pd.DataFrame:
    """One row per other row: every mean column minus the baseline row's (spreads left out)."""
    base = table[table[label_column].astype(str) == baseline].iloc[0]
    rows = []
    for _, row in table[table[label_column].astype(str) != baseline].iterrows():
        gain: dict[str, Any] = {label_column: f"{row[label_column]} - {baseline}", "n": min(row["n"], base["n"])}
        for column in table.columns:
            if (column not in (label_column, "n") and not column.endswith("_std")
                    and pd.api.types.is_numeric_dtype(table[column])):
                gain[column] = row[column] - base[column]
        rows.append(gain)
    return pd.DataFrame(rows)


def _axis_name(axis: str) -> str:
    return axis.split(".")[-1]


def grid_figure(study: Study, frame: pd.DataFrame, folder: Path) -> None:
    """The first table metric per row value: one point per trial (fold/seed), mean ± std, paper."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axis, metric = study.rows_axis, study.table.metrics[0]
    values = study.labels(axis) or [None]
    ok = frame[frame["status"] == "ok"]
    scale = 100.0 if study.table.percent else 1.0
    fig, ax = plt.subplots(figsize=(1.1 * len(values) + 3, 4))
    colour_by = next((a for a in study.grid if a != axis and len(study.grid[a]) > 1), None)
    colours = {v: plt.cm.tab10(i % 10) for i, v in enumerate(study.labels(colour_by))}
    for x, value in enumerate(values):
        rows = ok[ok[axis].astype(str) == str(value)] if axis else ok
        ys = rows[metric] * scale if metric in rows else pd.Series(dtype=float)
        jitter = [(i / max(1, len(ys) - 1) - 0.5) * 0.3 for i in range(len(ys))]
        ax.scatter([x - 0.1 + j for j in jitter], ys, s=14, alpha=0.8, zorder=2,
                   c=[colours.get(v, "tab:blue") for v in (rows[colour_by] if colour_by else [None] * len(ys))])
        if len(ys):
            ax.errorbar(x + 0.15, ys.mean(), yerr=ys.std(ddof=1) if len(ys) > 1 else 0, fmt="o", color="black",
                        capsize=4, zorder=3, label="ours: mean ± std" if x == 0 else None)
    for marker, (column, numbers) in zip("s^Dv", (study.table.paper.columns.items() if study.table.paper else [])):
        ax.scatter([x + 0.3 for x in range(len(values))], [numbers.get(str(v), float("nan")) for v in values],
                   marker=marker, facecolors="none", edgecolors="tab:red", label=f"paper: {column}", zorder=3)
    ax.set_xticks(range(len(values)), [str(v) for v in values])
    ax.set_xlabel(axis or "")
    ax.set_ylabel(f"{NAMES.get(metric, metric)}{' (%)' if study.table.percent else ''}")
    ax.set_title(f"{study.name}: {NAMES.get(metric, metric)} per {axis}" + (f", points = {colour_by}" if colour_by else ""),
                 fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.add_artist(ax.legend(fontsize=8, loc="upper left"))
    if colour_by and len(colours) <= 10:  # which colour is which fold (or seed)
        handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=f"{colour_by.split('.')[-1]} {v}")
                   for v, c in colours.items()]
        ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=len(handles),
                  handletextpad=0.1, columnspacing=0.8, frameon=False)
    fig.tight_layout()
    for suffix in ("png", "svg"):
        fig.savefig(folder / f"{metric}_by_{axis or 'trial'}.{suffix}", dpi=150, bbox_inches="tight")
    plt.close(fig)


# --- search studies ----------------------------------------------------------------------------

def search_table(study: Study, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    assert study.search is not None
    keys = list(study.search.space)
    scale = 100.0 if study.table.percent else 1.0
    ranked = frame.sort_values(study.metric, ascending=study.mode == "min", na_position="last", kind="stable")
    ok = ranked[ranked["status"] == "ok"]
    chosen = ok["trial"].iloc[0] if len(ok) else None
    records = []
    for _, row in ranked.iterrows():
        record: dict[str, Any] = {"trial": row["trial"], **{key: _short(row.get(key)) for key in keys}}
        for metric in dict.fromkeys([study.metric, *study.table.metrics]):
            record[metric] = row.get(metric, float("nan")) * scale
        record.update(epochs=row.get("epochs_run"), status=row["status"], selected="yes" if row["trial"] == chosen else "")
        records.append(record)
    stopped = int((frame["status"] == "stopped_early").sum())
    scheduler = study.scheduler
    notes = [f"Trials ranked by final {NAMES.get(study.metric, study.metric)} ({study.mode}); the selected trial is the "
             f"best finished one by that validation metric. Test metrics are recorded, never used to choose.",
             f"Search: Optuna {study.search.algorithm} (seed {study.search.seed}), {study.search.num_samples} trials over "
             + ", ".join(keys) + f"; scheduler {scheduler.name}"
             + (f" (grace {scheduler.grace_period} epochs), {stopped} trial(s) stopped early"
                if scheduler.name != "fifo" else "")
             + "."]
    if study.table.paper:
        notes.append(f"Paper: {study.table.paper.metric}; {study.table.paper.budget}")
    return pd.DataFrame(records), notes


def search_figure(study: Study, frame: pd.DataFrame, folder: Path) -> None:
    """The validation metric against each searched key; finished vs stopped; the selected trial."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assert study.search is not None
    keys = list(study.search.space)
    scale = 100.0 if study.table.percent else 1.0
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.6), squeeze=False)
    ok = frame[frame["status"] == "ok"].sort_values(study.metric, ascending=study.mode == "min")
    for ax, key in zip(axes[0], keys):
        styles = {"ok": dict(c="tab:blue", label="finished"),
                  "stopped_early": dict(c="tab:gray", marker="x", label="stopped early")}
        for status, style in styles.items():
            rows = frame[frame["status"] == status]
            if len(rows):
                ax.scatter(rows[key], rows[study.metric] * scale, **style)
        if len(ok):
            ax.scatter(ok[key].iloc[:1], ok[study.metric].iloc[:1] * scale, marker="*", s=200, c="tab:orange",
                       label="selected")
        spec = study.search.space[key]
        values = frame[key].dropna()
        if spec.type == "loguniform" or (spec.type is None and values.min() > 0 and values.max() / values.min() > 50):
            ax.set_xscale("log")
        ax.set_xlabel(key)
        ax.set_ylabel(f"{NAMES.get(study.metric, study.metric)}{' (%)' if study.table.percent else ''}")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{study.name}: search", fontsize=10)
    fig.tight_layout()
    for suffix in ("png", "svg"):
        fig.savefig(folder / f"search_{study.metric}.{suffix}", dpi=150)
    plt.close(fig)


# --- shared ----------------------------------------------------------------------------------------

def _shown(study: Study, table: pd.DataFrame) -> pd.DataFrame:
    """The printed table: 'mean ± std' cells, one decimal."""
    shown = pd.DataFrame()
    for column in table.columns:
        if column.endswith("_std"):
            continue
        if column.endswith("_mean"):
            metric = column.removesuffix("_mean")
            name = NAMES.get(metric, metric) + (" (%)" if study.table.percent else "")
            shown[name] = [_pm(m, s) for m, s in zip(table[column], table[f"{metric}_std"])]
        elif pd.api.types.is_float_dtype(table[column]):
            shown[NAMES.get(column, column)] = [_num(v) for v in table[column]]
        else:
            shown[column] = table[column].map(lambda v: "" if pd.isna(v) else str(v))
    return shown


def _short(value: Any) -> Any:
    """Searched values to three significant digits (categorical ones as they are)."""
    return float(f"{value:.3g}") if isinstance(value, float) else value


def _num(value: float) -> str:
    if pd.isna(value):
        return "–"
    return f"{value:.3g}" if abs(value) < 0.1 else f"{value:.1f}"


def _pm(mean: float, std: float) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.1f}" if pd.isna(std) else f"{mean:.1f} ± {std:.1f}"


def _markdown(shown: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "|".join("---" for _ in shown.columns) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines)


def _latex(shown: pd.DataFrame, caption: str) -> str:
    def esc(text: Any) -> str:
        text = str(text)
        for char, repl in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#"),
                           ("±", r"$\pm$"), ("–", "--")):
            text = text.replace(char, repl)
        return text

    body = [" & ".join(esc(v) for v in row) + r" \\" for row in shown.itertuples(index=False)]
    return "\n".join([r"\begin{table}[t]", r"\centering", rf"\caption{{{esc(caption)}}}",
                      r"\begin{tabular}{" + "l" * len(shown.columns) + "}", r"\toprule",
                      " & ".join(esc(c) for c in shown.columns) + r" \\", r"\midrule", *body,
                      r"\bottomrule", r"\end{tabular}", r"\end{table}", ""])


def _run_notes(study: Study, frame: pd.DataFrame, meta: dict[str, Any]) -> list[str]:
    counts = frame["status"].value_counts().to_dict() if len(frame) else {}
    c = lambda column: common_value(frame, column)  # noqa: E731
    notes = [f"Budget: {budget_text(frame, set(study.search.space) if study.search else set())}.",
             f"Protocol: AP = {c('ap_definition')}; evaluated checkpoint: {c('checkpoint')}; "
             f"validation protocol: {c('val_protocol')} (never the test anomaly class)."]
    notes += [f"Deviation: {d}" for d in study.table.deviations]
    timing = f"; study wall time {meta['wall_s']:.0f} s" if meta.get("wall_s") else ""
    if timing and "total_s" in frame:
        timing += f" for {frame['total_s'].sum():.0f} s of trial time ({meta.get('workers', '?')} at a time)"
    notes.append(f"Run: {len(frame)} trials ({', '.join(f'{n} {s}' for s, n in counts.items())}); "
                 f"device {c('device')}, node {c('node')}, torch {c('torch_version')}; "
                 f"git {meta.get('git_commit', c('git_commit'))}{timing}"
                 + (f"; applied {' '.join(study.applied)}" if study.applied else "") + ".")
    failed = frame[frame["status"].isin(["failed", "error"])] if len(frame) else frame
    for message, group in (failed.groupby("message") if len(failed) else []):
        notes.append(f"{len(group)} trial(s) failed: {message}")
    return notes


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="results/<study>/<run-id> of a finished (or interrupted) run")
    args = parser.parse_args(argv)
    print(aggregate(args.run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
