"""Optimizers, schedules and per-network rates; n_critic; the unrolled discriminator; the EMA of G's weights."""

import functools
import math
import operator

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import assert_trees_equal

import tinygan
from tinygan import cli, engine
from tinygan.config import OptimConfig
from tinygan.core import optimizers


def assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def trees_differ(a, b) -> bool:
    return any(not np.allclose(x, y, rtol=1e-5, atol=1e-6) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def is_key(x) -> bool:
    return jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def game_of(**overrides) -> engine.Game:
    return engine.make_game(tinygan.config_from_preset("seed", **overrides))


@pytest.fixture(scope="module")
def start():
    """The seed's game and a state after a short pre-training; every game below shares its shapes."""
    game = game_of()
    state, _ = jax.jit(functools.partial(engine.setup, game, pretrain_steps=20))(jax.random.key(0))
    return game, state


@functools.cache
def jitted_draw(game):
    return jax.jit(functools.partial(engine.draw_batch, game))


def draw(game, key):
    """draw_batch, compiled once per game: drawing op by op costs more than compiling it."""
    return jitted_draw(game)(key)


@functools.cache
def jitted_update(game):
    return jax.jit(functools.partial(engine.update, game))


# ---------------------------------------------------------------- schedules and optimizers


def rate_at(rate, num_steps, step):
    """The cosine schedule written out: rate * (1 + cos(pi * min(step, T) / T)) / 2."""
    return rate * (1 + math.cos(math.pi * min(step, num_steps) / num_steps)) / 2


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("constant", {0: 0.03, 149: 0.03, 150: 0.03, 300: 0.03}),
        ("staircase", {0: 0.03, 149: 0.03, 150: 0.03 * 0.95, 299: 0.03 * 0.95, 300: 0.03 * 0.95**2}),
        ("cosine", {s: rate_at(0.03, 300, s) for s in (0, 149, 150, 300, 400)}),
    ],
)
def test_each_schedule_gives_its_formula_through_the_optimizer(schedule, expected):
    """Plain gradient descent with gradient 1: each step's update is minus the rate of that step."""
    optimizer = optimizers.make_optimizer(
        tinygan.config_from_preset("seed", schedule=schedule, learning_rate=0.03, num_steps=300)
    )
    params = {"w": jnp.zeros(())}
    state = optimizer.init(params)
    update = jax.jit(optimizer.update)
    updates = []
    for _ in range(max(expected) + 1):
        step_updates, state = update({"w": jnp.ones(())}, state, params)
        updates.append(float(step_updates["w"]))
    for step, rate in expected.items():
        assert updates[step] == pytest.approx(-rate, rel=1e-5, abs=1e-9), step
    if schedule == "cosine":  # half way at 150 and 0 at the end, as the formula says
        assert (updates[150], updates[300]) == (pytest.approx(-0.015, rel=1e-5), pytest.approx(0.0, abs=1e-9))


def test_the_schedules_registry_matches_the_formulas_directly():
    optim = OptimConfig(decay_rate=0.5, decay_steps=10)
    staircase = optimizers.SCHEDULES["staircase"](2.0, optim, 100)
    cosine = optimizers.SCHEDULES["cosine"](2.0, optim, 100)
    assert [float(staircase(s)) for s in (0, 9, 10, 25)] == [2.0, 2.0, 1.0, 0.5]
    np.testing.assert_allclose([float(cosine(s)) for s in (0, 50, 100, 150)], [2.0, 1.0, 0.0, 0.0], atol=1e-7)
    assert float(optimizers.SCHEDULES["constant"](2.0, optim, 100)(12345)) == 2.0


def first_two_updates(config, gradients=(1.0, 3.0)):
    optimizer = optimizers.make_optimizer(config)
    params = {"w": jnp.zeros(())}
    state = optimizer.init(params)
    values = []
    for g in gradients:
        updates, state = optimizer.update({"w": jnp.asarray(g)}, state, params)
        values.append(float(updates["w"]))
    return values


def adam_by_hand(rate, b1, b2, gradients, eps=1e-8):
    m = v = 0.0
    out = []
    for t, g in enumerate(gradients, start=1):
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        out.append(-rate * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps))
    return out


@pytest.mark.parametrize(
    ("optimizer", "betas", "expected"),
    [
        ("sgd", {}, [-0.01, -0.03]),
        ("adam", {}, adam_by_hand(0.01, 0.9, 0.999, (1.0, 3.0))),
        ("adam", {"adam_beta1": 0.5, "adam_beta2": 0.9}, adam_by_hand(0.01, 0.5, 0.9, (1.0, 3.0))),  # WGAN-GP's
        # RMSProp: v = 0.9 v + 0.1 g^2 from v = 0, update = -rate g / sqrt(v)
        ("rmsprop", {}, [-0.01 / math.sqrt(0.1), -0.01 * 3 / math.sqrt(0.9 * 0.1 + 0.1 * 9)]),
    ],
)
def test_each_optimizer_builds_and_takes_its_steps(optimizer, betas, expected):
    config = tinygan.config_from_preset("seed", optimizer=optimizer, learning_rate=0.01, schedule="constant", **betas)
    assert first_two_updates(config) == pytest.approx(expected, rel=1e-4)  # float32 against float64


def test_adam_betas_change_adams_steps():
    """Guards the comparison above: the two beta settings give different second steps."""
    plain = adam_by_hand(0.01, 0.9, 0.999, (1.0, 3.0))
    gulrajani = adam_by_hand(0.01, 0.5, 0.9, (1.0, 3.0))
    assert abs(plain[1] - gulrajani[1]) > 1e-3


# ---------------------------------------------------------------- learning rate per network


def test_learning_rates_fall_back_to_learning_rate_then_to_the_seeds_rule():
    assert optimizers.learning_rates(tinygan.config_from_preset("seed")) == (0.03, 0.03)
    assert optimizers.learning_rates(tinygan.config_from_preset("seed-minibatch")) == (0.005, 0.005)
    assert optimizers.learning_rates(tinygan.config_from_preset("seed", learning_rate=0.1)) == (0.1, 0.1)
    config = tinygan.config_from_preset("seed", learning_rate=0.1, generator_learning_rate=0.002)
    assert optimizers.learning_rates(config) == (0.002, 0.1)
    config = tinygan.config_from_preset("seed", discriminator_learning_rate=0.0004)
    assert optimizers.learning_rates(config) == (0.03, 0.0004)


@pytest.mark.parametrize("frozen", ["generator", "discriminator"])
def test_a_network_with_rate_0_stays_where_it_is(start, frozen):
    _, state = start
    other = {"generator": "discriminator", "discriminator": "generator"}[frozen]
    game = game_of(**{f"{frozen}_learning_rate": 0.0})
    batch = draw(game, jax.random.key(1))
    after, _ = jitted_update(game)(state, batch)
    assert_trees_equal(getattr(after, frozen), getattr(state, frozen))
    assert trees_differ(getattr(after, other), getattr(state, other))


def test_each_networks_optimizer_steps_at_its_own_rate():
    game = game_of(generator_learning_rate=0.01, discriminator_learning_rate=0.05, optimizer="sgd")
    params = {"w": jnp.zeros(())}
    for optimizer, rate in [(game.generator_optimizer, 0.01), (game.discriminator_optimizer, 0.05),
                            (game.pretrain_optimizer, 0.05)]:
        updates, _ = optimizer.update({"w": jnp.ones(())}, optimizer.init(params), params)
        assert float(updates["w"]) == pytest.approx(-rate, rel=1e-6)


# ---------------------------------------------------------------- the seed's iteration, unchanged


def seed_update(game, state, batch):
    """The iteration as it was before n_critic, unrolling and the EMA, verbatim: the bit-identical reference."""
    D, G, objective = game.discriminator.apply, game.generator.apply, game.objective
    fake = G(state.generator, batch.noise_d)
    loss_d, grads = jax.value_and_grad(lambda d: engine.discriminator_loss(game, lambda x: D(d, x), batch, fake))(
        state.discriminator
    )
    updates, discriminator_opt = game.discriminator_optimizer.update(grads, state.discriminator_opt,
                                                                      state.discriminator)
    discriminator = optax.apply_updates(state.discriminator, updates)
    loss_g, grads = jax.value_and_grad(lambda g: objective.generator_loss(D(discriminator, G(g, batch.noise_g))))(
        state.generator
    )
    updates, generator_opt = game.generator_optimizer.update(grads, state.generator_opt, state.generator)
    generator = optax.apply_updates(state.generator, updates)
    new_state = engine.TrainState(generator, discriminator, generator_opt, discriminator_opt, state.step + 1)
    return new_state, (loss_d, loss_g)


@pytest.mark.parametrize("overrides", [{"n_critic": 1, "unroll_steps": 0, "generator_ema": 0.0},
                                       {"minibatch": True, "gradient_penalty": 1.0}])
def test_the_defaults_keep_the_seeds_iteration_bit_for_bit(overrides):
    game = game_of(**overrides)
    state = engine.init_state(game, jax.random.key(3))
    key = jax.random.key(4)
    batch = draw(game, key)
    assert batch.extra_d_steps is None and state.generator_ema is None

    @jax.jit  # compiled like draw_batch: XLA may fuse mean + std * z, so eager draws can differ in the last bit
    def seed_draws(key):
        key_real, key_d, key_g = jax.random.split(key, 3)  # the seed's streams, as drawn before
        return game.target.sample(key_real, 12), game.noise.sample(key_d, 12), game.noise.sample(key_g, 12)

    assert_trees_equal((batch.real, batch.noise_d, batch.noise_g), seed_draws(key))
    expected_state, (loss_d, loss_g) = jax.jit(functools.partial(seed_update, game))(state, batch)
    after, metrics = jitted_update(game)(state, batch)
    assert_trees_equal(after, expected_state)
    assert (float(metrics.loss_d), float(metrics.loss_g)) == (float(loss_d), float(loss_g))


def test_the_seeds_losses_are_the_blogs_formulas_written_out():
    """The reference above reads the engine's own loss; here the losses are the DESIGN's formulas, from D's logits:
    loss_d = mean(-log D(x) - log(1 - D(G(z)))), loss_g = mean(-log D(G(z))), with log D = -softplus(-logit)."""
    game = game_of()
    state = engine.init_state(game, jax.random.key(3))
    batch = draw(game, jax.random.key(4))
    after, metrics = jitted_update(game)(state, batch)
    D, G = game.discriminator.apply, game.generator.apply
    real, fake = np.asarray(D(state.discriminator, batch.real), np.float64), np.asarray(
        D(state.discriminator, G(state.generator, batch.noise_d)), np.float64)
    loss_d = np.mean(np.logaddexp(0, -real) + np.logaddexp(0, fake))  # -log sigmoid(r) - log(1 - sigmoid(f))
    assert float(metrics.loss_d) == pytest.approx(loss_d, rel=1e-5)
    fake_after = np.asarray(D(after.discriminator, G(state.generator, batch.noise_g)), np.float64)  # D already moved
    assert float(metrics.loss_g) == pytest.approx(np.mean(np.logaddexp(0, -fake_after)), rel=1e-5)


# ---------------------------------------------------------------- n_critic


def test_n_critic_2_draws_a_second_d_batch_and_keeps_the_first_streams():
    game, plain = game_of(n_critic=2), game_of()
    batch, plain_batch = draw(game, jax.random.key(5)), draw(plain, jax.random.key(5))
    for name in ("real", "noise_d", "noise_g"):
        np.testing.assert_array_equal(getattr(batch, name), getattr(plain_batch, name))
    extra = batch.extra_d_steps
    assert extra.real.shape == extra.noise.shape == (1, 12, 1) and extra.penalty_key is None
    assert not np.allclose(extra.real[0], batch.real) and not np.allclose(extra.noise[0], batch.noise_d)
    with_penalty = draw(game_of(n_critic=3, gradient_penalty=1.0), jax.random.key(5))
    assert with_penalty.extra_d_steps.real.shape == (2, 12, 1) and with_penalty.extra_d_steps.penalty_key.shape == (2,)


def test_n_critic_2_is_two_d_steps_then_a_g_step_against_the_last_d(start):
    _, state = start
    game = game_of(n_critic=2)
    batch = draw(game, jax.random.key(6))
    D, G = game.discriminator.apply, game.generator.apply

    @jax.jit
    def by_hand(state, batch):
        first = engine.DiscriminatorBatch(batch.real, batch.noise_d, batch.penalty_key)
        second = jax.tree.map(lambda x: x[0], batch.extra_d_steps)
        d1, opt1, _ = engine.discriminator_step(game, state.generator, state.discriminator,
                                                    state.discriminator_opt, first)
        d2, opt2, loss2 = engine.discriminator_step(game, state.generator, d1, opt1, second)
        grads = jax.grad(lambda g: game.objective.generator_loss(D(d2, G(g, batch.noise_g))))(state.generator)
        g_new = jax.tree.map(lambda p, g: p - 0.03 * g, state.generator, grads)
        return d1, d2, opt2, loss2, g_new

    d1, d2, _, loss2, g_new = by_hand(state, batch)
    after, metrics = jitted_update(game)(state, batch)
    assert_trees_close(after.discriminator, d2)
    assert trees_differ(d2, d1)  # the second step counts
    assert_trees_close(after.generator, g_new)
    np.testing.assert_allclose(metrics.loss_d, loss2, rtol=1e-6)  # the last D step's loss is reported
    counts = [int(leaf) for leaf in jax.tree.leaves(after.discriminator_opt) if leaf.dtype == jnp.int32]
    assert counts == [2] and int(after.step) == int(state.step) + 1


def test_n_critic_draws_the_same_in_the_compiled_loop_as_step_by_step():
    """The compiled chunk draws a whole interval's batches at once (vmap): the same draws as one at a time."""
    game = game_of(n_critic=3, gradient_penalty=1.0)
    keys = jax.vmap(engine.step_key, (None, 0))(jax.random.key(7), jnp.arange(4))
    at_once = jax.jit(jax.vmap(functools.partial(engine.draw_batch, game)))(keys)
    as_data = functools.partial(jax.tree.map, lambda x: jax.random.key_data(x) if is_key(x) else x)
    for i in range(4):
        one = draw(game, engine.step_key(jax.random.key(7), i))
        assert_trees_equal(jax.tree.map(operator.itemgetter(i), as_data(at_once)), as_data(one))


# ---------------------------------------------------------------- unrolled discriminator


def test_unrolling_changes_gs_step_through_the_look_ahead_and_not_ds(start):
    """D's step is the plain one. G's, by hand with plain gradient descent at 0.03: D_k = D_{k-1} - 0.03 grad
    loss_d(D_{k-1}, G_theta) on the same batch, and G's gradient is taken through D_1 and D_2 as functions
    of theta (Metz et al. 2016, eq. 5)."""
    _, state = start
    game, plain = game_of(unroll_steps=2), game_of()
    batch = draw(game, jax.random.key(8))
    D, G, objective = game.discriminator.apply, game.generator.apply, game.objective

    @jax.jit
    def by_hand(state, batch):
        def loss_d(d, g):
            return objective.discriminator_loss(D(d, batch.real), D(d, G(g, batch.noise_d)))

        def descend(d, g):
            return jax.tree.map(lambda p, grad: p - 0.03 * grad, d, jax.grad(loss_d)(d, g))

        d0 = descend(state.discriminator, state.generator)  # D's real step

        def loss_g(g, unrolled):
            d = descend(descend(d0, g), g)
            return objective.generator_loss(D(d if unrolled else jax.lax.stop_gradient(d), G(g, batch.noise_g)))

        step = lambda unrolled: jax.tree.map(
            lambda p, grad: p - 0.03 * grad, state.generator, jax.grad(loss_g)(state.generator, unrolled))
        return step(True), step(False)

    after, metrics = jitted_update(game)(state, batch)
    plain_after, plain_metrics = jitted_update(plain)(state, batch)
    assert_trees_equal((after.discriminator, after.discriminator_opt),
                       (plain_after.discriminator, plain_after.discriminator_opt))
    assert float(metrics.loss_d) == float(plain_metrics.loss_d)
    assert trees_differ(after.generator, plain_after.generator)
    through, not_through = by_hand(state, batch)
    assert_trees_close(after.generator, through)
    assert trees_differ(through, not_through)  # the gradient through the look-ahead matters here


# ---------------------------------------------------------------- EMA of G's weights


def test_ema_after_one_step_is_decay_times_old_plus_the_rest_times_new(start):
    _, state = start
    game = game_of(generator_ema=0.9)
    drawn = engine.init_state(game, jax.random.key(0))
    assert_trees_equal(drawn.generator_ema, drawn.generator)  # the average starts at the drawn weights
    old = jax.tree.map(lambda p: p + 0.5, state.generator)  # an average away from G, so both terms show
    ema_state = state._replace(generator_ema=old)
    batch = draw(game, jax.random.key(9))
    after, metrics = jitted_update(game)(ema_state, batch)
    # Exactly, up to float32 rounding: within one unit in the last place of the float64 value.
    expected = jax.tree.map(lambda a, p: 0.9 * np.float64(a) + 0.1 * np.float64(p), old, after.generator)
    for actual, exact in zip(jax.tree.leaves(after.generator_ema), jax.tree.leaves(expected), strict=True):
        np.testing.assert_array_max_ulp(np.asarray(actual), exact.astype(np.float32), maxulp=1)
    # Training itself uses the raw generator: everything else is what the same step without EMA gives.
    plain_after, plain_metrics = jitted_update(game_of())(state, batch)
    assert_trees_equal(after._replace(generator_ema=None), plain_after)
    assert float(metrics.loss_g) == float(plain_metrics.loss_g)


def test_probes_read_the_ema(start):
    _, state = start
    game = game_of(generator_ema=0.5)
    ema = jax.tree.map(lambda p: 2 * p, state.generator)
    seen = engine.probe(game, state._replace(generator_ema=ema), None)
    grid = game.noise.grid(engine.GRID_POINTS)
    np.testing.assert_array_equal(seen.generated, game.generator.apply(ema, grid))
    assert not np.allclose(seen.generated, game.generator.apply(state.generator, grid))


# ---------------------------------------------------------------- short runs


STABILIZED = {"n_critic": 3, "unroll_steps": 2, "generator_ema": 0.99}


@pytest.fixture(scope="module")
def ema_run():
    """All three stabilizers at once: compiling each alone costs seconds the suite does not have."""
    return tinygan.train(tinygan.config_from_preset("seed", num_steps=20, pretrain_steps=5, **STABILIZED))


def test_with_ema_the_result_samples_and_measures_the_ema_generator(ema_run):
    state, game = ema_run.state, ema_run.game
    assert state.generator_ema is not None and trees_differ(state.generator_ema, state.generator)
    key = jax.random.key(10)
    samples = ema_run.sample(1000, key=key)
    noise = game.noise.sample(key, 1000)
    np.testing.assert_allclose(samples, game.generator.apply(state.generator_ema, noise), rtol=1e-6, atol=1e-6)
    assert not np.allclose(samples, game.generator.apply(state.generator, noise), rtol=1e-3)
    final_grid = game.generator.apply(state.generator_ema, game.noise.grid(engine.GRID_POINTS))[:, 0]
    np.testing.assert_allclose(ema_run.frames[-1].generated[:, 0], final_grid, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "overrides",
    [
        {"optimizer": "adam", "learning_rate": 0.01, "adam_beta1": 0.5, "adam_beta2": 0.9, "schedule": "cosine"},
        {"optimizer": "rmsprop", "learning_rate": 0.005},
        STABILIZED,
    ],
    ids=lambda overrides: "-".join(f"{k}={v}" for k, v in overrides.items()),
)
def test_a_short_run_finishes_with_finite_numbers(overrides, ema_run):
    if overrides == STABILIZED:
        result = ema_run
    else:
        result = tinygan.train(tinygan.config_from_preset("seed", num_steps=20, pretrain_steps=5, **overrides),
                               frames=False)
    assert result.status == "finished" and result.metrics["iterations"] == 20
    for name in ("w1", "ks", "mean", "std"):
        assert math.isfinite(result.metrics[name]), name
    for name in ("loss_d", "loss_g", "w1"):
        assert np.all(np.isfinite(result.history[name])), name
    assert tinygan.replace(result.config, **overrides) == result.config  # the run had these settings


# ---------------------------------------------------------------- configuration and flags


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"optimizer": "x"}, "optim.optimizer: must be one of adam, rmsprop, sgd, got 'x'"),
        ({"schedule": "linear"}, "optim.schedule: must be one of constant, cosine, staircase, got 'linear'"),
        ({"generator_learning_rate": -0.1}, "optim.generator_learning_rate: must be >= 0, got -0.1"),
        ({"discriminator_learning_rate": "fast"}, "optim.discriminator_learning_rate: must be a finite number"),
        ({"adam_beta1": 1.0}, "optim.adam_beta1: must be < 1, got 1.0"),
        ({"adam_beta2": -0.5}, "optim.adam_beta2: must be >= 0, got -0.5"),
        ({"n_critic": 0}, "train.n_critic: must be >= 1, got 0"),
        ({"n_critic": 2.0}, "train.n_critic: must be a whole number, got 2.0"),
        ({"unroll_steps": -1}, "train.unroll_steps: must be >= 0, got -1"),
        ({"generator_ema": 1.0}, "train.generator_ema: must be < 1, got 1.0"),
        ({"generator_ema": -0.1}, "train.generator_ema: must be >= 0, got -0.1"),
    ],
)
def test_bad_values_are_refused_by_name(overrides, message):
    with pytest.raises(tinygan.ConfigError) as error:
        tinygan.config_from_preset("seed", **overrides)
    assert str(error.value).startswith(message)


def test_the_defaults_are_the_seeds():
    config = tinygan.config_from_preset("seed")
    assert (config.optim.optimizer, config.optim.schedule, config.optim.decay_rate, config.optim.decay_steps) == (
        "sgd", "staircase", 0.95, 150)
    assert (config.optim.generator_learning_rate, config.optim.discriminator_learning_rate) == (None, None)
    assert (config.train.n_critic, config.train.unroll_steps, config.train.generator_ema) == (1, 0, 0.0)


def test_the_flags_parse_into_the_config():
    args = cli.build_parser().parse_args([
        "train", "--optimizer", "adam", "--adam-beta1", "0.5", "--adam-beta2", "0.9", "--schedule", "cosine",
        "--generator-learning-rate", "0.001", "--discriminator-learning-rate", "0.004", "--n-critic", "5",
        "--unroll-steps", "3", "--generator-ema", "0.999",
    ])
    config = cli.config_from_args(args)
    assert config.optim == OptimConfig(optimizer="adam", adam_beta1=0.5, adam_beta2=0.9, schedule="cosine",
                                       generator_learning_rate=0.001, discriminator_learning_rate=0.004)
    assert (config.train.n_critic, config.train.unroll_steps, config.train.generator_ema) == (5, 3, 0.999)
    with pytest.raises(tinygan.ConfigError, match="optim.optimizer"):
        cli.config_from_args(cli.build_parser().parse_args(["train", "--optimizer", "lion"]))
