"""The gradient penalty and R1 on critics with known input gradients, their config, and the engine's use of them.

A linear critic x -> x @ w has the gradient w at every x, so both penalties
have closed forms: WGAN-GP = (||w|| - 1)^2 and R1 = ||w||^2 / 2.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import tinygan
from tinygan import cli, engine
from tinygan.config import ConfigError
from tinygan.core.objectives import OBJECTIVES, gradient_penalty, r1_penalty

BATCH = 7


def linear_critic(w):
    return lambda x: x @ w  # (batch, dim) -> (batch,)


def data(dim, seed):
    return jax.random.normal(jax.random.key(seed), (BATCH, dim))


# ---------------------------------------------------------------- the penalties on known critics

# w: (||w|| - 1)^2 and ||w||^2 / 2, worked on paper (float64 of the float32 weights).
LINEAR = {
    "1d_unit": ([1.0], 0.0, 0.5),
    "1d_unit_negative": ([-1.0], 0.0, 0.5),
    "2d_unit_axis": ([0.0, 1.0], 0.0, 0.5),
    "2d_unit_diagonal": ([0.6, 0.8], 0.0, 0.5),
    "1d_norm_3": ([3.0], 4.0, 4.5),
    "2d_norm_half": ([0.3, 0.4], 0.25, 0.125),
    "2d_norm_5": ([-3.0, 4.0], 16.0, 12.5),
    "2d_zero": ([0.0, 0.0], 1.0, 0.0),
}


@pytest.mark.parametrize("w, expected_gp, expected_r1", LINEAR.values(), ids=LINEAR.keys())
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_penalties_of_a_linear_critic(w, expected_gp, expected_r1, jit):
    w = jnp.asarray(w)
    real, fake = data(w.size, 0), data(w.size, 1)
    gp = functools.partial(gradient_penalty, linear_critic(w))
    r1 = functools.partial(r1_penalty, linear_critic(w))
    gp, r1 = (jax.jit(gp), jax.jit(r1)) if jit else (gp, r1)
    # float32: ||(0.6, 0.8)|| is 1 within an ulp, so its penalty is ~1e-15, not 0; exact weights give exact 0.
    np.testing.assert_allclose(gp(real, fake, key=jax.random.key(2)), expected_gp, rtol=1e-6, atol=1e-13)
    np.testing.assert_allclose(r1(real), expected_r1, rtol=1e-6, atol=0)


def test_gradient_penalty_is_exactly_zero_for_a_unit_gradient():
    for w in ([1.0], [-1.0], [0.0, 1.0], [-1.0, 0.0]):
        w = jnp.asarray(w)
        value = gradient_penalty(linear_critic(w), data(w.size, 0), data(w.size, 1), key=jax.random.key(0))
        assert float(value) == 0.0


def test_r1_is_exactly_zero_for_a_constant_critic():
    critic = lambda x: jnp.full(x.shape[:1], 3.0) + 0.0 * x[:, 0]  # depends on x only through a zero factor
    assert float(r1_penalty(critic, data(2, 0))) == 0.0
    assert float(gradient_penalty(critic, data(2, 0), data(2, 1), key=jax.random.key(0))) == 1.0  # (0 - 1)^2


def test_gradient_penalty_looks_at_per_sample_interpolates():
    """critic(x) = ||x||^2 / 2 has gradient x: the penalty is mean((||x_hat|| - 1)^2), x_hat = eps x + (1 - eps) y."""
    real, fake, key = data(2, 0), data(2, 1), jax.random.key(3)
    critic = lambda x: 0.5 * jnp.sum(x**2, axis=1)
    eps = np.asarray(jax.random.uniform(key, (BATCH, 1)), np.float64)  # one eps per sample
    assert np.unique(eps).size == BATCH
    x_hat = eps * np.asarray(real, np.float64) + (1 - eps) * np.asarray(fake, np.float64)
    expected = np.mean((np.linalg.norm(x_hat, axis=1) - 1.0) ** 2)
    np.testing.assert_allclose(gradient_penalty(critic, real, fake, key=key), expected, rtol=1e-5)
    # The same key gives the same interpolates; another key gives others.
    assert gradient_penalty(critic, real, fake, key=key) == gradient_penalty(critic, real, fake, key=key)
    assert gradient_penalty(critic, real, fake, key=jax.random.key(4)) != gradient_penalty(critic, real, fake, key=key)


def test_gradient_penalty_draws_eps_from_the_unit_interval():
    """Real 1, fake 0, critic x^2 / 2 in 1-D: the gradient at x_hat is eps, so the penalty is E[(eps - 1)^2] = 1/3."""
    n = 100_000
    critic = lambda x: 0.5 * x[:, 0] ** 2
    value = gradient_penalty(critic, jnp.ones((n, 1)), jnp.zeros((n, 1)), key=jax.random.key(5))
    np.testing.assert_allclose(value, 1 / 3, atol=0.004)  # the standard error is 0.3 / sqrt(n) = 0.001


def test_r1_is_half_the_mean_squared_gradient_norm():
    """critic(x) = ||x||^2 / 2 has gradient x: R1 = mean(||x||^2) / 2 (Mescheder et al.'s gamma/2, gamma = 1)."""
    real = data(2, 0)
    expected = 0.5 * np.mean(np.sum(np.asarray(real, np.float64) ** 2, axis=1))
    np.testing.assert_allclose(r1_penalty(lambda x: 0.5 * jnp.sum(x**2, axis=1), real), expected, rtol=1e-6)


def test_input_gradients_are_per_sample_for_a_per_sample_critic():
    """The gradient of the sum of the logits equals each logit's own gradient when samples don't interact."""
    params = {"w": jax.random.normal(jax.random.key(6), (2, 3)), "v": jax.random.normal(jax.random.key(7), (3,))}
    critic = lambda x: jnp.tanh(x @ params["w"]) @ params["v"]  # (batch, 2) -> (batch,)
    real = data(2, 0)
    per_sample = jax.vmap(jax.grad(lambda x: critic(x[None])[0]))(real)  # (batch, 2)
    expected = 0.5 * np.mean(np.sum(np.asarray(per_sample, np.float64) ** 2, axis=1))
    np.testing.assert_allclose(r1_penalty(critic, real), expected, rtol=1e-5)


@pytest.mark.parametrize("w", [[0.3, 0.4], [0.0, 0.0], [3.0]], ids=["norm_half", "zero", "1d_norm_3"])
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_penalty_gradients_with_respect_to_the_critic(w, jit):
    """d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| (0 at w = 0, finite there); d/dw ||w||^2 / 2 = w."""
    w = jnp.asarray(w)
    real, fake, key = data(w.size, 0), data(w.size, 1), jax.random.key(8)
    grad_gp = jax.grad(lambda w: gradient_penalty(linear_critic(w), real, fake, key=key))
    grad_r1 = jax.grad(lambda w: r1_penalty(linear_critic(w), real))
    grad_gp, grad_r1 = (jax.jit(grad_gp), jax.jit(grad_r1)) if jit else (grad_gp, grad_r1)
    w64 = np.asarray(w, np.float64)
    norm = np.linalg.norm(w64)
    expected_gp = 2 * (norm - 1) * w64 / norm if norm else np.zeros_like(w64)
    np.testing.assert_allclose(grad_gp(w), expected_gp, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grad_r1(w), w64, rtol=1e-6, atol=0)


# ---------------------------------------------------------------- the engine: penalties in D's step, streams unchanged


@pytest.fixture(scope="module")
def penalised():
    """A game with both penalties and label smoothing, its start state, and a batch; and the plain seed's game.

    Weights start at std 0.3, not the seed's 1: D's input gradients stay moderate, so float32 keeps the
    penalised loss and its second-order gradient accurate to 1e-6, as the comparison below needs.
    """
    config = tinygan.config_from_preset("seed", objective="minimax", gradient_penalty=10.0, r1=0.5,
                                        label_smoothing=0.2, pretrain_steps=0, init_std=0.3)
    game = engine.make_game(config)
    state, _ = engine.setup(game, jax.random.key(0), 0)
    plain = engine.make_game(tinygan.config_from_preset("seed"))
    return game, state, engine.draw_batch(game, jax.random.key(11)), plain


def test_make_game_takes_the_weights_from_the_config(penalised):
    game, _, _, plain = penalised
    assert (game.label_smoothing, game.gradient_penalty, game.r1) == (0.2, 10.0, 0.5)
    assert game.objective == OBJECTIVES["minimax"]
    assert (plain.label_smoothing, plain.gradient_penalty, plain.r1) == (0.0, 0.0, 0.0)


def test_the_penalty_key_leaves_the_other_random_streams_alone(penalised):
    game, _, batch, plain = penalised
    plain_batch = engine.draw_batch(plain, jax.random.key(11))
    assert plain_batch.penalty_key is None
    for name in ("real", "noise_d", "noise_g"):
        np.testing.assert_array_equal(getattr(batch, name), getattr(plain_batch, name))
    # It is none of the three keys the batch is drawn from (fold_in(key, 3) would be one of them under
    # jax_threefry_partitionable=False), and it changes with the step's key.
    drawn = jax.random.key_data(jax.random.split(jax.random.key(11), 3))
    assert not any(np.array_equal(jax.random.key_data(batch.penalty_key), k) for k in np.asarray(drawn))
    other = engine.draw_batch(game, jax.random.key(12)).penalty_key
    assert not np.array_equal(jax.random.key_data(other), jax.random.key_data(batch.penalty_key))


def test_d_descends_on_the_smoothed_loss_plus_the_weighted_penalties(penalised):
    game, state, batch, _ = penalised
    D, G = game.discriminator.apply, game.generator.apply
    fake = G(state.generator, batch.noise_d)

    def by_hand(d):
        critic = functools.partial(D, d)
        loss = OBJECTIVES["minimax"].discriminator_loss(critic(batch.real), critic(fake), label_smoothing=0.2)
        return (loss + 10.0 * gradient_penalty(critic, batch.real, fake, key=batch.penalty_key)
                + 0.5 * r1_penalty(critic, batch.real))

    expected_loss, grads = jax.jit(jax.value_and_grad(by_hand))(state.discriminator)
    after, metrics = jax.jit(functools.partial(engine.update, game))(state, batch)
    np.testing.assert_allclose(metrics.loss_d, expected_loss, rtol=1e-6)
    updates, _ = game.discriminator_optimizer.update(grads, state.discriminator_opt, state.discriminator)
    expected_d = optax.apply_updates(state.discriminator, updates)
    for actual, expected in zip(jax.tree.leaves(after.discriminator), jax.tree.leaves(expected_d), strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-7)
    # The penalties matter: without them the same step lands elsewhere.
    plain_loss = OBJECTIVES["minimax"].discriminator_loss(
        D(state.discriminator, batch.real), D(state.discriminator, fake), label_smoothing=0.2)
    assert float(metrics.loss_d) - float(plain_loss) > 1.0  # about 10.5 against 1.5


# ---------------------------------------------------------------- config and command line


def test_the_flags_parse_into_the_config():
    args = cli.build_parser().parse_args(["train", "--objective", "wasserstein", "--gradient-penalty", "10"])
    config = cli.config_from_args(args)
    assert (config.train.objective, config.train.gradient_penalty, config.train.r1, config.train.label_smoothing) == (
        "wasserstein", 10.0, 0.0, 0.0)
    args = cli.build_parser().parse_args(
        ["train", "--r1", "0.5", "--label-smoothing", "0.25", "--objective", "minimax"])
    config = cli.config_from_args(args)
    assert (config.train.objective, config.train.r1, config.train.label_smoothing) == ("minimax", 0.5, 0.25)


def test_the_defaults_leave_the_seed_untouched():
    train = tinygan.config_from_preset("seed").train
    assert (train.objective, train.label_smoothing, train.gradient_penalty, train.r1) == ("modified", 0.0, 0.0, 0.0)


def test_the_help_text_is_the_field_docstring():
    help_text = " ".join(cli.build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    assert "--gradient-penalty GRADIENT_PENALTY Weight of the WGAN-GP gradient penalty" in help_text
    assert "--r1 R1 Weight gamma of the R1 penalty" in help_text
    assert "--label-smoothing LABEL_SMOOTHING Move the real labels" in help_text


INVALID = [
    ({"gradient_penalty": -1.0}, "train.gradient_penalty: must be >= 0, got -1.0"),
    ({"gradient_penalty": float("inf")}, "train.gradient_penalty: must be a finite number, got inf"),
    ({"r1": -0.5}, "train.r1: must be >= 0, got -0.5"),
    ({"r1": "1"}, "train.r1: must be a finite number, got '1'"),
    ({"label_smoothing": 1.5}, "train.label_smoothing: must be < 1, got 1.5"),
    ({"label_smoothing": 1.0}, "train.label_smoothing: must be < 1, got 1.0"),
    ({"label_smoothing": -0.1}, "train.label_smoothing: must be >= 0, got -0.1"),
    ({"label_smoothing": 0.1, "objective": "wasserstein"},
     ("train.label_smoothing: only the cross-entropy objectives (minimax, modified) smooth labels, "
      "got 0.1 with objective 'wasserstein'")),
]


@pytest.mark.parametrize("overrides, message", INVALID, ids=[repr(o) for o, _ in INVALID])
def test_bad_values_are_config_errors_naming_the_field(overrides, message):
    with pytest.raises(ConfigError) as error:
        tinygan.config_from_preset("seed", **overrides)
    assert str(error.value) == message


def test_a_bad_flag_exits_2_with_one_line(capsys, tmp_path):
    argv = ["train", "--objective", "least_squares", "--label-smoothing", "0.1", "--out", str(tmp_path / "r")]
    code = cli.main(argv)
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("tinygan: error: --label-smoothing: train.label_smoothing: only the cross-entropy objectives")
    assert err.count("\n") == 1
    assert not (tmp_path / "r").exists()
