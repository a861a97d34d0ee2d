"""Targets (what the generator imitates) and noise (what it starts from).

Each kind lives in a registry keyed by the name the config uses. A target
draws samples in JAX inside the compiled loop, gives its density in JAX for
the discriminator's pre-training, and hands metrics a SciPy distribution.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import scipy.stats

from tinygan.config import DataConfig


class Gaussian(NamedTuple):
    """N(mean, std^2) on the real line: the seed's target is N(4, 0.5)."""

    mean: float
    std: float

    dim = 1

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        return self.mean + self.std * jax.random.normal(key, (n, 1))  # (n, 1)

    def density(self, x: jax.Array) -> jax.Array:
        return jax.scipy.stats.norm.pdf(x, self.mean, self.std)

    def distribution(self):
        """The same law as a frozen `scipy.stats` distribution, for metrics."""
        return scipy.stats.norm(self.mean, self.std)


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


TARGETS = {"gaussian": lambda config: Gaussian(config.mean, config.std)}
NOISES = {"stratified": lambda config: StratifiedNoise(config.noise_range, config.noise_jitter)}


def make_target(config: DataConfig):
    return TARGETS[config.target](config)


def make_noise(config: DataConfig):
    return NOISES[config.noise](config)
