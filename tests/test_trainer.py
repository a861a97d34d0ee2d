"""`tinygan.train`: determinism, the history it records, its metrics, and the trained result's methods."""

import jax
import numpy as np
import pytest
from helpers import trees_equal, without_timings

import tinygan
from tinygan import engine
from tinygan.engine.resolve import resolved
from tinygan.measure.metrics import distances
from tinygan.training import loop as trainer

SEED_COLUMNS = ("step", "loss_d", "loss_g", "mean", "std", "w1", "ks")  # what a 1-D run records


@pytest.fixture(scope="module")
def rerun(seed_config):
    return tinygan.train(seed_config)


@pytest.fixture(scope="module")
def other_seed(seed_config):
    return tinygan.train(tinygan.replace(seed_config, seed=43))


@pytest.fixture(scope="module")
def short_run(seed_config):
    """The same seed stopped at 25 iterations (mid-interval), without log-point pictures, with a progress callback."""
    calls = []
    result = tinygan.train(tinygan.replace(seed_config, num_steps=25), frames=False,
                           progress=lambda done, rows: calls.append((done, rows)))
    return result, calls


# ---------------------------------------------------------------- determinism


def test_same_config_gives_a_bit_identical_run(seed_result, rerun):
    assert seed_result.history.keys() == rerun.history.keys()
    for name in SEED_COLUMNS:
        np.testing.assert_array_equal(seed_result.history[name], rerun.history[name], err_msg=name)
    assert without_timings(seed_result.metrics) == without_timings(rerun.metrics)
    assert trees_equal(seed_result.state, rerun.state)
    np.testing.assert_array_equal(seed_result.pretrain_losses, rerun.pretrain_losses)
    assert len(seed_result.frames) == len(rerun.frames)
    for a, b in zip(seed_result.frames, rerun.frames):
        assert a.step == b.step
        np.testing.assert_array_equal(a.decision, b.decision)
        np.testing.assert_array_equal(a.generated, b.generated)


def test_runs_of_other_seeds_share_the_game_and_its_compiled_programs(seed_config):
    """The seed, the log interval, the stopping rule... never shape a game (`engine.RUN_ONLY`): a process that
    trains seed after seed builds one game and compiles its programs once."""
    assert engine.make_game(seed_config) is engine.make_game(tinygan.replace(seed_config, seed=7, log_every=5,
                                                                              device="cpu", keep_best=True))
    first = tinygan.train(tinygan.replace(seed_config, seed=44))
    compiled = trainer._compiled.cache_info().misses
    second = tinygan.train(tinygan.replace(seed_config, seed=45))
    assert trainer._compiled.cache_info().misses == compiled  # found, not compiled
    assert first.metrics["w1"] != second.metrics["w1"]


def test_another_seed_gives_another_run(seed_result, other_seed):
    for name in ("loss_d", "loss_g", "w1"):
        assert np.all(seed_result.history[name] != other_seed.history[name]), name
    assert seed_result.metrics["w1"] != other_seed.metrics["w1"]
    for a, b in zip(jax.tree.leaves(seed_result.state.generator), jax.tree.leaves(other_seed.state.generator)):
        assert not np.array_equal(a, b)


@pytest.fixture(scope="module")
def finer_run(seed_config):
    """The same seed logged at every iteration to 30: its row at 24 has iteration 24's losses, at 25 the state."""
    return tinygan.train(tinygan.replace(seed_config, num_steps=30, log_every=1), frames=False)


def test_stopping_early_and_skipping_pictures_change_no_number(seed_result, short_run):
    """Iterations 0-24 do not depend on num_steps, chunking or pictures: the first 3 rows match bit for bit."""
    result, _ = short_run
    np.testing.assert_array_equal(result.history["step"], [0, 10, 20, 25])
    for name in SEED_COLUMNS:
        np.testing.assert_array_equal(result.history[name][:3], seed_result.history[name][:3], err_msg=name)
    assert int(result.state.step) == 25  # the last interval's 5 iterations past 25 were masked out
    assert result.metrics["iterations"] == 25 and result.status == "finished"


# ---------------------------------------------------------------- what a run records


def test_history_has_one_row_per_log_point_and_one_for_the_last_iteration(seed_result):
    history = seed_result.history
    assert tuple(history) == ("step", "loss_d", "loss_g", "mean", "std", "w1", "ks")
    np.testing.assert_array_equal(history["step"], [0, 10, 20, 30, 40, 50])
    for name in tuple(history)[1:]:
        assert history[name].shape == (6,) and np.all(np.isfinite(history[name])), name
    assert np.all((history["ks"] >= 0) & (history["ks"] <= 1))


def test_history_distances_describe_the_frames(seed_result):
    """Row i measures G on the noise grid at the start of log interval i, the picture frame i shows: exactly for
    the final frame (all of G's samples), closely for the kept ones (1,000 of their quantiles, `Frame.kept`)."""
    law = seed_result.game.target.distribution()
    for i, frame in enumerate(seed_result.frames):  # the last: the final state, which the last row measures
        assert frame.step == seed_result.history["step"][i]
        row = distances(frame.generated, law)
        for name in ("mean", "std", "w1", "ks"):
            if i == len(seed_result.frames) - 1:
                assert seed_result.history[name][i] == row[name], name
            else:
                np.testing.assert_allclose(seed_result.history[name][i], row[name], rtol=0.01, atol=0.002,
                                           err_msg=f"{i} {name}")


def test_a_kept_1d_frame_holds_evenly_spaced_order_statistics_and_the_rest_as_it_was():
    generated = np.random.default_rng(0).normal(size=(engine.GRID_POINTS, 1)).astype(np.float32)
    decision = np.linspace(0, 1, engine.CURVE_POINTS, dtype=np.float32)
    kept = trainer.Frame(7, decision, generated).kept()
    assert kept.step == 7 and kept.decision is decision and kept.pull is None
    np.testing.assert_array_equal(kept.generated, np.sort(generated, axis=0)[5::10])  # ranks 6, 16, ..., 9996
    assert kept.generated.shape == (engine.CURVE_POINTS, 1)
    flat = trainer.Frame(7, None, np.zeros((engine.GRID_POINTS, 2), np.float32))
    assert flat.kept() is flat  # 2-D samples draw a scatter: every one is kept
    few = trainer.Frame(7, decision, generated[:1500])
    assert few.kept() is few  # fewer than two samples per quantile: nothing to thin


def test_frames_are_every_log_point_then_the_final_state(seed_result):
    frames = seed_result.frames
    assert [f.step for f in frames] == [0, 10, 20, 30, 40, 50]
    for f in frames:  # D's curve on 1,000 points; G's samples: 1,000 quantiles kept, all of them at the end
        points = engine.GRID_POINTS if f is frames[-1] else engine.CURVE_POINTS
        assert f.decision.shape == (engine.CURVE_POINTS,) and f.generated.shape == (points, 1)
        assert np.all((f.decision >= 0) & (f.decision <= 1))
    final = frames[-1]
    grid = seed_result.game.noise.grid(engine.GRID_POINTS)
    expected = seed_result.game.generator.apply(seed_result.state.generator, grid)
    np.testing.assert_allclose(final.generated, expected, rtol=1e-6, atol=1e-6)
    xs = np.linspace(-8, 8, engine.CURVE_POINTS, dtype=np.float32)[:, None]
    np.testing.assert_allclose(final.decision, seed_result.discriminate(xs), rtol=1e-5, atol=1e-6)


def test_the_last_row_holds_the_last_iterations_losses_and_the_final_states_measures(short_run, finer_run):
    """A run's last row (step 25, no interval after it): the losses of its last iteration (24), as a run logging
    every iteration records them, and G's measures at the state that iteration left, as that run's row at 25."""
    result, _ = short_run
    row = {name: values[-1] for name, values in result.history.items()}
    assert row["step"] == 25 and list(finer_run.history["step"][24:27]) == [24, 25, 26]
    for name in ("loss_d", "loss_g"):
        assert row[name] == finer_run.history[name][24], name
    for name in ("mean", "std", "w1", "ks"):
        assert row[name] == finer_run.history[name][25], name


def test_a_run_shorter_than_its_log_interval_logs_its_first_and_last_iteration(seed_config):
    result = tinygan.train(tinygan.replace(seed_config, num_steps=7, log_every=10), frames=False)
    np.testing.assert_array_equal(result.history["step"], [0, 7])
    assert np.all(np.isfinite(result.history["w1"]))


def test_without_frames_only_the_final_frame_is_kept(short_run):
    result, _ = short_run
    assert [f.step for f in result.frames] == [25]


def test_progress_is_called_after_each_chunk_with_its_rows(short_run):
    result, calls = short_run
    # Two chunks: two whole log intervals, then the partial interval of 5 iterations; then the last row.
    assert [done for done, _ in calls] == [20, 25, 25]
    assert [[row["step"] for row in rows] for _, rows in calls] == [[0, 10], [20], [25]]
    rows = [row for _, chunk in calls for row in chunk]
    for row, i in zip(rows, range(4), strict=True):
        assert tuple(row) == ("step", "loss_d", "loss_g", "mean", "std", "w1", "ks")
        assert row["loss_d"] == result.history["loss_d"][i] and row["w1"] == result.history["w1"][i]


def test_metrics(seed_result, seed_config):
    metrics = seed_result.metrics
    assert set(metrics) == {"status", "mean", "std", "w1", "ks", "samples", "iterations", "seconds", "verdict"}
    assert metrics["verdict"]["learned"] == (metrics["w1"] <= 0.1 * 0.5)  # a tenth of N(4, 0.5)'s spread
    assert metrics["status"] == seed_result.status == "finished"
    assert metrics["iterations"] == int(seed_result.state.step) == 50
    assert metrics["samples"] == trainer.FINAL_SAMPLES == 100_000
    seconds = metrics["seconds"]
    assert set(seconds) == {"compile", "pretrain", "train", "metrics", "total"}
    assert all(v >= 0 for v in seconds.values())
    assert sum(v for k, v in seconds.items() if k != "total") <= seconds["total"]
    # The final metrics measure FINAL_SAMPLES samples of the final G. The stratified noise is a grid plus a
    # 0.01 jitter, so samples under any other key give the same distances to within ~1e-4.
    samples = seed_result.sample(trainer.FINAL_SAMPLES, key=jax.random.key(123))
    expected = distances(samples, seed_result.game.target.distribution())
    assert expected["w1"] > 1  # this short run is far from the target: the comparison below means something
    for name in ("mean", "std", "w1", "ks"):
        np.testing.assert_allclose(metrics[name], expected[name], rtol=1e-3, atol=1e-3, err_msg=name)


def test_result_config_is_resolved(seed_result, seed_config):
    assert seed_result.config == resolved(seed_config)
    assert seed_result.config.optim.learning_rate == 0.03
    assert seed_result.pretrain_losses.shape == (1000,)


# ---------------------------------------------------------------- sample and discriminate


def test_sample_shape_and_determinism(seed_result):
    a = seed_result.sample(1000, key=jax.random.key(1))
    assert a.shape == (1000, 1) and a.dtype == np.float32 and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, seed_result.sample(1000, key=jax.random.key(1)))
    assert not np.array_equal(a, seed_result.sample(1000, key=jax.random.key(2)))
    game = seed_result.game
    expected = game.generator.apply(seed_result.state.generator, game.noise.sample(jax.random.key(1), 1000))
    np.testing.assert_allclose(a, expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError):
        seed_result.sample(10, jax.random.key(1))  # the key is keyword-only


def test_discriminate(seed_result):
    x = np.linspace(-8, 8, 50)[:, None]  # float64 in, 4 batches of 12 plus 2
    d = seed_result.discriminate(x)
    assert isinstance(d, np.ndarray) and d.shape == (50,)
    assert np.all((d >= 0) & (d <= 1))
    logits = seed_result.game.discriminator.apply(seed_result.state.discriminator, x.astype(np.float32))
    np.testing.assert_allclose(d, jax.nn.sigmoid(logits), rtol=1e-5, atol=1e-6)


def test_sample_returns_a_numpy_array(seed_result):
    assert isinstance(seed_result.sample(10, key=jax.random.key(0)), np.ndarray)
