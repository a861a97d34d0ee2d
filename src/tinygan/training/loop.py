"""`train(config) -> TrainResult`: drive the compiled engine and collect what it saw.

Python runs only between compiled chunks: it turns each chunk's probes into
history rows and animation frames and reports progress. Ctrl-C between or
during chunks ends training early with a valid result (status "interrupted").
A stopping rule (train.stop_when) is checked on each chunk's rows in order and
ends the run exactly at the first log point where it holds (status "stopped").
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from tinygan import engine
from tinygan.config import Config, ConfigError, StopRule, parse_stop_rule  # noqa: F401 (StopRule, parse_stop_rule: their old home)
from tinygan.config.names import LOSS_COLUMNS, STOP_METRICS  # noqa: F401 (STOP_METRICS: its old home)
from tinygan.core.noise import drawing_key, quasi_levels
from tinygan.engine import NORMALIZED_BATCH, devices
from tinygan.engine.resolve import resolved
from tinygan.measure.scoring import make_scorer, picture_view
from tinygan.measure.verdict import law_verdict, table_verdict
from tinygan.training.stopping import StopSignal, _Watch, fresh_watch  # noqa: F401 (fresh_watch: its old home)

FINAL_SAMPLES = 100_000  # samples behind the final metrics
MAX_FRAMES = 500  # animation frames kept at most; longer runs keep every k-th log point
CHUNK_ITERATIONS = 256  # iterations per compiled chunk, about: whole log intervals
COMPILED_PROGRAMS = 16  # set-up and chunk programs kept compiled, the least recently used dropped
# Test hook: seconds to wait after each chunk, so that on a machine of any speed a test's signal comes mid-run.
CHUNK_PAUSE = "TINYGAN_TEST_CHUNK_PAUSE"


@dataclass(frozen=True)
class Frame:
    """One picture of training: the state an iteration starts from, or the final state."""

    step: int
    decision: np.ndarray | None  # D(x) on the picture's grid (`engine.picture_grid`, `engine.probe`); None above 2-D
    generated: np.ndarray  # (points, dim) G(z) on the noise grid (in 1-D, kept frames: their quantiles, `kept`)
    pull: np.ndarray | None = None  # (ARROWS, 2) in 2-D: G's gradient arrows (`engine.generator_pull`)

    @classmethod
    def from_probe(cls, step: int, probe: engine.Probe) -> Frame:
        return cls(step, probe.decision, probe.generated, probe.pull)

    def kept(self) -> Frame:
        """The frame as a run keeps it for its animation. In 1-D, G's samples become CURVE_POINTS evenly spaced
        order statistics, which draw its histogram as well to the eye: a run's frames take a tenth of the bytes."""
        every = len(self.generated) // engine.CURVE_POINTS
        if self.generated.shape[1] != 1 or every <= 1:
            return self
        quantiles = np.sort(self.generated, axis=0)[every // 2 :: every][: engine.CURVE_POINTS]
        return replace(self, generated=quantiles)


@dataclass
class TrainResult:
    """A finished (or interrupted) run: final state, history, frames and metrics."""

    config: Config
    state: engine.TrainState
    history: dict[str, np.ndarray]  # LOSS_COLUMNS, then the target's metric columns; one entry per log point
    frames: list[Frame]
    metrics: dict
    status: str  # "finished", "stopped" (train.stop_when held), "interrupted" (a signal) or "diverged"
    pretrain_losses: np.ndarray = field(repr=False)
    stop_signal: int | None = None  # the signal that stopped the run early, if one did

    @functools.cached_property
    def game(self) -> engine.Game:
        return engine.make_game(self.config)

    def sample(self, n: int, *, key: jax.Array | int, quasi: bool = False) -> np.ndarray:
        """n samples of the trained generator (its weights' EMA with train.generator_ema), shape (n, data_dim);
        `quasi`: from quasi-random noise (`noise.quasi_levels`), which covers G's law more evenly than
        independent draws. `key`: a JAX key, or an int seed for `jax.random.key(seed)`."""
        key = drawing_key(n, key)
        return generator_samples(self.game, self.state, key, n, self.config.model.generator_batch_norm, quasi=quasi)

    def discriminate(self, x: np.ndarray) -> np.ndarray:
        """D(x) in [0, 1] for x of shape (n, data_dim), fed in training-sized batches."""
        return np.asarray(_decide(self.game, self.state.discriminator, jnp.asarray(x, jnp.float32)))

    def export(self, path) -> Path:
        """The trained generator alone in one small file at `path` (what `tinygan export` writes), for
        `tinygan.load_generator(path)`; returns the path."""
        from tinygan.training.export import export_generator

        return export_generator(self.config, engine.evaluated_generator(self.state), path, iterations=int(self.state.step))


@functools.partial(engine.with_data, static_argnums=(3,))
def _sample(game, params, key, n):
    return engine.generated(game, params, game.noise.sample(key, n))


@engine.with_data
def _sample_at(game, params, levels):
    return engine.generated(game, params, game.noise.at_levels(levels))


@engine.with_data
def _decide(game, params, x):
    return engine.decision_boundary(game, params, x)


@functools.partial(engine.with_data, static_argnums=(2,))
def _final_probe(game, state, view):
    return engine.probe(game, state, view)


def generator_samples(game: engine.Game, state: engine.TrainState, key: jax.Array, n: int, batch_norm: bool, *,
                      quasi: bool = False):
    """n samples (n, dim) of the state's generator as metrics read it (G's EMA when kept); with `quasi`, of noise
    at quasi-random levels (`noise.quasi_levels`): each sample a draw of G's law, together an even cover of it.

    A generator with batch norm normalises by the statistics of the batch it is given, so it always
    draws at least NORMALIZED_BATCH samples at once and returns the first n.
    """
    size = max(n, NORMALIZED_BATCH) if batch_norm else n
    params = engine.evaluated_generator(state)
    if quasi:
        return np.asarray(_sample_at(game, params, jnp.asarray(quasi_levels(key, size, game.noise.dim))))[:n]
    return np.asarray(_sample(game, params, key, size))[:n]


def final_samples(game: engine.Game, state: engine.TrainState, key: jax.Array, batch_norm: bool) -> np.ndarray:
    """The FINAL_SAMPLES samples behind a run's final metrics, shape (FINAL_SAMPLES, dim).

    A compiled program of its own (`_sample`, as `TrainResult.sample` draws): a sweep
    (`training/seeds.py`) calls it on each seed's state and gets the very same numbers.
    """
    return generator_samples(game, state, key, FINAL_SAMPLES, batch_norm)


@dataclass
class Snapshot:
    """A run between two compiled chunks: all it needs to go on exactly as if never stopped (a checkpoint).

    `state` is the last state trained, `best_state` keep-best's pick so far; `keys` are the run's training
    and evaluation keys; `watch` the stopping rule's and keep-best's progress (`_Watch.progress`).
    """

    config: Config  # resolved
    state: engine.TrainState
    keys: jax.Array  # (2,) typed keys: training, evaluation
    history: dict[str, np.ndarray]
    frames: list[Frame]
    pretrain_losses: np.ndarray
    watch: dict
    best_state: engine.TrainState | None = None
    status: str = "running"  # or how the run ended: "finished", "stopped", "interrupted" or "diverged"

    @property
    def step(self) -> int:
        return int(self.state.step)

    @property
    def measured_state(self) -> engine.TrainState:
        """The state a finished run's metrics, samples and pictures read: keep-best's pick, else the last."""
        return self.best_state if self.best_state is not None else self.state


def _entry(stacked, i: int):
    """Entry i of a pytree stacked along its leaves' first axis (a chunk's probes or start states)."""
    return jax.tree.map(lambda leaf: leaf[i], stacked)


def _timed_compile(game: engine.Game, function, statics: dict, *args):
    """`function(game, *args, **statics)` compiled ahead (`engine.with_data`: the data an argument), and the
    seconds it took: none for a program compiled before for the same game, statics, argument types and device
    (runs that differ only in their seed share a game: a process that trains many compiles once)."""
    leaves, tree = jax.tree.flatten(args)
    types = tuple(jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=getattr(leaf, "sharding", None))
                  for leaf in leaves)
    start = time.perf_counter()
    compiled = _compiled(game, function, tuple(sorted(statics.items())), tree, types, jax.config.jax_default_device)
    return functools.partial(compiled, game.units.arrays), time.perf_counter() - start


@functools.lru_cache(maxsize=COMPILED_PROGRAMS)
def _compiled(game: engine.Game, function, statics: tuple, tree, types: tuple, device):
    program = engine.with_data(functools.partial(function, **dict(statics)))
    return program.lower(game, *jax.tree.unflatten(tree, types)).compile()


def train(
    config: Config,
    *,
    progress: Callable[[int, list[dict]], None] | None = None,
    frames: bool = True,
    resume: Snapshot | None = None,
    checkpoint: Callable[[Snapshot], None] | None = None,
    checkpoint_every: int = 0,
    on_frame: Callable[[Frame], None] | None = None,
) -> TrainResult:
    """Pre-train D, play the game for `config.train.num_steps` iterations, measure the result.

    `progress(iterations_done, new_rows)` is called after every compiled chunk
    with the history rows it produced (dicts keyed by the history's columns).
    `frames=False` skips D's picture at log points; the final frame is always kept.
    With train.generator_ema, what is measured and drawn (the history's
    distances, the frames, the final metrics, `TrainResult.sample`) reads the
    EMA of G's weights; training itself moves G's own weights.

    `resume` goes on from a Snapshot (a checkpoint's) to `config.train.num_steps`, ending bit for bit as the
    run never stopped would. `checkpoint(snapshot)` is called at the end of the first chunk past every
    `checkpoint_every` iterations (0: never), when a signal stops the run, and once at its end.
    `on_frame(frame)` sees each animation frame as it is kept. A first SIGINT or SIGTERM stops the run after
    the running chunk (status "interrupted").
    """
    if not isinstance(config, Config):
        raise ConfigError(f"train: expected a tinygan.Config (tinygan.config_from_preset), got {config!r:.60}")
    with StopSignal().installed() as stop:  # from the first moment: building a big game takes a while
        with devices.on_cpu():
            game = engine.make_game(config)
        with jax.default_device(devices.choose(config.train.device, engine.iteration_flops(game))):
            return _train(game, config, progress, frames, stop, resume, checkpoint, checkpoint_every, on_frame)


def _train(game: engine.Game, config: Config, progress, with_frames: bool, stop: StopSignal, resume: Snapshot | None,
           checkpoint, checkpoint_every: int, on_frame) -> TrainResult:
    started = time.perf_counter()
    seconds = {"compile": 0.0, "pretrain": 0.0}
    num_steps, log_every = config.train.num_steps, config.train.log_every
    view = picture_view(game.target, config.data.noise_range)
    scorer = make_scorer(game.target, view)
    watch = _Watch(config)
    if resume is None:  # set-up (init and pre-training) compiled as one program
        key_setup, key_train, key_eval = engine.run_keys(config.train.seed)
        setup_fn, seconds["compile"] = _timed_compile(
            game, engine.setup, {"pretrain_steps": config.optim.pretrain_steps}, key_setup
        )
        start = time.perf_counter()
        state, pretrain_losses = jax.block_until_ready(setup_fn(key_setup))
        seconds["pretrain"] = time.perf_counter() - start
        history = {name: [] for name in LOSS_COLUMNS + scorer.columns}
        kept_frames: list[Frame] = []
    else:
        state, (key_train, key_eval), pretrain_losses = resume.state, resume.keys, resume.pretrain_losses
        # Python numbers; less the run's last row, which the state's next interval logs again
        kept = np.asarray(resume.history["step"]) < int(state.step)
        history = {name: np.asarray(values)[kept].tolist() for name, values in resume.history.items()}
        kept_frames = list(resume.frames)
        watch.restore(resume.watch, resume.best_state)

    # The game as chunks of whole log intervals, from where the run stands.
    plan = engine.plan_chunks(num_steps - int(state.step), log_every, CHUNK_ITERATIONS)
    frame_every = math.ceil(math.ceil(num_steps / log_every) / MAX_FRAMES)
    chunk_fns = {}
    for shape in dict.fromkeys(plan):
        chunk_fns[shape], compile_seconds = _timed_compile(
            game, engine.run_chunk, {"intervals": shape[0], "log_every": shape[1], "view": view if with_frames
                                     else None, "with_starts": watch.needs_starts, "with_last": True},
            state,
            key_train,
        )
        seconds["compile"] += compile_seconds

    def snapshot(status: str) -> Snapshot:
        return Snapshot(resolved(config), state, jnp.stack([key_train, key_eval]),
                        {name: np.asarray(values) for name, values in history.items()},
                        list(kept_frames), np.asarray(pretrain_losses), watch.progress(), watch.best_state, status)

    seconds["metrics"] = 0.0
    divergence, last_losses = None, None
    checkpointed = int(state.step)
    pause = float(os.environ.get(CHUNK_PAUSE, 0))
    start = time.perf_counter()
    for intervals, length in plan:
        if stop.is_set():
            break
        first, before = int(state.step), state
        state, probes, losses, starts, last = chunk_fns[intervals, length](state, key_train)
        if config.train.nan_policy == "stop" and not bool(_all_finite(state, losses)):
            divergence = _divergence(game, before, key_train, intervals * length)
            state = before  # the last state known finite: the run ends there, this chunk's rows unrecorded
            break
        probes, losses, last_losses = jax.device_get((probes, losses, last))
        metrics_start = time.perf_counter()
        rows = []
        for i in range(intervals):
            step = first + i * length
            rows.append(row := _row(step, losses.loss_d[i], losses.loss_g[i], probes.generated[i], scorer))
            for name, column in history.items():
                column.append(row[name])
            if watch.see(row, functools.partial(_entry, starts, i)):  # the run ends at this row's state
                state = watch.start_state
                break
            if with_frames and (step // log_every) % frame_every == 0:
                kept_frames.append(Frame.from_probe(step, _entry(probes, i)).kept())
                if on_frame is not None:
                    on_frame(kept_frames[-1])
        seconds["metrics"] += time.perf_counter() - metrics_start
        if progress is not None:
            progress(int(state.step), rows)
        if watch.stopped_at is not None:
            break
        if checkpoint is not None and _checkpoint_due(int(state.step), checkpointed, checkpoint_every, num_steps):
            checkpoint(snapshot("running"))
            checkpointed = int(state.step)
        time.sleep(pause)
    seconds["train"] = time.perf_counter() - start - seconds["metrics"]
    trained = int(state.step)  # iterations played before the run ended
    if not history["step"] or history["step"][-1] < trained:  # its last iteration logged, however it ended
        start = time.perf_counter()
        held = resume is not None and len(resume.history["step"]) and resume.history["step"][-1] == trained
        if last_losses is None and held:  # no iteration played here: the row as the checkpoint held it
            row = {name: values[-1] for name, values in resume.history.items()}
        else:  # the last iteration's losses (none: diverged at once); G measured at the state it left
            loss_d, loss_g = (last_losses.loss_d, last_losses.loss_g) if last_losses is not None else (math.nan,) * 2
            row = _row(trained, loss_d, loss_g, np.asarray(_final_probe(game, state, view).generated), scorer)
        for name, column in history.items():
            column.append(row[name])
        seconds["metrics"] += time.perf_counter() - start
        if progress is not None:
            progress(trained, [row])
    if divergence is not None:
        status = "diverged"
    elif watch.stopped_at is not None:
        status = "stopped"
    else:
        status = "interrupted" if trained < num_steps else "finished"
    if checkpoint is not None:
        checkpoint(snapshot(status))
    measured = watch.best_state if watch.best_state is not None else state

    # The measured state: one more frame, and the metrics from FINAL_SAMPLES fresh samples.
    start = time.perf_counter()
    final_frame, metrics = measure(game, config, measured, key_eval, view, scorer)
    kept_frames.append(final_frame)
    metrics = {"status": status, **metrics}
    metrics.update(watch.record())
    if divergence is not None:
        metrics.update(diverged_at=divergence[0], divergence=divergence[1])
    if state.skipped is not None:
        metrics["skipped_steps"] = int(state.skipped)  # in the whole run, with keep-best too
    seconds["metrics"] += time.perf_counter() - start
    seconds["total"] = time.perf_counter() - started
    metrics["seconds"] = seconds

    return TrainResult(
        config=resolved(config),
        state=measured,
        history={name: np.asarray(values) for name, values in history.items()},
        frames=kept_frames,
        metrics=metrics,
        status=status,
        pretrain_losses=np.asarray(pretrain_losses),
        stop_signal=stop.received,
    )


def _row(step: int, loss_d, loss_g, generated: np.ndarray, scorer) -> dict:
    """A history row: the step, the losses its state reads, and the target's measures of G's probe."""
    return {"step": step, "loss_d": float(loss_d), "loss_g": float(loss_g), **scorer(generated)}


def _checkpoint_due(step: int, last: int, every: int, num_steps: int) -> bool:
    """Whether a chunk ending at `step` passed a multiple of `every` since the checkpoint at `last`; the end
    of the run has a checkpoint of its own."""
    return bool(every) and step // every > last // every and step < num_steps


def measure(game: engine.Game, config: Config, state: engine.TrainState, key_eval: jax.Array, view, scorer):
    """The final frame and metrics of a state: its probe, and the scores of FINAL_SAMPLES fresh samples."""
    final = jax.device_get(_final_probe(game, state, view))
    samples = final_samples(game, state, key_eval, config.model.generator_batch_norm)
    metrics = {**scorer(samples, final=True), "samples": FINAL_SAMPLES, "iterations": int(state.step)}
    if scorer.table is not None:  # a file's table: whether it was learned, in a sentence
        metrics["verdict"] = table_verdict(metrics, scorer.table, config.train.num_steps)
    elif game.target.dim == 1 and "w1" in metrics:  # a 1-D law: the same, against the law
        metrics["verdict"] = law_verdict(metrics, game.target.distribution(), config.preset, config.train.num_steps)
    return Frame.from_probe(int(state.step), final), metrics


@jax.jit
def _all_finite(state: engine.TrainState, losses: engine.StepMetrics) -> jax.Array:
    return engine.all_finite(state, losses)


def _divergence(game: engine.Game, state: engine.TrainState, run_key: jax.Array, length: int) -> tuple[int, str]:
    """The first of the next `length` iterations from `state` that makes a loss or a weight non-finite, and what."""
    loss_d, loss_g, weights = jax.device_get(_finite_steps(game, state, run_key, length))
    index = int(np.argmin(loss_d & loss_g & weights))
    step = int(state.step) + index
    broken = [name for name, ok in (("loss_d", loss_d), ("loss_g", loss_g)) if not ok[index]]
    what = f"{' and '.join(broken)} not finite" if broken else "the weights not finite after it"
    return step, f"non-finite values at step {step:,}: {what}"


def _finite_steps_of(game: engine.Game, state: engine.TrainState, run_key: jax.Array, length: int):
    def step(state, index):
        new, metrics = engine.train_step(game, state, engine.step_key(run_key, state.step))
        return new, (jnp.isfinite(metrics.loss_d), jnp.isfinite(metrics.loss_g), engine.all_finite(new))

    return jax.lax.scan(step, state, jnp.arange(length))[1]


_finite_steps = engine.with_data(_finite_steps_of, static_argnums=(3,))


