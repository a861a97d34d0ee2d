"""Distances between 1-D samples and a known law, exact: W1 integrates every cell between the samples and the
law's quantiles (tails included); KS reads the law's left limits (a data file's ties)."""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import scipy.spatial.distance
import scipy.special
import scipy.stats


_GRIDS: dict = {}  # (id(distribution), n) -> (distribution, its _Grid): a sweep measures 1,000s of seeds


W1_TOLERANCE = 1e-5  # the pieces' estimated errors left uncut, at most, as a share of W1
W1_SPLIT, W1_ROUNDS = 8, 12  # a piece is cut in W1_SPLIT, at most W1_ROUNDS times over,
W1_MAX_CUTS = 1 << 16  # and at most this many pieces (or as many as there were) at once


def wasserstein_1d(samples: np.ndarray, distribution) -> float:
    """Wasserstein-1 distance between the samples' empirical law and a 1-D distribution, integrated exactly.

    W1(P_n, P) = integral over u in (0, 1) of |F_n^-1(u) - F^-1(u)| = integral over x of |F_n(x) - F(x)|. The
    midpoint rule, the mean of |x_(i) - F^-1((i - 1/2) / n)| over the sorted samples, reads low wherever the
    quantile function bends within a cell of 1/n, most of all in heavy tails (Student t(3), n = 5,000: 0.0261
    for the exact 0.0282). So each cell is integrated in full, in the CDF form: cut at the samples and at the
    quantiles F^-1(k/n), k = 1..n-1 (where F crosses F_n's level k/n), |F_n - F| keeps one sign on each piece;
    the two tails beyond, E[(t_first - X)+] and E[(X - t_last)+], count in full too. Per law:
    - a normal law or a mixture of normals (`data.MixtureLaw`): in closed form, int F = sum_k w_k s_k (z Phi(z) +
      phi(z)), z = (x - m_k) / s_k;
    - a data file's law, a step CDF (`cdf_left` and its `sorted` values): exactly, by prefix sums of the data:
      `scipy.stats.wasserstein_distance` between the samples and the data (the midpoint rule missed its steps
      inside a cell too);
    - any other continuous law (`cdf`, `pdf`, `ppf`, `mean`; `sf` if it has one: a frozen `scipy.stats` law): on
      each piece, and on tail pieces doubling in length away from the samples (halving towards a finite end of
      the support), the trapezoid rule corrected by the density at the ends (Euler-Maclaurin); where that
      correction is largest the pieces are cut in W1_SPLIT for Simpson's rule, again where Simpson's differs most
      from the trapezoid rule, until the errors so estimated sum under W1_TOLERANCE of W1: within ~1e-6 relative
      of `scipy.integrate.quad` of |F_n - F|;
    - a law without a finite mean (Cauchy): W1 is infinite from every sample; the midpoint rule stays as a finite
      stand-in.
    The law's quantiles are computed once per law and n, for the last few laws (a sweep measures 1,000s of seeds).
    """
    return _wasserstein_sorted(np.sort(np.asarray(samples, np.float64).ravel()), distribution)


def ks_statistic(samples: np.ndarray, distribution) -> float:
    """Kolmogorov-Smirnov statistic D_n = sup_x |F_n(x) - F(x)| against a 1-D distribution with a `cdf`.

    Over the sorted samples: D_n = max_i max(i/n - F(x_(i)), F(x_(i)-) - (i-1)/n), with F(x-) the law's left
    limit: its `cdf_left` where it has steps (a data file's law: then this is `scipy.stats.ks_2samp`'s
    statistic against the data), else F(x) itself.
    """
    return _ks_sorted(np.sort(np.asarray(samples, np.float64).ravel()), distribution)


def _wasserstein_sorted(x: np.ndarray, distribution, cdf: np.ndarray | None = None) -> float:
    """W1 of sorted samples x; `cdf`, the law's F(x) if already known (distances shares it with KS)."""
    if x.size == 0 or np.isnan(x[-1]):
        return float("nan")
    if np.isinf(x[0]) or np.isinf(x[-1]):
        return float("inf")
    grid = _grid(distribution, x.size)
    if grid.kind == "step":
        return _w1_step(x, grid)
    if grid.kind == "normal":
        return _w1_normal(x, grid)
    if grid.kind == "no mean":
        return float(np.mean(np.abs(x - grid.points)))
    with np.errstate(all="ignore"):  # a law's own overflows, far out in a tail
        return _w1_continuous(x, distribution, grid, distribution.cdf(x) if cdf is None else cdf)


class _Grid(NamedTuple):
    """What W1 against one law needs for n samples, whatever the samples (see `_grid`)."""

    kind: str  # "continuous", "normal" (or a mixture of normals), "step" (a data file's law) or "no mean"
    points: np.ndarray  # continuous: the support's finite low end, F^-1(k/n) for k = 1..n-1, its finite high end;
    # normal and step: F^-1(k/n); no mean: the midpoint quantiles F^-1((i - 1/2)/n) for i = 1..n
    cdf: np.ndarray | None = None  # continuous: F at `points`
    pdf: np.ndarray | None = None  # continuous: the density at `points`
    low: float = -np.inf  # continuous: the support's ends
    high: float = np.inf
    scale: float = 1.0  # continuous: the first tail piece's length, a 16th of the law's interquartile range
    values: np.ndarray | None = None  # step: the data, sorted
    sums: np.ndarray | None = None  # step: 0 then the running sums of values - centre
    centre: float = 0.0  # step: the data's mean
    components: tuple | None = None  # normal: the weights, means and standard deviations (k,) of its normals
    parts: tuple | None = None  # normal: `_normal_parts` at `points`


def _grid(distribution, n: int) -> _Grid:
    """The law's `_Grid` for n samples, kept for the last few laws (the law is kept too, so its id stays its own)."""
    key = (id(distribution), n)
    kept = _GRIDS.get(key)  # one look-up: scoring threads share the cache
    if kept is None or kept[0] is not distribution:
        if len(_GRIDS) >= 8:
            _GRIDS.clear()
        kept = _GRIDS[key] = (distribution, _make_grid(distribution, n))
    return kept[1]


def _make_grid(law, n: int) -> _Grid:
    if hasattr(law, "cdf_left"):  # a data file's law: its quantiles F^-1(k/n) = value number ceil(k m / n)
        values = np.asarray(law.sorted, np.float64)
        m, k = values.size, np.arange(1, n, dtype=np.int64)
        centre = float(values.mean())
        sums = np.concatenate([[0.0], np.cumsum(values - centre)])
        return _Grid("step", _frozen(values[(k * m + n - 1) // n - 1]), values=values, sums=sums, centre=centre)
    components = _normal_components(law)
    if components is not None:
        quantiles = _frozen(np.maximum.accumulate(law.ppf(np.arange(1, n) / n)))
        return _Grid("normal", quantiles, components=components,
                     parts=tuple(map(_frozen, _normal_parts(quantiles, *components))))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean = float(law.mean()) if hasattr(law, "mean") else 0.0
    if not np.isfinite(mean):
        return _Grid("no mean", _frozen(law.ppf((np.arange(n) + 0.5) / n)))
    low, high = (float(end) for end in law.ppf([0.0, 1.0]))
    quantiles = np.maximum.accumulate(law.ppf(np.arange(1, n) / n))
    ends = int(np.isfinite(low)), int(np.isfinite(high))
    points = np.concatenate([[low] * ends[0], quantiles, [high] * ends[1]])
    cdf = np.concatenate([[0.0] * ends[0], law.cdf(quantiles), [1.0] * ends[1]])
    with np.errstate(all="ignore"):  # at a finite end of the support, the density may be infinite
        pdf = law.pdf(points)
    quartiles = law.ppf([0.25, 0.75])
    scale = float(quartiles[1] - quartiles[0]) / 16
    return _Grid("continuous", _frozen(points), _frozen(cdf), _frozen(pdf), low, high, scale if scale > 0 else 1.0)


def _normal_components(law) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(weights, means, stds) of a frozen `scipy.stats.norm` or a mixture of normals (`data.MixtureLaw`), else None."""
    if isinstance(getattr(law, "dist", None), type(scipy.stats.norm)):
        return np.ones(1), np.array([float(law.mean())]), np.array([float(law.std())])
    if all(hasattr(law, name) for name in ("weights", "means", "stds", "cdf", "ppf")):
        weights = np.asarray(law.weights, np.float64).ravel()
        means, stds = (np.asarray(values, np.float64).ravel() for values in (law.means, law.stds))
        return weights / weights.sum(), means, stds
    return None


def _normal_parts(x: np.ndarray, weights, means, stds, block: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """H(x) = int_-inf^x F = sum_k w_k s_k (z Phi(z) + phi(z)), z = (x - m_k) / s_k, as two parts: the linear
    sum_k w_k max(x - m_k, 0) and the bounded sum_k w_k s_k (phi(z) - |z| Phi(-|z|)), each (x.size,)."""
    linear, bounded = np.empty(x.size), np.empty(x.size)
    rows = max(1, block // means.size)
    for i in range(0, x.size, rows):  # (rows, k) at a time
        d = x[i : i + rows, None] - means
        z = np.abs(d) / stds
        linear[i : i + rows] = np.maximum(d, 0.0) @ weights
        phi = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
        bounded[i : i + rows] = (phi - z * scipy.special.ndtr(-z)) @ (weights * stds)
    return linear, bounded


def _w1_normal(x: np.ndarray, grid: _Grid) -> float:
    """Exact W1 to a normal law or a mixture of normals: on each piece (a, b), where F - F_n keeps its sign,
    |F_n - F| integrates to |F_n (b - a) - (H(b) - H(a))|; the tails are H(t_first) and
    int_t_last^inf (1 - F) = sum_k w_k max(m_k - t_last, 0) + the bounded part of H(t_last)."""
    t, level, linear, bounded = _merged(x, grid.points, *zip(_normal_parts(x, *grid.components), grid.parts))
    integral = np.diff(linear)
    integral += np.diff(bounded)  # int_a^b F
    pieces = np.abs(level[:-1] * np.diff(t) - integral)
    weights, means, _ = grid.components
    left, right = linear[0] + bounded[0], np.maximum(means - t[-1], 0.0) @ weights + bounded[-1]
    return float(np.sum(pieces) + left + right)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, np.float64)
    array.flags.writeable = False
    return array


def _merged(x: np.ndarray, points: np.ndarray, *values: tuple[np.ndarray, np.ndarray]) -> tuple:
    """The sorted samples and the sorted points in one sorted array (a point equal to a sample first), F_n after
    each entry, and each (at the samples, at the points) pair of `values` put in the same order."""
    order = np.argsort(np.concatenate([points, x]), kind="stable")  # two sorted runs: a merge
    level = np.cumsum(order >= points.size) / x.size
    merged = [np.concatenate([at_points, at_x])[order] for at_x, at_points in ((x, points), *values)]
    return merged[0], level, *merged[1:]


def _w1_step(x: np.ndarray, grid: _Grid) -> float:
    """Exact W1 to a data file's law: on each piece (a, b), |F_n - F_m| integrates to |F_n (b - a) - int F_m|,
    with int_a^b F_m = (N(a) (b - a) + sum over a < v <= b of (b - v)) / m, N(t) the data at or below t."""
    t, level = _merged(x, grid.points)
    values, sums, centre, m = grid.values, grid.sums, grid.centre, grid.values.size
    below = np.searchsorted(values, t, side="right")  # N(t) at every breakpoint
    a, b, n_a, n_b = t[:-1], t[1:], below[:-1], below[1:]
    inside = (n_b - n_a) * (b - centre) - (sums[n_b] - sums[n_a])  # sum over a < v <= b of (b - v)
    pieces = np.abs(level[:-1] * (b - a) - (n_a * (b - a) + inside) / m)
    left = (below[0] * (t[0] - centre) - sums[below[0]]) / m  # int_-inf^t0 F_m = mean of (t0 - v)+
    right = ((sums[m] - sums[below[-1]]) - (m - below[-1]) * (t[-1] - centre)) / m  # mean of (v - t_last)+
    return float(np.sum(pieces) + left + right)


TAIL_PIECES = 64  # a tail's pieces, doubling in length away from the samples (halving towards a finite end)


def _w1_continuous(x: np.ndarray, law, grid: _Grid, cdf_x: np.ndarray) -> float:
    """W1 as the integral of |F_n - F| over pieces: the left tail's (F_n = 0), those between the breakpoints
    (samples and quantiles, F_n non-decreasing) and the right tail's (F_n = 1), in that order."""
    t, level, f, density = _merged(x, grid.points, (cdf_x, grid.cdf), (law.pdf(x), grid.pdf))
    gap = _Gap(law)
    level = level[:-1]  # F_n on the piece (t_j, t_j+1)
    g_a, g_b = level - f[:-1], level - f[1:]  # F_n - F at the pieces' ends: one sign on a piece
    sign = np.sign(g_a + g_b)
    right = np.searchsorted(level, 1.0)  # the pieces past the last sample, where 1 - F is the law's sf
    g_a[right:], g_b[right:] = gap.upper(t[right:-1]), gap.upper(t[right + 1 :])
    slope_a, slope_b = -sign * density[:-1], -sign * density[1:]  # of |F_n - F|
    below, above = np.searchsorted(t[1:], grid.low, side="right"), np.searchsorted(t[:-1], grid.high)
    slope_a[:below], slope_b[:below], slope_a[above:], slope_b[above:] = 0.0, 0.0, 0.0, 0.0  # off the support: flat
    pieces = (t[:-1], t[1:], np.abs(g_a), np.abs(g_b), level, slope_a, slope_b)
    left_tail, left_rest = _tail_pieces(gap, law.pdf, t[0], grid.low, -grid.scale, 0.0)
    right_tail, right_rest = _tail_pieces(gap, law.pdf, t[-1], grid.high, grid.scale, 1.0)
    return _integrate(gap, [left_tail, pieces, right_tail]) + left_rest + right_rest


class _Gap:
    """|F_n - F| at points z where F_n = level: 1 - F from the law's `sf` where F_n = 1 (exact in a far tail)."""

    def __init__(self, law):
        self.cdf = law.cdf
        self.upper = getattr(law, "sf", None) or (lambda z: 1.0 - law.cdf(z))

    def __call__(self, z: np.ndarray, level: np.ndarray) -> np.ndarray:
        """z (pieces,) or (pieces, k), level (pieces,) non-decreasing."""
        if not z.size:
            return np.zeros(z.shape)
        split = np.searchsorted(level, 1.0)
        lower = level[:split].reshape((-1,) + (1,) * (z.ndim - 1))
        below = np.abs(np.subtract(self.cdf(z[:split]), lower, dtype=np.float64)) if split else None
        above = np.asarray(self.upper(z[split:]), np.float64) if split < len(z) else None
        return below if above is None else above if below is None else np.concatenate([below, above])


def _tail_pieces(gap: _Gap, pdf, start: float, end: float, step: float, level: float) -> tuple[tuple, float]:
    """The pieces (a, b, gap at a, gap at b, level, its slope at a, at b) from `start` out to the support's `end`
    (+-inf), where F_n =
    `level` (0 to the left, 1 to the right), and what lies past the last one. Towards a finite end TAIL_PIECES
    pieces halve in length, leaving 2^-TAIL_PIECES of it; towards an infinite one they double from |step| (its
    sign the direction), TAIL_PIECES at a time until they stop counting; what lies past them then, if anything
    (tails barely heavy enough for a mean), is extrapolated from the last two as a geometric series."""
    if (end - start) * step <= 0:  # the support ends at or before start
        return (np.zeros(0),) * 7, 0.0
    at = gap.upper if level == 1 else gap.cdf
    rest = 0.0
    if np.isfinite(end):
        edges = end + (start - end) * 2.0 ** -np.arange(TAIL_PIECES + 1.0)  # start, halfway to the end, ...
        values = np.asarray(at(edges), np.float64)
    else:
        edges, values, trapezoids = np.array([start]), np.asarray(at(np.array([start])), np.float64), np.zeros(0)
        for batch in range(15):  # out to 2^960 steps at most
            with np.errstate(over="ignore"):
                more = start + step * (2.0 ** np.arange(batch * TAIL_PIECES + 1.0, (batch + 1) * TAIL_PIECES + 1) - 1)
            more = more[np.isfinite(more)]
            values = np.concatenate([values, np.nan_to_num(at(more), nan=0.0)])  # nan: a law's overflow out there
            edges = np.concatenate([edges, more])
            trapezoids = np.abs(np.diff(edges)) * (values[:-1] + values[1:]) / 2
            if more.size < TAIL_PIECES or trapezoids[-1] <= 1e-17 * np.sum(trapezoids):
                break
        if trapezoids.size >= 2 and trapezoids[-1] > 1e-17 * np.sum(trapezoids):
            ratio = trapezoids[-1] / trapezoids[-2]
            rest = trapezoids[-1] * ratio / (1 - ratio) if ratio < 1 else float("inf")
    if edges.size > 1 and edges[1] < edges[0]:  # a left tail: pieces from left to right
        edges, values = edges[::-1], values[::-1]
    slopes = (1.0 if level == 0 else -1.0) * np.nan_to_num(pdf(edges), nan=0.0)  # of F, and of 1 - F
    return (edges[:-1], edges[1:], values[:-1], values[1:], np.full(edges.size - 1, level), slopes[:-1], slopes[1:]), rest


def _integrate(gap: _Gap, groups: list[tuple]) -> float:
    """Sum over the pieces (a, b, |F_n - F| at a and at b, F_n, the slope of |F_n - F| at a and at b) of `groups`
    (in order: F_n non-decreasing) of the integral of |F_n - F|: by the trapezoid rule corrected by the slopes
    (Euler-Maclaurin: - w^2 (g'(b) - g'(a)) / 12), then cutting in W1_SPLIT the pieces where the correction
    was largest, and further by Simpson's rule where it differs most from the trapezoid rule, until those
    differences sum under W1_TOLERANCE of the total."""
    total, budget, most = 0.0, None, max(W1_MAX_CUTS, sum(pieces[0].size for pieces in groups))
    for round_ in range(W1_ROUNDS + 1):
        rule = _corrected_trapezoid if round_ == 0 else _simpson
        values, error = zip(*(rule(gap, *pieces) for pieces in groups))
        total += sum(map(np.sum, values))
        errors = sum(map(np.sum, error))
        if budget is None:
            budget = W1_TOLERANCE * total
        if errors <= budget or round_ == W1_ROUNDS:
            return float(total)
        # Keep the pieces whose errors sum under half the budget left, the smallest; cut the others (in order).
        cut = _largest(error, budget / 2)
        if sum(c.size for c in cut) > most:  # not a smooth law's: the sum as it stands
            return float(total)
        total -= sum(np.sum(part[c]) for part, c in zip(values, cut))
        budget -= errors - sum(np.sum(part[c]) for part, c in zip(error, cut))
        a, b, g_a, g_b, level = (np.concatenate([p[c] for p, c in zip(parts, cut)])
                                 for parts in zip(*(pieces[:5] for pieces in groups)))
        ends = a[:, None] + (b - a)[:, None] * np.linspace(0, 1, W1_SPLIT + 1)  # (cut, W1_SPLIT + 1)
        g_ends = np.concatenate([g_a[:, None], gap(ends[:, 1:-1], level), g_b[:, None]], axis=1)
        groups = [(ends[:, :-1].ravel(), ends[:, 1:].ravel(), g_ends[:, :-1].ravel(), g_ends[:, 1:].ravel(),
                   np.repeat(level, W1_SPLIT))]
    return float(total)


def _corrected_trapezoid(gap: _Gap, a, b, g_a, g_b, level, slope_a, slope_b) -> tuple[np.ndarray, np.ndarray]:
    """The trapezoid rule less w^2 (g'(b) - g'(a)) / 12 on each piece, and that correction's size; where the
    slope is not finite (an infinite density at the support's end), the trapezoid rule and its bound for a
    monotone g, w |g(b) - g(a)| / 2."""
    width = b - a
    correction = slope_a - slope_b
    correction *= width
    correction *= width / 12
    trapezoid = g_a + g_b
    trapezoid *= 0.5 * width
    odd = ~np.isfinite(correction)
    correction[odd] = 0.0
    error = np.abs(correction)
    error[odd] = 0.5 * width[odd] * np.abs(g_b[odd] - g_a[odd])
    trapezoid += correction
    return trapezoid, error


def _simpson(gap: _Gap, a, b, g_a, g_b, level) -> tuple[np.ndarray, np.ndarray]:
    """Simpson's rule on each piece, and how far it is from the trapezoid rule."""
    width = b - a
    middle = a + b
    middle *= 0.5
    error = gap(middle, level)
    trapezoid = g_a + g_b
    trapezoid *= 0.5
    error -= trapezoid  # the middle's gap less the ends' mean, times 2/3 of the width: Simpson - trapezoid
    error *= width
    error *= 2 / 3
    trapezoid *= width
    trapezoid += error
    return trapezoid, np.abs(error, out=error)


def _largest(errors: tuple[np.ndarray, ...], allowance: float) -> list[np.ndarray]:
    """The fewest largest of the groups' errors whose removal leaves the rest summing to at most `allowance`: each
    group's indices of them, in order."""
    threshold = allowance / (2 * sum(e.size for e in errors))  # the errors below sum to at most allowance / 2
    candidates = [np.flatnonzero(e > threshold) for e in errors]
    values = np.concatenate([e[c] for e, c in zip(errors, candidates)])
    group = np.repeat(np.arange(len(errors)), [c.size for c in candidates])
    order = np.argsort(values)[::-1]
    left = sum(map(np.sum, errors)) - np.cumsum(values[order])  # the sum after removing the first 1, 2, ... of them
    chosen = order[: np.searchsorted(-left, -allowance) + 1]
    return [np.sort(c[chosen[group[chosen] == g] - np.sum(group < g)]) for g, c in enumerate(candidates)]


def _ks_sorted(x: np.ndarray, distribution, cdf: np.ndarray | None = None) -> float:
    cdf = distribution.cdf(x) if cdf is None else cdf
    left = distribution.cdf_left(x) if hasattr(distribution, "cdf_left") else cdf
    i = np.arange(1, x.size + 1)
    return float(max(np.max(i / x.size - cdf), np.max(left - (i - 1) / x.size)))


def distances(samples: np.ndarray, distribution) -> dict[str, float]:
    """mean, std, w1 and ks of 1-D samples against the target; all NaN when a sample is NaN."""
    x = np.asarray(samples, np.float64).ravel()
    if np.isnan(x).any():
        return dict.fromkeys(("mean", "std", "w1", "ks"), float("nan"))
    with np.errstate(invalid="ignore"):  # inf - inf in the moments of a diverged generator
        mean, std = float(np.mean(x)), float(np.std(x))
    x = np.sort(np.ravel(samples)).astype(np.float64)  # in the samples' own type (float32: faster), exactly as x
    cdf = distribution.cdf(x)  # F(x), shared by W1 and KS
    return {"mean": mean, "std": std, "w1": _wasserstein_sorted(x, distribution, cdf),
            "ks": _ks_sorted(x, distribution, cdf)}
