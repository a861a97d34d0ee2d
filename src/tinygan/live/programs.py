"""The live view's compiled programs: one game and one set of programs per structure, compiled ahead on a thread
of their own, the least recently used dropped beyond a bound.

A structure (`engine.tuning.structure`) is a config with its knobs (learning rates, objective, label smoothing,
penalty weights, EMA decay) taken out: the knobs are arguments of the programs, so turning one compiles nothing.
A change of shape (batch size, networks, optimizer) is a new structure: its programs compile in the background
(`prepare`) while the session plays on with the old ones, and it swaps when they are ready (`ready`).
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from concurrent.futures import CancelledError, Future

import jax
import jax.numpy as jnp
import numpy as np

from tinygan import engine
from tinygan.config import Config
from tinygan.engine import devices, tuning
from tinygan.training.loop import CHUNK_ITERATIONS

ONE = np.int32(1)  # the iterations argument of "steps", for its shape
STRUCTURES = 4  # structures whose game and programs are kept: a few back and forth compile nothing


def _steps(game, state, run_key, n):
    """`n` iterations with no probe (a piece of a log interval): the state, the first and the last iteration's
    losses. `n` is an argument, so one program plays a piece of any length."""
    def body(i, carry):
        state, first, _ = carry
        state, metrics = engine.train_step(game, state, engine.step_key(run_key, state.step))
        return state, jax.tree.map(lambda new, old: jnp.where(i == 0, new, old), metrics, first), metrics

    shapes = jax.eval_shape(lambda state, key: engine.train_step(game, state, key)[1], state, run_key)
    zeros = jax.tree.map(lambda shape: jnp.zeros(shape.shape, shape.dtype), shapes)
    return jax.lax.fori_loop(0, n, body, (state, zeros, zeros))


def _half(game, state, run_key):
    """Slow motion's first phase of the iteration `state` plays: the state with D after its steps (on the very
    draws that iteration makes), G as it was; and D's loss."""
    batch = engine.draw_batch(game, engine.step_key(run_key, state.step))
    discriminator, opt_state, loss_d = engine.discriminator_phase(game, state, batch)
    return state._replace(discriminator=discriminator, discriminator_opt=opt_state), loss_d


FUNCTIONS = {
    "setup": lambda game, key, *, pretrain_steps: engine.setup(game, key, pretrain_steps),
    "chunk": lambda game, state, key, *, intervals, log_every: engine.run_chunk(
        game, state, key, intervals=intervals, log_every=log_every, view=None, with_last=True),
    "steps": _steps,
    "probe": lambda game, state, *, view, points: engine.probe(game, state, view, points),
    "frame": lambda game, state, *, view, points: (  # the page's picture; in 2-D with G's manifold
        engine.probe(game, state, view, points), engine.manifold(game, state) if len(view) == 2 else None),
    "d": engine.discriminator_only,
    "g": engine.generator_only,
    "half": _half,
}


def _program(name, game, structure, arrays, knobs, *args, **statics):
    """`FUNCTIONS[name]` on the structure's game tuned to `knobs`, its data read from `arrays` (`engine.with_data`)."""
    return FUNCTIONS[name](tuning.tune(engine.bind_data(game, arrays), structure, knobs), *args, **statics)


_compiled = jax.jit(_program, static_argnums=(0, 1, 2), static_argnames=("pretrain_steps", "intervals", "log_every",
                                                                         "view", "points"))


def plan(config: Config, view, frame_points: int, state, key) -> tuple[list, list]:
    """The programs a session of `config` plays, as (name, arguments, statics): those it needs to play (the
    frame's picture and the history's probe, a piece of a log interval, a chunk of whole log intervals), then
    those that step alone or play a single interval (single D and G steps), which a session compiles at its first
    play or step. Slow motion's D phase ("half") compiles when first asked for: few sessions use it."""
    log_every, knobs = config.train.log_every, tuning.knobs(config)
    needed = [("frame", (knobs, state), {"view": view, "points": frame_points}),
              ("steps", (knobs, state, key, ONE), {}),
              ("probe", (knobs, state), {"view": None, "points": engine.GRID_POINTS}),
              ("chunk", (knobs, state, key), {"intervals": max(1, CHUNK_ITERATIONS // log_every),
                                              "log_every": log_every})]
    extra = [("d", (knobs, state, key), {}), ("g", (knobs, state, key), {}),
             ("chunk", (knobs, state, key), {"intervals": 1, "log_every": log_every})]
    return needed, extra


class Structure:
    """One structure's game, where its programs run, and its programs by (name, statics): futures of compiled
    executables."""

    def __init__(self, config: Config):
        self.config = config
        with devices.on_cpu():  # the data stays on the CPU; the programs go where train.device sends them
            self.game = engine.make_game(config)
        self.device = devices.choose(config.train.device, engine.iteration_flops(self.game))
        self.programs: dict[tuple, Future] = {}


class Programs:
    """The compiled programs of a session. `prepare` queues a compile; `call` runs one, compiling it first (in
    the caller's thread, at once) if it was never asked for; `ready` says whether it can run without waiting."""

    def __init__(self):
        self._jobs = queue.SimpleQueue()  # (generation, future, structure, name, shapes, statics); None: stop
        self._closed, self._generation = False, 0
        self._thread = threading.Thread(target=self._compiler, name="tinygan-compile", daemon=True)
        self._thread.start()
        self._structures: OrderedDict[Config, Structure] = OrderedDict()
        self._lock = threading.Lock()  # the cache: the session's threads and the compiler's callbacks share it
        self._deferred = []  # (structure, program, on_ready) to queue at `release`

    def structure(self, config: Config) -> Structure:
        """The structure of `config` (built once; the least recently used beyond STRUCTURES dropped)."""
        key = tuning.structure(config)
        with self._lock:
            found = self._structures.pop(key, None)
        found = found or Structure(key)
        with self._lock:
            self._structures[key] = found
            while len(self._structures) > STRUCTURES:
                self._structures.popitem(last=False)
        return found

    def prepare(self, structure: Structure, name: str, args, statics: dict, on_ready=None, *,
                now: bool = False) -> Future:
        """Queue the compile of program `name` for arguments shaped like `args` (the knobs, the state, keys...),
        or with `now` compile it in this thread; `on_ready()` runs once it is compiled, on a thread of its own.
        Asking again returns the same future."""
        key = (name, tuple(sorted(statics.items())))
        shapes = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), args)
        mine = False  # whether this thread compiles it
        with self._lock:
            future = structure.programs.get(key)
            if future is None and not now:
                future = structure.programs[key] = Future()
                self._jobs.put((self._generation, future, structure, name, shapes, statics))
            elif future is None:
                future, mine = Future(), True
                structure.programs[key] = future
        if mine:
            _settle(future, structure, name, shapes, statics)
        if on_ready is not None:  # on a thread of its own: it may wait for a lock that a waiter for `future` holds
            future.add_done_callback(lambda _: threading.Thread(target=on_ready, daemon=True).start())
        return future

    def ready(self, structure: Structure, name: str, statics: dict | None = None) -> bool:
        future = structure.programs.get((name, tuple(sorted((statics or {}).items()))))
        return future is not None and future.done()

    def call(self, structure: Structure, name: str, args, statics: dict | None = None):
        """Run program `name` on `args` (the knobs first) to its end; compiled first in this thread if never asked
        for."""
        while True:
            try:
                compiled = self.prepare(structure, name, args, statics or {}, now=True).result()
                break
            except CancelledError:  # queued, then dropped (`drop_queued`) while this waited: now it compiles here
                continue
        with jax.default_device(structure.device):
            return jax.block_until_ready(compiled(structure.game.units.arrays, *args))

    def defer(self, structure: Structure, planned: list, on_ready=None) -> None:
        """Hold the compiles of `planned` programs (name, arguments, statics) until `release`, in place of those
        held before: programs a session needs only once it plays or steps."""
        with self._lock:
            self._deferred = [(structure, program, on_ready) for program in planned]

    def release(self) -> None:
        """Queue the compiles that `defer` holds."""
        with self._lock:
            deferred, self._deferred = self._deferred, []
        for structure, (name, args, statics), on_ready in deferred:
            self.prepare(structure, name, args, statics, on_ready)

    def drop_queued(self) -> None:
        """Forget the compiles not started yet: a session that starts again or changes structure needs others
        first (asked for again, they queue again)."""
        with self._lock:
            self._generation += 1

    def close(self) -> None:
        """Drop the compiles not started and wait a while for the one under way: a thread stopped inside XLA's
        compiler by the interpreter's exit aborts the process (`tinygan serve` ends with os._exit, which does
        not stop threads: it need not wait long)."""
        self._closed = True
        self._jobs.put(None)
        self._thread.join(timeout=2)

    def _compiler(self) -> None:
        while (job := self._jobs.get()) is not None:
            generation, future, structure, name, shapes, statics = job
            with self._lock:
                dropped = self._closed or generation != self._generation
                if dropped:
                    structure.programs.pop((name, tuple(sorted(statics.items()))), None)
            if dropped:
                future.cancel()
            else:
                _settle(future, structure, name, shapes, statics)


def _settle(future: Future, structure: Structure, name: str, shapes, statics: dict) -> None:
    """Compile program `name` for `structure` and arguments of `shapes`, into `future` (its error too)."""
    try:
        with jax.default_device(structure.device):
            future.set_result(_compiled.lower(name, structure.game, structure.config, structure.game.units.arrays,
                                              *shapes, **statics).compile())
    except Exception as error:  # noqa: BLE001 (the caller hears it through the future)
        future.set_exception(error)


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
