"""The seed's target N(4, 0.5) and its stratified noise."""

import jax
import numpy as np
import pytest
import scipy.stats

from tinygan.config import DataConfig
from tinygan.data import make_noise, make_target


def test_gaussian_target_samples_and_density():
    target = make_target(DataConfig())
    x = np.asarray(target.sample(jax.random.key(0), 100_000))
    assert x.shape == (100_000, 1)
    assert abs(x.mean() - 4.0) < 0.01  # standard error 0.0016
    assert abs(x.std() - 0.5) < 0.01
    points = np.array([[2.0], [3.5], [4.0], [6.0]], np.float32)
    np.testing.assert_allclose(target.density(points), scipy.stats.norm(4, 0.5).pdf(points), rtol=1e-6)
    law = target.distribution()
    assert (law.mean(), law.std()) == (4.0, 0.5)


def test_stratified_noise_is_a_grid_plus_a_small_jitter():
    noise = make_noise(DataConfig())
    grid = np.asarray(noise.grid(12))
    np.testing.assert_allclose(grid[:, 0], np.linspace(-8, 8, 12), rtol=1e-6)
    z = np.asarray(noise.sample(jax.random.key(0), 12))
    assert z.shape == (12, 1)
    jitter = z - grid
    assert np.all((jitter >= 0) & (jitter < 0.01 + 1e-6))  # U[0, 1) * 0.01
    assert jitter.std() > 0.001  # a jitter, not a constant
    assert not np.array_equal(z, np.asarray(noise.sample(jax.random.key(1), 12)))


@pytest.mark.parametrize("noise_range, jitter", [(3.0, 0.0), (8.0, 0.5)])
def test_noise_settings_are_used(noise_range, jitter):
    noise = make_noise(DataConfig(noise_range=noise_range, noise_jitter=jitter))
    z = np.asarray(noise.sample(jax.random.key(2), 1000))[:, 0]
    assert z.min() >= -noise_range and z.max() < noise_range + jitter + 1e-5
    assert z.min() < -noise_range + jitter + 1e-5 and z.max() >= noise_range - 1e-5
