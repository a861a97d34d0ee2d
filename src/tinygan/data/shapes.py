"""The 2-D shapes without modes (spiral, swiss roll, two moons): drawn by JAX, their density from a fixed sample."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from tinygan.config import DataConfig
from tinygan.data.density import fixed_sample, kernel_density
from tinygan.data.params import shape_params


@dataclass(frozen=True, eq=False)
class ShapeTarget:
    """A 2-D shape drawn by a formula in JAX, `draw(key, n) -> (n, 2)`, blurred by N(0, noise^2 I).

    It has no closed-form density: pre-training reads a Gaussian KDE of `reference`, a fixed draw.
    """

    draw: object  # (key, n) -> (n, 2) points on the shape, before the blur
    noise: float
    reference: np.ndarray  # (REFERENCE_POINTS, 2)

    dim = 2
    modes = None

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        key_shape, key_noise = jax.random.split(key)
        return self.draw(key_shape, n) + self.noise * jax.random.normal(key_noise, (n, 2))  # (n, 2)

    def density(self, x: jax.Array) -> jax.Array:
        return kernel_density(self.reference, x)

    def distribution(self) -> None:
        return None


REFERENCE_POINTS = 2_000  # points of a shape behind its density


def _on_columns(x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.stack([x, y], axis=1)  # (n, 2)


def draw_spiral(key: jax.Array, n: int) -> jax.Array:
    """Two interleaved arms, r = t / 3 at angle t, t = 3 pi sqrt(u) (FFJORD's "2spirals"); arm 2 is arm 1 turned by pi."""
    key_t, key_arm = jax.random.split(key)
    t = 3 * jnp.pi * jnp.sqrt(jax.random.uniform(key_t, (n,)))  # (n,)
    sign = jnp.where(jax.random.bernoulli(key_arm, 0.5, (n,)), 1.0, -1.0)
    return sign[:, None] * _on_columns(-t * jnp.cos(t), t * jnp.sin(t)) / 3


def draw_swiss_roll(key: jax.Array, n: int) -> jax.Array:
    """scikit-learn's swiss roll seen from its side: (t cos t, t sin t) / 5 with t = 1.5 pi (1 + 2u)."""
    t = 1.5 * jnp.pi * (1 + 2 * jax.random.uniform(key, (n,)))  # (n,)
    return _on_columns(t * jnp.cos(t), t * jnp.sin(t)) / 5


def draw_moons(key: jax.Array, n: int) -> jax.Array:
    """scikit-learn's two moons, centred: (cos t, sin t) or (1 - cos t, 1/2 - sin t), t ~ U[0, pi), minus (1/2, 1/4)."""
    key_t, key_moon = jax.random.split(key)
    t = jnp.pi * jax.random.uniform(key_t, (n,))  # (n,)
    upper = jax.random.bernoulli(key_moon, 0.5, (n,))
    x = jnp.where(upper, jnp.cos(t), 1 - jnp.cos(t)) - 0.5
    y = jnp.where(upper, jnp.sin(t), 0.5 - jnp.sin(t)) - 0.25
    return _on_columns(x, y)


def shape_target(draw, noise: float):
    def build(config: DataConfig) -> ShapeTarget:
        blur = shape_params(config, {"noise": noise})["noise"]
        target = ShapeTarget(draw, blur, np.zeros((0, 2)))
        return ShapeTarget(draw, blur, fixed_sample(target, REFERENCE_POINTS))

    return build
