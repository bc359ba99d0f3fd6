"""Study runs side by side, for example the embedded default against a GPU-budget run of the same
study:

    python dashboards/compare.py results/ablation_table4/<run-a> results/ablation_table4/<run-b> -o compare.html

One self-contained HTML page: each run's budget, protocol and deviations next to each other, and
the paper-style table with every run's cell and its difference to the first run. A grid study
compares row by row (Table 4: per arm); a search study compares the trial each run selected.
"""
from __future__ import annotations

import argparse
import string
import sys
from pathlib import Path

import pandas as pd

from adcore.row import Status
from dashboards.metrics import metric_label, metric_name
from dashboards.pages import Cell, esc, is_missing, page, table, write
from dashboards.report import budget_label, status_counts
from dashboards.run import Run


def cells(run: Run) -> tuple[str, pd.DataFrame]:
    """The run's table as numbers, one row per table row: (key name, frame indexed by key with
    each table metric's mean and std in the table's units, and n)."""
    data = run.table()
    metrics = compared_metrics(run)
    if data is None:
        raise FileNotFoundError(f"{run.path}: no table.json; run python dashboards/aggregate.py {run.path}")
    frame = data.frame()
    if run.study.search:  # the trials the search selected (one per arm); metrics already in the table's units
        chosen = frame[frame["selected"] == "yes"].drop_duplicates("trial")  # a chosen trial may be listed twice
        searched = [key for key in run.study.searched if key in chosen]
        shown = lambda value: f"{value:.3g}" if isinstance(value, float) else str(value)  # noqa: E731
        label = [f"{row['trial']} (" + ", ".join(f"{key} {shown(row[key])}" for key in searched if pd.notna(row[key]))
                 + ")" for _, row in chosen.iterrows()]
        out = pd.DataFrame({"selected trial": label, "n": [int((run.trials["status"] == Status.OK).sum())] * len(chosen),
                            **{metric: chosen[metric if metric in chosen else f"{metric}_mean"].to_numpy()
                               for metric in metrics},
                            **{f"{metric}_std": chosen[f"{metric}_std"].to_numpy() for metric in metrics
                               if f"{metric}_std" in chosen}},
                           index=[f"selected {arm}" for arm in chosen["arm"]] if "arm" in chosen else ["selected"])
        return "search", out
    key = frame.columns[0]
    out = frame.set_index(frame[key].astype(str))
    out = out.rename(columns={f"{metric}_mean": metric for metric in metrics})
    return key, out


def compared_metrics(run: Run) -> list[str]:
    """The table's metrics; for a search, the validation metric that selected the trial first."""
    return list(dict.fromkeys([run.study.selection_metric] * bool(run.study.search) + run.study.table.metrics))


def _value(frame: pd.DataFrame, key: str, metric: str) -> tuple[float, float]:
    if key not in frame.index or metric not in frame:
        return float("nan"), float("nan")
    row = frame.loc[key]
    return float(row[metric]), float(row.get(f"{metric}_std", float("nan")))


def _cell(mean: float, std: float) -> Cell:
    if is_missing(mean):
        return Cell("–", cls="num")
    return Cell(f"{mean:.1f}" + ("" if is_missing(std) else f" ± {std:.1f}"), mean, "num")


def _delta(value: float, base: float) -> Cell:
    if is_missing(value) or is_missing(base):
        return Cell("–", cls="num")
    diff = value - base
    return Cell(f"{diff:+.1f}", diff, "num " + ("pos" if diff > 0 else "neg" if diff < 0 else ""))


def _count(frame: pd.DataFrame, key: str) -> Cell:
    n = frame.loc[key, "n"] if key in frame.index else None
    return Cell("–", cls="num") if is_missing(n) else Cell(int(n), n, "num")


def _run_card(letter: str, run: Run, reference: list[str]) -> str:
    """A run's budget, protocol, deviations and run notes; those that differ from run A's are marked."""
    data = run.table()
    notes = [note for note in (data.notes if data else []) if note.kind in COMPARED_NOTES]
    items = "".join(f'<li class="{"dev" if note.kind == "deviation" else ""}'
                    f'{" differs" if letter != "A" and note.text not in reference else ""}">{esc(note.text)}</li>'
                    for note in notes)
    return (f"<section><h3>{letter}: {esc(run.name)} <small>run {esc(run.run_id)}</small></h3>"
            f"<p>budget: <b>{esc(budget_label(run))}</b> · {len(run.trials)} trials: {esc(status_counts(run))} · "
            f"git <code>{esc(run.meta.get('git_commit'))}</code><br><code>{esc(run.path)}</code></p>"
            f'<ul class="notes">{items}</ul></section>')


COMPARED_NOTES = ("budget", "protocol", "deviation", "run")  # what each run card lists


def render(runs: list[Run]) -> str:
    letters = string.ascii_uppercase[:len(runs)]
    tables = [cells(run) for run in runs]
    key_name = tables[0][0]
    if any((name == "search") != (key_name == "search") for name, _ in tables):
        raise ValueError("compare grid studies with grid studies and searches with searches")
    keys = list(dict.fromkeys(key for _, frame in tables for key in frame.index))
    metrics = list(dict.fromkeys(metric for run in runs for metric in compared_metrics(run)))
    percent = runs[0].study.table.percent
    first = tables[0][1]
    searched = key_name == "search"  # each run selected its own trial: name it per run
    labels = [f"selected trial {letter}" for letter in letters] if searched else ["method"] * ("method" in first)
    paper = [column for column in first.columns if str(column).startswith("paper ")]
    header = [key_name, *labels]
    for metric in metrics:
        header += [f"{metric_label(metric, percent)} {letter}" for letter in letters]
        header += [f"Δ {metric_name(metric)} {letter}−A" for letter in letters[1:]]
    header += [f"n {letter}" for letter in letters] + paper
    rows = []
    for key in keys:
        named = [(frame, "selected trial") for _, frame in tables] if searched else [(first, "method")] * len(labels)
        row = [Cell(key), *(Cell(frame.loc[key, column] if key in frame.index else "") for frame, column in named)]
        for metric in metrics:
            values = [_value(frame, key, metric) for _, frame in tables]
            row += [_cell(mean, std) for mean, std in values]
            row += [_delta(mean, values[0][0]) for mean, _ in values[1:]]
        row += [_count(frame, key) for _, frame in tables]
        row += [_cell(first.loc[key, column] if key in first.index else float("nan"), float("nan")) for column in paper]
        rows.append(("", row))
    classes = ["", *[""] * len(labels), *["num"] * (len(header) - 1 - len(labels) - len(paper)), *["paper"] * len(paper)]
    studies = sorted({run.name for run in runs})
    reference = [note.text for note in runs[0].table().notes] if runs[0].table() else []
    body = (f"<header><h1>{esc(' vs '.join(studies))} <small>{len(runs)} runs compared</small></h1>"
            f'<p class="sub">Each cell as its run\'s table has it (mean ± std); Δ = the run minus run A, in the '
            f"table's units{' (percentage points)' if percent else ''}. Notes of a run that differ from run A's "
            "are highlighted.</p></header>"
            '<section id="table"><h2>Table</h2><div class="wide">'
            + table(header, rows, "compare-table", sortable=True, header_classes=classes) + "</div></section>"
            + '<section id="runs"><h2>Runs</h2><div class="runs">'
            + "".join(_run_card(letter, run, reference) for letter, run in zip(letters, runs)) + "</div></section>")
    return page(f"compare {' vs '.join(run.run_id for run in runs)}", body)


def write_compare(run_dirs: list[str | Path], out: str | Path) -> Path:
    return write(Path(out), render([Run.load(path) for path in run_dirs]))


def main(argv: list[str] | None = None, prog: str = "python dashboards/compare.py") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run directories (or study directories: their newest run); "
                                                "the first is the reference")
    parser.add_argument("-o", "--out", default="compare.html", help="the page to write (default: compare.html)")
    args = parser.parse_args(argv)
    if len(args.runs) < 2:
        parser.error("give two or more runs")
    try:
        print(write_compare(args.runs, args.out))
    except (FileNotFoundError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
