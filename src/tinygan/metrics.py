"""Distances between generated samples and the target: NumPy arrays in, numbers out.

1-D against a known law: `wasserstein_1d`, `ks_statistic`, `distances`. Between two sample sets in any
dimension: `sliced_wasserstein`, `energy_distance`. For targets with modes: `mode_metrics` (VEEGAN's and
PacGAN's measures). On a 2-D grid: `gan_lab_divergences` (GAN Lab's KL and JS). Samples are (n, d) arrays;
1-D samples may also be (n,).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import scipy.spatial.distance
import scipy.special
import scipy.stats


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


_GRIDS: dict = {}  # (id(distribution), n) -> (distribution, its _Grid): a sweep measures 1,000s of seeds


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


W1_TOLERANCE = 1e-5  # the pieces' estimated errors left uncut, at most, as a share of W1
W1_SPLIT, W1_ROUNDS = 8, 12  # a piece is cut in W1_SPLIT, at most W1_ROUNDS times over,
W1_MAX_CUTS = 1 << 16  # and at most this many pieces (or as many as there were) at once
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


# ---------------------------------------------------------------- two sample sets, any dimension


def _as_points(samples: np.ndarray) -> np.ndarray:
    """(n,) or (n, d) -> (n, d) float64."""
    x = np.asarray(samples, np.float64)
    return x.reshape(-1, 1) if x.ndim == 1 else x


def sliced_wasserstein(x: np.ndarray, y: np.ndarray, *, num_projections: int = 200, seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance (p = 1) between two sample sets of the same dimension d.

    SW1(P, Q) = E_u W1(<u, X>, <u, Y>) over directions u uniform on the unit sphere S^(d-1), estimated as
    the mean over `num_projections` directions drawn (normalised Gaussians) from `seed`: the same seed gives
    the same directions and the same number. Each W1 is exact between the two projected empirical laws
    (`scipy.stats.wasserstein_distance`), so in 1-D, where u = +-1, SW1 is exactly the 1-D W1.
    Rabin, Peyre, Delon & Bernot, "Wasserstein barycenter and its application to texture mixing" (2011);
    Bonneel, Rabin, Peyre & Pfister, "Sliced and Radon Wasserstein barycenters of measures" (2015).
    """
    x, y = _as_points(x), _as_points(y)
    directions = np.random.default_rng(seed).normal(size=(x.shape[1], num_projections))  # (d, projections)
    directions /= np.linalg.norm(directions, axis=0)
    x_proj, y_proj = x @ directions, y @ directions  # (n, projections), (m, projections)
    if len(x_proj) == len(y_proj):  # equal sizes: W1 is the mean gap between the sorted projections
        return float(np.mean(np.abs(np.sort(x_proj, axis=0) - np.sort(y_proj, axis=0))))
    return float(np.mean([scipy.stats.wasserstein_distance(a, b) for a, b in zip(x_proj.T, y_proj.T)]))


def energy_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Energy distance between two sample sets in R^d, with Euclidean norms |.|.

    D(P, Q) = sqrt(2 E|X - Y| - E|X - X'| - E|Y - Y'|), with X, X' ~ P and Y, Y' ~ Q independent, each
    expectation taken over all pairs of the two empirical laws (pairs of a point with itself included,
    a V-statistic). This is the square root of Szekely & Rizzo's energy distance ("Energy statistics: a class
    of statistics based on distances", 2013), a metric on laws with a finite mean, and what
    `scipy.stats.energy_distance` returns in 1-D. Memory stays bounded: the pairs are summed in blocks.
    """
    x, y = _as_points(x), _as_points(y)
    squared = 2 * _mean_pairwise_distance(x, y) - _mean_pairwise_distance(x, x) - _mean_pairwise_distance(y, y)
    return float(np.sqrt(max(squared, 0.0)))  # >= 0 in exact arithmetic; rounding may dip below


def _mean_pairwise_distance(a: np.ndarray, b: np.ndarray, max_block: int = 1 << 22) -> float:
    """Mean of |a_i - b_j| over all n * m pairs, in row blocks of at most `max_block` distances."""
    rows = max(1, max_block // len(b))
    total = sum(scipy.spatial.distance.cdist(a[i : i + rows], b).sum() for i in range(0, len(a), rows))
    return total / (len(a) * len(b))


# ---------------------------------------------------------------- targets with modes


def mode_metrics(samples: np.ndarray, modes: np.ndarray, stds, weights: np.ndarray | None = None) -> dict:
    """VEEGAN's and PacGAN's measures of a mixture target with k modes (means `modes` (k, d)).

    Each sample goes to its nearest mode j, nearness measured in that mode's standard deviations,
    r_j(x) = |x - mu_j| / std_j (Euclidean, isotropic modes); it is *high quality* when r_j(x) < 3.
    - `modes_captured` (int): modes that hold at least one high-quality sample;
    - `high_quality` (float, a percentage in [0, 100] as in PacGAN's Table 1): 100 * high-quality / n;
    - `reverse_kl` (float, nats): KL(q || p) = sum_j q_j ln(q_j / p_j), q the histogram of the
      high-quality samples over the modes (q_j = count_j / number of high-quality samples), p = `weights`
      (uniform when None); modes with q_j = 0 add 0; NaN when no sample is high quality.
    Srivastava et al., VEEGAN (2017), section 5; Lin et al., PacGAN (2018), section 5 and Table 1. The
    assignment, threshold (strict < 3) and histogram follow PacGAN's code, `MetricLogger.do` in
    synthetic_data_experiments/PacGAN/pacgan/extensions.py (fjxmlzn/PacGAN): there `detail_of_coverage`
    counts per mode the samples whose nearest-mode distance is below `dis_thre` = 3, "mode coverage" is its
    number of non-zero entries and "good points percentage" its sum over n; the reverse KL against uniform
    weights is ln(k) minus the "entropy of coverage" it logs.
    """
    x, means = _as_points(samples), np.asarray(modes, np.float64).reshape(len(modes), -1)  # (n, d), (k, d)
    counts = _high_quality_counts(x, means, np.broadcast_to(np.asarray(stds, np.float64), len(means)))
    p = np.full(len(means), 1 / len(means)) if weights is None else np.asarray(weights, np.float64)
    return {
        "modes_captured": int(np.count_nonzero(counts)),
        "high_quality": float(100 * counts.sum() / len(x)),
        "reverse_kl": _reverse_kl(counts, p / p.sum()),
    }


def _high_quality_counts(x: np.ndarray, means: np.ndarray, stds: np.ndarray) -> np.ndarray:
    """(k,) number of samples whose nearest mode, in its own stds, is within 3 of them."""
    radii = np.linalg.norm(x[:, None, :] - means[None, :, :], axis=-1) / stds  # (n, k)
    nearest = np.argmin(np.nan_to_num(radii, nan=np.inf), axis=1)  # (n,) first mode on a tie
    high_quality = radii[np.arange(len(x)), nearest] < 3  # NaN and inf samples are never high quality
    return np.bincount(nearest[high_quality], minlength=len(means))


def _reverse_kl(counts: np.ndarray, p: np.ndarray) -> float:
    if counts.sum() == 0:
        return float("nan")
    q = counts / counts.sum()
    seen = q > 0  # 0 ln 0 = 0
    with np.errstate(divide="ignore"):  # a high-quality sample at a mode of weight 0: KL = inf
        return float(np.sum(q[seen] * np.log(q[seen] / p[seen])))


# ---------------------------------------------------------------- GAN Lab's grid divergences


def gan_lab_divergences(
    generated: np.ndarray,
    real: np.ndarray | Callable[[np.ndarray], np.ndarray],
    *,
    num_cells: int = 30,
    low=0.0,
    high=1.0,
    smoothing: float = 1e-4,
) -> dict[str, float]:
    """GAN Lab's KL and JS divergences (in bits) between 2-D laws seen as cell masses on a grid.

    The square [low, high)^2 (`low`, `high` scalars or one per axis) is cut into num_cells x num_cells
    cells. The generated mass of a cell is q_c = (generated samples in it) / n; the real mass p_c is the
    same histogram of `real` when it is an (m, 2) array of samples, or `real(centres) * cell area` (the
    midpoint rule) when it is a density, a callable from points (c, 2) to densities (c,). Samples off the
    grid count in n but in no cell. With e = `smoothing` added to every mass, never renormalised:
        kl = sum_c (p_c + e) log2((p_c + e) / (q_c + e))                       (KL(real || generated))
        js = 1/2 sum_c [(p_c + e) log2((p_c + e) / (m_c + e)) + (q_c + e) log2((q_c + e) / (m_c + e))],
    with m_c = (p_c + q_c) / 2. Kahng et al., "GAN Lab" (IEEE VIS 2018); `GANLabEvaluatorGridDensities` in
    src/ganlab_evaluators.ts of poloclub/ganlab (NUM_GRID_CELLS = 30 over the unit square and e = 0.0001 from
    there). Differences from GAN Lab: it truncates toward zero, so points just below 0 land in the first
    cell and points at or past 1 in a wrong cell; here cells are half-open and off-grid points are dropped.
    Its true-sample grid, through an `Array.splice` slip, counts only 154 of the 450 samples it means to;
    here every real sample counts.
    """
    q = _cell_masses(_as_points(generated), num_cells, low, high)
    p = _density_masses(real, num_cells, low, high) if callable(real) else _cell_masses(real, num_cells, low, high)
    p, q, m = p + smoothing, q + smoothing, (p + q) / 2 + smoothing
    kl = np.sum(p * np.log2(p / q))
    js = 0.5 * (np.sum(p * np.log2(p / m)) + np.sum(q * np.log2(q / m)))
    return {"kl": float(kl), "js": float(js)}


def _cell_masses(samples: np.ndarray, num_cells: int, low, high) -> np.ndarray:
    """(num_cells, num_cells) fraction of the samples in each cell [low + i h, low + (i + 1) h)."""
    points = _as_points(samples)
    if points.shape[1] != 2:
        raise ValueError(f"GAN Lab's grid is 2-D; got samples of shape {np.shape(samples)}")
    scaled = (points - low) / (np.asarray(high, np.float64) - low) * num_cells  # (n, 2) in cell units
    on_grid = np.all(np.isfinite(scaled) & (scaled >= 0) & (scaled < num_cells), axis=1)
    cells = np.floor(scaled[on_grid]).astype(int)
    counts = np.bincount(cells[:, 0] * num_cells + cells[:, 1], minlength=num_cells * num_cells)
    return counts.reshape(num_cells, num_cells) / len(points)


def _density_masses(density: Callable, num_cells: int, low, high) -> np.ndarray:
    """(num_cells, num_cells) density at each cell's centre times the cell's area."""
    low, high = np.broadcast_to(np.asarray(low, np.float64), 2), np.broadcast_to(np.asarray(high, np.float64), 2)
    width = (high - low) / num_cells  # (2,)
    centres = [low[a] + (np.arange(num_cells) + 0.5) * width[a] for a in range(2)]
    grid = np.stack(np.meshgrid(*centres, indexing="ij"), axis=-1).reshape(-1, 2)  # (cells, 2), x-major
    return np.asarray(density(grid), np.float64).reshape(num_cells, num_cells) * np.prod(width)


# ---------------------------------------------------------------- a generated table against its rows


def standardized_columns(rows: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """`rows` and each of `others` in the rows' standard units: (x - mean) / std per column (std 0 counts as 1).

    What "columns standardised" means for the distances below, so a column of 0.01s and one of 10,000s weigh alike.
    """
    rows = _as_points(rows)
    mean, std = rows.mean(axis=0), rows.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return [(x - mean) / std for x in (rows, *map(_as_points, others))]


def squared_energy_distance(x: np.ndarray, y: np.ndarray) -> float:
    """2 E|X - Y| - E|X - X'| - E|Y - Y'| over all pairs (a V-statistic): the energy distance in Szekely and
    Rizzo's own form, of which `energy_distance` is the square root. Its expectation between two samples of
    one law, of sizes n and m, is E|X - X'| (1/n + 1/m): what `sampling_floor` measures of a data set."""
    return energy_distance(x, y) ** 2


def sampling_floor(rows: np.ndarray, *, splits: int = 20, seed: int = 0) -> float:
    """The data's own sampling noise: the median over `splits` random halvings of `rows` of the squared energy
    distance between the two halves (odd rows: one row left out). Rows as given: standardize them first."""
    rows = _as_points(rows)
    rng, half = np.random.default_rng(seed), len(rows) // 2
    values = [squared_energy_distance(rows[order[:half]], rows[order[half : 2 * half]])
              for order in (rng.permutation(len(rows)) for _ in range(splits))]
    return float(np.median(values))


def nearest_neighbour_accuracy(generated: np.ndarray, real: np.ndarray, *, k: int = 5, seed: int = 0
                               ) -> tuple[float, int]:
    """A classifier two-sample test (Lopez-Paz & Oquab 2017, "Revisiting classifier two-sample tests"): the
    held-out accuracy of a k-nearest-neighbour classifier telling generated from real points.

    Equal numbers of each (the larger set thinned), shuffled by `seed` and split in halves: the classifier
    votes by the k nearest points of the first half, and is scored on the second. 0.5 means the two are
    indistinguishable; near 1, told apart; below 0.5, generated points sit on real ones (copies). Returns
    (accuracy, points scored). Points as given: standardize them first.
    """
    from scipy.spatial import cKDTree

    n = min(len(generated), len(real))
    points = np.concatenate([_as_points(generated)[:n], _as_points(real)[:n]])  # (2n, d)
    labels = np.repeat([1, 0], n)
    order = np.random.default_rng(seed).permutation(2 * n)
    fit, test = order[:n], order[n:]
    _, neighbours = cKDTree(points[fit]).query(points[test], k=min(k, n))
    votes = labels[fit][np.asarray(neighbours).reshape(len(test), -1)].mean(axis=1)  # share voting "generated"
    guesses = np.where(votes == 0.5, np.random.default_rng(seed + 1).integers(0, 2, len(test)), votes > 0.5)
    return float(np.mean(guesses == labels[test])), len(test)


class NearestRows:
    """The rows generated samples are compared with for copies: a k-d tree over them, and each row's distance to
    its nearest other row (its gap), found once (`memorised_share` reads them at every log point)."""

    def __init__(self, training: np.ndarray):
        from scipy.spatial import cKDTree

        self.rows = _as_points(training)
        self.tree = cKDTree(self.rows)
        self.gaps = self.tree.query(self.rows, k=2)[0][:, 1]  # (rows,) a duplicated row's gap is 0

    def memorised_share(self, generated: np.ndarray) -> float:
        """`memorised_share` of generated points against these rows."""
        distance, nearest = self.tree.query(_as_points(generated), k=1)
        return float(np.mean(distance < self.gaps[nearest]))


def memorised_share(generated: np.ndarray, training: np.ndarray) -> float:
    """The share of generated points closer to their nearest training row than that row is to its own nearest
    other row (strictly: a duplicated row has a twin at distance 0, and nothing is closer). SDMetrics' "distance
    to closest record": a generator that copies its rows scores near 1. Points as given: standardize them first."""
    return NearestRows(training).memorised_share(generated)


def memorised_reference(training: np.ndarray, *, n: int = 2_000, seed: int = 0) -> float:
    """`memorised_share` of rows the generator never saw, estimated by leaving each of n training rows out in
    turn: the share that new samples of the data's own law score (about 1/2 in 1-D, less in more)."""
    from scipy.spatial import cKDTree

    training = _as_points(training)
    picked = np.random.default_rng(seed).permutation(len(training))[:n]
    tree = cKDTree(training)
    distances, indices = tree.query(training[picked], k=2)
    gap, nearest = distances[:, 1], indices[:, 1]  # the left-out row's nearest other row, and how far
    around, who = tree.query(training[nearest], k=3)  # that row itself, then the two nearest others
    others = np.where(who[:, 1] == picked, around[:, 2], around[:, 1])  # its nearest row but the left-out one
    return float(np.mean(gap < others))


def column_errors(generated: np.ndarray, rows: np.ndarray) -> list[tuple[float, float]]:
    """Per column, (Wasserstein-1, Kolmogorov-Smirnov) between the generated and the real values, in the
    column's own units: what `scipy.stats.wasserstein_distance` and `scipy.stats.ks_2samp`'s statistic give."""
    generated, rows = _as_points(generated), _as_points(rows)
    return [_two_sample_1d(np.sort(generated[:, j]), np.sort(rows[:, j])) for j in range(rows.shape[1])]


def _two_sample_1d(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(W1, KS) of two sorted samples from their empirical CDFs on the merged values t_1 <= ... <= t_m:
    W1 = sum_k |F_x(t_k) - F_y(t_k)| (t_k+1 - t_k), KS = max_k |F_x(t_k) - F_y(t_k)|."""
    merged = np.sort(np.concatenate([x, y]))
    gap = np.abs(np.searchsorted(x, merged, side="right") / len(x) - np.searchsorted(y, merged, side="right") / len(y))
    return float(np.sum(gap[:-1] * np.diff(merged))), float(np.max(gap))


def correlation_error(generated: np.ndarray, rows: np.ndarray) -> float:
    """The largest error of the pairwise rank (Spearman) correlations, |rho_gen(i, j) - rho_real(i, j)| over
    pairs of columns: ranks, so heavy tails and counts weigh like any column. NaN below two columns, and 0 for
    a pair where either side has a constant column."""
    generated, rows = _as_points(generated), _as_points(rows)
    if rows.shape[1] < 2:
        return float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        gaps = np.abs(_spearman(generated) - _spearman(rows))
    return float(np.nanmax(gaps)) if np.isfinite(gaps).any() else 0.0


def _spearman(x: np.ndarray) -> np.ndarray:
    """(d, d) Spearman correlations (Pearson's of the average ranks); NaN where a column is constant."""
    ranks = scipy.stats.rankdata(x, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.atleast_2d(np.corrcoef(ranks, rowvar=False))
