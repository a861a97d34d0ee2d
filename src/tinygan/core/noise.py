"""Noise: what the generator starts from, in a registry keyed by the name the config uses.

Each noise draws `sample(key, n)` in JAX inside the compiled loop, gives a
deterministic `grid(n)` that the pictures are drawn from, and maps probability
levels to its values (`at_levels`), which `quasi_levels` fills evenly for
samples drawn by quasi-Monte Carlo.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from tinygan.config import ConfigError, DataConfig


def quantile_grid(n: int, dim: int) -> jax.Array:
    """(n, dim) probabilities (i + 1/2) / n: column 0 in order, each other column in a fixed shuffle.

    A Latin hypercube with fixed keys: deterministic, and each coordinate's marginal is exactly the n
    quantile levels, so a random noise's picture is drawn from its quantiles, the same at every frame.
    """
    levels = (jnp.arange(n) + 0.5) / n  # (n,)
    if (dim - 1) * n <= SHUFFLE_CONSTANTS:
        shuffled = [levels[order] for order in _shuffles(n, dim)]
    else:  # too many to hold in the program as constants: shuffled in it, the same numbers
        shuffled = [jax.random.permutation(jax.random.key(axis), levels) for axis in range(1, dim)]
    return jnp.stack([levels, *shuffled], axis=1)


SHUFFLE_CONSTANTS = 1 << 20  # indices (4 MB) that `quantile_grid`'s shuffles may hold as a program's constants


@functools.lru_cache(maxsize=32)
def _shuffles(n: int, dim: int) -> np.ndarray:
    """(dim - 1, n): the fixed shuffles of `quantile_grid`'s columns 1 to dim - 1, `jax.random.permutation` of
    keys 1 to dim - 1. Made once, as constants: inside a program, the sorts behind a permutation of 10,000
    levels took 4 ms at every probe, more than the rest of a 2-D log point's program."""
    with jax.ensure_compile_time_eval():
        orders = [np.asarray(jax.random.permutation(jax.random.key(axis), n)) for axis in range(1, dim)]
    return np.stack(orders) if orders else np.zeros((0, n), np.int32)


MAX_DRAWN = 10**8  # samples one call draws at most (`drawing_key`): their activations must fit in memory


def drawing_key(n, key) -> jax.Array:
    """The JAX key a draw of `n` samples uses: `key` itself (a typed key, or the raw uint32 pair of
    `jax.random.PRNGKey`), or `jax.random.key(key)` for an int seed; ConfigError in one line for another `n` than
    a whole number from 0 to MAX_DRAWN, or another key."""
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or not 0 <= n <= MAX_DRAWN:
        raise ConfigError(f"sample: n must be a whole number from 0 to {MAX_DRAWN:,}, got {n!r:.40}")
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        return jax.random.key(int(key))
    typed = isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ()
    raw = isinstance(key, (jax.Array, np.ndarray)) and key.dtype == np.uint32 and key.shape == (2,)
    if not (typed or raw):
        raise ConfigError(f"sample: key must be a JAX key (jax.random.key(seed)) or an int seed, got {key!r:.60}")
    return key


SOBOL_CHUNK = 2**20  # quasi-random points made at once, at most


def quasi_levels(key: jax.Array, n: int, dim: int) -> np.ndarray:
    """n points (n, dim) of [0, 1)^dim, float32, as a randomized quasi-Monte Carlo sample: the first n points of a
    scrambled Sobol' sequence (Owen's scrambling, from `key`): each point is uniform on its own, and together
    they fill the cube far more evenly than n independent draws, as the seed's stratified noise fills its line.
    Above Sobol's largest dimension, a Latin hypercube (evenly filled per coordinate)."""
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key), np.uint32).ravel())
    if dim > scipy.stats.qmc.Sobol.MAXDIM:
        return scipy.stats.qmc.LatinHypercube(dim, rng=rng).random(n).astype(np.float32)
    sobol = scipy.stats.qmc.Sobol(dim, scramble=True, rng=rng)
    first = min(SOBOL_CHUNK, 1 << max(0, n - 1).bit_length())  # a power of 2 first: the sequence's balance
    parts = [sobol.random(first).astype(np.float32)]
    while sum(len(part) for part in parts) < n:
        parts.append(sobol.random(min(SOBOL_CHUNK, n - sum(len(part) for part in parts))).astype(np.float32))
    return np.concatenate(parts)[:n]


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

    def at_levels(self, u: jax.Array) -> jax.Array:
        """Points of the noise range at levels u (n, 1) in [0, 1): -range + 2 range u."""
        return -self.range + 2 * self.range * u


class UniformNoise(NamedTuple):
    """z ~ U[-range, range)^dim, independent draws."""

    range: float
    dim: int

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        return jax.random.uniform(key, (n, self.dim), minval=-self.range, maxval=self.range)  # (n, dim)

    def grid(self, n: int) -> jax.Array:
        """The law's quantiles -range + 2 range (i + 1/2) / n, per coordinate (`quantile_grid`)."""
        return self.at_levels(quantile_grid(n, self.dim))  # (n, dim)

    def at_levels(self, u: jax.Array) -> jax.Array:
        """The law's quantiles at levels u (n, dim): -range + 2 range u."""
        return -self.range + 2 * self.range * u


class GaussianNoise(NamedTuple):
    """z ~ N(0, std^2 I_dim), independent draws."""

    std: float
    dim: int

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        return self.std * jax.random.normal(key, (n, self.dim))  # (n, dim)

    def grid(self, n: int) -> jax.Array:
        """The law's quantiles std Phi^-1((i + 1/2) / n), per coordinate (`quantile_grid`)."""
        return self.at_levels(quantile_grid(n, self.dim))  # (n, dim)

    def at_levels(self, u: jax.Array) -> jax.Array:
        """The law's quantiles at levels u (n, dim): std Phi^-1(u), u kept off 0 by a float32 step."""
        return self.std * jax.scipy.special.ndtri(jnp.clip(u, 2.0**-24, 1 - 2.0**-24))


def stratified_noise(config: DataConfig) -> StratifiedNoise:  # 1-D: DataConfig refuses another noise_dim
    return StratifiedNoise(config.noise_range, config.noise_jitter)


NOISES = {
    "stratified": stratified_noise,
    "uniform": lambda config: UniformNoise(config.noise_range, config.noise_dim),
    # the uniform noise's variance range^2 / 3, so changing the noise's kind changes its shape, not its scale
    "gaussian": lambda config: GaussianNoise(config.noise_range / math.sqrt(3), config.noise_dim),
}



def make_noise(config: DataConfig):
    return NOISES[config.noise](config)
