"""A study's table as data, built once from the saved study, the trials frame and the run's meta.

A grid study's table has one row per value of its rows axis (Table 4: the arms), mean ± std over
the other axes (folds and seeds), the paper's published numbers beside ours, and the budget,
protocol and deviations stated under it. A search study's table ranks its trials by the
validation metric the search used, or lists its Pareto front (several objectives) and each arm's
best with the repeats' paired statistics (``search.repeat_best``); test metrics are shown, never
used to choose. The Table is
saved as ``table.json`` and every format (markdown, CSV, LaTeX, the HTML report) is rendered from
it (``dashboards/table_formats.py``), so the numbers are computed in one place.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from adcore.row import Status
from dashboards.describe import budget_text, common_value
from dashboards.figures.base import value_labels
from dashboards.metrics import metric_label, metric_name, metric_scale, unit
from dashboards.pareto import REPEAT_OF, chosen, pareto_front, repeats, searched
from dashboards.significance import delta_columns, notes as significance_notes, significance
from studyspec.schema import ARM_AXIS, Study

TABLE_JSON = "table.json"


@dataclass(frozen=True)
class Note:
    """A sentence under the table; ``kind`` says what it is about (budget, protocol, deviation, run,
    failed, paper, ...), so readers pick notes by kind, never by parsing text."""

    kind: str
    text: str


@dataclass
class Table:
    """title; ``records``: one dict of numbers (and labels) per row, what table.csv holds; ``header``
    and ``cells``: the printed table ('mean ± std', one decimal); ``row_kinds``: '' or 'selected',
    'mean', 'gain'; ``notes``."""

    title: str
    records: list[dict[str, Any]]
    header: list[str]
    cells: list[list[str]]
    row_kinds: list[str]
    notes: list[Note] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """The numbers, missing ones (null in table.json) as NaN."""
        return pd.DataFrame(self.records).fillna(float("nan"))

    def notes_of(self, *kinds: str) -> list[str]:
        return [note.text for note in self.notes if note.kind in kinds]

    def save(self, folder: Path) -> Path:
        path = Path(folder) / TABLE_JSON
        path.write_text(json.dumps(_plain(asdict(self)), indent=1, allow_nan=False))
        return path

    @classmethod
    def load(cls, folder: Path) -> "Table":
        raw = json.loads((Path(folder) / TABLE_JSON).read_text())
        return cls(**{**raw, "notes": [Note(**note) for note in raw["notes"]]})


def _plain(value: Any) -> Any:
    """JSON without NaN: missing numbers are null."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def build_table(study: Study, frame: pd.DataFrame, meta: dict[str, Any]) -> Table:
    """The study's table with its notes, from the trials frame alone."""
    numbers, notes = search_table(study, frame, meta) if study.search else grid_table(study, frame)
    notes += run_notes(study, frame, meta)
    title = f"{study.name}" + (f": {study.reproduces}" if study.reproduces else "")
    header, cells = shown(study, numbers)
    kinds = [_row_kind(study, record) for record in numbers.to_dict("records")]
    return Table(title, _plain(numbers.to_dict("records")), header, cells, kinds, notes)


def _row_kind(study: Study, record: dict[str, Any]) -> str:
    """'selected' (a search's chosen trial), 'mean' (table.mean_row), 'gain' (table.baseline) or ''."""
    if record.get("selected") == "yes":
        return "selected"
    label = str(record.get(study.rows_axis or "rows", ""))
    if study.table.mean_row and label == "mean":
        return "mean"
    return "gain" if study.table.baseline and label.endswith(f" - {study.table.baseline}") else ""


# --- grid studies ------------------------------------------------------------------------------

def grid_table(study: Study, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Note]]:
    axis, across = study.rows_axis, study.table.columns
    ok = frame[frame["status"] == Status.OK] if len(frame) else frame
    percent = study.table.percent
    first = study.table.metrics[0]
    labels = value_labels(frame, axis)
    records = []
    for value in study.labels(axis) or [None]:
        rows = ok[ok[axis].astype(str) == str(value)] if axis else ok
        record: dict[str, Any] = {axis or "rows": value}
        if axis == ARM_AXIS:
            record["method"] = labels.get(str(value), "")
        for column in study.labels(across):  # one cell per value, first metric
            cell = rows[rows[across].astype(str) == str(column)]
            record[f"{_axis_name(across)} {column}"] = _values(cell, first, percent).mean()
        for metric in study.table.metrics:
            values = _values(rows, metric, percent)
            record[f"{metric}_mean"] = values.mean() if len(values) else float("nan")
            record[f"{metric}_std"] = _spread(values, study.table.spread)
        record["n"] = len(rows)
        for column, numbers in (study.table.paper.columns.items() if study.table.paper else []):
            record[f"paper {column}"] = numbers.get(str(value), float("nan"))
        records.append(record)
    stats = significance(study, frame)
    for record in records if stats is not None else []:
        record.update(delta_columns(stats).get(str(record[axis or "rows"]), {}))
    table = pd.DataFrame(records)
    present = set(map(str, study.labels(axis)))
    missing = [f"table.{key} {value}" for key, value in (("baseline", study.table.baseline),
                                                         ("compare_to", study.table.compare_to))
               if value is not None and value not in present]
    gains = _gain_rows(table, axis or "rows", study.table.baseline) if study.table.baseline in present else None
    if study.table.mean_row and len(table) > 1:
        table = pd.concat([table, _mean_row(table, axis or "rows", study.table.spread)], ignore_index=True)
    if gains is not None:
        table = pd.concat([table, gains], ignore_index=True)
    others = [a for a in study.grid if a != axis]  # the columns axis too: each metric cell pools its values
    over = " × ".join(f"{len(study.grid[a])} {a}" for a in others) or "1 trial"
    shown_unit = unit(study.table.percent)
    spread = "SEM (sample std / sqrt(n))" if study.table.spread == "sem" else "std (sample std)"
    notes = [Note("ours", f"Ours: {', '.join(metric_name(m) for m in study.table.metrics)}{shown_unit}, mean ± "
                          f"{spread} over {over} per row; n counts the finished trials (failed ones are left out and "
                          "listed below).")]
    if across:
        notes.append(Note("columns", f"Columns '{_axis_name(across)} <value>': {metric_name(first)}{shown_unit} per "
                                     f"value of {across}, mean over the other axes."))
    if study.table.mean_row and len(records) > 1:
        notes.append(Note("mean_row", f"Row 'mean': the mean of the {len(records)} rows above (± the "
                                      f"{spread.split(' ')[0]} across them); paper columns averaged the same way where "
                                      "every row has a published number."))
    if missing:
        notes.append(Note("statistics", f"{' and '.join(missing)}: not among this run's rows (narrowed by "
                                        f"{' '.join(study.applied) or 'the study'}), so no row is compared with it."))
    if gains is not None:
        baseline = study.table.baseline
        notes.append(Note("baseline", f"Rows '<row> - {baseline}': that row's means minus the {baseline} row's, ours "
                                      f"and the paper's (its gain over {baseline}); n: the smaller of the two rows' n."))
    if study.table.paper:
        notes.append(Note("paper", f"Paper columns: the published {study.table.paper.metric}"
                                   + (f"; paper budget: {study.table.paper.budget}" if study.table.paper.budget else "")
                                   + "."))
    notes += [Note("statistics", text) for text in (significance_notes(study, stats, frame) if stats else [])]
    return table, notes


def _values(rows: pd.DataFrame, metric: str, percent: bool) -> pd.Series:
    """The metric's finished values in the table's units (fractions in percent where the table is)."""
    return rows[metric].dropna() * metric_scale(metric, percent) if metric in rows else pd.Series(dtype=float)


def _spread(values: pd.Series, kind: str) -> float:
    if len(values) < 2:
        return float("nan")
    std = values.std(ddof=1)
    return std / math.sqrt(len(values)) if kind == "sem" else std


def _mean_row(table: pd.DataFrame, label_column: str, kind: str) -> pd.DataFrame:
    """The mean over the rows of every numeric column; the spread columns become the spread across rows."""
    row: dict[str, Any] = {label_column: "mean"}
    for column in table.columns:
        if column == label_column or column.startswith("delta_") or not pd.api.types.is_numeric_dtype(table[column]):
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
            if (column not in (label_column, "n") and not column.endswith("_std") and not column.startswith("delta_")
                    and pd.api.types.is_numeric_dtype(table[column])):
                gain[column] = row[column] - base[column]
        rows.append(gain)
    return pd.DataFrame(rows)


def _axis_name(axis: str) -> str:
    return axis.split(".")[-1]


# --- search studies ----------------------------------------------------------------------------

def search_table(study: Study, frame: pd.DataFrame, meta: dict[str, Any]) -> tuple[pd.DataFrame, list[Note]]:
    """A search's table: with ``search.repeat_best``, each arm's best trial (chosen by the validation
    metric) with its repeats' test metrics and their paired differences over seeds; with several
    objectives, the Pareto front; otherwise every trial ranked by the validation metric."""
    assert study.search is not None
    trials = searched(frame)
    picked = chosen(study, frame)
    parts, notes = [], []
    if study.search.repeat_best:
        best, notes = _best_per_arm(study, frame, picked)
        parts.append(best)
    if len(study.objectives) > 1:
        front, front_notes = _front(study, trials, picked)
        parts.append(front)
        notes += front_notes
    if not parts:
        parts.append(_ranked(study, trials, picked))
        notes.append(Note("ours", f"Trials ranked by final {metric_name(study.selection_metric)} ({study.selection_mode}); "
                                  "the selected trial is the best finished one by that validation metric"
                                  + (" in each arm" if study.search.arms else "") + ". Test metrics are recorded, never "
                                  "used to choose."))
    notes.append(Note("search", _search_note(study, trials, meta)))
    if study.table.paper and not any(note.kind == "paper" for note in notes):  # the repeats' table has it
        notes.append(Note("paper", f"Paper: {study.table.paper.metric}; {study.table.paper.budget}"))
    return pd.concat([part for part in parts if len(part)], ignore_index=True) if any(map(len, parts)) \
        else pd.DataFrame(), notes


def _trial_record(study: Study, row: pd.Series, label: str, selected: bool) -> dict[str, Any]:
    """A searched trial's columns: what kind of row, its arm, id, searched values and objectives."""
    record: dict[str, Any] = {"rows": label}
    if study.search is not None and study.search.arms:
        record.update(arm=row.get(ARM_AXIS), method=row.get(f"{ARM_AXIS}_label", ""))
    record["trial"] = row["trial_id"]
    record.update({key: _short(row.get(key)) for key in study.searched if key != ARM_AXIS})
    for metric, _ in study.objectives:
        record[metric] = _scaled(study, metric, row.get(metric))  # the trial's own, in the search
    record["selected"] = "yes" if selected else ""
    return record


def _scaled(study: Study, metric: str, value: Any) -> float:
    return float(value) * metric_scale(metric, study.table.percent) if pd.notna(value) else float("nan")


def _ranked(study: Study, trials: pd.DataFrame, picked: list[str]) -> pd.DataFrame:
    ranked = trials.sort_values(study.selection_metric, ascending=study.selection_mode == "min", na_position="last",
                                kind="stable")
    records = []
    for _, row in ranked.iterrows():
        record = _trial_record(study, row, "trial", str(row["trial_id"]) in picked)
        for metric in study.table.metrics:
            record[metric] = _scaled(study, metric, row.get(metric))
        selected = record.pop("selected")
        record.update(epochs=row.get("epochs_run"), status=row["status"], selected=selected)
        records.append(record)
    return pd.DataFrame(records).drop(columns="rows")


def _best_per_arm(study: Study, frame: pd.DataFrame, picked: list[str]) -> tuple[pd.DataFrame, list[Note]]:
    """One row per arm: its chosen trial, then its repeats as a grid of arm x seed (``grid_table``: test
    metrics mean ± spread over the seeds, and each arm's paired difference to ``table.compare_to``)."""
    again = repeats(frame)
    if again.empty:
        return pd.DataFrame(), [Note("ours", "No repeat of the best has run yet (search.repeat_best runs them once "
                                             "every searched trial has ended).")]
    axis = ARM_AXIS if study.search.arms else REPEAT_OF
    seeds = sorted(again["seed"].dropna().unique().tolist())
    values = study.search.arms or sorted(again[REPEAT_OF].astype(str).unique())
    grid = study.model_copy(update={
        "search": None, "grid": {axis: values, "seed": seeds}, "metric": study.selection_metric,
        "mode": study.selection_mode,
        "table": study.table.model_copy(update={"rows": axis, "columns": None, "mean_row": False, "baseline": None,
                                                "compare_to": study.table.compare_to if axis == ARM_AXIS else None})})
    numbers, notes = grid_table(grid, again.assign(**{axis: again[axis].astype(str)}))
    by_trial = {str(row["trial_id"]): row for _, row in frame.iterrows()}
    of = {str(value): str(best) for value, best in zip(again[axis].astype(str), again[REPEAT_OF])}
    records = []
    for record in numbers.to_dict("records"):
        best = by_trial.get(of.get(str(record[axis]), ""))
        label = f"best of {record[axis]}, {len(seeds)} more seeds" if axis == ARM_AXIS else f"best, {len(seeds)} more seeds"
        head = _trial_record(study, best, label, True) if best is not None else {"rows": label, "trial": "none finished"}
        head.pop("selected", None)
        rest = {key: value for key, value in record.items() if key not in (axis, "method")}
        records.append({**head, **rest, "selected": "yes" if best is not None else ""})
    notes = [Note(note.kind, f"Rows 'best of <arm>': {note.text}") if note.kind == "ours" else note for note in notes]
    notes.insert(0, Note("search", f"Each arm's best searched trial by {metric_name(study.selection_metric)} "
                                   f"({study.selection_mode}; the objectives' columns hold its values in the search) ran again on "
                                   f"seeds {', '.join(str(int(s)) for s in seeds)}, which the search never saw, the same "
                                   "seeds for every arm: the test metrics of these rows are those repeats', so choosing "
                                   "a trial on its seed's luck does not inflate them."))
    return pd.DataFrame(records), notes


def _front(study: Study, trials: pd.DataFrame, picked: list[str]) -> tuple[pd.DataFrame, list[Note]]:
    """The Pareto front of the searched trials (and the chosen trials off it), best validation first."""
    on_front = pareto_front(study, trials)
    rows = trials[on_front | trials["trial_id"].astype(str).isin(picked)]
    rows = rows.sort_values(study.selection_metric, ascending=study.selection_mode == "min", kind="stable")
    records = []
    for _, row in rows.iterrows():
        record = _trial_record(study, row, "front" if on_front[row.name] else "chosen, off the front",
                               str(row["trial_id"]) in picked)
        selected = record.pop("selected")
        for metric in study.table.metrics:
            record[f"{metric}_mean"] = _scaled(study, metric, row.get(metric))
            record[f"{metric}_std"] = float("nan")
        record.update(n=1, selected=selected)
        records.append(record)
    goals = ", ".join(f"{metric_name(m)} ({mode})" for m, mode in study.objectives)
    note = Note("front", f"Rows 'front': the {int(on_front.sum())} finished searched trials on the Pareto front of {goals} "
                         "(no other trial is as good in every objective and better in one), best validation first; their "
                         "test metrics are the trial's own, on the searched seed. The figure pareto_*.png draws it. "
                         "Costs are wall-clock seconds on the trial's node: on a shared machine they carry its load.")
    return pd.DataFrame(records), [note]


def _search_note(study: Study, trials: pd.DataFrame, meta: dict[str, Any]) -> str:
    """The search as run: sampler, its seed in each session, options, trials, objectives, scheduler."""
    search, scheduler = study.search, study.scheduler
    assert search is not None
    sessions = max(1, len(meta.get("sessions", [])))
    seeds = ", ".join(str(search.seed + i) for i in range(sessions))
    options = "".join(f", {key}={value}" for key, value in search.options.items())
    keys = [key + (f" (only {', '.join(arms)})" if (arms := _arms_of(study, trials, key)) else "")
            for key in study.searched]
    stopped = int((trials["status"] == Status.STOPPED_EARLY).sum()) if len(trials) else 0
    return (f"Search: Optuna {search.algorithm} (sampler seed {seeds}: the study's seed plus the number of earlier "
            f"sessions{options}), {search.num_samples} trials over {', '.join(keys)}; objectives "
            + ", ".join(f"{metric_name(m)} ({mode})" for m, mode in study.objectives)
            + f"; scheduler {scheduler.name}" + (f" (grace {scheduler.grace_period} epochs), {stopped} trial(s) stopped "
                                                 "early" if scheduler.name != "fifo" else "") + ".")


def _arms_of(study: Study, trials: pd.DataFrame, key: str) -> list[str]:
    """The arms whose trials have ``key`` when not all of them do (a conditional parameter)."""
    if study.search is None or not study.search.arms or key not in trials or ARM_AXIS not in trials:
        return []
    has = sorted(set(trials.loc[trials[key].notna(), ARM_AXIS].astype(str)))
    return has if has and len(has) < len(study.search.arms) else []


def _short(value: Any) -> Any:
    """Searched values to three significant digits (categorical ones as they are)."""
    return float(f"{value:.3g}") if isinstance(value, float) else value


# --- shared ----------------------------------------------------------------------------------------

def shown(study: Study, table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The printed table: 'mean ± std' cells, one decimal (three below 1)."""
    columns: list[tuple[str, list[str]]] = []
    for column in table.columns:
        if column.startswith("delta_"):  # the paired difference to table.compare_to, one shown column
            metric = column.removeprefix("delta_")
            if metric in study.table.metrics:
                columns.append((f"Δ {metric_name(metric)} vs {study.table.compare_to} [95% CI]",
                                [_delta(table, i, column) for i in range(len(table))]))
            continue
        if column.endswith("_std"):
            continue
        if column.endswith("_mean"):
            metric = column.removesuffix("_mean")
            columns.append((metric_label(metric, study.table.percent),
                            [_pm(m, s) for m, s in zip(table[column], table[f"{metric}_std"])]))
        elif pd.api.types.is_float_dtype(table[column]):
            columns.append((metric_name(column), [_num(v) for v in table[column]]))
        else:
            columns.append((column, ["" if pd.isna(v) else str(v) for v in table[column]]))
    header = [name for name, _ in columns]
    cells = [list(row) for row in zip(*(values for _, values in columns))] if columns else []
    return header, cells


def _delta(table: pd.DataFrame, i: int, column: str) -> str:
    """'+2.3 [-0.4, +5.1]', with ' *' where both intervals exclude 0; '–' for the reference row."""
    mean = table[column].iloc[i]
    if pd.isna(mean):
        return "–"
    low, high = table[f"{column}_low"].iloc[i], table[f"{column}_high"].iloc[i]
    resolved = table[f"{column}_resolved"].iloc[i]
    return f"{mean:+.1f} [{low:+.1f}, {high:+.1f}]" + (" *" if pd.notna(resolved) and bool(resolved) else "")


def _decimals(value: float) -> int:
    """One decimal for percents and counts; three for scores below 1 (DCI, a fraction in a plain table)."""
    return 3 if abs(value) < 1 else 1


def _num(value: float) -> str:
    if pd.isna(value):
        return "–"
    return f"{value:.3g}" if abs(value) < 0.1 else f"{value:.{_decimals(value)}f}"


def _pm(mean: float, std: float) -> str:
    if pd.isna(mean):
        return "–"
    digits = _decimals(mean)
    return f"{mean:.{digits}f}" if pd.isna(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def run_notes(study: Study, frame: pd.DataFrame, meta: dict[str, Any]) -> list[Note]:
    """Budget, protocol, deviations, the run itself and every distinct failure, in full."""
    counts = frame["status"].value_counts().to_dict() if len(frame) else {}
    c = lambda column: common_value(frame, column)  # noqa: E731
    notes = [Note("budget", f"Budget: {budget_text(frame, set(study.searched))}."),
             Note("protocol", f"Protocol: AP = {c('ap_definition')}; evaluated checkpoint: {c('checkpoint')}; "
                              f"validation protocol: {c('val_protocol')} (never the test anomaly class).")]
    notes += [Note("deviation", f"Deviation: {d}") for d in study.table.deviations]
    timing = f"; study wall time {meta['wall_s']:.0f} s" if meta.get("wall_s") else ""
    if timing and "total_s" in frame:
        timing += f" for {frame['total_s'].sum():.0f} s of trial time ({meta.get('workers', '?')} at a time)"
    notes.append(Note("run", f"Run: {len(frame)} trials ({', '.join(f'{n} {s}' for s, n in counts.items())}); "
                             f"device {c('device')}, node {c('node')}, torch {c('torch_version')}; "
                             f"git {meta.get('git_commit', c('git_commit'))}{timing}"
                             + (f"; applied {' '.join(study.applied)}" if study.applied else "") + "."))
    notes += _val_tracks_test(study, frame)
    failed = frame[frame["status"].isin([Status.FAILED, Status.ERROR])] if len(frame) else frame
    for message, group in (failed.groupby("message") if len(failed) else []):
        notes.append(Note("failed", f"{len(group)} trial(s) failed: {message}"))
    return notes


def _val_tracks_test(study: Study, frame: pd.DataFrame) -> list[Note]:
    """How well what a search or a no-peek choice sees (the validation metric) ranks trials as the
    test metric does: Spearman's rank correlation over the finished trials."""
    from scipy.stats import spearmanr

    test = next((metric for metric in study.table.metrics if metric.startswith("test_")), None)
    metric = study.selection_metric
    ok = frame[frame["status"] == Status.OK] if len(frame) else frame
    if test is None or metric not in ok or test not in ok:
        return []
    pairs = ok[[metric, test]].dropna()
    if len(pairs) < 3 or pairs[metric].nunique() < 2 or pairs[test].nunique() < 2:
        return []
    rho, p = spearmanr(pairs[metric], pairs[test])
    if rho < 0:
        reading = "negative: a choice made on validation would lean against the test"
    elif rho < 0.3:
        reading = "weak: choosing by validation says little about the test"
    else:
        reading = "choosing by validation follows the test as far as this correlation goes"
    return [Note("validation", f"Validation tracks test: Spearman's rank correlation between {metric_name(metric)} "
                               f"and {metric_name(test)} over the {len(pairs)} finished trials is {rho:.2f} "
                               f"(p = {p:.2g}); {reading}.")]
