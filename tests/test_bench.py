"""tinygan bench: its figures are measured, consistent with each other, and its input is checked."""

import json

import pytest

from tinygan import cli, engine
from tinygan.cli import bench
from tinygan.config import ConfigError
from tinygan.engine import devices
from tinygan.engine.resolve import config_from_preset


def test_loop_speeds_reports_both_loops_their_ratio_and_the_flops_of_an_iteration():
    speeds = bench.loop_speeds("seed", steps=200)
    assert set(speeds) == {"compiled_its", "stepwise_its", "ratio", "flops_per_iteration"}
    assert speeds["compiled_its"] > 0 and speeds["stepwise_its"] > 0
    assert speeds["ratio"] == pytest.approx(speeds["compiled_its"] / speeds["stepwise_its"])
    assert speeds["flops_per_iteration"] == engine.iteration_flops(engine.make_game(config_from_preset("seed")))


def test_peak_flops_is_a_plausible_measured_rate():
    peak = bench.peak_flops(devices.cpu(), size=256)
    assert 1e8 < peak < 1e14  # between a slow core and far more than any CPU here


@pytest.mark.parametrize("steps", ["0", "-5"])
def test_bench_refuses_a_non_positive_step_count(steps, capsys):
    assert cli.main(["bench", "--steps", steps]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--steps must be in [1, 2**31)" in err


@pytest.mark.skipif(bool(devices.gpus()), reason="this machine has a GPU")
@pytest.mark.parametrize("entry", [lambda: bench.main(steps=10, as_json=True, device="gpu"),
                                   lambda: bench.sweep_main(as_json=True, device="gpu")])
def test_bench_on_a_gpu_where_there_is_none_is_a_one_line_config_error(entry, capsys):
    with pytest.raises(ConfigError) as error:
        entry()
    assert "\n" not in str(error.value) and "gpu" in str(error.value)
    assert capsys.readouterr().out == ""  # refused before anything ran


@pytest.mark.skipif(bool(devices.gpus()), reason="this machine has a GPU")
def test_bench_command_on_a_gpu_where_there_is_none_says_so_in_one_line(capsys):
    assert cli.main(["bench", "--device", "gpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gpu" in err


def test_bench_prints_its_whole_report(capsys):
    """`tinygan bench` as a user runs it: both loops of both presets, the device and its peak, the share of it,
    the phases of a run, the command end to end."""
    assert cli.main(["bench", "--steps", "200", "--json", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    host_devices = len(devices.platform_devices(devices.cpu()))
    assert report["platform"] == "cpu" and report["device"] == f"cpu ({host_devices} host devices)"
    peak = report["peak_gflops"] * 1e9
    assert peak > 0
    for speeds in (report, report["minibatch"]):
        assert speeds["compiled_its"] > 0 and speeds["stepwise_its"] > 0
        assert speeds["ratio"] == pytest.approx(speeds["compiled_its"] / speeds["stepwise_its"], rel=1e-6)
        assert 0 < speeds["peak_share"] < 1
        assert speeds["peak_share"] == pytest.approx(speeds["flops_per_iteration"] * speeds["compiled_its"] / peak)
    assert {"compile", "train"} <= set(report["train_seconds"]) and report["end_to_end_seconds"] > 0
