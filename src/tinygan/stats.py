"""Success rates and how sure we are of them: Wilson's interval and the test of two proportions."""

from __future__ import annotations

import math

import numpy as np
import scipy.stats

Z_95 = float(scipy.stats.norm.ppf(0.975))  # 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson's score interval for a proportion (Wilson 1927, JASA 22), 95% by default; (0, 1) when n is 0.

    centre = (p + z^2 / 2n) / (1 + z^2 / n),
    half-width = z sqrt(p (1 - p) / n + z^2 / 4n^2) / (1 + z^2 / n), with p = successes / n.
    Unlike p +- z sqrt(p (1 - p) / n) it stays inside [0, 1] and is not empty at 0 or n successes.
    """
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n], got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    p, shrink = successes / n, 1 + z * z / n
    centre = (p + z * z / (2 * n)) / shrink
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / shrink
    # At 0 (or n) successes the bound is exactly 0 (or 1); rounding would leave it a hair inside.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def two_proportion_p_value(successes_a: int, n_a: int, successes_b: int, n_b: int) -> float:
    """Two-sided p-value of the pooled z-test that two success rates are equal; 1 when nothing varies.

    z = (p_a - p_b) / sqrt(p (1 - p) (1 / n_a + 1 / n_b)), p = (s_a + s_b) / (n_a + n_b); p-value = 2 P(Z > |z|).
    """
    pooled = (successes_a + successes_b) / (n_a + n_b)
    spread = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    if spread == 0:
        return 1.0
    z = (successes_a / n_a - successes_b / n_b) / math.sqrt(spread)
    return float(2 * scipy.stats.norm.sf(abs(z)))


def quartiles(values) -> dict:
    """The first quartile, median and third quartile of the finite values, and how many were not finite."""
    values = np.asarray(values, np.float64)
    finite = values[np.isfinite(values)]
    q = np.quantile(finite, [0.25, 0.5, 0.75]).tolist() if finite.size else [math.nan] * 3
    return {"q1": q[0], "median": q[1], "q3": q[2], "non_finite": int(values.size - finite.size)}
