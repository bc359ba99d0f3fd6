"""Is the difference between two rows of a table real? Paired tests over independent units.

Every table row (an arm, a method) runs on the same grid points: folds (the benchmark's unit of
replication: a leave-one-out class, an intervention) and, nested in each, seeds. Two seeds of one fold
share its anomaly class, so they are not independent units: with a fold effect and no true difference,
tests that count 5 folds x 2 seeds as 10 units marked a difference in 18.5 % of the simulated studies
of tests/dashboards/test_statistics.py instead of 5 %. So the unit is the fold. A row's difference to
a reference row is taken per (fold, seed), averaged over the seeds of that fold both rows finished,
and the folds' mean differences are summarised with a bootstrap over folds (each resampled fold
brings its seed mean), a t interval, a Wilcoxon signed-rank p and Holm's correction over the rows
compared. A grid point that failed or is missing on either side is dropped and named, never imputed:
an imputed value would make a difference look surer than the trials show.

A table compares several rows with one reference, so a difference is marked (``resolved``) only where
it holds for the family: its bootstrap and t intervals widened for the number of rows compared
(Bonferroni, confidence 1 − α/m) both exclude 0, Holm's p is below α where the corrected rank test
can reach α at all, it rests on at least MIN_UNITS units, and the units do not all show the same
difference (no spread to judge it by). With 5 folds the exact signed-rank p cannot go below 2/2⁵ =
0.0625 (scipy's ``wilcoxon``, exact up to 50 units, pinned in pyproject.toml), so no rank test is
given there and the note says why.

Input is a tidy frame of trial rows: a row-label column, unit columns, nested columns, ``status``
(only ``"ok"`` rows count) and numeric metric columns (fractions in [0, 1]; scaling is the caller's).

For more than two rows, ``friedman`` is the field's standard comparison (Demšar 2006, JMLR 7:1-30;
as ADBench draws it): mean ranks over units, the Friedman test, and the Nemenyi critical difference,
whose groups are read only when Friedman's test rejects. ``folds_needed`` answers the question a
wide interval raises: how many folds, at how many seeds each, would resolve it?
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from itertools import combinations
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from adcore.row import Status

MAX_UNITS = 10_000  # units_needed searches n = 2 .. MAX_UNITS
NOT_REACHED = MAX_UNITS + 1  # what units_needed and folds_needed return when MAX_UNITS units are not enough
MIN_UNITS = 3  # the fewest units a marked difference rests on
_SAME = 1e-9  # units whose differences spread less than this (relative) all show the same difference


def _jsonable(value: Any) -> Any:
    """NaN as None (strict JSON has no NaN), tuples as lists."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (tuple, list)):
        return [_jsonable(item) for item in value]
    return value


@dataclass(frozen=True)
class PairedDifference:
    """``row − reference`` of one metric over the units both have; NaN where not computable (see note).
    A unit's difference is the mean over its nested observations (seeds) both rows finished."""

    row: str
    reference: str
    metric: str
    n: int  # matched units (folds with at least one seed finished on both sides)
    n_matched: int  # matched (unit, seed) observations the unit means average
    mean: float  # mean over units of the units' differences
    std: float  # sample std (ddof 1) of the units' differences
    between: float  # variance of the units' differences beyond their seeds' noise (NaN: one seed per unit)
    within: float  # variance of one seed's difference about its unit's mean, pooled (NaN: one seed per unit)
    seeds: float  # matched seeds per unit, on average
    confidence: float
    boot_low: float  # percentile bootstrap interval of the mean, resampling units
    boot_high: float
    t_low: float  # t interval of the mean over units
    t_high: float
    marked_confidence: float  # the level of the intervals the mark reads: widened for the rows compared
    marked_boot_low: float
    marked_boot_high: float
    marked_t_low: float
    marked_t_high: float
    p_wilcoxon: float  # two-sided signed-rank p over units; NaN where Holm's p could not reach 1 − confidence
    p_holm: float  # p_wilcoxon with Holm's correction over the rows of one paired_differences call
    resolved: bool  # marked: see the module docstring
    dropped: tuple[str, ...]  # (unit, seed) observations with a trial on either side but no usable value on both
    note: str  # why a value is NaN, or why the difference is not marked; "" when there is nothing to say

    def as_dict(self) -> dict[str, Any]:
        return {key: _jsonable(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class FriedmanResult:
    """Mean ranks of k rows over N units complete for all of them (rank 1 = highest metric); a unit's
    value is its mean over the nested observations (seeds) every row finished."""

    metric: str
    rows: tuple[str, ...]
    mean_ranks: tuple[float, ...]  # aligned with rows
    n: int  # complete units
    statistic: float  # Friedman chi-square (with scipy's tie correction)
    p: float
    alpha: float
    q_alpha: float  # Nemenyi critical value: studentized range quantile / sqrt(2)
    cd: float  # critical difference of mean ranks
    differing: tuple[tuple[str, str], ...]  # pairs whose mean ranks differ by more than cd (only if p < alpha)
    groups: tuple[tuple[str, ...], ...]  # maximal runs along the rank order spanning at most cd (only if p < alpha)
    dropped: tuple[str, ...]  # (unit, seed) observations incomplete for some row
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {key: _jsonable(value) for key, value in asdict(self).items()}


def unit_label(units: Sequence[str], key: Any) -> str:
    """``"data.fold=3, seed=0"`` for the unit key ``(3, 0)``."""
    values = key if isinstance(key, tuple) else (key,)
    return ", ".join(f"{column}={value}" for column, value in zip(units, values))


def _tables(frame: pd.DataFrame, rows: str, metric: str, units: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(values, present), both indexed by unit with a column per row: the metric where the trial is
    ok and not NaN (else NaN), and whether the row has a trial for the unit at all."""
    absent = [column for column in (rows, metric, "status", *units) if column not in frame]
    if absent:
        raise ValueError(f"the frame has no column {', '.join(map(repr, absent))}")
    index = pd.MultiIndex.from_frame(frame[[*units, rows]])
    repeated = index.duplicated(keep=False)
    if repeated.any():  # two trials for one unit: which to pair is the caller's decision
        first = index[repeated][0]
        raise ValueError(f"{rows}={first[-1]}: unit {unit_label(units, first[:-1])} appears "
                         f"{int((index == first).sum())} times")
    value = pd.to_numeric(frame[metric]).astype(float).where(frame["status"] == Status.OK).to_numpy()
    values = pd.Series(value, index=index).unstack(rows)  # (units, rows)
    present = pd.Series(True, index=index).unstack(rows, fill_value=False)
    return values, present


def _unit_codes(index: pd.Index, nested: Sequence[str]) -> np.ndarray:
    """(len(index),) int: the unit of each (unit..., nested...) observation, numbered in sorted order."""
    units = index.droplevel(list(nested)) if nested else index
    return pd.factorize(units, sort=True)[0]


def _row_order(frame: pd.DataFrame, rows: str, order: Sequence[str] | None) -> list:
    seen = list(dict.fromkeys(frame[rows]))
    if order is None:
        return seen
    unknown = [row for row in order if row not in seen]
    if unknown:
        raise ValueError(f"{rows}: no trial of {', '.join(map(str, unknown))}")
    return list(order)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: the i-th smallest of m p-values times (m − i + 1), made
    non-decreasing and capped at 1. NaNs pass through and do not count towards m."""
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    ranked = valid[np.argsort(p[valid], kind="stable")]
    m = ranked.size
    adjusted[ranked] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[ranked]))
    return adjusted.tolist()


def _wilcoxon(diffs: np.ndarray, alpha: float, rows_compared: int) -> tuple[float, str]:
    """Two-sided signed-rank p over the units' differences, or NaN and why: too few units, or too few
    non-zero differences for the exact p, times the rows compared as Holm's first step multiplies it, to
    reach alpha (a test that cannot succeed is not given)."""
    if diffs.size < 2:
        return math.nan, f"n = {diffs.size} matched unit(s): no interval or test"
    nonzero = int(np.count_nonzero(diffs))
    if nonzero == 0:
        return 1.0, "all differences are zero: p = 1"
    smallest = 2.0 / 2**nonzero  # every sign flip equally likely: the exact test's floor
    if smallest * rows_compared > alpha:
        corrected = (f", nor with Holm's correction over the {rows_compared} rows below {smallest * rows_compared:.3g}"
                     if smallest <= alpha else "")
        return math.nan, (f"{nonzero} unit(s) with a non-zero difference: the exact signed-rank p cannot go below "
                          f"{smallest:.3g}{corrected}, so no rank test is given (the intervals carry the comparison)")
    return float(stats.wilcoxon(diffs).pvalue), ""


def _per_unit(diffs: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """Matched differences (M,) and the unit each belongs to (M,) -> (the units' mean differences (U,), the
    pooled variance of one observation about its unit's mean, the variance of the units' differences beyond
    that noise, the mean number of observations per unit); both variances NaN with one observation per unit."""
    _, inverse = np.unique(unit, return_inverse=True)
    counts = np.bincount(inverse)  # (U,)
    means = np.bincount(inverse, weights=diffs) / counts if counts.size else np.empty(0)
    spread_df = int((counts - 1).sum())
    within = float(((diffs - means[inverse]) ** 2).sum() / spread_df) if spread_df else math.nan
    between = math.nan
    if means.size > 1 and math.isfinite(within):
        between = max(0.0, float(means.var(ddof=1)) - within * float((1.0 / counts).mean()))
    return means, within, between, float(counts.mean()) if counts.size else math.nan


def _intervals(resampled: np.ndarray, mean: float, std: float, n: int,
               levels: tuple[float, float]) -> tuple[tuple[float, ...], ...]:
    """Per level, (bootstrap low, high, t low, high) from the resampled means (n_boot,)."""
    tails = [(1.0 - level) / 2 for level in levels]
    quantiles = np.quantile(resampled, [q for tail in tails for q in (tail, 1.0 - tail)])
    halves = stats.t.ppf([1.0 - tail for tail in tails], n - 1) * std / math.sqrt(n)
    return tuple((float(quantiles[2 * i]), float(quantiles[2 * i + 1]), mean - float(half), mean + float(half))
                 for i, half in enumerate(halves))


def _difference(row: Any, reference: Any, metric: str, diffs: np.ndarray, unit: np.ndarray,
                dropped: tuple[str, ...], confidence: float, rows_compared: int, n_boot: int,
                seed: int) -> PairedDifference:
    means, within, between, seeds = _per_unit(diffs, unit)
    n, alpha = means.size, 1.0 - confidence
    marked_level = 1.0 - alpha / max(rows_compared, 1)
    mean = float(means.mean()) if n else math.nan
    std = float(means.std(ddof=1)) if n > 1 else math.nan
    shown = marked = (math.nan,) * 4
    if n > 1:
        rng = np.random.default_rng(seed)  # one generator per row: a row's interval does not depend on the others
        resampled = means[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)  # (n_boot,) means over units
        shown, marked = _intervals(resampled, mean, std, n, (confidence, marked_level))
    p, note = _wilcoxon(means, alpha, max(rows_compared, 1))
    notes = [note] if note else []
    if n > 1 and not _has_spread(std, mean):
        notes.append(f"every one of the {n} units shows the same difference: no spread to judge it by, not marked")
    if 1 < n < MIN_UNITS:
        notes.append(f"{n} units: a marked difference needs at least {MIN_UNITS}")
    note = "; ".join(notes)
    return PairedDifference(str(row), str(reference), metric, n, int(diffs.size), mean, std, between, within, seeds,
                            confidence, *shown, marked_level, *marked, p, math.nan, False, dropped, note)


def _has_spread(std: float, mean: float) -> bool:
    """Whether the units' differences differ at all (False for NaN): identical ones give nothing to judge by."""
    return std > _SAME * max(1.0, abs(mean))


def _marked(d: PairedDifference) -> bool:
    """Both widened intervals exclude 0 over enough units with spread, and Holm's p (where given) agrees."""
    excluded = all(low > 0 or high < 0 for low, high in ((d.marked_boot_low, d.marked_boot_high),
                                                         (d.marked_t_low, d.marked_t_high)))  # NaN compares False
    return excluded and _has_spread(d.std, d.mean) and d.n >= MIN_UNITS and not d.p_holm >= 1.0 - d.confidence


def paired_differences(frame: pd.DataFrame, rows: str, reference: str, metric: str, units: Sequence[str], *,
                       nested: Sequence[str] = (), order: Sequence[str] | None = None, confidence: float = 0.95,
                       n_boot: int = 10_000, seed: int = 0) -> list[PairedDifference]:
    """Each row's difference ``row − reference`` in ``metric`` over the units usable on both sides.

    ``units`` are the columns naming a unit (the folds), ``nested`` the columns of observations within a
    unit (the seeds), averaged over the ones both rows finished. Rows come in ``order`` or, by default, in
    the frame's first-appearance order; the reference is left out. An observation with two trials for one
    row (whatever their status) raises ValueError. Holm's correction and the widening of the marked
    intervals run over the rows returned by this one call."""
    if not units:
        raise ValueError("paired_differences needs at least one unit column")
    observations = [*units, *nested]
    values, present = _tables(frame, rows, metric, observations)
    names = [row for row in _row_order(frame, rows, order) if row != reference]
    if reference not in values:
        raise ValueError(f"{rows}: no trial of the reference {reference}")
    unit = _unit_codes(values.index, nested)  # (observations,) which unit each row of the tables is in
    value, has = values.to_numpy(), present.to_numpy()  # (observations, rows)
    column = {name: i for i, name in enumerate(values.columns)}
    base, base_has = value[:, column[reference]], has[:, column[reference]]
    out = []
    for row in names:
        mine = value[:, column[row]]
        both = ~np.isnan(mine) & ~np.isnan(base)
        lost = (has[:, column[row]] | base_has) & ~both
        diffs = (mine - base)[both]
        dropped = tuple(unit_label(observations, key) for key in values.index[lost])
        out.append(_difference(row, reference, metric, diffs, unit[both], dropped, confidence, len(names), n_boot,
                               seed))
    adjusted = holm([difference.p_wilcoxon for difference in out])
    out = [replace(difference, p_holm=p) for difference, p in zip(out, adjusted)]
    return [replace(difference, resolved=_marked(difference)) for difference in out]


def _power(n: np.ndarray, sd: float, delta: float, alpha: float) -> np.ndarray:
    """Power of the two-sided paired t-test with n units: P(|T| > t crit) for T ~ noncentral t."""
    df = n - 1
    critical = stats.t.ppf(1.0 - alpha / 2, df)
    shift = abs(delta) / sd * np.sqrt(n)
    return stats.nct.sf(critical, df, shift) + stats.nct.cdf(-critical, df, shift)


def units_needed(sd: float, delta: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """The fewest matched units (n ≥ 2) with which a two-sided paired t-test at ``alpha`` detects a
    true mean difference ``delta`` with probability ``power``, given the per-unit differences' std
    ``sd`` (e.g. a PairedDifference's std). Exact, via the noncentral t distribution. Returns
    NOT_REACHED when MAX_UNITS units are not enough (delta = 0 never is)."""
    if not (math.isfinite(sd) and sd >= 0 and math.isfinite(delta)):
        raise ValueError(f"sd must be finite and ≥ 0 and delta finite, got sd={sd}, delta={delta}")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must lie in (0, 1), got {alpha}, {power}")
    if delta == 0:
        return NOT_REACHED
    if sd == 0:
        return 2  # every unit shows the difference exactly
    start = 2
    while start <= MAX_UNITS:  # upward in blocks of growing size, vectorised within a block
        n = np.arange(start, min(4 * start, MAX_UNITS + 1))
        enough = np.flatnonzero(_power(n, sd, delta, alpha) >= power)
        if enough.size:
            return int(n[enough[0]])
        start = int(n[-1]) + 1
    return NOT_REACHED


def folds_needed(between: float, within: float, seeds: int, delta: float, *, alpha: float = 0.05,
                 power: float = 0.8) -> int:
    """The fewest units (folds, at least MIN_UNITS) with ``seeds`` seeds each with which a paired t-test
    over the units' mean differences at ``alpha`` detects a true difference ``delta`` with probability
    ``power``: a unit's mean difference then has variance ``between + within / seeds`` (a
    PairedDifference's components). More seeds shrink only the second term, so no number of seeds
    brings the folds needed below the count at ``between`` alone. NOT_REACHED beyond MAX_UNITS."""
    if seeds < 1:
        raise ValueError(f"seeds must be ≥ 1, got {seeds}")
    if not (math.isfinite(between) and between >= 0 and math.isfinite(within) and within >= 0):
        raise ValueError(f"between and within must be finite variances ≥ 0, got {between}, {within}")
    needed = units_needed(math.sqrt(between + within / seeds), delta, alpha=alpha, power=power)
    return NOT_REACHED if needed == NOT_REACHED else max(MIN_UNITS, needed)


@lru_cache(maxsize=None)
def nemenyi_q(k: int, alpha: float = 0.05) -> float:
    """Nemenyi's critical value for k rows: the studentized range quantile at infinite degrees of
    freedom over sqrt(2) (Demšar 2006, Table 5; 2.343 for k = 3 at alpha 0.05)."""
    return float(stats.studentized_range.ppf(1.0 - alpha, k, np.inf)) / math.sqrt(2)


def _groups(names: list, ranks: np.ndarray, cd: float) -> tuple[tuple[str, ...], ...]:
    """Maximal runs of rows, in rank order, whose mean ranks span at most cd (Demšar's thick bars)."""
    order = np.argsort(ranks, kind="stable")
    sorted_ranks = ranks[order]
    ends = [int(np.searchsorted(sorted_ranks, rank + cd, side="right")) - 1 for rank in sorted_ranks]
    return tuple(tuple(str(names[i]) for i in order[start:end + 1]) for start, end in enumerate(ends)
                 if end > start and (start == 0 or end > ends[start - 1]))


def friedman(frame: pd.DataFrame, rows: str, metric: str, units: Sequence[str], *, nested: Sequence[str] = (),
             alpha: float = 0.05, order: Sequence[str] | None = None) -> FriedmanResult:
    """Rank the rows within each unit (higher metric = rank 1, ties share the average rank), a unit's
    value being its mean over the nested observations complete for every row; then the Friedman test
    on the ranks and the Nemenyi critical difference CD = q_alpha sqrt(k (k + 1) / (6 N)). As Demšar
    reads them, the pairs beyond CD and the groups within it are given only when Friedman's p < alpha;
    where N units cannot bring p below alpha (every unit ranking the rows alike), no test is given."""
    observations = [*units, *nested]
    values, present = _tables(frame, rows, metric, observations)
    names = _row_order(frame, rows, order)
    value, has = values[names].to_numpy(), present[names].to_numpy()  # (observations, k rows)
    complete = ~np.isnan(value).any(axis=1)
    dropped = tuple(unit_label(observations, key) for key in values.index[has.any(axis=1) & ~complete])
    _, unit = np.unique(_unit_codes(values.index, nested)[complete], return_inverse=True)
    counts = np.bincount(unit, minlength=unit.max() + 1 if unit.size else 0)  # complete seeds per unit
    table = np.stack([np.bincount(unit, weights=column, minlength=counts.size) for column in value[complete].T],
                     axis=1) / counts[:, None] if unit.size else np.empty((0, len(names)))  # (N units, k rows)
    n, k = table.shape
    ranks = stats.rankdata(-table, axis=1) if n else np.full((1, k), np.nan)  # (N, k), 1 = best
    mean_ranks = ranks.mean(axis=0)
    statistic = p = q = cd = math.nan
    note = ""
    if k < 3 or n < 2:
        note = f"Friedman needs ≥ 3 rows and ≥ 2 complete units, has {k} and {n}"
    elif (smallest := float(stats.chi2.sf(n * (k - 1), k - 1))) > alpha:
        note = f"with {n} units and {k} rows Friedman's p cannot go below {smallest:.3g}, so no test is given"
    elif (ranks == ranks[:, :1]).all():
        statistic, p, note = 0.0, 1.0, "all rows tie in every unit: p = 1"
    else:
        statistic, p = (float(x) for x in stats.friedmanchisquare(*table.T))
    if k >= 2 and n >= 1:
        q = nemenyi_q(k, alpha)
        cd = q * math.sqrt(k * (k + 1) / (6 * n))
    rejected = p < alpha  # NaN compares False
    differing = tuple((str(names[i]), str(names[j])) for i, j in combinations(range(k), 2)
                      if rejected and abs(mean_ranks[i] - mean_ranks[j]) > cd)
    groups = _groups(names, mean_ranks, cd) if rejected and math.isfinite(cd) else ()
    return FriedmanResult(metric, tuple(map(str, names)), tuple(float(r) for r in mean_ranks), n, statistic, p,
                          alpha, q, cd, differing, groups, dropped, note)
