"""Every GAN loss against hand-computed values, jitted and not, with its gradients (TF-GAN style).

One shared test body runs every loss with its own expected numbers. The
expected numbers come from each loss's formula in float64 NumPy, not from the
code under test; a second set are TF-GAN's own published test values.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tinygan
from tinygan.config import ConfigError
from tinygan.core import objectives


def sigmoid(x):
    with np.errstate(over="ignore"):  # exp(1e4) = inf gives the right limit, 1 / inf = 0
        return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def neg_log_d(logits):
    """-log D = -log sigmoid(l) = log(1 + e^-l), written as max(-l, 0) + log(1 + e^-|l|) so it holds at |l| = 1e4."""
    l = np.asarray(logits, np.float64)
    return np.maximum(-l, 0.0) + np.log1p(np.exp(-np.abs(l)))


def neg_log_one_minus_d(logits):
    """-log(1 - D) = -log sigmoid(-l)."""
    return neg_log_d(-np.asarray(logits, np.float64))


def test_hand_formulas_agree_with_the_plain_definition():
    l = np.array([-4.0, -1.0, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(neg_log_d(l), -np.log(sigmoid(l)), rtol=1e-14)
    np.testing.assert_allclose(neg_log_one_minus_d(l), -np.log(1.0 - sigmoid(l)), rtol=1e-12)


class Case(NamedTuple):
    """One loss on given logits: its expected value and expected gradient for every argument."""

    loss: Callable
    args: tuple[np.ndarray, ...]
    value: float
    grads: tuple[np.ndarray, ...]


def discriminator_case(loss, real, fake, smoothing=None):
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    t = 1.0 - 0.5 * (smoothing or 0.0)  # label smoothing pulls the real label 1 toward 0.5
    value = np.mean(t * neg_log_d(real) + (1 - t) * neg_log_one_minus_d(real)) + np.mean(neg_log_one_minus_d(fake))
    # d/dl [-log sigmoid(l)] = -(1 - sigmoid(l)); d/dl [-log(1 - sigmoid(l))] = sigmoid(l).
    grad_real = (-t * (1 - sigmoid(real)) + (1 - t) * sigmoid(real)) / real.size
    grad_fake = sigmoid(fake) / fake.size
    if smoothing is not None:
        loss = functools.partial(loss, label_smoothing=smoothing)
    return Case(loss, (real, fake), float(value), (grad_real, grad_fake))


def modified_generator_case(fake):
    fake = np.asarray(fake, np.float64)  # E[-log D(G(z))]
    return Case(objectives.modified_generator_loss, (fake,), float(np.mean(neg_log_d(fake))),
                (-(1 - sigmoid(fake)) / fake.size,))


def minimax_generator_case(fake):
    fake = np.asarray(fake, np.float64)  # E[log(1 - D(G(z)))]
    return Case(objectives.minimax_generator_loss, (fake,), float(-np.mean(neg_log_one_minus_d(fake))),
                (-sigmoid(fake) / fake.size,))


def f64(logits):
    return np.asarray(logits, np.float64)


def constant_case(loss, args, value, grads):
    """A loss whose gradient is the same for every logit: `grads` holds one number per argument."""
    args = tuple(f64(a) for a in args)
    return Case(loss, args, float(value), tuple(np.full_like(a, g / a.size) for a, g in zip(args, grads)))


def wasserstein_discriminator_case(real, fake):
    real, fake = f64(real), f64(fake)  # E[D(G(z))] - E[D(x)]
    return constant_case(objectives.wasserstein_discriminator_loss, (real, fake), np.mean(fake) - np.mean(real),
                         (-1.0, 1.0))


def critic_generator_case(loss, fake):
    fake = f64(fake)  # -E[D(G(z))], for both the Wasserstein and the hinge generator
    return constant_case(loss, (fake,), -np.mean(fake), (-1.0,))


def hinge_discriminator_case(real, fake):
    real, fake = f64(real), f64(fake)  # E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]
    value = np.mean(np.maximum(0.0, 1.0 - real)) + np.mean(np.maximum(0.0, 1.0 + fake))
    grads = (-1.0 * (real < 1.0) / real.size, 1.0 * (fake > -1.0) / fake.size)  # no logit sits on a kink (1 or -1)
    return Case(objectives.wasserstein_hinge_discriminator_loss, (real, fake), float(value), grads)


def least_squares_discriminator_case(real, fake):
    real, fake = f64(real), f64(fake)  # E[(D(x) - 1)^2] / 2 + E[D(G(z))^2] / 2
    value = 0.5 * np.mean((real - 1.0) ** 2) + 0.5 * np.mean(fake**2)
    return Case(objectives.least_squares_discriminator_loss, (real, fake), float(value),
                ((real - 1.0) / real.size, fake / fake.size))


def least_squares_generator_case(fake):
    fake = f64(fake)  # E[(D(G(z)) - 1)^2] / 2
    return Case(objectives.least_squares_generator_loss, (fake,), float(0.5 * np.mean((fake - 1.0) ** 2)),
                ((fake - 1.0) / fake.size,))


REAL = [-3.0, -0.5, 0.0, 1.5, 4.0]
FAKE = [2.5, -1.5, 0.25, -4.0, 0.0, 1.0]
SATURATED_REAL = [100.0, -100.0, 1e4, -1e4]
SATURATED_FAKE = [-1e4, 1e4, -100.0, 100.0]

CASES = {}
for name, loss in [("minimax", objectives.minimax_discriminator_loss),
                   ("modified", objectives.modified_discriminator_loss)]:
    CASES[f"{name}_discriminator"] = discriminator_case(loss, REAL, FAKE)
    CASES[f"{name}_discriminator_smoothing_0.25"] = discriminator_case(loss, REAL, FAKE, 0.25)
    CASES[f"{name}_discriminator_smoothing_0"] = discriminator_case(loss, REAL, FAKE, 0.0)
    CASES[f"{name}_discriminator_saturated"] = discriminator_case(loss, SATURATED_REAL, SATURATED_FAKE)
    CASES[f"{name}_discriminator_saturated_smoothing_0.1"] = discriminator_case(
        loss, SATURATED_REAL, SATURATED_FAKE, 0.1)
CASES["modified_generator"] = modified_generator_case(FAKE)
CASES["modified_generator_saturated"] = modified_generator_case(SATURATED_FAKE)
CASES["minimax_generator"] = minimax_generator_case(FAKE)
CASES["minimax_generator_saturated"] = minimax_generator_case(SATURATED_FAKE)
for suffix, real, fake in [("", REAL, FAKE), ("_saturated", SATURATED_REAL, SATURATED_FAKE)]:
    CASES[f"wasserstein_discriminator{suffix}"] = wasserstein_discriminator_case(real, fake)
    CASES[f"wasserstein_generator{suffix}"] = critic_generator_case(objectives.wasserstein_generator_loss, fake)
    CASES[f"wasserstein_hinge_discriminator{suffix}"] = hinge_discriminator_case(real, fake)
    CASES[f"wasserstein_hinge_generator{suffix}"] = critic_generator_case(
        objectives.wasserstein_hinge_generator_loss, fake)
    CASES[f"least_squares_discriminator{suffix}"] = least_squares_discriminator_case(real, fake)
    CASES[f"least_squares_generator{suffix}"] = least_squares_generator_case(fake)


def test_every_loss_has_cases():
    losses = {loss for o in objectives.OBJECTIVES.values() for loss in (o.discriminator_loss, o.generator_loss)}
    tested = {getattr(case.loss, "func", case.loss) for case in CASES.values()}
    assert tested == losses


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_loss_value_and_gradients(case, jit):
    loss = jax.jit(case.loss) if jit else case.loss
    args = [jnp.asarray(a, jnp.float32) for a in case.args]

    value = loss(*args)
    assert value.shape == ()
    assert np.isfinite(value)
    np.testing.assert_allclose(value, case.value, rtol=1e-6, atol=1e-6)

    grads = jax.grad(loss, argnums=tuple(range(len(args))))(*args)
    for grad, expected in zip(grads, case.grads, strict=True):
        assert np.all(np.isfinite(grad)), grad
        np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-9)


def test_expected_numbers_at_a_glance():
    """A few values anyone can check on paper: D = 1/2 everywhere, and a fully saturated D."""
    zero = jnp.zeros(3)
    np.testing.assert_allclose(objectives.modified_discriminator_loss(zero, zero), 2 * np.log(2), rtol=1e-6)
    np.testing.assert_allclose(objectives.modified_generator_loss(zero), np.log(2), rtol=1e-6)
    np.testing.assert_allclose(objectives.minimax_generator_loss(zero), -np.log(2), rtol=1e-6)
    # D is sure and wrong on both sides: -log sigmoid(-1e4) = 1e4, -log(1 - sigmoid(1e4)) = 1e4.
    worst = objectives.modified_discriminator_loss(jnp.array([-1e4]), jnp.array([1e4]))
    np.testing.assert_allclose(worst, 2e4, rtol=1e-6)
    # Smoothing 1 makes the real label 0.5: -0.5 log(1/2) - 0.5 log(1/2) = log 2, plus log 2 for fakes.
    smoothed = objectives.minimax_discriminator_loss(zero, zero, label_smoothing=1.0)
    np.testing.assert_allclose(smoothed, 2 * np.log(2), rtol=1e-6)


# TF-GAN's published test values: tensorflow/gan, tensorflow_gan/python/losses/losses_impl_test.py
# (`_LossesTest.init_constants` and each `*LossTest.setUp`), checked there to 5 decimal places.
# Conventions to mind: its minimax and modified discriminator losses default to label_smoothing=0.25
# (ours to 0), so the smoothing is passed explicitly; weights default to 1 and the reduction
# SUM_BY_NONZERO_WEIGHTS is then the plain mean, as here. Its minimax generator loss is
# -minimax_discriminator_loss(ones, fake), which carries the real term at logits 1: a constant
# -log sigmoid(1) = -softplus(-1) added to ours, E[log(1 - D(G(z)))].
TF_GAN_REAL = [-5.0, 1.4, 12.5, 2.7]
TF_GAN_FAKE = [10.0, 4.4, -5.5, 3.6]
TF_GAN_EXPECTED = {  # name: (discriminator loss, generator loss, TF-GAN's label smoothing, offset of its G loss)
    "least_squares": (41.73375, 17.69625, None, 0.0),
    "modified": (6.19637, 1.38582, 0.25, 0.0),
    "minimax": (6.19637, -4.82408, 0.25, -np.log1p(np.exp(-1.0))),
    "wasserstein": (0.22500, -3.12500, None, 0.0),
    "wasserstein_hinge": (6.7500, -3.12500, None, 0.0),
}


@pytest.mark.parametrize("name", TF_GAN_EXPECTED)
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_tf_gan_published_values(name, jit):
    expected_d, expected_g, smoothing, offset = TF_GAN_EXPECTED[name]
    objective = objectives.OBJECTIVES[name]
    d_loss = objective.discriminator_loss
    if smoothing is not None:
        d_loss = functools.partial(d_loss, label_smoothing=smoothing)
    d_loss, g_loss = (jax.jit(d_loss), jax.jit(objective.generator_loss)) if jit else (d_loss, objective.generator_loss)
    real, fake = jnp.asarray(TF_GAN_REAL), jnp.asarray(TF_GAN_FAKE)
    # TF-GAN prints 5 decimals: a correct value is within 5e-6 of them, and float32 adds less than 1e-5 here.
    np.testing.assert_allclose(d_loss(real, fake), expected_d, rtol=0, atol=1.5e-5)
    np.testing.assert_allclose(g_loss(fake) + offset, expected_g, rtol=0, atol=1.5e-5)


def test_objectives_registry_pairs_the_losses():
    assert list(objectives.OBJECTIVES) == ["minimax", "modified", "wasserstein", "wasserstein_hinge", "least_squares"]
    for name, objective in objectives.OBJECTIVES.items():
        assert objective.discriminator_loss is getattr(objectives, f"{name}_discriminator_loss")
        assert objective.generator_loss is getattr(objectives, f"{name}_generator_loss")
        assert objective.discriminator_loss.__doc__ and objective.generator_loss.__doc__


def test_only_the_cross_entropy_objectives_smooth_labels():
    smoothing = {name for name, objective in objectives.OBJECTIVES.items() if objective.smooths_labels}
    assert smoothing == {"minimax", "modified"}


def test_expected_numbers_of_the_critic_objectives_at_a_glance():
    """A critic that cannot tell real from fake (logits 0), and one off by a margin, worked on paper."""
    zero, one = jnp.zeros(3), jnp.ones(3)
    table = {  # name: D loss and G loss at logits 0 everywhere; D loss at real 1, fake -1; G loss at fake 1
        "wasserstein": (0.0, 0.0, -2.0, -1.0),
        "wasserstein_hinge": (2.0, 0.0, 0.0, -1.0),  # both hinges exactly at their margin
        "least_squares": (0.5, 0.5, 0.5, 0.0),  # (1 - 1)^2 / 2 + (-1)^2 / 2; G on target
    }
    for name, (d_zero, g_zero, d_margin, g_one) in table.items():
        objective = objectives.OBJECTIVES[name]
        np.testing.assert_allclose(objective.discriminator_loss(zero, zero), d_zero, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(objective.generator_loss(zero), g_zero, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(objective.discriminator_loss(one, -one), d_margin, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(objective.generator_loss(one), g_one, atol=1e-7, err_msg=name)


# ---------------------------------------------------------------- the objectives in training and in the config


# Every objective, and every penalty on some objective, in as few runs as that takes (each costs seconds).
SHORT_RUNS = {
    "minimax+label_smoothing": {"objective": "minimax", "label_smoothing": 0.2},
    "modified+r1": {"objective": "modified", "r1": 1.0},
    "wasserstein+gradient_penalty": {"objective": "wasserstein", "gradient_penalty": 10.0},
    "wasserstein_hinge+minibatch+both_penalties": {
        "objective": "wasserstein_hinge", "minibatch": True, "gradient_penalty": 1.0, "r1": 1.0},
    "least_squares": {"objective": "least_squares"},
}


def test_the_short_runs_cover_every_objective_and_penalty():
    assert {run["objective"] for run in SHORT_RUNS.values()} == set(objectives.OBJECTIVES)
    for setting in ("label_smoothing", "gradient_penalty", "r1"):
        assert any(run.get(setting) for run in SHORT_RUNS.values()), setting


@pytest.mark.slow  # five short runs, ~6 s each: the full suite's
@pytest.mark.parametrize("overrides", SHORT_RUNS.values(), ids=SHORT_RUNS.keys())
def test_every_objective_and_penalty_trains_with_finite_losses(overrides):
    config = tinygan.config_from_preset("seed", num_steps=20, pretrain_steps=5, log_every=5, **overrides)
    result = tinygan.train(config, frames=False)
    assert result.status == "finished"
    assert result.history["loss_d"].shape == result.history["loss_g"].shape == (5,)  # 0, 5, 10, 15 and the last, 20
    assert np.all(np.isfinite(result.history["loss_d"])) and np.all(np.isfinite(result.history["loss_g"]))
    assert np.isfinite(result.metrics["w1"])


@pytest.mark.parametrize("name", list(objectives.OBJECTIVES))
def test_the_objective_flag_picks_the_objective(name):
    from tinygan import cli

    args = cli.build_parser().parse_args(["train", "--objective", name])
    assert cli.config_from_args(args).train.objective == name


def test_an_unknown_objective_is_a_config_error_naming_the_field():
    with pytest.raises(ConfigError) as error:
        tinygan.config_from_preset("seed", objective="hinge")
    assert str(error.value) == (
        "train.objective: must be one of least_squares, minimax, modified, wasserstein, wasserstein_hinge, got 'hinge'")


def test_the_seed_loss_is_the_modified_objective():
    """The seed: loss_d = mean(-log D(x) - log(1 - D(G(z)))), loss_g = mean(-log D(G(z)))."""
    real, fake = np.array(REAL[:4]), np.array(FAKE[:4])
    seed_d = np.mean(-np.log(sigmoid(real)) - np.log(1 - sigmoid(fake)))
    seed_g = np.mean(-np.log(sigmoid(fake)))
    objective = objectives.OBJECTIVES["modified"]
    np.testing.assert_allclose(objective.discriminator_loss(jnp.asarray(real), jnp.asarray(fake)), seed_d, rtol=1e-6)
    np.testing.assert_allclose(objective.generator_loss(jnp.asarray(fake)), seed_g, rtol=1e-6)
