"""The seed's target N(4, 0.5) and its stratified noise."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from tinygan.config import ConfigError, DataConfig
from tinygan.core.noise import make_noise, quantile_grid
from tinygan.data.targets import make_target


def test_gaussian_target_samples_and_density():
    target = make_target(DataConfig())
    x = np.asarray(target.sample(jax.random.key(0), 100_000))
    assert x.shape == (100_000, 1)
    assert abs(x.mean() - 4.0) < 0.01  # standard error 0.0016
    assert abs(x.std() - 0.5) < 0.01
    points = np.array([[2.0], [3.5], [4.0], [6.0]], np.float32)
    np.testing.assert_allclose(target.density(points), scipy.stats.norm(4, 0.5).pdf(points[:, 0]), rtol=1e-6)
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


@pytest.mark.parametrize("kind, dim", [("uniform", 1), ("uniform", 3), ("gaussian", 1), ("gaussian", 2)])
def test_random_noises(kind, dim):
    noise = make_noise(DataConfig(noise=kind, noise_dim=dim, noise_range=3.0))
    assert noise.dim == dim
    z = np.asarray(noise.sample(jax.random.key(0), 100_000))
    assert z.shape == (100_000, dim)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=0.03)
    np.testing.assert_allclose(z.std(axis=0), 3.0 / np.sqrt(3), rtol=0.01)  # both have U[-3, 3)'s variance
    if kind == "uniform":
        assert z.min() >= -3 and z.max() < 3
    grid = np.asarray(noise.grid(1000))
    assert grid.shape == (1000, dim)
    np.testing.assert_array_equal(grid, np.asarray(noise.grid(1000)))  # deterministic
    law = scipy.stats.uniform(-3, 6) if kind == "uniform" else scipy.stats.norm(0, np.sqrt(3))
    for axis in range(dim):  # every coordinate holds the law's quantiles at (i + 1/2) / n
        np.testing.assert_allclose(np.sort(grid[:, axis]), law.ppf((np.arange(1000) + 0.5) / 1000), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(grid[:, 0], np.sort(grid[:, 0]))
    if dim > 1:
        assert abs(np.corrcoef(grid[:, 0], grid[:, 1])[0, 1]) < 0.1


@pytest.mark.parametrize("n, dim", [(1, 2), (7, 3), (1_000, 1), (10_000, 2), (2_500, 5), (400_000, 4)])
def test_the_noise_grid_is_its_latin_hypercube_bit_for_bit_in_and_out_of_a_program(n, dim):
    """The columns' shuffles are constants made once (`noise._shuffles`): the very numbers that permuting the
    levels inside the program, with keys 1 to dim - 1, gave before."""
    def shuffled_in_program(n, dim):
        levels = (jnp.arange(n) + 0.5) / n
        return jnp.stack([levels, *(jax.random.permutation(jax.random.key(axis), levels) for axis in range(1, dim))],
                         axis=1)

    expected = np.asarray(jax.jit(shuffled_in_program, static_argnums=(0, 1))(n, dim))
    np.testing.assert_array_equal(np.asarray(quantile_grid(n, dim)), expected)
    np.testing.assert_array_equal(np.asarray(jax.jit(quantile_grid, static_argnums=(0, 1))(n, dim)), expected)
    # And what a program makes of it: XLA may now fold the levels into the Gaussian's quantiles at compile time.
    gaussian = jax.jit(lambda std, grid: std * jax.scipy.special.ndtri(jnp.clip(grid(), 2.0**-24, 1 - 2.0**-24)),
                       static_argnums=1)
    np.testing.assert_array_equal(np.asarray(gaussian(jnp.float32(1.5), lambda: quantile_grid(n, dim))),
                                  np.asarray(gaussian(jnp.float32(1.5), lambda: shuffled_in_program(n, dim))))


def test_noise_dim_is_checked():
    with pytest.raises(ConfigError, match=r"^data.noise_dim: the stratified noise is 1-D, got 2$"):
        DataConfig(noise_dim=2)
    with pytest.raises(ConfigError, match=r"^data.noise_dim: must be >= 1, got 0$"):
        DataConfig(noise="uniform", noise_dim=0)
