"""The compiled engine: pre-training, the scanned loop against a step-by-step loop, and D's decision boundary."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_trees_equal

import tinygan
from tinygan import engine
from tinygan.core import optimizers

# ---------------------------------------------------------------- pre-training


def test_pretraining_lowers_its_loss():
    game = engine.make_game(tinygan.config_from_preset("seed"))
    key_init, key_pretrain = jax.random.split(jax.random.key(42))
    start = engine.init_state(game, key_init).discriminator
    params, losses = jax.jit(functools.partial(engine.pretrain, game, num_steps=1000))(start, key_pretrain)
    losses = np.asarray(losses)
    assert losses.shape == (1000,)
    assert np.all(np.isfinite(losses)) and np.all(losses >= 0)
    first, last = losses[:50].mean(), losses[-50:].mean()
    assert last < first / 4, (first, last)  # 0.18 -> 0.012 here
    # The trained D approximates the target's density (peak 0.8 at the mean 4), low far from it.
    d = jax.nn.sigmoid(game.discriminator.apply(params, jnp.array([[4.0], [-4.0]])))
    assert 0.4 < d[0] < 1.0 and d[1] < 0.2, d


def test_setup_draws_both_networks_then_pretrains_d():
    game = engine.make_game(tinygan.config_from_preset("seed"))
    key = jax.random.key(3)
    state, losses = jax.jit(functools.partial(engine.setup, game, pretrain_steps=30))(key)
    key_init, key_pretrain = jax.random.split(key)
    drawn = engine.init_state(game, key_init)
    discriminator, expected_losses = engine.pretrain(game, drawn.discriminator, key_pretrain, 30)
    assert int(state.step) == 0
    assert_trees_equal(state.generator, drawn.generator)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(state.discriminator), jax.tree.leaves(discriminator)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_pretraining_with_zero_steps_changes_nothing():
    game = engine.make_game(tinygan.config_from_preset("seed"))
    start = engine.init_state(game, jax.random.key(0)).discriminator
    params, losses = engine.pretrain(game, start, jax.random.key(1), 0)
    assert losses.shape == (0,)
    assert_trees_equal(params, start)


# ---------------------------------------------------------------- compiled loop against a step-by-step loop


@pytest.fixture(scope="module")
def game_start(small_config):
    """The game, the state after set-up (init and pre-training) and a training key."""
    game = engine.make_game(small_config)
    key_setup, key_train = jax.random.split(jax.random.key(small_config.train.seed))
    setup = jax.jit(functools.partial(engine.setup, game, pretrain_steps=small_config.optim.pretrain_steps))
    state, _ = setup(key_setup)
    return game, state, key_train


@functools.cache
def jitted_train_step(game):
    return jax.jit(functools.partial(engine.train_step, game))


def step_by_step(game, state, run_key, num_steps):
    """A plain Python loop over the jitted train step; returns the final state and every step's metrics."""
    step = jitted_train_step(game)
    metrics = []
    for i in range(num_steps):
        state, m = step(state, engine.step_key(run_key, i))
        metrics.append(m)
    return state, metrics


@pytest.fixture(scope="module")
def loop_30(game_start):
    game, state, key = game_start
    return step_by_step(game, state, key, 30)


def test_compiled_chunk_equals_step_by_step_loop(game_start, loop_30):
    game, state, key = game_start
    chunk = jax.jit(functools.partial(
        engine.run_chunk, game, intervals=3, log_every=10, view=((-8.0, 8.0),)))
    final, probes, losses, starts = chunk(state, key)
    assert starts is None  # interval-start states only when asked for
    loop_state, loop_metrics = loop_30
    assert int(final.step) == 30
    assert_trees_equal(final, loop_state)  # params, optimizer states and step, bit for bit
    # Each interval reports the losses of its first iteration: iterations 0, 10 and 20.
    np.testing.assert_array_equal(losses.loss_d, [loop_metrics[i].loss_d for i in (0, 10, 20)])
    np.testing.assert_array_equal(losses.loss_g, [loop_metrics[i].loss_g for i in (0, 10, 20)])
    # Each interval probes the state it starts from.
    assert probes.generated.shape == (3, engine.GRID_POINTS, 1)
    assert probes.decision.shape == (3, engine.CURVE_POINTS)  # D's curve: 1,000 points in 1-D
    grid = game.noise.grid(engine.GRID_POINTS)
    np.testing.assert_allclose(probes.generated[0], game.generator.apply(state.generator, grid), rtol=1e-6, atol=1e-6)
    assert not np.allclose(probes.generated[1], probes.generated[0])  # G moved during the first interval


def test_the_state_moves_every_step(game_start, loop_30):
    """Guards the equality above against a loop that never updates anything."""
    _, state, _ = game_start
    loop_state, _ = loop_30
    for before, after in zip(jax.tree.leaves((state.generator, state.discriminator)),
                             jax.tree.leaves((loop_state.generator, loop_state.discriminator))):
        assert not np.array_equal(before, after)


def test_chunks_of_any_shape_compose_to_the_same_run(game_start):
    """A run cut as planned (whole intervals, then a partial one) equals the step-by-step loop."""
    game, state, key = game_start
    plan = engine.plan_chunks(25, 10, 20)
    assert plan == [(2, 10), (1, 5)]
    losses = []
    for intervals, length in plan:
        chunk = jax.jit(functools.partial(
            engine.run_chunk, game, intervals=intervals, log_every=length, view=None))
        state_before = state
        state, probes, chunk_losses, _ = chunk(state, key)
        losses += list(chunk_losses.loss_d)
        assert probes.decision is None  # no view: no picture of D
    assert int(state.step) == 25
    loop_state, loop_metrics = step_by_step(game, game_start[1], key, 25)
    assert_trees_equal(state, loop_state)
    np.testing.assert_array_equal(losses, [loop_metrics[i].loss_d for i in (0, 10, 20)])
    assert int(state_before.step) == 20


@pytest.mark.parametrize(
    ("num_steps", "log_every", "chunk_iterations", "plan"),
    [
        (1200, 10, 256, [(24, 10)] * 5),  # 24 divides the 120 intervals: one program
        (1000, 10, 256, [(25, 10)] * 4),
        (1270, 10, 256, [(1, 10)] * 127),  # 127 intervals is prime: one interval a call, one program
        (1230, 10, 256, [(41, 10)] * 3),  # 123 = 3 x 41: none from 13 to 25 divides it, 41 does
        (1380, 10, 256, [(23, 10)] * 6),  # 23 is within half of 25: no longer chunks
        (2060, 10, 256, [(2, 10)] * 103),  # 206 = 2 x 103: short chunks rather than a second program
        (100_070, 10, 256, [(25, 10)] * 400 + [(7, 10)]),  # 10,007 is prime: 10,007 calls would cost more
        (1205, 10, 256, [(24, 10)] * 5 + [(1, 5)]),  # a partial last interval
        (7, 10, 256, [(1, 7)]),  # a log interval longer than the run costs only the run
        (10, 100_000, 256, [(1, 10)]),
        (5, 1, 256, [(5, 1)]),
    ],
)
def test_plan_chunks(num_steps, log_every, chunk_iterations, plan):
    assert engine.plan_chunks(num_steps, log_every, chunk_iterations) == plan
    assert sum(intervals * length for intervals, length in plan) == num_steps


# ---------------------------------------------------------------- decision boundary


def test_decision_boundary_equals_d_on_all_points_for_a_plain_discriminator(game_start):
    game, state, _ = game_start
    assert game.batch_size == 12
    xs = jnp.linspace(-8, 8, 10_000)[:, None]  # 10,000 = 833 batches of 12 + 4
    decision = jax.jit(functools.partial(engine.decision_boundary, game))(state.discriminator, xs)
    expected = jax.nn.sigmoid(game.discriminator.apply(state.discriminator, xs))
    assert decision.shape == (10_000,)
    # XLA sums the batched (vmap) and unbatched layers in different orders; through three tanh layers that
    # leaves differences of ~1e-6 (a few float32 ulps of the logits), not bit-for-bit equality.
    np.testing.assert_allclose(decision, expected, rtol=1e-5, atol=1e-6)
    assert np.all(decision[-4:] > 0.01)  # the seed left these at 0


@pytest.fixture(scope="module")
def minibatch_game():
    # Small output weights keep D unsaturated (features of ~10 meet them), so outputs are far from 0 and 1.
    config = tinygan.config_from_preset("seed-minibatch", init_std=0.3, minibatch_init_std=0.3)
    game = engine.make_game(config)
    params = engine.init_state(game, jax.random.key(5)).discriminator
    params["output"]["w"] = params["output"]["w"] * 0.3
    return game, params


def test_decision_boundary_evaluates_every_point_with_minibatch_features(minibatch_game):
    game, params = minibatch_game
    xs = jnp.linspace(-8, 8, 10_000)[:, None]
    decision = engine.decision_boundary(game, params, xs)
    D = lambda batch: jax.nn.sigmoid(game.discriminator.apply(params, batch))
    assert decision.shape == (10_000,)
    np.testing.assert_allclose(decision[:12], D(xs[:12]), rtol=1e-5)
    np.testing.assert_allclose(decision[9984:9996], D(xs[9984:9996]), rtol=1e-5)  # the last whole batch
    # The 4 points left over are read from D applied to the final 12 points (the last full batch of xs).
    np.testing.assert_allclose(decision[-4:], D(xs[-12:])[-4:], rtol=1e-5)
    assert np.all((decision[-4:] > 0.05) & (decision[-4:] < 0.95))
    # With minibatch features the batch matters: these 4 points alone give other values.
    assert not np.allclose(D(xs[-4:]), decision[-4:], rtol=1e-3)


def test_decision_boundary_with_fewer_points_than_a_batch(minibatch_game):
    game, params = minibatch_game
    xs = jnp.array([[-1.0], [0.0], [3.5], [4.0], [6.0]])
    decision = engine.decision_boundary(game, params, xs)
    np.testing.assert_allclose(decision, jax.nn.sigmoid(game.discriminator.apply(params, xs)), rtol=1e-6)


def test_decision_boundary_with_whole_batches_only(minibatch_game):
    game, params = minibatch_game
    xs = jnp.linspace(-3, 3, 24)[:, None]
    decision = engine.decision_boundary(game, params, xs)
    D = lambda batch: jax.nn.sigmoid(game.discriminator.apply(params, batch))
    assert decision.shape == (24,)
    np.testing.assert_allclose(decision, np.concatenate([D(xs[:12]), D(xs[12:])]), rtol=1e-5)


# ---------------------------------------------------------------- one iteration and the optimizers


def sgd(params, grads, rate):
    return jax.tree.map(lambda p, g: p - rate * g, params, grads)


def test_one_iteration_is_a_d_step_then_a_g_step_against_the_new_d(game_start):
    """The seed's iteration, written out: D descends on (x, G(z_d)); then G descends on D_new(G(z_g))."""
    game, state, _ = game_start
    batch = engine.draw_batch(game, jax.random.key(11))
    D, G, objective = game.discriminator.apply, game.generator.apply, game.objective
    rate = 0.03  # the plain preset's rate; no decay at step 0

    @jax.jit
    def by_hand(state, batch):
        def loss_d(d):
            return objective.discriminator_loss(D(d, batch.real), D(d, G(state.generator, batch.noise_d)))

        def loss_g(g, d):
            return objective.generator_loss(D(d, G(g, batch.noise_g)))

        new_d = sgd(state.discriminator, jax.grad(loss_d)(state.discriminator), rate)
        new_g = sgd(state.generator, jax.grad(loss_g)(state.generator, new_d), rate)
        stale_g = sgd(state.generator, jax.grad(loss_g)(state.generator, state.discriminator), rate)
        return new_d, new_g, stale_g, loss_d(state.discriminator)

    new_d, new_g, stale_g, first_loss_d = by_hand(state, batch)
    after, metrics = jax.jit(functools.partial(engine.update, game))(state, batch)
    assert int(after.step) == int(state.step) + 1
    expected_leaves = jax.tree.leaves((new_d, new_g))
    for actual, expected in zip(jax.tree.leaves((after.discriminator, after.generator)), expected_leaves, strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)
    # A G step against the old D lands elsewhere, so the comparison above tells the two orders apart.
    assert not all(np.allclose(a, b, rtol=1e-5, atol=1e-6)
                   for a, b in zip(jax.tree.leaves(after.generator), jax.tree.leaves(stale_g)))
    np.testing.assert_allclose(metrics.loss_d, first_loss_d, rtol=1e-6)


def test_draw_batch_takes_a_fresh_noise_draw_for_the_g_step(game_start):
    game, _, _ = game_start
    batch = engine.draw_batch(game, jax.random.key(0))
    assert batch.real.shape == batch.noise_d.shape == batch.noise_g.shape == (12, 1)
    assert not np.array_equal(batch.noise_d, batch.noise_g)


@pytest.mark.parametrize("minibatch, rate", [(False, 0.03), (True, 0.005)])
def test_learning_rate_decays_by_0_95_every_150_steps(minibatch, rate):
    optimizer = optimizers.make_optimizer(tinygan.config_from_preset("seed", minibatch=minibatch))
    params = {"w": jnp.zeros(())}
    state = optimizer.init(params)
    steps = []
    for _ in range(302):
        updates, state = optimizer.update({"w": jnp.ones(())}, state, params)
        steps.append(float(updates["w"]))
    expected = {0: -rate, 149: -rate, 150: -rate * 0.95, 299: -rate * 0.95, 300: -rate * 0.95**2}
    for step, value in expected.items():
        assert steps[step] == pytest.approx(value, rel=1e-6), step


def test_each_network_counts_its_own_optimizer_steps(game_start, loop_30):
    """Pre-training's optimizer is its own: the game's optimizers start at 0 and take one step per iteration."""
    _, state, _ = game_start
    loop_state, _ = loop_30
    for opt_state, expected in [(state.generator_opt, 0), (state.discriminator_opt, 0),
                                (loop_state.generator_opt, 30), (loop_state.discriminator_opt, 30)]:
        counts = [leaf for leaf in jax.tree.leaves(opt_state) if leaf.dtype == jnp.int32]
        assert [int(c) for c in counts] == [expected]
