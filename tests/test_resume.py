"""Exact resume: a run stopped at any checkpoint and resumed ends bit for bit as the same run never stopped:
its state, history, frames and metrics; across objectives, stabilizers, presets and the stopping rules."""

from __future__ import annotations

import json

import pytest
from helpers import assert_trees_equal, without_timings

import tinygan
from tinygan import cli, runs
from tinygan.runs import checkpoints
from tinygan.runs import launch as runner
from tinygan.runs.checkpoints import Checkpointer
from tinygan.training import loop as trainer

SHORT = {"num_steps": 80, "log_every": 10, "pretrain_steps": 0}
CASES = {  # every objective, stabilizer and optimizer; both stopping rules, keep-best, and skipped steps
    "seed": {"preset": "seed", "pretrain_steps": 5},
    "recommended": {"preset": "recommended"},  # Adam with a cosine schedule, R1, G's EMA
    "minibatch-minimax-keep-best": {"preset": "seed-minibatch", "objective": "minimax", "label_smoothing": 0.1,
                                    "keep_best": True},
    "wgan-gp-critic-threshold": {"preset": "seed", "objective": "wasserstein", "gradient_penalty": 1.0,
                                 "n_critic": 2, "optimizer": "rmsprop", "learning_rate": 1e-3,
                                 "stop_when": "w1<4.9"},  # holds at step 50
    "hinge-plateau": {"preset": "seed", "objective": "wasserstein_hinge", "stop_when": "plateau",
                      "plateau_window": 3},
    "least-squares-unrolled-skip": {"preset": "seed", "objective": "least_squares", "unroll_steps": 1,
                                    "learning_rate": 100.0, "nan_policy": "skip"},
    "ring-2d": {"preset": "ring", "generator_width": 8, "discriminator_width": 8, "batch_size": 16},
}


@pytest.fixture(autouse=True)
def short_chunks(monkeypatch):
    monkeypatch.setattr(trainer, "CHUNK_ITERATIONS", 20)  # chunks of 20 iterations: a checkpoint after each


def assert_same_run(a: tinygan.TrainResult, b: tinygan.TrainResult) -> None:
    assert_trees_equal(a.state, b.state)
    assert a.history.keys() == b.history.keys()
    for name in a.history:
        assert a.history[name].tobytes() == b.history[name].tobytes(), name
    assert [f.step for f in a.frames] == [f.step for f in b.frames]
    for x, y in zip(a.frames, b.frames):
        assert_trees_equal((x.generated, x.decision, x.pull), (y.generated, y.decision, y.pull))
    assert repr(without_timings(a.metrics)) == repr(without_timings(b.metrics))  # repr: NaN equals NaN


@pytest.mark.parametrize("case", CASES)
def test_resumed_from_any_checkpoint_equals_the_run_never_stopped(case, tmp_path):
    settings = {**SHORT, **CASES[case]}
    config = tinygan.config_from_preset(settings.pop("preset"), **settings)
    whole = tinygan.train(config, checkpoint=Checkpointer(tmp_path, keep=10), checkpoint_every=20)
    found = checkpoints.checkpoints(tmp_path)
    assert len(found) >= 2
    snapshot, segments = checkpoints.load(found[len(found) // 2 - 1])  # one in the middle
    again = tinygan.train(config, resume=snapshot, checkpoint=Checkpointer(tmp_path / "again", 10, segments),
                          checkpoint_every=20)
    assert_same_run(whole, again)
    assert whole.status == ("stopped" if "stop_when" in settings else "finished")
    if config.train.nan_policy == "skip":
        assert whole.metrics["skipped_steps"] > 0


def test_more_iterations_continue_a_finished_run(tmp_path):
    """With a constant learning rate nothing depends on num_steps: 40 then 40 more is the 80-iteration run."""
    options = runner.RunOptions(pictures=False, checkpoint_every=20)
    config = tinygan.config_from_preset("seed", schedule="constant", **SHORT)
    whole, _ = runner.train_run(config, tmp_path / "whole", options)
    runner.train_run(tinygan.replace(config, num_steps=40), tmp_path / "split", options)
    with pytest.raises(runs.RunError, match="finished at step 40"):
        runner.resume_run(tmp_path / "split")
    split, _ = runner.resume_run(tmp_path / "split", num_steps=80)
    assert_same_run(whole, split)
    assert json.loads((tmp_path / "split" / "config.json").read_text())["train"]["num_steps"] == 80
    assert (tmp_path / "split" / "history.csv").read_text() == (tmp_path / "whole" / "history.csv").read_text()


def test_resume_says_when_it_rewrites_a_damaged_config_or_misses_the_newest_checkpoint(tmp_path, capsys):
    options = runner.RunOptions(pictures=False, checkpoint_every=20)
    config = tinygan.config_from_preset("seed", schedule="constant", **SHORT)
    whole, _ = runner.train_run(config, tmp_path / "whole", options)
    runner.train_run(tinygan.replace(config, num_steps=40), tmp_path / "split", options)
    runner.resume_run(tmp_path / "split", num_steps=60)
    assert capsys.readouterr().err == ""  # a plain resume has nothing to say
    (tmp_path / "split" / "config.json").write_text('{"data": {"target"')  # cut short
    (tmp_path / "split" / "checkpoints" / "step-000000060.npz").unlink()  # the newest, named by status.json
    split, _ = runner.resume_run(tmp_path / "split", num_steps=80)
    notes = capsys.readouterr().err.splitlines()
    assert notes == [
        f"tinygan: note: {tmp_path / 'split' / 'checkpoints' / 'step-000000060.npz'}, the newest checkpoint "
        "status.json names, is missing; going on from step-000000040.npz (step 40)",
        f"tinygan: note: {tmp_path / 'split' / 'config.json'} is damaged or does not match the checkpoint; "
        "rewritten from the checkpoint"]
    assert_same_run(whole, split)
    assert (tmp_path / "split" / "config.json").read_text() == (tmp_path / "whole" / "config.json").read_text()


def test_tinygan_resume_goes_past_a_damaged_config_and_status_without_being_told_the_steps(tmp_path, capsys):
    """A run killed at step 40 of 80: `tinygan resume RUN` takes the iterations from the checkpoint when config.json
    cannot say them, and a status.json whose newest checkpoint is not a name is a missing one."""
    options = runner.RunOptions(pictures=False, checkpoint_every=20)
    config = tinygan.config_from_preset("seed", schedule="constant", **SHORT)
    whole, _ = runner.train_run(config, tmp_path / "whole", options)
    folder = tmp_path / "killed"
    runner.train_run(config, folder, options)
    for name in ["checkpoints/step-000000060.npz", "checkpoints/step-000000080.npz", "metrics.json"]:
        (folder / name).unlink()  # as if killed at step 60, before its checkpoint was written
    status = json.loads((folder / "status.json").read_text())
    (folder / "status.json").write_text(json.dumps({**status, "status": "running", "checkpoint": 5}))
    (folder / "config.json").write_text("{")
    capsys.readouterr()
    assert cli.main(["resume", str(folder), "--quiet"]) == 0
    notes = capsys.readouterr().err.splitlines()
    assert len(notes) == 2 and "5, the newest checkpoint status.json names, is missing" in notes[0], notes
    assert "config.json is damaged" in notes[1], notes
    assert (folder / "history.csv").read_text() == (tmp_path / "whole" / "history.csv").read_text()


def test_a_run_killed_before_its_first_checkpoint_starts_again_from_its_config(tmp_path):
    options = runner.RunOptions(pictures=False, checkpoint_every=20)
    config = tinygan.config_from_preset("seed", **SHORT)
    whole, _ = runner.train_run(config, tmp_path / "whole", options)
    folder = tmp_path / "killed"
    runner.train_run(config, folder, options)
    for path in [*(folder / "checkpoints").iterdir(), folder / "history.csv", folder / "metrics.json"]:
        path.unlink()  # as a run killed in its first seconds leaves its folder: config.json and status.json
    status = json.loads((folder / "status.json").read_text())
    runs.write_status(folder, "running", **{k: v for k, v in status.items() if k not in ("status", "updated", "checkpoint")})
    again, _ = runner.resume_run(folder)
    assert_same_run(whole, again)
    assert (folder / "history.csv").read_text() == (tmp_path / "whole" / "history.csv").read_text()

def test_a_run_an_error_ends_says_failed_and_resumes_to_the_same_run(tmp_path, monkeypatch):
    """An error while training (XLA's out of memory, say) or while writing the files (a full disk): status.json
    says failed with the error's first line, `tinygan runs` lists it so, and resume ends it as if never stopped."""
    options = runner.RunOptions(pictures=False, checkpoint_every=20)
    config = tinygan.config_from_preset("seed", **SHORT)
    whole, _ = runner.train_run(config, tmp_path / "whole", options)
    saving, real_save = Checkpointer.__call__, runs.save_run

    def out_of_memory(self, snapshot):
        if snapshot.step == 40:
            raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 9 bytes.\nBufferAssignment")
        return saving(self, snapshot)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    cases = [("oom", (Checkpointer, "__call__", out_of_memory), 20,
              "RESOURCE_EXHAUSTED: Out of memory while trying to allocate 9 bytes."),
             ("full", (runs, "save_run", disk_full), 80, "[Errno 28] No space left on device")]
    for name, patch, step, reason in cases:
        with monkeypatch.context() as patched:
            patched.setattr(*patch)
            with pytest.raises((RuntimeError, OSError)):
                runner.train_run(config, tmp_path / name, options)
        status = json.loads((tmp_path / name / "status.json").read_text())
        assert (status["status"], status["step"], status["reason"]) == ("failed", step, reason)
        assert not (tmp_path / name / runs.LOCK_FILE).exists()
        assert {entry["run"]: entry["status"] for entry in runs.list_runs(tmp_path)}[name] == "failed"
        again, _ = runner.resume_run(tmp_path / name)
        assert_same_run(whole, again)
        assert json.loads((tmp_path / name / "status.json").read_text())["status"] == "finished"
    assert runs.save_run is real_save



def test_what_resume_refuses_changes_nothing(tmp_path, capsys):
    """A finished run without more iterations, a diverged one, a locked one, a folder that is not a run."""
    options = runner.RunOptions(pictures=False, checkpoint_every=20)
    runner.train_run(tinygan.config_from_preset("seed", **SHORT), tmp_path / "done", options)
    diverging = tinygan.config_from_preset("seed", objective="least_squares", learning_rate=100.0, **SHORT)
    result, _ = runner.train_run(diverging, tmp_path / "diverged", options)
    assert result.status == "diverged" and result.metrics["diverged_at"] == 6
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty").mkdir()
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    for folder, words in [("done", "give --num-steps"), ("diverged", "non-finite values at step 6"),
                          ("file", "is a file"), ("empty", "not a run folder"), ("nowhere", "no such run")]:
        assert cli.main(["resume", str(tmp_path / folder)]) == cli.EXIT_USAGE
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and words in error, error
    assert cli.main(["resume", str(tmp_path / "done"), "--num-steps", "10"]) == cli.EXIT_USAGE
    assert "already at step 80" in capsys.readouterr().err
    with runs.run_lock(tmp_path / "done"):
        assert cli.main(["resume", str(tmp_path / "done"), "--num-steps", "100"]) == cli.EXIT_USAGE
        assert "another process" in capsys.readouterr().err
    after = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    assert after == before


def test_a_diverged_run_keeps_its_last_finite_state(tmp_path, capsys):
    diverging = ["--objective", "least_squares", "--learning-rate", "100", "--num-steps", "80", "--log-every", "10",
                 "--pretrain-steps", "0", "--no-plots"]
    assert cli.main(["train", "--out", str(tmp_path / "run"), *diverging]) == cli.EXIT_DIVERGED
    assert "diverged: non-finite values at step 6: loss_g not finite" in capsys.readouterr().err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["diverged_at"] == 6 and metrics["iterations"] == 0
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["status"] == "diverged" and "step 6" in status["reason"]
    snapshot, _ = checkpoints.load(checkpoints.latest(tmp_path / "run"))
    assert snapshot.status == "diverged" and snapshot.step == 0
    assert cli.main(["train", "--out", str(tmp_path / "skip"), *diverging, "--nan-policy", "skip"]) == 0
