"""The generator and the discriminator, as pure functions of parameter pytrees.

Networks know nothing about GANs: a generator maps noise to samples, a
discriminator maps samples to one logit each. `make_*` returns a `Network`:
an `init(key)` that draws parameters and an `apply(params, x)`. Depth, width
and activation of each are config choices (maxout units, batch normalisation of
G's hidden layers, standardized units through `standardized`); the defaults
build exactly the seed's networks, with the same parameter pytrees and the same
random draws.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from tinygan.config import ModelConfig

Params = Any  # a pytree of arrays


class Network(NamedTuple):
    init: Callable[[jax.Array], Params]
    apply: Callable[[Params, jax.Array], jax.Array]
    pack: int = 1  # samples per logit: a packed discriminator maps (batch, dim) to (batch / pack,)


class Activation(NamedTuple):
    """A hidden layer's nonlinearity: a layer of width w computes w * expansion linear outputs,
    and `function` maps them, (batch, w * expansion), to its w units, (batch, w)."""

    function: Callable[[jax.Array], jax.Array]
    expansion: int = 1  # linear outputs per unit: maxout's pieces, 1 for an elementwise function


def maxout(h: jax.Array, pieces: int) -> jax.Array:
    """Maxout (Goodfellow et al. 2013, "Maxout Networks"): h_j = max_k (x W + b)_{j * pieces + k}.

    Unit j keeps the largest of its `pieces` linear outputs, the consecutive columns
    j * pieces, ..., j * pieces + pieces - 1 of the layer: (batch, w * pieces) -> (batch, w).
    The gradient goes to that one piece (the first, on a tie). Written as a gather at the
    argmax, not `max`: max's gradient divides by the number of pieces equal to the result,
    and under jit XLA may recompute the pieces with other rounding and find none (0 / 0).
    """
    grouped = h.reshape(*h.shape[:-1], h.shape[-1] // pieces, pieces)  # (batch, w, pieces)
    winner = jnp.argmax(grouped, axis=-1, keepdims=True)  # (batch, w, 1)
    return jnp.take_along_axis(grouped, winner, axis=-1)[..., 0]  # (batch, w)


def elementwise(function: Callable[[jax.Array], jax.Array]) -> Callable[[int], Activation]:
    """An activation applied to each linear output on its own: one output per unit, no pieces."""
    return lambda pieces: Activation(function)


def maxout_activation(pieces: int) -> Activation:
    """Maxout units of `pieces` linear outputs each."""
    return Activation(functools.partial(maxout, pieces=pieces), pieces)


# Each name builds its Activation from model.maxout_pieces (only maxout reads it).
ACTIVATIONS: dict[str, Callable[[int], Activation]] = {
    "tanh": elementwise(jnp.tanh),  # the seed's discriminator
    "relu": elementwise(jax.nn.relu),
    "leaky_relu": elementwise(jax.nn.leaky_relu),  # slope 0.01 below 0
    "softplus": elementwise(jax.nn.softplus),  # the seed's generator
    "elu": elementwise(jax.nn.elu),
    "sigmoid": elementwise(jax.nn.sigmoid),
    "identity": elementwise(lambda h: h),  # a linear network: G(z) affine in z, e.g. an exact Gaussian family
    "maxout": maxout_activation,  # PacGAN's discriminator: 3 x 200 units of 5 pieces
}


INITS: dict[str, Callable[[int, int, float], float]] = {  # (fan_in, fan_out, init_std) -> std of the weights
    "normal": lambda fan_in, fan_out, std: std,  # the seed's: model.init_std for every layer
    "glorot": lambda fan_in, fan_out, std: math.sqrt(2 / (fan_in + fan_out)),  # Glorot & Bengio 2010
    "he": lambda fan_in, fan_out, std: math.sqrt(2 / fan_in),  # He et al. 2015, for ReLU networks
}


def weight_std(config: ModelConfig, fan_in: int, fan_out: int) -> float:
    """The standard deviation of a (fan_in, fan_out) layer's initial weights under `config.init`."""
    return INITS[config.init](fan_in, fan_out, config.init_std)


def init_linear(key: jax.Array, in_dim: int, out_dim: int, std: float) -> Params:
    """W ~ N(0, std^2), b = 0: the seed's initialisation (std from `weight_std`)."""
    return {"w": std * jax.random.normal(key, (in_dim, out_dim)), "b": jnp.zeros(out_dim)}


SMALL_LAYER = 256  # weights at most this many entries (the seed's 8 x 8, recommended's 16 x 16) use the fused form


def linear(params: Params, x: jax.Array) -> jax.Array:
    """x W + b over the last axis.

    Small layers are written as a broadcast product and sum, not `x @ W`: at
    the seed's widths a matrix-multiply call costs far more than its
    arithmetic on the CPU, while elementwise work fuses with its neighbours
    (the compiled loop runs about three times faster). Wider layers use `@`:
    at 64 x 64 with batches of 256 the broadcast form is six times slower.
    """
    w, b = params["w"], params["b"]
    lead = (1,) * (x.ndim - 1)  # explicit broadcasting: no implicit rank promotion
    if w.size > SMALL_LAYER:
        return x @ w + b.reshape(lead + b.shape)
    return (x[..., :, None] * w.reshape(lead + w.shape)).sum(-2) + b.reshape(lead + b.shape)


def minibatch_features(
    params: Params, h: jax.Array, num_kernels: int, kernel_dims: int, include_self: bool = True
) -> jax.Array:
    """Minibatch discrimination (Salimans et al. 2016, "Improved Techniques for Training GANs").

    M = h T reshaped to (batch, kernels, dims); c_ij,k = exp(-||M_i,k - M_j,k||_1);
    o_i,k = sum_j c_ij,k over the whole batch, the sample itself included (c_ii,k = 1, the
    seed's choice), or over j != i without `include_self` (the same sum minus exactly 1).
    Computed with the batch axes last, so the exponentials run over contiguous memory.
    """
    m = linear(params, h).reshape(h.shape[0], num_kernels, kernel_dims).transpose(1, 2, 0)  # (kernels, dims, batch)
    distance = jnp.abs(m[..., :, None] - m[..., None, :]).sum(1)  # (kernels, batch, batch)
    features = jnp.exp(-distance).sum(-1).T  # (batch, kernels)
    return features if include_self else features - 1.0  # c_ii,k = exp(0) = 1 exactly


BATCH_NORM_EPSILON = 1e-5


def init_batch_norm(width: int) -> Params:
    """gamma = 1 ("scale"), beta = 0 ("offset"): the identity on standardized features."""
    return {"scale": jnp.ones(width), "offset": jnp.zeros(width)}


def batch_norm(params: Params, h: jax.Array) -> jax.Array:
    """Batch normalisation (Ioffe & Szegedy 2015, "Batch Normalization: Accelerating Deep
    Network Training by Reducing Internal Covariate Shift").

    (h - mean_batch) / sqrt(var_batch + 1e-5) * gamma + beta, per feature, with the mean and
    (biased) variance of the batch given, always: no running averages, so parameters stay a
    pure pytree with no hidden state, and a sample's output depends on the rest of its batch.
    """
    mean = h.mean(0, keepdims=True)  # (1, features)
    variance = h.var(0, keepdims=True)  # (1, features)
    normalized = (h - mean) / jnp.sqrt(variance + BATCH_NORM_EPSILON)  # (batch, features)
    return normalized * params["scale"].reshape(1, -1) + params["offset"].reshape(1, -1)


def init_stack(keys: list[jax.Array], in_dim: int, out_dim: int, std: float) -> list[Params]:
    """Linear layers in_dim -> out_dim, one per key."""
    return [init_linear(key, in_dim, out_dim, std) for key in keys]


def apply_stack(layers: list[Params], activation: Callable, h: jax.Array, norms: list[Params] | None = None):
    """activation(Linear(.)) through each layer in turn; with `norms`, activation(batch_norm(Linear(.)))."""
    for index, layer in enumerate(layers):
        h = linear(layer, h)  # (batch, w * expansion)
        if norms is not None:
            h = batch_norm(norms[index], h)
        h = activation(h)  # (batch, w)
    return h


def make_generator(config: ModelConfig, noise_dim: int = 1, data_dim: int = 1) -> Network:
    """Linear(noise, w) -> [norm] -> act -> [Linear(w, w) -> [norm] -> act] x (layers - 1) -> Linear(w, data).

    The seed's: one hidden layer, w = h, softplus, no norm. A maxout activation makes each
    hidden layer w * pieces wide before it. Parameters: "hidden" (the first layer), "deeper"
    (a list, only when layers > 1), "output"; with `config.generator_batch_norm` also
    "hidden_norm" and "deeper_norm" (a list), the batch norm after each hidden layer.
    With `config.generator_skip` the network adds its first data_dim inputs to its output,
    G(z) = z[:, :data] + Linear(w, data)(...), and the output layer starts at 0: G starts as
    the identity (in normal scores, every column's law already right; see `data/units.py`).
    """
    width = config.generator_width or config.hidden_size
    activation = ACTIVATIONS[config.generator_activation](config.maxout_pieces)
    columns = width * activation.expansion  # linear outputs of each hidden layer
    layers = config.generator_layers

    def init(key):
        keys = jax.random.split(key, layers + 1)  # the seed's split(key) for one layer
        params = {"hidden": init_linear(keys[0], noise_dim, columns, weight_std(config, noise_dim, columns))}
        if layers > 1:
            params["deeper"] = init_stack(list(keys[2:]), width, columns, weight_std(config, width, columns))
        params["output"] = init_linear(keys[1], width, data_dim, 0.0 if config.generator_skip else
                                       weight_std(config, width, data_dim))
        if config.generator_batch_norm:
            params["hidden_norm"] = init_batch_norm(columns)
            if layers > 1:
                params["deeper_norm"] = [init_batch_norm(columns) for _ in range(layers - 1)]
        return params

    def apply(params, z):  # (batch, noise_dim) -> (batch, data_dim)
        hidden = [params["hidden"], *params.get("deeper", [])]
        norms = [params["hidden_norm"], *params.get("deeper_norm", [])] if config.generator_batch_norm else None
        h = apply_stack(hidden, activation.function, z, norms)  # (batch, w)
        output = linear(params["output"], h)  # (batch, data_dim)
        return z[:, :data_dim] + output if config.generator_skip else output

    return Network(init, apply)


def make_discriminator(config: ModelConfig, data_dim: int = 1) -> Network:
    """Linear(data, w) -> act -> [Linear(w, w) -> act] x (layers - 1) -> third block -> Linear(., 1).

    The seed's: two layers before the third block, w = 2h, tanh. The third block is
    Linear(w, w) -> act, or with `config.minibatch` the minibatch features concatenated
    to its input. A maxout activation makes every layer followed by it (the plain third block
    too, not the minibatch projection) w * pieces wide. Parameters: "input", "hidden"
    (layers >= 2), "deeper" (a list, layers > 2), "block", "output". Returns logits of shape
    (batch,), or (batch / pack,) when packing (`packed`: D sees `config.pack` samples concatenated).
    """
    width = config.discriminator_width or 2 * config.hidden_size
    activation = ACTIVATIONS[config.discriminator_activation](config.maxout_pieces)
    columns = width * activation.expansion  # linear outputs of each hidden layer
    layers = config.discriminator_layers
    kernels, dims = config.minibatch_kernels, config.minibatch_dims
    in_dim = data_dim * config.pack

    if config.minibatch:
        block_init = lambda key: init_linear(key, width, kernels * dims, config.minibatch_init_std)
        block_apply = lambda p, h: jnp.concatenate(
            [h, minibatch_features(p, h, kernels, dims, config.minibatch_include_self)], -1
        )
        block_width = width + kernels
    else:
        block_init = lambda key: init_linear(key, width, columns, weight_std(config, width, columns))
        block_apply = lambda p, h: activation.function(linear(p, h))
        block_width = width

    def init(key):
        keys = jax.random.split(key, layers + 2)  # the seed's split(key, 4) for two layers
        k_input, k_block, k_output = keys[0], keys[layers], keys[layers + 1]
        params = {"input": init_linear(k_input, in_dim, columns, weight_std(config, in_dim, columns))}
        if layers >= 2:
            params["hidden"] = init_linear(keys[1], width, columns, weight_std(config, width, columns))
        if layers > 2:
            params["deeper"] = init_stack(list(keys[2:layers]), width, columns, weight_std(config, width, columns))
        params["block"] = block_init(k_block)
        params["output"] = init_linear(k_output, block_width, 1, weight_std(config, block_width, 1))
        return params

    def apply(params, x):  # (batch, in_dim) -> (batch,)
        h = activation.function(linear(params["input"], x))  # (batch, w)
        if "hidden" in params:
            h = activation.function(linear(params["hidden"], h))  # (batch, w)
        h = apply_stack(params.get("deeper", []), activation.function, h)  # (batch, w)
        h = block_apply(params["block"], h)  # (batch, block_width)
        return linear(params["output"], h)[:, 0]

    return packed(Network(init, apply), config.pack)


def packed(network: Network, pack: int) -> Network:
    """PacGAN (Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial networks").

    The discriminator judges `pack` samples at once: (batch, dim) is reshaped to
    (batch / pack, pack * dim), consecutive rows side by side, so it returns
    batch / pack logits and the losses are means over those. `network` must take
    pack * dim inputs. pack = 1 returns `network` itself.
    """
    if pack == 1:
        return network

    def apply(params, x):  # (batch, dim) -> (batch / pack,)
        return network.apply(params, x.reshape(x.shape[0] // pack, pack * x.shape[1]))

    return Network(network.init, apply, pack)


def per_point(network: Network) -> Callable[[Params, jax.Array], jax.Array]:
    """An apply giving one logit per row of x, packed or not.

    A packed discriminator is asked about `pack` copies of each point, (x, x, ..., x):
    what the decision-boundary picture and the seed's density pre-training read.
    """
    if network.pack == 1:
        return network.apply
    return lambda params, x: network.apply(params, jnp.repeat(x, network.pack, axis=0))


def standardized(
    generator: Network, discriminator: Network, mean: jax.Array, scale: jax.Array
) -> tuple[Network, Network]:
    """The two networks working in standard units: G'(z) = mean + scale * G(z), D'(x) = D((x - mean) / scale).

    `mean` and `scale` (each (data_dim,), e.g. the target's per-column mean and standard
    deviation) move data to and from the units the networks see, so the seed's unit-scale
    initialisation suits a target far from 0 or of any spread. D standardizes each sample
    before its own packing reshape. Parameters and `init` are unchanged.
    """
    mean = jnp.asarray(mean).reshape(1, -1)  # (1, data_dim): explicit broadcasting
    scale = jnp.asarray(scale).reshape(1, -1)  # (1, data_dim)

    def generate(params, z):  # (batch, noise_dim) -> (batch, data_dim)
        return mean + scale * generator.apply(params, z)

    def judge(params, x):  # (batch, data_dim) -> (batch / pack,)
        return discriminator.apply(params, (x - mean) / scale)

    return Network(generator.init, generate, generator.pack), Network(discriminator.init, judge, discriminator.pack)
