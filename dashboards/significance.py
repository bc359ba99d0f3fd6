"""The statistics under a grid study's table: each row's paired difference to ``table.compare_to``
over matched units, and Friedman's test with the Nemenyi critical difference over all rows.

Units are the grid points a row is run on: every grid axis other than the rows (and the columns:
with ``table.columns`` the differences are also taken per column value, as paper 000's Table 6
compares gains per OE corpus). The arithmetic is in ``dashboards/stat_tests.py``; this module
picks the units from the study and turns the results into the table's columns and notes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dashboards.metrics import metric_name, metric_scale
from dashboards.stat_tests import (NOT_REACHED, FriedmanResult, PairedDifference, friedman, paired_differences,
                                   seeds_needed)
from studyspec.schema import Study

SEED_AXIS = "seed"


@dataclass
class Significance:
    metric: str  # the table's first metric
    reference: str | None
    units: list[str]  # the grid axes that make a unit
    pooled: list[PairedDifference]  # row - reference over every unit (columns pooled)
    per_column: dict[str, list[PairedDifference]] = field(default_factory=dict)  # per value of table.columns
    ranks: FriedmanResult | None = None


def unit_axes(study: Study) -> list[str]:
    """The grid axes that identify a unit of a row: all but the rows axis."""
    return [axis for axis in study.grid if axis != study.rows_axis]


def _scaled(frame: pd.DataFrame, metric: str, factor: float) -> pd.DataFrame:
    """The metric in the table's units (percent points for fractions), so intervals read as the cells do."""
    return frame.assign(**{metric: pd.to_numeric(frame[metric], errors="coerce") * factor})


def significance(study: Study, frame: pd.DataFrame) -> Significance | None:
    """None for a search, or a grid whose rows have no unit axis or no trial of the metric."""
    rows, metric = study.rows_axis, study.table.metrics[0]
    units = unit_axes(study)
    if study.search or rows is None or not units or metric not in frame or rows not in frame:
        return None
    data = _scaled(frame[[rows, *units, "status", metric]].astype({rows: str}), metric,
                   metric_scale(metric, study.table.percent))
    order = [str(value) for value in study.labels(rows) if str(value) in set(data[rows])]
    result = Significance(metric, study.table.compare_to, units, [])
    reference = study.table.compare_to
    if reference is not None and reference in order:
        result.pooled = paired_differences(data, rows, reference, metric, units, order=order)
        across = study.table.columns
        for value in study.labels(across):
            part = data[data[across].astype(str) == str(value)]
            inner = [axis for axis in units if axis != across]
            if len(part) and inner and reference in set(part[rows]):
                result.per_column[str(value)] = paired_differences(part, rows, reference, metric, inner,
                                                                   order=[r for r in order if r in set(part[rows])])
    if len(order) >= 3:
        result.ranks = friedman(data, rows, metric, units, order=order)
    return result


def _interval(low: float, high: float) -> str:
    return f"[{low:+.1f}, {high:+.1f}]"


def delta_columns(result: Significance) -> dict[str, dict[str, Any]]:
    """{row: table columns} of each row's pooled difference to the reference: mean, both intervals,
    the Holm-corrected Wilcoxon p, matched units and whether both intervals exclude 0."""
    key = f"delta_{result.metric}"
    return {d.row: {key: d.mean, f"{key}_low": d.boot_low, f"{key}_high": d.boot_high, f"{key}_t_low": d.t_low,
                    f"{key}_t_high": d.t_high, f"{key}_p_holm": d.p_holm, f"{key}_units": d.n,
                    f"{key}_resolved": d.resolved} for d in result.pooled}


def notes(study: Study, result: Significance, frame: pd.DataFrame) -> list[str]:
    """What the statistics say, in sentences: how the differences were taken, which rows they resolve,
    which units were dropped, how many seeds a given effect would need, and the ranks over all rows."""
    name, reference = metric_name(result.metric), result.reference
    units = " × ".join(result.units)
    out = []
    if result.pooled:
        resolved = [d.row for d in result.pooled if d.resolved]
        out.append(f"Paired differences to {reference} ('Δ' column): each row's {name} minus {reference}'s over "
                   f"matched units ({units}); mean with its 95 % bootstrap interval (10,000 resamples of units, "
                   "seeded), the t interval in table.csv, Wilcoxon signed-rank p with Holm's correction over the "
                   "rows. * marks a difference whose bootstrap and t intervals both exclude 0: "
                   + (", ".join(resolved) if resolved else "none; the data cannot resolve any row from "
                      f"{reference}") + ".")
        for d in result.pooled:
            if d.dropped:
                out.append(f"{d.row} vs {reference}: {len(d.dropped)} unit(s) unmatched (a trial failed or is "
                           f"missing), dropped, not imputed: {'; '.join(d.dropped)}.")
            if d.note:
                out.append(f"{d.row} vs {reference}: {d.note}.")
        per_seed = _units_per_seed(study, result.units)
        effect = study.table.smallest_effect
        needed = [f"{d.row} {_seeds(d, effect, per_seed)}" for d in result.pooled if d.n > 1]
        if needed:
            out.append(f"Seeds needed to resolve a difference of {effect:g} points to {reference} with 80 % power "
                       f"(paired t-test, α = 0.05) at each row's observed paired spread, {per_seed} unit(s) per "
                       f"seed: {', '.join(needed)}.")
    for column, differences in result.per_column.items():
        cells = [f"{d.row} {d.mean:+.1f} {_interval(d.boot_low, d.boot_high)}{' *' if d.resolved else ''} (n={d.n})"
                 for d in differences]
        out.append(f"{study.table.columns} = {column}, differences to {reference}: {'; '.join(cells)}.")
    ranks = result.ranks
    if ranks is not None:
        if ranks.note:
            out.append(f"Friedman test over the {len(ranks.rows)} rows: not computed ({ranks.note}).")
        else:
            order = sorted(zip(ranks.mean_ranks, ranks.rows))
            differ = ", ".join(f"{a}/{b}" for a, b in ranks.differing) or "none"
            verdict = (f"rows whose mean ranks differ by more than CD: {differ}" if ranks.p < ranks.alpha
                       else "so no pair of rows is told apart (Nemenyi is read only after a significant Friedman)")
            out.append(f"Ranks over all rows (Friedman, Demšar 2006) on {ranks.n} complete units: χ² = "
                       f"{ranks.statistic:.2f}, p = {ranks.p:.3g}; mean ranks (1 = best) "
                       + ", ".join(f"{row} {rank:.2f}" for rank, row in order)
                       + f"; Nemenyi CD = {ranks.cd:.2f} at α = {ranks.alpha:g}, {verdict}"
                       + (f"; units dropped as incomplete: {'; '.join(ranks.dropped)}" if ranks.dropped else "")
                       + ".")
    return out


def _units_per_seed(study: Study, units: list[str]) -> int:
    """How many units one seed adds: the product of the other unit axes' sizes."""
    size = 1
    for axis in units:
        if axis != SEED_AXIS:
            size *= len(study.grid[axis])
    return size


def _seeds(d: PairedDifference, effect: float, per_seed: int) -> str:
    seeds = seeds_needed(d.std, effect, per_seed)
    return "> 10,000 units" if seeds == NOT_REACHED else str(seeds)
