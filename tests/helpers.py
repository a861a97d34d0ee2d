"""What the test modules share: bit-for-bit pytrees, metrics without their timings, an untrained result."""

import jax
import jax.numpy as jnp
import numpy as np

from tinygan import engine
from tinygan.config import Config
from tinygan.training.loop import TrainResult


def trees_equal(a, b) -> bool:
    """Whether two pytrees of arrays have the same structure and bit-identical leaves."""
    return jax.tree.structure(a) == jax.tree.structure(b) and all(
        np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def assert_trees_equal(a, b):
    """Bit-for-bit equality of two pytrees of arrays, same structure, naming the first leaf that differs."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def without_timings(metrics: dict) -> dict:
    """A run's metrics less its wall-clock seconds, which differ between identical runs."""
    return {k: v for k, v in metrics.items() if k != "seconds"}


def measured(metrics: dict) -> dict:
    """A run's measured numbers: its metrics less the seconds and the verdict (a sentence made of the numbers)."""
    return {k: v for k, v in without_timings(metrics).items() if k != "verdict"}


def untrained_result(config: Config, key: int = 1) -> TrainResult:
    """A result holding G as `config`'s networks draw it, and nothing else of a state: what sampling reads.

    For tests of how a result samples, where a training run would only add seconds of compiling.
    """
    generator = jax.jit(engine.make_game(config).generator.init)(jax.random.key(key))
    state = engine.TrainState(generator, None, None, None, jnp.zeros((), jnp.int32))
    return TrainResult(config, state, history={}, frames=[], metrics={"iterations": 0}, status="finished",
                       pretrain_losses=np.zeros(0))
