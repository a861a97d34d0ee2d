"""Noise: what the generator starts from, in a registry keyed by the name the config uses.

Each noise draws `sample(key, n)` in JAX inside the compiled loop and gives a
deterministic `grid(n)` that the pictures are drawn from.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from tinygan.config import ConfigError, DataConfig


def quantile_grid(n: int, dim: int) -> jax.Array:
    """(n, dim) probabilities (i + 1/2) / n: column 0 in order, each other column in a fixed shuffle.

    A Latin hypercube with fixed keys: deterministic, and each coordinate's marginal is exactly the n
    quantile levels, so a random noise's picture is drawn from its quantiles, the same at every frame.
    """
    levels = (jnp.arange(n) + 0.5) / n  # (n,)
    shuffled = [jax.random.permutation(jax.random.key(axis), levels) for axis in range(1, dim)]
    return jnp.stack([levels, *shuffled], axis=1)


class StratifiedNoise(NamedTuple):
    """The seed's noise: `linspace(-range, range, n) + U[0, 1) * jitter`.

    Every batch covers the whole range evenly, so the generator learns a
    monotone map from a near-uniform grid rather than from random draws.
    """

    range: float
    jitter: float

    dim = 1

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        return self.grid(n) + self.jitter * jax.random.uniform(key, (n, 1))  # (n, 1)

    def grid(self, n: int) -> jax.Array:
        """The noise range without jitter: the seed draws its generated density from this."""
        return jnp.linspace(-self.range, self.range, n)[:, None]  # (n, 1)


class UniformNoise(NamedTuple):
    """z ~ U[-range, range)^dim, independent draws."""

    range: float
    dim: int

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        return jax.random.uniform(key, (n, self.dim), minval=-self.range, maxval=self.range)  # (n, dim)

    def grid(self, n: int) -> jax.Array:
        """The law's quantiles -range + 2 range (i + 1/2) / n, per coordinate (`quantile_grid`)."""
        return -self.range + 2 * self.range * quantile_grid(n, self.dim)  # (n, dim)


class GaussianNoise(NamedTuple):
    """z ~ N(0, std^2 I_dim), independent draws."""

    std: float
    dim: int

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        return self.std * jax.random.normal(key, (n, self.dim))  # (n, dim)

    def grid(self, n: int) -> jax.Array:
        """The law's quantiles std Phi^-1((i + 1/2) / n), per coordinate (`quantile_grid`)."""
        return self.std * jax.scipy.special.ndtri(quantile_grid(n, self.dim))  # (n, dim)


def stratified_noise(config: DataConfig) -> StratifiedNoise:
    if config.noise_dim != 1:
        raise ConfigError(f"data.noise_dim: the stratified noise is 1-D, got {config.noise_dim}")
    return StratifiedNoise(config.noise_range, config.noise_jitter)


NOISES = {
    "stratified": stratified_noise,
    "uniform": lambda config: UniformNoise(config.noise_range, config.noise_dim),
    # the uniform noise's variance range^2 / 3, so changing the noise's kind changes its shape, not its scale
    "gaussian": lambda config: GaussianNoise(config.noise_range / math.sqrt(3), config.noise_dim),
}



def make_noise(config: DataConfig):
    return NOISES[config.noise](config)
