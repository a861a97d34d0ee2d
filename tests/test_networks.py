"""The seed's two networks: parameter shapes, initial weights, forward passes and minibatch features."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import tinygan
from tinygan import engine
from tinygan.config import ModelConfig
from tinygan.core import networks


def shapes(params):
    return jax.tree.map(lambda leaf: tuple(leaf.shape), params)


def leaves_named(params, name):
    """Every leaf under a key `name` ("w" or "b"), as NumPy arrays."""
    found = []
    jax.tree_util.tree_map_with_path(
        lambda path, leaf: found.append(np.asarray(leaf)) if path[-1].key == name else None, params
    )
    return found


# ---------------------------------------------------------------- shapes and initialisation


def test_parameter_shapes_of_the_seed_networks():
    state = engine.init_state(engine.make_game(tinygan.config_from_preset("seed")), jax.random.key(0))
    assert shapes(state.generator) == {"hidden": {"w": (1, 4), "b": (4,)}, "output": {"w": (4, 1), "b": (1,)}}
    assert shapes(state.discriminator) == {
        "input": {"w": (1, 8), "b": (8,)},
        "hidden": {"w": (8, 8), "b": (8,)},
        "block": {"w": (8, 8), "b": (8,)},
        "output": {"w": (8, 1), "b": (1,)},
    }


def test_parameter_shapes_with_minibatch_discrimination():
    # 5 kernels x 3 dims: the projection is 8 -> 15; the output layer sees 8 + 5 = 13 features.
    params = networks.make_discriminator(ModelConfig(minibatch=True)).init(jax.random.key(0))
    assert shapes(params) == {
        "input": {"w": (1, 8), "b": (8,)},
        "hidden": {"w": (8, 8), "b": (8,)},
        "block": {"w": (8, 15), "b": (15,)},
        "output": {"w": (13, 1), "b": (1,)},
    }


@pytest.mark.parametrize("minibatch", [False, True])
def test_biases_start_at_exactly_zero(minibatch):
    config = tinygan.config_from_preset("seed", minibatch=minibatch)
    state = engine.init_state(engine.make_game(config), jax.random.key(1))
    biases = leaves_named(state.generator, "b") + leaves_named(state.discriminator, "b")
    assert len(biases) == 6
    for bias in biases:
        np.testing.assert_array_equal(bias, np.zeros_like(bias))


@pytest.fixture(scope="module")
def wide_state():
    """hidden_size 256: D's hidden layer holds 512 x 512 weights, enough for tight statistics."""
    config = tinygan.config_from_preset("seed", hidden_size=256, minibatch=True)
    return engine.init_state(engine.make_game(config), jax.random.key(7))


def test_linear_weights_are_standard_normal(wide_state):
    w = np.asarray(wide_state.discriminator["hidden"]["w"]).ravel()  # 262,144 draws
    assert abs(w.mean()) < 0.01  # standard error 0.002
    assert abs(w.std() - 1.0) < 0.01  # standard error 0.0014
    assert scipy.stats.kstest(w, "norm").pvalue > 1e-3  # normal, not merely unit variance
    generator = np.concatenate([w.ravel() for w in leaves_named(wide_state.generator, "w")])  # 512 draws
    assert abs(generator.mean()) < 0.2
    assert abs(generator.std() - 1.0) < 0.15


def test_minibatch_projection_has_std_0_02(wide_state):
    w = np.asarray(wide_state.discriminator["block"]["w"]).ravel()  # 512 x 15 draws
    assert w.size == 512 * 15
    assert abs(w.mean()) < 0.001  # standard error 0.00023
    assert abs(w.std() - 0.02) < 0.001  # standard error 0.00016


def test_init_std_setting_scales_the_weights():
    params = networks.make_discriminator(ModelConfig(hidden_size=256, init_std=0.5)).init(jax.random.key(3))
    assert abs(np.asarray(params["hidden"]["w"]).std() - 0.5) < 0.005


def test_layers_draw_independent_weights():
    # A reused key would give the two 8 x 8 layers (and G's two layers) the same draws.
    discriminator = networks.make_discriminator(ModelConfig()).init(jax.random.key(0))
    assert not np.allclose(discriminator["hidden"]["w"], discriminator["block"]["w"])
    generator = networks.make_generator(ModelConfig()).init(jax.random.key(0))
    assert not np.allclose(generator["hidden"]["w"].ravel(), generator["output"]["w"].ravel())


# ---------------------------------------------------------------- forward passes against NumPy


def numpy_softplus(x):
    return np.log1p(np.exp(x))


def numpy_minibatch_features(h, w, b, kernels, dims):
    """o[i, k] = sum_j exp(-sum_d |M[i, k, d] - M[j, k, d]|), M = h w + b, written as plain loops."""
    m = (h @ w + b).reshape(len(h), kernels, dims)
    out = np.zeros((len(h), kernels))
    for i in range(len(h)):
        for k in range(kernels):
            for j in range(len(h)):
                out[i, k] += np.exp(-sum(abs(m[i, k, d] - m[j, k, d]) for d in range(dims)))
    return out


def as_numpy(params):
    return jax.tree.map(lambda leaf: np.asarray(leaf, np.float64), params)


def random_biases(params, key):
    """Non-zero biases, so a forward pass that drops a bias is caught."""
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(tree, [leaf + 0.3 * jax.random.normal(k, leaf.shape) for leaf, k in zip(leaves, keys)])


def test_generator_is_linear_softplus_linear():
    params = random_biases(networks.make_generator(ModelConfig()).init(jax.random.key(0)), jax.random.key(1))
    z = np.linspace(-8, 8, 7, dtype=np.float32)[:, None]
    out = networks.make_generator(ModelConfig()).apply(params, jnp.asarray(z))
    p = as_numpy(params)
    expected = numpy_softplus(z @ p["hidden"]["w"] + p["hidden"]["b"]) @ p["output"]["w"] + p["output"]["b"]
    assert out.shape == (7, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("minibatch", [False, True])
def test_discriminator_forward_pass(minibatch):
    config = ModelConfig(minibatch=minibatch, init_std=0.5, minibatch_init_std=0.5)
    network = networks.make_discriminator(config)
    params = random_biases(network.init(jax.random.key(2)), jax.random.key(3))
    x = np.array([[-2.0], [0.5], [3.0], [4.25], [7.0]], np.float32)
    p = as_numpy(params)
    h = np.tanh(x @ p["input"]["w"] + p["input"]["b"])
    h = np.tanh(h @ p["hidden"]["w"] + p["hidden"]["b"])
    if minibatch:
        h = np.concatenate([h, numpy_minibatch_features(h, p["block"]["w"], p["block"]["b"], 5, 3)], axis=1)
    else:
        h = np.tanh(h @ p["block"]["w"] + p["block"]["b"])
    expected = (h @ p["output"]["w"] + p["output"]["b"])[:, 0]
    logits = network.apply(params, jnp.asarray(x))
    assert logits.shape == (5,)  # one logit per sample, no trailing axis
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- minibatch features


def test_minibatch_features_match_hand_computation():
    h = np.array([[0.1, -0.4, 0.9, 0.0], [0.5, 0.2, -0.3, 0.7], [-0.6, 0.8, 0.1, -0.2]], np.float32)  # (3, 4)
    w = np.linspace(-1.0, 1.2, 24, dtype=np.float32).reshape(4, 6) * np.float32([1, -1, 1, -1, 1, -1])  # (4, 6)
    b = np.array([0.1, -0.2, 0.3, 0.0, 0.05, -0.15], np.float32)
    features = networks.minibatch_features({"w": jnp.asarray(w), "b": jnp.asarray(b)}, jnp.asarray(h), 2, 3)
    expected = numpy_minibatch_features(h.astype(np.float64), w.astype(np.float64), b.astype(np.float64), 2, 3)
    assert features.shape == (3, 2)
    np.testing.assert_allclose(features, expected, rtol=1e-6)
    # Every feature lies between exp(0) = 1 (the sample itself) and the batch size.
    assert np.all((expected > 1.0) & (expected < 3.0))


def test_minibatch_features_count_each_sample_itself_once():
    params = {"w": 1000.0 * jnp.concatenate([jnp.eye(3), -jnp.eye(3)], 1), "b": jnp.zeros(6)}  # 2 kernels x 3 dims
    far_apart = jnp.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [-3.0, 1.0, -2.0]])
    # Other samples are >= 1000 away in L1: exp(-1000) == 0, so only exp(0) = 1 remains.
    np.testing.assert_array_equal(networks.minibatch_features(params, far_apart, 2, 3), np.ones((3, 2)))
    same = jnp.ones((3, 3))
    # Identical samples: distance 0 to all three, the sample itself included.
    np.testing.assert_array_equal(networks.minibatch_features(params, same, 2, 3), np.full((3, 2), 3.0))


# ---------------------------------------------------------------- strictness (DESIGN.md section 3)


def test_networks_need_no_implicit_rank_promotion():
    with jax.numpy_rank_promotion("raise"):
        for minibatch in (False, True):
            config = ModelConfig(minibatch=minibatch)
            generator, discriminator = networks.make_generator(config), networks.make_discriminator(config)
            x = generator.apply(generator.init(jax.random.key(0)), jnp.zeros((4, 1)))
            discriminator.apply(discriminator.init(jax.random.key(1)), x)


def test_each_activation_is_the_function_its_name_says():
    """Against formulas written out here, not the registry's own functions: a registry that mapped `elu` to ReLU
    would pass any test whose expected values come from the registry."""
    h = np.linspace(-3, 3, 61, dtype=np.float32)
    formulas = {
        "tanh": np.tanh(h), "relu": np.maximum(h, 0), "leaky_relu": np.where(h > 0, h, 0.01 * h),
        "softplus": np.log1p(np.exp(h)), "elu": np.where(h > 0, h, np.expm1(h)), "sigmoid": 1 / (1 + np.exp(-h)),
        "identity": h,
    }
    assert set(formulas) | {"maxout"} == set(networks.ACTIVATIONS)
    for name, expected in formulas.items():
        activation = networks.ACTIVATIONS[name](5)
        assert activation.expansion == 1
        np.testing.assert_allclose(np.asarray(activation.function(jnp.asarray(h))), expected, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    # maxout of 4 pieces: unit j is the largest of the consecutive outputs 4j .. 4j + 3
    outputs = np.array([[3, -1, 7, 2, -5, -2, -9, -4, 0, 8, 8, 1]], np.float32)
    maxout = networks.ACTIVATIONS["maxout"](4)
    assert maxout.expansion == 4
    np.testing.assert_array_equal(np.asarray(maxout.function(jnp.asarray(outputs))), [[7, -2, 8]])
