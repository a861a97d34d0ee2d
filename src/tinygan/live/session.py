"""A live training session: one game, its state, and a thread that plays it in compiled chunks.

Pages only ask and watch: controls (play, pause, single steps, speed, settings, reset) are method calls that
take the session's lock, and what a page draws is published as JSON text (`Published`) that any number of
pages read without the lock. Played iterations follow `tinygan train`'s own steps and random keys
(`engine.run_chunk`, `engine.step_key`): a session played from a preset is the run `tinygan train` makes
with it. A single D or G step draws from keys of its own and leaves the step count as it is.

The knobs (rates, objective, smoothing, penalties, EMA decay) are arguments of the programs (`engine.tuning`):
turning one compiles nothing. The programs compile ahead, in the background (`live.programs`); a new structure
(batch size, optimizer...) swaps in once compiled, training going on with the old meanwhile. XLA fuses arguments
a little differently than constants: a session agrees with `tinygan train` to float32 rounding.

The thread plays chunks of whole log intervals when it stands at a log point and the speed allows, else pieces
of an interval (so history rows stay exact); a chunk runs about CHUNK_SECONDS at most, so controls answer at
once at any speed. It draws a frame at most FRAME_RATE times a second, and at least MIN_FRAME_RATE. In slow
motion it plays an iteration as two frames, PHASE_SECONDS apart: D's steps, then G's (`_slow_phase`).
"""

from __future__ import annotations

import json
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np

from tinygan import engine
from tinygan.config import Config, replace
from tinygan.engine import tuning
from tinygan.engine.resolve import resolved
from tinygan.live import payload, programs, settings
from tinygan.live.history import History
from tinygan.live.payload import Published
from tinygan.live.pace import Pace
from tinygan.live.programs import Programs, carry_over
from tinygan.live.turns import Turns
from tinygan.measure.scoring import make_scorer, picture_view
from tinygan.training.loop import CHUNK_ITERATIONS, Frame, Snapshot, generator_samples
from tinygan.training.stopping import fresh_watch

FRAME_RATE = 15  # frames a second, at most, that a session draws and a page receives
MIN_FRAME_RATE = 10  # frames a second, at least, while it plays, unless a frame itself takes longer
FRAME_SHARE = 0.2  # of the time that drawing frames takes from training beyond MIN_FRAME_RATE (big networks)
# Points of a frame: the seed's 10,000 in 1-D; a 64 x 64 heat map and as many generated points in 2-D, where
# D and G cost the most (the PacGAN networks take a tenth of a second for 10,000 points).
FRAME_POINTS = {1: engine.GRID_POINTS, 2: 64 * 64}
CHUNK_SECONDS = 0.1  # a compiled chunk runs about this long at most
SPEEDS = (1, 10, 100, 1_000, None)  # iterations a second the page offers; None: as fast as it goes
MARKS = 50  # setting changes the charts mark, the latest
DEFAULT_SPEED = 100  # the seed's run in 12 s: a frame every few iterations, not its end in a blink
MAX_SPEED = 10**7
PHASE_SECONDS = 0.6  # slow motion: how long each phase of an iteration stays on the page


class Session:
    """One live session. Controls raise settings.SettingsError for a request that cannot be done."""

    def __init__(self, config: Config, *, snapshot: Snapshot | None = None, upload: str | None = None,
                 run: str | None = None):
        """A session of `config` from new weights, or going on from `snapshot` (a run's checkpoint: `run` names
        the run, whose config the session keeps while it is attached to it)."""
        self._turns = Turns()  # controls go first
        self._lock, self._wake = self._turns.lock, self._turns.wake
        self.run, self._run_config = run, snapshot.config if run is not None else None
        self.upload = upload  # the uploaded data file's path, once a file came
        self.playing, self.speed, self.message, self.error = False, DEFAULT_SPEED, "", None
        self.slow_motion, self.phase, self._shown = False, None, None  # the last phase trained, a D phase's state
        self._plays = 0  # presses of play: one between two looks at `playing` is seen
        self._closed, self._version, self._frame_id = False, 0, 0
        self._pace = Pace()
        self._programs = Programs()
        self._compiled, self._manual = False, 0  # whether the running chunk compiled; single D and G steps so far
        self.compiling = False  # whether a program compiles now
        self._pending, self._pending_jobs = None, []  # a new structure's config, waiting for these compiles
        self._picture = (-1, {})  # the scene version and payload of the latest frame's picture (none yet)
        self._published_at, self._frame_seconds = 0.0, 0.0  # when the last frame was drawn, and how long it took
        self.published: Published | None = None
        if snapshot is None:
            self._start(config)
        else:
            self._resume(snapshot)
        self._thread = threading.Thread(target=self._play, name="tinygan-live", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ controls (any thread)

    def status(self) -> dict:
        """What the page shows about the session (every reply to a control holds it)."""
        with self._turns.control():
            return self._status()

    def play(self) -> None:
        with self._turns.control():
            self._play_on()
            self._set(playing=True, error=None, _plays=self._plays + 1)

    def pause(self) -> None:
        self._set(playing=False)

    def set_speed(self, value) -> None:
        """Iterations a second from 1 to MAX_SPEED, or None: as fast as it goes."""
        self._set(speed=settings.speed(value, MAX_SPEED), _credit=0.0)

    def set_slow_motion(self, on) -> None:
        """Slow motion on or off: while it plays, each iteration shows D's phase, then G's (PHASE_SECONDS each)."""
        self._set(slow_motion=settings.switch("slow motion", on))

    def _set(self, **values) -> None:
        """Set the session's attributes, wake the player and tell the pages (however recent the last frame)."""
        with self._turns.control():
            vars(self).update(values)
            self._wake.notify_all()
            self._publish(force=True)

    def step_once(self, kind: str) -> None:
        """One iteration ("step"), one D step ("d") or one G step ("g"); pauses first."""
        with self._turns.control():
            self.playing, self.error, self.message = False, None, ""
            self._programs.release()
            if kind == "step":
                self._play_on()
                if self._pending is None:  # else the step waits for the longer horizon's programs
                    self._iterations(1)
            else:
                self._single(kind)
            self._publish(force=True)

    def change(self, changes) -> None:
        """Apply the page's settings: the trained weights stay when only KEEP_WEIGHTS knobs change."""
        with self._turns.control():
            new = settings.apply(self._pending or self.config, changes, self.upload)
            if new == (self._pending or self.config):
                self.message = "nothing changed"
            elif "seed" not in changes and not settings.changes_weights(self.config, new):
                self.error = None
                mark = [self.step, ", ".join(f"{name} {value}" for name, value in changes.items())]
                self._marks = [*self._marks[-MARKS + 1:], mark]
                if self._reconfigure(new):
                    self.message = f"{', '.join(changes)} changed; training goes on from step {self.step:,}"
                else:
                    self.message = (f"{', '.join(changes)} changed: compiling for it; training goes on with the "
                                    "old settings meanwhile")
            else:
                self._start(new)  # a refused config leaves the session as it was, playing or not
                self.playing, self.message = False, "started again with the new settings"
            self._publish(force=True)

    def reset(self, seed=None) -> None:
        """Start again from new weights: with `seed` (the same one too), or a fresh random seed."""
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31))
        with self._turns.control():
            self._start(settings.apply(self.config, {"seed": seed}, self.upload))
            self.playing, self.message = False, f"started again with seed {seed}"
            self._publish(force=True)

    def use_upload(self, path: str) -> None:
        """Train on the uploaded file at `path` (the server's own copy)."""
        with self._turns.control():
            previous = self.upload
            self.upload = path
            try:
                self.change({"target": settings.UPLOAD})
            except settings.SettingsError:
                self.upload = previous
                raise

    def snapshot(self) -> Snapshot:
        """The session as a checkpoint holds a run: resumable by `tinygan resume`."""
        with self._turns.control():
            status = "running" if self.step < self.config.train.num_steps else "finished"
            return Snapshot(resolved(self.config), self.state, jnp.stack([self.key_train, self.key_eval]),
                            self.history.arrays(), [], self.pretrain_losses, self._watch, self._best_state, status)

    def sample(self, n: int, seed: int) -> np.ndarray:
        """n samples (n, dim) of the generator as metrics read it (its EMA when kept), from quasi-random noise as
        `tinygan sample` draws them."""
        with self._turns.control():
            return generator_samples(self.game, self.state, jax.random.key(seed), n,
                                     self.config.model.generator_batch_norm, quasi=True)

    def close(self) -> None:
        with self._turns.control():
            self._closed, self.playing = True, False
            self._wake.notify_all()
        self._thread.join(timeout=10)
        self._programs.close()

    @property
    def attached(self) -> bool:
        """Whether the session still trains the run it continues: its config is the run's, num_steps aside."""
        horizon = {"num_steps": 1}
        return self._run_config is not None and \
            replace(resolved(self.config), **horizon) == replace(resolved(self._run_config), **horizon)

    @property
    def step(self) -> int:
        return int(self.state.step)

    # ------------------------------------------------------------------ the playing thread

    def _play(self) -> None:
        last = time.perf_counter()
        while True:
            self._turns.give_way()
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
                budget = 1 if self.slow_motion else float("inf") if self.speed is None else self._credit
                if budget < 1:
                    self._wake.wait(timeout=(1 - budget) / self.speed)
                    continue
                try:
                    played = self._slow_phase() if self.slow_motion else self._advance(budget)
                except Exception as error:  # noqa: BLE001 (any failure pauses the session; the server stays up)
                    self.playing, self.error = False, f"training failed: {settings.one_line(error)}"
                    self._publish(force=True)
                    continue
                if not played:  # its programs still compile: the compiler wakes the thread when one is ready
                    self._wake.wait(timeout=0.5)
                    continue
                if self.speed is not None and not self.slow_motion:
                    self._credit -= played
                if self.step >= self.config.train.num_steps:
                    self._log_last()
                    self.playing = False
                    self.message = f"trained {self.step:,} iterations: press play to go on"
                self._publish(force=not self.playing or self.slow_motion)
                if self.slow_motion and self.playing:  # the phase stays, unless pause, play or speed end it
                    plays = self._plays
                    self._turns.wait_while(lambda: self.playing and self.slow_motion and self._plays == plays
                                           and not self._closed, PHASE_SECONDS)

    def _advance(self, budget: float) -> int:
        """Play up to `budget` iterations (at least one) with programs that are compiled: whole log intervals when
        the session stands at a log point and they fit the budget and CHUNK_SECONDS, else a piece of the interval.
        Returns the iterations played: 0 while the programs it needs still compile."""
        self._programs.release()  # the first play compiles the programs that play faster
        log_every, left = self.config.train.log_every, self.config.train.num_steps - self.step
        if left <= 0 or not self._ready("steps"):  # a longer horizon's programs, or the first ones, compile
            return 0
        started, self._compiled = time.perf_counter(), False
        took = self._pace.seconds_per_iteration
        room = max(1, min(budget, left, CHUNK_SECONDS / took if took else 1))
        intervals = [n for n in (max(1, CHUNK_ITERATIONS // log_every), 1) if n * log_every <= room
                     and self._ready("chunk", intervals=n, log_every=log_every)]
        if self.step % log_every == 0 and intervals:
            played = intervals[0] * log_every
            self._intervals(intervals[0])
        else:
            played = int(min(room, log_every - self.step % log_every))  # one program plays any piece
            self._iterations(played)
        self._pace.played(played, time.perf_counter() - started, timed=not self._compiled)
        return played

    # ------------------------------------------------------------------ training (the lock held)

    def _intervals(self, intervals: int) -> None:
        """`intervals` whole log intervals as one compiled chunk, with their history rows."""
        log_every, before = self.config.train.log_every, self.state
        state, probes, losses, _, last = self._call("chunk", before, self.key_train, intervals=intervals,
                                                    log_every=log_every)
        if self._diverged(before, state, losses):
            return
        probes, losses = jax.device_get((probes, losses))
        for i in range(intervals):
            self.history.add(int(before.step) + i * log_every, losses.loss_d[i], losses.loss_g[i], probes.generated[i])
        self._adopt_losses(state, last)

    def _iterations(self, n: int) -> None:
        """n iterations that cross no log point, one program call; at a log point, first the history row of the
        state they start from (its losses are those of the first iteration, as a run logs them)."""
        before, generated = self.state, None
        if self.step % self.config.train.log_every == 0:
            generated = jax.device_get(self._call("probe", before, view=None, points=engine.GRID_POINTS)).generated
        state, first, last = self._call("steps", before, self.key_train, np.int32(n))
        if self._diverged(before, state, last):
            return
        if generated is not None:
            self.history.add(self.step, first.loss_d, first.loss_g, generated)
        self._adopt_losses(state, last)

    def _slow_phase(self) -> bool:
        """Slow motion: the next phase of an iteration. D's steps are shown on their own, G as it was (the state
        stays); then the whole iteration is played, so the run is the one played at speed. Returns whether it
        played (False while the programs compile)."""
        if self.step >= self.config.train.num_steps or not self._ready("steps"):
            return False  # D's phase compiles at its first call (a second), the others ahead
        if self._shown is None:
            shown, loss_d = self._call("half", self.state, self.key_train)
            if not self._diverged(self.state, shown, loss_d):
                self._shown, self.phase, self._losses[0] = shown, "d", float(loss_d)
        else:
            self._iterations(1)
            self.phase = "g" if self._shown is None else self.phase  # else it diverged
        return True

    def _adopt_losses(self, state, last) -> None:
        self.state, self._last_losses, self._shown, self.phase = state, jax.device_get(last), None, None
        self._losses = [float(self._last_losses.loss_d), float(self._last_losses.loss_g)]

    def _single(self, kind: str) -> None:
        """One D step ("d") or G step ("g") alone, on keys of its own (`engine.discriminator_only`)."""
        self._manual += 1
        key = jax.random.fold_in(engine.step_key(self.key_train, self.state.step), self._manual)
        state, loss = self._call(kind, self.state, key)
        if self._diverged(self.state, state, loss):
            return
        self.state, self._shown, self.phase = state, None, kind
        self._losses["dg".index(kind)] = float(loss)
        self.message = f"one {kind.upper()} step: its loss {float(loss):.4g}"

    def _call(self, name: str, *args, on=None, **statics):
        """Run compiled program `name` of the session's structure and knobs (`on`: another (structure, knobs)) to
        its end. A program never compiled compiles first (the pages hear it: it takes seconds, and its time
        says nothing of training)."""
        structure, knobs = on or (self._structure, self._knobs)
        cold = not self._programs.ready(structure, name, statics)
        self._compiled |= cold
        if cold:
            self.compiling = True
            self._announce()
        try:
            return self._programs.call(structure, name, (knobs, *args), statics)
        finally:
            self.compiling = False

    def _ready(self, name: str, **statics) -> bool:
        return self._programs.ready(self._structure, name, statics)

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
        if not self.history.logged(self.step) and self._last_losses is not None:
            generated = jax.device_get(self._call("probe", self.state, view=None, points=engine.GRID_POINTS))
            self.history.add(self.step, self._last_losses.loss_d, self._last_losses.loss_g, generated.generated)

    # ------------------------------------------------------------------ starting and switching (the lock held)

    def _start(self, config: Config) -> None:
        """New weights for `config`: set-up and pre-training as `tinygan train` does them."""
        key_setup, key_train, key_eval = engine.run_keys(config.train.seed)
        structure = self._structure_of(config)  # a refused config leaves the session as it was
        state, losses = self._call("setup", key_setup, on=(structure, tuning.knobs(config)),
                                   pretrain_steps=config.optim.pretrain_steps)
        self._adopt(config, structure, state, key_train, key_eval, np.asarray(losses), None, fresh_watch(config),
                    None)

    def _resume(self, snapshot: Snapshot) -> None:
        structure = self._structure_of(snapshot.config)
        self._adopt(snapshot.config, structure, snapshot.state, *snapshot.keys, snapshot.pretrain_losses,
                    snapshot.history, snapshot.watch, snapshot.best_state)

    def _structure_of(self, config: Config):
        structure = self._programs.structure(config)
        if structure.game.target.dim > 2:
            raise settings.SettingsError(f"the live view draws 1-D and 2-D targets; this one has "
                                         f"{structure.game.target.dim} columns")
        return structure

    def _adopt(self, config, structure, state, key_train, key_eval, pretrain_losses, history, watch,
               best_state) -> None:
        self._structure, self.state, self._pending = structure, state, None
        self.key_train, self.key_eval, self.pretrain_losses = key_train, key_eval, pretrain_losses
        self._watch, self._best_state = watch, best_state  # a run's stopping rule and keep-best, kept as they were
        self._length = config.train.num_steps
        self.view = picture_view(self.game.target, config.data.noise_range)
        self.history = History(make_scorer(self.game.target, self.view), history)
        self._credit, self._manual, self.error, self._last_losses, self.phase = 0.0, 0, None, None, None
        self._losses, self._marks = [None, None], []  # the latest losses; (step, what changed) of each change
        self._set_config(config)
        self._publish(force=True)
        self._prepare(structure, config, state)

    @property
    def game(self) -> engine.Game:  # the structure's: its knobs at neutral values (the programs take the session's)
        return self._structure.game

    def _set_config(self, config: Config) -> None:
        """Train on with `config`'s knobs, a structure's programs unchanged; a new scene (the objective's lines)."""
        self.config, self._knobs, self._shown = config, tuning.knobs(config), None  # a D phase's state is old
        self._scene = payload.scene(self.game, config, self.view, self.history.columns)
        self._version += 1

    def _play_on(self) -> None:
        """At the horizon, a horizon as far again (a cosine schedule's new length may need new programs)."""
        if self.step >= self.config.train.num_steps and self._pending is None:
            more = min(self.config.train.num_steps + self._length, 2**31 - 1)
            self._reconfigure(replace(self.config, num_steps=more))
            self.message = f"playing on to {more:,} iterations"

    def _reconfigure(self, config: Config) -> bool:
        """Go on with the same weights under `config` (new objective, rates, stabilizers, horizon...): at once when
        only knobs change, else once the new structure's programs compile. Returns whether it is done."""
        structure = self._programs.structure(config)
        if structure is self._structure:
            self._pending = None
            self._set_config(config)
            return True
        self._pending = config
        carried = jax.eval_shape(lambda state: carry_over(state, structure.game), self.state)
        self._pending_jobs = self._prepare(structure, config, carried)
        return self._swap()

    def _swap(self) -> bool:
        """Switch to the pending structure if its programs are ready; returns whether none is pending now."""
        jobs = self._pending_jobs
        if self._pending is None or not all(job.done() for job in jobs):
            return self._pending is None
        config, self._pending = self._pending, None
        failed = next((job.exception() for job in jobs if job.exception() is not None), None)
        if failed is not None:
            self.error = f"the new settings could not be compiled: {settings.one_line(failed)}"
            return True
        structure = self._programs.structure(config)
        self._structure, self.state = structure, carry_over(self.state, structure.game)
        self._set_config(config)
        return True

    def _prepare(self, structure, config: Config, state) -> list:
        """Queue the compiles of a session of `config` on `structure`; the futures of those it needs to play."""
        needed, extra = programs.plan(config, self.view, FRAME_POINTS[len(self.view)], state, self.key_train)
        self._programs.drop_queued()  # another structure's, or another start's: these come first
        self._programs.defer(structure, extra, self._compiled_one)  # a page only looked at needs none of them
        return [self._programs.prepare(structure, name, args, statics, self._compiled_one)
                for name, args, statics in needed]

    def _compiled_one(self) -> None:
        """A program is compiled (the compiler's thread): a pending structure may swap in, the player go on."""
        with self._lock:
            if self._closed:
                return
            if self._pending is not None and self._swap():
                self.message = f"the new settings are compiled: training goes on with them from step {self.step:,}"
                self._publish(force=True)
            self._wake.notify_all()

    # ------------------------------------------------------------------ publishing (the lock held)

    def _status(self) -> dict:
        return {"settings": settings.settings_of(self._pending or self.config), "step": self.step,
                "num_steps": self.config.train.num_steps, "playing": self.playing, "speed": self.speed,
                "dim": self.game.target.dim, "message": self.message, "error": self.error,
                "run": self.run, "attached": self.attached, "compiling": self.compiling or self._pending is not None
                or (self.playing and not self._ready("steps")),
                "iterations_per_second": self._pace.per_second() if self.playing else 0.0,
                "losses": self._losses, "manual_steps": self._manual, "marks": self._marks,
                "slow_motion": self.slow_motion, "phase": "both" if self.playing and not self.slow_motion
                else self.phase or "none"}

    def _publish(self, force: bool = False) -> None:
        """Draw a frame for the pages, at most FRAME_RATE a second unless `force` (a control's answer)."""
        started = time.perf_counter()
        pause = max(1 / FRAME_RATE, min(1 / MIN_FRAME_RATE, self._frame_seconds / FRAME_SHARE))
        if not force and started - self._published_at < pause:
            return
        frame = {"view": self.view, "points": FRAME_POINTS[len(self.view)]}
        timed = self._ready("frame", **frame)  # else it compiles: its time says nothing
        shown = self.state if self._shown is None else self._shown  # slow motion: D's phase before G's
        probe, manifold = jax.device_get(self._call("frame", shown, **frame))
        picture = payload.frame(Frame.from_probe(self.step, probe), self.view, manifold)
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
        self.published = Published(self._version, self._frame_id, self._scene, text, self.history.rows)



_all_finite = jax.jit(engine.all_finite)
