"""Optimizers and learning-rate schedules, each in a registry keyed by the name the config uses.

Every network gets its own optax optimizer: `make_optimizer(config, rate,
num_steps)` builds the configured kind with the configured schedule over
that optimizer's own steps.
"""

from __future__ import annotations

import optax

from tinygan.config import Config, OptimConfig


def constant_schedule(rate: float, optim: OptimConfig, num_steps: int) -> optax.Schedule:
    """rate at every step."""
    return optax.constant_schedule(rate)


def staircase_schedule(rate: float, optim: OptimConfig, num_steps: int) -> optax.Schedule:
    """rate * decay_rate ** floor(step / decay_steps): the seed's decay."""
    return optax.exponential_decay(rate, optim.decay_steps, optim.decay_rate, staircase=True)


def cosine_schedule(rate: float, optim: OptimConfig, num_steps: int) -> optax.Schedule:
    """rate * (1 + cos(pi * min(step, num_steps) / num_steps)) / 2 (Loshchilov & Hutter 2017, "SGDR")."""
    return optax.cosine_decay_schedule(rate, max(num_steps, 1))


SCHEDULES = {"constant": constant_schedule, "staircase": staircase_schedule, "cosine": cosine_schedule}


def sgd(schedule: optax.Schedule, optim: OptimConfig) -> optax.GradientTransformation:
    """p <- p - rate * g: plain gradient descent, the seed's."""
    return optax.sgd(schedule)


def adam(schedule: optax.Schedule, optim: OptimConfig) -> optax.GradientTransformation:
    """Adam (Kingma & Ba 2015) with betas adam_beta1 and adam_beta2."""
    return optax.adam(schedule, b1=optim.adam_beta1, b2=optim.adam_beta2)


def rmsprop(schedule: optax.Schedule, optim: OptimConfig) -> optax.GradientTransformation:
    """p <- p - rate * g / (sqrt(v) + 1e-8), v a moving average of g^2 with decay 0.9 (Tieleman & Hinton 2012)."""
    return optax.rmsprop(schedule)


OPTIMIZERS = {"sgd": sgd, "adam": adam, "rmsprop": rmsprop}


def learning_rates(config: Config) -> tuple[float, float]:
    """The (generator, discriminator) learning rates: each network's own if set, else learning_rate."""
    own = config.optim.generator_learning_rate, config.optim.discriminator_learning_rate
    return tuple(config.learning_rate if rate is None else rate for rate in own)


def make_optimizer(
    config: Config, learning_rate: float | None = None, num_steps: int | None = None
) -> optax.GradientTransformation:
    """The configured optimizer at `learning_rate` (default: config.learning_rate), its schedule over its own steps.

    `num_steps` (default: train.num_steps) is how many steps the optimizer takes in all: the cosine's length.
    """
    learning_rate = config.learning_rate if learning_rate is None else learning_rate
    num_steps = config.train.num_steps if num_steps is None else num_steps
    schedule = SCHEDULES[config.optim.schedule](learning_rate, config.optim, num_steps)
    return OPTIMIZERS[config.optim.optimizer](schedule, config.optim)
