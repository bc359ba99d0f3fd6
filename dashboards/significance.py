"""The statistics under a grid study's table: each row's paired difference to ``table.compare_to``
over matched units, and Friedman's test with the Nemenyi critical difference over all rows.

The unit is a grid point of every axis other than the rows and the seed: the fold, the benchmark's
unit of replication (a leave-one-out class, an intervention, a set of normal colours). Seeds are
nested in it and averaged within it, because two seeds of one fold share its anomaly class; where
the seed is the only other axis, the seeds are the units. With ``table.columns`` the differences are
also taken per column value (as paper 000's Table 6 compares gains per OE corpus), over the units
left within it. The arithmetic is in ``dashboards/stat_tests.py``; this module picks the units from
the study and turns the results into the table's columns and notes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from dashboards.metrics import metric_name, metric_scale
from dashboards.stat_tests import (MIN_UNITS, NOT_REACHED, FriedmanResult, PairedDifference, folds_needed, friedman,
                                   paired_differences)
from studyspec.schema import Study

SEED_AXIS = "seed"
POWER = 0.8  # of the folds-and-seeds-needed notes


@dataclass
class Significance:
    metric: str  # the table's first metric
    reference: str | None
    units: list[str]  # the grid axes that make a unit (the folds)
    nested: list[str]  # the grid axes averaged within a unit (the seed)
    pooled: list[PairedDifference]  # row - reference over every unit (columns pooled)
    per_column: dict[str, list[PairedDifference]] = field(default_factory=dict)  # per value of table.columns
    ranks: FriedmanResult | None = None

    @property
    def unit_text(self) -> str:
        """'data.fold, seeds averaged within each', for notes and axis labels."""
        nested = f", {' and '.join(f'{axis}s' for axis in self.nested)} averaged within each" if self.nested else ""
        return " × ".join(self.units) + nested


def unit_axes(study: Study, leave_out: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """(the axes naming a unit, the axes nested in one): every grid axis but the rows and ``leave_out``;
    the seed is nested in the others, or is the unit where no other axis is left."""
    axes = [axis for axis in study.grid if axis != study.rows_axis and axis not in leave_out]
    units = [axis for axis in axes if axis != SEED_AXIS]
    return (units, [axis for axis in axes if axis == SEED_AXIS]) if units else (axes, [])


def _scaled(frame: pd.DataFrame, metric: str, factor: float) -> pd.DataFrame:
    """The metric in the table's units (percent points for fractions), so intervals read as the cells do."""
    return frame.assign(**{metric: pd.to_numeric(frame[metric], errors="coerce") * factor})


def significance(study: Study, frame: pd.DataFrame) -> Significance | None:
    """None for a search, or a grid whose rows have no unit axis or no trial of the metric."""
    rows, metric = study.rows_axis, study.table.metrics[0]
    units, nested = unit_axes(study)
    if study.search or rows is None or not units or metric not in frame or rows not in frame:
        return None
    data = _scaled(frame[[rows, *units, *nested, "status", metric]].astype({rows: str}), metric,
                   metric_scale(metric, study.table.percent))
    order = [str(value) for value in study.labels(rows) if str(value) in set(data[rows])]
    result = Significance(metric, study.table.compare_to, units, nested, [])
    reference = study.table.compare_to
    if reference is not None and reference in order:
        result.pooled = paired_differences(data, rows, reference, metric, units, nested=nested, order=order)
        across = study.table.columns
        inner, inner_nested = unit_axes(study, leave_out=(across,)) if across else ([], [])
        for value in study.labels(across) if inner else []:
            part = data[data[across].astype(str) == str(value)]
            if len(part) and reference in set(part[rows]):
                result.per_column[str(value)] = paired_differences(
                    part, rows, reference, metric, inner, nested=inner_nested,
                    order=[r for r in order if r in set(part[rows])])
    if len(order) >= 3:
        result.ranks = friedman(data, rows, metric, units, nested=nested, order=order)
    return result


def _interval(low: float, high: float) -> str:
    return f"[{low:+.1f}, {high:+.1f}]"


def delta_columns(result: Significance) -> dict[str, dict[str, Any]]:
    """{row: table columns} of each row's pooled difference to the reference: mean, both intervals and the
    widened ones the mark reads, the Holm-corrected Wilcoxon p, matched units and whether it is marked."""
    key = f"delta_{result.metric}"
    return {d.row: {key: d.mean, f"{key}_low": d.boot_low, f"{key}_high": d.boot_high, f"{key}_t_low": d.t_low,
                    f"{key}_t_high": d.t_high, f"{key}_marked_low": d.marked_boot_low,
                    f"{key}_marked_high": d.marked_boot_high, f"{key}_marked_t_low": d.marked_t_low,
                    f"{key}_marked_t_high": d.marked_t_high, f"{key}_p_holm": d.p_holm, f"{key}_units": d.n,
                    f"{key}_resolved": d.resolved} for d in result.pooled}


def notes(study: Study, result: Significance, frame: pd.DataFrame) -> list[str]:
    """What the statistics say, in sentences: how the differences were taken and over which units, which
    rows they resolve, which units were dropped, how many folds and seeds a given effect would need, and
    the ranks over all rows."""
    name, reference = metric_name(result.metric), result.reference
    out = []
    if result.pooled:
        first = result.pooled[0]
        marked = [d.row for d in result.pooled if d.resolved]
        within = (f"averaged over the {' and '.join(f'{axis}s' for axis in result.nested)} both rows finished "
                  "within each unit, " if result.nested else "")
        out.append(f"Paired differences to {reference} ('Δ' column): each row's {name} minus {reference}'s per "
                   f"grid point, {within}then over the units (unit: {' × '.join(result.units)}, the benchmark's "
                   "unit of replication, whose seeds share its anomaly class); "
                   "mean with its 95 % bootstrap interval over units (10,000 resamples, seeded), the t interval "
                   "over units in table.csv, Wilcoxon signed-rank p over units with Holm's correction over the "
                   f"{len(result.pooled)} rows compared. * marks a difference that holds for the table as a whole: "
                   f"over ≥ {MIN_UNITS} units that do not all show the same difference, its bootstrap and t "
                   f"intervals widened for the {len(result.pooled)} rows (Bonferroni, {first.marked_confidence:.1%} "
                   "each, in table.csv) both exclude 0, and Holm's p, where given, is below 0.05: "
                   + (", ".join(marked) if marked else f"none; the data resolve no row from {reference}") + ".")
        out += _shared(result.pooled, reference, lambda d: d.dropped and (
            f"{len(d.dropped)} grid point(s) unmatched (a trial failed or is missing), dropped, not imputed: "
            f"{'; '.join(d.dropped)}"))
        out += _shared(result.pooled, reference, lambda d: d.note)
        needed = _needed(result, study.table.smallest_effect)
        if needed:
            out.append(needed)
    for column, differences in result.per_column.items():
        cells = [f"{d.row} {d.mean:+.1f} {_interval(d.boot_low, d.boot_high)}{' *' if d.resolved else ''} (n={d.n})"
                 for d in differences]
        out.append(f"{study.table.columns} = {column}, differences to {reference} over "
                   f"{' × '.join(unit_axes(study, (study.table.columns,))[0])}: {'; '.join(cells)}.")
    if result.ranks is not None:
        out.append(_ranks_note(result.ranks, result.unit_text))
    return out


def _shared(differences: list[PairedDifference], reference: str | None,
            say: Callable[[PairedDifference], str]) -> list[str]:
    """Each distinct sentence ``say`` gives the rows once, naming the rows it concerns (six rows over the
    same 5 folds share one)."""
    by_text: dict[str, list[str]] = {}
    for d in differences:
        if text := say(d):
            by_text.setdefault(text, []).append(d.row)
    return [f"{', '.join(rows)} vs {reference}: {text}." for text, rows in by_text.items()]


def _needed(result: Significance, effect: float) -> str:
    """How many folds a difference of ``effect`` would need to be marked (at the widened level the mark
    reads), at the seeds run and with seeds without limit, from each row's spread split into its fold
    and seed parts."""
    rows = [d for d in result.pooled if d.n > 1 and math.isfinite(d.std)]
    if not rows:
        return ""
    alpha = 1.0 - rows[0].marked_confidence
    unit = result.units[0].split(".")[-1] if len(result.units) == 1 else "unit"

    def folds(variance: float, seed_variance: float, seeds: float) -> str:
        return _count(folds_needed(variance, seed_variance, max(1, round(seeds)), effect, alpha=alpha, power=POWER))

    if all(math.isfinite(d.within) for d in rows):
        cells = [f"{d.row} {folds(d.between, d.within, d.seeds)} ({folds(d.between, 0.0, 1)})" for d in rows]
        how = (f"at the seeds per {unit} run ({rows[0].seeds:g}) and, in brackets, with seeds without limit (the "
               f"{unit} part of the spread alone), from each row's spread split into its {unit} and seed parts")
    else:  # one seed per unit: the spread is not split into its parts
        cells = [f"{d.row} {folds(d.std ** 2, 0.0, 1)}" for d in rows]
        how = f"at 1 seed per {unit}, from each row's spread over {unit}s"
    return (f"{unit.capitalize()}s needed to mark a difference of {effect:g} points to {result.reference} (paired "
            f"t-test over {unit}s at the mark's α = {alpha:.3g}, {POWER:.0%} power), {how}: {', '.join(cells)}. "
            f"This run has {max(d.n for d in rows)} {unit}s; more seeds shrink only the seed part.")


def _count(n: int) -> str:
    return "> 10,000" if n == NOT_REACHED else str(n)


def _ranks_note(ranks: FriedmanResult, unit_text: str) -> str:
    if math.isnan(ranks.p):
        return f"Friedman test over the {len(ranks.rows)} rows: not given ({ranks.note})."
    order = sorted(zip(ranks.mean_ranks, ranks.rows))
    differ = ", ".join(f"{a}/{b}" for a, b in ranks.differing) or "none"
    verdict = (f"rows whose mean ranks differ by more than CD: {differ}" if ranks.p < ranks.alpha
               else "Friedman does not reject, so no pair of rows is told apart and no Nemenyi group is drawn")
    return (f"Ranks over all rows (Friedman, Demšar 2006) on {ranks.n} complete units ({unit_text}): χ² = "
            f"{ranks.statistic:.2f}, p = {ranks.p:.3g}; mean ranks (1 = best) "
            + ", ".join(f"{row} {rank:.2f}" for rank, row in order)
            + f"; Nemenyi CD = {ranks.cd:.2f} at α = {ranks.alpha:g}, {verdict}"
            + (f"; grid points dropped as incomplete: {'; '.join(ranks.dropped)}" if ranks.dropped else "") + ".")
