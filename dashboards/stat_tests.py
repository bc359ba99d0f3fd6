"""Is the difference between two rows of a table real? Paired tests over matched units.

Every table row (an arm, a method) is run on the same units: (fold, seed) pairs. Comparing rows unit
by unit removes the spread that folds and seeds share, so a row's difference to a reference row is
taken per unit and summarised with a bootstrap and a t interval, a Wilcoxon signed-rank p and Holm's
correction over the rows compared. A unit that failed or is missing on either side is dropped and
named, never imputed: an imputed value would make a difference look surer than the trials show.

Input is a tidy frame of trial rows: a row-label column, unit columns, ``status`` (only ``"ok"``
rows count) and numeric metric columns (fractions in [0, 1]; scaling is the caller's).

For more than two rows, ``friedman`` is the field's standard comparison (Demšar 2006, JMLR 7:1-30;
as ADBench draws it): mean ranks over units, the Friedman test, and the Nemenyi critical difference.
``units_needed`` answers the question a wide interval raises: how many units would resolve it?
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from itertools import combinations
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from adcore.row import Status

MAX_UNITS = 10_000  # units_needed searches n = 2 .. MAX_UNITS
NOT_REACHED = MAX_UNITS + 1  # what units_needed and seeds_needed return when MAX_UNITS units are not enough


def _jsonable(value: Any) -> Any:
    """NaN as None (strict JSON has no NaN), tuples as lists."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (tuple, list)):
        return [_jsonable(item) for item in value]
    return value


@dataclass(frozen=True)
class PairedDifference:
    """``row − reference`` of one metric over the units both have; NaN where not computable (see note)."""

    row: str
    reference: str
    metric: str
    n: int  # matched units
    mean: float
    std: float  # sample std (ddof 1) of the per-unit differences
    confidence: float
    boot_low: float  # percentile bootstrap interval of the mean, resampling units
    boot_high: float
    t_low: float  # t interval of the mean
    t_high: float
    p_wilcoxon: float  # two-sided signed-rank p
    p_holm: float  # p_wilcoxon with Holm's correction over the rows of one paired_differences call
    resolved: bool  # both intervals exclude 0
    dropped: tuple[str, ...]  # units with a trial on either side but no usable value on both
    note: str  # why a value is NaN or cannot be small; "" when there is nothing to say

    def as_dict(self) -> dict[str, Any]:
        return {key: _jsonable(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class FriedmanResult:
    """Mean ranks of k rows over N units complete for all of them (rank 1 = highest metric)."""

    metric: str
    rows: tuple[str, ...]
    mean_ranks: tuple[float, ...]  # aligned with rows
    n: int  # complete units
    statistic: float  # Friedman chi-square (with scipy's tie correction)
    p: float
    alpha: float
    q_alpha: float  # Nemenyi critical value: studentized range quantile / sqrt(2)
    cd: float  # critical difference of mean ranks
    differing: tuple[tuple[str, str], ...]  # pairs whose mean ranks differ by more than cd
    groups: tuple[tuple[str, ...], ...]  # maximal runs along the rank order spanning at most cd, best first
    dropped: tuple[str, ...]  # units incomplete for some row
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
    keys = [rows, *units]
    repeated = frame[frame.duplicated(keys, keep=False)]
    if not repeated.empty:  # two trials for one unit: which to pair is the caller's decision
        first = repeated.iloc[0]
        raise ValueError(f"{rows}={first[rows]}: unit {unit_label(units, tuple(first[list(units)]))} appears "
                         f"{int((repeated[keys] == first[keys]).all(axis=1).sum())} times")
    value = pd.to_numeric(frame[metric]).astype(float).where(frame["status"] == Status.OK)
    tidy = frame[keys].assign(_value=value, _present=True)
    values = tidy.pivot(index=list(units), columns=rows, values="_value")
    present = tidy.pivot(index=list(units), columns=rows, values="_present").notna()
    return values, present


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


def _wilcoxon(diffs: np.ndarray, alpha: float) -> tuple[float, str]:
    """Two-sided signed-rank p and a note where it is NaN, fixed or cannot reach alpha."""
    if diffs.size < 2:
        return math.nan, f"n = {diffs.size} matched unit(s): no interval or test"
    nonzero = int(np.count_nonzero(diffs))
    if nonzero == 0:
        return 1.0, "all differences are zero: p = 1"
    smallest = 2.0 / 2**nonzero  # every sign flip equally likely: the exact test's floor
    note = "" if smallest <= alpha else f"{nonzero} non-zero differences: the exact p cannot go below {smallest:.3g}"
    return float(stats.wilcoxon(diffs).pvalue), note


def _difference(row: Any, reference: Any, metric: str, diffs: np.ndarray, dropped: tuple[str, ...],
                confidence: float, n_boot: int, seed: int) -> PairedDifference:
    n, tail = diffs.size, (1.0 - confidence) / 2
    mean = float(diffs.mean()) if n else math.nan
    std = float(diffs.std(ddof=1)) if n > 1 else math.nan
    boot = t_interval = (math.nan, math.nan)
    if n > 1:
        rng = np.random.default_rng(seed)  # one generator per row: a row's interval does not depend on the others
        means = diffs[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)  # (n_boot,) resampled means
        boot = tuple(float(q) for q in np.quantile(means, [tail, 1.0 - tail]))
        half = float(stats.t.ppf(1.0 - tail, n - 1)) * std / math.sqrt(n)
        t_interval = (mean - half, mean + half)
    p, note = _wilcoxon(diffs, 1.0 - confidence)
    resolved = all(low > 0 or high < 0 for low, high in (boot, t_interval))  # NaN compares False
    return PairedDifference(str(row), str(reference), metric, n, mean, std, confidence, *boot, *t_interval, p,
                            math.nan, resolved, dropped, note)


def paired_differences(frame: pd.DataFrame, rows: str, reference: str, metric: str, units: Sequence[str], *,
                       order: Sequence[str] | None = None, confidence: float = 0.95, n_boot: int = 10_000,
                       seed: int = 0) -> list[PairedDifference]:
    """Each row's difference ``row − reference`` in ``metric`` over the units usable on both sides.

    Rows come in ``order`` or, by default, in the frame's first-appearance order; the reference is
    left out. A unit with two trials for one row (whatever their status) raises ValueError. Holm's
    correction runs over the rows returned by this one call."""
    values, present = _tables(frame, rows, metric, units)
    names = [row for row in _row_order(frame, rows, order) if row != reference]
    if reference not in values:
        raise ValueError(f"{rows}: no trial of the reference {reference}")
    out = []
    for row in names:
        both = values[row].notna() & values[reference].notna()
        lost = (present[row] | present[reference]) & ~both
        diffs = (values[row] - values[reference])[both].to_numpy()
        dropped = tuple(unit_label(units, key) for key in values.index[lost])
        out.append(_difference(row, reference, metric, diffs, dropped, confidence, n_boot, seed))
    adjusted = holm([difference.p_wilcoxon for difference in out])
    return [replace(difference, p_holm=p) for difference, p in zip(out, adjusted)]


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


def seeds_needed(sd: float, delta: float, units_per_seed: int, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """units_needed in seeds, when one seed contributes ``units_per_seed`` units (the folds)."""
    if units_per_seed < 1:
        raise ValueError(f"units_per_seed must be ≥ 1, got {units_per_seed}")
    units = units_needed(sd, delta, alpha=alpha, power=power)
    return NOT_REACHED if units == NOT_REACHED else math.ceil(units / units_per_seed)


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


def friedman(frame: pd.DataFrame, rows: str, metric: str, units: Sequence[str], *, alpha: float = 0.05,
             order: Sequence[str] | None = None) -> FriedmanResult:
    """Rank the rows within each unit complete for all of them (higher metric = rank 1, ties share
    the average rank), then the Friedman test on the ranks and the Nemenyi critical difference
    CD = q_alpha sqrt(k (k + 1) / (6 N)). Demšar reads ``differing`` only after Friedman's p < alpha."""
    values, present = _tables(frame, rows, metric, units)
    names = _row_order(frame, rows, order)
    values, present = values[names], present[names]
    complete = values.notna().all(axis=1)
    dropped = tuple(unit_label(units, key) for key in values.index[present.any(axis=1) & ~complete])
    table = values[complete].to_numpy()  # (N units, k rows)
    n, k = table.shape
    ranks = stats.rankdata(-table, axis=1) if n else np.full((1, k), np.nan)  # (N, k), 1 = best
    mean_ranks = ranks.mean(axis=0)
    statistic = p = q = cd = math.nan
    note = ""
    if k < 3 or n < 2:
        note = f"Friedman needs ≥ 3 rows and ≥ 2 complete units, has {k} and {n}"
    elif (ranks == ranks[:, :1]).all():
        statistic, p, note = 0.0, 1.0, "all rows tie in every unit: p = 1"
    else:
        statistic, p = (float(x) for x in stats.friedmanchisquare(*table.T))
    if k >= 2 and n >= 1:
        q = nemenyi_q(k, alpha)
        cd = q * math.sqrt(k * (k + 1) / (6 * n))
    differing = tuple((str(names[i]), str(names[j])) for i, j in combinations(range(k), 2)
                      if abs(mean_ranks[i] - mean_ranks[j]) > cd)
    groups = _groups(names, mean_ranks, cd) if math.isfinite(cd) else ()
    return FriedmanResult(metric, tuple(map(str, names)), tuple(float(r) for r in mean_ranks), n, statistic, p,
                          alpha, q, cd, differing, groups, dropped, note)
