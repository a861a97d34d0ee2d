"""Success rates and how sure we are of them: Wilson's interval and the test of two proportions."""

from __future__ import annotations

import math

import numpy as np
import scipy.stats


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a proportion (scipy's binomtest), 95% by default; (0, 1) when n is 0.

    Chosen over p +- z sqrt(p (1 - p) / n): it stays inside [0, 1] and is not empty at 0 or n successes,
    where its bound is exactly 0 or 1.
    """
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n], got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    interval = scipy.stats.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def two_proportion_p_value(successes_a: int, n_a: int, successes_b: int, n_b: int) -> float:
    """Two-sided p-value of the pooled z-test that two success rates are equal; 1 when nothing varies.

    Read from the 2 x 2 chi-squared test without Yates' correction, which is the same test (chi2 = z^2).
    """
    if successes_a + successes_b in (0, n_a + n_b):  # all failures or all successes: a zero margin, no test
        return 1.0
    table = [[successes_a, n_a - successes_a], [successes_b, n_b - successes_b]]
    return float(scipy.stats.chi2_contingency(table, correction=False).pvalue)


def quartiles(values) -> dict:
    """The first quartile, median and third quartile of the finite values, and how many were not finite."""
    values = np.asarray(values, np.float64)
    finite = values[np.isfinite(values)]
    q = np.quantile(finite, [0.25, 0.5, 0.75]).tolist() if finite.size else [math.nan] * 3
    return {"q1": q[0], "median": q[1], "q3": q[2], "non_finite": int(values.size - finite.size)}
