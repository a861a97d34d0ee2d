"""Normal-score units (data.quantile_transform) and the generator that starts as the identity (model.generator_skip)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from helpers import untrained_result

from tinygan import engine
from tinygan.config import ConfigError, DataConfig, ModelConfig
from tinygan.core.networks import make_generator
from tinygan.data.targets import FileTarget
from tinygan.data.units import (
    MAX_KNOTS,
    Identity,
    NormalScores,
    make_units,
    neighbour_gap,
    normal_scores,
    repeats_values,
)
from tinygan.engine.resolve import config_from_preset


def table_file(tmp_path, table, name="table.csv", header=None) -> str:
    path = tmp_path / name
    np.savetxt(path, table, delimiter=",", header=",".join(header) if header else "", comments="")
    return str(path)


@pytest.fixture
def mixed_table():
    """A continuous column and a count column: 400 rows."""
    rng = np.random.default_rng(0)
    return np.column_stack([rng.lognormal(0, 1, 400), rng.poisson(3, 400)]).astype(np.float64)


def units_of(table) -> NormalScores:
    return normal_scores(FileTarget(np.asarray(table, np.float64)), table)


def test_real_batches_are_standard_normal_in_every_column(mixed_table):
    units = units_of(mixed_table)
    z = np.asarray(units.sample(jax.random.key(0), 20_000))  # (n, 2): repeated counts spread over their share
    for column in z.T:
        assert scipy.stats.kstest(column, "norm").statistic < 0.015


def test_back_in_the_data_units_a_count_column_gives_its_own_values(mixed_table):
    units = units_of(mixed_table)
    back = np.asarray(units.to_data(jax.random.normal(jax.random.key(1), (5_000, 2))))
    assert set(np.unique(back[:, 1])) <= set(np.unique(mixed_table[:, 1]))
    # Each count keeps its share of the rows.
    values, counts = np.unique(mixed_table[:, 1], return_counts=True)
    shares = np.array([np.mean(back[:, 1] == value) for value in values])
    np.testing.assert_allclose(shares, counts / len(mixed_table), atol=0.02)


def test_a_continuous_column_is_interpolated_within_its_range(mixed_table):
    units = units_of(mixed_table)
    back = np.asarray(units.to_data(jnp.asarray([[-9.0, 0.0], [9.0, 0.0], [0.0, 0.0]])))
    column = mixed_table[:, 0]
    assert back[0, 0] == pytest.approx(column.min(), rel=1e-6) and back[1, 0] == pytest.approx(column.max(), rel=1e-6)
    assert back[2, 0] == pytest.approx(np.median(column), rel=0.02)
    z = np.asarray(units.sample(jax.random.key(2), 50_000))
    generated = np.asarray(units.to_data(jnp.asarray(z)))[:, 0]
    assert len(np.unique(generated)) > 10 * len(column)  # new values, between the rows'
    assert scipy.stats.ks_2samp(generated, column).statistic < 0.02


def test_to_model_and_to_data_invert_each_other_at_a_continuous_columns_rows(mixed_table):
    continuous = mixed_table[:, :1]
    units = units_of(continuous)
    x = jnp.asarray(continuous, jnp.float32)
    np.testing.assert_allclose(np.asarray(units.to_data(units.to_model(x))), continuous, rtol=1e-4)


def test_columns_of_other_lengths_are_padded_with_their_last_knot():
    rng = np.random.default_rng(3)
    table = np.column_stack([rng.normal(size=3 * MAX_KNOTS), rng.integers(0, 3, 3 * MAX_KNOTS)]).astype(float)
    units = units_of(table)
    assert units.quantile_levels.shape == units.quantile_values.shape == (MAX_KNOTS, 2)  # thinned to MAX_KNOTS
    levels = np.asarray(units.quantile_levels)
    assert (np.diff(levels, axis=0) >= 0).all()
    assert np.asarray(units.quantile_values)[-1, 1] == 2  # the counts' column ends on its largest value


def test_which_columns_repeat_their_values():
    assert repeats_values(np.repeat(np.arange(10.0), 2))
    assert not repeats_values(np.arange(20.0))


def test_a_law_is_encoded_from_its_draws():
    units = make_units(DataConfig(target="gaussian", mean=4.0, std=0.5, quantile_transform=True))
    assert "rows" not in units.arrays  # a law's fresh draws, not rows
    x = np.asarray(units.target.sample(jax.random.key(0), 10_000))
    z = np.asarray(units.to_model(jnp.asarray(x)))
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
    assert scipy.stats.kstest(np.asarray(units.sample(jax.random.key(1), 10_000))[:, 0], "norm").statistic < 0.02


def test_without_the_transform_the_units_are_the_data_own():
    units = make_units(DataConfig())
    assert isinstance(units, Identity)
    x = jnp.arange(3.0)[:, None]
    assert units.to_data(x) is x and units.to_model(x) is x


def test_the_transform_and_standardize_exclude_each_other():
    with pytest.raises(ConfigError, match="quantile_transform: the networks work in one kind of units"):
        DataConfig(standardize=True, quantile_transform=True)


# ---------------------------------------------------------------- a generator that starts as the identity


def test_a_skip_generator_starts_as_the_identity():
    model = ModelConfig(generator_skip=True, generator_layers=3, generator_width=16, generator_activation="relu")
    network = make_generator(model, noise_dim=3, data_dim=2)
    params = network.init(jax.random.key(0))
    z = jax.random.normal(jax.random.key(1), (50, 3))
    np.testing.assert_array_equal(np.asarray(network.apply(params, z)), np.asarray(z[:, :2]))
    moved = jax.tree.map(lambda leaf: leaf + 0.1, params)  # once it trains, the network adds to the noise
    assert not np.allclose(np.asarray(network.apply(moved, z)), np.asarray(z[:, :2]))


def test_a_skip_generator_needs_noise_as_wide_as_the_data(tmp_path):
    path = table_file(tmp_path, np.random.default_rng(0).normal(size=(50, 3)))
    with pytest.raises(ConfigError, match="model.generator_skip: .* at least the data's 3 dimensions; got data.noise_dim 2"):
        config_from_preset("data", target=f"file:{path}", noise_dim=2)


# ---------------------------------------------------------------- the data reaches programs as an argument


def test_the_data_is_an_argument_of_the_compiled_programs_not_a_constant(tmp_path):
    """The training program of a 50-row and a 20,000-row table are the same size: the rows are not baked in."""
    rng = np.random.default_rng(0)
    sizes = []
    for rows in (50, 20_000):
        config = config_from_preset("data", target=f"file:{table_file(tmp_path, rng.normal(size=(rows, 2)), f't{rows}.csv')}",
                                    num_steps=20)
        game = engine.make_game(config)
        state = engine.init_state(game, jax.random.key(0))
        chunk = engine.with_data(functools.partial(engine.run_chunk, intervals=1, log_every=5, view=((-3, 3), (-3, 3))))
        sizes.append(len(chunk.lower(game, state, jax.random.key(1)).as_text()))
    assert abs(sizes[1] - sizes[0]) < 0.01 * sizes[0]


def test_a_program_given_the_data_computes_what_the_data_baked_in_computes(tmp_path):
    table = np.random.default_rng(1).normal(size=(300, 2))
    config = config_from_preset("data", target=f"file:{table_file(tmp_path, table)}", num_steps=20)
    game = engine.make_game(config)
    state = engine.init_state(game, jax.random.key(0))
    given = engine.with_data(engine.train_step)(game, state, jax.random.key(5))
    baked = jax.jit(engine.train_step, static_argnums=0)(game, state, jax.random.key(5))
    for a, b in zip(jax.tree.leaves(given), jax.tree.leaves(baked)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_game_bound_to_other_arrays_reads_them():
    units = units_of(np.arange(40.0).reshape(20, 2))
    game = engine.Game(*([None] * 9), units=units)
    arrays = {name: value + 1 for name, value in units.arrays.items()}
    bound = engine.bind_data(game, arrays)
    np.testing.assert_array_equal(np.asarray(bound.units.quantile_values), np.asarray(units.quantile_values) + 1)
    assert engine.bind_data(game, None) is game
    assert bound.units.target.rows is arrays["rows"]


# ---------------------------------------------------------------- quasi-random noise for samples


def test_quasi_levels_cover_the_cube_evenly_and_follow_the_key():
    from tinygan.core.noise import quasi_levels

    levels = quasi_levels(jax.random.key(0), 1_000, 3)
    assert levels.shape == (1_000, 3) and levels.dtype == np.float32 and (levels > 0).all() and (levels < 1).all()
    independent = np.asarray(jax.random.uniform(jax.random.key(0), (1_000, 3)))
    for column in range(3):  # far nearer uniform than independent draws: a Sobol' sequence's low discrepancy
        quasi = scipy.stats.kstest(levels[:, column], "uniform").statistic
        assert quasi < 0.003 < scipy.stats.kstest(independent[:, column], "uniform").statistic
    np.testing.assert_array_equal(levels, quasi_levels(jax.random.key(0), 1_000, 3))
    assert not np.array_equal(levels, quasi_levels(jax.random.key(1), 1_000, 3))
    np.testing.assert_array_equal(quasi_levels(jax.random.key(0), 300, 3), levels[:300])  # a prefix of the sequence


def test_quasi_samples_are_a_less_noisy_picture_of_the_generators_law(tmp_path):
    """n samples drawn by quasi-random noise sit closer to G's own law (many samples of it) than n independent ones.

    G is the data preset's as drawn: the identity on its noise, then the map back to the table's units. Sampling
    reads nothing else, and the 50-iteration run this test once trained left G's EMA (what samples read) ~95% at
    that start: the same ratio of distances to 3 digits (0.1668), for ~13 s more of compiling and measuring.
    """
    from tinygan.measure import metrics

    table = np.random.default_rng(4).normal(size=(300, 2)) @ np.array([[1.0, 0.8], [0.0, 0.6]])
    result = untrained_result(config_from_preset("data", target=f"file:{table_file(tmp_path, table)}", num_steps=50))
    law = result.sample(4_000, key=jax.random.key(99))
    distance = {quasi: np.mean([metrics.squared_energy_distance(result.sample(300, key=jax.random.key(seed),
                                                                               quasi=quasi), law) for seed in range(6)])
                for quasi in (False, True)}
    assert distance[True] < 0.6 * distance[False]


def test_gs_arrows_move_in_the_data_units_as_the_map_back_carries_them(tmp_path, mixed_table):
    """In normal scores the pull is taken where G works, then carried by the map back: a count column never moves."""
    path = table_file(tmp_path, mixed_table)
    game = engine.make_game(config_from_preset("data", target=f"file:{path}", num_steps=10))
    params = game.discriminator.init(jax.random.key(0))
    z = jax.random.normal(jax.random.key(1), (64, 2))
    pull = engine.generator_pull(game, params, z)
    moved = np.asarray(engine.pull_in_data_units(game, params, z))
    assert not moved[:, 1].any()  # the counts' map back is a staircase: flat
    pull = np.asarray(pull)
    assert (np.sign(moved[:, 0]) == np.sign(pull[:, 0])).all()  # a rising map keeps each arrow's way
    slope = np.asarray(jax.vmap(jax.grad(lambda row: game.units.to_data(row[None])[0, 0]))(z))[:, 0]
    np.testing.assert_allclose(moved[:, 0], slope * pull[:, 0], rtol=1e-5)


def test_the_neighbour_gap_is_the_distance_to_the_nearest_distinct_row_per_column():
    step = 0.1
    grid = np.stack(np.meshgrid(np.arange(30) * step, np.arange(30) * step), -1).reshape(-1, 2)
    assert neighbour_gap(grid, len(grid)) == pytest.approx(step / np.sqrt(2))
    assert neighbour_gap(np.concatenate([grid, grid]), 2 * len(grid)) == pytest.approx(step / np.sqrt(2))  # ties apart
    assert neighbour_gap(grid, 4 * len(grid)) == pytest.approx(step / np.sqrt(2) / 2)  # 1 row in 4: twice as dense
    assert neighbour_gap(np.ones((5, 2)), 5) == 0.0


def test_smoothing_blurs_the_rows_but_keeps_each_column_and_correlation(mixed_table):
    """data.smoothing: a kernel shaped like the scores' correlations keeps N(0, 1) columns and the correlations,
    as wide as `smoothing` neighbour gaps."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=400)
    table = np.column_stack([x, 0.8 * x + 0.6 * rng.normal(size=400)])
    target = FileTarget(table)
    plain, blurred = normal_scores(target, table), normal_scores(target, table, smoothing=3.0)
    assert blurred.spread == pytest.approx(3.0 * neighbour_gap(np.asarray(plain.centres), 400))
    z, b = (np.asarray(units.sample(jax.random.key(0), 100_000)) for units in (plain, blurred))
    for column in b.T:
        assert scipy.stats.kstest(column, "norm").statistic < 0.01
    assert abs(np.corrcoef(b.T)[0, 1] - np.corrcoef(z.T)[0, 1]) < 0.01
    # Blurred, the rows are no longer points: far fewer samples sit on a row's own tiny box.
    def on_a_row(scores):
        rows = np.asarray(plain.to_model(jnp.asarray(table, jnp.float32)))
        distance = np.min(np.linalg.norm(scores[:2_000, None] - rows[None], axis=-1), axis=1)
        return np.mean(distance < 0.02)
    assert on_a_row(b) < 0.5 * on_a_row(z)


def test_smoothing_needs_the_quantile_transform():
    with pytest.raises(ConfigError, match="data.smoothing: blurs normal scores, so it needs data.quantile_transform"):
        DataConfig(smoothing=0.3)
    with pytest.raises(ConfigError, match="data.smoothing: must be >= 0"):
        DataConfig(quantile_transform=True, smoothing=-1.0)


def test_smoothing_leaves_a_column_generated_on_its_own_values_as_it_is():
    """Blurring an integer column's scores across its values' intervals would move rows between its values."""
    rng = np.random.default_rng(6)
    table = np.column_stack([rng.normal(size=500), rng.poisson(3, 500)])
    plain, blurred = normal_scores(FileTarget(table), table), normal_scores(FileTarget(table), table, smoothing=3.0)
    z, b = (np.asarray(units.sample(jax.random.key(1), 20_000)) for units in (plain, blurred))
    np.testing.assert_array_equal(b[:, 1], z[:, 1])  # the counts' scores: untouched
    assert not np.allclose(b[:, 0], z[:, 0]) and blurred.rescale[1] == 1.0 and blurred.rescale[0] < 1.0
    assert normal_scores(FileTarget(table[:, 1:]), table[:, 1:], smoothing=3.0).blur is None  # nothing to blur
