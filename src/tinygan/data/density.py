"""Targets without a closed-form density: a kernel density on a sample of their points, and that fixed sample."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

KDE_CENTRES = 4_096  # rows of a data set, at most, behind a kernel density (pre-training only reads it)


def kernel_density(centres: np.ndarray, x: jax.Array) -> jax.Array:
    """Gaussian kernel density with Scott's bandwidth per column, at the points x (n, d) -> (n,).

    p(x) = 1/m sum_i prod_j N(x_j; c_ij, h_j^2), h_j = std_j(c, ddof=1) m^(-1/(d + 4)) (Scott 1992; in 1-D
    what `scipy.stats.gaussian_kde` uses). With more than KDE_CENTRES rows, every k-th row is a centre.
    """
    centres = centres[:: -(-len(centres) // KDE_CENTRES)]  # (m, d)
    bandwidth = np.std(centres, axis=0, ddof=1) * len(centres) ** (-1 / (centres.shape[1] + 4))  # (d,)
    normals = jax.scipy.stats.norm.pdf(
        x[:, None, :], jnp.asarray(centres, jnp.float32)[None], jnp.asarray(bandwidth, jnp.float32)[None, None]
    )  # (n, m, d)
    return jnp.mean(jnp.prod(normals, axis=2), axis=1)  # (n,)


@functools.lru_cache(maxsize=16)
def fixed_sample(target, n: int) -> np.ndarray:
    """n draws (n, dim) float64 of the target from the fixed key 0: the same points wherever they are read.

    A file's rows are picked outside any compiled program (a table baked into one makes it large and slow).
    """
    return np.asarray(draw(target, jax.random.key(0), n), np.float64)


def draw(target, key: jax.Array, n: int) -> jax.Array:
    """n draws (n, dim) of the target as one compiled program per target and n (run eagerly, a law's sampler is a
    dozen programs of one operation, each compiled at its first use: a second, for the ring); a file's rows
    outside any program."""
    return target.sample(key, n) if getattr(target, "rows_outside_programs", False) else _draw(target, key, n)


@functools.partial(jax.jit, static_argnums=(0, 2))
def _draw(target, key: jax.Array, n: int) -> jax.Array:
    return target.sample(key, n)
