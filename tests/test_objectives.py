"""Every GAN loss against hand-computed values, jitted and not, with its gradients (TF-GAN style).

One shared test body runs every loss with its own expected numbers. The
expected numbers come from the sigmoid's log/exp formulas in float64 NumPy,
not from the code under test.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tinygan import objectives


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


REAL = [-3.0, -0.5, 0.0, 1.5, 4.0]
FAKE = [2.5, -1.0, 0.25, -4.0, 0.0, 1.0]
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


def test_objectives_registry_pairs_the_losses():
    assert set(objectives.OBJECTIVES) == {"minimax", "modified"}
    assert objectives.OBJECTIVES["modified"] == (
        objectives.modified_discriminator_loss, objectives.modified_generator_loss)
    assert objectives.OBJECTIVES["minimax"] == (
        objectives.minimax_discriminator_loss, objectives.minimax_generator_loss)


def test_the_seed_loss_is_the_modified_objective():
    """The seed: loss_d = mean(-log D(x) - log(1 - D(G(z)))), loss_g = mean(-log D(G(z)))."""
    real, fake = np.array(REAL[:4]), np.array(FAKE[:4])
    seed_d = np.mean(-np.log(sigmoid(real)) - np.log(1 - sigmoid(fake)))
    seed_g = np.mean(-np.log(sigmoid(fake)))
    objective = objectives.OBJECTIVES["modified"]
    np.testing.assert_allclose(objective.discriminator_loss(jnp.asarray(real), jnp.asarray(fake)), seed_d, rtol=1e-6)
    np.testing.assert_allclose(objective.generator_loss(jnp.asarray(fake)), seed_g, rtol=1e-6)
