"""Sweeps: many seeds as one program equal single runs; grids, seeds and success rules are checked; answers.

Training dominates the time here, so the configs are short (a few hundred
iterations) and single runs are compared on a few seeds only.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.stats
from helpers import measured

import tinygan
from tinygan import cli
from tinygan.config import ConfigError
from tinygan.measure import stats
from tinygan.sweep import grid as sweeps
from tinygan.training import seeds as ensemble


def same_numbers(a: dict, b: dict) -> bool:
    """Equal dicts, a NaN equal to a NaN."""
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k])) for k in a)


# ---------------------------------------------------------------- many seeds equal single runs


@pytest.mark.parametrize(
    ("preset", "overrides", "seeds"),
    [
        ("seed", {"num_steps": 300}, [3, 0]),  # plain SGD with the staircase decay (past its first step at 150)
        ("seed-minibatch", {"num_steps": 100}, [3, 0]),  # minibatch discrimination: reductions over the batch
        # Adam (bias correction), cosine, R1, EMA of G; one seed alone, the case XLA compiles differently
        ("recommended", {"num_steps": 100}, [5]),
    ],
)
def test_every_seed_equals_its_single_run_bit_for_bit(preset, overrides, seeds):
    config = tinygan.config_from_preset(preset, **overrides)
    rows = ensemble.train_seeds(config, seeds).rows
    assert [row["seed"] for row in rows] == seeds
    for row in rows:
        single = measured(tinygan.train(tinygan.replace(config, seed=row["seed"]), frames=False).metrics)
        assert same_numbers({k: v for k, v in row.items() if k != "seed"}, single), row["seed"]


def test_the_batch_size_does_not_change_any_seed():
    # small_plan's first cell: batches of 3 run the programs its sweep runs (6, padded from 5, run 3 a device).
    config = tinygan.config_from_preset("seed", num_steps=120, pretrain_steps=20, learning_rate=0.03)
    together = ensemble.train_seeds(config, range(5), seed_batch=5, picture_samples=10)
    apart = ensemble.train_seeds(config, range(5), seed_batch=3, picture_samples=10)
    assert all(same_numbers(a, b) for a, b in zip(together.rows, apart.rows))
    np.testing.assert_array_equal(together.samples, apart.samples)
    assert together.samples.shape == (5, 10, 1) and together.samples.dtype == np.float32


def test_a_sweep_refuses_what_ends_runs_early():
    for overrides in ({"stop_when": "w1<0.1"}, {"keep_best": True}):
        with pytest.raises(ConfigError, match="num_steps"):
            sweeps.plan_sweep(tinygan.config_from_preset("seed", **overrides))


def test_the_default_seed_batch_fits_the_memory_budget():
    seed = tinygan.config_from_preset("seed")
    assert ensemble.default_seed_batch(seed, 5000) == ensemble.MAX_SEED_BATCH
    assert ensemble.default_seed_batch(seed, 7) == 7
    ring = tinygan.config_from_preset("ring")  # 4 x 400 and 3 x 200 x 5: far more per seed
    size = ensemble.default_seed_batch(ring, 5000)
    assert 1 <= size < 64
    assert size * ensemble.state_bytes(ensemble.engine.make_game(ring), 100) <= ensemble.MEMORY_BUDGET


# ---------------------------------------------------------------- statistics


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [  # Wilson score intervals at 95%, as published (e.g. Newcombe 1998, Table I) and by R's prop.test(correct=F)
        (0, 10, 0.0, 0.2775),
        (1, 10, 0.0179, 0.4042),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
    ],
)
def test_wilson_interval_known_values(successes, n, low, high):
    got = stats.wilson_interval(successes, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_edges():
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)
    assert stats.wilson_interval(0, 3)[0] == 0.0 and stats.wilson_interval(3, 3)[1] == 1.0  # exactly, not a hair in
    with pytest.raises(ValueError):
        stats.wilson_interval(3, 2)
    low, high = stats.wilson_interval(500, 1000)
    assert low < 0.5 < high and high - low == pytest.approx(2 * 1.959964 * math.sqrt(0.25 / 1000), rel=3e-3)  # ~Wald


@pytest.mark.parametrize("n", [1, 2, 7, 40, 1000])
def test_wilson_interval_equals_scipys_at_the_edges_and_between(n):
    """Against scipy's binomtest(...).proportion_ci(method="wilson"), an independent formula: 0, 1, n-1, n successes."""
    for successes in sorted({0, 1, n - 1, n, n // 2}):
        expected = scipy.stats.binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert stats.wilson_interval(successes, n) == pytest.approx((expected.low, expected.high), abs=1e-6), successes


def test_two_proportion_test_known_values():
    # 45/100 against 30/100: pooled p = 0.375, z = 0.15 / sqrt(0.375 * 0.625 * 0.02) = 2.19089, two-sided 0.028459.
    assert stats.two_proportion_p_value(45, 100, 30, 100) == pytest.approx(0.028459, abs=1e-6)
    assert stats.two_proportion_p_value(30, 100, 45, 100) == stats.two_proportion_p_value(45, 100, 30, 100)
    assert stats.two_proportion_p_value(7, 10, 7, 10) == 1.0
    assert stats.two_proportion_p_value(0, 10, 0, 20) == 1.0  # nothing varies


def test_two_proportion_test_is_the_pooled_z_test():
    """scipy's 2 x 2 chi-squared test (no correction) against the pooled z-test's formula, written out here."""
    for n_a, n_b in [(1, 1), (3, 7), (10, 10), (25, 40), (1000, 30)]:
        for a in sorted({0, 1, n_a // 2, n_a - 1, n_a}):
            for b in sorted({0, 1, n_b // 3, n_b - 1, n_b}):
                pooled = (a + b) / (n_a + n_b)
                spread = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
                z = (a / n_a - b / n_b) / math.sqrt(spread) if spread else 0.0
                expected = 2 * scipy.stats.norm.sf(abs(z))
                assert stats.two_proportion_p_value(a, n_a, b, n_b) == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_wilson_interval_at_another_confidence():
    z = scipy.stats.norm.ppf(0.95)  # 90%: centre (p + z^2 / 2n) / (1 + z^2 / n), half-width as Wilson wrote it
    p, n = 0.3, 20
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert stats.wilson_interval(6, 20, confidence=0.9) == pytest.approx((centre - half, centre + half), abs=1e-12)


def test_quartiles_count_what_is_not_finite():
    q = stats.quartiles([1.0, 2.0, 3.0, 4.0, 5.0, math.nan, math.inf])
    assert (q["q1"], q["median"], q["q3"], q["non_finite"]) == (2.0, 3.0, 4.0, 2)
    assert math.isnan(stats.quartiles([math.nan])["median"])


# ---------------------------------------------------------------- seeds, grids and success rules


def test_parse_seeds():
    assert sweeps.parse_seeds("0:5") == (0, 1, 2, 3, 4)
    assert sweeps.parse_seeds("3, 7,11") == (3, 7, 11)
    assert sweeps.parse_seeds("0:3,10,20:22") == (0, 1, 2, 10, 20, 21)
    assert sweeps._seeds_text((0, 1, 2, 10, 20, 21)) == "0:3,10,20:22"


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "expected N"), ("a:b", "expected N"), ("5:5", "holds no seed"), ("1,1", "twice"), ("0:3,2", "twice"),
     ("-1", r"\[0, 2\*\*32\)"), ("4294967296", r"\[0, 2\*\*32\)"), ("0:2000000", "at most")],
)
def test_bad_seeds(text, message):
    with pytest.raises(sweeps.SweepError, match=message):
        sweeps.parse_seeds(text)


def test_grid_expands_every_combination_first_item_slowest():
    base = tinygan.config_from_preset("seed")
    cells = sweeps.parse_grid(["objective=modified,least_squares", "learning-rate=1e-3,0.01,0.1"], base)
    assert len(cells) == 6
    assert cells[0] == {"objective": "modified", "learning_rate": 1e-3}
    assert cells[1] == {"objective": "modified", "learning_rate": 0.01}
    assert cells[3] == {"objective": "least_squares", "learning_rate": 1e-3}
    assert sweeps.parse_grid([], base) == [{}]
    ring = tinygan.config_from_preset("ring")
    assert sweeps.parse_grid(["target_params=modes=8, radius=1;modes=4"], ring) == [
        {"target_params": "modes=8, radius=1"}, {"target_params": "modes=4"}]
    assert sweeps.parse_grid(["minibatch=true,False", "batch_size=8"], base) == [
        {"minibatch": True, "batch_size": 8}, {"minibatch": False, "batch_size": 8}]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["nonsense=1,2"], "unknown setting 'nonsense'"),
        (["learning_rate"], "expected NAME=VALUE"),
        (["learning_rate="], "expected NAME=VALUE"),
        (["learning_rate=fast"], "'fast' is not a float"),
        (["batch_size=1.5"], "'1.5' is not a int"),
        (["minibatch=maybe"], "'maybe' is not a bool"),
        (["objective=modified,nonsense"], "objective"),  # the config's own check names the field
        (["batch_size=0"], "batch_size"),
        (["seed=1,2"], "use --seeds"),
        (["num_steps=1", "num-steps=2"], "twice"),
        (["num_steps=1,1"], "twice"),
    ],
)
def test_bad_grids(items, message):
    with pytest.raises(sweeps.SweepError, match=message):
        sweeps.parse_grid(items, tinygan.config_from_preset("seed"))


def test_success_rules():
    seed = tinygan.config_from_preset("seed")
    rule = sweeps.parse_success("w1 < 0.05", [seed])
    assert (rule.metric, rule.kind, rule.threshold) == ("w1", "<", 0.05)
    assert sweeps.succeeds({"w1": 0.01}, rule) and not sweeps.succeeds({"w1": 0.05}, rule)
    assert not sweeps.succeeds({"w1": math.nan}, rule)  # a diverged run never succeeds
    for text, message in [("plateau", "plateau is a stopping rule"), ("loss_d<1", "final metric"),
                          ("w1=0.1", "expected"), ("sliced_w1<0.1", "not measured for target 'gaussian'"),
                          ("w1<nan", "^--success: the threshold 'nan' in 'w1<nan' is not a finite number \\(expected "
                                     "METRIC<NUMBER or METRIC>NUMBER\\)$")]:
        with pytest.raises(sweeps.SweepError, match=message):
            sweeps.parse_success(text, [seed])
    ring = tinygan.config_from_preset("ring")
    assert sweeps.parse_success("modes_captured>7", [ring]).kind == ">"
    assert sweeps.plan_sweep(ring, seeds="0:2").success == "sliced_w1<0.1"  # the main distance by default


# ---------------------------------------------------------------- a whole sweep: answers, files, resume


@pytest.fixture(scope="module")
def small_plan():
    base = tinygan.config_from_preset("seed", num_steps=120, pretrain_steps=20)
    return sweeps.plan_sweep(base, ["learning_rate=0.03,0.001"], "0:5", "w1<3", seed_batch=3)


@pytest.fixture(scope="module")
def small_sweep(small_plan, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    calls = []
    result = sweeps.run_sweep(small_plan, folder, progress=lambda n, total: calls.append((n, total)))
    return result, folder, calls


def test_a_sweep_cuts_cells_into_batches_of_seeds(small_plan):
    assert [(u.cell, u.seeds, u.width) for u in small_plan.units()] == [
        (0, (0, 1, 2), 3), (0, (3, 4), 3), (1, (0, 1, 2), 3), (1, (3, 4), 3)]


def test_sweep_rows_and_summaries(small_sweep, small_plan):
    result, _, calls = small_sweep
    assert [(row["cell"], row["seed"]) for row in result.rows] == [(c, s) for c in (0, 1) for s in range(5)]
    assert all(row["learning_rate"] == (0.03, 0.001)[row["cell"]] for row in result.rows)
    for cell in result.cells:
        rows = [row for row in result.rows if row["cell"] == cell["cell"]]
        successes = sum(row["w1"] < 3 for row in rows)
        assert (cell["seeds"], cell["successes"]) == (5, successes)
        assert cell["wilson_95"] == list(stats.wilson_interval(successes, 5))
        assert cell["w1"]["median"] == float(np.median([row["w1"] for row in rows]))
        assert all(row["success"] == (row["w1"] < 3) for row in rows)
    assert "p_value_vs_cell_0" not in result.cells[0]
    assert result.cells[1]["p_value_vs_cell_0"] == stats.two_proportion_p_value(
        result.cells[1]["successes"], 5, result.cells[0]["successes"], 5)
    # progress: every seed-iteration once, against the total
    assert sum(n for n, _ in calls) == 2 * 5 * 120 and {total for _, total in calls} == {2 * 5 * 120}
    assert [s.shape for s in result.samples] == [(5, sweeps.PICTURE_SAMPLES, 1)] * 2


def test_a_cells_seed_equals_tinygan_train_with_its_settings(small_sweep, small_plan):
    result, _, _ = small_sweep
    row = result.rows[7]  # cell 1, seed 2
    config = tinygan.replace(small_plan.base, learning_rate=0.001, seed=2)
    single = measured(tinygan.train(config, frames=False).metrics)
    assert same_numbers({k: row[k] for k in single}, single)


def test_sweep_files(small_sweep):
    result, folder, _ = small_sweep
    lines = (folder / sweeps.CSV_FILE).read_text().splitlines()
    assert lines[0].split(",") == ["cell", "learning_rate", "seed", "status", "mean", "std", "w1", "ks", "samples",
                                   "iterations", "success"]
    assert len(lines) == 1 + 10
    first = dict(zip(lines[0].split(","), lines[1].split(",")))
    assert float(first["w1"]) == result.rows[0]["w1"] and first["success"] in ("0", "1")  # exact floats
    summary = json.loads((folder / sweeps.SUMMARY_FILE).read_text())
    assert summary["success"] == "w1<3" and len(summary["cells"]) == 2
    assert summary["cells"][1]["settings"] == {"learning_rate": 0.001}
    saved = json.loads((folder / sweeps.PLAN_FILE).read_text())
    assert sweeps.SweepPlan.from_dict(saved) == result.plan
    assert not list(folder.rglob(".*.partial"))


def test_resume_trains_only_the_missing_batches(small_sweep, small_plan, tmp_path, monkeypatch):
    result, folder, _ = small_sweep
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    missing = small_plan.units()[3]
    (copy / sweeps.PARTS / f"{missing.name}.json").unlink()  # as if stopped before this batch ended
    trained = []
    real = sweeps.run_unit
    monkeypatch.setattr(sweeps, "run_unit", lambda unit, *args, **kw: trained.append(unit) or real(unit, *args, **kw))
    resumed = sweeps.run_sweep(small_plan, copy, resume=True)
    assert trained == [missing]
    assert all(same_numbers(a, b) for a, b in zip(resumed.rows, result.rows))
    assert resumed.cells == result.cells
    # a finished sweep resumes without training anything
    trained.clear()
    sweeps.run_sweep(small_plan, copy, resume=True)
    assert trained == []


def test_resume_refuses_another_plan_and_a_new_sweep_refuses_a_used_folder(small_sweep, small_plan):
    _, folder, _ = small_sweep
    other = sweeps.plan_sweep(small_plan.base, ["learning_rate=0.03,0.002"], "0:5", "w1<3", seed_batch=3)
    with pytest.raises(tinygan.runs.RunError, match="another sweep"):
        sweeps.run_sweep(other, folder, resume=True)
    with pytest.raises(tinygan.runs.RunError, match="not empty"):
        sweeps.run_sweep(small_plan, folder)


# ---------------------------------------------------------------- the command


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--grid", "nonsense=1"], "unknown setting 'nonsense'"),
        (["--grid", "learning_rate=abc"], "is not a float"),
        (["--grid", "objective=bogus"], "objective"),
        (["--seeds", "5:1"], "holds no seed"),
        (["--success", "w1"], "expected METRIC"),
        (["--seed-batch", "0"], "--seed-batch"),
        (["--seed", "3"], "--seeds"),
        (["--resume"], "--resume needs --out"),
        (["--address", "x:1"], "--backend ray"),
        (["--stop-when", "w1<0.1"], "num_steps"),
    ],
)
def test_bad_sweep_input_exits_2_with_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["sweep", "--num-steps", "10", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("tinygan: error:") and err.count("\n") == 1 and message.split()[-1] in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_sweep_command_prints_the_table_and_writes_its_folder(tmp_path, monkeypatch, capsys):
    # Cell 1 is the seed-minibatch case above (100 iterations, seeds of a batch of 2): its programs are built.
    monkeypatch.chdir(tmp_path)
    argv = ["sweep", "--seeds", "0:2", "--num-steps", "100", "--grid", "minibatch=false,true", "--success", "w1<2",
            "--out", "out", "--no-plots"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "success: w1<2" in out and "minibatch=False" in out and "minibatch=True" in out and "p vs cell 0" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["parts", "summary.json", "sweep.csv",
                                                                     "sweep.json"]
    assert cli.main([*argv, "--resume", "--json"]) == 0  # nothing left to train: the same answers, as JSON
    summary = json.loads(capsys.readouterr().out)
    assert summary == json.loads((tmp_path / "out" / "summary.json").read_text())
