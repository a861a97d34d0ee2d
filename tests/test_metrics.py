"""Wasserstein-1 and Kolmogorov-Smirnov distances to the target: exact hand cases and SciPy."""

import numpy as np
import pytest
import scipy.stats

from tinygan import metrics

TARGET = scipy.stats.norm(4.0, 0.5)


def midpoint_quantiles(law, n):
    return law.ppf((np.arange(n) + 0.5) / n)


# ---------------------------------------------------------------- exact hand cases


def test_samples_at_the_midpoint_quantiles_are_at_distance_zero():
    x = midpoint_quantiles(TARGET, 1000)
    assert metrics.wasserstein_1d(x, TARGET) == pytest.approx(0.0, abs=1e-12)
    # F(x_(i)) = (i - 1/2) / n: the empirical CDF is off by exactly 1/(2n) on either side of each step.
    assert metrics.ks_statistic(x, TARGET) == pytest.approx(0.5 / 1000, rel=1e-9)


def test_a_shift_moves_w1_by_exactly_the_shift():
    x = midpoint_quantiles(TARGET, 1000) + 0.3
    assert metrics.wasserstein_1d(x, TARGET) == pytest.approx(0.3, rel=1e-9)
    assert metrics.wasserstein_1d(x - 0.6, TARGET) == pytest.approx(0.3, rel=1e-9)


def test_uniform_target_by_hand():
    uniform = scipy.stats.uniform(0, 1)
    x = np.array([0.9, 0.1, 0.4])  # unsorted on purpose
    # Quantiles at u = 1/6, 1/2, 5/6 against sorted 0.1, 0.4, 0.9.
    expected_w1 = (abs(0.1 - 1 / 6) + abs(0.4 - 0.5) + abs(0.9 - 5 / 6)) / 3
    assert metrics.wasserstein_1d(x, uniform) == pytest.approx(expected_w1, rel=1e-12)
    # sup |F_n - F|: steps at 0.1, 0.4, 0.9 of height 1/3; the largest gap is 2/3 - 0.4 just after x = 0.4.
    expected_ks = max(1 / 3 - 0.1, 2 / 3 - 0.4, 1 - 0.9, 0.1 - 0, 0.4 - 1 / 3, 0.9 - 2 / 3)
    assert expected_ks == pytest.approx(4 / 15)
    assert metrics.ks_statistic(x, uniform) == pytest.approx(expected_ks, rel=1e-12)


def test_a_single_sample_at_the_median():
    assert metrics.ks_statistic(np.array([4.0]), TARGET) == pytest.approx(0.5, rel=1e-12)
    assert metrics.wasserstein_1d(np.array([4.0]), TARGET) == pytest.approx(0.0, abs=1e-12)


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
    # The target as a fine grid of 10^6 quantiles: SciPy's W1 between the two samples is the exact integral,
    # while ours takes each sample's stretch of u at its midpoint; the two agree to ~1e-5 here.
    grid = midpoint_quantiles(TARGET, 1_000_000)
    reference = scipy.stats.wasserstein_distance(x, grid)
    assert metrics.wasserstein_1d(x, TARGET) == pytest.approx(reference, abs=2e-4)


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
