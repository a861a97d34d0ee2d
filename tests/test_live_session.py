"""The live session without HTTP (`tinygan.live.session`, `tinygan.live.settings`): a session played from a
preset is the run `tinygan train` makes, bit for bit; single D, G and whole steps change what they say and
nothing else; settings keep the weights or start again as documented, and a refused value changes nothing;
divergence pauses at the last finite state; a snapshot is a checkpoint that `tinygan resume` finishes.

Sessions compile their programs when made, so a few are shared per module (closed at teardown); tests that
share one read its state before they act and never assume another test's order.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from helpers import assert_trees_equal, trees_equal

import tinygan
from tinygan import cli, engine
from tinygan.cli.configfile import parse_args_with_config
from tinygan.config import replace
from tinygan.config.toml import config_toml
from tinygan.engine import tuning
from tinygan.engine.resolve import resolved
from tinygan.live import programs
from tinygan.live.programs import STRUCTURES, Programs
from tinygan.live import session as live_session
from tinygan.live.session import MAX_SPEED, Session, carry_over
from tinygan.live import settings
from tinygan.live.settings import LIMITS, SettingsError
from tinygan.runs import checkpoints

DIVERGED = ("training diverged after step {step:,} (a non-finite loss or weight): the session stays at the last "
            "finite state; lower a learning rate, add a stabilizer or reset")

_train_step = jax.jit(engine.train_step, static_argnums=0)
_init_state = jax.jit(engine.init_state, static_argnums=0)


def wait_until(condition, seconds: float = 60) -> None:
    """Poll `condition` until it holds; fail (never hang) after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting after {seconds} s"
        time.sleep(0.005)


def assert_started_from(session: Session, seed: int) -> None:
    """The session holds the weights `seed` starts with: G as drawn (pre-training moves only D), D pre-trained,
    and the seed's training key."""
    key_setup, key_train, _ = jax.random.split(jax.random.key(seed), 3)
    drawn = _init_state(session.game, jax.random.split(key_setup)[0])  # engine.setup's own split
    assert_trees_equal(session.state.generator, drawn.generator)
    assert_trees_equal(session.state.generator_opt, drawn.generator_opt)
    assert int(session.state.step) == 0 and session.pretrain_losses.shape == (session.config.optim.pretrain_steps,)
    np.testing.assert_array_equal(jax.random.key_data(session.key_train), jax.random.key_data(key_train))


def assert_trees_close(a, b) -> None:
    """Two pytrees equal up to float32 rounding: integers exactly, floats to a few units in the last place (the
    session's knobs are arguments of its programs, where `tinygan train` bakes them in as constants: XLA fuses
    a little differently)."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        x, y = np.asarray(x), np.asarray(y)
        if np.issubdtype(x.dtype, np.floating):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(x, y)


def integer_leaves(tree) -> list[int]:
    """The integer leaves of a pytree (an optimizer's step counts), as Python ints."""
    return [int(leaf) for leaf in jax.tree.leaves(tree) if np.issubdtype(np.asarray(leaf).dtype, np.integer)]


# ---------------------------------------------------------------- shared sessions


@pytest.fixture(scope="module")
def played(seed_config):
    """A session of `seed_config` (what `tinygan train --num-steps 50` runs): 10 single iterations (their
    snapshot kept), then played to its end at full speed, in compiled chunks."""
    session = Session(seed_config)
    try:
        for _ in range(10):
            session.step_once("step")
        early = session.snapshot()
        session.set_speed(None)
        session.play()
        wait_until(lambda: not session.playing)
        yield session, early
    finally:
        session.close()


@pytest.fixture(scope="module")
def session(seed_config):
    """A session the tests below step and reconfigure; each reads its state first."""
    session = Session(seed_config)
    yield session
    session.close()


# ---------------------------------------------------------------- playing is tinygan train


def test_a_session_played_to_its_end_is_the_run_train_makes(played, seed_result, seed_config):
    # seed_result is train(seed_config): its frames change no number of the state or the history.
    session, _ = played
    trained = seed_result
    assert_trees_close(session.state, trained.state)
    snapshot = session.snapshot()
    assert list(snapshot.history) == list(trained.history) == ["step", "loss_d", "loss_g", "mean", "std", "w1", "ks"]
    for name, values in trained.history.items():
        assert snapshot.history[name].dtype == values.dtype, name
        np.testing.assert_allclose(snapshot.history[name], values, rtol=1e-4, atol=1e-5, err_msg=name)
    np.testing.assert_array_equal(snapshot.pretrain_losses, trained.pretrain_losses)
    assert snapshot.config == resolved(seed_config) and snapshot.status == "finished"
    status = session.status()
    assert (status["step"], status["num_steps"], status["playing"], status["error"]) == (50, 50, False, None)
    assert status["message"] == "trained 50 iterations: press play to go on"
    assert status["iterations_per_second"] == 0.0  # paused


def test_a_whole_step_at_the_end_plays_on_like_play(seed_config):
    session = Session(replace(seed_config, num_steps=3))
    try:
        for _ in range(4):
            session.step_once("step")
        assert session.step == 4 and session.config.train.num_steps == 6
        assert session.status()["message"] == "playing on to 6 iterations" and session.error is None
    finally:
        session.close()


def test_one_iteration_is_the_train_step_on_the_iterations_key(session):
    before, rows = session.state, len(session.history.rows)
    key = engine.step_key(session.key_train, before.step)
    session.step_once("step")
    expected, metrics = _train_step(engine.make_game(session.config), before, key)
    assert_trees_close(session.state, expected)
    assert session.step == int(before.step) + 1
    at_log_point = int(before.step) % session.config.train.log_every == 0
    assert len(session.history.rows) == rows + at_log_point
    if at_log_point:  # the row describes the state the iteration started from, with that iteration's losses
        assert session.history.rows[-1][0] == int(before.step)
        np.testing.assert_allclose(session.history.rows[-1][1:3], [metrics.loss_d, metrics.loss_g], rtol=1e-5)
    assert session.status()["step"] == session.step


@pytest.mark.parametrize("kind, changed, kept", [
    ("d", ("discriminator", "discriminator_opt"), ("generator", "generator_opt", "step", "generator_ema")),
    ("g", ("generator", "generator_opt"), ("discriminator", "discriminator_opt", "step", "generator_ema")),
])
def test_a_single_d_or_g_step_moves_only_its_network(session, kind, changed, kept):
    before, rows = session.state, list(session.history.rows)
    session.step_once(kind)
    after = session.state
    for name in kept:
        assert trees_equal(getattr(after, name), getattr(before, name)), name
    network, optimizer = changed
    assert not trees_equal(getattr(after, network), getattr(before, network))
    # One optimizer step: each of its counts goes up by exactly one.
    assert integer_leaves(getattr(after, optimizer)) == [n + 1 for n in integer_leaves(getattr(before, optimizer))]
    assert session.history.rows == rows  # no iteration: no history row
    message = session.status()["message"]
    match = re.fullmatch(rf"one {kind.upper()} step: its loss (\S+)", message)
    assert match and np.isfinite(float(match.group(1))), message
    assert session.playing is False and session.error is None


def test_reset_starts_again_from_the_new_seeds_weights(session):
    session.step_once("step")
    session.reset(seed=7)
    config = session.config
    assert config.train.seed == 7 and session.step == 0 and session.history.rows == []
    assert_started_from(session, 7)
    assert session.status()["message"] == "started again with seed 7"


def test_reset_with_the_same_seed_still_starts_again(session):
    session.step_once("step")
    seed = session.config.train.seed
    session.reset(seed=seed)
    assert session.step == 0 and session.history.rows == []
    assert session.status()["message"] == f"started again with seed {seed}"


def test_a_pause_reaches_the_pages(session):
    session.set_speed(5)  # an iteration, and its frame, every 0.2 s: the thread waits between them
    try:
        for _ in range(3):
            session.play()
            shown = session.published.frame_id
            wait_until(lambda shown=shown: session.published.frame_id != shown)  # one the thread drew as it played
            session.pause()  # at once: within 1/FRAME_RATE s of that frame
            frame = json.loads(session.published.frame)
            assert (frame["status"]["playing"], frame["step"]) == (False, session.step)
    finally:
        session.pause()
        session.set_speed(None)


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize("changes, expected", [
    ({"seed": 9}, lambda config: replace(config, seed=9)),
    ({"preset": "seed"}, lambda config: tinygan.config_from_preset("seed")),  # 1200 iterations
    ({"target": "mixture"}, lambda config: dataclasses.replace(replace(config, target="mixture"), preset="custom")),
], ids=["seed", "preset", "target"])
def test_seed_preset_and_target_start_again(session, changes, expected):
    if session.step == 0:
        session.step_once("d")  # weights that starting again must replace
    config, before = session.config, session.state
    session.change(changes)
    assert session.config == expected(config)
    assert session.step == 0 and session.history.rows == [] and session.playing is False
    assert_started_from(session, session.config.train.seed)
    assert not trees_equal(session.state.discriminator, before.discriminator)
    assert session.status()["message"] == "started again with the new settings"


def test_objective_optimizer_rates_and_batch_keep_the_weights(session):
    before, config, step = session.state, session.config, session.step
    changes = {"objective": "minimax", "optimizer": "adam", "generator_learning_rate": 0.01,
               "discriminator_learning_rate": 0.02, "batch_size": 17}  # a structure this session never compiled
    session.change(changes)
    # A new optimizer and batch size are a new structure: training goes on with the old until it is compiled.
    assert session.status()["message"] == ("objective, optimizer, generator_learning_rate, discriminator_learning_rate,"
                                           " batch_size changed: compiling for it; training goes on with the old "
                                           "settings meanwhile")
    assert session.status()["settings"]["batch_size"] == 17  # the page shows what it asked for
    wait_until(lambda: not session.status()["compiling"])
    after = session.state
    assert session.config == replace(config, objective="minimax", optimizer="adam", generator_learning_rate=0.01,
                                      discriminator_learning_rate=0.02, batch_size=17)
    assert_trees_equal((after.generator, after.discriminator, after.step), (before.generator, before.discriminator,
                                                                            before.step))
    # sgd's state does not fit adam: a fresh adam state for each network, at the kept weights.
    assert_trees_equal(after.generator_opt, session.game.generator_optimizer.init(before.generator))
    assert_trees_equal(after.discriminator_opt, session.game.discriminator_optimizer.init(before.discriminator))
    status = session.status()
    assert status["message"] == f"the new settings are compiled: training goes on with them from step {step:,}"
    assert {name: status["settings"][name] for name in changes} == changes
    assert session.game.batch_size == 17


def test_the_same_settings_again_change_nothing(session):
    before, config = session.state, session.config
    session.change({"objective": config.train.objective, "batch_size": config.train.batch_size})
    assert session.state is before and session.config is config
    assert session.status()["message"] == "nothing changed"


REFUSED = [
    ({"learning_rate": 0.1}, "'learning_rate': unknown setting (known: preset, target, objective, "),
    ({"num_steps": 10}, "'num_steps': unknown setting"),
    ({"batch_size": "12"}, "Batch size: must be a whole number, got '12'"),
    ({"batch_size": 12.0}, "Batch size: must be a whole number, got 12.0"),
    ({"batch_size": True}, "Batch size: must be a whole number, got True"),
    ({"r1": True}, "R1 penalty: must be a finite number, got True"),
    ({"minibatch": 1}, "Minibatch discrimination: must be true or false, got 1"),
    ({"batch_size": 0}, "Batch size: must be >= 1, got 0"),
    ({"batch_size": LIMITS["batch_size"] + 1}, "Batch size: at most 4,096 in the live view, got 4,097"),
    ({"batch_size": 2**70}, "Batch size: at most 4,096 in the live view, got 1,180,591,620,717,411,303,424"),
    ({"n_critic": LIMITS["n_critic"] + 1}, "D steps per G step: at most 20 in the live view, got 21"),
    ({"unroll_steps": LIMITS["unroll_steps"] + 1}, "Unrolled steps: at most 20 in the live view, got 21"),
    ({"n_critic": 0}, "D steps per G step: must be >= 1, got 0"),
    ({"seed": -1}, "Seed: must be >= 0, got -1"),
    ({"seed": 2**32}, "Seed: must be < 2**32, got 4294967296"),
    ({"seed": 1e309}, "Seed: must be a whole number, got inf"),
    ({"generator_learning_rate": -0.1}, "G learning rate: must be >= 0, got -0.1"),
    ({"discriminator_learning_rate": float("nan")}, "D learning rate: must be a finite number"),
    ({"generator_learning_rate": float("inf")}, "G learning rate: must be a finite number, got inf"),
    ({"label_smoothing": 1.0}, "Label smoothing: must be < 1, got 1.0"),
    ({"generator_ema": 1.0}, "G weights EMA: must be < 1, got 1.0"),
    ({"gradient_penalty": -1.0}, "Gradient penalty: must be >= 0, got -1.0"),
    ({"objective": "wasserstein", "label_smoothing": 0.1}, "Label smoothing: only the cross-entropy objectives"),
    ({"objective": "hinge"}, "Objective: must be one of "),
    ({"objective": None}, "Objective: must be a string, got None"),
    ({"objective": ["minimax"]}, "Objective: must be a string, got ['minimax']"),
    ({"optimizer": "lbfgs"}, "Optimizer: must be one of adam, rmsprop, sgd, got 'lbfgs'"),
    ({"preset": "nope"}, "Preset: must be one of seed, seed-minibatch, recommended, ring, grid, "),
    ({"preset": ["seed"]}, "Preset: must be one of "),
    ({"target": "file:/etc/passwd"}, ("Target: must be one of gaussian, mixture, ring, grid, spiral, swiss_roll, "
                                      "moons or upload, got 'file:/etc/passwd'")),
    ({"target": "../pyproject.toml"}, "Target: must be one of "),
    ({"target": {"file": "x"}}, "Target: must be one of "),
    ({"target": "upload"}, "Target: no file uploaded yet"),
    ({}, "settings: expected a JSON object of settings to change"),
    (["objective"], "settings: expected a JSON object of settings to change"),
    (None, "settings: expected a JSON object of settings to change"),
]


@pytest.mark.parametrize("changes, message", REFUSED, ids=[str(i) for i in range(len(REFUSED))])
def test_a_refused_setting_is_one_line_and_changes_nothing(session, changes, message):
    before, config, status = session.state, session.config, session.status()
    with pytest.raises(SettingsError) as raised:
        session.change(changes)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    assert session.state is before and session.config is config
    assert session.status() == status


def test_a_failed_upload_is_not_kept(session, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("x\n1\nnot a number\n")
    config = session.config
    with pytest.raises(SettingsError, match=r"line 3, column 0 \('x'\): 'not a number' is not a number"):
        session.use_upload(str(bad))
    assert session.upload is None and session.config is config
    with pytest.raises(SettingsError, match="^Target: no file uploaded yet$"):
        session.change({"target": "upload"})


@pytest.mark.parametrize("value", [1, 1_000, MAX_SPEED, None])
def test_speed_takes_iterations_a_second_or_none(session, value):
    session.set_speed(value)
    assert session.speed == value and session.status()["speed"] == value
    session.set_speed(None)


@pytest.mark.parametrize("value", [0, -5, 1.5, 100.0, True, "10", MAX_SPEED + 1, 2**70, float("nan"), [10], {}])
def test_a_bad_speed_is_refused(session, value):
    session.set_speed(3)
    with pytest.raises(SettingsError, match=r"^speed: iterations a second from 1 to 10,000,000, or null for as "
                                            r"fast as it goes; got "):
        session.set_speed(value)
    assert session.speed == 3


@pytest.mark.parametrize("value", [None, 0, 1, "true", [True]])
def test_slow_motion_is_true_or_false(session, value):
    with pytest.raises(SettingsError, match=r"^slow motion: true or false; got "):
        session.set_slow_motion(value)
    assert session.slow_motion is False


def test_slow_motion_shows_ds_phase_then_gs_and_plays_the_iterations(session, monkeypatch):
    """Each iteration is two frames: D after its steps with G as it was (the step stays), then the whole
    iteration (the program played at speed, so the run is the same); a pause between them keeps D's phase on
    the page."""
    monkeypatch.setattr(live_session, "PHASE_SECONDS", 60)  # a phase stays until the test moves on
    session.step_once("step")  # phase "none": the phases below are this test's
    session.set_slow_motion(True)
    try:
        last = json.loads(session.published.frame)
        for _ in range(2):
            before, step = session.state, session.step
            key = engine.step_key(session.key_train, before.step)
            session.play()
            wait_until(lambda: json.loads(session.published.frame)["status"]["phase"] == "d")
            session.pause()
            frame = json.loads(session.published.frame)
            assert frame["step"] == step == session.step and frame["status"]["slow_motion"]
            # D's phase on the page: D moved, G's samples did not; the state itself waits for G's phase.
            assert frame["decision"] != last["decision"] and frame["generated"] == last["generated"]
            assert_trees_equal(session.state, before)
            session.play()
            wait_until(lambda: json.loads(session.published.frame)["status"]["phase"] == "g")
            session.pause()
            expected, _ = _train_step(engine.make_game(session.config), before, key)
            assert_trees_close(session.state, expected)
            last = json.loads(session.published.frame)
            assert last["step"] == session.step == step + 1
        session.set_slow_motion(False)
        assert session.status()["phase"] == "g"  # the last phase trained, until something else trains
        session.step_once("d")
        assert session.status()["phase"] == "d"
        session.step_once("step")
        assert session.status()["phase"] == "none"
    finally:
        session.set_slow_motion(False)


# ---------------------------------------------------------------- divergence


@pytest.fixture
def diverging(session):
    """The session with a rate at which plain gradient descent overflows float32 within a step or two (finite:
    the config takes it); its optimizer, objective and rate are set back afterwards."""
    optim, train = session.config.optim, session.config.train
    previous = {"optimizer": optim.optimizer, "objective": train.objective, "batch_size": train.batch_size,
                "discriminator_learning_rate": optim.discriminator_learning_rate}
    session.change({"optimizer": "sgd", "objective": "modified", "batch_size": 12, "discriminator_learning_rate": 1e38})
    wait_until(lambda: not session.status()["compiling"])  # another optimizer or batch size: it compiles first
    yield session
    session.change(previous)
    wait_until(lambda: not session.status()["compiling"])


def diverge(session: Session, kind: str) -> engine.TrainState:
    """Step until training diverges (at most 5 steps); the state the diverging step started from."""
    for _ in range(5):
        before = session.state
        session.step_once(kind)
        if session.error is not None:
            return before
    raise AssertionError(f"no divergence in 5 {kind} steps")


def test_divergence_pauses_at_the_last_finite_state(diverging):
    session = diverging
    before = diverge(session, "step")
    assert session.state is before and session.playing is False
    assert session.status()["error"] == DIVERGED.format(step=int(before.step))
    before, rows = session.state, list(session.history.rows)
    session.set_speed(9)  # single iterations: the same first iteration again, which diverges again
    session.play()
    wait_until(lambda: not session.playing)
    assert session.state is before and session.history.rows == rows
    status = session.status()
    assert status["error"] == DIVERGED.format(step=int(before.step)) and status["playing"] is False
    assert bool(engine.all_finite(session.state))
    session.set_speed(None)


def test_the_divergence_error_goes_once_training_goes_on(diverging):
    session = diverging
    diverge(session, "step")
    session.change({"discriminator_learning_rate": None})  # the preset's rate again
    before = session.state
    session.step_once("step")
    assert session.step == int(before.step) + 1  # this iteration trained
    assert session.status()["error"] is None


# ---------------------------------------------------------------- snapshots are checkpoints


def test_a_snapshot_is_a_checkpoint_that_loads_back(played, tmp_path):
    session, _ = played
    snapshot = session.snapshot()
    path = tmp_path / "session.npz"
    path.write_bytes(checkpoints.encode(snapshot, []))
    loaded, segments = checkpoints.load(path)
    assert segments == [] and loaded.frames == []
    assert loaded.config == snapshot.config and loaded.status == "finished" and loaded.watch == snapshot.watch
    assert_trees_equal(loaded.state, session.state)
    np.testing.assert_array_equal(jax.random.key_data(loaded.keys), jax.random.key_data(snapshot.keys))
    assert list(loaded.history) == list(snapshot.history)
    for name in snapshot.history:
        np.testing.assert_array_equal(loaded.history[name], snapshot.history[name], err_msg=name)
    np.testing.assert_array_equal(loaded.pretrain_losses, snapshot.pretrain_losses)


def test_tinygan_resume_finishes_a_snapshot_as_train_would(played, seed_result, tmp_path, capsys):
    _, early = played  # at step 10, status running
    trained = seed_result
    assert early.step == 10 and early.status == "running"
    path = tmp_path / "early.npz"
    path.write_bytes(checkpoints.encode(early, []))
    assert cli.main(["resume", str(path), "--out", str(tmp_path / "resumed"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    final, _ = checkpoints.load(checkpoints.latest(tmp_path / "resumed"))
    assert final.step == 50 and final.status == "finished"
    assert_trees_equal(final.state, trained.state)
    for name, values in trained.history.items():
        np.testing.assert_array_equal(final.history[name], values, err_msg=name)


def test_the_config_as_toml_is_what_train_config_reads(played, seed_config, tmp_path):
    session, _ = played
    config = session.snapshot().config
    path = tmp_path / "live.toml"
    path.write_text(config_toml(config))
    args = parse_args_with_config(cli.build_parser(), ["train", "--config", str(path)])
    assert cli.config_from_args(args) == config == resolved(seed_config)  # what `tinygan train --config` trains


# ---------------------------------------------------------------- carry_over


def test_carry_over_keeps_weights_and_optimizer_states_that_fit(seed_config):
    game = engine.make_game(seed_config)
    state = engine.init_state(game, jax.random.key(3))
    state = state._replace(generator_opt=jax.tree.map(lambda leaf: leaf + 5, state.generator_opt),
                           step=state.step + 8)  # a state that has trained: counts that must survive
    faster = engine.make_game(replace(seed_config, learning_rate=0.1))  # same optimizer, new rate: states fit
    kept = carry_over(state, faster)
    assert_trees_equal(kept, state)
    adam = engine.make_game(replace(seed_config, optimizer="adam"))
    fresh = carry_over(state, adam)
    assert_trees_equal((fresh.generator, fresh.discriminator, fresh.step),
                       (state.generator, state.discriminator, state.step))
    assert_trees_equal(fresh.generator_opt, adam.generator_optimizer.init(state.generator))
    assert_trees_equal(fresh.discriminator_opt, adam.discriminator_optimizer.init(state.discriminator))
    assert set(integer_leaves(fresh.generator_opt)) == {0}  # adam's own counts, from zero
    averaged = carry_over(state, engine.make_game(replace(seed_config, generator_ema=0.9, nan_policy="skip")))
    assert_trees_equal(averaged.generator_ema, state.generator)  # the average starts at G
    assert int(averaged.skipped) == 0
    assert carry_over(averaged, game).generator_ema is None and carry_over(averaged, game).skipped is None


# ---------------------------------------------------------------- compiled programs


def test_turning_knobs_while_playing_compiles_nothing(seed_config):
    """The programs a session needs to play compile when it opens, those that play faster or step alone at its
    first play. Rates, the objective, penalties and smoothing are arguments of the programs: a session that turns
    them while it plays keeps its structure and its compiled programs, and trains on with the new values at once."""
    session = Session(replace(seed_config, num_steps=10**6))
    try:
        structure = session._structure
        needed, extra = programs_plan(session)
        wait_until(lambda: all(future.done() for future in structure.programs.values()))
        assert set(needed) <= set(structure.programs) and not set(extra) & set(structure.programs)
        session.set_speed(None)
        session.play()
        wait_until(lambda: set(extra) <= set(structure.programs)
                   and all(future.done() for future in structure.programs.values()))
        compiled = dict(structure.programs)
        for change in ({"generator_learning_rate": 0.01}, {"objective": "least_squares"}, {"r1": 0.5},
                       {"gradient_penalty": 1.0}, {"objective": "minimax", "label_smoothing": 0.1},
                       {"discriminator_learning_rate": 0.001}):
            before = session.step
            session.change(change)
            assert re.fullmatch(r".+ changed; training goes on from step [\d,]+", session.status()["message"])
            wait_until(lambda before=before: session.step >= before + 20, seconds=10)
        assert session._structure is structure and structure.programs == compiled
        assert (session.config.train.objective, session.config.train.r1, session.config.train.label_smoothing) == \
            ("minimax", 0.5, 0.1)
        assert np.isfinite(session.history.rows[-1][1:3]).all() and session.error is None
    finally:
        session.close()


def programs_plan(session) -> tuple[list, list]:
    """The (name, statics) keys of the programs `programs.plan` gives a session: (needed, extra)."""
    points = live_session.FRAME_POINTS[len(session.view)]
    planned = programs.plan(session.config, session.view, points, session.state, session.key_train)
    return tuple(sorted((name, tuple(sorted(statics.items()))) for name, _, statics in group) for group in planned)


def test_programs_keep_a_bounded_number_of_structures(seed_config):
    programs = Programs()
    try:
        first = programs.structure(seed_config)
        assert programs.structure(replace(seed_config, generator_learning_rate=0.5)) is first  # a knob: the same
        for size in range(13, 13 + STRUCTURES):
            programs.structure(replace(seed_config, batch_size=size))
        assert len(programs._structures) == STRUCTURES
        assert programs.structure(seed_config) is not first  # dropped, built again
    finally:
        programs.close()


def test_a_program_dropped_from_the_queue_while_called_compiles_in_the_caller(seed_config, monkeypatch):
    """A session that starts again drops the queued compiles (`drop_queued`), and may call one of them at once:
    the call compiles it then (before, it raised the dropped future's CancelledError: a 500 on a single step)."""
    holding, go = threading.Event(), threading.Event()
    settle = programs._settle

    def held(future, structure, name, shapes, statics):  # the compiler stays on its first job until told to go
        if statics.get("points") == 32:
            holding.set()
            go.wait(60)
        settle(future, structure, name, shapes, statics)

    monkeypatch.setattr(programs, "_settle", held)
    compiler = Programs()
    try:
        structure = compiler.structure(replace(seed_config, batch_size=17))  # nothing of it compiled yet
        key, config = jax.random.key(0), structure.config
        state = jax.eval_shape(lambda: engine.init_state(structure.game, key))
        knobs, real = tuning.knobs(config), engine.init_state(structure.game, key)
        compiler.prepare(structure, "probe", (knobs, state), {"view": None, "points": 32})
        queued = compiler.prepare(structure, "probe", (knobs, state), {"view": None, "points": 64})
        assert holding.wait(60)  # the compiler is on the first: the second waits in the queue
        compiler.drop_queued()
        threading.Timer(0.5, go.set).start()  # the call waits for the first job; the dropped one it compiles
        probe = compiler.call(structure, "probe", (knobs, real), {"view": None, "points": 64})
        assert probe.generated.shape == (64, 1) and queued.cancelled()
    finally:
        go.set()
        compiler.close()


# ---------------------------------------------------------------- what the page reads


def test_errors_name_each_setting_by_the_pages_own_label():
    page = (Path(settings.__file__).parent / "static" / "index.html").read_text()
    for name, label in settings.LABELS.items():
        found = re.search(rf'<label[^>]*for="{name}"[^>]*>(.*?)</label>', page, re.S)
        assert found, name
        assert re.sub(r"<[^>]+>", "", found.group(1)).split() == label.split(), name


def test_a_new_target_is_no_longer_the_presets(seed_config):
    assert settings.apply(seed_config, {"target": "ring"}, None).preset == settings.CUSTOM
    assert settings.apply(seed_config, {"preset": "ring", "target": "grid"}, None).preset == "ring"
    assert settings.apply(seed_config, {"r1": 0.5}, None).preset == seed_config.preset  # a knob: still the preset


def test_a_status_carries_the_latest_losses_single_steps_and_changes(seed_config):
    session = Session(seed_config)
    try:
        assert session.status()["losses"] == [None, None] and session.status()["manual_steps"] == 0
        session.step_once("step")
        loss_d, loss_g = session.status()["losses"]
        session.step_once("d")
        session.change({"r1": 0.5})
        status = session.status()
        assert status["losses"][1] == loss_g and status["losses"][0] != loss_d  # the D step's own loss
        assert status["manual_steps"] == 1 and status["marks"] == [[1, "r1 0.5"]]
    finally:
        session.close()


def test_noise_and_network_sizes_start_again_and_a_warning_says_when_noise_cannot_fill(seed_config):
    ring = settings.apply(seed_config, {"target": "ring"}, None)
    assert settings.noise_warning(ring, 2) == ("G's noise has 1 dimension: its samples lie on a curve and cannot "
                                               "fill a 2-D target; raise the noise dimension")
    wide = settings.apply(ring, {"noise_dim": 2, "generator_width": 32, "generator_layers": 2}, None)
    assert (wide.data.noise, wide.data.noise_dim, wide.model.generator_width, wide.model.generator_layers) == \
        ("uniform", 2, 32, 2)  # the seed's stratified noise is 1-D: a wider one is uniform
    assert settings.noise_warning(wide, 2) == "" and settings.changes_weights(ring, wide)
    shown = settings.settings_of(seed_config)
    assert (shown["generator_width"], shown["discriminator_width"]) == (seed_config.model.hidden_size,
                                                                        2 * seed_config.model.hidden_size)
    with pytest.raises(SettingsError, match=r"^D layers: at most 8 in the live view, got 9$"):
        settings.apply(seed_config, {"discriminator_layers": 9}, None)
