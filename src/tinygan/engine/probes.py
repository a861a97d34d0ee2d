"""Looking at the networks, and the scanned loop: G's and D's probes for the history and the pictures, a chunk
of log intervals as one `lax.scan`, and how a run is cut into chunks."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from tinygan.core.networks import Params, per_point
from tinygan.engine.game import CURVE_POINTS, GRID_POINTS, Game, Probe, TrainState
from tinygan.engine.step import draw_batch, in_batches, step_key, update

__all__ = [
    "data_discriminator", "generated", "decision_boundary", "generator_pull", "pull_in_data_units", "picture_grid",
    "ARROWS", "MANIFOLD_SIDE", "evaluated_generator", "probe", "manifold", "run_chunk", "plan_chunks",
]


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
MANIFOLD_SIDE = 16  # noise levels along each axis of the lattice G's manifold is drawn from
# Calls of shorter chunks a run may make to use one program for all its whole intervals: a call costs ~0.5 ms on
# every run, a second program a compile (1-3 s) on the first and a load from the cache (~0.03 s) after that.
EXTRA_CALLS = 200


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


def manifold(game: Game, state: TrainState, side: int = MANIFOLD_SIDE) -> jax.Array:
    """G's manifold (its EMA when kept): the image of a lattice of noise levels, as GAN Lab draws it. For noise of
    two or more coordinates, side x side levels (i + 1/2) / side over the first two, the others at their median:
    (side, side, data_dim), neighbours along both axes are the lattice's lines. For 1-D noise, one line of
    side^2 levels: (1, side^2, data_dim). Equal steps of level are equal probabilities: where the lines spread,
    G thins its samples out."""
    if game.noise.dim == 1:
        u = ((jnp.arange(side * side, dtype=jnp.float32) + 0.5) / (side * side))[:, None]
        shape = (1, side * side)
    else:
        levels = (jnp.arange(side, dtype=jnp.float32) + 0.5) / side
        rows, columns = jnp.meshgrid(levels, levels, indexing="ij")
        rest = jnp.full((side * side, game.noise.dim - 2), 0.5, jnp.float32)
        u = jnp.concatenate([columns.reshape(-1, 1), rows.reshape(-1, 1), rest], axis=1)
        shape = (side, side)
    scores = game.generator.apply(evaluated_generator(state), game.noise.at_levels(u))
    return game.units.to_data(scores).reshape(*shape, -1)


def run_chunk(
    game: Game,
    state: TrainState,
    run_key: jax.Array,
    *,
    intervals: int,
    log_every: int,
    view: tuple | None,
    with_starts: bool = False,
    with_last: bool = False,
):
    """`intervals` log intervals of `log_every` iterations each, as one compiled scan.

    Each interval first probes the state it starts from (D's picture only
    with a `view`, see `probe`), then runs its iterations. Returns the new state, the probes (stacked, one per interval)
    and the losses of each interval's first iteration, the one its log line
    reports, and the state each interval starts from (stacked, leading axis
    `intervals`: the state its history row describes), None unless `with_starts`. With `with_last`, a fifth
    item: the losses of the chunk's last iteration (what a run's last row reports, when the chunk ends it).
    """

    def interval(state, _):
        seen = probe(game, state, view)
        keys = jax.vmap(step_key, (None, 0))(run_key, state.step + jnp.arange(log_every))
        batches = jax.vmap(lambda key: draw_batch(game, key))(keys)  # all draws at once: cheaper than per step
        start = state if with_starts else None
        state, metrics = jax.lax.scan(lambda state, batch: update(game, state, batch), state, batches)
        last = jax.tree.map(lambda m: m[-1], metrics) if with_last else None
        return state, (seen, jax.tree.map(lambda m: m[0], metrics), start, last)

    state, (probes, metrics, starts, lasts) = jax.lax.scan(interval, state, None, length=intervals)
    if with_last:
        return state, probes, metrics, starts, jax.tree.map(lambda m: m[-1], lasts)
    return state, probes, metrics, starts


def plan_chunks(num_steps: int, log_every: int, chunk_iterations: int) -> list[tuple[int, int]]:
    """Cut a run into compiled chunks: a list of (intervals, log_every) in order.

    Chunks hold whole log intervals, about `chunk_iterations` iterations, all of them the same number where that
    costs at most EXTRA_CALLS more calls, so one compiled program runs every whole interval: the largest count
    that divides the intervals within half of that size, else the largest up to twice it, else a smaller one.
    Past that, a short chunk of the intervals left over. A partial last interval is a chunk of its own.
    """
    full, partial = divmod(num_steps, log_every)
    plan = []
    if full:
        most = min(full, max(1, chunk_iterations // log_every))
        divisors = [d for d in range(2 * most, 0, -1) if full % d == 0]  # the largest first
        size = next((d for d in divisors if d <= most and 2 * d >= most), divisors[0])
        if full // size > full // most + EXTRA_CALLS:
            size = most
        plan += [(size, log_every)] * (full // size)
        if full % size:
            plan.append((full % size, log_every))
    if partial:
        plan.append((1, partial))
    return plan
