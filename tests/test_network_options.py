"""Network options: maxout units, batch normalisation of G's hidden layers, and standardized networks."""

import jax
import jax.numpy as jnp
import numpy as np
from helpers import untrained_result

import tinygan
from tinygan import engine
from tinygan.config import ModelConfig
from tinygan.core import networks
from tinygan.data.targets import moments
from tinygan.training import loop as trainer


def shapes(params):
    return jax.tree.map(lambda leaf: tuple(leaf.shape), params)


def init_shapes(network):
    """The shapes `network.init` draws, traced only (nothing runs): fast for wide layers."""
    return shapes(jax.eval_shape(network.init, jax.random.key(0)))


def as_numpy(params):
    return jax.tree.map(lambda leaf: np.asarray(leaf, np.float64), params)


def random_leaves(network, key, std=0.3):
    """`network`'s parameters with every leaf moved by N(0, std^2) noise, so a forward pass
    that drops a bias, scale or offset is caught. Jitted: one compilation, not one per shape."""

    def draw(key):
        key_init, key_noise = jax.random.split(key)
        leaves, tree = jax.tree.flatten(network.init(key_init))
        keys = jax.random.split(key_noise, len(leaves))
        return jax.tree.unflatten(
            tree, [leaf + std * jax.random.normal(k, leaf.shape) for leaf, k in zip(leaves, keys)]
        )

    return jax.jit(draw)(key)


def numpy_maxout_layer(x, w, b, pieces):
    """h[i, j] = max_k (x W + b)[i, j * pieces + k], as plain loops: unit j owns consecutive columns."""
    linear = x @ w + b
    units = linear.shape[1] // pieces
    out = np.empty((len(x), units))
    for i in range(len(x)):
        for j in range(units):
            out[i, j] = max(linear[i, j * pieces + k] for k in range(pieces))
    return out


def numpy_batch_norm(h, scale, offset):
    return (h - h.mean(0)) / np.sqrt(h.var(0) + 1e-5) * scale + offset


def numpy_softplus(x):
    return np.log1p(np.exp(x))


# ---------------------------------------------------------------- maxout


def test_maxout_keeps_the_largest_of_consecutive_pieces():
    h = jnp.array([[1.0, -2.0, 3.0, 0.5, 0.25, -1.0], [-4.0, -5.0, -6.0, 7.0, 9.0, 8.0]])  # (2, 2 units x 3 pieces)
    np.testing.assert_array_equal(np.asarray(networks.maxout(h, 3)), [[3.0, 0.5], [-4.0, 9.0]])
    np.testing.assert_array_equal(np.asarray(networks.maxout(h, 2)), [[1.0, 3.0, 0.25], [-4.0, 7.0, 9.0]])
    np.testing.assert_array_equal(np.asarray(networks.maxout(h, 1)), np.asarray(h))  # one piece: the identity


def test_maxout_layer_matches_a_hand_computation():
    key_w, key_b, key_x = jax.random.split(jax.random.key(0), 3)
    layer = {"w": jax.random.normal(key_w, (3, 8)), "b": jax.random.normal(key_b, (8,))}  # 4 units x 2 pieces
    x = jax.random.normal(key_x, (5, 3))
    out = networks.ACTIVATIONS["maxout"](2).function(networks.linear(layer, x))
    p = as_numpy(layer)
    assert out.shape == (5, 4)
    np.testing.assert_allclose(
        np.asarray(out), numpy_maxout_layer(np.asarray(x, np.float64), p["w"], p["b"], 2), rtol=1e-5, atol=1e-6
    )


def test_maxout_gradient_goes_to_the_winning_piece_only():
    h = jnp.array([[1.0, 3.0, 2.0, 5.0, 5.0, -1.0]])  # unit 0: piece 1 wins; unit 1: a tie, the first wins
    expected = [[0.0, 1.0, 0.0, 1.0, 0.0, 0.0]]
    for grad in (
        jax.grad(lambda h: networks.maxout(h, 3).sum()),
        jax.jit(jax.grad(lambda h: networks.maxout(h, 3).sum())),
    ):
        np.testing.assert_array_equal(np.asarray(grad(h)), expected)


def test_activation_registry_knows_each_expansion():
    for name, build in networks.ACTIVATIONS.items():
        assert build(4).expansion == (4 if name == "maxout" else 1), name
    assert ModelConfig(generator_activation="maxout", discriminator_activation="maxout").maxout_pieces == 5


def test_maxout_widens_every_hidden_layer_by_its_pieces():
    config = ModelConfig(
        generator_activation="maxout",
        discriminator_activation="maxout",
        maxout_pieces=3,
        generator_layers=2,
        generator_width=4,
        discriminator_layers=3,
        discriminator_width=6,
    )
    assert init_shapes(networks.make_generator(config, noise_dim=2, data_dim=3)) == {
        "hidden": {"w": (2, 12), "b": (12,)},
        "deeper": [{"w": (4, 12), "b": (12,)}],
        "output": {"w": (4, 3), "b": (3,)},
    }
    assert init_shapes(networks.make_discriminator(config, data_dim=3)) == {
        "input": {"w": (3, 18), "b": (18,)},
        "hidden": {"w": (6, 18), "b": (18,)},
        "deeper": [{"w": (6, 18), "b": (18,)}],
        "block": {"w": (6, 18), "b": (18,)},  # the plain third block is a maxout layer too
        "output": {"w": (6, 1), "b": (1,)},
    }


def test_maxout_leaves_the_minibatch_projection_alone():
    config = ModelConfig(discriminator_activation="maxout", maxout_pieces=2, minibatch=True)
    assert init_shapes(networks.make_discriminator(config)) == {
        "input": {"w": (1, 16), "b": (16,)},
        "hidden": {"w": (8, 16), "b": (16,)},
        "block": {"w": (8, 15), "b": (15,)},  # 5 kernels x 3 dims, from the 8 maxout units
        "output": {"w": (13, 1), "b": (1,)},
    }


def test_maxout_generator_matches_a_hand_computation():
    config = ModelConfig(generator_activation="maxout", maxout_pieces=3, generator_layers=2)
    generator = networks.make_generator(config, noise_dim=2, data_dim=2)
    params = random_leaves(generator, jax.random.key(1))
    z = jax.random.normal(jax.random.key(3), (6, 2))
    p = as_numpy(params)
    h = numpy_maxout_layer(np.asarray(z, np.float64), p["hidden"]["w"], p["hidden"]["b"], 3)
    h = numpy_maxout_layer(h, p["deeper"][0]["w"], p["deeper"][0]["b"], 3)
    expected = h @ p["output"]["w"] + p["output"]["b"]
    np.testing.assert_allclose(np.asarray(jax.jit(generator.apply)(params, z)), expected, rtol=1e-5, atol=1e-5)


def test_maxout_discriminator_matches_a_hand_computation():
    config = ModelConfig(discriminator_activation="maxout", maxout_pieces=2, discriminator_layers=3)
    discriminator = networks.make_discriminator(config)
    params = random_leaves(discriminator, jax.random.key(4))
    x = np.array([[-2.0], [0.5], [3.0], [4.25]], np.float32)
    p = as_numpy(params)
    h = x.astype(np.float64)
    for layer in (p["input"], p["hidden"], p["deeper"][0], p["block"]):
        h = numpy_maxout_layer(h, layer["w"], layer["b"], 2)
    expected = (h @ p["output"]["w"] + p["output"]["b"])[:, 0]
    logits = jax.jit(discriminator.apply)(params, jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(logits), expected, rtol=1e-5, atol=1e-5)


def test_pacgan_discriminator_3_x_200_maxout_with_pack():
    options = {"discriminator_activation": "maxout", "discriminator_width": 200, "discriminator_layers": 3}
    packed = networks.make_discriminator(ModelConfig(pack=2, **options), data_dim=2)
    plain = networks.make_discriminator(ModelConfig(**options), data_dim=4)
    params = packed.init(jax.random.key(6))
    assert shapes(params) == {
        "input": {"w": (4, 1000), "b": (1000,)},  # 2 samples of 2 columns, 200 units x 5 pieces
        "hidden": {"w": (200, 1000), "b": (1000,)},
        "deeper": [{"w": (200, 1000), "b": (1000,)}],
        "block": {"w": (200, 1000), "b": (1000,)},
        "output": {"w": (200, 1), "b": (1,)},
    }
    x = jax.random.normal(jax.random.key(7), (6, 2))
    logits = packed.apply(params, x)
    assert logits.shape == (3,) and np.all(np.isfinite(np.asarray(logits)))
    np.testing.assert_array_equal(np.asarray(logits), np.asarray(plain.apply(params, x.reshape(3, 4))))


# ---------------------------------------------------------------- batch normalisation of G


def test_batch_norm_matches_the_formula_and_the_batch_statistics():
    key_h, key_scale, key_offset = jax.random.split(jax.random.key(8), 3)
    h = 3.0 + 2.0 * jax.random.normal(key_h, (64, 5))
    params = {"scale": 0.5 + jax.random.uniform(key_scale, (5,)), "offset": jax.random.normal(key_offset, (5,))}
    out = np.asarray(networks.batch_norm(params, h), np.float64)
    p = as_numpy(params)
    np.testing.assert_allclose(
        out, numpy_batch_norm(np.asarray(h, np.float64), p["scale"], p["offset"]), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(out.mean(0), p["offset"], atol=1e-5)  # per-feature batch mean: beta
    np.testing.assert_allclose(out.std(0), p["scale"], rtol=1e-4)  # per-feature batch std: gamma (var >> 1e-5)


def test_batch_norm_adds_only_its_own_parameters():
    off = ModelConfig(generator_layers=3, generator_width=6)
    on = ModelConfig(generator_layers=3, generator_width=6, generator_batch_norm=True)
    key = jax.random.key(9)
    plain = networks.make_generator(off).init(key)
    normed = networks.make_generator(on).init(key)
    assert set(plain) == {"hidden", "deeper", "output"}  # off: no norm parameters at all
    unit = {"scale": (6,), "offset": (6,)}
    assert shapes(normed) == {**shapes(plain), "hidden_norm": unit, "deeper_norm": [unit, unit]}
    for name in plain:  # the linear layers draw the same weights
        jax.tree.map(np.testing.assert_array_equal, normed[name], plain[name])
    for norm in (normed["hidden_norm"], *normed["deeper_norm"]):
        np.testing.assert_array_equal(np.asarray(norm["scale"]), np.ones(6))  # gamma = 1
        np.testing.assert_array_equal(np.asarray(norm["offset"]), np.zeros(6))  # beta = 0


def test_batch_norm_sizes_itself_to_maxout_pieces():
    config = ModelConfig(generator_activation="maxout", maxout_pieces=3, generator_batch_norm=True)
    assert init_shapes(networks.make_generator(config))["hidden_norm"] == {
        "scale": (12,),
        "offset": (12,),
    }  # 4 units x 3 pieces, before the max


def test_batch_norm_generator_matches_a_hand_computation():
    config = ModelConfig(generator_layers=2, generator_batch_norm=True)
    generator = networks.make_generator(config, noise_dim=2, data_dim=2)
    params = random_leaves(generator, jax.random.key(10))
    z = jax.random.normal(jax.random.key(12), (8, 2))
    p = as_numpy(params)
    h = np.asarray(z, np.float64)
    for layer, norm in ((p["hidden"], p["hidden_norm"]), (p["deeper"][0], p["deeper_norm"][0])):
        h = numpy_softplus(numpy_batch_norm(h @ layer["w"] + layer["b"], norm["scale"], norm["offset"]))
    expected = h @ p["output"]["w"] + p["output"]["b"]
    np.testing.assert_allclose(np.asarray(jax.jit(generator.apply)(params, z)), expected, rtol=1e-4, atol=1e-4)


def test_batch_norm_uses_the_statistics_of_the_batch_given():
    # One hidden layer on 1-D noise: the layer is affine in z, so after normalisation an affine
    # map of the whole batch, z -> 2z + 3, changes nothing; running averages would not forget it.
    generator = networks.make_generator(ModelConfig(generator_batch_norm=True))
    params = generator.init(jax.random.key(13))
    z = jnp.linspace(-8.0, 8.0, 12)[:, None]
    np.testing.assert_allclose(
        np.asarray(generator.apply(params, 2.0 * z + 3.0)), np.asarray(generator.apply(params, z)), rtol=1e-4, atol=1e-4
    )
    # The same point in another batch comes out differently.
    first = generator.apply(params, z)[:1]
    other = generator.apply(params, jnp.concatenate([z[:1], z[1:] + 5.0]))[:1]
    assert not np.allclose(np.asarray(first), np.asarray(other))


# ---------------------------------------------------------------- gradients and jit


PACGAN_LIKE = ModelConfig(
    generator_activation="maxout",
    discriminator_activation="maxout",
    maxout_pieces=3,
    generator_layers=2,
    generator_batch_norm=True,
)


def test_gradients_are_finite_and_reach_every_parameter():
    generator, discriminator = networks.make_generator(PACGAN_LIKE), networks.make_discriminator(PACGAN_LIKE)
    g_params, d_params = generator.init(jax.random.key(14)), discriminator.init(jax.random.key(15))
    z = jnp.linspace(-8.0, 8.0, 12)[:, None]

    def loss(g, d):
        return jax.nn.softplus(-discriminator.apply(d, generator.apply(g, z))).mean()

    g_grads, d_grads = jax.jit(jax.grad(loss, argnums=(0, 1)))(g_params, d_params)
    for grad in jax.tree.leaves((g_grads, d_grads)):
        assert np.all(np.isfinite(np.asarray(grad)))
    for name in ("hidden", "deeper", "output", "hidden_norm", "deeper_norm"):
        assert any(np.any(np.asarray(leaf) != 0) for leaf in jax.tree.leaves(g_grads[name])), name


def test_jit_matches_no_jit():
    generator, discriminator = networks.make_generator(PACGAN_LIKE), networks.make_discriminator(PACGAN_LIKE)
    g_params, d_params = generator.init(jax.random.key(16)), discriminator.init(jax.random.key(17))
    z = jax.random.normal(jax.random.key(18), (12, 1))
    x = generator.apply(g_params, z)
    np.testing.assert_allclose(np.asarray(jax.jit(generator.apply)(g_params, z)), np.asarray(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(jax.jit(discriminator.apply)(d_params, x)),
        np.asarray(discriminator.apply(d_params, x)),
        rtol=1e-5,
        atol=1e-5,
    )


# ---------------------------------------------------------------- standardized networks


MEAN = np.array([4.0, -1.0], np.float32)
SCALE = np.array([0.5, 3.0], np.float32)


def test_standardized_networks_are_the_affine_maps():
    config = ModelConfig()
    generator = networks.make_generator(config, noise_dim=2, data_dim=2)
    discriminator = networks.make_discriminator(config, data_dim=2)
    g, d = networks.standardized(generator, discriminator, jnp.asarray(MEAN), jnp.asarray(SCALE))
    assert g.init is generator.init and d.init is discriminator.init  # same parameters
    assert (g.pack, d.pack) == (1, 1)
    g_params, d_params = g.init(jax.random.key(19)), d.init(jax.random.key(20))
    z = jax.random.normal(jax.random.key(21), (5, 2))
    x = jax.random.normal(jax.random.key(22), (5, 2))
    expected_g = MEAN[None, :] + SCALE[None, :] * np.asarray(generator.apply(g_params, z))
    np.testing.assert_allclose(np.asarray(g.apply(g_params, z)), expected_g, rtol=1e-6)
    expected_d = discriminator.apply(d_params, jnp.asarray((np.asarray(x) - MEAN[None, :]) / SCALE[None, :]))
    np.testing.assert_allclose(np.asarray(d.apply(d_params, x)), np.asarray(expected_d), rtol=1e-5, atol=1e-6)
    # D sees G's samples in G's own units: D'(G'(z)) = D(G(z)).
    np.testing.assert_allclose(
        np.asarray(d.apply(d_params, g.apply(g_params, z))),
        np.asarray(discriminator.apply(d_params, generator.apply(g_params, z))),
        rtol=1e-4,
        atol=1e-5,
    )


def test_standardized_packed_discriminator_standardizes_each_sample_before_packing():
    config = ModelConfig(pack=2)
    generator = networks.make_generator(config, data_dim=2)
    discriminator = networks.make_discriminator(config, data_dim=2)
    plain = networks.make_discriminator(ModelConfig(), data_dim=4)
    _, d = networks.standardized(generator, discriminator, MEAN, SCALE)
    assert d.pack == 2
    params = d.init(jax.random.key(23))
    x = jnp.arange(8.0).reshape(4, 2)
    standard = (np.arange(8.0).reshape(4, 2) - MEAN[None, :]) / SCALE[None, :]  # (4, 2)
    expected = plain.apply(params, jnp.asarray(standard.reshape(2, 4), jnp.float32))  # consecutive pairs
    logits = d.apply(params, x)
    assert logits.shape == (2,)
    np.testing.assert_allclose(np.asarray(logits), np.asarray(expected), rtol=1e-5, atol=1e-6)
    # per_point still asks about `pack` copies of each (standardized) point.
    point = networks.per_point(d)(params, x[:1])
    copies = plain.apply(params, jnp.asarray(np.tile(standard[:1], (1, 2)), jnp.float32))
    np.testing.assert_allclose(np.asarray(point), np.asarray(copies), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- short training runs


def test_short_training_with_maxout_and_batch_norm_has_no_nan():
    # init_std 0.5: at the seed's N(0, 1) weights an unbounded D (maxout, like relu) starts with
    # logits in the hundreds on the unstandardized target and SGD at 0.03 overflows within 10 steps.
    options = {"generator_activation": "maxout", "discriminator_activation": "maxout", "maxout_pieces": 3}
    config = tinygan.config_from_preset(
        "seed", num_steps=20, log_every=10, pretrain_steps=5, init_std=0.5, generator_batch_norm=True, **options
    )
    result = tinygan.train(config)
    assert result.status == "finished" and len(result.history["loss_d"]) == 3  # steps 0, 10 and 20 (the last)
    for name, column in result.history.items():
        assert np.all(np.isfinite(column)), name
    assert all(np.isfinite(value) for value in result.metrics.values() if isinstance(value, float))
    assert result.state.generator["hidden"]["w"].shape == (1, 12)  # the options reached the trained networks
    assert "hidden_norm" in result.state.generator


def test_standardize_puts_the_game_in_the_targets_units():
    """data.standardize: G's output is mean + std * G(z) and D reads (x - mean) / std, with the target's moments."""
    plain = engine.make_game(tinygan.config_from_preset("seed", target="ring"))
    standard = engine.make_game(tinygan.config_from_preset("seed", target="ring", standardize=True))
    mean, std = moments(standard.target)
    assert mean.shape == std.shape == (2,) and np.all(np.abs(mean) < 0.02) and np.allclose(std, 0.7071, atol=0.01)
    params = plain.generator.init(jax.random.key(0))
    z = jax.random.normal(jax.random.key(1), (6, 1))
    raw = np.asarray(plain.generator.apply(params, z))
    np.testing.assert_allclose(standard.generator.apply(params, z), mean + std * raw, rtol=1e-6)
    d_params = plain.discriminator.init(jax.random.key(2))
    x = jax.random.normal(jax.random.key(3), (6, 2))
    np.testing.assert_allclose(standard.discriminator.apply(d_params, x),
                               plain.discriminator.apply(d_params, (x - mean[None]) / std[None]), rtol=1e-6)
    gaussian = engine.make_game(tinygan.config_from_preset("seed", standardize=True)).target
    assert [a.tolist() for a in moments(gaussian)] == [[4.0], [0.5]]  # exact from the law in 1-D


def test_an_identity_generator_is_affine_in_its_noise():
    """generator_activation identity: G(z) = (z W1 + b1) W2 + b2, a Gaussian family for Gaussian z."""
    config = ModelConfig(generator_activation="identity", generator_width=1, init_std=0.5)
    generator = networks.make_generator(config)
    params = generator.init(jax.random.key(0))
    z = jnp.linspace(-2.0, 2.0, 5)[:, None]
    hidden, output = params["hidden"], params["output"]
    expected = (np.asarray(z) @ np.asarray(hidden["w"]) + np.asarray(hidden["b"])) @ np.asarray(output["w"]) + np.asarray(output["b"])
    np.testing.assert_allclose(generator.apply(params, z), expected, rtol=1e-6)
    np.testing.assert_allclose(np.diff(np.asarray(generator.apply(params, z))[:, 0], 2), 0, atol=1e-6)


def test_a_batch_normed_generator_samples_a_few_points_from_a_large_batch():
    """Batch norm uses the statistics of the batch: sample(n) draws NORMALIZED_BATCH and keeps the first n.
    (G as drawn: sampling reads nothing a run trains, and a run costs seconds of compiling.)"""
    result = untrained_result(tinygan.config_from_preset("seed", generator_batch_norm=True))
    key = jax.random.key(5)
    few, many = result.sample(3, key=key), result.sample(trainer.NORMALIZED_BATCH, key=key)
    np.testing.assert_array_equal(few, many[:3])  # normalised among 10,000, not among themselves
