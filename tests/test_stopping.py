"""Stopping rules and keep-best: the rule's parser, exact stops at a log point, the best state, options off.

The reference run (100 iterations after 20 pre-training steps, one compiled chunk of 10 log intervals) has
w1 = 5.45, 4.99, 4.80, 4.39, 4.88, 4.84, 5.22, ... and mean = 0.65, 1.01, ... at steps 0, 10, 20, ...:
w1 falls below 4.5 first at step 30 (mid-chunk), mean rises above 0.9 first at step 10, and w1's best is
step 30, so a plateau of 3 log points ends at step 60. Each stopped run must equal, bit for bit, a run of
exactly that many iterations.
"""

import numpy as np
import pytest
from helpers import trees_equal, without_timings

import tinygan
from tinygan import cli
from tinygan.cli import reporting
from tinygan.config import ConfigError, StopRule, parse_stop_rule
from tinygan.engine.resolve import resolved

SEED_COLUMNS = ("step", "loss_d", "loss_g", "mean", "std", "w1", "ks")  # what a 1-D run records


@pytest.fixture(scope="module")
def config():
    return tinygan.config_from_preset("seed", num_steps=100, pretrain_steps=20)


@pytest.fixture(scope="module")
def full(config):
    return tinygan.train(config)


@pytest.fixture(scope="module")
def exactly(config):
    """Runs of exactly n iterations, trained once each."""
    cache = {}

    def run(n):
        if n not in cache:
            cache[n] = tinygan.train(tinygan.replace(config, num_steps=n))
        return cache[n]

    return run


@pytest.fixture(scope="module")
def below(config):
    return tinygan.train(tinygan.replace(config, stop_when="w1<4.5"))


@pytest.fixture(scope="module")
def plateau_best(config):
    return tinygan.train(tinygan.replace(config, stop_when="plateau", plateau_window=3, keep_best=True))


# ---------------------------------------------------------------- the rule's parser


@pytest.mark.parametrize("text, rule", [
    ("", None),
    ("  ", None),
    ("w1<0.02", StopRule("<", "w1", 0.02)),
    (" ks > .5 ", StopRule(">", "ks", 0.5)),
    ("mean>-1e-3", StopRule(">", "mean", -0.001)),
    ("loss_d<+2", StopRule("<", "loss_d", 2.0)),
    ("plateau", StopRule("plateau")),
])
def test_parse_stop_rule(text, rule):
    assert parse_stop_rule(text) == rule


@pytest.mark.parametrize("text, message", [
    ("w1<<3", "train.stop_when: expected METRIC<NUMBER, METRIC>NUMBER or plateau, got 'w1<<3'"),
    ("w1<=3", "train.stop_when: expected METRIC<NUMBER, METRIC>NUMBER or plateau, got 'w1<=3'"),
    ("w1<", "train.stop_when: expected METRIC<NUMBER, METRIC>NUMBER or plateau, got 'w1<'"),
    ("w1<inf", "train.stop_when: the threshold 'inf' in 'w1<inf' is not a finite number (expected METRIC<NUMBER, "
               "METRIC>NUMBER or plateau)"),
    ("w1 > nan", "train.stop_when: the threshold 'nan' in 'w1 > nan' is not a finite number (expected METRIC<NUMBER, "
                 "METRIC>NUMBER or plateau)"),
    ("__import__('os')<1", ("train.stop_when: expected METRIC<NUMBER, METRIC>NUMBER or plateau, "
                            "got \"__import__('os')<1\"")),
    ("Plateau", "train.stop_when: expected METRIC<NUMBER, METRIC>NUMBER or plateau, got 'Plateau'"),
    ("step>10", "train.stop_when: unknown metric 'step' in 'step>10' (known: loss_d, loss_g, mean, std, w1, ks, sliced_w1, energy, modes_captured, high_quality, reverse_kl, kl, js, floor_ratio, classifier, memorised, corr_error)"),
    ("fid<3", "train.stop_when: unknown metric 'fid' in 'fid<3' (known: loss_d, loss_g, mean, std, w1, ks, sliced_w1, energy, modes_captured, high_quality, reverse_kl, kl, js, floor_ratio, classifier, memorised, corr_error)"),
    ("w1<1e999", "train.stop_when: the threshold must be finite, got 'w1<1e999'"),
])
def test_bad_rules_name_the_field(text, message):
    with pytest.raises(ConfigError) as error:
        tinygan.config_from_preset("seed", stop_when=text)
    assert str(error.value) == message


@pytest.mark.parametrize("overrides, message", [
    ({"plateau_metric": "step"}, "train.plateau_metric: must be one of classifier, corr_error, energy, floor_ratio, high_quality, js, kl, ks, loss_d, loss_g, mean, memorised, modes_captured, reverse_kl, sliced_w1, std, w1, got 'step'"),
    ({"plateau_window": 0}, "train.plateau_window: must be >= 1, got 0"),
    ({"plateau_tolerance": -0.1}, "train.plateau_tolerance: must be >= 0, got -0.1"),
    ({"keep_best": 1}, "train.keep_best: must be true or false, got 1"),
    ({"best_metric": "fid"}, "train.best_metric: must be one of classifier, corr_error, energy, floor_ratio, high_quality, js, kl, ks, loss_d, loss_g, mean, memorised, modes_captured, reverse_kl, sliced_w1, std, w1, got 'fid'"),
])
def test_bad_settings_name_the_field(overrides, message):
    with pytest.raises(ConfigError) as error:
        tinygan.config_from_preset("seed", **overrides)
    assert str(error.value) == message


def test_cli_parses_stop_when_and_keep_best():
    args = cli.build_parser().parse_args(["train", "--stop-when", "w1<0.5", "--keep-best", "--plateau-window", "5"])
    config = cli.config_from_args(args)
    assert config.train.stop_when == "w1<0.5" and config.train.keep_best is True
    assert config.train.plateau_window == 5 and config.train.best_metric == ""
    assert resolved(config).train.best_metric == "w1"  # empty: the target's main distance
    assert cli.main(["train", "--stop-when", "w1<<3", "--out", "unused"]) == cli.EXIT_USAGE


# ---------------------------------------------------------------- exact stops


def check_stopped_exactly(result, full, reference, step: int, reason: str):
    """History ends at the row of `step`, equal to the full run's rows; the state is a `step`-iteration run's."""
    rows = int(np.flatnonzero(full.history["step"] == step)[0]) + 1
    for name in SEED_COLUMNS:
        np.testing.assert_array_equal(result.history[name], full.history[name][:rows], err_msg=name)
    assert result.status == result.metrics["status"] == "stopped"
    assert result.metrics["iterations"] == result.metrics["stopped_at"] == int(result.state.step) == step
    assert result.metrics["stop_reason"] == reason
    assert trees_equal(result.state, reference.state)
    for name in ("mean", "std", "w1", "ks", "samples"):
        assert result.metrics[name] == reference.metrics[name], name
    assert [f.step for f in result.frames] == list(range(0, step + 1, 10))
    np.testing.assert_array_equal(result.frames[-1].generated, reference.frames[-1].generated)


def test_threshold_below_stops_at_the_first_row_that_meets_it(below, full, exactly):
    w1 = full.history["w1"]
    assert np.all(w1[:3] >= 4.5) and w1[3] < 4.5  # the known run crosses at step 30, mid-chunk
    check_stopped_exactly(below, full, exactly(30), 30, f"w1<4.5 at step 30: w1 = {w1[3]:.6g}")


def test_threshold_above_stops_at_the_first_row_that_meets_it(config, full, exactly):
    result = tinygan.train(tinygan.replace(config, stop_when="mean>0.9"))
    mean = full.history["mean"]
    assert mean[0] <= 0.9 < mean[1]
    check_stopped_exactly(result, full, exactly(10), 10, f"mean>0.9 at step 10: mean = {mean[1]:.6g}")


def test_plateau_stops_after_the_window_and_keep_best_keeps_the_best_state(plateau_best, full, exactly):
    w1 = full.history["w1"]
    assert np.argmin(w1[:7]) == 3 and np.all(w1[4:7] >= w1[3])  # best at step 30, then 3 rows without a better
    result = plateau_best
    np.testing.assert_array_equal(result.history["w1"], w1[:7])
    metrics = result.metrics
    assert result.status == "stopped" and metrics["stopped_at"] == 60
    assert metrics["stop_reason"] == (f"plateau: w1 did not improve by more than 0 in 3 log points "
                                      f"(best {w1[3]:.6g}) at step 60")
    assert metrics["best_step"] == 30 and metrics["best_metric"] == w1[3]
    assert metrics["iterations"] == int(result.state.step) == 30
    assert trees_equal(result.state, exactly(30).state)
    assert metrics["w1"] == exactly(30).metrics["w1"]


def test_keep_best_with_a_rule_never_met_runs_to_the_end(config, full, exactly):
    result = tinygan.train(tinygan.replace(config, stop_when="ks<0", keep_best=True, best_metric="std"))
    best = int(np.argmin(full.history["std"]))
    assert full.history["step"][best] == 30  # std's lowest row
    assert result.status == result.metrics["status"] == "finished" and "stopped_at" not in result.metrics
    for name in SEED_COLUMNS:
        np.testing.assert_array_equal(result.history[name], full.history[name], err_msg=name)
    assert result.metrics["best_step"] == 30 and result.metrics["best_metric"] == full.history["std"][best]
    assert result.metrics["iterations"] == 30 and trees_equal(result.state, exactly(30).state)


def test_options_off_leave_the_run_unchanged(seed_result, seed_config):
    """Plateau and best settings without stop_when or keep_best change no number."""
    result = tinygan.train(tinygan.replace(seed_config, plateau_window=2, plateau_metric="ks", best_metric="std"))
    assert without_timings(result.metrics) == without_timings(seed_result.metrics)
    assert set(result.metrics) == {"status", "mean", "std", "w1", "ks", "samples", "iterations", "seconds", "verdict"}
    assert trees_equal(result.state, seed_result.state)
    for name in SEED_COLUMNS:
        np.testing.assert_array_equal(result.history[name], seed_result.history[name], err_msg=name)


def test_summary_shows_why_the_run_stopped(plateau_best, tmp_path):
    text = reporting.summary(plateau_best, tmp_path, [])
    assert f"stopped: {plateau_best.metrics['stop_reason']}" in text
    assert f"kept the best state: step 30, w1 {plateau_best.metrics['best_metric']:.4f}" in text
    assert "interrupted" not in text
