"""2-D targets end to end: their shapes and modes, what the history measures, GAN Lab's pictures."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from PIL import Image

import tinygan
from tinygan import engine
from tinygan.config import ConfigError, DataConfig
from tinygan.data.targets import make_target
from tinygan.measure import scoring
from tinygan.pictures import two_d as plots_2d

SHAPES = ("spiral", "swiss_roll", "moons")


def draw(target, n=20_000, seed=0):
    return np.asarray(target.sample(jax.random.key(seed), n), np.float64)


# ---------------------------------------------------------------- targets


def test_ring_is_pacgans_eight_modes_on_the_unit_circle():
    target = make_target(DataConfig(target="ring"))
    means, stds, weights = target.modes
    angles = np.sort(np.mod(np.arctan2(means[:, 1], means[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(angles, np.arange(8) * np.pi / 4, atol=1e-12)  # evenly spaced, none repeated
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 1.0, rtol=1e-12)
    assert stds.tolist() == [0.01] * 8 and weights.tolist() == [1 / 8] * 8
    x = draw(target)
    nearest = np.argmin(np.linalg.norm(x[:, None] - means[None], axis=2), axis=1)
    np.testing.assert_allclose(np.bincount(nearest, minlength=8) / len(x), 1 / 8, atol=0.01)
    offsets = x - means[nearest]
    assert offsets.std() == pytest.approx(0.01, rel=0.03)


def test_grid_is_pacgans_twenty_five_modes():
    target = make_target(DataConfig(target="grid"))
    means, stds, _ = target.modes
    assert sorted(map(tuple, means)) == [(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)]
    assert set(stds) == {0.05}
    x = draw(target)
    assert np.abs(x.mean(0)).max() < 0.05 and x.std(0) == pytest.approx([np.sqrt(8 + 0.05**2)] * 2, rel=0.02)


def test_target_params_shape_the_built_in_targets():
    ring = make_target(DataConfig(target="ring", target_params="modes=3, radius=2, std=0.1"))
    np.testing.assert_allclose(ring.modes.means, [[2, 0], [-1, np.sqrt(3)], [-1, -np.sqrt(3)]], atol=1e-12)
    grid = make_target(DataConfig(target="grid", target_params="size=2, spacing=1"))
    assert sorted(map(tuple, grid.modes.means)) == [(-0.5, -0.5), (-0.5, 0.5), (0.5, -0.5), (0.5, 0.5)]
    assert make_target(DataConfig(target="moons", target_params="noise=0.2")).noise == 0.2


@pytest.mark.parametrize(("target", "params", "message"), [
    ("ring", "modes=2.5", "data.target_params: modes must be a whole number, got 2.5"),
    ("ring", "radius=-1", "data.target_params: radius must be > 0, got -1"),
    ("ring", "modes=1e9", "data.target_params: at most 1,024 modes, got 1,000,000,000"),
    ("grid", "size=33", "data.target_params: at most 1,024 modes, got 1,089"),
    ("grid", "modes=4", "data.target_params: grid takes size, spacing, std; got 'modes'"),
    ("spiral", "noise=0", "data.target_params: noise must be > 0, got 0"),
    ("moons", "noise=__import__('os')", "data.target_params: \"__import__('os')\" is not a number"),
    ("gaussian", "std=1", "data.target_params: target 'gaussian' takes no parameters"),
    ("circle", "", "data.target: must be one of gaussian, mixture, scipy:..., ring, grid"),
])
def test_bad_target_params_are_named(target, params, message):
    with pytest.raises(ConfigError) as error:
        make_target(DataConfig(target=target, target_params=params))  # the registry checks its parameters
    assert str(error.value).startswith(message)


@pytest.mark.parametrize("name", SHAPES)
def test_shapes_are_2d_without_modes_with_a_density_on_them(name):
    target = make_target(DataConfig(target=name))
    x = draw(target, 5_000)
    assert target.dim == 2 and target.modes is None and target.distribution() is None
    assert x.shape == (5_000, 2) and np.isfinite(x).all() and np.abs(x).max() < 4
    on_shape = np.asarray(target.density(jnp.asarray(x[:500], jnp.float32)))
    far = np.asarray(target.density(jnp.full((1, 2), 10.0)))
    assert on_shape.shape == (500,) and on_shape.min() > 0 and far[0] < 1e-6 * on_shape.mean()


@pytest.mark.parametrize("config", [
    DataConfig(), DataConfig(target="mixture"), DataConfig(target="ring"), DataConfig(target="grid"),
    DataConfig(target="scipy:gamma", target_params="a=2"),
])
def test_every_density_maps_points_to_one_value_each(config):
    target = make_target(config)
    points = jnp.asarray(draw(target, 7), jnp.float32)
    assert target.density(points).shape == (7,)


def test_a_two_dimensional_density_integrates_to_one():
    target = make_target(DataConfig(target="ring", target_params="std=0.3"))
    axis = np.linspace(-3, 3, 301)
    grid = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2)
    mass = np.asarray(target.density(jnp.asarray(grid, jnp.float32))).sum() * (axis[1] - axis[0]) ** 2
    assert mass == pytest.approx(1.0, rel=1e-3)


def test_a_file_of_several_columns_is_a_target_of_that_dimension(tmp_path):
    rows = np.random.default_rng(0).normal(size=(300, 3)) * [1, 2, 3]
    path = tmp_path / "points.csv"
    path.write_text("a,b,c\n" + "\n".join(",".join(map(str, row)) for row in rows))
    target = make_target(DataConfig(target=f"file:{path}"))
    assert target.dim == 3 and target.modes is None
    picked = make_target(DataConfig(target=f"file:{path}", columns="c,a"))
    np.testing.assert_array_equal(picked.data, rows[:, [2, 0]])
    assert picked.density(jnp.zeros((4, 2))).shape == (4,)


def test_a_constant_column_is_refused(tmp_path):
    path = tmp_path / "flat.csv"
    path.write_text("1,5\n2,5\n3,5\n")
    with pytest.raises(ConfigError, match="column '.*' of .* holds a single value"):
        make_target(DataConfig(target=f"file:{path}"))


# ---------------------------------------------------------------- what is measured


@pytest.mark.parametrize(("config", "columns"), [
    (DataConfig(), ("mean", "std", "w1", "ks")),
    (DataConfig(target="mixture"), ("mean", "std", "w1", "ks", "modes_captured", "high_quality", "reverse_kl")),
    (DataConfig(target="scipy:gamma", target_params="a=2"), ("mean", "std", "w1", "ks")),
    (DataConfig(target="ring"), ("sliced_w1", "energy", "modes_captured", "high_quality", "reverse_kl", "kl", "js")),
    (DataConfig(target="moons"), ("sliced_w1", "energy", "kl", "js")),
])
def test_the_metrics_recorded_follow_the_target(config, columns):
    assert scoring.metric_columns(make_target(config)) == columns


def test_the_targets_own_samples_score_as_a_perfect_generator():
    target = make_target(DataConfig(target="grid"))
    view = scoring.picture_view(target, 8.0)
    scores = scoring.make_scorer(target, view)(draw(target, 10_000, seed=5), final=True)
    assert scores["modes_captured"] == 25 and scores["high_quality"] > 99
    assert scores["reverse_kl"] < 0.02 and scores["sliced_w1"] < 0.12 and scores["energy"] < 0.1
    assert scores["kl"] < 0.1 and scores["js"] < 0.02


def test_a_collapsed_generator_scores_one_mode():
    target = make_target(DataConfig(target="ring"))
    scores = scoring.make_scorer(target, scoring.picture_view(target, 8.0))(np.tile([[1.0, 0.0]], (1000, 1)))
    assert scores["modes_captured"] == 1 and scores["high_quality"] == 100.0
    assert scores["reverse_kl"] == pytest.approx(np.log(8), rel=1e-12)


def test_non_finite_samples_score_nan_everywhere():
    target = make_target(DataConfig(target="ring"))
    scores = scoring.make_scorer(target, scoring.picture_view(target, 8.0))(np.full((100, 2), np.nan))
    assert all(np.isnan(value) for value in scores.values())


def test_the_picture_is_a_square_around_the_target():
    (x_low, x_high), (y_low, y_high) = scoring.picture_view(make_target(DataConfig(target="ring")), 8.0)
    assert x_high - x_low == pytest.approx(y_high - y_low)
    assert -1.6 < x_low < -1.4 and 1.4 < x_high < 1.6
    assert scoring.picture_view(make_target(DataConfig()), 8.0) == ((-8.0, 8.0),)


# ---------------------------------------------------------------- the engine's 2-D probe


def test_picture_grid_runs_along_x_in_rows_of_rising_y():
    grid = np.asarray(engine.picture_grid(((0.0, 1.0), (10.0, 20.0))))
    side = round(engine.GRID_POINTS**0.5)
    image = grid.reshape(side, side, 2)
    np.testing.assert_allclose(image[0, :, 0], np.linspace(0, 1, side), rtol=1e-6)
    np.testing.assert_allclose(image[:, 0, 1], np.linspace(10, 20, side), rtol=1e-6)


def test_generator_pull_is_minus_each_points_own_gradient():
    config = tinygan.config_from_preset("seed", target="ring", noise="gaussian", noise_dim=2, batch_size=8)
    game = engine.make_game(config)
    params = game.discriminator.init(jax.random.key(0))
    points = jax.random.normal(jax.random.key(1), (20, 2))
    per_point = jax.vmap(jax.grad(lambda x: game.objective.generator_loss(game.discriminator.apply(params, x[None]))))
    np.testing.assert_allclose(engine.generator_pull(game, params, points), -per_point(points), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- a 2-D run


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    config = tinygan.config_from_preset(
        "seed", target="ring", noise="gaussian", noise_dim=2, num_steps=40, pretrain_steps=5, batch_size=16,
        optimizer="adam", learning_rate=1e-3, stop_when="", keep_best=True, best_metric="high_quality",
    )
    result = tinygan.train(config)
    folder = tmp_path_factory.mktemp("ring")
    return result, folder, tinygan.save_run(result, folder)


def test_a_2d_run_records_the_targets_metrics(ring_run):
    result, _, _ = ring_run
    assert tuple(result.history) == ("step", "loss_d", "loss_g") + scoring.metric_columns(result.game.target)
    assert len(result.history["step"]) == 5  # 4 log points and the last iteration
    for name in scoring.metric_columns(result.game.target):
        assert name in result.metrics
    assert result.sample(5, key=jax.random.key(0)).shape == (5, 2)


def test_a_2d_run_keeps_heat_maps_and_arrows(ring_run):
    result, _, _ = ring_run
    for frame in result.frames:
        assert frame.decision.shape == (engine.GRID_POINTS,) and frame.generated.shape == (engine.GRID_POINTS, 2)
        assert frame.pull.shape == (engine.ARROWS, 2) and np.isfinite(frame.pull).all()


def test_keep_best_maximises_a_metric_where_higher_is_better(ring_run):
    result, _, _ = ring_run
    best = int(np.nanargmax(result.history["high_quality"]))
    assert result.metrics["best_step"] == result.history["step"][best]
    assert result.metrics["best_metric"] == result.history["high_quality"][best]


def test_a_2d_run_folder_has_gan_labs_pictures(ring_run):
    _, folder, written = ring_run
    names = {path.name for path in written}
    assert {"distribution.png", "metrics.png", "losses.png", "training.gif", "history.csv"} <= names
    header = (folder / "history.csv").read_text().splitlines()[0]
    assert header == "step,loss_d,loss_g,sliced_w1,energy,modes_captured,high_quality,reverse_kl,kl,js"
    with Image.open(folder / "training.gif") as gif:
        assert gif.n_frames == 5  # 4 log points and the final state


def test_a_metric_the_target_does_not_record_is_refused():
    with pytest.raises(ConfigError, match=r"train.stop_when: w1 is not recorded for target 'ring' \(recorded: loss_d"):
        tinygan.config_from_preset("seed", target="ring", stop_when="w1<0.1")
    with pytest.raises(ConfigError, match="train.best_metric: modes_captured is not recorded for target 'moons'"):
        tinygan.config_from_preset("seed", target="moons", best_metric="modes_captured")


# ---------------------------------------------------------------- pictures


def test_arrows_keep_directions_and_cap_the_outliers():
    pull = np.array([[1.0, 0.0], [0.0, 2.0]] * 5 + [[-1000.0, 0.0]])
    arrows = plots_2d.arrow_vectors(pull, (0, 10, 0, 10))
    lengths = np.linalg.norm(arrows, axis=1)
    assert lengths.max() == pytest.approx(2 * plots_2d.ARROW_LENGTH * 10)  # the outlier, capped
    np.testing.assert_allclose(arrows[:10] / lengths[:10, None], pull[:10] / np.linalg.norm(pull[:10], axis=1)[:, None])
    assert lengths[1] == pytest.approx(2 * lengths[0])
    assert not plots_2d.arrow_vectors(np.zeros((3, 2)), (0, 1, 0, 1)).any()


def test_arrows_are_measured_in_shares_of_each_axis():
    arrows = plots_2d.arrow_vectors(np.array([[1.0, 0.0], [0.0, 10.0]] * 5), (0, 10, 0, 100))
    np.testing.assert_allclose(arrows[:2], [[0.8, 0], [0, 8]])  # ARROW_LENGTH of the width, of the height


def test_a_stretched_target_gets_a_box_of_its_own_shape():
    points = np.random.default_rng(0).normal(size=(10_000, 2)) * [1, 10] + [3, 70]
    (x_low, x_high), (y_low, y_high) = scoring.view_around(points)
    assert (x_low + x_high) / 2 == pytest.approx(3, abs=0.1) and (y_low + y_high) / 2 == pytest.approx(70, abs=1)
    assert (y_high - y_low) / (x_high - x_low) == pytest.approx(10, rel=0.1)


def test_the_2d_animation_has_one_frame_per_entry(tmp_path):
    rng = np.random.default_rng(0)
    generated = [rng.normal(size=(300, 2)) for _ in range(3)]
    plots_2d.save_animation_2d(tmp_path / "a.gif", [0, 10, 20], generated, rng.normal(size=(300, 2)),
                               extent=(-3, 3, -3, 3), decisions=[rng.uniform(size=(10, 10))] * 3,
                               arrows=[(g[:8], rng.normal(size=(8, 2))) for g in generated])
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 3
    assert [p.name for p in tmp_path.iterdir()] == ["a.gif"]


# ---------------------------------------------------------------- G's manifold (the live view's layer)


@pytest.mark.parametrize("noise, noise_dim, shape", [("uniform", 2, (16, 16, 2)), ("gaussian", 3, (16, 16, 2)),
                                                     ("stratified", 1, (1, 256, 2))])
def test_the_manifold_is_g_on_a_lattice_of_noise_levels(noise, noise_dim, shape):
    config = tinygan.config_from_preset("ring", noise=noise, noise_dim=noise_dim, noise_range=1.5)
    game = engine.make_game(config)
    state = engine.init_state(game, jax.random.key(3))
    drawn = np.asarray(engine.manifold(game, state), np.float64)
    assert drawn.shape == shape
    # The levels, by hand: (i + 1/2) / n, x along a lattice row, y down its columns, the rest at the median.
    if noise_dim == 1:
        u = ((np.arange(256) + 0.5) / 256)[:, None]
    else:
        levels = (np.arange(16) + 0.5) / 16
        u = np.stack([np.tile(levels, 16), np.repeat(levels, 16), *[np.full(256, 0.5)] * (noise_dim - 2)], axis=1)
    if noise == "gaussian":
        z = 1.5 / np.sqrt(3) * scipy.stats.norm.ppf(u)
    else:
        z = -1.5 + 3.0 * u
    expected = game.units.to_data(game.generator.apply(state.generator, jnp.asarray(z, jnp.float32)))
    np.testing.assert_allclose(drawn.reshape(-1, 2), np.asarray(expected, np.float64), rtol=1e-5, atol=1e-6)
