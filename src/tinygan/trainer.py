"""`train(config) -> TrainResult`: drive the compiled engine and collect what it saw.

Python runs only between compiled chunks: it turns each chunk's probes into
history rows and animation frames and reports progress. Ctrl-C between or
during chunks ends training early with a valid result (status "interrupted").
"""

from __future__ import annotations

import contextlib
import functools
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from tinygan import engine
from tinygan.config import Config
from tinygan.metrics import distances

FINAL_SAMPLES = 100_000  # samples behind the final metrics
MAX_FRAMES = 500  # animation frames kept at most; longer runs keep every k-th log point
CHUNK_ITERATIONS = 256  # iterations per compiled chunk, about: whole log intervals
HISTORY_COLUMNS = ("step", "loss_d", "loss_g", "mean", "std", "w1", "ks")


@dataclass(frozen=True)
class Frame:
    """One picture of training: the state an iteration starts from, or the final state."""

    step: int
    decision: np.ndarray  # (GRID_POINTS,) D(x) on the x grid
    generated: np.ndarray  # (GRID_POINTS,) G(z) on the noise grid


@dataclass
class TrainResult:
    """A finished (or interrupted) run: final state, history, frames and metrics."""

    config: Config
    state: engine.TrainState
    history: dict[str, np.ndarray]  # HISTORY_COLUMNS, one entry per log point
    frames: list[Frame]
    metrics: dict
    status: str  # "finished" or "interrupted"
    pretrain_losses: np.ndarray = field(repr=False)

    @functools.cached_property
    def game(self) -> engine.Game:
        return engine.make_game(self.config)

    def sample(self, n: int, *, key: jax.Array) -> np.ndarray:
        """n samples of the trained generator (its weights' EMA with train.generator_ema), shape (n, data_dim)."""
        return np.asarray(_sample(self.game, engine.evaluated_generator(self.state), key, n))

    def discriminate(self, x: np.ndarray) -> np.ndarray:
        """D(x) in [0, 1] for x of shape (n, data_dim), fed in training-sized batches."""
        return np.asarray(_decide(self.game, self.state.discriminator, jnp.asarray(x, jnp.float32)))


@functools.partial(jax.jit, static_argnums=(0, 3))
def _sample(game, params, key, n):
    return game.generator.apply(params, game.noise.sample(key, n))


@functools.partial(jax.jit, static_argnums=0)
def _decide(game, params, x):
    return engine.decision_boundary(game, params, x)


@functools.partial(jax.jit, static_argnums=(0, 3, 4))
def _final_look(game, state, key, x_range, n):
    """The final frame (with D's boundary) and n fresh samples for the final metrics, both from G's EMA when kept."""
    return engine.probe(game, state, x_range), _sample(game, engine.evaluated_generator(state), key, n)


@contextlib.contextmanager
def _interrupt_between_chunks():
    """Turn the first Ctrl-C into a request to stop after the running chunk; a second one stops at once."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return

    def handler(signum, frame):
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous)


def _timed_compile(function, *args):
    start = time.perf_counter()
    compiled = jax.jit(function).lower(*args).compile()
    return compiled, time.perf_counter() - start


def train(
    config: Config,
    *,
    progress: Callable[[int, list[dict]], None] | None = None,
    frames: bool = True,
) -> TrainResult:
    """Pre-train D, play the game for `config.train.num_steps` iterations, measure the result.

    `progress(iterations_done, new_rows)` is called after every compiled chunk
    with the history rows it produced (dicts keyed by HISTORY_COLUMNS).
    `frames=False` skips D's picture at log points; the final frame is always kept.
    With train.generator_ema, what is measured and drawn (the history's
    distances, the frames, the final metrics, `TrainResult.sample`) reads the
    EMA of G's weights; training itself moves G's own weights.
    """
    with _interrupt_between_chunks() as stop_requested:
        return _train(config, progress, frames, stop_requested)


def _train(config: Config, progress, with_frames: bool, stop_requested: threading.Event) -> TrainResult:
    started = time.perf_counter()
    seconds = {}
    game = engine.make_game(config)
    num_steps, log_every = config.train.num_steps, config.train.log_every
    x_range = config.data.noise_range
    key_setup, key_train, key_eval = jax.random.split(jax.random.key(config.train.seed), 3)
    target_law = game.target.distribution()

    # Set-up (init and pre-training) compiled as one program; the game as chunks of whole log intervals.
    plan = engine.plan_chunks(num_steps, log_every, CHUNK_ITERATIONS)
    frame_every = math.ceil(math.ceil(num_steps / log_every) / MAX_FRAMES)
    setup_fn, seconds["compile"] = _timed_compile(
        functools.partial(engine.setup, game, pretrain_steps=config.optim.pretrain_steps), key_setup
    )
    start = time.perf_counter()
    state, pretrain_losses = jax.block_until_ready(setup_fn(key_setup))
    seconds["pretrain"] = time.perf_counter() - start
    chunk_fns = {}
    for shape in dict.fromkeys(plan):
        chunk_fns[shape], compile_seconds = _timed_compile(
            functools.partial(engine.run_chunk, game, intervals=shape[0], log_every=shape[1], x_range=x_range,
                              with_decision=with_frames),
            state,
            key_train,
        )
        seconds["compile"] += compile_seconds

    history = {name: [] for name in HISTORY_COLUMNS}
    kept_frames: list[Frame] = []
    seconds["metrics"] = 0.0
    start = time.perf_counter()
    for intervals, length in plan:
        if stop_requested.is_set():
            break
        first = int(state.step)
        state, probes, losses = chunk_fns[intervals, length](state, key_train)
        probes, losses = jax.device_get((probes, losses))
        metrics_start = time.perf_counter()
        rows = []
        for i in range(intervals):
            step = first + i * length
            row = {"step": step, "loss_d": float(losses.loss_d[i]), "loss_g": float(losses.loss_g[i])}
            row.update(distances(probes.generated[i], target_law))
            rows.append(row)
            for name in HISTORY_COLUMNS:
                history[name].append(row[name])
            if with_frames and (step // log_every) % frame_every == 0:
                kept_frames.append(Frame(step, probes.decision[i], probes.generated[i, :, 0]))
        seconds["metrics"] += time.perf_counter() - metrics_start
        if progress is not None:
            progress(int(state.step), rows)
    seconds["train"] = time.perf_counter() - start - seconds["metrics"]

    # The final state: one more frame, and the metrics from FINAL_SAMPLES fresh samples.
    start = time.perf_counter()
    final, samples = jax.device_get(_final_look(game, state, key_eval, x_range, FINAL_SAMPLES))
    kept_frames.append(Frame(int(state.step), final.decision, final.generated[:, 0]))
    status = "interrupted" if int(state.step) < num_steps else "finished"
    metrics = {"status": status, **distances(samples, target_law), "samples": FINAL_SAMPLES}
    metrics["iterations"] = int(state.step)
    seconds["metrics"] += time.perf_counter() - start
    seconds["total"] = time.perf_counter() - started
    metrics["seconds"] = seconds

    return TrainResult(
        config=config.resolved(),
        state=state,
        history={name: np.asarray(values) for name, values in history.items()},
        frames=kept_frames,
        metrics=metrics,
        status=status,
        pretrain_losses=np.asarray(pretrain_losses),
    )
