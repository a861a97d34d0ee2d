"""Stops a run survives, in real processes: SIGKILL at random moments and halfway through a checkpoint's
write, SIGTERM and SIGINT. Resumed after each, the run ends bit for bit as the same run never stopped."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import assert_trees_equal, without_timings

import tinygan
import tinygan_launch
from tinygan.runs import checkpoints
from tinygan.runs import launch as runner
from tinygan.training import loop as trainer

# A checkpoint every 250 iterations, and a pause of PAUSE s after each of the ~120 chunks (a test hook): on a
# machine of any speed the run lasts over a second, and each stop comes mid-run.
STEPS = 30_000
PAUSE = {trainer.CHUNK_PAUSE: "0.01"}
SETTINGS = {"num_steps": STEPS, "log_every": 50, "pretrain_steps": 0}
FLAGS = ["--num-steps", str(STEPS), "--log-every", "50", "--pretrain-steps", "0", "--checkpoint-every", "250",
         "--no-plots", "--quiet"]


def newest_step(run: Path) -> int:
    found = checkpoints.checkpoints(run)
    return int(found[-1].stem.split("-")[1]) if found else -1


def start(command: list[str], cwd: Path, **env) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=cwd, env=dict(os.environ, **PAUSE, **env), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> tuple[int, str]:
    """The exit status and stderr of a process, once it ends."""
    _, stderr = process.communicate(timeout=90)
    return process.returncode, stderr


def stop_after_a_checkpoint(process: subprocess.Popen, run: Path, number: int, pause: float) -> tuple[int, str]:
    """Wait for a checkpoint newer than the run had, then `pause` seconds more, then send the signal."""
    before, deadline = newest_step(run), time.monotonic() + 90
    while newest_step(run) <= before:
        assert process.poll() is None, finish(process)
        assert time.monotonic() < deadline, "no checkpoint within 90 s"
        time.sleep(0.02)
    time.sleep(pause)
    process.send_signal(number)
    return finish(process)


def test_killed_stopped_and_resumed_again_and_again_the_run_ends_as_if_never_stopped(tmp_path, tinygan_command):
    choose = random.Random(5)
    run = tmp_path / "run"
    resume = [*tinygan_command, "resume", str(run), "--quiet"]

    process = start([*tinygan_command, "train", "--out", str(run), *FLAGS], tmp_path)
    assert stop_after_a_checkpoint(process, run, signal.SIGKILL, choose.uniform(0, 0.2))[0] == -signal.SIGKILL
    assert json.loads((run / "status.json").read_text())["status"] == "running"  # as the killed process left it

    # Resumed, then killed halfway through writing its first checkpoint: the half file is a temporary one, never
    # a checkpoint.
    last = newest_step(run)
    assert finish(start(resume, tmp_path, **{checkpoints.KILL_IN_WRITE: "1"}))[0] == -signal.SIGKILL
    assert newest_step(run) == last and list((run / "checkpoints").glob(".*.partial"))

    for number, code in [(signal.SIGTERM, 143), (signal.SIGINT, 130)]:
        returncode, stderr = stop_after_a_checkpoint(start(resume, tmp_path), run, number, choose.uniform(0, 0.2))
        assert returncode == code, stderr
        status = json.loads((run / "status.json").read_text())
        assert status["status"] == "stopped" and status["step"] == newest_step(run) < STEPS
        assert "tinygan resume" in stderr

    finished = subprocess.run(resume, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert finished.returncode == 0, finished.stderr
    assert not list(run.rglob(".*.partial")) and not (run / ".lock").exists()

    options = runner.RunOptions(pictures=False, checkpoint_every=250)
    whole, _ = runner.train_run(tinygan.config_from_preset("seed", **SETTINGS), tmp_path / "whole", options)
    assert (run / "history.csv").read_text() == (tmp_path / "whole" / "history.csv").read_text()
    metrics = json.loads((run / "metrics.json").read_text())
    assert without_timings(metrics) == without_timings(json.loads((tmp_path / "whole" / "metrics.json").read_text()))
    assert_trees_equal(checkpoints.load(checkpoints.latest(run))[0].state, whole.state)


def test_a_signal_while_the_modules_load_ends_in_one_line(tmp_path, tinygan_command):
    """Before anything has started (the command imports JAX, SciPy and the run's modules, a second or two, and is
    held 2 s longer once they are in): one line, the shell's code, and nothing written."""
    for number, delay in ((signal.SIGINT, 0.2), (signal.SIGINT, 0.6), (signal.SIGTERM, 0.6)):
        run = tmp_path / f"run-{number}-{delay}"
        process = start([*tinygan_command, "train", "--out", str(run), *FLAGS], tmp_path,
                        **{tinygan_launch.IMPORT_PAUSE: "2"})
        time.sleep(delay)
        process.send_signal(number)
        code, stderr = finish(process)
        assert code == 128 + number and stderr == "tinygan: interrupted\n", (code, stderr)
        assert not run.exists()


def test_a_ctrl_c_that_python_would_drop_ends_the_command_in_one_line():
    """KeyboardInterrupt raised where Python cannot pass it on (a garbage collector's callback, as while JAX
    loads; here a __del__) is printed as "Exception ignored" and forgotten; the command must stop instead."""
    code = ("import tinygan_launch; tinygan_launch.keep_interrupts()\n"
            "class Dropping:\n    def __del__(self):\n        raise KeyboardInterrupt\n"
            "Dropping()\nprint('went on')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "tinygan: interrupted\n")


def test_a_second_signal_ends_the_run_at_once_even_while_xla_compiles(tmp_path, tinygan_command):
    """The ring preset's programs take seconds to compile; the second Ctrl-C must not wait for them."""
    run = tmp_path / "run"
    process = start([*tinygan_command, "train", "--preset", "ring", "--out", str(run), "--no-plots", "--quiet"],
                    tmp_path, TINYGAN_COMPILE_CACHE="0", JAX_COMPILATION_CACHE_DIR="")
    deadline = time.monotonic() + 60
    while not (run / "status.json").exists():  # the run has started: its programs compile now
        assert process.poll() is None and time.monotonic() < deadline, finish(process)
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    code, stderr = finish(process)
    assert time.monotonic() - sent < 1.5 and code == 130, (code, stderr)
    assert stderr.endswith("tinygan: stopped at once; tinygan resume goes on from the last checkpoint\n")
