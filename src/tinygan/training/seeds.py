"""Many seeds of one configuration as one compiled program: `lax.scan` over a `jax.vmap` of the train step.

`train_seeds(config, seeds)` gives every seed's final metrics, bit for bit
the `metrics` of `tinygan.train(config with that seed)` on the CPU, less the
timings. Two choices make that hold:

- The seeds share their counters. Every seed is at the same iteration, so the
  step and the optimizers' step counts are kept once (unbatched), not once
  per seed: the schedules and Adam's bias correction are then the same scalar
  arithmetic as in a single run, where a vector of identical counts would be
  computed with other (vectorized) rounding.
- The scan runs outside the vmap, so the seed axis is a plain leading axis of
  every array in the step, and everything (noise, data, both updates) stays
  in one compiled program with no per-step transfer to the host.

The log points' probes only read the state, so the loop runs without them.
A sweep runs where `train.device` sends all its seeds' arithmetic (engine/devices.py):
a batch of seeds is cut into equal shares, one per device of that platform (a host
device per core, see tinygan/__init__.py, or each GPU), and one program, compiled
once, runs every share at once (`spread`).
"""

from __future__ import annotations

import concurrent.futures
import functools
import math
import os
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from tinygan import engine
from tinygan.config import Config, ConfigError
from tinygan.engine import devices
from tinygan.measure.scoring import make_scorer, picture_view, thinned
from tinygan.training.loop import FINAL_SAMPLES, final_samples

PROGRESS_UPDATES = 20  # compiled calls per batch of seeds, about: progress is reported between them
MAX_CHUNK = 2_000  # iterations per compiled call at most
MEMORY_BUDGET = 1 << 30  # bytes of training state and step intermediates a batch of seeds may hold on the CPU
MAX_SEED_BATCH = 1024  # seeds a batch holds on the CPU at most: more are no faster there
GPU_MEMORY_SHARE = 0.5  # of a GPU's free memory, what a batch of seeds may take (XLA needs room of its own)
# Seeds per CPU device at least before a batch is split over them: 2 each is already ~2x faster than one device.
# Not 1: XLA drops a seed axis of size 1 and may then round reductions as a single run's program does not.
MIN_DEVICE_SEEDS = 2
COUNTERS = ("step", "count")  # state leaves every seed shares: the iteration and the optimizers' step counts


def _is_counter(path) -> bool:
    last = path[-1]
    return getattr(last, "name", getattr(last, "key", None)) in COUNTERS


def seed_axes(state: engine.TrainState):
    """The vmap axes of a batch of states: None for the shared counters, 0 (the seed) for everything else."""
    return jax.tree_util.tree_map_with_path(lambda path, leaf: None if _is_counter(path) else 0, state)


def per_seed(function, *batches: engine.TrainState) -> engine.TrainState:
    """`function` applied to the seeds' leaves of batches of states (leaf by leaf, across them);
    the shared counters are the first batch's, as they are."""
    return jax.tree_util.tree_map_with_path(
        lambda path, *leaves: leaves[0] if _is_counter(path) else function(*leaves), *batches)


def seed_state(states: engine.TrainState, index: int) -> engine.TrainState:
    """Seed `index`'s own state out of a batch: what `tinygan.train` holds for that seed."""
    return per_seed(lambda leaf: leaf[index], states)


def seed_keys(seeds: Sequence[int]) -> jax.Array:
    """(3, seeds) keys: each seed's set-up, training and evaluation keys, split as `tinygan.train` splits them."""
    seeds = jnp.asarray(np.asarray(seeds, np.uint32))
    return jax.vmap(lambda seed: jax.random.split(jax.random.key(seed), 3), out_axes=1)(seeds)


@functools.partial(engine.with_data, static_argnums=(2,))
def setup_seeds(game: engine.Game, keys: jax.Array, pretrain_steps: int) -> engine.TrainState:
    """Each seed's starting state (`engine.setup`), stacked, with the counters (all zero) kept once."""
    states = jax.vmap(lambda key: engine.setup(game, key, pretrain_steps)[0])(keys)
    return jax.tree_util.tree_map_with_path(lambda path, leaf: leaf[0] if _is_counter(path) else leaf, states)


@functools.partial(engine.with_data, static_argnums=(3,))
def train_chunk(game: engine.Game, states: engine.TrainState, run_keys: jax.Array, steps: int) -> engine.TrainState:
    """`steps` iterations of every seed: each draws its batch from its own key and the shared step."""
    axes = seed_axes(states)

    def step(state, run_key):
        return engine.train_step(game, state, engine.step_key(run_key, state.step))[0]

    every_seed = jax.vmap(step, in_axes=(axes, 0), out_axes=axes)
    return jax.lax.scan(lambda states, _: (every_seed(states, run_keys), None), states, length=steps)[0]


def state_bytes(game: engine.Game, batch_size: int) -> int:
    """Bytes one seed holds while it trains, about: its state, and the step's arrays (a generous guess).

    The state is counted exactly (from its shapes); the step's intermediates as
    a few copies of every layer's activations for each sample of the D and G steps.
    """
    shapes = jax.eval_shape(lambda key: engine.init_state(game, key), jax.random.key(0))
    state = sum(math.prod(leaf.shape) * leaf.dtype.itemsize for leaf in jax.tree.leaves(shapes))
    params = sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(shapes.generator) + jax.tree.leaves(
        shapes.discriminator))
    return 4 * state + 4 * 16 * batch_size * max(1, int(math.sqrt(params)))


def default_seed_batch(config: Config, n_seeds: int, device: jax.Device | None = None) -> int:
    """Seeds trained at once on `device` (default: `sweep_device`'s): on the CPU all of them up to
    MAX_SEED_BATCH, fewer when they would pass MEMORY_BUDGET; on a GPU as many as GPU_MEMORY_SHARE of its
    free memory holds."""
    game, _ = _game_and_scorer(config)
    device = device or sweep_device(config, n_seeds)
    one = state_bytes(game, config.train.batch_size * max(1, config.train.n_critic))
    if device.platform == "cpu":
        return max(1, min(n_seeds, MAX_SEED_BATCH, MEMORY_BUDGET // one))
    free = devices.free_memory(device)
    return max(1, min(n_seeds, int(GPU_MEMORY_SHARE * free) // one if free else MAX_SEED_BATCH))


def sweep_device(config: Config, n_seeds: int) -> jax.Device:
    """Where `n_seeds` seeds of `config` train, by `train.device`: from the arithmetic of an iteration of all of
    them (up to MAX_SEED_BATCH at once)."""
    return devices.choose(config.train.device, batch_flops(config, min(n_seeds, MAX_SEED_BATCH)))


def batch_flops(config: Config, n_seeds: int) -> float:
    """Flops of one iteration of `n_seeds` seeds of `config` at once (`engine.iteration_flops`)."""
    game, _ = _game_and_scorer(config)
    return engine.iteration_flops(game, n_seeds)


def check_sweepable(config: Config) -> None:
    """Refuse what a sweep cannot reproduce: the stopping rule and keep-best end runs at different steps."""
    if config.train.stop_when or config.train.keep_best:
        raise ConfigError("a sweep trains every seed to num_steps: --stop-when and --keep-best are for tinygan train")


@functools.lru_cache(maxsize=8)
def _game_and_scorer(config: Config):
    """One game per config, so the batches of a cell (and a resumed cell) reuse its compiled programs."""
    with devices.on_cpu():
        game = engine.make_game(config)
    return game, make_scorer(game.target, picture_view(game.target, config.data.noise_range))


class SeedResults(NamedTuple):
    """What `train_seeds` gives: each seed's final metrics, and a thinned sample of each seed's generator."""

    rows: list[dict]  # `tinygan.train`'s metrics (less "seconds") with the "seed", in the order of the seeds
    samples: np.ndarray  # (seeds, picture_samples, dim) float32: every k-th of the final samples, for pictures


def train_seeds(
    config: Config,
    seeds: Sequence[int],
    *,
    seed_batch: int | None = None,
    progress: Callable[[int], None] | None = None,
    picture_samples: int = 0,
) -> SeedResults:
    """Every seed's final metrics as `tinygan.train` gives them (less "seconds"), bit for bit.

    Seeds train `seed_batch` at a time (default: `default_seed_batch`); a short
    last batch is padded with copies of its last seed, so every batch runs the
    same compiled program. `progress(seed_iterations)` is called after every
    compiled call with the seed-iterations it played (padding not counted).
    `picture_samples` of each seed's final samples are kept, evenly strided.
    """
    check_sweepable(config)
    seeds = [int(seed) for seed in seeds]
    if seed_batch is not None and seed_batch < 1:
        raise ConfigError(f"seed batch: must be >= 1, got {seed_batch}")
    game, scorer = _game_and_scorer(config)
    device = sweep_device(config, len(seeds))
    size = min(seed_batch or default_seed_batch(config, len(seeds), device), len(seeds))
    shared = devices.platform_devices(device)
    if size >= len(shared) * MIN_DEVICE_SEEDS:  # padded to equal shares for the devices (`spread`)
        size = -(-size // len(shared)) * len(shared)
    # A batch of one seed is padded to MIN_DEVICE_SEEDS: with a seed axis of size 1 XLA drops the axis and
    # fuses the step otherwise, which can round differently from a single run (seen with `recommended`).
    size = max(size, MIN_DEVICE_SEEDS)
    rows, samples = [], []
    # NumPy sorts without the GIL: the seeds are scored side by side
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as scoring, jax.default_device(device):
        for start in range(0, len(seeds), size):
            batch = seeds[start : start + size]
            keys = seed_keys(batch + batch[-1:] * (size - len(batch)))  # (3, size): set-up, training, evaluation
            states = _train_batch(game, config, keys, len(batch), progress, shared)
            key_eval = keys[2]
            for i in range(len(batch)):  # the padding's copies are not measured
                final = final_samples(game, seed_state(states, i), key_eval[i], config.model.generator_batch_norm)
                rows.append(scoring.submit(scorer, final, final=True))
                samples.append(thinned(final, picture_samples).astype(np.float32) if picture_samples else final[:0])
        rows = [{"seed": seed, "status": "finished", **scores.result(), "samples": FINAL_SAMPLES,
                 "iterations": config.train.num_steps} for seed, scores in zip(seeds, rows)]
    return SeedResults(rows, np.stack(samples))


def spread(states: engine.TrainState, run_keys: jax.Array, shared: list | None = None):
    """The batch laid out over the devices of `shared` (default: the host devices), as (states, run_keys): the
    seed axis cut into equal shares, one per device, the shared counters on each (a `NamedSharding` over a mesh
    of those devices).

    tinygan/__init__.py asks XLA for a host device per core; a GPU machine's GPUs
    share a batch the same way. One program, compiled once, runs every share at
    once, each device the same arithmetic on its seeds, so every seed's numbers
    are unchanged. Batches under MIN_DEVICE_SEEDS per device stay whole, as they are.
    """
    shared = shared or jax.local_devices(backend="cpu")
    n = run_keys.shape[0]
    parts = max(1, min(len(shared), n // MIN_DEVICE_SEEDS))
    if parts == 1 or n % parts:
        return states, run_keys
    mesh = jax.sharding.Mesh(np.asarray(shared[:parts]), ("seeds",))
    cut, whole = (jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(*axes)) for axes in (("seeds",), ()))
    layout = jax.tree_util.tree_map_with_path(lambda path, _: whole if _is_counter(path) else cut, states)
    return jax.device_put(states, layout), jax.device_put(run_keys, cut)


def share_count(run_keys: jax.Array) -> int:
    """The devices a batch's seeds are spread over (`spread`)."""
    return len(run_keys.sharding.device_set)


def _train_batch(game, config: Config, keys: jax.Array, real: int, progress, shared: list) -> engine.TrainState:
    """Set up and train a batch of seeds from their `seed_keys` on the devices `shared`; `real` of them (not
    padding) count as progress."""
    key_setup, key_train, _ = keys
    states, key_train = spread(setup_seeds(game, key_setup, config.optim.pretrain_steps), key_train, shared)
    # Chunks of about num_steps / PROGRESS_UPDATES iterations, cut to divide the run evenly (`engine.plan_chunks`).
    chunk = max(1, min(MAX_CHUNK, config.train.num_steps // PROGRESS_UPDATES))
    for steps, _ in engine.plan_chunks(config.train.num_steps, 1, chunk):
        states = jax.block_until_ready(train_chunk(game, states, key_train, steps))
        if progress is not None:
            progress(steps * real)
    return jax.device_put(states, shared[0])  # whole again, where each seed's final samples are drawn
