"""Run folders: names, checks, atomic files, and `tinygan.save_run` on a trained result."""

import csv
import json
from datetime import datetime

import numpy as np
import pytest
from PIL import Image

import tinygan
from tinygan import runs
from tinygan.config import Config


def test_default_run_dir_is_dated_and_never_reused(tmp_path):
    now = datetime(2026, 3, 4, 5, 6, 7)
    first = runs.default_run_dir("seed", tmp_path, now)
    assert first == tmp_path / "20260304-050607-seed"
    first.mkdir()
    assert runs.default_run_dir("seed", tmp_path, now) == tmp_path / "20260304-050607-seed-2"
    (tmp_path / "20260304-050607-seed-2").mkdir()
    assert runs.default_run_dir("seed", tmp_path, now) == tmp_path / "20260304-050607-seed-3"
    assert runs.default_run_dir("seed-minibatch", tmp_path, now).name == "20260304-050607-seed-minibatch"


def test_check_run_dir_accepts_a_new_or_empty_folder(tmp_path):
    assert runs.check_run_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert runs.check_run_dir(tmp_path) == tmp_path
    assert list(tmp_path.iterdir()) == []  # checking creates nothing


def test_write_atomic_leaves_only_the_file(tmp_path):
    runs.write_atomic(tmp_path / "a.txt", "hello\n")
    runs.write_atomic(tmp_path / "b.bin", b"\x00\x01")
    runs.write_atomic(tmp_path / "a.txt", "replaced\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]
    assert (tmp_path / "a.txt").read_text() == "replaced\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_to_json_writes_non_finite_numbers_as_null():
    text = runs.to_json({"w1": float("nan"), "mean": float("-inf"), "seconds": {"total": np.float64("inf")}, "ks": 0.5})
    assert json.loads(text) == {"w1": None, "mean": None, "seconds": {"total": None}, "ks": 0.5}
    assert text.endswith("\n")


def test_history_csv_round_trips_every_float_exactly():
    history = {"step": np.array([0, 10]), "loss_d": np.array([1.0, 0.1 + 0.2]), "loss_g": np.array([np.nan, 2.5]),
               "mean": np.array([4.0, 1e-300]), "std": np.array([0.5, 0.5]), "w1": np.array([np.inf, 0.0]),
               "ks": np.array([0.25, 1 / 3])}
    rows = list(csv.reader(runs.history_csv(history).splitlines()))
    assert rows[0] == ["step", "loss_d", "loss_g", "mean", "std", "w1", "ks"]
    assert rows[1][0] == "0" and rows[2][0] == "10"
    for name, column in zip(rows[0][1:], zip(*(row[1:] for row in rows[1:]))):
        np.testing.assert_array_equal([float(v) for v in column], history[name], err_msg=name)


@pytest.fixture(scope="module")
def saved(seed_result, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved") / "run"
    return folder, tinygan.save_run(seed_result, folder)


def test_save_run_writes_every_file(saved, seed_result):
    folder, written = saved
    names = ["config.json", "history.csv", "losses.png", "metrics.png", "distribution.png", "training.gif",
             "metrics.json"]
    assert written == [folder / name for name in names]
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)  # nothing partial or hidden
    assert Config.from_dict(json.loads((folder / "config.json").read_text())) == seed_result.config
    metrics = json.loads((folder / "metrics.json").read_text())
    assert {k: v for k, v in metrics.items() if k != "seconds"} == {
        k: v for k, v in seed_result.metrics.items() if k != "seconds"}
    assert set(metrics["seconds"]) == set(seed_result.metrics["seconds"]) | {"pictures"}
    assert "pictures" not in seed_result.metrics["seconds"]  # the result itself is left alone
    with Image.open(folder / "training.gif") as gif:
        assert gif.n_frames == len(seed_result.frames) == 6
    for name in ("losses.png", "distribution.png"):
        with Image.open(folder / name) as image:
            image.verify()
            assert image.format == "PNG"


def test_save_run_without_pictures(seed_result, tmp_path):
    written = tinygan.save_run(seed_result, tmp_path / "run", pictures=False)
    assert [p.name for p in written] == ["config.json", "history.csv", "metrics.json"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "history.csv", "metrics.json"]


def test_save_run_where_a_file_is_in_the_way_is_one_run_error(seed_result, tmp_path):
    (tmp_path / "file").write_text("kept")
    for folder in (tmp_path / "file", tmp_path / "file" / "run"):
        with pytest.raises(runs.RunError, match=f"^cannot create folder {folder}: {tmp_path / 'file'} is a file$"):
            tinygan.save_run(seed_result, folder, pictures=False)
    assert (tmp_path / "file").read_text() == "kept"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("modified", (2 * np.log(2), np.log(2))),
        ("minimax", (2 * np.log(2), -np.log(2))),
        ("least_squares", (0.25, 0.125)),  # outputs 1/2: (1/2)(1/4) + (1/2)(1/4), and (1/2)(1/4)
    ],
)
def test_equilibrium_losses_are_the_losses_at_d_one_half(name, expected):
    from tinygan.core.objectives import OBJECTIVES

    np.testing.assert_allclose(runs.equilibrium_losses(OBJECTIVES[name]), expected, rtol=1e-6)


@pytest.mark.parametrize("name", ["wasserstein", "wasserstein_hinge"])
def test_a_critic_has_no_equilibrium_line(name):
    from tinygan.core.objectives import OBJECTIVES

    assert runs.equilibrium_losses(OBJECTIVES[name]) is None
