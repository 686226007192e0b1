"""bench.stats against scipy and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from bench.stats import compare, holm, mean_std, paired_ci, welch_ci

A = [0.61, 0.60, 0.62, 0.59, 0.63]
B = [0.55, 0.56, 0.54, 0.57, 0.55]


def by_seed(values, seeds=None):
    return dict(zip(seeds or range(len(values)), values, strict=True))


def test_paired_matches_scipy():
    c = compare(by_seed(A), by_seed(B))
    ref = stats.ttest_rel(A, B)
    assert c.test == "paired" and c.n == 5
    assert c.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    ci = ref.confidence_interval(0.95)
    assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert c.delta == pytest.approx(np.mean(A) - np.mean(B))


def test_pairs_by_seed_not_by_order():
    a = {3: 1.0, 1: 2.0, 2: 4.0}
    b = {1: 1.5, 2: 3.0, 3: 0.1}
    c = compare(a, b)
    assert c.p_value == pytest.approx(stats.ttest_rel([2.0, 4.0, 1.0], [1.5, 3.0, 0.1]).pvalue)


def test_welch_when_seeds_differ():
    c = compare(by_seed(A), by_seed(B, seeds=[5, 6, 7, 8, 9]))
    ref = stats.ttest_ind(A, B, equal_var=False)
    assert c.test == "welch" and c.n == 10
    assert c.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    ci = ref.confidence_interval(0.95)
    assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_failed_seed_breaks_pairing():
    a = by_seed(A)
    a[4] = math.nan
    c = compare(a, by_seed(B))
    assert c.test == "welch" and c.n_a == 4 and c.n_b == 5


def test_pairing_finds_what_welch_misses():
    base = np.array([0.50, 0.60, 0.70, 0.80, 0.90])
    a = base + np.array([0.010, 0.012, 0.009, 0.011, 0.010])
    paired = compare(by_seed(a), by_seed(base))
    welch = compare(by_seed(a), by_seed(base, seeds=[10, 11, 12, 13, 14]))
    assert paired.p_value < 0.05 < welch.p_value
    assert paired.ci_low > 0 > welch.ci_low


@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_one_sided(alternative):
    c = compare(by_seed(B), by_seed(A), alternative=alternative)
    assert c.p_value == pytest.approx(stats.ttest_rel(B, A, alternative=alternative).pvalue)
    assert (c.p_value < 0.05) == (alternative == "less")  # B is below A
    w = compare(by_seed(B), by_seed(A, seeds=[9, 8, 7, 6, 5]), alternative=alternative)
    ref = stats.ttest_ind(B, A, equal_var=False, alternative=alternative).pvalue
    assert w.p_value == pytest.approx(ref)


def test_too_few_values_give_nan():
    c = compare({0: 1.0}, {0: 2.0})
    assert math.isnan(c.p_value) and math.isnan(c.ci_low) and c.delta == -1.0


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([math.nan, 0.01, 0.02])
    assert math.isnan(adjusted[0]) and adjusted[1:] == pytest.approx([0.02, 0.02])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_paired_ci_by_hand():
    # d = 1, 2, 3, 4: mean 2.5, sd sqrt(5/3), t(0.975, 3) = 3.182446305
    half = 3.182446305284263 * math.sqrt(5 / 3) / 2
    assert paired_ci([1, 2, 3, 4]) == pytest.approx((2.5 - half, 2.5 + half), rel=1e-9)


def test_welch_ci_by_hand():
    a, b = [1, 2, 3, 4], [2, 4, 6, 8, 10]
    va, vb = (5 / 3) / 4, 10 / 5
    df = (va + vb) ** 2 / (va ** 2 / 3 + vb ** 2 / 4)
    assert df == pytest.approx(5.5208, abs=1e-4)
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert welch_ci(a, b) == pytest.approx((-3.5 - half, -3.5 + half), rel=1e-12)


def test_mean_std_uses_ddof_1():
    mean, std = mean_std([1.0, 2.0, 3.0, math.nan])
    assert mean == 2.0 and std == pytest.approx(1.0)
    assert math.isnan(mean_std([1.0])[1])
