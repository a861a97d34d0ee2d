"""The device policy (`train.device`): where programs run, a GPU refused where there is none, host devices
from the machine, and sweeps cut over whatever devices they run on, bit for bit."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest
from helpers import without_timings

import tinygan
from tinygan import cli, engine
from tinygan.config import ConfigError, replace
from tinygan.engine import devices
from tinygan.engine.resolve import config_from_preset
from tinygan.sweep.backends import BackendError, wants_gpu
from tinygan.training import seeds as ensemble


class FakeGpu:
    """Stands in for a GPU device: its platform and what its allocator reports."""

    platform = "gpu"

    def __init__(self, limit: int = 80 << 30, in_use: int = 0):
        self.stats = {"bytes_limit": limit, "bytes_in_use": in_use}

    def memory_stats(self):
        return self.stats


def test_without_a_gpu_auto_and_cpu_run_on_the_cpu_and_gpu_is_refused_in_one_line():
    assert devices.gpus() == []  # this machine's JAX has no GPU backend
    for setting in ("auto", "cpu"):
        assert devices.choose(setting, 1e12).platform == "cpu"
    with pytest.raises(ConfigError) as refused:
        devices.choose("gpu", 1.0)
    assert "\n" not in str(refused.value) and "no GPU here" in str(refused.value)


def test_auto_takes_a_gpu_from_the_threshold_on(monkeypatch):
    gpu = FakeGpu()
    monkeypatch.setattr(devices, "gpus", lambda: [gpu])
    assert devices.choose("auto", devices.GPU_MIN_FLOPS) is gpu
    assert devices.choose("auto", devices.GPU_MIN_FLOPS - 1).platform == "cpu"
    assert devices.choose("gpu", 1.0) is gpu and devices.choose("cpu", 1e15).platform == "cpu"


def test_the_seed_preset_runs_alone_on_the_cpu_and_a_thousand_of_its_seeds_on_a_gpu():
    """The thresholds' reason (engine/devices.py): the seed's networks gain from a GPU only many seeds at once."""
    game = engine.make_game(config_from_preset("seed"))
    assert engine.iteration_flops(game) < devices.GPU_MIN_FLOPS <= engine.iteration_flops(game, seeds=1024)
    ring = engine.make_game(config_from_preset("ring"))
    assert engine.iteration_flops(ring) >= 1000 * devices.GPU_MIN_FLOPS  # PacGAN's networks: a GPU, alone


def test_iteration_flops_counts_every_weight_of_both_networks():
    """By hand, for G 1 -> 4 -> 1 and D 1 -> 8 -> 8 -> 8 -> 1 (no minibatch layer): weights and biases."""
    config = config_from_preset("seed", generator_width=4, generator_layers=1, discriminator_layers=2,
                                minibatch=False, batch_size=10, n_critic=3)
    game = engine.make_game(config)
    g = (1 * 4 + 4) + (4 * 1 + 1)
    d = (1 * 8 + 8) + (8 * 8 + 8) + (8 * 8 + 8) + (8 * 1 + 1)
    d_step, g_step = 10 * (12 * d + 2 * g), 10 * 6 * (g + d)
    assert engine.iteration_flops(game) == 3 * d_step + g_step
    assert engine.iteration_flops(game, seeds=7) == 7 * (3 * d_step + g_step)


def test_a_train_on_the_cpu_is_the_auto_train_here_bit_for_bit(seed_config, seed_result):
    """conftest's run (device auto) against the same config on the CPU: its programs are the ones already built."""
    assert seed_config.train.device == "auto"
    on_cpu = tinygan.train(replace(seed_config, device="cpu"))
    assert without_timings(seed_result.metrics) == without_timings(on_cpu.metrics)


def test_a_gpu_seed_batch_comes_from_its_free_memory_not_a_cap():
    config = config_from_preset("seed")
    one = ensemble.state_bytes(ensemble._game_and_scorer(config)[0], config.train.batch_size)
    big, small = FakeGpu(limit=80 << 30, in_use=10 << 30), FakeGpu(limit=one * 100, in_use=one * 20)
    assert ensemble.default_seed_batch(config, 10**9, big) == int(0.5 * (70 << 30)) // one > 100_000
    assert ensemble.default_seed_batch(config, 1_000_000, small) == 40
    assert ensemble.default_seed_batch(config, 100, big) == 100  # never more than the seeds
    assert ensemble.default_seed_batch(config, 1_000_000, devices.cpu()) == ensemble.MAX_SEED_BATCH


def test_ray_units_ask_for_a_gpu_only_when_the_cluster_has_one_and_the_unit_gains():
    seed, ring = (config_from_preset(name).to_dict() for name in ("seed", "ring"))
    assert not wants_gpu(seed, 1, cluster_gpus=1) and wants_gpu(seed, 1024, cluster_gpus=1)
    assert wants_gpu(ring, 1, cluster_gpus=2) and not wants_gpu(ring, 10, cluster_gpus=0)
    on_cpu = {**ring, "train": {**ring["train"], "device": "cpu"}}
    on_gpu = {**seed, "train": {**seed["train"], "device": "gpu"}}
    assert not wants_gpu(on_cpu, 10, cluster_gpus=4) and wants_gpu(on_gpu, 1, cluster_gpus=1)
    with pytest.raises(BackendError, match="the Ray cluster has no GPU"):
        wants_gpu(on_gpu, 1, cluster_gpus=0)


# ---------------------------------------------------------------- the command line


def tree(root: Path) -> dict:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "/"
            for path in sorted(root.rglob("*"))}


@pytest.mark.parametrize("command", [["train", "--out", "run"], ["sweep", "--seeds", "0:2", "--out", "sweep"],
                                     ["bench", "--steps", "10"], ["config"]])
def test_device_gpu_without_one_is_one_line_and_exit_2_and_writes_nothing(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = cli.main([*command, "--device", "gpu"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("tinygan: error: --device") and "no GPU" in err
    assert list(tmp_path.iterdir()) == []


def test_resume_on_another_device_or_a_missing_gpu(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--num-steps", "40", "--pretrain-steps", "5", "--checkpoint-every", "20", "--out", "run",
                     "--no-plots", "--quiet", "--device", "cpu"]) == 0
    before = tree(tmp_path / "run")
    assert cli.main(["resume", "run", "--num-steps", "60", "--device", "gpu"]) == 2
    assert "no GPU" in capsys.readouterr().err and tree(tmp_path / "run") == before
    assert cli.main(["resume", "run", "--num-steps", "60", "--device", "auto", "--quiet"]) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["device"] == "auto"


def test_serve_takes_a_device_but_not_beside_a_run_folder(capsys):
    assert cli.main(["serve", "--run", "somewhere", "--device", "cpu"]) == 2
    assert "--device" in capsys.readouterr().err


# ---------------------------------------------------------------- host devices


def test_host_devices_follow_the_machine_or_the_setting():
    expected = len(os.sched_getaffinity(0))
    assert len(jax.local_devices(backend="cpu")) == int(os.environ.get(tinygan.HOST_DEVICES) or expected)


SWEEP_EQUALS_TRAIN = """
import json, tinygan, jax
from tinygan.engine.resolve import config_from_preset
from tinygan.training.seeds import train_seeds
config = config_from_preset("seed", num_steps=80, pretrain_steps=10, log_every=40)
rows = train_seeds(config, range(6)).rows
alone = [tinygan.train(tinygan.replace(config, seed=s), frames=False).metrics for s in range(6)]
same = all(row[k] == one[k] for row, one in zip(rows, alone) for k in ("w1", "ks", "mean", "std"))
print(json.dumps({"devices": len(jax.local_devices(backend="cpu")), "same": same}))
"""


@pytest.mark.slow
def test_a_sweep_over_three_host_devices_equals_single_runs_bit_for_bit():
    env = {**os.environ, tinygan.HOST_DEVICES: "3"}
    done = subprocess.run([sys.executable, "-c", SWEEP_EQUALS_TRAIN], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"devices": 3, "same": True}
