"""Distances between generated samples and the target: NumPy arrays in, numbers out.

1-D against a known law: `wasserstein_1d`, `ks_statistic`, `distances` (from `law`). Between two sample sets in any
dimension: `sliced_wasserstein`, `energy_distance`. For targets with modes: `mode_metrics` (VEEGAN's and
PacGAN's measures). On a 2-D grid: `gan_lab_divergences` (GAN Lab's KL and JS). Samples are (n, d) arrays;
1-D samples may also be (n,).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.spatial.distance
import scipy.special
import scipy.stats

from tinygan.measure.law import distances, ks_statistic, wasserstein_1d  # noqa: F401 (1-D distances to a law)


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
    return SampleSet(y).sliced_wasserstein(x, num_projections=num_projections, seed=seed)


def energy_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Energy distance between two sample sets in R^d, with Euclidean norms |.|.

    D(P, Q) = sqrt(2 E|X - Y| - E|X - X'| - E|Y - Y'|), with X, X' ~ P and Y, Y' ~ Q independent, each
    expectation taken over all pairs of the two empirical laws (pairs of a point with itself included,
    a V-statistic). This is the square root of Szekely & Rizzo's energy distance ("Energy statistics: a class
    of statistics based on distances", 2013), a metric on laws with a finite mean, and what
    `scipy.stats.energy_distance` returns in 1-D. Memory stays bounded: the pairs are summed in blocks.
    """
    return SampleSet(y).energy_distance(x)


class SampleSet:
    """A sample set y that many others are compared with (a scorer's reference): what depends on y alone (its
    sorted projections, its own mean distance) is computed once. The numbers are `sliced_wasserstein`'s and
    `energy_distance`'s, bit for bit: the same operations in the same order."""

    def __init__(self, y: np.ndarray):
        self.points = _as_points(y)
        self._projected: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._mean_distance: float | None = None

    def sliced_wasserstein(self, x: np.ndarray, *, num_projections: int = 200, seed: int = 0) -> float:
        x = _as_points(x)
        directions, y_proj, y_sorted = self._projections(x.shape[1], num_projections, seed)
        x_proj = directions.T @ x.T  # (projections, n): each projection a contiguous row, which sorts fastest
        if x_proj.shape == y_proj.shape:  # equal sizes: W1 is the mean gap between the sorted projections
            return float(np.mean(np.abs(np.sort(x_proj, axis=1) - y_sorted)))
        return float(np.mean([scipy.stats.wasserstein_distance(a, b) for a, b in zip(x_proj, y_proj)]))

    def energy_distance(self, x: np.ndarray) -> float:
        x, y = _as_points(x), self.points
        if self._mean_distance is None:
            self._mean_distance = _mean_pairwise_distance(y, y)
        squared = 2 * _mean_pairwise_distance(x, y) - _mean_pairwise_distance(x, x) - self._mean_distance
        return float(np.sqrt(max(squared, 0.0)))  # >= 0 in exact arithmetic; rounding may dip below

    def _projections(self, dim: int, num_projections: int, seed: int):
        if (num_projections, seed) not in self._projected:
            directions = np.random.default_rng(seed).normal(size=(dim, num_projections))  # (d, projections)
            directions /= np.linalg.norm(directions, axis=0)
            y_proj = directions.T @ self.points.T  # (projections, m)
            self._projected[num_projections, seed] = directions, y_proj, np.sort(y_proj, axis=1)
        return self._projected[num_projections, seed]


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
    lengths, indices = tree.query(training[picked], k=2)
    gap, nearest = lengths[:, 1], indices[:, 1]  # the left-out row's nearest other row, and how far
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
