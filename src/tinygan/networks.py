"""The generator and the discriminator, as pure functions of parameter pytrees.

Networks know nothing about GANs: a generator maps noise to samples, a
discriminator maps samples to one logit each. `make_*` returns a `Network`:
an `init(key)` that draws parameters and an `apply(params, x)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from tinygan.config import ModelConfig

Params = Any  # a pytree of arrays


class Network(NamedTuple):
    init: Callable[[jax.Array], Params]
    apply: Callable[[Params, jax.Array], jax.Array]


def init_linear(key: jax.Array, in_dim: int, out_dim: int, std: float) -> Params:
    """W ~ N(0, std^2), b = 0: the seed's initialisation."""
    return {"w": std * jax.random.normal(key, (in_dim, out_dim)), "b": jnp.zeros(out_dim)}


SMALL_LAYER = 4096  # weights at most this many entries use the fused broadcast form below


def linear(params: Params, x: jax.Array) -> jax.Array:
    """x W + b over the last axis.

    Small layers are written as a broadcast product and sum, not `x @ W`: at
    the seed's widths a matrix-multiply call costs far more than its
    arithmetic on the CPU, while elementwise work fuses with its neighbours
    (the compiled loop runs about three times faster). Wide layers use `@`.
    """
    w, b = params["w"], params["b"]
    lead = (1,) * (x.ndim - 1)  # explicit broadcasting: no implicit rank promotion
    if w.size > SMALL_LAYER:
        return x @ w + b.reshape(lead + b.shape)
    return (x[..., :, None] * w.reshape(lead + w.shape)).sum(-2) + b.reshape(lead + b.shape)


def minibatch_features(params: Params, h: jax.Array, num_kernels: int, kernel_dims: int) -> jax.Array:
    """Minibatch discrimination (Salimans et al. 2016, "Improved Techniques for Training GANs").

    M = h T reshaped to (batch, kernels, dims); c_ij,k = exp(-||M_i,k - M_j,k||_1);
    o_i,k = sum_j c_ij,k over the whole batch, the sample itself included (c_ii,k = 1).
    Computed with the batch axes last, so the exponentials run over contiguous memory.
    """
    m = linear(params, h).reshape(h.shape[0], num_kernels, kernel_dims).transpose(1, 2, 0)  # (kernels, dims, batch)
    distance = jnp.abs(m[..., :, None] - m[..., None, :]).sum(1)  # (kernels, batch, batch)
    return jnp.exp(-distance).sum(-1).T  # (batch, kernels)


def make_generator(config: ModelConfig, noise_dim: int = 1, data_dim: int = 1) -> Network:
    """Linear(noise, h) -> softplus -> Linear(h, data): the seed's generator."""
    h = config.hidden_size

    def init(key):
        k0, k1 = jax.random.split(key)
        return {
            "hidden": init_linear(k0, noise_dim, h, config.init_std),
            "output": init_linear(k1, h, data_dim, config.init_std),
        }

    def apply(params, z):  # (batch, noise_dim) -> (batch, data_dim)
        return linear(params["output"], jax.nn.softplus(linear(params["hidden"], z)))

    return Network(init, apply)


def make_discriminator(config: ModelConfig, data_dim: int = 1) -> Network:
    """Linear(data, 2h) -> tanh -> Linear(2h, 2h) -> tanh -> third block -> Linear(., 1).

    The third block is Linear(2h, 2h) -> tanh, or with `config.minibatch` the
    minibatch features concatenated to its input. Returns logits of shape (batch,).
    """
    width = 2 * config.hidden_size
    kernels, dims = config.minibatch_kernels, config.minibatch_dims

    if config.minibatch:
        block_init = lambda key: init_linear(key, width, kernels * dims, config.minibatch_init_std)
        block_apply = lambda p, h: jnp.concatenate([h, minibatch_features(p, h, kernels, dims)], -1)
        block_width = width + kernels
    else:
        block_init = lambda key: init_linear(key, width, width, config.init_std)
        block_apply = lambda p, h: jnp.tanh(linear(p, h))
        block_width = width

    def init(key):
        k0, k1, k2, k3 = jax.random.split(key, 4)
        return {
            "input": init_linear(k0, data_dim, width, config.init_std),
            "hidden": init_linear(k1, width, width, config.init_std),
            "block": block_init(k2),
            "output": init_linear(k3, block_width, 1, config.init_std),
        }

    def apply(params, x):  # (batch, data_dim) -> (batch,)
        h = jnp.tanh(linear(params["input"], x))  # (batch, 2h)
        h = jnp.tanh(linear(params["hidden"], h))  # (batch, 2h)
        h = block_apply(params["block"], h)  # (batch, block_width)
        return linear(params["output"], h)[:, 0]

    return Network(init, apply)
