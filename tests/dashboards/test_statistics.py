"""dashboards/stat_tests.py against scipy and hand-computed values, its figures drawn on a realistic
table (7 arms × 5 folds × 2 seeds), and the table's `*` under simulated nulls with a fold effect: over
folds (seeds nested) and corrected for the rows compared, it marks about the 5 % it promises."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dashboards.significance import significance
from dashboards.stat_tests import (NOT_REACHED, folds_needed, friedman, holm, nemenyi_q, paired_differences,
                                   units_needed)
from dashboards.stat_plots import cd_diagram, interval_plot
from studyspec.schema import Study

UNITS = ["data.fold", "seed"]  # every (fold, seed) a unit of its own: the arithmetic against scipy
KEYS = [(fold, seed) for fold in range(5) for seed in range(2)]  # the order pivot sorts units in
BASE = np.array([0.81, 0.79, 0.84, 0.86, 0.77, 0.80, 0.90, 0.88, 0.83, 0.85])  # arm a, per unit
DIFF = {"b": np.array([0.02, 0.03, 0.01, 0.04, 0.02, 0.03, 0.05, 0.01, 0.02, 0.03]),  # clearly above a
        "c": np.array([0.01, -0.02, 0.03, -0.01, 0.00, 0.02, -0.03, 0.01, -0.01, 0.02])}  # no clear sign


def _frame(values: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame([{"arm": arm, "data.fold": fold, "seed": seed, "status": "ok", "test_ap": value}
                         for arm, column in values.items() for (fold, seed), value in zip(KEYS, column)])


def _known() -> pd.DataFrame:
    """Arms c, a, b in that order: a is the reference, so the rows come back as c, b."""
    return _frame({"c": BASE + DIFF["c"], "a": BASE, "b": BASE + DIFF["b"]})


def _row(frame: pd.DataFrame, arm: str, fold: int, seed: int) -> pd.Series:
    return (frame["arm"] == arm) & (frame["data.fold"] == fold) & (frame["seed"] == seed)


def test_paired_differences_match_scipy() -> None:
    out = paired_differences(_known(), "arm", "a", "test_ap", UNITS)
    assert [d.row for d in out] == ["c", "b"]
    for d in out:
        diffs = DIFF[d.row]
        t_test = stats.ttest_rel(BASE + diffs, BASE)
        assert (d.n, d.reference, d.dropped, d.note) == (10, "a", (), "")
        assert d.mean == pytest.approx(diffs.mean(), abs=1e-12)
        assert d.std == pytest.approx(diffs.std(ddof=1), abs=1e-12)
        assert (d.t_low, d.t_high) == pytest.approx(tuple(t_test.confidence_interval(0.95)), abs=1e-12)
        assert d.p_wilcoxon == pytest.approx(stats.wilcoxon(diffs).pvalue, rel=1e-12)
        boot = stats.bootstrap((diffs,), np.mean, n_resamples=10_000, method="percentile", rng=1)
        width = boot.confidence_interval.high - boot.confidence_interval.low
        assert d.boot_low == pytest.approx(boot.confidence_interval.low, abs=0.05 * width)
        assert d.boot_high == pytest.approx(boot.confidence_interval.high, abs=0.05 * width)
        assert d.boot_low < d.mean < d.boot_high
    assert [d.p_holm for d in out] == pytest.approx(holm([d.p_wilcoxon for d in out]))
    c, b = out
    assert b.resolved and b.boot_low > 0 and b.t_low > 0
    assert not c.resolved and c.t_low < 0 < c.t_high
    assert b.as_dict()["dropped"] == [] and b.as_dict()["p_holm"] == b.p_holm


def test_bootstrap_is_seeded_and_independent_of_other_rows() -> None:
    first = paired_differences(_realistic(), "arm", "a1", "test_ap", UNITS, seed=7)
    again = paired_differences(_realistic(), "arm", "a1", "test_ap", UNITS, order=["a3"], seed=7)
    other = paired_differences(_realistic(), "arm", "a1", "test_ap", UNITS, seed=8)
    assert (first[1].boot_low, first[1].boot_high) == (again[0].boot_low, again[0].boot_high)
    assert (first[1].boot_low, first[1].boot_high) != (other[1].boot_low, other[1].boot_high)


def test_holm_by_hand() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])  # 3·0.01, 2·0.03, max(1·0.04, 0.06)
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1, then kept non-decreasing
    adjusted = holm([0.02, math.nan, 0.5])  # a NaN neither counts nor moves
    assert adjusted[0] == pytest.approx(0.04) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.5)
    assert holm([]) == []


def test_a_failed_or_missing_unit_is_dropped_from_its_pairs_only() -> None:
    frame = _known()
    frame.loc[_row(frame, "b", 3, 0), "status"] = "failed"
    frame.loc[_row(frame, "c", 1, 1), "test_ap"] = math.nan
    frame = frame[~_row(frame, "c", 4, 1)]  # a trial that never wrote its row
    c, b = paired_differences(frame, "arm", "a", "test_ap", UNITS)
    assert (b.n, b.dropped) == (9, ("data.fold=3, seed=0",))
    assert b.mean == pytest.approx(np.delete(DIFF["b"], KEYS.index((3, 0))).mean(), abs=1e-12)  # not imputed
    assert (c.n, c.dropped) == (8, ("data.fold=1, seed=1", "data.fold=4, seed=1"))
    kept = np.delete(DIFF["c"], [KEYS.index((1, 1)), KEYS.index((4, 1))])
    assert c.mean == pytest.approx(kept.mean(), abs=1e-12)
    assert c.p_wilcoxon == pytest.approx(stats.wilcoxon(kept).pvalue)


def test_a_failed_reference_unit_is_dropped_for_every_row() -> None:
    frame = _known()
    frame.loc[_row(frame, "a", 0, 1), "status"] = "failed"
    out = paired_differences(frame, "arm", "a", "test_ap", UNITS)
    assert [(d.n, d.dropped) for d in out] == [(9, ("data.fold=0, seed=1",))] * 2


def test_a_duplicate_unit_raises_and_names_it() -> None:
    frame = _known()
    frame = pd.concat([frame, frame[_row(frame, "b", 2, 1)]])
    with pytest.raises(ValueError, match=r"arm=b: unit data.fold=2, seed=1 appears 2 times"):
        paired_differences(frame, "arm", "a", "test_ap", UNITS)


def test_degenerate_differences_say_why() -> None:
    one = _frame({"a": BASE[:1], "b": BASE[:1] + 0.01})
    (d,) = paired_differences(one, "arm", "a", "test_ap", UNITS)
    assert d.n == 1 and math.isnan(d.p_wilcoxon) and math.isnan(d.t_low) and not d.resolved
    assert "n = 1" in d.note and d.as_dict()["p_wilcoxon"] is None
    (zero,) = paired_differences(_frame({"a": BASE, "b": BASE}), "arm", "a", "test_ap", UNITS)
    assert zero.p_wilcoxon == 1.0 and zero.mean == 0.0 and not zero.resolved
    few = _frame({"a": BASE[:4], "b": BASE[:4] + DIFF["b"][:4]})
    (four,) = paired_differences(few, "arm", "a", "test_ap", UNITS)
    assert math.isnan(four.p_wilcoxon) and math.isnan(four.p_holm)  # 2 / 2**4 is its floor: a test that cannot succeed
    assert "exact signed-rank p cannot go below 0.125, so no rank test is given" in four.note
    assert four.resolved and four.boot_low > 0  # the intervals still carry the comparison


def _ranked() -> pd.DataFrame:
    """Four arms over six folds (one seed); z failed on fold 5, and w and x tie on fold 1."""
    table = {"w": [0.90, 0.88, 0.70, 0.91, 0.95, 0.9], "x": [0.85, 0.88, 0.90, 0.80, 0.90, 0.8],
             "y": [0.80, 0.70, 0.80, 0.75, 0.60, 0.7], "z": [0.70, 0.60, 0.60, 0.85, 0.62, 0.5]}
    frame = pd.DataFrame([{"arm": arm, "data.fold": fold, "seed": 0, "status": "ok", "test_ap": value}
                          for arm, column in table.items() for fold, value in enumerate(column)])
    frame.loc[(frame["arm"] == "z") & (frame["data.fold"] == 5), "status"] = "failed"
    return frame


def test_friedman_ranks_by_hand_and_statistic_as_scipy() -> None:
    result = friedman(_ranked(), "arm", "test_ap", UNITS, alpha=0.10)
    # ranks per fold 0..4 (1 = highest): w 1, 1.5, 3, 1, 1; x 2, 1.5, 1, 3, 2; y 3, 3, 2, 4, 4; z 4, 4, 4, 2, 3
    assert result.rows == ("w", "x", "y", "z")
    assert result.mean_ranks == pytest.approx((1.5, 1.9, 3.2, 3.4))
    assert (result.n, result.dropped, result.note) == (5, ("data.fold=5, seed=0",), "")
    complete = _ranked().pivot(index="data.fold", columns="arm", values="test_ap").loc[:4]
    expected = stats.friedmanchisquare(*(complete[arm] for arm in "wxyz"))
    assert (result.statistic, result.p) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)
    assert result.q_alpha == pytest.approx(2.291, abs=1e-3)  # Demšar 2006, Table 5(b), k = 4
    assert result.cd == pytest.approx(2.291 * math.sqrt(4 * 5 / (6 * 5)), abs=1e-3)  # 1.871
    assert result.differing == (("w", "z"),)  # 3.4 − 1.5 = 1.9 > CD; w−y 1.7 is not
    assert result.groups == (("w", "x", "y"), ("x", "y", "z"))


def test_friedman_says_why_it_is_not_computed() -> None:
    two = friedman(_ranked(), "arm", "test_ap", UNITS, order=["w", "x"])
    assert math.isnan(two.p) and "≥ 3 rows" in two.note and two.as_dict()["p"] is None
    assert (two.n, two.dropped) == (6, ())  # without z, fold 5 is complete
    assert two.cd == pytest.approx(1.960 * math.sqrt(2 * 3 / (6 * 6)), abs=1e-3)  # CD needs only k ≥ 2
    tied = _frame({"a": BASE, "b": BASE, "c": BASE})
    assert friedman(tied, "arm", "test_ap", UNITS).p == 1.0


@pytest.mark.parametrize("alpha, table", [
    (0.05, [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]),
    (0.10, [1.645, 2.052, 2.291, 2.459, 2.589, 2.693, 2.780, 2.855, 2.920])])
def test_nemenyi_q_matches_demsar_table(alpha: float, table: list[float]) -> None:
    assert [nemenyi_q(k, alpha) for k in range(2, 11)] == pytest.approx(table, abs=1e-3)


def _power(n: int, sd: float, delta: float, alpha: float = 0.05) -> float:
    critical = stats.t.ppf(1 - alpha / 2, n - 1)
    shift = delta / sd * math.sqrt(n)
    return stats.nct.sf(critical, n - 1, shift) + stats.nct.cdf(-critical, n - 1, shift)


def test_units_needed_small_case_by_noncentral_t() -> None:
    n = units_needed(1.0, 1.0)
    assert n == 10  # R: power.t.test(delta = 1, sd = 1, power = 0.8, type = "paired") gives 9.94 pairs
    assert _power(n, 1.0, 1.0) >= 0.8 > _power(n - 1, 1.0, 1.0)
    assert units_needed(1.0, -1.0) == n  # two-sided


def test_folds_needed_splits_the_spread_into_fold_and_seed_parts() -> None:
    # a fold's mean over s seeds varies by between + within / s: 0.5 + 0.5 / 1 = 1, as units_needed(1, 1)
    assert folds_needed(0.5, 0.5, 1, 1.0) == units_needed(1.0, 1.0) == 10
    assert folds_needed(0.5, 0.5, 4, 1.0) == units_needed(math.sqrt(0.5 + 0.5 / 4), 1.0)
    assert folds_needed(0.5, 0.5, 1000, 1.0) >= folds_needed(0.5, 0.0, 1, 1.0)  # seeds never remove the fold part
    assert folds_needed(0.0, 0.0, 1, 1.0) == 3  # no spread at all: still the fewest units a mark rests on
    assert folds_needed(0.5, 0.5, 2, 0.0) == NOT_REACHED
    with pytest.raises(ValueError):
        folds_needed(0.5, 0.5, 0, 1.0)


def test_units_needed_near_the_normal_approximation_and_monotone() -> None:
    sd, delta = 0.02, 0.004  # 2 points of AP spread, a 0.4-point effect
    normal = ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * sd / delta) ** 2  # 196.2
    assert 0 <= units_needed(sd, delta) - math.ceil(normal) <= 3
    by_delta = [units_needed(sd, delta) for delta in (0.002, 0.004, 0.008, 0.016, 0.032)]
    by_sd = [units_needed(sd, 0.004) for sd in (0.005, 0.01, 0.02, 0.04)]
    assert by_delta == sorted(by_delta, reverse=True) and len(set(by_delta)) == len(by_delta)
    assert by_sd == sorted(by_sd) and len(set(by_sd)) == len(by_sd)
    assert units_needed(sd, 0.0) == NOT_REACHED == units_needed(sd, 1e-5)
    with pytest.raises(ValueError):
        units_needed(-1.0, 0.1)


def _realistic() -> pd.DataFrame:
    """7 arms × 5 folds × 2 seeds: a fold effect shared by the arms, arm effects of −2..+2 points,
    noise of 1 point; a2 failed once."""
    rng = np.random.default_rng(3)
    shifts = {"a1": 0, "a2": 0.02, "a3": -0.005, "a4 (longer name)": 0.004, "a5": 0.01, "a6": -0.02, "a7": 0.0}
    fold = rng.normal(0, 0.02, size=5)
    frame = pd.DataFrame([{"arm": arm, "data.fold": f, "seed": s, "status": "ok",
                           "test_ap": 0.8 + shift + fold[f] + rng.normal(0, 0.01)}
                          for arm, shift in shifts.items() for f, s in KEYS])
    frame.loc[_row(frame, "a2", 3, 0), "status"] = "failed"
    return frame


def test_interval_plot_draws_each_row(tmp_path: Path) -> None:
    out = paired_differences(_realistic(), "arm", "a1", "test_ap", UNITS)
    fig = interval_plot(out, "(fold, seed) units", "test AP")
    ax = fig.axes[0]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["a2", "a3", "a4 (longer name)", "a5", "a6", "a7"]
    right = [label.get_text() for label in ax.child_axes[0].get_yticklabels()]
    assert right[0].startswith("n=9  Holm p") and all(text.startswith("n=10  Holm p") for text in right[1:])
    hollow = [line for line in ax.get_lines() if line.get_marker() == "o" and line.get_markerfacecolor() == "white"]
    assert len(hollow) == sum(not d.resolved for d in out) and 0 < len(hollow) < len(out)
    fig.savefig(tmp_path / "intervals.png")
    assert matplotlib.image.imread(tmp_path / "intervals.png").shape[0] > 100
    with pytest.raises(ValueError):
        interval_plot([], "units", "test AP")


def test_cd_diagram_draws_each_row(tmp_path: Path) -> None:
    result = friedman(_realistic(), "arm", "test_ap", UNITS)
    fig = cd_diagram(result, "test AP")
    texts = [text.get_text() for text in fig.axes[0].texts]
    for name, rank in zip(result.rows, result.mean_ranks):
        assert texts.count(f"{name} ({rank:.2f})") == 1
    assert [text for text in texts if text.isdigit()] == [str(k) for k in range(1, 8)]
    assert f"CD = {result.cd:.2f}" in texts and len(texts) == 7 + 7 + 1
    assert "Friedman p" in fig.get_suptitle() and result.groups
    fig.savefig(tmp_path / "cd.png")
    assert matplotlib.image.imread(tmp_path / "cd.png").shape[0] > 100


# --- folds as units, seeds nested ---------------------------------------------------------------------

def test_seeds_are_averaged_within_a_fold_and_the_folds_are_the_units() -> None:
    frame = _known()
    frame.loc[_row(frame, "b", 3, 0), "status"] = "failed"  # fold 3 keeps b's seed 1
    c, b = paired_differences(frame, "arm", "a", "test_ap", ["data.fold"], nested=["seed"])
    per_fold = DIFF["b"].reshape(5, 2).mean(axis=1)
    per_fold[3] = DIFF["b"][KEYS.index((3, 1))]
    assert (b.n, b.n_matched, b.dropped) == (5, 9, ("data.fold=3, seed=0",)) and b.seeds == pytest.approx(1.8)
    assert b.mean == pytest.approx(per_fold.mean(), abs=1e-12) and b.std == pytest.approx(per_fold.std(ddof=1))
    t_test = stats.ttest_1samp(per_fold, 0.0)
    assert (b.t_low, b.t_high) == pytest.approx(tuple(t_test.confidence_interval(0.95)), abs=1e-12)
    # within: the seeds' pooled variance about their fold's mean (4 folds with two seeds: 4 degrees of freedom)
    pairs = np.delete(DIFF["b"].reshape(5, 2), 3, axis=0)
    within = ((pairs - pairs.mean(axis=1, keepdims=True)) ** 2).sum() / 4
    assert b.within == pytest.approx(within)
    assert b.between == pytest.approx(max(0.0, per_fold.var(ddof=1) - within * np.mean([0.5] * 4 + [1.0])))
    assert math.isnan(b.p_wilcoxon) and "cannot go below 0.0625" in b.note  # 5 folds: no rank test
    assert c.n == 5 and c.mean == pytest.approx(DIFF["c"].reshape(5, 2).mean(axis=1).mean(), abs=1e-12)


def test_the_marked_intervals_are_widened_for_the_rows_compared() -> None:
    out = paired_differences(_realistic(), "arm", "a1", "test_ap", ["data.fold"], nested=["seed"])
    assert len(out) == 6 and all(d.marked_confidence == pytest.approx(1 - 0.05 / 6) for d in out)
    for d in out:
        half = stats.t.ppf(1 - 0.05 / 12, d.n - 1) * d.std / math.sqrt(d.n)
        assert (d.marked_t_low, d.marked_t_high) == pytest.approx((d.mean - half, d.mean + half))
        assert d.marked_boot_low <= d.boot_low and d.boot_high <= d.marked_boot_high
        excluded = [low > 0 or high < 0 for low, high in ((d.marked_boot_low, d.marked_boot_high),
                                                          (d.marked_t_low, d.marked_t_high))]
        assert d.resolved == all(excluded)  # 5 folds: no Holm p to agree with, and every row has spread
    assert any(d.boot_low > 0 and not d.resolved for d in out)  # 95 % on its own, not for the 6 rows together


def test_a_difference_without_spread_or_with_fewer_than_3_units_is_never_marked() -> None:
    two = _frame({"a": BASE[:2], "b": BASE[:2] + 0.01})  # n = 2, identical differences: Wilcoxon p = 0.5 before
    (d,) = paired_differences(two, "arm", "a", "test_ap", UNITS)
    assert d.n == 2 and not d.resolved and "no spread" in d.note and "at least 3" in d.note
    same = _frame({"a": BASE, "b": BASE + 0.01})  # 10 units, each exactly one point up
    (d,) = paired_differences(same, "arm", "a", "test_ap", UNITS)
    assert d.n == 10 and d.std == pytest.approx(0.0, abs=1e-12) and not d.resolved and "no spread" in d.note
    spread = _frame({"a": BASE[:2], "b": BASE[:2] + np.array([0.01, 0.03])})
    assert not paired_differences(spread, "arm", "a", "test_ap", UNITS)[0].resolved  # n = 2 < 3


def _null_studies(arms: list[str], studies: int, seed: int) -> list[pd.DataFrame]:
    """Trials of ``arms`` × 5 folds × 2 seeds with no true difference between arms but a fold effect: each
    (arm, fold) draws its own shift (sd 2 points), which both seeds of the fold share (noise sd 1 point)."""
    rng = np.random.default_rng(seed)
    keys = pd.MultiIndex.from_product([arms, range(5), range(2)], names=["arm", "data.fold", "seed"])
    keys = keys.to_frame(index=False)
    frames = []
    for _ in range(studies):
        fold = rng.normal(0, 0.03, (1, 5, 1)) + rng.normal(0, 0.02, (len(arms), 5, 1))  # shared + per arm
        frames.append(keys.assign(status="ok", test_ap=(0.8 + fold + rng.normal(0, 0.01, (len(arms), 5, 2))).ravel()))
    return frames


def _null_study(arms: list[str]) -> Study:
    return Study.model_validate({"name": "null", "grid": {"arm": arms, "data.fold": list(range(5)), "seed": [0, 1]},
                                 "table": {"rows": "arm", "metrics": ["test_ap"], "compare_to": arms[0]}})


def test_a_null_with_a_fold_effect_marks_one_row_in_at_most_6_percent_of_400_studies() -> None:
    """Counting the 10 (fold, seed) pairs as independent units marked 18.5 % of these studies."""
    study = _null_study(["a", "b"])
    marked = [significance(study, frame).pooled[0].resolved for frame in _null_studies(["a", "b"], 400, seed=0)]
    assert np.mean(marked) <= 0.06, np.mean(marked)


def test_a_null_with_6_rows_marks_any_row_in_at_most_6_percent_of_400_studies() -> None:
    """Over (fold, seed) pairs, each row on its own 95 % intervals: at least one of 6 rows in 57 % of these studies."""
    arms = ["a", "b", "c", "d", "e", "f", "g"]
    study = _null_study(arms)
    marked = [any(d.resolved for d in significance(study, frame).pooled) for frame in _null_studies(arms, 400, seed=1)]
    assert np.mean(marked) <= 0.06, np.mean(marked)


def test_nemenyi_groups_only_where_friedman_rejects(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    noise = pd.DataFrame([{"arm": arm, "data.fold": f, "seed": 0, "status": "ok", "test_ap": rng.normal(0.8, 0.01)}
                          for arm in ("x", "y", "z") for f in range(6)])
    result = friedman(noise, "arm", "test_ap", ["data.fold"])
    assert result.p >= 0.05 and result.groups == () and result.differing == () and math.isfinite(result.cd)
    fig = cd_diagram(result, "test AP")
    thick = [line for line in fig.axes[0].collections if max(line.get_linewidths(), default=0) >= 3]
    assert not thick and "no groups drawn" in fig.get_suptitle()
    few = friedman(noise[noise["data.fold"] < 2], "arm", "test_ap", ["data.fold"])  # 2 folds, 3 rows: p ≥ 0.135
    assert math.isnan(few.p) and "cannot go below 0.135" in few.note and few.groups == ()
