"""Working with run folders: sample, plot, runs, export; and what training prints (--json, --quiet) and logs
(--tensorboard)."""

from __future__ import annotations

import json
import shutil

import jax
import numpy as np
import pytest

import tinygan
from tinygan import cli, runs
from tinygan.runs import launch as runner

TRAIN = ["train", "--num-steps", "40", "--log-every", "10", "--pretrain-steps", "0"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 40-iteration run with pictures and TensorBoard, trained with --json: the folder and what it printed."""
    folder = tmp_path_factory.mktemp("runs") / "first"
    with pytest.MonkeyPatch.context() as patch:
        printed = []
        patch.setattr("builtins.print", lambda *args, **kwargs: printed.append(" ".join(map(str, args))))
        assert cli.main([*TRAIN, "--out", str(folder), "--tensorboard", "--json"]) == 0
    return folder, printed


def test_json_prints_one_object_per_log_line_and_one_at_the_end(run):
    folder, printed = run
    events = [json.loads(line) for line in printed]
    assert [e["event"] for e in events] == ["log"] * 5 + ["end"]
    assert [e["step"] for e in events[:5]] == [0, 10, 20, 30, 40]  # every log point, then the last iteration
    history = runs.read_json(folder / "metrics.json")
    assert events[-1]["w1"] == history["w1"] and events[-1]["folder"] == str(folder)
    assert set(events[0]) == {"event", "step", "loss_d", "loss_g", "mean", "std", "w1", "ks"}


def test_tensorboard_holds_the_losses_metrics_and_pictures(run):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    folder, _ = run
    events = accumulator.EventAccumulator(str(folder / runner.TENSORBOARD_FOLDER), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()
    assert {"loss/d", "loss/g", "metric/w1", "metric/ks"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("loss/d")] == [0, 10, 20, 30, 40]
    history = np.genfromtxt(folder / "history.csv", delimiter=",", names=True)
    np.testing.assert_array_equal([e.value for e in events.Scalars("metric/w1")], history["w1"].astype(np.float32))
    assert [e.step for e in events.Images("distribution")] == [0, 10, 20, 30]


def test_sample_draws_from_the_trained_generator(run, tmp_path, capsys):
    folder, _ = run
    assert cli.main(["sample", str(folder), "-n", "7", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    result, _ = runner.finished_result(folder, measured=False)
    expected = result.sample(7, key=jax.random.key(3), quasi=True)  # quasi-random noise, unless --iid
    assert lines[0] == "x" and [float(line) for line in lines[1:]] == expected[:, 0].tolist()
    assert cli.main(["sample", str(folder), "-n", "7", "--seed", "3", "--iid"]) == 0
    independent = [float(line) for line in capsys.readouterr().out.splitlines()[1:]]
    assert independent == result.sample(7, key=jax.random.key(3))[:, 0].tolist() != expected[:, 0].tolist()
    out = tmp_path / "samples.csv"
    assert cli.main(["sample", str(folder), "-n", "7", "--seed", "3", "--out", str(out)]) == 0
    assert out.read_text().splitlines() == lines
    assert cli.main(["sample", str(folder), "-n", "7", "--out", str(out)]) == cli.EXIT_USAGE  # never replaced
    assert "already exists" in capsys.readouterr().err
    assert out.read_text().splitlines() == lines


def test_sample_writes_a_numpy_array_by_its_extension_and_refuses_others(run, tmp_path, capsys):
    folder, _ = run
    result, _ = runner.finished_result(folder, measured=False)
    assert cli.main(["sample", str(folder), "-n", "7", "--seed", "3", "--out", str(tmp_path / "s.NPY")]) == 0
    saved = np.load(tmp_path / "s.NPY", allow_pickle=False)
    assert saved.dtype == np.float32 and saved.shape == (7, 1)
    assert saved.tobytes() == np.asarray(result.sample(7, key=jax.random.key(3), quasi=True)).tobytes()
    capsys.readouterr()
    for out, error in [("s.txt", "unknown extension '.txt'; use .csv or .npy"),
                       ("samples", "unknown extension '(none)'; use .csv or .npy"),
                       ("s.NPY/x.csv", f"{tmp_path / 's.NPY'} is a file, not a folder")]:
        assert cli.main(["sample", str(folder), "--out", str(tmp_path / out)]) == cli.EXIT_USAGE
        assert capsys.readouterr().err == f"tinygan: error: --out {tmp_path / out}: {error}\n"
    assert cli.main(["export", str(folder), str(tmp_path / "g.bin")]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == f"tinygan: error: OUT {tmp_path / 'g.bin'}: unknown extension '.bin'; use .npz\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["s.NPY"]


def test_empty_paths_are_refused_not_read_as_the_current_folder(run, tmp_path, capsys, monkeypatch):
    folder, _ = run
    monkeypatch.chdir(tmp_path)
    for argv, flag in [(["train", "--out", ""], "--out"), (["train", "--anim", " "], "--anim"), (["runs", ""], "DIR"),
                       (["sample", str(folder), "--out", ""], "--out"), (["export", str(folder), ""], "OUT"),
                       (["plot", ""], "RUN"), (["sweep", "--out", ""], "--out"), (["serve", "--run", ""], "--run")]:
        assert cli.main(argv) == cli.EXIT_USAGE, argv
        assert capsys.readouterr().err.endswith(f"argument {flag}: expected a path, got an empty text\n"), argv
    assert list(tmp_path.iterdir()) == []


def test_export_writes_the_generator_that_load_generator_reads(run, tmp_path, capsys):
    folder, _ = run
    out = tmp_path / "g.npz"
    assert cli.main(["export", str(folder), str(out)]) == 0
    assert "at step 40" in capsys.readouterr().out
    generator = tinygan.load_generator(out)
    assert cli.main(["sample", str(folder), "-n", "5", "--seed", "1"]) == 0
    sampled = [float(line) for line in capsys.readouterr().out.splitlines()[1:]]
    assert generator.sample(5, 1, quasi=True)[:, 0].tolist() == sampled
    assert out.stat().st_size < 10_000


def test_plot_draws_the_same_pictures_again(run, tmp_path, capsys):
    folder, _ = run
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in folder.rglob("*"):
        if path.is_file() and not path.name.endswith((".png", ".gif")):
            (copy / path.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(folder)).write_bytes(path.read_bytes())
    assert cli.main(["plot", str(copy)]) == 0
    for name in ["distribution.png", "losses.png", "metrics.png", "training.gif"]:
        assert (copy / name).read_bytes() == (folder / name).read_bytes(), name


def test_plot_never_writes_over_an_animation_outside_the_run(run, tmp_path, capsys):
    """A copy of a run whose status.json names an animation elsewhere (another run's, say): plot draws it again in
    the copy, with a note, and leaves that file alone; --anim PATH draws it to a new file of the user's choice."""
    folder, _ = run
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (tmp_path / "elsewhere.gif").write_bytes(b"someone else's")
    status = json.loads((copy / "status.json").read_text())
    status["options"]["animation"] = str(tmp_path / "elsewhere.gif")
    (copy / "status.json").write_text(json.dumps(status))
    (copy / "training.gif").unlink()
    assert cli.main(["plot", str(copy)]) == 0
    assert capsys.readouterr().err == (f"tinygan: note: the run's animation, {tmp_path / 'elsewhere.gif'}, is outside "
                                       f"{copy}: drawn again as {copy / 'training.gif'} (--anim PATH to draw it "
                                       "elsewhere)\n")
    assert (tmp_path / "elsewhere.gif").read_bytes() == b"someone else's"
    assert (copy / "training.gif").read_bytes() == (folder / "training.gif").read_bytes()
    assert cli.main(["plot", str(copy), "--anim", str(tmp_path / "mine.gif")]) == 0
    assert (tmp_path / "mine.gif").read_bytes() == (folder / "training.gif").read_bytes()
    assert cli.main(["plot", str(copy), "--anim", str(tmp_path / "elsewhere.gif")]) == cli.EXIT_USAGE
    assert "elsewhere.gif: already exists" in capsys.readouterr().err
    (tmp_path / "dangling.gif").symlink_to(tmp_path / "nowhere.gif")
    for anim, error in [(".", "--anim .: unknown extension '(none)'; use .gif or .mp4"),
                        (str(tmp_path / "dangling.gif"), f"--anim {tmp_path / 'dangling.gif'}: already exists")]:
        assert cli.main(["plot", str(copy), "--anim", anim]) == cli.EXIT_USAGE
        assert capsys.readouterr().err.startswith(f"tinygan: error: {error}")
    assert (tmp_path / "dangling.gif").is_symlink() and not (tmp_path / "nowhere.gif").exists()
    assert cli.main(["plot", str(copy), "--lang", "pt", "--anim", str(tmp_path / "mine.gif")]) == 0  # mine.pt.gif
    assert (tmp_path / "mine.pt.gif").is_file() and (tmp_path / "elsewhere.gif").read_bytes() == b"someone else's"


def test_plot_in_another_language_writes_beside_the_runs_own_pictures(run, tmp_path, capsys):
    folder, _ = run
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    before = {path.name: path.read_bytes() for path in copy.iterdir() if path.is_file()}
    assert cli.main(["plot", str(copy), "--lang", "pt"]) == 0
    for name in ["distribution", "losses", "metrics"]:
        assert (copy / f"{name}.pt.png").is_file() and (copy / f"{name}.png").read_bytes() == before[f"{name}.png"]
    assert (copy / "training.pt.gif").is_file() and (copy / "training.gif").read_bytes() == before["training.gif"]
    assert cli.main(["plot", str(copy), "--lang", "pt", "--replace"]) == 0  # told to: over the run's own
    assert (copy / "distribution.png").read_bytes() == (copy / "distribution.pt.png").read_bytes()


def test_runs_lists_each_run_with_its_status(run, capsys):
    folder, _ = run
    (folder.parent / "not-a-run").mkdir()
    assert cli.main(["runs", str(folder.parent)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "preset", "iterations", "status", "distance", "started"]
    assert lines[1].split()[:5] == ["first", "seed", "40/40", "finished", "w1"]
    assert len(lines) == 2
    assert cli.main(["runs", str(folder / "config.json")]) == cli.EXIT_USAGE


def test_runs_leaves_out_what_a_damaged_status_holds(run, tmp_path, capsys):
    """Fields of the wrong type (a hand-edited or damaged status.json) are left out, and the runs still sort."""
    folder, _ = run
    for name, started in [("a", 5), ("b", None), ("c", ["x"])]:
        shutil.copytree(folder, tmp_path / name)
        status = json.loads((tmp_path / name / "status.json").read_text())
        status.update(started=started, step="many", status=7)
        (tmp_path / name / "status.json").write_text(json.dumps(status))
    shutil.copytree(folder, tmp_path / "d")
    assert cli.main(["runs", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[0] for line in lines[1:]) == ["a", "b", "c", "d"]
    assert all(line.split()[1:4] == ["seed", "40/40", "finished"] for line in lines[1:]), lines  # from metrics.json


def test_quiet_prints_nothing_and_debug_shows_the_traceback(tmp_path, capsys):
    assert cli.main([*TRAIN, "--out", str(tmp_path / "quiet"), "--no-plots", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert cli.main(["resume", str(tmp_path / "nowhere")]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == f"tinygan: error: {tmp_path / 'nowhere'}: no such run folder\n"
    with pytest.raises(runs.RunError, match="no such run folder"):
        cli.main(["resume", str(tmp_path / "nowhere"), "--debug"])
