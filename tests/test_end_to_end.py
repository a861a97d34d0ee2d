"""The real commands as real processes: `tinygan train`, the seed's `python gan.py`, and Ctrl-C."""

import csv
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tinygan.config import Config
from tinygan.engine.resolve import config_from_preset, resolved
from tinygan.training.loop import MAX_FRAMES

REPO_ROOT = Path(__file__).resolve().parents[1]
LOG_LINE = re.compile(r"^(\d+): (-?\d+\.\d{6})\t(-?\d+\.\d{6})$")
PICTURES = ["distribution.png", "losses.png", "metrics.png", "training.gif"]
NUMBERS = ["checkpoints", "config.json", "history.csv", "metrics.json", "status.json"]
FRAMES = ["frames"]  # the animation's frames, beside the checkpoints


def the_run_folder(cwd: Path, preset: str = "seed") -> Path:
    """The one folder the command made under runs/, named <date>-<time>-<preset>."""
    folders = list((cwd / "runs").iterdir())
    assert len(folders) == 1, folders
    assert re.fullmatch(rf"\d{{8}}-\d{{6}}-{preset}", folders[0].name), folders[0].name
    return folders[0]


def read_history(folder: Path) -> list[dict]:
    with open(folder / "history.csv", newline="") as file:
        reader = csv.reader(file)
        assert next(reader) == ["step", "loss_d", "loss_g", "mean", "std", "w1", "ks"]
        return [{"step": int(row[0]), **dict(zip(["loss_d", "loss_g", "mean", "std", "w1", "ks"], map(float, row[1:])))}
                for row in reader]


def log_lines(stdout: str) -> list[tuple[int, float, float]]:
    return [(int(m[1]), float(m[2]), float(m[3])) for m in map(LOG_LINE.match, stdout.splitlines()) if m]


def check_pictures(folder: Path, frames: int) -> None:
    for name in ("losses.png", "distribution.png"):
        with Image.open(folder / name) as image:
            image.verify()
            assert image.format == "PNG"
    with Image.open(folder / "training.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames == frames


def check_finished_run(folder: Path, stdout: str, expected_config: Config) -> list[dict]:
    """Every file of a finished 50-iteration run with log_every 10; returns the history rows."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(NUMBERS + FRAMES + PICTURES)
    assert Config.from_dict(json.loads((folder / "config.json").read_text())) == resolved(expected_config)
    history = read_history(folder)
    assert [row["step"] for row in history] == [0, 10, 20, 30, 40, 50]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["iterations"] == 50 and metrics["samples"] == 100_000
    for name in ("mean", "std", "w1", "ks"):
        assert isinstance(metrics[name], float), name
    assert 0 <= metrics["ks"] <= 1 and metrics["w1"] >= 0 and metrics["std"] >= 0
    assert {"pretrain", "train", "total"} <= set(metrics["seconds"])
    assert all(v >= 0 for v in metrics["seconds"].values())
    check_pictures(folder, frames=6)  # 5 log points and the final state
    # The seed's log line, one per log point, with the numbers history.csv holds.
    assert log_lines(stdout) == [(r["step"], round(r["loss_d"], 6), round(r["loss_g"], 6)) for r in history]
    return history


def test_tinygan_train(tmp_path, tinygan_command, run_process, seed_result):
    done = run_process([*tinygan_command, "train", "--num-steps", "50"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    folder = the_run_folder(tmp_path)
    history = check_finished_run(folder, done.stdout, config_from_preset("seed", num_steps=50))
    assert done.stdout.splitlines()[0] == "step: loss_d\tloss_g"
    assert done.stdout.splitlines()[7].startswith("Final generator: mean ")
    # The same run in this process (conftest's seed_result) gives the same numbers, bit for bit.
    for name in ("loss_d", "loss_g", "mean", "std", "w1", "ks"):
        np.testing.assert_array_equal([row[name] for row in history], seed_result.history[name], err_msg=name)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert {k: metrics[k] for k in ("mean", "std", "w1", "ks")} == {
        k: seed_result.metrics[k] for k in ("mean", "std", "w1", "ks")}


def test_the_seeds_command(tmp_path, run_process):
    done = run_process([sys.executable, str(REPO_ROOT / "gan.py"), "--num-steps", "50", "--minibatch", "True"],
                       cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = the_run_folder(tmp_path)
    check_finished_run(folder, done.stdout, config_from_preset("seed", num_steps=50, minibatch=True))
    config = json.loads((folder / "config.json").read_text())
    assert config["model"]["minibatch"] is True
    assert config["optim"]["learning_rate"] == 0.005


def test_ctrl_c_stops_training_and_keeps_what_was_trained(tmp_path, tinygan_command):
    out = tmp_path / "X"
    lines, stderr = [], []
    with subprocess.Popen(
        [*tinygan_command, "train", "--num-steps", "2000000", "--out", str(out)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    ) as process:
        readers = [threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True),
                   threading.Thread(target=lambda: stderr.extend(process.stderr), daemon=True)]
        for reader in readers:
            reader.start()
        try:
            # Wait for the run folder and the first log line: training (not compilation) is under way.
            deadline = time.monotonic() + 90
            while not ((out / "config.json").exists() and lines):
                assert process.poll() is None, "".join(stderr)
                assert time.monotonic() < deadline, "training did not start within 90 s"
                time.sleep(0.1)
            time.sleep(2)
            process.send_signal(signal.SIGINT)
            returncode = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            for reader in readers:
                reader.join(timeout=10)

    assert returncode == 130, "".join(stderr)
    assert sorted(p.name for p in out.iterdir()) == sorted(NUMBERS + FRAMES + PICTURES)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    iterations = metrics["iterations"]
    status = json.loads((out / "status.json").read_text())
    assert (status["status"], status["step"]) == ("stopped", iterations)
    assert max(p.name for p in (out / "checkpoints").iterdir()) == f"step-{iterations:09d}.npz"
    assert "go on with: tinygan resume" in "".join(stderr)
    assert 0 < iterations < 2_000_000
    history = read_history(out)
    # One row per log point reached, then the last iteration's (the run stops between chunks: at a log point).
    assert [row["step"] for row in history] == list(range(0, iterations + 1, 10))
    assert len(log_lines("".join(lines))) == len(history)
    assert "[interrupted]" in "".join(lines)
    # A long run keeps at most MAX_FRAMES frames: every k-th log point (k = 400 here) of those its chunks logged,
    # then the final state (the last row, logged after them: when its index is a multiple of k, the old formula
    # ceil(rows / k) + 1 counted one frame too many).
    every = math.ceil(200_000 / MAX_FRAMES)
    check_pictures(out, frames=math.ceil((len(history) - 1) / every) + 1)
