"""Significance tests and confidence intervals for comparing two methods across seeds.

Conventions, used by every table and figure of the reports:
- the spread of a method over seeds is the sample standard deviation (ddof=1);
- two methods run with the same seeds share splits and seeds, so their results are *paired*
  by seed: `compare` uses a paired t-test when the seed sets match and Welch's t-test
  (unequal variances) otherwise;
- the 95% confidence interval is always the two-sided interval of the mean difference
  a - b (paired: t interval of the per-seed differences; Welch: Welch-Satterthwaite df),
  whatever `alternative` the p-value uses;
- several comparisons in one table are corrected with Holm's step-down method.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

Alternative = Literal["two-sided", "less", "greater"]
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Comparison:
    """Result of comparing method a with method b; `delta` is mean_a - mean_b.

    `n` is the number of seed pairs for a paired test and n_a + n_b for Welch. `p_value`
    and the interval are NaN when there are too few values (fewer than 2 per side, or fewer
    than 2 pairs). `alternative` refers to a - b, as in scipy ("less": a is smaller).
    """

    mean_a: float
    mean_b: float
    delta: float
    p_value: float
    ci_low: float
    ci_high: float
    test: Literal["paired", "welch"]
    n: int
    n_a: int
    n_b: int
    alternative: Alternative = "two-sided"


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) of the finite values; std is NaN for one."""
    x = _finite(values)
    if x.size == 0:
        return math.nan, math.nan
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else math.nan


def _finite(values: Sequence[float]) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[np.isfinite(x)]


def _clean(values_by_seed: Mapping[int, float]) -> dict[int, float]:
    return {int(s): float(v) for s, v in values_by_seed.items() if np.isfinite(v)}


def paired_ci(differences: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Two-sided t interval of the mean of per-seed differences (df = n - 1)."""
    d = np.asarray(differences, dtype=float)
    if d.size < 2:
        return math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    return float(d.mean() - half), float(d.mean() + half)


def welch_ci(a: Sequence[float], b: Sequence[float],
             confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Two-sided interval of mean(a) - mean(b) with Welch-Satterthwaite degrees of freedom."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size < 2 or b.size < 2:
        return math.nan, math.nan
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    delta = a.mean() - b.mean()
    if va + vb == 0:
        return float(delta), float(delta)
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = stats.t.ppf(0.5 + confidence / 2, df) * math.sqrt(va + vb)
    return float(delta - half), float(delta + half)


def compare(a_values_by_seed: Mapping[int, float], b_values_by_seed: Mapping[int, float],
            alternative: Alternative = "two-sided") -> Comparison:
    """Compare a with b: paired t-test when both have the same seeds (after dropping NaN,
    i.e. failed, values), Welch's t-test otherwise. See the module docstring."""
    a, b = _clean(a_values_by_seed), _clean(b_values_by_seed)
    paired = set(a) == set(b)
    seeds = sorted(a)
    xa = np.array([a[s] for s in seeds] if paired else list(a.values()), dtype=float)
    xb = np.array([b[s] for s in seeds] if paired else list(b.values()), dtype=float)
    mean_a = float(xa.mean()) if xa.size else math.nan
    mean_b = float(xb.mean()) if xb.size else math.nan
    with warnings.catch_warnings():  # zero variance or n < 2: scipy warns and returns NaN/inf
        warnings.simplefilter("ignore", RuntimeWarning)
        if paired:
            p = stats.ttest_rel(xa, xb, alternative=alternative).pvalue if xa.size > 1 else math.nan
            low, high = paired_ci(xa - xb)
        else:
            enough = xa.size > 1 and xb.size > 1
            p = (stats.ttest_ind(xa, xb, equal_var=False, alternative=alternative).pvalue
                 if enough else math.nan)
            low, high = welch_ci(xa, xb)
    return Comparison(mean_a=mean_a, mean_b=mean_b, delta=mean_a - mean_b, p_value=float(p),
                      ci_low=low, ci_high=high, test="paired" if paired else "welch",
                      n=len(seeds) if paired else xa.size + xb.size, n_a=xa.size, n_b=xb.size,
                      alternative=alternative)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order. NaN entries stay NaN and do not
    count towards the number of comparisons."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, math.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    running = 0.0
    for rank, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()
