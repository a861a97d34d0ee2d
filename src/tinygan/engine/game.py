"""The game: a config made into a target, noise, two networks and their optimizers, and the state they train."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import optax

from tinygan.config import Config, TrainConfig
from tinygan.core.networks import Network, Params, make_discriminator, make_generator, standardized
from tinygan.core.noise import make_noise
from tinygan.core.objectives import OBJECTIVES, Objective
from tinygan.core.optimizers import learning_rates, make_optimizer
from tinygan.data.targets import make_target, moments
from tinygan.data.units import make_units
from tinygan.engine.resolve import check

__all__ = [
    "GRID_POINTS", "NORMALIZED_BATCH", "CURVE_POINTS", "Game", "TrainState", "DiscriminatorBatch", "Batch",
    "StepMetrics", "Probe", "make_game", "bind_data", "with_data",
]

GRID_POINTS = 10_000  # points on the x and z grids the seed draws its pictures from
NORMALIZED_BATCH = 10_000  # samples drawn at once, at least, from a generator with batch norm
CURVE_POINTS = 1_000  # points a 1-D picture keeps of D's curve and of G's quantiles: more than it has pixels


class Game(NamedTuple):
    """The static parts of a run, built once from its config."""

    target: Any
    noise: Any
    generator: Network
    discriminator: Network
    objective: Objective
    generator_optimizer: optax.GradientTransformation
    discriminator_optimizer: optax.GradientTransformation
    pretrain_optimizer: optax.GradientTransformation  # like D's, with a schedule over the pre-training's steps
    batch_size: int
    label_smoothing: float = 0.0
    gradient_penalty: float = 0.0  # weight of each penalty; 0 leaves it out of the compiled program
    r1: float = 0.0
    n_critic: int = 1  # D steps per iteration
    unroll_steps: int = 0  # look-ahead D steps behind G's loss; 0 leaves them out of the compiled program
    generator_ema: float = 0.0  # decay of the EMA of G's weights; 0: no EMA in the state
    skip_non_finite: bool = False  # train.nan_policy "skip": a step with non-finite results changes no weight
    units: Any = None  # the units the networks work in (`data/units.py`): real batches, and G's samples mapped back


class TrainState(NamedTuple):
    """Both networks, both optimizer states, the iterations done and G's EMA if any: nothing hidden."""

    generator: Params
    discriminator: Params
    generator_opt: optax.OptState
    discriminator_opt: optax.OptState
    step: jax.Array  # int32 scalar
    generator_ema: Params | None = None  # moving average of G's weights; None when train.generator_ema is 0
    skipped: jax.Array | None = None  # int32 scalar: steps discarded as non-finite; None unless nan_policy is skip


class DiscriminatorBatch(NamedTuple):
    """The randomness of one D step."""

    real: jax.Array  # (batch, data_dim)
    noise: jax.Array  # (batch, noise_dim): the generator's input
    penalty_key: jax.Array | None = None  # the gradient penalty's interpolation key; None when it is off


class Batch(NamedTuple):
    """The randomness of one iteration, drawn before it runs."""

    real: jax.Array  # (batch, data_dim)
    noise_d: jax.Array  # (batch, noise_dim): the generator's input for the (first) D step
    noise_g: jax.Array  # (batch, noise_dim): a fresh draw for the G step
    penalty_key: jax.Array | None = None  # the gradient penalty's interpolation key; None when it is off
    extra_d_steps: DiscriminatorBatch | None = None  # D steps 2..n_critic, stacked (n_critic - 1, ...); else None


class StepMetrics(NamedTuple):
    loss_d: jax.Array
    loss_g: jax.Array


class Probe(NamedTuple):
    """What a log point sees: G on the noise grid, D(x) on the picture's grid and, in 2-D, G's pull."""

    generated: jax.Array  # (GRID_POINTS, data_dim)
    decision: jax.Array | None  # (GRID_POINTS,) probabilities; None when not asked for
    pull: jax.Array | None = None  # (ARROWS, 2): -grad of G's loss at generated[::GRID_POINTS // ARROWS]


# Settings of a run that never shape its game: runs that differ only in them (seeds above all) share one game.
RUN_ONLY = ("seed", "log_every", "stop_when", "plateau_metric", "plateau_window", "plateau_tolerance", "keep_best",
            "best_metric", "device")


def make_game(config: Config) -> Game:
    """The game of `config`, built once (as its target is, `data.make_target`): the same object for configs
    equal but for RUN_ONLY settings, so the programs compiled for it, which take it as a static argument, are
    found again (`tinygan.train` over many seeds compiles once)."""
    check(config)  # what only the registries can refuse, refused before anything is built
    neutral = {name: getattr(TrainConfig, name) for name in RUN_ONLY}  # the defaults
    return _make_game(dataclasses.replace(config, train=dataclasses.replace(config.train, **neutral)))


@functools.lru_cache(maxsize=16)
def _make_game(config: Config) -> Game:
    target, noise = make_target(config.data), make_noise(config.data)
    generator_rate, discriminator_rate = learning_rates(config)
    critic_steps = config.train.num_steps * config.train.n_critic
    generator = make_generator(config.model, noise.dim, target.dim)
    discriminator = make_discriminator(config.model, target.dim)
    if config.data.standardize:  # the networks work in the target's standard units
        generator, discriminator = standardized(generator, discriminator, *moments(target))
    return Game(
        target=target,
        noise=noise,
        generator=generator,
        discriminator=discriminator,
        objective=OBJECTIVES[config.train.objective],
        # D's optimizer takes n_critic steps per iteration; pre-training's is a fresh one like D's.
        generator_optimizer=make_optimizer(config, generator_rate),
        discriminator_optimizer=make_optimizer(config, discriminator_rate, critic_steps),
        pretrain_optimizer=make_optimizer(config, discriminator_rate, config.optim.pretrain_steps),
        batch_size=config.train.batch_size,
        label_smoothing=config.train.label_smoothing,
        gradient_penalty=config.train.gradient_penalty,
        r1=config.train.r1,
        n_critic=config.train.n_critic,
        unroll_steps=config.train.unroll_steps,
        generator_ema=config.train.generator_ema,
        skip_non_finite=config.train.nan_policy == "skip",
        units=make_units(config.data),
    )


def bind_data(game: Game, arrays) -> Game:
    """The game reading its data from `arrays` (traced arguments of a program, in place of the data's own
    arrays: a file's rows, the quantile knots); `arrays` None (a law's game in its own units) leaves it as it is."""
    return game if arrays is None else game._replace(units=game.units.with_arrays(arrays))


def with_data(function: Callable, *, static_argnums: tuple[int, ...] = (), static_argnames: tuple[str, ...] = ()):
    """`function(game, *args, **kwargs)` compiled with the game's data (`units.arrays`: a file's rows, the
    quantile knots) as arguments of the program rather than constants baked into it, which would make programs
    as large as the data and slow to compile. The game is static (one program per game), as are `static_argnums`
    (positions among `function`'s own arguments) and `static_argnames`. `.lower(game, ...)` lowers it ahead."""

    @functools.partial(jax.jit, static_argnums=tuple(0 if i == 0 else i + 1 for i in (0, *static_argnums)),
                       static_argnames=static_argnames)
    def program(game, arrays, *args, **kwargs):
        return function(bind_data(game, arrays), *args, **kwargs)

    @functools.wraps(function)
    def run(game: Game, *args, **kwargs):
        return program(game, game.units.arrays, *args, **kwargs)

    run.lower = lambda game, *args, **kwargs: program.lower(game, game.units.arrays, *args, **kwargs)
    return run


