"""Distances between generated samples and the target: NumPy arrays in, numbers out."""

from __future__ import annotations

import numpy as np


def wasserstein_1d(samples: np.ndarray, distribution) -> float:
    """Wasserstein-1 distance between the samples' empirical law and a 1-D distribution.

    W1(P_n, P) = integral over u in (0, 1) of |F_n^-1(u) - F^-1(u)|, the
    integral taken at the midpoints u_i = (i - 1/2) / n: the mean of
    |x_(i) - F^-1(u_i)| over the sorted samples x_(1) <= ... <= x_(n).
    `distribution` is anything with a `ppf` (a frozen `scipy.stats` law).
    """
    return _wasserstein_sorted(np.sort(np.asarray(samples, np.float64).ravel()), distribution)


def ks_statistic(samples: np.ndarray, distribution) -> float:
    """Kolmogorov-Smirnov statistic D_n = sup_x |F_n(x) - F(x)| against a 1-D distribution with a `cdf`.

    Over the sorted samples: D_n = max_i max(i/n - F(x_(i)), F(x_(i)) - (i-1)/n).
    """
    return _ks_sorted(np.sort(np.asarray(samples, np.float64).ravel()), distribution)


def _wasserstein_sorted(x: np.ndarray, distribution) -> float:
    quantiles = distribution.ppf((np.arange(x.size) + 0.5) / x.size)
    return float(np.mean(np.abs(x - quantiles)))


def _ks_sorted(x: np.ndarray, distribution) -> float:
    cdf = distribution.cdf(x)
    i = np.arange(1, x.size + 1)
    return float(max(np.max(i / x.size - cdf), np.max(cdf - (i - 1) / x.size)))


def distances(samples: np.ndarray, distribution) -> dict[str, float]:
    """mean, std, w1 and ks of 1-D samples against the target; all NaN when a sample is NaN."""
    x = np.asarray(samples, np.float64).ravel()
    if np.isnan(x).any():
        return dict.fromkeys(("mean", "std", "w1", "ks"), float("nan"))
    with np.errstate(invalid="ignore"):  # inf - inf in the moments of a diverged generator
        mean, std = float(np.mean(x)), float(np.std(x))
    x = np.sort(x)
    return {"mean": mean, "std": std, "w1": _wasserstein_sorted(x, distribution), "ks": _ks_sorted(x, distribution)}
