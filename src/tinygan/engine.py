"""The compiled training engine: state, one pure train step, and the scanned loop.

Everything here is a pure function of arrays and explicit keys. Python drives
the loop in chunks (see `trainer.py`); inside a chunk `jax.lax.scan` runs the
iterations, and at each log point a probe looks at the networks for the
history and the animation.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from tinygan.config import Config
from tinygan.data import make_noise, make_target
from tinygan.networks import Network, Params, make_discriminator, make_generator
from tinygan.objectives import OBJECTIVES, Objective, gradient_penalty, r1_penalty

GRID_POINTS = 10_000  # points on the x and z grids the seed draws its pictures from


class Game(NamedTuple):
    """The static parts of a run, built once from its config."""

    target: Any
    noise: Any
    generator: Network
    discriminator: Network
    objective: Objective
    optimizer: optax.GradientTransformation
    batch_size: int
    label_smoothing: float = 0.0
    gradient_penalty: float = 0.0  # weight of each penalty; 0 leaves it out of the compiled program
    r1: float = 0.0


class TrainState(NamedTuple):
    """Both networks, both optimizer states and the iterations done: nothing hidden."""

    generator: Params
    discriminator: Params
    generator_opt: optax.OptState
    discriminator_opt: optax.OptState
    step: jax.Array  # int32 scalar


class Batch(NamedTuple):
    """The randomness of one iteration, drawn before it runs."""

    real: jax.Array  # (batch, data_dim)
    noise_d: jax.Array  # (batch, noise_dim): the generator's input for the D step
    noise_g: jax.Array  # (batch, noise_dim): a fresh draw for the G step
    penalty_key: jax.Array | None = None  # the gradient penalty's interpolation key; None when it is off


class StepMetrics(NamedTuple):
    loss_d: jax.Array
    loss_g: jax.Array


class Probe(NamedTuple):
    """What a log point sees: G on the noise grid and D(x) on the x grid."""

    generated: jax.Array  # (GRID_POINTS, data_dim)
    decision: jax.Array | None  # (GRID_POINTS,) probabilities; None when not asked for


def make_optimizer(config: Config) -> optax.GradientTransformation:
    """Plain gradient descent, the rate times decay_rate every decay_steps of its own steps (staircase)."""
    schedule = optax.exponential_decay(
        config.learning_rate, config.optim.decay_steps, config.optim.decay_rate, staircase=True
    )
    return optax.sgd(schedule)


def make_game(config: Config) -> Game:
    target, noise = make_target(config.data), make_noise(config.data)
    return Game(
        target=target,
        noise=noise,
        generator=make_generator(config.model, noise.dim, target.dim),
        discriminator=make_discriminator(config.model, target.dim),
        objective=OBJECTIVES[config.train.objective],
        optimizer=make_optimizer(config),
        batch_size=config.train.batch_size,
        label_smoothing=config.train.label_smoothing,
        gradient_penalty=config.train.gradient_penalty,
        r1=config.train.r1,
    )


def init_state(game: Game, key: jax.Array) -> TrainState:
    key_g, key_d = jax.random.split(key)
    generator, discriminator = game.generator.init(key_g), game.discriminator.init(key_d)
    return TrainState(
        generator=generator,
        discriminator=discriminator,
        generator_opt=game.optimizer.init(generator),
        discriminator_opt=game.optimizer.init(discriminator),
        step=jnp.zeros((), jnp.int32),
    )


def pretrain(game: Game, params: Params, key: jax.Array, num_steps: int) -> tuple[Params, jax.Array]:
    """The seed's pre-training: fit sigmoid(D(d)) to the target's density by squared error.

    d = (U[0, 1) - 0.5) * 10, a fresh batch each step, with an optimizer of its
    own. Returns the trained parameters (which the game's D starts from) and
    the loss of every step, shape (num_steps,).
    """

    def loss(params, d):
        labels = game.target.density(d)[:, 0]  # (batch,)
        return jnp.mean((jax.nn.sigmoid(game.discriminator.apply(params, d)) - labels) ** 2)

    def step(carry, index):
        params, opt_state = carry
        d = (jax.random.uniform(jax.random.fold_in(key, index), (game.batch_size, 1)) - 0.5) * 10.0
        value, grads = jax.value_and_grad(loss)(params, d)
        updates, opt_state = game.optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), value

    (params, _), losses = jax.lax.scan(step, (params, game.optimizer.init(params)), jnp.arange(num_steps))
    return params, losses


def setup(game: Game, key: jax.Array, pretrain_steps: int) -> tuple[TrainState, jax.Array]:
    """The state the game starts from: both networks drawn, D pre-trained (the seed's weight copy).

    Returns the state and the pre-training losses.
    """
    key_init, key_pretrain = jax.random.split(key)
    state = init_state(game, key_init)
    discriminator, losses = pretrain(game, state.discriminator, key_pretrain, pretrain_steps)
    return state._replace(discriminator=discriminator), losses


def draw_batch(game: Game, key: jax.Array) -> Batch:
    key_real, key_d, key_g = jax.random.split(key, 3)
    size = game.batch_size
    # The penalty's key is the last of a split into 4, which differs from the three above whichever threefry
    # mode JAX runs (fold_in(key, 3) would be key_real with jax_threefry_partitionable off). Drawn only when
    # used, so the other streams, and runs without the penalty, stay exactly as they were.
    penalty_key = jax.random.split(key, 4)[3] if game.gradient_penalty else None
    return Batch(
        game.target.sample(key_real, size), game.noise.sample(key_d, size), game.noise.sample(key_g, size), penalty_key
    )


def discriminator_loss(game: Game, critic, batch: Batch, fake: jax.Array) -> jax.Array:
    """The objective's D loss, plus each penalty times its weight; a zero weight leaves the term out entirely."""
    smoothing = {"label_smoothing": game.label_smoothing} if game.label_smoothing else {}
    loss = game.objective.discriminator_loss(critic(batch.real), critic(fake), **smoothing)
    if game.gradient_penalty:
        loss = loss + game.gradient_penalty * gradient_penalty(critic, batch.real, fake, key=batch.penalty_key)
    if game.r1:
        loss = loss + game.r1 * r1_penalty(critic, batch.real)
    return loss


def update(game: Game, state: TrainState, batch: Batch) -> tuple[TrainState, StepMetrics]:
    """One iteration on a drawn batch: a discriminator step, then a generator step against the new D.

    loss_d is everything D descends on: the objective's loss plus the weighted penalties.
    """
    D, G, objective, optimizer = game.discriminator.apply, game.generator.apply, game.objective, game.optimizer

    fake = G(state.generator, batch.noise_d)
    loss_d, grads = jax.value_and_grad(lambda d: discriminator_loss(game, lambda x: D(d, x), batch, fake))(
        state.discriminator
    )
    updates, discriminator_opt = optimizer.update(grads, state.discriminator_opt, state.discriminator)
    discriminator = optax.apply_updates(state.discriminator, updates)

    loss_g, grads = jax.value_and_grad(lambda g: objective.generator_loss(D(discriminator, G(g, batch.noise_g))))(
        state.generator
    )
    updates, generator_opt = optimizer.update(grads, state.generator_opt, state.generator)
    generator = optax.apply_updates(state.generator, updates)

    new_state = TrainState(generator, discriminator, generator_opt, discriminator_opt, state.step + 1)
    return new_state, StepMetrics(loss_d, loss_g)


def train_step(game: Game, state: TrainState, key: jax.Array) -> tuple[TrainState, StepMetrics]:
    """The pure train step: `(state, key) -> (state, metrics)`."""
    return update(game, state, draw_batch(game, key))


def step_key(run_key: jax.Array, step: jax.Array) -> jax.Array:
    """The key of iteration `step`: the same wherever the loop is cut into chunks."""
    return jax.random.fold_in(run_key, step)


def decision_boundary(game: Game, params: Params, xs: jax.Array) -> jax.Array:
    """D(x) for every row of xs, evaluated in batches of the training batch size.

    With minibatch discrimination D's output depends on the rest of the batch,
    so points are fed as training feeds them. The last, partial batch is the
    final full batch of xs (overlapping), so no point is left unevaluated.
    """
    n = xs.shape[0]
    size = min(game.batch_size, n)
    full = n // size * size
    chunks = xs[:full].reshape(-1, size, xs.shape[1])  # (chunks, size, dim)
    head = jax.vmap(game.discriminator.apply, (None, 0))(params, chunks).reshape(-1)
    tail = game.discriminator.apply(params, xs[n - size :])[size - (n - full) :]
    return jax.nn.sigmoid(jnp.concatenate([head, tail]))


def probe(game: Game, state: TrainState, x_range: float, with_decision: bool = True) -> Probe:
    """Look at the networks: G on the noise grid and, if asked, D on [-x_range, x_range]."""
    generated = game.generator.apply(state.generator, game.noise.grid(GRID_POINTS))
    if not with_decision:
        return Probe(generated, None)
    xs = jnp.linspace(-x_range, x_range, GRID_POINTS)[:, None]
    return Probe(generated, decision_boundary(game, state.discriminator, xs))


def run_chunk(
    game: Game,
    state: TrainState,
    run_key: jax.Array,
    *,
    intervals: int,
    log_every: int,
    x_range: float,
    with_decision: bool = True,
):
    """`intervals` log intervals of `log_every` iterations each, as one compiled scan.

    Each interval first probes the state it starts from, then runs its
    iterations. Returns the new state, the probes (stacked, one per interval)
    and the losses of each interval's first iteration, the one its log line
    reports.
    """

    def interval(state, _):
        seen = probe(game, state, x_range, with_decision)
        keys = jax.vmap(step_key, (None, 0))(run_key, state.step + jnp.arange(log_every))
        batches = jax.vmap(lambda key: draw_batch(game, key))(keys)  # all draws at once: cheaper than per step
        state, metrics = jax.lax.scan(lambda state, batch: update(game, state, batch), state, batches)
        return state, (seen, jax.tree.map(lambda m: m[0], metrics))

    state, (probes, metrics) = jax.lax.scan(interval, state, None, length=intervals)
    return state, probes, metrics


def plan_chunks(num_steps: int, log_every: int, chunk_iterations: int) -> list[tuple[int, int]]:
    """Cut a run into compiled chunks: a list of (intervals, log_every) in order.

    Chunks hold whole log intervals, about `chunk_iterations` iterations,
    sized to divide the run evenly where a size within half of that allows,
    so a run needs one compiled program, or a few for an uneven tail.
    """
    full, partial = divmod(num_steps, log_every)
    plan = []
    if full:
        most = min(full, max(1, chunk_iterations // log_every))
        size = next((d for d in range(most, (most + 1) // 2 - 1, -1) if full % d == 0), most)
        plan += [(size, log_every)] * (full // size)
        if full % size:
            plan.append((full % size, log_every))
    if partial:
        plan.append((1, partial))
    return plan
