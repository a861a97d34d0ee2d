"""GAN objectives: named pairs of pure functions over discriminator logits, and penalties.

An objective is `discriminator_loss(real_logits, fake_logits)` and
`generator_loss(fake_logits)`; a discriminator loss is the mean of its real
term plus the mean of its fake term. Names follow TF-GAN.

The cross-entropy objectives (minimax, modified) read D(x) = sigmoid(logit)
and are computed from logits with softplus (-log sigmoid(l) = softplus(-l),
-log(1 - sigmoid(l)) = softplus(l)), so a saturated discriminator gives large
finite losses and finite gradients, never inf or NaN. The others read the
logit itself as the critic's score.

Penalties are add-ons to the discriminator loss, each with its own weight.
They take the `critic`, a function x -> logits of shape (batch,), and
differentiate it with respect to its input.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

# ---------------------------------------------------------------- cross-entropy: minimax and modified


def _smoothed_real_term(real_logits: jax.Array, label_smoothing: float) -> jax.Array:
    """Cross-entropy of the real logits against labels 1 - s/2 (TF-GAN's smoothing toward 0.5)."""
    target = 1.0 - 0.5 * label_smoothing
    return target * jax.nn.softplus(-real_logits) + (1.0 - target) * jax.nn.softplus(real_logits)


def minimax_discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """E[-log D(x)] + E[-log(1 - D(G(z)))] (Goodfellow et al. 2014, "Generative Adversarial Nets").

    `label_smoothing` s moves the real labels from 1 to 1 - s/2 (Salimans et al. 2016; TF-GAN's convention).
    """
    real = _smoothed_real_term(real_logits, label_smoothing)
    return jnp.mean(real) + jnp.mean(jax.nn.softplus(fake_logits))


def minimax_generator_loss(fake_logits):
    """E[log(1 - D(G(z)))]: the saturating form, whose gradient vanishes when D rejects G(z)."""
    return -jnp.mean(jax.nn.softplus(fake_logits))


def modified_discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """The same discriminator loss as the minimax game (Goodfellow et al. 2014, section 3)."""
    return minimax_discriminator_loss(real_logits, fake_logits, label_smoothing)


def modified_generator_loss(fake_logits):
    """E[-log D(G(z))]: the non-saturating generator loss the seed uses (Goodfellow et al. 2014)."""
    return jnp.mean(jax.nn.softplus(-fake_logits))


# ---------------------------------------------------------------- critics: Wasserstein and hinge


def wasserstein_discriminator_loss(real_logits, fake_logits):
    """E[D(G(z))] - E[D(x)] (Arjovsky et al. 2017, "Wasserstein GAN"); D needs a Lipschitz constraint."""
    return jnp.mean(-real_logits) + jnp.mean(fake_logits)


def wasserstein_generator_loss(fake_logits):
    """-E[D(G(z))] (Arjovsky et al. 2017, "Wasserstein GAN")."""
    return -jnp.mean(fake_logits)


def wasserstein_hinge_discriminator_loss(real_logits, fake_logits):
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018)."""
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def wasserstein_hinge_generator_loss(fake_logits):
    """-E[D(G(z))] (Lim & Ye 2017; Miyato et al. 2018, "Spectral Normalization for GANs")."""
    return -jnp.mean(fake_logits)


# ---------------------------------------------------------------- least squares


def least_squares_discriminator_loss(real_logits, fake_logits):
    """E[(D(x) - 1)^2] / 2 + E[D(G(z))^2] / 2 on the raw outputs (Mao et al. 2017, "Least Squares GANs")."""
    return 0.5 * jnp.mean((real_logits - 1.0) ** 2) + 0.5 * jnp.mean(fake_logits**2)


def least_squares_generator_loss(fake_logits):
    """E[(D(G(z)) - 1)^2] / 2 on the raw outputs (Mao et al. 2017, "Least Squares GANs")."""
    return 0.5 * jnp.mean((fake_logits - 1.0) ** 2)


# ---------------------------------------------------------------- the registry


class Objective(NamedTuple):
    discriminator_loss: Callable[[jax.Array, jax.Array], jax.Array]
    generator_loss: Callable[[jax.Array], jax.Array]
    indifferent: float | None = 0.0
    """D's output when it cannot tell real from fake (logit 0 is D = 1/2); None for a critic, which has no such value."""

    @property
    def smooths_labels(self) -> bool:
        """Whether the discriminator loss takes `label_smoothing` (the cross-entropy objectives)."""
        return "label_smoothing" in inspect.signature(self.discriminator_loss).parameters


OBJECTIVES: dict[str, Objective] = {
    "minimax": Objective(minimax_discriminator_loss, minimax_generator_loss),
    "modified": Objective(modified_discriminator_loss, modified_generator_loss),
    "wasserstein": Objective(wasserstein_discriminator_loss, wasserstein_generator_loss, None),
    "wasserstein_hinge": Objective(wasserstein_hinge_discriminator_loss, wasserstein_hinge_generator_loss, None),
    "least_squares": Objective(least_squares_discriminator_loss, least_squares_generator_loss, 0.5),
}


# ---------------------------------------------------------------- penalties on the critic's input gradient


def _input_gradients(critic: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
    """d critic(x)_i / d x_i for every sample i, shape of x.

    The gradient of the sum of the logits: exact per sample when the critic
    treats samples independently. With minibatch discrimination each logit
    depends on the whole batch, so this sums every logit's gradient.
    """
    return jax.grad(lambda x: jnp.sum(critic(x)))(x)


def gradient_penalty(critic, real, fake, *, key):
    """E[(||grad_x D(x_hat)||_2 - 1)^2], x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1) per sample.

    The WGAN-GP penalty (Gulrajani et al. 2017, "Improved Training of
    Wasserstein GANs"); the config's weight is their lambda (10 in the paper).
    """
    eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1))  # (batch, 1, ...)
    grads = _input_gradients(critic, eps * real + (1.0 - eps) * fake)  # (batch, dim)
    norms = optax.safe_norm(grads, 0.0, axis=tuple(range(1, grads.ndim)))  # (batch,); finite gradient at 0
    return jnp.mean((norms - 1.0) ** 2)


def r1_penalty(critic, real):
    """E[||grad_x D(x)||^2] / 2 on real samples.

    Mescheder et al. 2018 ("Which Training Methods for GANs do actually
    Converge?") write R1 = gamma/2 E[||grad D(x)||^2]: this function holds the
    1/2, and the config's weight is their gamma.
    """
    grads = _input_gradients(critic, real)  # (batch, dim)
    return 0.5 * jnp.mean(jnp.sum(grads**2, axis=tuple(range(1, grads.ndim))))
