"""tinygan bench --sweep: its report's figures, and the sweep's device shares equal one program bit for bit."""

import jax
import numpy as np
import pytest

from tinygan import engine
from tinygan.cli import bench
from tinygan.engine import devices
from tinygan.engine.resolve import config_from_preset
from tinygan.training import seeds as ensemble


def test_sweep_report_has_every_figure_for_every_size():
    # One tiny size in this process: each size compiles its own programs (~5 s), the single run two more.
    report = bench.sweep_report(sizes=(4,), seed_iterations=40, single_steps=100, fresh_process=False,
                                matmul_size=256, device="cpu")
    assert set(report) == {"preset", "peak_flops", "single_run_its", "stepwise_its", "sizes", "device", "platform",
                           "peak_gflops", "matmul_size", "skipped"}
    assert report["platform"] == "cpu" and report["device"].startswith("cpu (") and report["skipped"] == []
    assert report["peak_gflops"] == pytest.approx(report["peak_flops"] / 1e9) and report["peak_flops"] > 0
    assert [row["seeds"] for row in report["sizes"]] == [4]
    for row in report["sizes"]:
        assert set(row) == {"seeds", "steps", "devices", "seed_its", "peak_memory_mb", "flops_per_seed_iteration",
                            "model_flops_per_seed_iteration", "flop_fraction", "peak_share", "vs_single_run",
                            "vs_stepwise"}
        assert row["steps"] == max(50, 40 // row["seeds"])
        assert row["peak_memory_mb"] >= 0
        for name in ("seed_its", "flops_per_seed_iteration", "model_flops_per_seed_iteration", "flop_fraction",
                     "peak_share", "vs_single_run", "vs_stepwise"):
            assert isinstance(row[name], float) and row[name] > 0, name
        assert row["peak_share"] < 1 and row["flop_fraction"] < 1
        assert row["vs_single_run"] == pytest.approx(row["seed_its"] / report["single_run_its"])
        assert row["flop_fraction"] == pytest.approx(
            row["flops_per_seed_iteration"] * row["seed_its"] / report["peak_flops"])
        assert row["peak_share"] == pytest.approx(
            row["model_flops_per_seed_iteration"] * row["seed_its"] / report["peak_flops"])


class FakeGPU:
    """A GPU as `training.seeds.default_seed_batch` sees one: a platform and its allocator's free bytes."""

    platform = "gpu"

    def __init__(self, free: int):
        self.free = free

    def memory_stats(self) -> dict:
        return {"bytes_limit": self.free, "bytes_in_use": 0}


def test_the_sweep_ladder_goes_to_1024_seeds_on_the_cpu_and_131072_on_a_gpu():
    assert bench.sweep_sizes(devices.cpu()) == (1, 16, 64, 256, 1024)
    ladder = bench.sweep_sizes(FakeGPU(0))
    assert ladder[0] == 1 and ladder[-1] == 131_072 and list(ladder) == sorted(set(ladder))


def test_sizes_that_do_not_fit_the_device_are_skipped_with_a_note():
    config = config_from_preset("seed")
    ladder = bench.sweep_sizes(FakeGPU(0))
    assert bench.fitting_sizes(config, ladder, FakeGPU(10**15)) == (list(ladder), [])
    small = FakeGPU(10**6)  # half of it holds a few dozen seeds of the seed preset
    fits = ensemble.default_seed_batch(config, 131_072, small)
    fit, skipped = bench.fitting_sizes(config, ladder, small)
    assert fit == [size for size in ladder if size <= fits] and fit[:2] == [1, 16]
    assert [row["seeds"] for row in skipped] == [size for size in ladder if size > fits]
    assert all(f"holds {fits:,} seeds" in row["note"] for row in skipped)


def test_a_spread_batch_trains_each_share_as_one_device_trains_it():
    devices = jax.local_devices(backend="cpu")
    game = engine.make_game(config_from_preset("seed", num_steps=30))
    key_setup, key_train, _ = ensemble.seed_keys([3, 1, 4, 1, 5, 9])
    states = ensemble.setup_seeds(game, key_setup, 5)
    one = ensemble.spread(jax.tree.map(lambda leaf: leaf[:1] if leaf.ndim else leaf, states), key_train[:1])
    assert ensemble.share_count(one[1]) == 1  # one seed: not spread
    if len(devices) < 2:
        pytest.skip("one CPU device: JAX started before tinygan set its XLA flags")
    spread_states, spread_keys = ensemble.spread(states, key_train)
    assert ensemble.share_count(spread_keys) == 2
    assert sorted((shard.device.id, shard.data.shape[0]) for shard in spread_keys.addressable_shards) == [
        (devices[0].id, 3), (devices[1].id, 3)]
    assert spread_states.step.sharding.is_fully_replicated  # the counters: on every device
    trained = ensemble.train_chunk(game, spread_states, spread_keys, 30)
    # The second share alone on the first device: each device's part of the program gives the same bits. (A
    # smaller batch gives each seed the same bits too: see the padded batches in tests/test_sweep.py.)
    second = jax.device_put((jax.tree.map(lambda leaf: leaf[3:] if leaf.ndim else leaf, states), key_train[3:]),
                            devices[0])
    alone = ensemble.train_chunk(game, *second, 30)
    for a, b in zip(jax.tree.leaves(trained), jax.tree.leaves(alone), strict=True):
        np.testing.assert_array_equal(np.asarray(a)[3:] if np.ndim(a) else np.asarray(a), np.asarray(b))