"""The compiled training engine: state, one pure train step, and the scanned loop.

Everything here is a pure function of arrays and explicit keys. Python drives
the loop in chunks (see `trainer.py`); inside a chunk `jax.lax.scan` runs the
iterations, and at each log point a probe looks at the networks for the
history and the animation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from tinygan.config import Config
from tinygan.resolve import check
from tinygan.data import make_target, moments
from tinygan.networks import Network, Params, make_discriminator, make_generator, per_point, standardized
from tinygan.noise import make_noise
from tinygan.objectives import OBJECTIVES, Objective, gradient_penalty, r1_penalty
from tinygan.optimizers import learning_rates, make_optimizer
from tinygan.units import make_units

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
    units: Any = None  # the units the networks work in (`units.py`): real batches, and G's samples mapped back


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


def make_game(config: Config) -> Game:
    check(config)  # what only the registries can refuse, refused before anything is built
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


def init_state(game: Game, key: jax.Array) -> TrainState:
    key_g, key_d = jax.random.split(key)
    generator, discriminator = game.generator.init(key_g), game.discriminator.init(key_d)
    return TrainState(
        generator=generator,
        discriminator=discriminator,
        generator_opt=game.generator_optimizer.init(generator),
        discriminator_opt=game.discriminator_optimizer.init(discriminator),
        step=jnp.zeros((), jnp.int32),
        generator_ema=generator if game.generator_ema else None,  # the average starts at the drawn weights
        skipped=jnp.zeros((), jnp.int32) if game.skip_non_finite else None,
    )


def pretrain(game: Game, params: Params, key: jax.Array, num_steps: int) -> tuple[Params, jax.Array]:
    """The seed's pre-training: fit sigmoid(D(d)) to the target's density by squared error.

    d = (U[0, 1)^dim - 0.5) * 10, a fresh batch each step, with an optimizer of its
    own (`game.pretrain_optimizer`: D's kind and rate). Returns the trained
    parameters (which the game's D starts from) and the loss of every step,
    shape (num_steps,).
    """

    def loss(params, d):
        labels = game.units.density(d)  # (batch,) in the units the networks work in
        logits = per_point(game.discriminator)(params, d)  # a packed D sees copies of each d
        return jnp.mean((jax.nn.sigmoid(logits) - labels) ** 2)

    def step(carry, index):
        params, opt_state = carry
        d = (jax.random.uniform(jax.random.fold_in(key, index), (game.batch_size, game.target.dim)) - 0.5) * 10.0
        value, grads = jax.value_and_grad(loss)(params, d)
        updates, opt_state = game.pretrain_optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), value

    (params, _), losses = jax.lax.scan(step, (params, game.pretrain_optimizer.init(params)), jnp.arange(num_steps))
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
    # D steps 2..n_critic draw from the last key of a split into 5, split once per extra step: the same
    # argument makes it none of the keys above, so n_critic = 1 leaves every stream exactly as it was.
    extra = None
    if game.n_critic > 1:
        keys = jax.random.split(jax.random.split(key, 5)[4], game.n_critic - 1)
        extra = jax.vmap(functools.partial(draw_discriminator_batch, game))(keys)
    return Batch(
        game.units.sample(key_real, size), game.noise.sample(key_d, size), game.noise.sample(key_g, size), penalty_key,
        extra,
    )


def draw_discriminator_batch(game: Game, key: jax.Array) -> DiscriminatorBatch:
    """The draws of one extra D step: a real batch, the generator's input and, when used, the penalty's key."""
    key_real, key_noise, key_penalty = jax.random.split(key, 3)
    penalty_key = key_penalty if game.gradient_penalty else None
    return DiscriminatorBatch(
        game.units.sample(key_real, game.batch_size), game.noise.sample(key_noise, game.batch_size), penalty_key
    )


def discriminator_loss(game: Game, critic, batch: Batch | DiscriminatorBatch, fake: jax.Array) -> jax.Array:
    """The objective's D loss, plus each penalty times its weight; a zero weight leaves the term out entirely."""
    smoothing = {"label_smoothing": game.label_smoothing} if game.label_smoothing else {}
    loss = game.objective.discriminator_loss(critic(batch.real), critic(fake), **smoothing)
    if game.gradient_penalty:
        loss = loss + game.gradient_penalty * gradient_penalty(critic, batch.real, fake, key=batch.penalty_key)
    if game.r1:
        loss = loss + game.r1 * r1_penalty(critic, batch.real)
    return loss


def discriminator_step(game: Game, generator: Params, discriminator: Params, opt_state, batch: DiscriminatorBatch):
    """One D step against G(generator): returns D's new parameters and optimizer state, and the loss it descended."""
    fake = game.generator.apply(generator, batch.noise)
    loss, grads = jax.value_and_grad(
        lambda d: discriminator_loss(game, functools.partial(game.discriminator.apply, d), batch, fake)
    )(discriminator)
    updates, opt_state = game.discriminator_optimizer.update(grads, opt_state, discriminator)
    return optax.apply_updates(discriminator, updates), opt_state, loss


def unrolled_discriminator(game: Game, generator: Params, discriminator: Params, opt_state, batch) -> Params:
    """D after `game.unroll_steps` look-ahead steps on `batch` against G(generator): the D that G's loss reads.

    Metz et al. 2016, "Unrolled Generative Adversarial Networks": G descends on
    f(theta_G, U^k(theta_G, theta_D)), its loss against D after k more D steps,
    differentiated through those steps, so G sees how D would answer its move.
    The look-ahead is thrown away: D's own update is the normal one.
    """

    def look_ahead(carry, _):
        discriminator, opt_state, _ = discriminator_step(game, generator, *carry, batch)
        return (discriminator, opt_state), None

    if not game.unroll_steps:
        return discriminator
    (discriminator, _), _ = jax.lax.scan(look_ahead, (discriminator, opt_state), length=game.unroll_steps)
    return discriminator


def moving_average(decay: float, average: Params | None, params: Params) -> Params | None:
    """decay * average + (1 - decay) * params, leaf by leaf; None (no average kept) stays None.

    The EMA of G's weights (Yazici et al. 2019, "The Unusual Effectiveness of Averaging in GAN Training").
    """
    if average is None:
        return None
    return jax.tree.map(lambda a, p: decay * a + (1 - decay) * p, average, params)


def generator_step(game: Game, generator: Params, opt_state, discriminator: Params, discriminator_opt,
                   draws: DiscriminatorBatch, noise: jax.Array):
    """One G step on `noise` against D: returns G's new parameters and optimizer state, and the loss it descended.

    With unroll_steps, G's loss reads D after that many look-ahead steps on D's `draws` (`unrolled_discriminator`).
    """

    def generator_loss(g):
        looked_ahead = unrolled_discriminator(game, g, discriminator, discriminator_opt, draws)  # D itself when k = 0
        fake = game.generator.apply(g, noise)
        return game.objective.generator_loss(game.discriminator.apply(looked_ahead, fake))

    loss, grads = jax.value_and_grad(generator_loss)(generator)
    updates, opt_state = game.generator_optimizer.update(grads, opt_state, generator)
    return optax.apply_updates(generator, updates), opt_state, loss


def update(game: Game, state: TrainState, batch: Batch) -> tuple[TrainState, StepMetrics]:
    """One iteration on a drawn batch: n_critic discriminator steps, then a generator step against the new D.

    D's first step reads (real, noise_d, penalty_key), the others `batch.extra_d_steps`, each its own draws.
    loss_d is the last D step's: everything it descends on, the objective's loss plus the weighted penalties.
    With unroll_steps, G's loss reads D after that many look-ahead steps on the first D step's draws
    (`unrolled_discriminator`). With generator_ema, the average follows G after its step.
    """
    first = DiscriminatorBatch(batch.real, batch.noise_d, batch.penalty_key)
    discriminator, discriminator_opt, loss_d = discriminator_step(
        game, state.generator, state.discriminator, state.discriminator_opt, first
    )
    if batch.extra_d_steps is not None:

        def d_step(carry, draws):
            discriminator, opt_state, loss = discriminator_step(game, state.generator, *carry, draws)
            return (discriminator, opt_state), loss

        (discriminator, discriminator_opt), losses = jax.lax.scan(
            d_step, (discriminator, discriminator_opt), batch.extra_d_steps
        )
        loss_d = losses[-1]

    generator, generator_opt, loss_g = generator_step(
        game, state.generator, state.generator_opt, discriminator, discriminator_opt, first, batch.noise_g
    )
    new_state = TrainState(
        generator, discriminator, generator_opt, discriminator_opt, state.step + 1,
        moving_average(game.generator_ema, state.generator_ema, generator), state.skipped,
    )
    metrics = StepMetrics(loss_d, loss_g)
    return _checked(game, state, new_state, metrics), metrics


def all_finite(*trees) -> jax.Array:
    """True (a bool scalar) when every floating-point number in the trees is finite."""
    leaves = [leaf for leaf in jax.tree.leaves(trees) if jnp.issubdtype(leaf.dtype, jnp.floating)]
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


def skip_if_non_finite(old: TrainState, new: TrainState, metrics: StepMetrics) -> TrainState:
    """train.nan_policy "skip": keep `old`'s weights, moments and averages when the step made anything non-finite.

    The integer counters (the step, the optimizers' counts, which the schedules read) go on, so the next
    iteration draws fresh batches and the schedules stay tied to the iteration; `skipped` counts the step.
    """
    finite = all_finite(new, metrics)

    def keep(after, before):
        return jnp.where(finite, after, before) if jnp.issubdtype(after.dtype, jnp.floating) else after

    kept = jax.tree.map(keep, new._replace(skipped=None), old._replace(skipped=None))
    return kept._replace(skipped=new.skipped + jnp.where(finite, 0, 1).astype(jnp.int32))


def train_step(game: Game, state: TrainState, key: jax.Array) -> tuple[TrainState, StepMetrics]:
    """The pure train step: `(state, key) -> (state, metrics)`."""
    return update(game, state, draw_batch(game, key))


def discriminator_only(game: Game, state: TrainState, key: jax.Array) -> tuple[TrainState, jax.Array]:
    """One D step alone on fresh draws from `key` (the live view's "D step"): G and the step count stay."""
    discriminator, opt_state, loss = discriminator_step(
        game, state.generator, state.discriminator, state.discriminator_opt, draw_discriminator_batch(game, key)
    )
    new = state._replace(discriminator=discriminator, discriminator_opt=opt_state)
    return _checked(game, state, new, StepMetrics(loss, jnp.zeros_like(loss))), loss


def generator_only(game: Game, state: TrainState, key: jax.Array) -> tuple[TrainState, jax.Array]:
    """One G step alone against the current D on fresh draws from `key` (the live view's "G step"); D and the
    step count stay, G's EMA follows."""
    draws = draw_discriminator_batch(game, key)  # its noise feeds G; all of it feeds an unrolled D's look-ahead
    generator, opt_state, loss = generator_step(
        game, state.generator, state.generator_opt, state.discriminator, state.discriminator_opt, draws, draws.noise
    )
    new = state._replace(generator=generator, generator_opt=opt_state,
                         generator_ema=moving_average(game.generator_ema, state.generator_ema, generator))
    return _checked(game, state, new, StepMetrics(jnp.zeros_like(loss), loss)), loss


def _checked(game: Game, old: TrainState, new: TrainState, metrics: StepMetrics) -> TrainState:
    return skip_if_non_finite(old, new, metrics) if game.skip_non_finite else new


def step_key(run_key: jax.Array, step: jax.Array) -> jax.Array:
    """The key of iteration `step`: the same wherever the loop is cut into chunks."""
    return jax.random.fold_in(run_key, step)


def in_batches(game: Game, function, xs: jax.Array) -> jax.Array:
    """function(rows) for every row of xs, fed in batches of the training batch size; results concatenated.

    With minibatch discrimination D's output depends on the rest of the batch,
    so points are fed as training feeds them. The last, partial batch is the
    final full batch of xs (overlapping), so no point is left unevaluated.
    A packed D (PacGAN) sees batch_size / pack points at once: the number of
    packed rows training feeds it. `function` maps (size, dim) to (size, ...).
    """
    n = xs.shape[0]
    size = min(game.batch_size // game.discriminator.pack, n)
    full = n // size * size
    chunks = xs[:full].reshape(-1, size, xs.shape[1])  # (chunks, size, dim)
    head = jax.vmap(function)(chunks)  # (chunks, size, ...)
    head = head.reshape(full, *head.shape[2:])
    tail = function(xs[n - size :])[size - (n - full) :]
    return jnp.concatenate([head, tail])


def data_discriminator(game: Game) -> Callable[[Params, jax.Array], jax.Array]:
    """D's logit of each point given in the data's units (`per_point`, through the game's units)."""
    decide = per_point(game.discriminator)
    return lambda params, x: decide(params, game.units.to_model(x))


def generated(game: Game, params: Params, noise: jax.Array) -> jax.Array:
    """G's samples of `noise` (n, noise_dim) in the data's units, (n, data_dim)."""
    return game.units.to_data(game.generator.apply(params, noise))


def decision_boundary(game: Game, params: Params, xs: jax.Array) -> jax.Array:
    """D(x) in [0, 1] for every row of xs, in the data's units (`in_batches`); a packed D is asked about `pack`
    copies of each point."""
    decide = data_discriminator(game)
    return jax.nn.sigmoid(in_batches(game, lambda rows: decide(params, rows), xs))


def generator_pull(game: Game, params: Params, zs: jax.Array) -> jax.Array:
    """Where G's loss pushes each generated point z (in the units the networks work in): -d loss_g / dz, (n, dim),
    batched like D (`in_batches`).

    The arrows GAN Lab draws on generated samples. Each batch's loss is a mean,
    so it is scaled by the batch size: the gradient of each point's own share.
    """
    decide = per_point(game.discriminator)

    def pull(rows):
        loss = lambda z: game.objective.generator_loss(decide(params, z)) * rows.shape[0]
        return -jax.grad(loss)(rows)

    return in_batches(game, pull, zs)


def pull_in_data_units(game: Game, params: Params, zs: jax.Array) -> jax.Array:
    """`generator_pull` at points zs (model units), carried into the data's units: the direction each point would
    move, J(z) pull(z) with J the Jacobian of the units' map back (in normal scores a column of repeated values,
    where the map is flat, does not move). The identity in the data's own units."""
    return jax.jvp(game.units.to_data, (zs,), (generator_pull(game, params, zs),))[1]


def picture_grid(view: tuple[tuple[float, float], ...], points: int = GRID_POINTS) -> jax.Array:
    """The points D is drawn on: `points` over [low, high] in 1-D; a square grid of about as many in 2-D.

    `view` holds (low, high) per axis. 2-D points run along x first, row by row
    from the lowest y: reshaped to (side, side) they are an image with y up.
    """
    if len(view) == 1:
        return jnp.linspace(*view[0], points)[:, None]  # (points, 1)
    side = round(points**0.5)
    x, y = (jnp.linspace(low, high, side) for low, high in view)
    return jnp.stack([jnp.tile(x, side), jnp.repeat(y, side)], axis=1)  # (side * side, 2)


ARROWS = 256  # generated points that carry G's gradient arrow in 2-D pictures


def evaluated_generator(state: TrainState) -> Params:
    """The generator that probes, metrics and samples read: the EMA of G's weights when kept, else G's own."""
    return state.generator if state.generator_ema is None else state.generator_ema


def probe(game: Game, state: TrainState, view: tuple | None, points: int = GRID_POINTS) -> Probe:
    """Look at the networks: G (its EMA when kept) on `points` of the noise grid and, with a `view`, D on its
    grid of as many points (in 1-D, CURVE_POINTS at most).

    In 2-D the probe also gives G's pull (`generator_pull`) on ARROWS of the
    generated points, evenly spaced through the noise grid.
    """
    scores = game.generator.apply(evaluated_generator(state), game.noise.grid(points))  # in the model's units
    samples = game.units.to_data(scores)
    if view is None:
        return Probe(samples, None)
    decision = decision_boundary(game, state.discriminator,
                                 picture_grid(view, points if len(view) == 2 else min(points, CURVE_POINTS)))
    pull = None
    if len(view) == 2:
        pull = pull_in_data_units(game, state.discriminator, scores[:: points // ARROWS][:ARROWS])
    return Probe(samples, decision, pull)


def run_chunk(
    game: Game,
    state: TrainState,
    run_key: jax.Array,
    *,
    intervals: int,
    log_every: int,
    view: tuple | None,
    with_starts: bool = False,
):
    """`intervals` log intervals of `log_every` iterations each, as one compiled scan.

    Each interval first probes the state it starts from (D's picture only
    with a `view`, see `probe`), then runs its iterations. Returns the new state, the probes (stacked, one per interval)
    and the losses of each interval's first iteration, the one its log line
    reports, and the state each interval starts from (stacked, leading axis
    `intervals`: the state its history row describes), None unless `with_starts`.
    """

    def interval(state, _):
        seen = probe(game, state, view)
        keys = jax.vmap(step_key, (None, 0))(run_key, state.step + jnp.arange(log_every))
        batches = jax.vmap(lambda key: draw_batch(game, key))(keys)  # all draws at once: cheaper than per step
        start = state if with_starts else None
        state, metrics = jax.lax.scan(lambda state, batch: update(game, state, batch), state, batches)
        return state, (seen, jax.tree.map(lambda m: m[0], metrics), start)

    state, (probes, metrics, starts) = jax.lax.scan(interval, state, None, length=intervals)
    return state, probes, metrics, starts


def last_row(game: Game, state: TrainState, run_key: jax.Array) -> tuple[Probe, StepMetrics]:
    """What a log row of `state` reads when no interval follows it (a run's last iteration): G's probe, and the
    losses of the iteration that would come next, on its own draws (the state itself is left as it is)."""
    _, metrics = update(game, state, draw_batch(game, step_key(run_key, state.step)))
    return probe(game, state, None), metrics


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
