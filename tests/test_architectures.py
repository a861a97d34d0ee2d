"""Network options: activation, depth and width, minibatch features without self, and packing (PacGAN)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tinygan
from tinygan import engine
from tinygan.config import ConfigError, ModelConfig
from tinygan.core import networks


def shapes(params):
    return jax.tree.map(lambda leaf: tuple(leaf.shape), params)


def assert_same_pytree(actual, expected):
    assert jax.tree.structure(actual) == jax.tree.structure(expected)
    for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(e))


# ---------------------------------------------------------------- the defaults are the seed's networks


def seed_generator_init(key):
    """The seed's generator init as it was written before these options: split(key), "hidden" then "output"."""
    k0, k1 = jax.random.split(key)
    return {"hidden": networks.init_linear(k0, 1, 4, 1.0), "output": networks.init_linear(k1, 4, 1, 1.0)}


def seed_discriminator_init(key, minibatch):
    k0, k1, k2, k3 = jax.random.split(key, 4)
    block = networks.init_linear(k2, 8, 15, 0.02) if minibatch else networks.init_linear(k2, 8, 8, 1.0)
    return {
        "input": networks.init_linear(k0, 1, 8, 1.0),
        "hidden": networks.init_linear(k1, 8, 8, 1.0),
        "block": block,
        "output": networks.init_linear(k3, 13 if minibatch else 8, 1, 1.0),
    }


@pytest.mark.parametrize("minibatch", [False, True])
def test_defaults_draw_exactly_the_seed_parameters(minibatch):
    config = ModelConfig(minibatch=minibatch)
    for seed in (0, 7):
        key = jax.random.key(seed)
        assert_same_pytree(networks.make_generator(config).init(key), seed_generator_init(key))
        assert_same_pytree(networks.make_discriminator(config).init(key), seed_discriminator_init(key, minibatch))


def test_defaults_apply_the_seed_activations():
    key = jax.random.key(3)
    config = ModelConfig()
    g, d = networks.make_generator(config), networks.make_discriminator(config)
    gp, dp = g.init(key), d.init(key)
    x = jnp.linspace(-3.0, 3.0, 6)[:, None]
    lin = networks.linear
    expected_g = lin(gp["output"], jax.nn.softplus(lin(gp["hidden"], x)))
    h = jnp.tanh(lin(dp["hidden"], jnp.tanh(lin(dp["input"], x))))
    expected_d = lin(dp["output"], jnp.tanh(lin(dp["block"], h)))[:, 0]
    np.testing.assert_array_equal(np.asarray(g.apply(gp, x)), np.asarray(expected_g))
    np.testing.assert_array_equal(np.asarray(d.apply(dp, x)), np.asarray(expected_d))
    assert d.pack == 1


@pytest.mark.parametrize(("minibatch", "w1"), [(False, 6.682514230923503), (True, 3.953510187215814)])
def test_seed_runs_stay_bit_identical(minibatch, w1):
    # Values recorded before the network options existed (6.682514218845367 and 3.9535108918209896), moved in
    # the last bits once XLA's YNNPACK fusions were turned off for sweeps (see tinygan/__init__.py), then by W1
    # integrated exactly instead of by the midpoint rule (6.682514230923504 and 3.9535108917651103; the same
    # samples against scipy.integrate.quad: 6.682514230923346 and 3.9535101872158402).
    result = tinygan.train(tinygan.config_from_preset("seed", num_steps=100, minibatch=minibatch))
    assert result.metrics["w1"] == w1


# ---------------------------------------------------------------- depth, width, activation


def test_depth_and_width_change_the_shapes():
    config = ModelConfig(generator_layers=3, generator_width=6, discriminator_layers=4, discriminator_width=5)
    g = networks.make_generator(config, noise_dim=2, data_dim=3).init(jax.random.key(0))
    assert shapes(g) == {
        "hidden": {"w": (2, 6), "b": (6,)},
        "deeper": [{"w": (6, 6), "b": (6,)}] * 2,
        "output": {"w": (6, 3), "b": (3,)},
    }
    d = networks.make_discriminator(config, data_dim=3).init(jax.random.key(0))
    assert shapes(d) == {
        "input": {"w": (3, 5), "b": (5,)},
        "hidden": {"w": (5, 5), "b": (5,)},
        "deeper": [{"w": (5, 5), "b": (5,)}] * 2,
        "block": {"w": (5, 5), "b": (5,)},
        "output": {"w": (5, 1), "b": (1,)},
    }


def test_one_layer_discriminator_with_minibatch_features():
    config = ModelConfig(discriminator_layers=1, discriminator_width=6, minibatch=True)
    d = networks.make_discriminator(config)
    params = d.init(jax.random.key(0))
    assert shapes(params) == {
        "input": {"w": (1, 6), "b": (6,)},
        "block": {"w": (6, 15), "b": (15,)},
        "output": {"w": (11, 1), "b": (1,)},
    }
    assert d.apply(params, jnp.ones((4, 1))).shape == (4,)


def test_zero_width_means_the_seed_widths_of_hidden_size():
    params = networks.make_discriminator(ModelConfig(hidden_size=3)).init(jax.random.key(0))
    assert params["input"]["w"].shape == (1, 6)
    assert networks.make_generator(ModelConfig(hidden_size=3)).init(jax.random.key(0))["hidden"]["w"].shape == (1, 3)


@pytest.mark.parametrize("name", sorted(networks.ACTIVATIONS))
def test_each_activation_runs_in_both_networks(name):
    config = ModelConfig(generator_activation=name, discriminator_activation=name, generator_layers=2)
    g, d = networks.make_generator(config), networks.make_discriminator(config)
    gp, dp = g.init(jax.random.key(1)), d.init(jax.random.key(2))
    z = jnp.linspace(-2.0, 2.0, 5)[:, None]
    activation = networks.ACTIVATIONS[name](config.maxout_pieces).function
    h = activation(networks.linear(gp["hidden"], z))
    h = activation(networks.linear(gp["deeper"][0], h))
    np.testing.assert_array_equal(np.asarray(g.apply(gp, z)), np.asarray(networks.linear(gp["output"], h)))
    logits = d.apply(dp, g.apply(gp, z))
    assert logits.shape == (5,) and np.all(np.isfinite(np.asarray(logits)))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("generator_activation", "gelu"),
        ("discriminator_activation", "swish"),
        ("generator_layers", 0),
        ("discriminator_layers", 0),
        ("generator_width", -1),
        ("discriminator_width", 2.0),
        ("pack", 0),
        ("minibatch_include_self", "no"),
    ],
)
def test_bad_model_options_are_config_errors_naming_the_field(name, value):
    with pytest.raises(ConfigError, match=f"model.{name}"):
        ModelConfig(**{name: value})


# ---------------------------------------------------------------- minibatch features without the sample itself


def test_minibatch_features_without_self_on_a_hand_case():
    # One kernel of one dimension, T = [[1]]: M = h, so the two samples are 2 apart.
    params = {"w": jnp.ones((1, 1)), "b": jnp.zeros(1)}
    h = jnp.array([[0.0], [2.0]])
    with_self = networks.minibatch_features(params, h, 1, 1)
    without = networks.minibatch_features(params, h, 1, 1, include_self=False)
    np.testing.assert_allclose(np.asarray(with_self), [[1 + np.exp(-2)]] * 2, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(without), [[np.exp(-2)]] * 2, rtol=1e-6)


def test_minibatch_features_without_self_are_exactly_one_less_per_kernel():
    key_p, key_h = jax.random.split(jax.random.key(0))
    params = networks.init_linear(key_p, 8, 15, 0.5)
    h = jax.random.normal(key_h, (12, 8))
    with_self = networks.minibatch_features(params, h, 5, 3)
    without = networks.minibatch_features(params, h, 5, 3, include_self=False)
    assert without.shape == (12, 5)
    np.testing.assert_array_equal(np.asarray(without), np.asarray(with_self - 1.0))


def test_discriminator_uses_minibatch_include_self():
    key, x = jax.random.key(0), jnp.linspace(-1.0, 1.0, 6)[:, None]
    with_self = networks.make_discriminator(ModelConfig(minibatch=True))
    without = networks.make_discriminator(ModelConfig(minibatch=True, minibatch_include_self=False))
    params = with_self.init(key)
    assert_same_pytree(without.init(key), params)  # the option changes no parameter
    # The output layer sees the features 1 lower: its logit drops by the sum of those weights.
    shift = params["output"]["w"][8:, 0].sum()
    np.testing.assert_allclose(
        np.asarray(without.apply(params, x)), np.asarray(with_self.apply(params, x) - shift), rtol=1e-5, atol=1e-5
    )


# ---------------------------------------------------------------- packing (PacGAN)


@pytest.mark.parametrize("minibatch", [False, True])
def test_packed_discriminator_judges_concatenated_pairs(minibatch):
    packed = networks.make_discriminator(ModelConfig(pack=2, minibatch=minibatch))
    plain = networks.make_discriminator(ModelConfig(minibatch=minibatch), data_dim=2)
    assert packed.pack == 2
    params = packed.init(jax.random.key(0))
    assert_same_pytree(params, plain.init(jax.random.key(0)))  # input layer 2 -> 8
    x = jnp.array([[1.0], [2.0], [3.0], [4.0]])
    logits = packed.apply(params, x)
    assert logits.shape == (2,)
    pairs = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(np.asarray(logits), np.asarray(plain.apply(params, pairs)))


def test_packing_two_dimensional_samples_puts_whole_samples_side_by_side():
    packed = networks.make_discriminator(ModelConfig(pack=3), data_dim=2)
    plain = networks.make_discriminator(ModelConfig(), data_dim=6)
    params = packed.init(jax.random.key(1))
    x = jnp.arange(12.0).reshape(6, 2)
    expected = plain.apply(params, jnp.array([[0.0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]))
    np.testing.assert_array_equal(np.asarray(packed.apply(params, x)), np.asarray(expected))


def test_per_point_asks_a_packed_discriminator_about_copies_of_each_point():
    packed = networks.make_discriminator(ModelConfig(pack=2))
    plain = networks.make_discriminator(ModelConfig(), data_dim=2)
    params = packed.init(jax.random.key(2))
    x = jnp.array([[-1.0], [0.5], [3.0]])
    expected = plain.apply(params, jnp.array([[-1.0, -1.0], [0.5, 0.5], [3.0, 3.0]]))
    np.testing.assert_array_equal(np.asarray(networks.per_point(packed)(params, x)), np.asarray(expected))
    unpacked = networks.make_discriminator(ModelConfig())
    assert networks.per_point(unpacked) is unpacked.apply


def test_decision_boundary_of_a_packed_discriminator_covers_every_point():
    game = engine.make_game(tinygan.config_from_preset("seed", pack=2))
    params = game.discriminator.init(jax.random.key(0))
    xs = jnp.linspace(-8.0, 8.0, 101)[:, None]
    decision = engine.decision_boundary(game, params, xs)
    expected = jax.nn.sigmoid(networks.per_point(game.discriminator)(params, xs))
    np.testing.assert_allclose(np.asarray(decision), np.asarray(expected), rtol=1e-6)


def test_pack_must_divide_the_batch():
    with pytest.raises(ConfigError, match="model.pack"):
        tinygan.config_from_preset("seed", pack=5)  # batch 12
    assert tinygan.config_from_preset("seed", pack=4).model.pack == 4


# ---------------------------------------------------------------- end to end


@pytest.mark.parametrize(
    "options",
    [
        {
            "generator_activation": "relu",
            "discriminator_activation": "relu",
            "generator_layers": 3,
            "discriminator_layers": 3,
            "generator_width": 16,
            "discriminator_width": 16,
        },
        {"pack": 2},
    ],
    ids=["relu-3-layers-width-16", "pack-2"],
)
def test_short_training_with_the_options_finishes(options):
    config = tinygan.config_from_preset("seed", num_steps=20, pretrain_steps=5, **options)
    result = tinygan.train(config)
    assert all(np.isfinite(value) for value in result.metrics.values() if isinstance(value, float))
    assert np.isfinite(result.metrics["w1"])
