"""A live training session: one game, its state, and a thread that plays it in compiled chunks.

Pages only ask and watch: controls (play, pause, single steps, speed, settings, reset) are method calls that
take the session's lock, and what a page draws is published as JSON text (`Published`) that any number of
pages read without the lock. Played iterations follow `tinygan train`'s own program and random keys
(`engine.run_chunk`, `engine.step_key`): a session played from a preset is the run `tinygan train` makes
with it. A single D or G step draws from keys of its own and leaves the step count as it is.

The thread plays chunks of whole log intervals when it stands at a log point and the speed allows, else
single iterations; a chunk runs about CHUNK_SECONDS at most, so pause and settings answer at once at any
training speed. It draws a frame at most FRAME_RATE times a second.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from tinygan import engine
from tinygan.engine import devices
from tinygan.config import Config, replace
from tinygan.config.names import LOSS_COLUMNS
from tinygan.engine.resolve import resolved
from tinygan.live import payload, settings
from tinygan.measure.scoring import make_scorer, picture_view
from tinygan.training.loop import CHUNK_ITERATIONS, Frame, Snapshot, generator_samples
from tinygan.training.stopping import fresh_watch

FRAME_RATE = 15  # frames a second, at most, that a session draws and a page receives
FRAME_SHARE = 0.2  # of the time, at most, that drawing frames takes from training (big networks draw slowly)
# Points of a frame: the seed's 10,000 in 1-D; a 64 x 64 heat map and as many generated points in 2-D, where
# D and G cost the most (the PacGAN networks take a tenth of a second for 10,000 points).
FRAME_POINTS = {1: engine.GRID_POINTS, 2: 64 * 64}
CHUNK_SECONDS = 0.1  # a compiled chunk runs about this long at most
SPEEDS = (1, 10, 100, 1_000, None)  # iterations a second the page offers; None: as fast as it goes
MAX_SPEED = 10**7
RATE_WINDOW = 2.0  # seconds over which iterations per second are measured (the last two chunks at least)


@dataclass(frozen=True)
class Published:
    """What pages read: the scene's JSON, the latest frame's JSON, and the history rows so far."""

    version: int  # changes with every reset: a new scene
    frame_id: int  # changes with every frame
    scene: dict  # `payload.scene`: read only
    frame: str  # JSON of `payload.frame` and the status, less the new rows
    rows: list  # the history rows (lists in column order); a page sends those it has not sent yet


class Session:
    """One live session. Controls raise settings.SettingsError for a request that cannot be done."""

    def __init__(self, config: Config, *, snapshot: Snapshot | None = None, upload: str | None = None,
                 run: str | None = None):
        """A session of `config` from new weights, or going on from `snapshot` (a run's checkpoint: `run` names
        the run, whose config the session keeps while it is attached to it)."""
        self._lock = threading.RLock()
        self._counting, self._waiting = threading.Lock(), 0  # controls waiting for the lock
        self.run, self._run_config = run, snapshot.config if run is not None else None
        self._wake = threading.Condition(self._lock)
        self.upload = upload  # the uploaded data file's path, once a file came
        self.playing, self.speed, self.message, self.error = False, None, "", None
        self._closed, self._version, self._frame_id = False, 0, 0
        self._rate = deque(maxlen=256)  # (time, iterations played in all)
        self._played = 0
        self._seconds_per_iteration = 0.0
        self._warm = set()  # the (game, program) pairs already run once: their first run compiles
        self._compiled = False  # whether the running chunk compiled a program
        self._manual = 0  # single D and G steps so far: their keys
        self.compiling = False  # whether a program compiles now
        self._picture = (0, {})  # the scene version and payload of the latest frame's picture
        self._published_at, self._frame_seconds = 0.0, 0.0  # when the last frame was drawn, and how long it took
        self.published: Published | None = None
        if snapshot is None:
            self._start(config)
        else:
            self._resume(snapshot)
        self._thread = threading.Thread(target=self._play, name="tinygan-live", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ controls (any thread)

    @contextlib.contextmanager
    def _control(self):
        """The lock, for a control: the playing thread lets waiting controls go first (a lock is not fair, and
        the thread would take it back at once, chunk after chunk)."""
        with self._counting:
            self._waiting += 1
        try:
            with self._lock:
                yield
        finally:
            with self._counting:
                self._waiting -= 1

    def status(self) -> dict:
        """What the page shows about the session (every reply to a control holds it)."""
        with self._control():
            return self._status()

    def play(self) -> None:
        with self._control():
            if self.step >= self.config.train.num_steps:  # at the horizon: play on for as long again
                more = min(self.config.train.num_steps + self._length, 2**31 - 1)
                self._reconfigure(replace(self.config, num_steps=more))
                self.message = f"playing on to {more:,} iterations"
            self.playing, self.error = True, None
            self._wake.notify_all()
            self._publish(force=True)

    def pause(self) -> None:
        with self._control():
            self.playing = False
            self._publish(force=True)  # the pages must see it, however recent the last frame

    def set_speed(self, value) -> None:
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and
                                      1 <= value <= MAX_SPEED):
            raise settings.SettingsError(f"speed: iterations a second from 1 to {MAX_SPEED:,}, or null for as "
                                         f"fast as it goes; got {value!r:.40}")
        with self._control():
            self.speed = value
            self._credit = 0.0
            self._wake.notify_all()
            self._publish(force=True)

    def step_once(self, kind: str) -> None:
        """One iteration ("step"), one D step ("d") or one G step ("g"); pauses first."""
        with self._control():
            self.playing, self.error = False, None
            if kind == "step":
                if self.step >= self.config.train.num_steps:
                    raise settings.SettingsError(f"the session is at its {self.step:,} iterations: press play "
                                                 "to train further")
                self._iteration()
            else:
                self._single(kind)
            self._publish(force=True)

    def change(self, changes) -> None:
        """Apply the page's settings: the trained weights stay when only KEEP_WEIGHTS knobs change."""
        with self._control():
            new = settings.apply(self.config, changes, self.upload)
            if new == self.config:
                self.message = "nothing changed"
            elif "seed" not in changes and not settings.changes_weights(self.config, new):
                self._reconfigure(new)
                self.message, self.error = f"{', '.join(changes)} changed; training goes on from step {self.step:,}", None
            else:
                self._start(new)  # a refused config leaves the session as it was, playing or not
                self.playing, self.message = False, "started again with the new settings"
            self._publish(force=True)

    def reset(self, seed=None) -> None:
        """Start again from new weights: with `seed` (the same one too), or a fresh random seed."""
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31))
        with self._control():
            self._start(settings.apply(self.config, {"seed": seed}, self.upload))
            self.playing, self.message = False, f"started again with seed {seed}"
            self._publish(force=True)

    def use_upload(self, path: str) -> None:
        """Train on the uploaded file at `path` (the server's own copy)."""
        with self._control():
            previous = self.upload
            self.upload = path
            try:
                self.change({"target": settings.UPLOAD})
            except settings.SettingsError:
                self.upload = previous
                raise

    def snapshot(self) -> Snapshot:
        """The session as a checkpoint holds a run: resumable by `tinygan resume`."""
        with self._control():
            history = {name: np.asarray([row[i] for row in self.rows], np.int64 if name == "step" else np.float64)
                       for i, name in enumerate(self.columns)}
            status = "running" if self.step < self.config.train.num_steps else "finished"
            return Snapshot(resolved(self.config), self.state, jnp.stack([self.key_train, self.key_eval]), history,
                            [], self.pretrain_losses, self._watch, self._best_state, status)

    def sample(self, n: int, seed: int) -> np.ndarray:
        """n samples (n, dim) of the generator as metrics read it (its EMA when kept), from quasi-random noise as
        `tinygan sample` draws them."""
        with self._control():
            return generator_samples(self.game, self.state, jax.random.key(seed), n,
                                     self.config.model.generator_batch_norm, quasi=True)

    def close(self) -> None:
        with self._control():
            self._closed, self.playing = True, False
            self._wake.notify_all()
        self._thread.join(timeout=10)

    @property
    def attached(self) -> bool:
        """Whether the session still trains the run it continues: its config is the run's, num_steps aside."""
        if self._run_config is None:
            return False
        horizon = {"num_steps": 1}
        return replace(resolved(self.config), **horizon) == replace(resolved(self._run_config), **horizon)

    @property
    def step(self) -> int:
        return int(self.state.step)

    # ------------------------------------------------------------------ the playing thread

    def _play(self) -> None:
        last = time.perf_counter()
        while True:
            while self._waiting:  # a control is waiting: it goes first
                time.sleep(0.001)
            with self._lock:
                while not (self.playing or self._closed):
                    self._wake.wait()
                    last = time.perf_counter()
                if self._closed:
                    return
                now = time.perf_counter()
                if self.speed is not None:  # a budget of iterations that fills at the speed, a quarter second deep
                    self._credit = min(self._credit + self.speed * (now - last), max(1.0, self.speed / 4))
                last = now
                budget = float("inf") if self.speed is None else self._credit
                if budget < 1:
                    self._wake.wait(timeout=(1 - budget) / self.speed)
                    continue
                try:
                    played = self._advance(budget)
                except Exception as error:  # noqa: BLE001 (any failure pauses the session; the server stays up)
                    self.playing, self.error = False, f"training failed: {settings.one_line(error)}"
                    self._publish(force=True)
                    continue
                if self.speed is not None:
                    self._credit -= played
                if self.step >= self.config.train.num_steps:
                    self._log_last()
                    self.playing = False
                    self.message = f"trained {self.step:,} iterations: press play to go on"
                self._publish(force=not self.playing)

    def _advance(self, budget: float) -> int:
        """Play up to `budget` iterations (at least one): whole log intervals when the session stands at a log
        point and they fit the budget and CHUNK_SECONDS, else one iteration. Returns the iterations played."""
        log_every, left = self.config.train.log_every, self.config.train.num_steps - self.step
        started, self._compiled = time.perf_counter(), False
        played = 1
        if self.step % log_every == 0 and self._seconds_per_iteration:  # single iterations until timed
            fits = min(budget, left, CHUNK_SECONDS / self._seconds_per_iteration) // log_every
            played = next((n * log_every for n in (max(1, CHUNK_ITERATIONS // log_every), 1) if n <= fits), 1)
        if played > 1:
            self._intervals(played // log_every)
        else:
            self._iteration()
        if not self._compiled:  # the time of training and of the history's metrics, per iteration
            seen = (time.perf_counter() - started) / played
            self._seconds_per_iteration = seen if not self._seconds_per_iteration else \
                0.8 * self._seconds_per_iteration + 0.2 * seen
        self._played += played
        self._rate.append((time.perf_counter(), self._played))
        return played

    # ------------------------------------------------------------------ training (the lock held)

    def _intervals(self, intervals: int) -> None:
        """`intervals` whole log intervals as one compiled chunk, with their history rows."""
        log_every, before = self.config.train.log_every, self.state
        state, probes, losses, _, last = self._run(("chunk", intervals), _chunk, self.game, before,
                                                   self.key_train, intervals=intervals, log_every=log_every)
        if self._diverged(before, state, losses):
            return
        probes, losses = jax.device_get((probes, losses))
        for i in range(intervals):
            self._row(int(before.step) + i * log_every, losses.loss_d[i], losses.loss_g[i], probes.generated[i])
        self.state, self._last_losses = state, jax.device_get(last)

    def _iteration(self) -> None:
        """One iteration, a program call of its own; at a log point, the history row of the state it starts from."""
        before, generated = self.state, None
        if self.step % self.config.train.log_every == 0:
            generated = jax.device_get(self._run(("row",), _probe, self.game, before, None)).generated
        state, metrics = self._run(("iteration",), _train_step, self.game, before,
                                   engine.step_key(self.key_train, before.step))
        if self._diverged(before, state, metrics):
            return
        if generated is not None:
            self._row(self.step, metrics.loss_d, metrics.loss_g, generated)
        self.state, self._last_losses = state, jax.device_get(metrics)

    def _single(self, kind: str) -> None:
        """One D step ("d") or G step ("g") alone, on keys of its own (`engine.discriminator_only`)."""
        self._manual += 1
        key = jax.random.fold_in(engine.step_key(self.key_train, self.state.step), self._manual)
        function = {"d": _discriminator_only, "g": _generator_only}[kind]
        state, loss = function(self.game, self.state, key)
        if self._diverged(self.state, state, loss):
            return
        self.state = state
        self.message = f"one {kind.upper()} step: its loss {float(loss):.4g}"

    def _run(self, program: tuple, function, *args, **kwargs):
        """Run a compiled program to its end, noting when this run compiled it (its time says nothing then); the
        pages hear that it compiles, which takes seconds."""
        key = (self.game, program)
        cold = key not in self._warm
        self._compiled |= cold
        self._warm.add(key)
        if cold:
            self.compiling = True
            self._announce()
        try:
            with jax.default_device(self._device):
                return jax.block_until_ready(function(*args, **kwargs))
        finally:
            self.compiling = False

    def _diverged(self, before: engine.TrainState, after: engine.TrainState, metrics) -> bool:
        """Whether `after` holds a non-finite number: then the session stays at `before`, paused, and says so."""
        if bool(_all_finite(after, metrics)):
            return False
        self.playing = False
        self.error = (f"training diverged after step {int(before.step):,} (a non-finite loss or weight): the "
                      "session stays at the last finite state; lower a learning rate, add a stabilizer or reset")
        return True

    def _log_last(self) -> None:
        """At the step limit, the row a run logs for its last iteration, as `tinygan train`: that iteration's
        losses, and G's measures at the state it left."""
        if (not self.rows or self.rows[-1][0] < self.step) and self._last_losses is not None:
            generated = jax.device_get(self._run(("row",), _probe, self.game, self.state, None)).generated
            self._row(self.step, self._last_losses.loss_d, self._last_losses.loss_g, generated)

    def _row(self, step: int, loss_d, loss_g, generated: np.ndarray) -> None:
        if self.rows and self.rows[-1][0] >= step:  # the state's row is there: logged when it was the last
            return
        scores = self._scorer(generated)
        self.rows.append([step, float(loss_d), float(loss_g), *(float(scores[name]) for name in self.columns[3:])])

    # ------------------------------------------------------------------ starting and publishing (the lock held)

    def _start(self, config: Config) -> None:
        """New weights for `config`: set-up and pre-training as `tinygan train` does them."""
        key_setup, key_train, key_eval = engine.run_keys(config.train.seed)
        game = self._made(config)
        _check_dim(game)
        with jax.default_device(self._device):
            state, losses = _setup(game, key_setup, config.optim.pretrain_steps)
        self._adopt(config, game, state, key_train, key_eval, np.asarray(losses), [], fresh_watch(config), None)

    def _resume(self, snapshot: Snapshot) -> None:
        game = self._made(snapshot.config)
        _check_dim(game)
        columns = list(snapshot.history)
        rows = [[int(values[0]), *map(float, values[1:])] for values in
                zip(*(snapshot.history[name] for name in columns))]
        self._adopt(snapshot.config, game, snapshot.state, *snapshot.keys, snapshot.pretrain_losses, rows,
                    snapshot.watch, snapshot.best_state)

    def _made(self, config: Config) -> engine.Game:
        """`config`'s game, its data on the CPU; its programs go where `train.device` sends them."""
        with devices.on_cpu():
            game = engine.make_game(config)
        self._device = devices.choose(config.train.device, engine.iteration_flops(game))
        return game

    def _adopt(self, config, game, state, key_train, key_eval, pretrain_losses, rows, watch, best_state) -> None:
        self.config, self.game, self.state = config, game, state
        self.key_train, self.key_eval, self.pretrain_losses = key_train, key_eval, pretrain_losses
        self._watch, self._best_state = watch, best_state  # a run's stopping rule and keep-best, kept as they were
        self._length = config.train.num_steps
        self.view = picture_view(game.target, config.data.noise_range)
        self._scorer = make_scorer(game.target, self.view)
        self.columns = (*LOSS_COLUMNS, *self._scorer.columns)
        self.rows = rows
        self._credit, self._manual, self.error, self._last_losses = 0.0, 0, None, None
        self._version += 1
        self._scene = payload.scene(game, config, self.view, self.columns)
        self._publish(force=True)

    def _reconfigure(self, config: Config) -> None:
        """Go on with the same weights under `config` (new objective, rates, stabilizers, horizon...)."""
        game = self._made(config)
        self.config, self.game, self.state = config, game, carry_over(self.state, game)
        self._scene = payload.scene(game, config, self.view, self.columns)
        self._version += 1  # the equilibrium lines may move with the objective: a new scene

    def _status(self) -> dict:
        return {"settings": settings.settings_of(self.config), "step": self.step,
                "num_steps": self.config.train.num_steps, "playing": self.playing, "speed": self.speed,
                "dim": self.game.target.dim, "message": self.message, "error": self.error,
                "run": self.run, "attached": self.attached, "compiling": self.compiling,
                "iterations_per_second": self._iterations_per_second()}

    def _iterations_per_second(self) -> float:
        now = time.perf_counter()
        recent = [(t, n) for t, n in self._rate if now - t <= RATE_WINDOW] or list(self._rate)[-2:]
        if len(recent) < 2 or not self.playing:
            return 0.0
        (first, done), (last, total) = recent[0], recent[-1]
        return (total - done) / max(last - first, 1e-9)

    def _publish(self, force: bool = False) -> None:
        """Draw a frame for the pages, at most FRAME_RATE a second unless `force` (a control's answer)."""
        started = time.perf_counter()
        pause = max(1 / FRAME_RATE, self._frame_seconds / FRAME_SHARE)
        if not force and started - self._published_at < pause:
            return
        points, timed = FRAME_POINTS[len(self.view)], (self.game, ("frame",)) in self._warm  # else it compiles
        probe = jax.device_get(self._run(("frame",), _probe, self.game, self.state, self.view, points))
        picture = payload.frame(Frame.from_probe(self.step, probe), self.view)
        self._picture = (self._version, picture)
        self._announce()
        self._published_at = time.perf_counter()
        if timed:
            self._frame_seconds = self._published_at - started

    def _announce(self) -> None:
        """Publish the latest picture with the status as it is now (no probe: cheap, and nothing to compile)."""
        version, picture = self._picture
        if version != self._version:
            return  # a new scene has no picture yet
        self._frame_id += 1
        text = json.dumps({"type": "frame", "version": self._version, "step": self.step, "status": self._status(),
                           **picture})
        self.published = Published(self._version, self._frame_id, self._scene, text, self.rows)


def carry_over(state: engine.TrainState, game: engine.Game) -> engine.TrainState:
    """`state`'s weights under `game`: optimizer states kept where they still fit (else fresh), G's EMA started
    from G when the game keeps one, the skipped-steps counter when it counts them."""
    fresh = jax.eval_shape(lambda key: engine.init_state(game, key), jax.random.key(0))  # shapes, no numbers

    def fits(kept, new):
        return jax.tree.structure(kept) == jax.tree.structure(new) and all(
            a.shape == b.shape for a, b in zip(jax.tree.leaves(kept), jax.tree.leaves(new)))

    generator_opt = state.generator_opt if fits(state.generator_opt, fresh.generator_opt) else \
        game.generator_optimizer.init(state.generator)
    discriminator_opt = state.discriminator_opt if fits(state.discriminator_opt, fresh.discriminator_opt) else \
        game.discriminator_optimizer.init(state.discriminator)
    ema = None
    if game.generator_ema:
        ema = state.generator if state.generator_ema is None else state.generator_ema
    skipped = None
    if game.skip_non_finite:
        skipped = jnp.zeros((), jnp.int32) if state.skipped is None else state.skipped
    return engine.TrainState(state.generator, state.discriminator, generator_opt, discriminator_opt, state.step,
                             ema, skipped)


def _check_dim(game: engine.Game) -> None:
    if game.target.dim > 2:
        raise settings.SettingsError(f"the live view draws 1-D and 2-D targets; this one has {game.target.dim} "
                                     "columns")


# The session's compiled programs, one per game (a static argument: JAX keeps each game's programs).
def _chunk_of(game, state, run_key, *, intervals, log_every):
    return engine.run_chunk(game, state, run_key, intervals=intervals, log_every=log_every, view=None, with_last=True)


# Programs that read the data take it as an argument (`engine.with_data`).
_chunk = engine.with_data(_chunk_of, static_argnames=("intervals", "log_every"))
_train_step = engine.with_data(engine.train_step)
_discriminator_only = engine.with_data(engine.discriminator_only)
_generator_only = engine.with_data(engine.generator_only)
_probe = engine.with_data(engine.probe, static_argnums=(2, 3))
_setup = engine.with_data(engine.setup, static_argnums=(2,))
_all_finite = jax.jit(engine.all_finite)
