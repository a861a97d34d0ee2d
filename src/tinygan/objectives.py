"""GAN objectives: named pairs of pure functions over discriminator logits.

D(x) = sigmoid(logit). Every loss is computed from logits with softplus
(-log sigmoid(l) = softplus(-l), -log(1 - sigmoid(l)) = softplus(l)), so a
saturated discriminator gives large finite losses and finite gradients, never
inf or NaN. Names follow TF-GAN.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp


def _smoothed_real_term(real_logits: jax.Array, label_smoothing: float) -> jax.Array:
    """Cross-entropy of the real logits against labels 1 - s/2 (TF-GAN's smoothing toward 0.5)."""
    target = 1.0 - 0.5 * label_smoothing
    return target * jax.nn.softplus(-real_logits) + (1.0 - target) * jax.nn.softplus(real_logits)


def minimax_discriminator_loss(real_logits, fake_logits, label_smoothing: float = 0.0):
    """E[-log D(x)] + E[-log(1 - D(G(z)))] (Goodfellow et al. 2014, "Generative Adversarial Nets")."""
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


class Objective(NamedTuple):
    discriminator_loss: Callable[[jax.Array, jax.Array], jax.Array]
    generator_loss: Callable[[jax.Array], jax.Array]


OBJECTIVES: dict[str, Objective] = {
    "minimax": Objective(minimax_discriminator_loss, minimax_generator_loss),
    "modified": Objective(modified_discriminator_loss, modified_generator_loss),
}
