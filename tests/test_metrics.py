"""The metrics: 1-D distances to the target, two-sample distances, mode measures, grid divergences.

Exact hand cases and SciPy wherever a value is known; every assertion is two-sided.
"""

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats

from tinygan.data.targets import EmpiricalLaw, MixtureLaw
from tinygan.measure import metrics

TARGET = scipy.stats.norm(4.0, 0.5)


def midpoint_quantiles(law, n):
    return law.ppf((np.arange(n) + 0.5) / n)


def quad_w1(x, law, points=(), cdf=None, sf=None):
    """W1 = int |F_n - F| over the real line by scipy.integrate.quad, piece by piece: between consecutive
    breakpoints (the samples, F^-1(i/n), the support's finite ends, any `points` where F bends, such as a
    mixture's means), F on (-inf, first] and 1 - F on [last, inf). `cdf` and `sf` (else the law's): F and 1 - F
    at one point, faster than a scipy.stats law's own."""
    x, n, cdf, sf = np.sort(np.asarray(x, np.float64)), len(x), cdf or law.cdf, sf or law.sf
    ends = [e for e in law.ppf([0.0, 1.0]) if np.isfinite(e)]
    breaks = np.unique(np.concatenate([x, law.ppf(np.arange(1, n) / n), ends]))

    def quad(g, a, b):  # with the `points` inside as cuts
        cuts = [a, *sorted(p for p in points if a < p < b), b]
        options = dict(epsabs=0, epsrel=1e-12, limit=1000, full_output=1)  # full_output: no IntegrationWarning
        return sum(scipy.integrate.quad(g, p, q, **options)[0] for p, q in zip(cuts[:-1], cuts[1:]) if q > p)

    total = quad(cdf, -np.inf, breaks[0]) + quad(sf, breaks[-1], np.inf)
    for a, b in zip(breaks[:-1], breaks[1:]):
        level = np.searchsorted(x, a, side="right") / n  # F_n on (a, b)
        total += quad(lambda t: abs(level - cdf(t)), a, b)
    return total


def midpoint_w1(x, law):
    """The midpoint rule wasserstein_1d used before: mean |x_(i) - F^-1((i - 1/2)/n)|."""
    return float(np.mean(np.abs(np.sort(x) - midpoint_quantiles(law, len(x)))))


# ---------------------------------------------------------------- exact hand cases


def test_samples_at_the_midpoint_quantiles():
    x = midpoint_quantiles(TARGET, 1000)
    # Each sample sits at its cell's midpoint, not at 0: W1 is what F^-1 moves within the cells (the midpoint rule,
    # used before, read 0 here), quad's 9.5857501e-4.
    assert metrics.wasserstein_1d(x, TARGET) == pytest.approx(quad_w1(x, TARGET, (), normal_cdf, normal_sf), rel=1e-9)
    assert metrics.wasserstein_1d(x, TARGET) == pytest.approx(9.5857501e-4, rel=1e-7)
    # F(x_(i)) = (i - 1/2) / n: the empirical CDF is off by exactly 1/(2n) on either side of each step.
    assert metrics.ks_statistic(x, TARGET) == pytest.approx(0.5 / 1000, rel=1e-9)


def test_a_shift_past_each_cell_moves_w1_by_exactly_the_shift():
    # U(0, 1)'s midpoint quantiles shifted by s >= 1/(2n) lie at or above each whole cell: W1 = s exactly.
    uniform, n = scipy.stats.uniform(0, 1), 1000
    x = midpoint_quantiles(uniform, n)
    for shift in (0.3, -0.3, 0.5 / n):
        assert metrics.wasserstein_1d(x + shift, uniform) == pytest.approx(abs(shift), rel=1e-12)
    # A normal law's outer cells reach past any shift: W1 is a little more, the same either way by symmetry.
    x = midpoint_quantiles(TARGET, n)
    up, down = metrics.wasserstein_1d(x + 0.3, TARGET), metrics.wasserstein_1d(x - 0.3, TARGET)
    assert up == pytest.approx(down, rel=1e-12)
    assert up == pytest.approx(quad_w1(x + 0.3, TARGET, (), normal_cdf, normal_sf), rel=1e-9)
    assert 0.3 < up < 0.30002  # 0.30001154


def test_uniform_target_by_hand():
    uniform = scipy.stats.uniform(0, 1)
    x = np.array([0.9, 0.1, 0.4])  # unsorted on purpose
    # Cells [0, 1/3], [1/3, 2/3], [2/3, 1] hold 0.1, 0.4, 0.9, each inside its cell [a, b]: the integral of
    # |v - u| over it is ((v - a)^2 + (b - v)^2) / 2. The total is 23/225 (the midpoint rule read 0.0778).
    cells = [(0.0, 1 / 3, 0.1), (1 / 3, 2 / 3, 0.4), (2 / 3, 1.0, 0.9)]
    expected_w1 = sum(((v - a) ** 2 + (b - v) ** 2) / 2 for a, b, v in cells)
    assert expected_w1 == pytest.approx(23 / 225, rel=1e-12)
    assert metrics.wasserstein_1d(x, uniform) == pytest.approx(expected_w1, rel=1e-12)
    # sup |F_n - F|: steps at 0.1, 0.4, 0.9 of height 1/3; the largest gap is 2/3 - 0.4 just after x = 0.4.
    expected_ks = max(1 / 3 - 0.1, 2 / 3 - 0.4, 1 - 0.9, 0.1 - 0, 0.4 - 1 / 3, 0.9 - 2 / 3)
    assert expected_ks == pytest.approx(4 / 15)
    assert metrics.ks_statistic(x, uniform) == pytest.approx(expected_ks, rel=1e-12)


def test_a_single_sample_at_the_median():
    assert metrics.ks_statistic(np.array([4.0]), TARGET) == pytest.approx(0.5, rel=1e-12)
    # One sample carries the whole law: W1 = E|X - 4|, a normal's mean absolute deviation std sqrt(2/pi).
    assert metrics.wasserstein_1d(np.array([4.0]), TARGET) == pytest.approx(0.5 * np.sqrt(2 / np.pi), rel=1e-12)


def test_shape_and_order_do_not_matter():
    x = np.random.default_rng(0).normal(4.2, 0.7, 500)
    w1, ks = metrics.wasserstein_1d(x, TARGET), metrics.ks_statistic(x, TARGET)
    column = x[::-1].reshape(-1, 1).astype(np.float32)  # (n, 1), reversed, float32 as G gives them
    assert metrics.wasserstein_1d(column, TARGET) == pytest.approx(w1, rel=1e-6)
    assert metrics.ks_statistic(column, TARGET) == pytest.approx(ks, rel=1e-5)


# ---------------------------------------------------------------- against SciPy


@pytest.mark.parametrize("mean, std, n", [(4.0, 0.5, 2000), (4.3, 0.5, 2000), (0.0, 3.0, 500), (4.0, 0.05, 1000)])
def test_against_scipy(mean, std, n):
    x = np.random.default_rng(n).normal(mean, std, n)
    assert metrics.ks_statistic(x, TARGET) == pytest.approx(scipy.stats.kstest(x, TARGET.cdf).statistic, rel=1e-12)
    # The target as a fine grid of 10^6 quantiles: SciPy's W1 between the two samples is the exact integral
    # against that grid, which stands ~1e-7 from the law itself.
    grid = midpoint_quantiles(TARGET, 1_000_000)
    reference = scipy.stats.wasserstein_distance(x, grid)
    assert metrics.wasserstein_1d(x, TARGET) == pytest.approx(reference, abs=1e-6)


# ---------------------------------------------------------------- W1 against quad, law by law


MIXTURE = MixtureLaw(np.array([1.0, 3.0]), np.array([-2.0, 2.0]), np.array([0.5, 0.3]))


def mixture_cdf(x, sign=1):
    components = zip(MIXTURE.weights, MIXTURE.means, MIXTURE.stds)
    return sum(w * scipy.special.ndtr(sign * (x - m) / s) for w, m, s in components)


def normal_cdf(x):
    return scipy.special.ndtr((x - 4.0) / 0.5)


def normal_sf(x):
    return scipy.special.ndtr((4.0 - x) / 0.5)


class Opaque:
    """A law seen only through cdf, sf, pdf, ppf and mean, as any scipy.stats law is: W1 by quadrature."""

    def __init__(self, law):
        self.cdf, self.sf, self.pdf, self.ppf, self.mean = law.cdf, law.sf, law.pdf, law.ppf, law.mean


LAWS = {  # name: (law, points where F bends, F and 1 - F for quad, the tolerance of W1 against quad)
    "normal": (TARGET, (), normal_cdf, normal_sf, 1e-9),  # in closed form
    "mixture": (MIXTURE, (-2.0, 2.0), mixture_cdf, lambda x: mixture_cdf(x, -1), 1e-9),  # in closed form
    "normal, opaque": (Opaque(TARGET), (), normal_cdf, normal_sf, 1e-5),  # by quadrature, as any law
    "t3": (scipy.stats.t(3), (), lambda x: scipy.special.stdtr(3, x), lambda x: scipy.special.stdtr(3, -x), 1e-5),
    "uniform": (scipy.stats.uniform(-1, 2), (), lambda x: np.clip((x + 1) / 2, 0, 1),
                lambda x: np.clip((1 - x) / 2, 0, 1), 1e-12),  # F linear: Simpson's rule is exact
    "beta(0.5, 0.5)": (scipy.stats.beta(0.5, 0.5), (), lambda x: scipy.special.betainc(0.5, 0.5, np.clip(x, 0, 1)),
                       lambda x: scipy.special.betainc(0.5, 0.5, np.clip(1 - x, 0, 1)), 1e-5),  # bounded: an infinite
    # density at both ends
    "gamma(2)": (scipy.stats.gamma(2), (), lambda x: scipy.special.gammainc(2, max(x, 0)),
                 lambda x: scipy.special.gammaincc(2, max(x, 0)), 1e-5),  # bounded below
}


@pytest.mark.parametrize("name", LAWS)
@pytest.mark.parametrize("n", [1, 7, 100, 1000])
@pytest.mark.parametrize("fit", ["drawn", "off", "wide"])
def test_w1_is_quads_integral(name, n, fit):
    """Samples of the law, the same moved and stretched (some past the support's ends), and spread far too wide."""
    law, points, cdf, sf, tolerance = LAWS[name]
    rng = np.random.default_rng(n)
    low, high = law.ppf(0.001), law.ppf(0.999)
    x = {"drawn": lambda: law.ppf(rng.uniform(size=n)), "off": lambda: law.ppf(rng.uniform(size=n)) * 1.1 + 0.05,
         "wide": lambda: rng.uniform(low - (high - low) / 3, high + (high - low) / 3, n)}[fit]()
    assert metrics.wasserstein_1d(x, law) == pytest.approx(quad_w1(x, law, points, cdf, sf), rel=tolerance)


def test_heavy_tails_count_in_full():
    """Student t(3), n = 5,000: the midpoint rule read 0.0261, 7% low; W1 is 0.0282."""
    law = scipy.stats.t(3)
    x = np.random.default_rng(263).standard_t(3, 5000)
    w1 = metrics.wasserstein_1d(x, law)
    cdf, sf = LAWS["t3"][2:4]
    assert w1 == pytest.approx(quad_w1(x, law, (), cdf, sf), rel=1e-5)
    assert w1 == pytest.approx(0.028155, rel=1e-4)
    assert midpoint_w1(x, law) == pytest.approx(0.026060, rel=1e-4)


def test_a_law_without_a_mean_keeps_the_midpoint_rule():
    """W1 to a Cauchy law is infinite from any sample; the midpoint rule stays as a finite stand-in."""
    x = np.random.default_rng(5).standard_cauchy(1000)
    for law in (scipy.stats.cauchy(), scipy.stats.t(1)):
        assert metrics.wasserstein_1d(x, law) == pytest.approx(midpoint_w1(x, law), rel=1e-12)


def test_w1_to_a_data_files_law_is_scipys_two_sample_w1():
    rng = np.random.default_rng(8)
    data = rng.normal(size=700).round(1)  # many ties
    law = EmpiricalLaw(data)
    assert metrics.wasserstein_1d(data, law) == pytest.approx(0.0, abs=1e-12)
    for samples in (rng.choice(data, 500), rng.normal(0.1, 1.1, 400).round(2), data[:3], np.array([9.0]),
                    rng.normal(size=5000)):
        assert metrics.wasserstein_1d(samples, law) == pytest.approx(scipy.stats.wasserstein_distance(samples, data),
                                                                     rel=1e-12)


# ---------------------------------------------------------------- distances()


def test_distances_gives_mean_std_w1_ks():
    x = np.random.default_rng(1).normal(3.0, 2.0, (1000, 1)).astype(np.float32)
    d = metrics.distances(x, TARGET)
    assert list(d) == ["mean", "std", "w1", "ks"]
    assert d["mean"] == pytest.approx(np.mean(x.astype(np.float64)), rel=1e-12)
    assert d["std"] == pytest.approx(np.std(x.astype(np.float64)), rel=1e-12)  # population std (ddof 0)
    assert d["w1"] == metrics.wasserstein_1d(x, TARGET)
    assert d["ks"] == metrics.ks_statistic(x, TARGET)
    assert all(isinstance(v, float) for v in d.values())


def test_distances_of_samples_with_a_nan_are_all_nan():
    x = np.array([4.0, np.nan, 3.5])
    d = metrics.distances(x, TARGET)
    assert list(d) == ["mean", "std", "w1", "ks"]
    assert all(np.isnan(v) for v in d.values())


def test_distances_of_a_diverged_generator_give_no_warning():
    """+-inf samples (a runaway G): infinite W1 and moments, a KS statistic that still means something."""
    x = np.array([-np.inf, 4.0, 4.0, np.inf])
    d = metrics.distances(x, TARGET)  # warnings are errors in this suite
    assert d["w1"] == np.inf
    assert np.isnan(d["mean"]) and np.isnan(d["std"])
    assert d["ks"] == pytest.approx(0.25, rel=1e-12)  # F_n jumps 1/4 at -inf, 1/2 at 4 (F(4) = 1/2), 1/4 at +inf


# ---------------------------------------------------------------- sliced Wasserstein


@pytest.mark.parametrize("n, m", [(400, 400), (300, 177)])
def test_sliced_wasserstein_in_1d_is_the_exact_w1(n, m):
    rng = np.random.default_rng(n + m)
    x, y = rng.normal(0.0, 1.0, n), rng.normal(1.0, 2.0, m)
    exact = scipy.stats.wasserstein_distance(x, y)
    assert metrics.sliced_wasserstein(x, y, num_projections=7) == pytest.approx(exact, rel=1e-12)
    assert metrics.sliced_wasserstein(x.reshape(-1, 1), y[:, None]) == pytest.approx(exact, rel=1e-12)


def test_sliced_wasserstein_of_a_shift_in_2d_is_two_over_pi_of_the_shift():
    # Each projection of a shift by v is the same law shifted by <u, v>: W1 = |<u, v>|, whose mean over
    # the unit circle is 2|v|/pi. Unnormalised Gaussian directions would give sqrt(2/pi)|v| (25% more).
    x = np.random.default_rng(3).normal(size=(500, 2))
    v = np.array([0.3, -0.4])  # |v| = 0.5
    sw = metrics.sliced_wasserstein(x, x + v, num_projections=4000, seed=1)
    assert sw == pytest.approx(2 * 0.5 / np.pi, rel=0.03)  # ~2.6 standard errors of the estimate


def test_sliced_wasserstein_is_deterministic_for_a_seed_zero_on_itself_and_symmetric():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(200, 3)), rng.normal(0.5, 1.0, size=(150, 3))
    first = metrics.sliced_wasserstein(x, y, num_projections=50, seed=7)
    assert metrics.sliced_wasserstein(x, y, num_projections=50, seed=7) == first
    assert metrics.sliced_wasserstein(x, y, num_projections=50, seed=8) != pytest.approx(first, rel=1e-6)
    assert metrics.sliced_wasserstein(y, x, num_projections=50, seed=7) == pytest.approx(first, rel=1e-12)
    assert metrics.sliced_wasserstein(x, x[::-1], seed=7) == pytest.approx(0.0, abs=1e-12)
    assert 0.1 < first < 0.6  # a shift of 0.5 in each of 3 coordinates: E|<u, v>| = 0.5 sqrt(3) / 2 ~ 0.43


# ---------------------------------------------------------------- energy distance


@pytest.mark.parametrize("n, m", [(400, 400), (300, 177), (1, 5)])
def test_energy_distance_in_1d_is_scipys(n, m):
    rng = np.random.default_rng(n * m)
    x, y = rng.normal(0.0, 1.0, n), rng.normal(0.7, 2.0, m)
    expected = scipy.stats.energy_distance(x, y)  # the square root of 2E|X-Y| - E|X-X'| - E|Y-Y'|
    assert metrics.energy_distance(x, y) == pytest.approx(expected, rel=1e-9)
    assert metrics.energy_distance(x[:, None], y) == pytest.approx(expected, rel=1e-9)


def test_energy_distance_on_a_hand_case_in_2d():
    x = np.array([[0.0, 0.0], [1.0, 0.0]])
    y = np.array([[0.0, 1.0]])
    # E|X-Y| = (1 + sqrt 2) / 2; E|X-X'| = (0 + 1 + 1 + 0) / 4 = 1/2; E|Y-Y'| = 0.
    expected = np.sqrt(2 * (1 + np.sqrt(2)) / 2 - 0.5 - 0.0)
    assert metrics.energy_distance(x, y) == pytest.approx(expected, rel=1e-12)
    assert metrics.energy_distance(np.zeros((1, 2)), np.array([[3.0, 4.0]])) == pytest.approx(np.sqrt(10), rel=1e-12)


def test_energy_distance_is_zero_on_itself_and_symmetric():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(300, 2)), rng.normal(size=(200, 2)) + [1.0, 0.0]
    assert metrics.energy_distance(x, x) == 0.0
    assert metrics.energy_distance(x, y) == pytest.approx(metrics.energy_distance(y, x), rel=1e-12)
    assert 0.5 < metrics.energy_distance(x, y) < 1.5


def test_pairwise_sums_in_blocks_equal_the_whole_matrix():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(103, 3)), rng.normal(size=(41, 3))
    whole = np.mean(np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1))
    for max_block in (1, 40, 41, 100, 1 << 22):  # one row at a time, ..., everything at once
        assert metrics._mean_pairwise_distance(a, b, max_block=max_block) == pytest.approx(whole, rel=1e-12)


# ---------------------------------------------------------------- VEEGAN's and PacGAN's mode measures

RING = 2.0 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], axis=1)  # (8, 2)


def test_mode_metrics_on_hand_placed_points():
    samples = np.concatenate(
        [
            np.repeat(RING[[0]], 5, axis=0),  # 5 exactly on mode 0
            RING[[1, 1]] + [[0.05, 0.0], [0.0, -0.05]],  # 2 at 2.5 stds of mode 1
            RING[[3]],  # 1 on mode 3
            RING[[2]] + [[0.0, 0.07]],  # 3.5 stds from mode 2: low quality
            [[0.0, 0.0], [10.0, 10.0]],  # far from every mode
        ]
    )
    result = metrics.mode_metrics(samples, RING, 0.02)
    assert list(result) == ["modes_captured", "high_quality", "reverse_kl"]
    assert result["modes_captured"] == 3 and isinstance(result["modes_captured"], int)
    assert result["high_quality"] == pytest.approx(100 * 8 / 11, rel=1e-12)  # a percentage, as in PacGAN
    # q = (5, 2, 1) / 8 on modes 0, 1, 3 against 1/8 each: sum q ln(8 q).
    assert result["reverse_kl"] == pytest.approx(5 / 8 * np.log(5) + 2 / 8 * np.log(2), rel=1e-12)


def test_mode_metrics_with_weights_and_stds_per_mode():
    samples = np.repeat(RING[[0, 1]], [3, 1], axis=0)
    weights = np.array([4, 1, 1, 1, 1, 1, 1, 2])  # normalised to / 12
    result = metrics.mode_metrics(samples, RING, np.full(8, 0.02), weights)
    assert result["reverse_kl"] == pytest.approx(3 / 4 * np.log(3 / 4 / (4 / 12)) + 1 / 4 * np.log(1 / 4 / (1 / 12)))
    assert result["modes_captured"] == 2 and result["high_quality"] == 100.0


def test_the_nearest_mode_is_nearest_in_its_own_stds():
    # Euclid puts 0.4 nearer to 0 (4 stds: low quality); in stds it is nearer to 1 (1.2 stds: high quality).
    result = metrics.mode_metrics(np.array([0.4]), np.array([[0.0], [1.0]]), np.array([0.1, 0.5]))
    assert result["modes_captured"] == 1 and result["high_quality"] == 100.0
    assert result["reverse_kl"] == pytest.approx(np.log(2), rel=1e-12)  # all mass on one of two modes


def test_three_stds_exactly_is_not_high_quality():
    at_three = RING[[0]] + [[0.75, 0.0]]  # 0.75 / 0.25 = 3 exactly
    assert metrics.mode_metrics(at_three, RING, 0.25)["high_quality"] == 0.0
    assert metrics.mode_metrics(at_three - [[1e-9, 0.0]], RING, 0.25)["high_quality"] == 100.0


def test_mode_metrics_without_a_high_quality_sample_and_with_runaway_samples():
    samples = np.array([[np.nan, 0.0], [np.inf, -np.inf], [50.0, 50.0]])
    result = metrics.mode_metrics(samples, RING, 0.02)  # warnings are errors in this suite
    assert result["modes_captured"] == 0 and result["high_quality"] == 0.0
    assert np.isnan(result["reverse_kl"])


def test_samples_of_the_target_itself():
    rng = np.random.default_rng(8)
    n = 20_000
    samples = RING[rng.integers(0, 8, n)] + rng.normal(0.0, 0.02, (n, 2))
    result = metrics.mode_metrics(samples, RING, 0.02)
    assert result["modes_captured"] == 8
    # |x - mu| / std is chi with 2 degrees of freedom: P(< 3) = 1 - exp(-9/2) = 98.89%; 4 standard errors.
    assert result["high_quality"] == pytest.approx(100 * (1 - np.exp(-4.5)), abs=0.3)
    assert 0.0 < result["reverse_kl"] < 2e-3  # only sampling noise: about (k - 1) / 2n = 1.8e-4


# ---------------------------------------------------------------- GAN Lab's grid divergences


def test_gan_lab_divergences_are_zero_for_identical_inputs():
    x = np.random.default_rng(9).uniform(size=(450, 2))
    assert metrics.gan_lab_divergences(x, x) == {"kl": 0.0, "js": 0.0}


def test_gan_lab_divergences_on_a_two_by_two_grid_by_hand():
    real = np.array([[0.1, 0.2], [0.3, 0.4]])  # both in cell (0, 0): p = (1, 0, 0, 0)
    generated = np.array([[0.2, 0.1], [0.9, 0.6]])  # q = (1/2, 0, 0, 1/2); m = (3/4, 0, 0, 1/4)
    e = 1e-4
    kl = (1 + e) * np.log2((1 + e) / (0.5 + e)) + e * np.log2(e / (0.5 + e))
    js = 0.5 * (
        (1 + e) * np.log2((1 + e) / (0.75 + e))
        + e * np.log2(e / (0.25 + e))
        + (0.5 + e) * np.log2((0.5 + e) / (0.75 + e))
        + (0.5 + e) * np.log2((0.5 + e) / (0.25 + e))
    )
    result = metrics.gan_lab_divergences(generated, real, num_cells=2)
    assert result["kl"] == pytest.approx(kl, rel=1e-12)
    assert result["js"] == pytest.approx(js, rel=1e-12)
    # The same picture on [-4, 4)^2; a generated point off the grid keeps its share of n but lands nowhere.
    moved = metrics.gan_lab_divergences(generated * 8 - 4, real * 8 - 4, num_cells=2, low=-4.0, high=4.0)
    assert moved["kl"] == pytest.approx(kl, rel=1e-12) and moved["js"] == pytest.approx(js, rel=1e-12)
    off_grid = metrics.gan_lab_divergences(np.array([[0.2, 0.1], [1.0, 0.5]]), real, num_cells=2)
    # q = (1/2, 0, 0, 0): the mass is not renormalised, and cell (1, 1) now adds e log2(e / e) = 0.
    assert off_grid["kl"] == pytest.approx((1 + e) * np.log2((1 + e) / (0.5 + e)), rel=1e-12)


def test_gan_lab_divergences_against_a_density():
    # Density 2x on the unit square: cell masses 1/8 in the column x < 1/2 and 3/8 in the other, matched
    # exactly by 1 + 1 + 3 + 3 samples; with the axes swapped they would not match.
    generated = np.array([[0.25, 0.25], [0.25, 0.75]] + [[0.75, 0.25], [0.75, 0.75]] * 3)
    result = metrics.gan_lab_divergences(generated, lambda points: 2 * points[:, 0], num_cells=2)
    assert result == {"kl": 0.0, "js": 0.0}
    swapped = metrics.gan_lab_divergences(generated[:, ::-1], lambda points: 2 * points[:, 0], num_cells=2)
    assert swapped["kl"] > 0.1 and swapped["js"] > 0.01


def test_gan_lab_divergences_want_2d_samples():
    with pytest.raises(ValueError, match="2-D"):
        metrics.gan_lab_divergences(np.zeros(5), np.zeros(5))
