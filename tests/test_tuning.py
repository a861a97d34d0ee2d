"""Knobs as arguments of the compiled programs (`engine.tuning`): one game per structure, the knobs' values traced,
the same numbers as the game a config builds with its knobs baked in."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tinygan import engine
from tinygan.config import replace
from tinygan.core.objectives import OBJECTIVES
from tinygan.engine import tuning
from tinygan.engine.resolve import config_from_preset

STEPS = 20


@pytest.fixture(scope="module")
def seed_config():
    return config_from_preset("seed", num_steps=STEPS)


def test_make_game_gives_the_same_game_for_equal_configs(seed_config):
    assert engine.make_game(seed_config) is engine.make_game(config_from_preset("seed", num_steps=STEPS))


def test_configs_that_differ_only_in_knobs_share_a_structure(seed_config):
    turned = replace(seed_config, objective="least_squares", generator_learning_rate=0.5, r1=2.0,
                     gradient_penalty=1.0, seed=3, num_steps=99)
    assert tuning.structure(turned) == tuning.structure(seed_config)
    smoothed = replace(seed_config, label_smoothing=0.2, discriminator_learning_rate=1e-4)
    assert tuning.structure(smoothed) == tuning.structure(seed_config)


@pytest.mark.parametrize("change", [{"batch_size": 16}, {"optimizer": "adam"}, {"n_critic": 2}, {"unroll_steps": 1},
                                    {"generator_ema": 0.9}, {"target": "mixture"}, {"minibatch": True}])
def test_shapes_networks_data_and_an_ema_make_a_new_structure(seed_config, change):
    assert tuning.structure(replace(seed_config, **change)) != tuning.structure(seed_config)


def test_a_cosine_schedule_keeps_its_horizon_in_the_structure(seed_config):
    cosine = replace(seed_config, schedule="cosine")
    assert tuning.structure(replace(cosine, num_steps=40)) != tuning.structure(cosine)
    assert tuning.structure(replace(seed_config, num_steps=40)) == tuning.structure(seed_config)  # staircase


def test_knobs_hold_the_configs_numbers(seed_config):
    config = replace(seed_config, objective="minimax", label_smoothing=0.25, generator_learning_rate=0.5, r1=3.0)
    knobs = tuning.knobs(config)
    assert knobs == (np.float32(0.5), np.float32(0.03), np.int32(tuning.OBJECTIVE_NAMES.index("minimax")),
                     np.float32(0.25), np.float32(0.0), np.float32(3.0), np.float32(0.0))
    assert all(np.asarray(value).shape == () for value in knobs)


def _run(game, state, key):
    def body(state, _):
        return engine.train_step(game, state, engine.step_key(key, state.step))

    return jax.lax.scan(body, state, None, length=STEPS)


@functools.partial(jax.jit, static_argnums=(0,))
def _baked(game, state, key):
    return _run(game, state, key)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _tuned(game, structure, knobs, state, key):
    return _run(tuning.tune(game, structure, knobs), state, key)


# Every knob turned, and each kind of objective: cross-entropy, critic, least squares (every objective's own
# losses: test_the_switched_objective_is_each_objective).
TURNED = [
    {"objective": "minimax", "label_smoothing": 0.2, "r1": 0.5},
    {"objective": "wasserstein", "gradient_penalty": 1.0, "generator_learning_rate": 0.01,
     "discriminator_learning_rate": 0.002},  # the seed's 0.03 makes this critic chaotic: rounding grows
    {"objective": "least_squares", "optimizer": "adam", "schedule": "cosine", "generator_ema": 0.9, "r1": 0.1},
]


@pytest.mark.parametrize("change", TURNED, ids=lambda change: "+".join(change))
def test_a_tuned_structure_trains_as_the_configs_own_game(seed_config, change):
    """The structure's game tuned to a config's knobs takes the steps that config's own game takes, to float32
    rounding (XLA fuses arguments and constants a little differently; the gradient penalty's second derivatives
    magnify that rounding most), where another config's steps differ from the first."""
    config = replace(seed_config, **change)
    game, structure = engine.make_game(config), tuning.structure(config)
    state, _ = jax.jit(engine.setup, static_argnums=(0, 2))(game, jax.random.key(1), 10)
    key = jax.random.key(2)
    (baked, baked_losses) = _baked(game, state, key)
    (tuned, tuned_losses) = _tuned(engine.make_game(structure), structure, tuning.knobs(config), state, key)
    for a, b in zip(jax.tree.leaves((baked, baked_losses)), jax.tree.leaves((tuned, tuned_losses)), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-4)
    other = _baked(engine.make_game(seed_config), state, key)[1]
    assert not np.allclose(baked_losses.loss_d, other.loss_d, rtol=1e-3, atol=1e-4)


def test_a_traced_weight_of_zero_skips_its_term():
    """A knob's penalty is in the program, but computed only when its weight is not zero: a NaN it would give
    at weight 0 never reaches the loss."""
    nan_term = lambda: jnp.float32(np.nan)  # noqa: E731
    assert float(jax.jit(lambda w: engine.weighted(w, nan_term))(jnp.float32(0))) == 0.0
    assert float(jax.jit(lambda w: engine.weighted(w, lambda: jnp.float32(2)))(jnp.float32(3))) == 6.0
    assert engine.compiled_in(jnp.float32(0)) and not engine.compiled_in(0.0) and engine.compiled_in(0.5)


def test_the_switched_objective_is_each_objective(seed_config):
    real, fake = jnp.array([0.3, -1.2, 2.0]), jnp.array([-0.4, 0.9, 0.1])
    for index, objective in enumerate(OBJECTIVES.values()):
        switched = tuning.switched_objective(jnp.int32(index))
        smoothing = {"label_smoothing": 0.3} if objective.smooths_labels else {}
        np.testing.assert_allclose(switched.discriminator_loss(real, fake, **smoothing),
                                   objective.discriminator_loss(real, fake, **smoothing), rtol=1e-6)
        np.testing.assert_allclose(switched.generator_loss(fake), objective.generator_loss(fake), rtol=1e-6)
