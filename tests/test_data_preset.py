"""The `data` preset: sized from a table's shape, the default for a file target, and what a run of it writes."""

import csv
import json
import math
import re

import jax
import numpy as np
import pytest
from helpers import assert_trees_equal, without_timings

import tinygan
from tinygan import cli, runs
from tinygan.config import DATA_LOG_POINTS, MAX_TABLE_COLUMNS, MIN_TABLE_ROWS, ConfigError, data_preset
from tinygan.engine.resolve import config_from_preset
from tinygan.live import settings
from tinygan.runs import checkpoints
from tinygan.runs.checkpoints import Checkpointer
from tinygan.runs.launch import finished_result
from tinygan.training import loop as trainer


def write_table(path, table, header) -> str:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(table)
    return str(path)


@pytest.fixture
def faithful(tmp_path) -> str:
    """Two clusters in two columns of unlike scales, Old Faithful's shape: 272 rows, waiting in whole minutes."""
    rng = np.random.default_rng(0)
    short = rng.random(272) < 0.36
    eruptions = np.where(short, rng.normal(2.0, 0.27, 272), rng.normal(4.3, 0.43, 272)).round(3)
    waiting = np.where(short, rng.normal(54, 6, 272), rng.normal(80, 6, 272)).round()
    return write_table(tmp_path / "faithful.csv", np.column_stack([eruptions, waiting]), ["eruptions", "waiting"])


def test_the_preset_is_sized_from_the_tables_shape():
    small, large = data_preset(272, 2), data_preset(1_000_000, 16)
    assert small.data.noise_dim == 2 and large.data.noise_dim == 16  # G adds its noise to its output
    assert small.data.quantile_transform and small.model.generator_skip and small.data.smoothing == 1.0
    assert (small.train.num_steps, small.model.generator_width, small.model.discriminator_width) == (10_000, 64, 64)
    assert (large.train.num_steps, large.model.generator_width, large.model.discriminator_width) == (40_000, 128, 128)
    assert data_preset(20_000, 3).train.num_steps == 10_000 and data_preset(20_001, 3).train.num_steps == 40_000
    assert data_preset(50, 1).train.batch_size == 50 and large.train.batch_size == 256
    for config in (small, large):
        assert config.train.log_every == config.train.num_steps // DATA_LOG_POINTS
    assert data_preset(272, 2, num_steps=50).train.log_every == 2


@pytest.mark.parametrize(("num_steps", "log_every"), [
    (80, 4), (81, 3), (60, 2), (10_000, 400),  # a divisor near num_steps / 25: no shorter last interval
    (83, 3), (10_007, 400), (2**31 - 1, (2**31 - 1) // DATA_LOG_POINTS),  # none near: num_steps // 25
    (1, 1), (24, 1),
])
def test_the_data_presets_log_interval_divides_its_run_where_one_is_near(num_steps, log_every):
    assert data_preset(272, 2, num_steps=num_steps).train.log_every == log_every


def test_a_file_target_sizes_it_and_flags_still_win(faithful):
    config = config_from_preset("data", target=f"file:{faithful}")
    assert config.preset == "data" and config.data.noise_dim == 2
    assert config.train.num_steps == data_preset(272, 2).train.num_steps
    shorter = config_from_preset("data", **{"data.target": f"file:{faithful}", "train.num_steps": 200, "r1": 0.5})
    assert shorter.train.num_steps == 200 and shorter.train.log_every == 8 and shorter.train.r1 == 0.5
    one_column = config_from_preset("data", target=f"file:{faithful}", columns="waiting")
    assert one_column.data.noise_dim == 1


def test_a_law_is_learned_as_a_large_table():
    config = config_from_preset("data", target="ring")
    assert config.data.noise_dim == 2 and config == tinygan.replace(data_preset(None, 2), target="ring")


@pytest.mark.parametrize("rows, columns, message", [
    (MIN_TABLE_ROWS - 1, 2, f"has {MIN_TABLE_ROWS - 1} rows; the data preset needs at least {MIN_TABLE_ROWS}"),
    (30, MAX_TABLE_COLUMNS + 1, f"has {MAX_TABLE_COLUMNS + 1} columns; the data preset learns at most "
                                f"{MAX_TABLE_COLUMNS}: pick some with --columns"),
])
def test_a_table_the_preset_cannot_learn_is_refused(tmp_path, rows, columns, message):
    path = write_table(tmp_path / "t.csv", np.random.default_rng(0).normal(size=(rows, columns)),
                       [f"c{j}" for j in range(columns)])
    with pytest.raises(ConfigError, match=message):
        config_from_preset("data", target=f"file:{path}")
    config_from_preset("seed", target=f"file:{path}")  # the blog's network takes any table


@pytest.mark.parametrize("content, message", [
    ("a,b\n1,2\n3,x\n" + "4,5\n" * 30, r"line 3, column 1 \('b'\): 'x' is not a number"),
    ("a,b\n" + "1,7\n2,7\n" * 20, "column 'b' of .* holds a single value"),
])
def test_bad_tables_end_in_one_line_and_exit_2_with_nothing_written(tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert cli.main(["train", "--target", f"file:{path}", "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("tinygan: error: ")
    assert re.search(message, error)
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`tinygan train --target file:faithful.csv` with no preset, shortened, and what it printed."""
    folder = tmp_path_factory.mktemp("data-run")
    rng = np.random.default_rng(0)
    short = rng.random(272) < 0.36
    table = np.column_stack([np.where(short, rng.normal(2.0, 0.27, 272), rng.normal(4.3, 0.43, 272)),
                             np.where(short, rng.normal(54, 6, 272), rng.normal(80, 6, 272)).round()])
    path = write_table(folder / "faithful.csv", table, ["eruptions", "waiting"])
    return folder, path


def test_a_file_target_without_a_preset_trains_the_data_preset_and_says_so(trained, capsys):
    folder, path = trained
    run = folder / "run"
    assert cli.main(["train", "--target", f"file:{path}", "--num-steps", "80", "--out", str(run)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("preset data (for a file target; --preset seed trains the blog's network on it): "
                             "272 rows x 2 columns; G 3 x 64 leaky_relu, D 3 x 64 leaky_relu, batch 256")
    assert out[0].endswith("80 iterations")
    assert json.loads((run / "config.json").read_text())["preset"] == "data"
    metrics = json.loads((run / "metrics.json").read_text())
    verdict = metrics["verdict"]
    assert verdict["learned"] == (metrics["floor_ratio"] <= 1)
    assert [line for line in out if line.startswith("verdict: ")] == [f"verdict: {verdict['sentence']}"]
    with open(run / "history.csv") as file:
        header = next(csv.reader(file))
    assert header[-8:] == ["floor_ratio", "classifier", "memorised", "corr_error", "w1:eruptions", "ks:eruptions",
                           "w1:waiting", "ks:waiting"]
    for name in ("distribution.png", "metrics.png", "training.gif"):
        assert (run / name).stat().st_size > 1000

    # Samples come back under the table's own column names; the counts column in whole minutes.
    assert cli.main(["sample", str(run), "-n", "500", "--out", str(folder / "samples.csv")]) == 0
    samples = np.loadtxt(folder / "samples.csv", delimiter=",", skiprows=1)
    assert (folder / "samples.csv").read_text().splitlines()[0] == "eruptions,waiting"
    assert np.array_equal(samples[:, 1], samples[:, 1].round())
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    low, high = np.float32(table[:, 0].min()), np.float32(table[:, 0].max())  # samples are float32
    assert low <= samples[:, 0].min() and samples[:, 0].max() <= high

    # The exported generator draws the very samples, in the data's units.
    assert cli.main(["export", str(run), str(folder / "g.npz")]) == 0
    generator = tinygan.load_generator(folder / "g.npz")
    result, _ = finished_result(run, measured=False)
    np.testing.assert_array_equal(generator.sample(300, 4), result.sample(300, key=jax.random.key(4)))


def test_preset_seed_still_trains_the_blogs_network_on_a_file(trained, capsys):
    folder, path = trained
    run = folder / "seed-run"
    assert cli.main(["train", "--preset", "seed", "--target", f"file:{path}", "--columns", "waiting",
                     "--num-steps", "20", "--pretrain-steps", "5", "--out", str(run), "--no-plots"]) == 0
    assert not capsys.readouterr().out.startswith("preset data")
    config = json.loads((run / "config.json").read_text())
    assert config["preset"] == "seed" and config["model"]["hidden_size"] == 4
    assert not config["data"]["quantile_transform"]


def test_a_data_run_resumed_from_any_checkpoint_equals_the_run_never_stopped(trained, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer, "CHUNK_ITERATIONS", 20)
    _, path = trained
    config = config_from_preset("data", target=f"file:{path}", num_steps=60)
    whole = tinygan.train(config, checkpoint=Checkpointer(tmp_path, keep=10), checkpoint_every=20)
    found = checkpoints.checkpoints(tmp_path)
    snapshot, segments = checkpoints.load(found[0])
    again = tinygan.train(config, resume=snapshot, checkpoint=Checkpointer(tmp_path / "again", 10, segments),
                          checkpoint_every=20)
    assert_trees_equal(whole.state, again.state)
    for name in whole.history:
        assert whole.history[name].tobytes() == again.history[name].tobytes(), name
    assert repr(without_timings(whole.metrics)) == repr(without_timings(again.metrics))


def test_three_columns_draw_a_corner_plot(tmp_path):
    rng = np.random.default_rng(2)
    path = write_table(tmp_path / "t.csv", rng.normal(size=(60, 3)) * [1, 100, 0.01], ["a", "b", "c"])
    config = config_from_preset("data", target=f"file:{path}", num_steps=20)
    result = tinygan.train(config)
    assert {"sliced_w1", "energy", "floor_ratio", "classifier"} <= set(result.history)  # above 2-D: no grid KL
    assert result.frames[-1].decision is None  # no D picture beyond two dimensions
    written = tinygan.save_run(result, tmp_path / "run")
    figure = runs.distribution_figure(result.game, result.config, result.frames[-1],
                                               runs.real_samples(result.game, 0), lang="en")
    assert len(figure.axes) >= 6  # 3 x 3 panels, the upper triangle empty
    assert {path.name for path in written} >= {"distribution.png", "training.gif"}


def test_a_one_column_tables_pictures_are_in_its_own_units(tmp_path):
    path = write_table(tmp_path / "w.csv", np.random.default_rng(3).normal(1000, 20, (200, 1)), ["grams"])
    result = tinygan.train(config_from_preset("data", target=f"file:{path}", num_steps=20))
    figure = runs.distribution_figure(result.game, result.config, result.frames[-1],
                                               runs.real_samples(result.game, 0), lang="en")
    low, high = figure.axes[0].get_xlim()
    assert 850 < low < 960 and 1040 < high < 1150
    assert math.isclose(figure.axes[1].get_ylim()[1], 1.15)  # D(x) on an axis of its own: densities are ~0.02


def test_an_upload_in_the_live_view_is_learned_by_the_data_preset(faithful):
    config = settings.apply(config_from_preset("seed"), {"target": settings.UPLOAD}, faithful)
    assert config.preset == "data" and config.data.target == f"file:{faithful}"
    assert config == config_from_preset("data", target=f"file:{faithful}")


def test_a_data_run_is_used_from_any_folder_and_only_with_its_own_table(tmp_path, monkeypatch, capsys):
    """The file's path is kept absolute and its table's checksum in each checkpoint: sample works from another
    folder, the same numbers written another way are the same data, and a changed or missing file is refused in
    one line that blames the data, not the checkpoint, with nothing written."""
    from tinygan.data.targets import make_target

    (tmp_path / "here").mkdir()
    (tmp_path / "elsewhere").mkdir()
    rows = np.random.default_rng(1).normal(4, 0.5, 300).round(3)
    (tmp_path / "here" / "d.csv").write_text("x\n" + "".join(f"{value}\n" for value in rows))
    monkeypatch.chdir(tmp_path / "here")
    argv = ["train", "--preset", "seed", "--target", "file:d.csv", "--num-steps", "20", "--pretrain-steps", "0",
            "--no-plots", "--quiet", "--out", "run"]
    assert cli.main(argv) == 0
    run = tmp_path / "here" / "run"
    assert json.loads((run / "config.json").read_text())["data"]["target"] == f"file:{tmp_path / 'here' / 'd.csv'}"
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert cli.main(["sample", str(run), "-n", "3"]) == 0
    drawn = capsys.readouterr().out
    (tmp_path / "here" / "d.csv").write_text("x\n" + "".join(f" {value:.6f}\n" for value in rows))  # the same numbers
    make_target.cache_clear()  # as a new process reads the file
    assert cli.main(["sample", str(run), "-n", "3"]) == 0
    assert capsys.readouterr().out == drawn
    checkpoint = run / "checkpoints" / "step-000000020.npz"
    for changed, why in [("x\n" + "".join(f"{value}\n" for value in rows[:-1]), "(300 x 1 then, 299 x 1 now)"),
                         ("x\n" + "".join(f"{value + 1e-3}\n" for value in rows), "(300 x 1, other numbers)")]:
        (tmp_path / "here" / "d.csv").write_text(changed)
        make_target.cache_clear()
        before = {path: path.read_bytes() for path in run.rglob("*") if path.is_file()}
        for command in (["sample", str(run)], ["plot", str(run)], ["resume", str(run), "--num-steps", "40"],
                        ["export", str(run), "g.npz"]):
            assert cli.main(command) == cli.EXIT_USAGE, command
            assert capsys.readouterr().err == (f"tinygan: error: {checkpoint}: its data file "
                                               f"{tmp_path / 'here' / 'd.csv'} has changed since the run trained on "
                                               f"it {why}: put the run's data back, or train a new run on the new "
                                               "data\n"), command
        assert {path: path.read_bytes() for path in run.rglob("*") if path.is_file()} == before
    (tmp_path / "here" / "d.csv").unlink()
    make_target.cache_clear()
    assert cli.main(["sample", str(run)]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (f"tinygan: error: {checkpoint}: the data it trained on cannot be used: "
                                       f"data.target: no file '{tmp_path / 'here' / 'd.csv'}'\n")
    assert list((tmp_path / "elsewhere").iterdir()) == []
    (tmp_path / "here" / "d.csv").write_text("x\n" + "".join(f"{value}\n" for value in rows))
    make_target.cache_clear()
    config = checkpoints.load(checkpoint, with_frames=False)[0].config
    for recorded in [{"rows": "300", "columns": 1, "sha256": "0"}, {"rows": 300}, None, []]:
        if recorded is not None:
            with pytest.raises(checkpoints.CheckpointError, match="its manifest is malformed \\('data' is not"):
                checkpoints._check_same_data(checkpoint, config, recorded)
