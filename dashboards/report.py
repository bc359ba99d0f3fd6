"""The HTML report of a study run: one self-contained file, ``<run dir>/report.html``.

    python dashboards/report.py results/ablation_table4/<run-id>
    python dashboards/report.py results/ablation_table4          # the newest run of the study

tune/run_study.py writes it at the end of every study. It opens from disk with no server and no
web access and shows, top to bottom: the paper-style table beside the paper's numbers with the
budget, protocol and deviations under it; every figure of the study; learning curves per arm;
every trial (sortable, filterable); which node ran each trial and how long it queued; and the
command, commit and MLflow runs behind it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from adcore.row import Status
from dashboards import plots
from dashboards.metrics import is_fraction, metric_label, metric_name, scale
from dashboards.pages import Cell, esc, image, image_file, is_missing, number, page, table, write
from dashboards.run import Run
from studyspec.layout import STUDY_YAML

REPORT = "report.html"
TRIAL_METRICS = ("val_ap", "val_auroc", "test_ap", "test_auroc")  # the trial list's metric columns, with best_*
SECTIONS = {"table": "Table", "figures": "Figures", "curves": "Learning curves", "trials": "Trials",
            "placement": "Where trials ran", "provenance": "Command and commit"}


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` into the run directory; return its path."""
    run = Run.load(run_dir)
    return write(run.path / REPORT, render(run))


def render(run: Run) -> str:
    placement = run.placement()
    body = [_header(run), _table_section(run), _figures_section(run), _curves_section(run),
            _trials_section(run, placement), _placement_section(run, placement), _provenance_section(run)]
    return page(f"{run.name} · {run.run_id}", "\n".join(body))


def status_counts(run: Run) -> str:
    counts = run.trials["status"].value_counts()
    return ", ".join(f"{n} {status}" for status, n in counts.items()) or "no trial ended"


def budget_label(run: Run) -> str:
    return " ".join(run.study.applied) or "as in the study file (embedded default)"


def selected_trial(run: Run) -> str | None:
    """The trial a search selects (by its validation metric; the table marks it)."""
    data = run.table()
    if not run.study.search or data is None:
        return None
    chosen = [record["trial"] for record in data.records if record.get("selected") == "yes"]
    return str(chosen[0]) if chosen else None


def _section(key: str, content: str) -> str:
    return f'<section id="{key}"><h2>{SECTIONS[key]}</h2>\n{content}\n</section>'


def _header(run: Run) -> str:
    meta = run.meta
    trouble = run.trials["status"].map(lambda status: Status(status).trouble).any()
    chips = [(f"{len(run.trials)} trials: {status_counts(run)}", trouble),
             (f"budget: {budget_label(run)}", bool(run.study.applied)),
             (f"wall time {meta.get('wall_s', 0) / 60:.1f} min, {meta.get('workers', '?')} trials at a time", False),
             (f"git {meta.get('git_commit', '?')}", str(meta.get("git_commit", "")).endswith("-dirty")),
             (f"started {time.strftime('%Y-%m-%d %H:%M', time.localtime(meta['started_at']))}", False)]
    nodes = run.trials["node"].nunique() if "node" in run.trials else 0
    if nodes:
        chips.append((f"{nodes} node{'s' if nodes > 1 else ''}", False))
    items = "".join(f'<li class="warn">{esc(text)}</li>' if warn else f"<li>{esc(text)}</li>" for text, warn in chips)
    nav = "".join(f'<a href="#{key}">{title}</a>' for key, title in SECTIONS.items())
    return (f"<header><h1>{esc(run.name)} <small>run {esc(run.run_id)}</small></h1>"
            f'<p class="sub">{esc(run.study.reproduces or run.study.description)}</p>'
            f'<ul class="chips">{items}</ul><nav>{nav}</nav></header>')


def _table_cell(text: str, head: str) -> Cell:
    """A printed cell: numbers ('15.1 ± 15.2' sorts by 15.1) right-aligned, the paper's columns shaded."""
    try:
        value: float | None = float(text.split(maxsplit=1)[0])
    except (ValueError, IndexError):
        value = None
    classes = ["num"] * (value is not None) + ["paper"] * head.startswith("paper ")
    return Cell(text, value, " ".join(classes))


NOTE_CLASSES = {"deviation": "dev", "failed": "fail"}
ROW_CLASSES = {"selected": "sel", "mean": "mean", "gain": "gain"}


def _table_section(run: Run) -> str:
    data = run.table()
    if data is None:
        return _section("table", f"<p>No table yet: <code>python dashboards/aggregate.py {esc(run.path)}</code></p>")
    rows = [(ROW_CLASSES.get(kind, ""), [_table_cell(text, head) for text, head in zip(cells, data.header)])
            for cells, kind in zip(data.cells, data.row_kinds)]
    classes = ["paper" if head.startswith("paper ") else "" for head in data.header]
    notes = "".join(f'<li class="{NOTE_CLASSES.get(note.kind, "")}">{esc(note.text)}</li>' for note in data.notes)
    return _section("table", table(data.header, rows, "paper-table", sortable=True, header_classes=classes)
                             + f'<ul class="notes">{notes}</ul>')


def _figures_section(run: Run) -> str:
    figures = run.figures()
    return _section("figures", "".join(image_file(path) for path in figures) or "<p>No figures in figures/.</p>")


def _curves_section(run: Run) -> str:
    history = run.history()
    study = run.study
    if study.search:
        data = run.table()
        order = list(dict.fromkeys([str(record["trial"]) for record in data.records if record.get("trial")]
                                   if data is not None else sorted(run.trials["trial_id"].astype(str))))
        group_of = {trial: trial for trial in order}
        title, per = f"{run.name}: per trial, ranked by {metric_name(study.selection_metric)}", "trial"
    else:
        axis = study.rows_axis
        order = [str(v) for v in study.labels(axis)]
        group_of = (dict(zip(run.trials["trial_id"].astype(str), run.trials[axis].astype(str)))
                    if axis in run.trials else {})
        title, per = f"{run.name}: mean per {axis} over its trials, band ± 1 std", axis
    drawn = plots.learning_curves(history, group_of, order, scale(study.table.percent), title)
    if drawn is None:
        return _section("curves", "<p>No per-epoch results in epochs/ (each trial's reports).</p>")
    caption = (f"Per {per}: the metrics every trial reports once per epoch, read from the run directory's "
               "epochs/&lt;trial_id&gt;.jsonl (kept across retries and resumes; the latest report of an epoch "
               "counts). Test metrics are computed once, after the last epoch.")
    return _section("curves", image(drawn, "image/svg+xml", "learning curves") + f'<p class="sub">{caption}</p>')


def _trial_columns(run: Run) -> list[tuple[str, str]]:
    """(column, header) of the trial list: labels, searched keys, metrics, where and how long."""
    study = run.study
    metrics = [*TRIAL_METRICS, f"best_{study.selection_metric}"]
    columns = [("trial_id", "trial"), ("status", "status"), *((a, a) for a in study.grid),
               *((key, key) for key in study.searched), *((m, metric_label(m, study.table.percent)) for m in metrics),
               ("best_val_epoch", "best val epoch"), ("epochs_run", "epochs"), ("node", "node"),
               ("queued_s", "queued (s)"), ("wall_s", "wall (s)"), ("resumed_from_epoch", "resumed from epoch"),
               ("message", "message"), ("mlflow_run_id", "MLflow run")]
    return [(column, head) for column, head in columns if column in run.trials or column == "queued_s"]


def _trial_cell(run: Run, column: str, value: object) -> Cell:
    if is_fraction(column):
        return number(value, scale(run.study.table.percent))
    if column in ("queued_s", "wall_s"):
        return number(value)
    if column in run.study.searched and isinstance(value, float) and not is_missing(value):
        return Cell(f"{value:.3g}", value, "num")
    if isinstance(value, float) and not is_missing(value) and value.is_integer():
        return Cell(int(value), value, "num")
    return Cell("" if is_missing(value) else value, cls={"mlflow_run_id": "mono", "message": "msg"}.get(column, ""))


def _trials_section(run: Run, placement: pd.DataFrame) -> str:
    frame = run.trials.merge(placement[["trial_id", "queued_s"]], on="trial_id", how="left")
    columns = _trial_columns(run)
    chosen = selected_trial(run)
    rows = [(" ".join(filter(None, [str(row["status"]), "sel" if row["trial_id"] == chosen else ""])),
             [_trial_cell(run, column, row.get(column)) for column, _ in columns]) for _, row in frame.iterrows()]
    classes = ["num" if is_fraction(column) or column in ("queued_s", "wall_s") else "" for column, _ in columns]
    hint = "filter: every word must appear in the row, e.g. <code>a6 ok</code>; click a header to sort"
    return _section("trials", f'<div class="filter"><input type="search" data-filter="trial-table" '
                              f'placeholder="filter trials" aria-label="filter trials"> '
                              f'<span data-count="trial-table"></span> trials · {hint}</div>'
                              f'<div class="scroll">{table([h for _, h in columns], rows, "trial-table", True, classes)}</div>')


def _placement_section(run: Run, placement: pd.DataFrame) -> str:
    frame = placement.merge(run.trials[["trial_id", "wall_s"]] if "wall_s" in run.trials else run.trials[["trial_id"]],
                            on="trial_id", how="left")
    rows = []
    for node, group in frame.groupby(frame["node"].fillna("(not recorded)").astype(str)):
        ray_ids = ", ".join(sorted(str(i)[:12] for i in group["ray_node_id"].dropna().unique()))
        rows.append(("", [Cell(node), Cell(ray_ids, cls="mono"), number(len(group), digits=0),
                          number((group["status"] == Status.OK).sum(), digits=0),
                          number(group["wall_s"].sum() if "wall_s" in group else None),
                          number(group["queued_s"].median()), number(group["queued_s"].max())]))
    header = ["node", "Ray node", "trials", "ok", "trial time (s)", "median queued (s)", "max queued (s)"]
    origin = run.sessions()[0].get("fit_started_at") or 0
    resumes = [float(s["fit_started_at"]) - origin for s in run.sessions()[1:] if s.get("fit_started_at")]
    drawn = plots.timeline(placement, resumes)
    note = ("Queued: from the start of the session that ran the trial (Tune's start, or its --resume) until the "
            "trial started on its node; a grid study queues every trial at the start, so the last ones wait "
            "longest. Start and end come from the node's clock, the session start from the driver's.")
    return _section("placement", table(header, rows, "node-table", header_classes=["", "", *["num"] * 5])
                    + (image(drawn, "image/svg+xml", "trials over time per node and worker process") if drawn else "")
                    + f'<p class="sub">{note}</p>')


def _provenance_section(run: Run) -> str:
    meta, tracking = run.meta, run.meta.get("tracking", {})
    items = []
    for index, session in enumerate(run.sessions()):
        command = session.get("command") or "not recorded (the run predates command recording)"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(session["fit_started_at"])) if session.get(
            "fit_started_at") else ""
        items.append(("command" if index == 0 else "resumed with", f"<code>{esc(command)}</code> {esc(when)}"))
    results = run.path.parent
    items += [("git commit", f"<code>{esc(meta.get('git_commit'))}</code>"),
              ("run directory", f"<code>{esc(run.path)}</code>"),
              ("MLflow", f"experiment {esc(tracking.get('experiment_id'))}, parent run "
                         f"<code>{esc(tracking.get('parent_run_id'))}</code> in <code>{esc(tracking.get('uri'))}</code>; "
                         f"open it: <code>python dashboards/serve.py mlflow {esc(results)}</code>")]
    if run.study.search:
        items.append(("Optuna", f"<code>python dashboards/serve.py optuna {esc(run.path)}</code>"))
    listing = "".join(f"<dt>{esc(key)}</dt><dd>{value}</dd>" for key, value in items)
    study_yaml = (run.path / STUDY_YAML).read_text()
    return _section("provenance", f"<dl>{listing}</dl><details><summary>study.yaml as run</summary>"
                                  f"<pre>{esc(study_yaml)}</pre></details>")


def main(argv: list[str] | None = None, prog: str = "python dashboards/report.py") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="results/<study>/<run-id>, or results/<study> for its newest run")
    args = parser.parse_args(argv)
    try:
        print(write_report(args.run_dir))
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
