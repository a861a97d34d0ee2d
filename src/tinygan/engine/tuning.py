"""Knobs: the numbers of a game that a live view turns while it trains, as inputs of its compiled programs.

`tinygan train` bakes a game's learning rates, objective, label smoothing, penalty weights and EMA decay into
its programs as constants. A live view changes them between any two iterations: as constants, every change
would compile the programs afresh (seconds) and keep the old ones (memory). Here they are `Knobs`, arrays passed
to the programs, and every config that differs only in its knobs shares one game, its `structure`'s, so one set
of compiled programs serves every value. Inside a program `tune` gives the game the knobs' traced values.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np

from tinygan.config import Config, replace
from tinygan.core.objectives import OBJECTIVES, Objective
from tinygan.core.optimizers import learning_rates, make_optimizer
from tinygan.engine.game import Game

__all__ = ["Knobs", "knobs", "structure", "tune", "switched_objective"]

OBJECTIVE_NAMES = tuple(OBJECTIVES)


class Knobs(NamedTuple):
    """A game's turnable numbers, as float32 scalars (the objective an int32: its place in OBJECTIVES)."""

    generator_rate: Any
    discriminator_rate: Any
    objective: Any
    label_smoothing: Any
    gradient_penalty: Any
    r1: Any
    generator_ema: Any  # the EMA's decay; whether G has an EMA at all is the structure's (it shapes the state)


def knobs(config: Config) -> Knobs:
    """`config`'s knobs, as numpy scalars ready to be passed to a program."""
    train = config.train
    values = (*learning_rates(config), None, train.label_smoothing, train.gradient_penalty, train.r1,
              train.generator_ema)
    floats = [np.float32(value) for value in values]
    floats[2] = np.int32(OBJECTIVE_NAMES.index(train.objective))
    return Knobs(*floats)


def structure(config: Config) -> Config:
    """The config every config that differs from `config` only in its knobs (and its seed and horizon) shares.

    Its game is what the programs compile: the knobs at neutral values, G's EMA kept on or off (it shapes the
    state), the horizon kept only when a cosine schedule reads it.
    """
    neutral = {"optim.learning_rate": 1e-3, "optim.generator_learning_rate": None,
               "optim.discriminator_learning_rate": None, "train.objective": "modified",
               "train.label_smoothing": 0.0, "train.gradient_penalty": 0.0, "train.r1": 0.0,
               "train.generator_ema": 0.5 if config.train.generator_ema else 0.0, "train.seed": 0}
    if config.optim.schedule != "cosine":
        neutral["train.num_steps"] = 1
    return replace(config, **neutral)


def switched_objective(index: jax.Array) -> Objective:
    """Every objective in one: `index` (traced) picks the one that runs (`lax.switch`, one branch at run time)."""
    objectives = list(OBJECTIVES.values())

    def discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
        def branch(objective):  # every branch takes (real, fake, smoothing); only cross-entropy reads the last
            if objective.smooths_labels:
                return objective.discriminator_loss
            return lambda real, fake, _: objective.discriminator_loss(real, fake)

        return jax.lax.switch(index, [branch(o) for o in objectives], real_logits, fake_logits, label_smoothing)

    def generator_loss(fake_logits):
        return jax.lax.switch(index, [o.generator_loss for o in objectives], fake_logits)

    return Objective(discriminator_loss, generator_loss, None)


def tune(game: Game, config: Config, knobs: Knobs) -> Game:
    """`game`, the game of `config` (a `structure`), with the knobs' values: called inside a program, where they
    are traced, so the program holds no knob as a constant."""
    critic_steps = config.train.num_steps * config.train.n_critic
    return game._replace(
        objective=switched_objective(knobs.objective),
        generator_optimizer=make_optimizer(config, knobs.generator_rate),
        discriminator_optimizer=make_optimizer(config, knobs.discriminator_rate, critic_steps),
        pretrain_optimizer=make_optimizer(config, knobs.discriminator_rate, config.optim.pretrain_steps),
        label_smoothing=knobs.label_smoothing,
        gradient_penalty=knobs.gradient_penalty,
        r1=knobs.r1,
        generator_ema=knobs.generator_ema if game.generator_ema else 0.0,
    )
