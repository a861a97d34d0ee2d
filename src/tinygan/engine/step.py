"""One iteration of the game as pure functions: set-up and pre-training, batches, both players' steps, and the
guards against non-finite numbers."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from tinygan.core.networks import Params, per_point
from tinygan.core.objectives import gradient_penalty, r1_penalty
from tinygan.engine.game import Batch, DiscriminatorBatch, Game, StepMetrics, TrainState

__all__ = [
    "init_state", "pretrain", "setup", "draw_batch", "draw_discriminator_batch", "discriminator_loss",
    "discriminator_step", "discriminator_phase", "unrolled_discriminator", "moving_average", "generator_step",
    "update", "all_finite", "compiled_in", "weighted", "skip_if_non_finite", "train_step", "discriminator_only",
    "generator_only", "step_key", "run_keys", "in_batches", "iteration_flops",
]


def init_state(game: Game, key: jax.Array) -> TrainState:
    key_g, key_d = jax.random.split(key)
    generator, discriminator = game.generator.init(key_g), game.discriminator.init(key_d)
    return TrainState(
        generator=generator,
        discriminator=discriminator,
        generator_opt=game.generator_optimizer.init(generator),
        discriminator_opt=game.discriminator_optimizer.init(discriminator),
        step=jnp.zeros((), jnp.int32),
        generator_ema=generator if compiled_in(game.generator_ema) else None,  # the average starts at the drawn weights
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
    penalty_key = jax.random.split(key, 4)[3] if compiled_in(game.gradient_penalty) else None
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
    penalty_key = key_penalty if compiled_in(game.gradient_penalty) else None
    return DiscriminatorBatch(
        game.units.sample(key_real, game.batch_size), game.noise.sample(key_noise, game.batch_size), penalty_key
    )


def discriminator_loss(game: Game, critic, batch: Batch | DiscriminatorBatch, fake: jax.Array) -> jax.Array:
    """The objective's D loss, plus each penalty times its weight; a zero weight leaves the term out entirely."""
    smoothing = {"label_smoothing": game.label_smoothing} if compiled_in(game.label_smoothing) else {}
    loss = game.objective.discriminator_loss(critic(batch.real), critic(fake), **smoothing)
    if compiled_in(game.gradient_penalty):
        loss = loss + weighted(game.gradient_penalty,
                               lambda: gradient_penalty(critic, batch.real, fake, key=batch.penalty_key))
    if compiled_in(game.r1):
        loss = loss + weighted(game.r1, lambda: r1_penalty(critic, batch.real))
    return loss


def compiled_in(weight) -> bool:
    """Whether a weighted term is part of the program: when its weight is non-zero, or an array (a live view's
    knob, `engine.tuning`, which may be turned from zero while the program runs)."""
    return isinstance(weight, jax.Array) or bool(weight)


def weighted(weight, term):
    """weight * term(): for an array weight (a knob) the term is computed only when the weight is non-zero, at
    run time (`lax.cond`), so a penalty turned off costs nothing."""
    if not isinstance(weight, jax.Array):
        return weight * term()
    return jax.lax.cond(weight != 0, lambda: weight * term(), lambda: jnp.zeros((), weight.dtype))


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
    discriminator, discriminator_opt, loss_d = discriminator_phase(game, state, batch)
    first = DiscriminatorBatch(batch.real, batch.noise_d, batch.penalty_key)
    generator, generator_opt, loss_g = generator_step(
        game, state.generator, state.generator_opt, discriminator, discriminator_opt, first, batch.noise_g
    )
    new_state = TrainState(
        generator, discriminator, generator_opt, discriminator_opt, state.step + 1,
        moving_average(game.generator_ema, state.generator_ema, generator), state.skipped,
    )
    metrics = StepMetrics(loss_d, loss_g)
    return _checked(game, state, new_state, metrics), metrics


def discriminator_phase(game: Game, state: TrainState, batch: Batch):
    """An iteration's first phase: its n_critic D steps against the G it starts with. Returns D's new weights, its
    optimizer's state and the last step's loss."""
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
    return discriminator, discriminator_opt, loss_d


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


def run_keys(seed: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A run's set-up, training and evaluation keys from its seed (< 2**32), as `training.seeds.seed_keys` splits
    them; one small compiled program rather than three eager ones (each a cache lookup at start-up)."""
    return _split_seed(np.uint32(seed))


@jax.jit
def _split_seed(seed: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    return tuple(jax.random.split(jax.random.key(seed), 3))


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


def iteration_flops(game: Game, seeds: int = 1) -> float:
    """Floating-point operations of one iteration of `seeds` seeds, from the networks' weights.

    A weight costs 2 flops a row forward and 4 backward. A D step passes a real and a generated batch through D
    (and the batch through G, forward only); a G step passes a batch through both, forward and backward.
    Look-ahead (unrolled) D steps count as D steps. Biases, activations and the optimizer's updates are left out.
    """
    shapes = jax.eval_shape(lambda key: init_state(game, key), jax.random.key(0))
    g, d = (sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(net))
            for net in (shapes.generator, shapes.discriminator))
    d_step = game.batch_size * (2 * 6 * d + 2 * g)
    g_step = game.batch_size * 6 * (g + d)
    return seeds * ((game.n_critic + game.unroll_steps) * d_step + g_step)
