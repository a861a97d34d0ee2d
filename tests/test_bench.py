"""tinygan bench: its figures are measured, consistent with each other, and its input is checked."""

import json

import pytest

from tinygan import cli
from tinygan.cli import bench


def test_loop_speeds_reports_both_loops_and_their_ratio():
    speeds = bench.loop_speeds("seed", steps=200)
    assert set(speeds) == {"compiled_its", "stepwise_its", "ratio"}
    assert speeds["compiled_its"] > 0 and speeds["stepwise_its"] > 0
    assert speeds["ratio"] == pytest.approx(speeds["compiled_its"] / speeds["stepwise_its"])


@pytest.mark.parametrize("steps", ["0", "-5"])
def test_bench_refuses_a_non_positive_step_count(steps, capsys):
    assert cli.main(["bench", "--steps", steps]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--steps must be >= 1" in err


def test_bench_prints_its_whole_report(capsys):
    """`tinygan bench` as a user runs it: both loops of both presets, the phases of a run, the command end to end."""
    assert cli.main(["bench", "--steps", "200", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for speeds in (report, report["minibatch"]):
        assert speeds["compiled_its"] > 0 and speeds["stepwise_its"] > 0
        assert speeds["ratio"] == pytest.approx(speeds["compiled_its"] / speeds["stepwise_its"], rel=1e-6)
    assert {"compile", "train"} <= set(report["train_seconds"]) and report["end_to_end_seconds"] > 0
