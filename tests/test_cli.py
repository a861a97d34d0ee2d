"""The `tinygan` command, in-process: flag parsing, one-line errors that write nothing, and short runs."""

import dataclasses
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tinygan
from tinygan import cli
from tinygan.cli import reporting
from tinygan.config import SECTIONS, field_docs
from tinygan.config.toml import config_toml
from tinygan.engine.resolve import config_from_preset

# ---------------------------------------------------------------- parsing


def parse(*argv):
    return cli.config_from_args(cli.build_parser().parse_args(["train", *argv]))


@pytest.mark.parametrize(
    "argv, minibatch",
    [
        ((), False),
        (("--minibatch",), True),
        (("--minibatch", "True"), True),
        (("--minibatch", "true"), True),
        (("--minibatch", "1"), True),
        (("--minibatch", "False"), False),  # the seed turned minibatch on for any value, "False" included
        (("--minibatch", "false"), False),
        (("--minibatch", "no"), False),
        (("--minibatch", "0"), False),
        (("--no-minibatch",), False),
        (("--minibatch", "--num-steps", "5"), True),  # a bare flag does not swallow the next one
        (("--preset", "seed-minibatch"), True),
        (("--preset", "seed-minibatch", "--no-minibatch"), False),
        (("--preset", "seed-minibatch", "--minibatch", "False"), False),
    ],
)
def test_minibatch_flag(argv, minibatch):
    config = parse(*argv)
    assert config.model.minibatch is minibatch
    assert config.learning_rate == (0.005 if minibatch else 0.03)


def test_the_seeds_own_command_line():
    assert parse("--num-steps", "1000", "--minibatch", "True") == config_from_preset(
        "seed", num_steps=1000, minibatch=True)


def test_every_config_field_is_a_flag():
    config = parse(
        "--target", "gaussian", "--mean", "1", "--std", "2", "--noise", "stratified", "--noise-range", "6",
        "--noise-jitter", "0", "--hidden-size", "6", "--minibatch", "--minibatch-kernels", "4",
        "--minibatch-dims", "2", "--init-std", "0.5", "--minibatch-init-std", "0.1", "--learning-rate", "0.1",
        "--decay-rate", "0.5", "--decay-steps", "10", "--pretrain-steps", "0", "--num-steps", "7",
        "--batch-size", "5", "--log-every", "3", "--seed", "9", "--objective", "minimax",
    )
    assert config == config_from_preset(
        "seed", target="gaussian", mean=1.0, std=2.0, noise="stratified", noise_range=6.0, noise_jitter=0.0,
        hidden_size=6, minibatch=True, minibatch_kernels=4, minibatch_dims=2, init_std=0.5, minibatch_init_std=0.1,
        learning_rate=0.1, decay_rate=0.5, decay_steps=10, pretrain_steps=0, num_steps=7, batch_size=5,
        log_every=3, seed=9, objective="minimax",
    )
    assert isinstance(config.data.mean, float) and isinstance(config.train.num_steps, int)


def test_help_is_the_field_docstrings(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for cls in SECTIONS.values():
        for f in dataclasses.fields(cls):
            assert "--" + f.name.replace("_", "-") in text
            assert " ".join(field_docs(cls)[f.name].split()) in text, f.name


# ---------------------------------------------------------------- bad input: exit 2, one line, nothing written


def snapshot(folder: Path) -> dict:
    """Every path under folder with its bytes (files) or None (folders)."""
    return {p.relative_to(folder): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def make_scene(root: Path) -> None:
    """Things already on disk that bad commands must leave alone."""
    (root / "taken").write_text("a file, not a folder\n")
    (root / "full").mkdir()
    (root / "full" / "notes.txt").write_text("keep me\n")
    (root / "old-run").mkdir()
    (root / "old-run" / "config.json").write_text("{}\n")
    (root / "existing.gif").write_bytes(b"GIF89a not really")


BAD_INPUT = [
    (["train", "--num-steps", "0"], "train.num_steps: must be >= 1, got 0"),
    (["train", "--num-steps", "-5"], "tinygan: error: --num-steps: train.num_steps: must be >= 1, got -5"),
    (["train", "--batch-size=0"], "tinygan: error: --batch-size: train.batch_size: must be >= 1"),  # the flag as typed
    (["train", "--batch-size", "0"], "train.batch_size: must be >= 1, got 0"),
    (["train", "--batch-size", "-3"], "train.batch_size: must be >= 1, got -3"),
    (["train", "--log-every", "0"], "train.log_every: must be >= 1, got 0"),
    (["train", "--log-every", "-2"], "train.log_every: must be >= 1, got -2"),
    (["train", "--batch-size", "1", "--minibatch"],
     "train.batch_size: must be >= 2 with minibatch discrimination, got 1"),
    (["train", "--preset", "seeds"], "argument --preset: invalid choice: 'seeds'"),
    (["train", "--lang", "fr"], "argument --lang: invalid choice: 'fr'"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "--num-step", "10"], "unrecognized arguments: --num-step 10; did you mean --num-steps?"),  # no abbreviations
    (["train", "--num-stesp=10"], "unrecognized arguments: --num-stesp=10; did you mean --num-steps?"),
    (["sample", "run", "--iidd"], "unrecognized arguments: --iidd; did you mean --iid?"),  # the command's own flags
    (["train", "--preset", "rign"], "(choose from 'data', 'grid', 'grid-fast', 'recommended', 'ring', 'ring-fast', "
                                    "'seed', 'seed-minibatch', 'wgan-gp-8gaussians'); did you mean ring?"),
    (["train", "--minibatch", "maybe"], "argument --minibatch: expected True or False, got 'maybe'"),
    (["train", "--num-steps", "ten"], "argument --num-steps: invalid int value: 'ten'"),
    (["train", "--learning-rate", "nan"], "optim.learning_rate: must be a finite number, got nan"),
    (["train", "--target", "rign"], "file:..., got 'rign'; did you mean ring?"),
    (["train", "--target", "faithful.csv"], "file:..., got 'faithful.csv'; a data file is file:faithful.csv"),
    (["--bogus"], "the following arguments are required: COMMAND"),
    (["fly"], "invalid choice: 'fly'"),
    (["trian"], "invalid choice: 'trian' (choose from 'train', "),
    (["train", "--out", "taken"], "output folder taken is a file"),
    (["train", "--out", "full"], "output folder full is not empty"),
    (["train", "--out", "old-run"], "output folder old-run already holds a run"),
    (["train", "--out", "taken/run"], "cannot create output folder taken/run:"),
    (["train", "--anim", "movie.avi"], "--anim movie.avi: unknown extension '.avi'; use .gif or .mp4"),
    (["train", "--anim", "movie"], "--anim movie: unknown extension"),
    (["train", "--anim", "existing.gif"], "--anim existing.gif: already exists"),
    (["train", "--anim", "missing/movie.gif"], "--anim missing/movie.gif: folder missing does not exist"),
    (["train", "--anim", "movie.gif", "--no-plots"], "--anim and --no-plots contradict each other"),
    (["bench", "--steps", "0"], "--steps must be in [1, 2**31), got 0"),
    (["bench", "--steps", str(2**63)], "--steps must be in [1, 2**31)"),
    # Counts and sizes XLA cannot hold, refused before it is asked (it aborted, or raised from deep inside)
    (["train", "--minibatch", "--minibatch-kernels", str(10**11)], "model.minibatch_kernels: must be <= 65,536"),
    (["train", "--minibatch", "--minibatch-dims", str(10**11)], "model.minibatch_dims: must be <= 65,536"),
    (["train", "--n-critic", str(2**63)], "--n-critic: train.n_critic: must be <= 1,000"),
    (["train", "--unroll-steps", "5000"], "--unroll-steps: train.unroll_steps: must be <= 1,000"),
    (["train", "--pretrain-steps", str(2**63)], "optim.pretrain_steps: must be <= 2,147,483,647"),
    (["train", "--decay-steps", str(2**63)], "optim.decay_steps: must be <= 2,147,483,647"),
    (["train", "--noise", "gaussian", "--noise-dim", "65536"], "--noise-dim: data.noise_dim: must be <= 1,024"),
    (["train", "--discriminator-activation", "maxout", "--maxout-pieces", str(10**11)],
     "model.maxout_pieces: must be <= 1,000"),
]


@pytest.mark.parametrize("argv, message", BAD_INPUT, ids=[" ".join(a) or "(nothing)" for a, _ in BAD_INPUT])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    make_scene(tmp_path)
    before = snapshot(tmp_path)
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("tinygan: error: ")
    assert message in err
    assert snapshot(tmp_path) == before  # no runs/ folder, no file touched


def test_a_bare_tinygan_lists_the_commands_and_version_says_which(capsys):
    assert cli.main([]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: tinygan") and "train     train a GAN" in out and err == ""
    with pytest.raises(SystemExit) as exit:
        cli.main(["--version"])
    assert exit.value.code == 0 and capsys.readouterr().out == f"tinygan {tinygan.__version__}\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere, so permissions cannot be refused")
def test_unwritable_output_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert cli.main(["train", "--out", "locked/run"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "output folder locked/run cannot be written" in err
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_unwritable_output_folder_simulated(tmp_path, monkeypatch, capsys):
    """The same refusal as above, checked even as root by denying the permission check itself."""
    from tinygan import runs

    monkeypatch.chdir(tmp_path)
    (tmp_path / "locked").mkdir()
    monkeypatch.setattr(runs.folder.os, "access", lambda path, mode: False)
    assert cli.main(["train", "--out", "locked/run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "output folder locked/run cannot be written (no permission on " in err
    assert list((tmp_path / "locked").iterdir()) == []


def test_a_seed_too_large_for_a_key_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["train", "--seed", str(2**64), "--out", "run", "--no-plots"])
    err = capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert code == 2 and err.count("\n") == 1 and "train.seed" in err


# ---------------------------------------------------------------- short real runs, in-process

SHORT = ["train", "--num-steps", "50", "--pretrain-steps", "20"]
LOG_LINE = re.compile(r"^(\d+): (-?\d+\.\d{6})\t(-?\d+\.\d{6})$")


def test_log_line_is_the_seeds():
    assert reporting.log_line({"step": 30, "loss_d": 1.25, "loss_g": -0.5}) == "30: 1.250000\t-0.500000"


def test_no_plots_writes_only_the_numbers_into_an_existing_empty_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    assert cli.main([*SHORT, "--no-plots", "--out", "run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == reporting.LOG_HEADER == "step: loss_d\tloss_g"  # the columns, named once
    assert [LOG_LINE.match(line).group(1) for line in out[1:7]] == ["0", "10", "20", "30", "40", "50"]
    assert out[7].startswith("Final generator: mean ")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == [
        "run", "run/checkpoints", "run/checkpoints/step-000000050.npz", "run/config.json", "run/history.csv",
        "run/metrics.json", "run/status.json"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["iterations"] == 50 and metrics["status"] == "finished"
    assert "pictures" not in metrics["seconds"]


def test_anim_mp4_goes_to_the_given_path(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main([*SHORT, "--anim", "out.mp4", "--out", "run"]) == 0
    summary = capsys.readouterr().out.splitlines()[-1]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "checkpoints", "config.json", "distribution.png", "frames", "history.csv", "losses.png", "metrics.json",
        "metrics.png", "status.json"]  # no training.gif
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "run"]  # no partial file
    data = (tmp_path / "out.mp4").read_bytes()
    assert len(data) > 1000 and data[4:8] == b"ftyp"
    assert "out.mp4" in summary


def test_a_log_interval_longer_than_the_run_is_cut_to_it_with_a_note(capsys):
    assert cli.main(["config", "--preset", "ring", "--num-steps", "500"]) == 0
    out, err = capsys.readouterr()
    assert "\nlog_every = 500\n" in out
    assert err == ("tinygan: note: the ring preset's log interval (1,000) is longer than --num-steps 500: logging "
                   "every 500 iterations\n")
    assert cli.main(["config", "--num-steps", "5", "--log-every", "9"]) == 0
    out, err = capsys.readouterr()
    assert "\nlog_every = 5\n" in out and err.startswith("tinygan: note: --log-every 9 is longer than --num-steps 5:")
    assert cli.main(["config", "--num-steps", "5", "--log-every", "5"]) == 0
    assert capsys.readouterr().err == ""


def test_lang_pt_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main([*SHORT, "--lang", "pt", "--out", "run"]) == 0
    assert capsys.readouterr().out.splitlines()[7].startswith("Gerador final: mean ")
    with Image.open(tmp_path / "run" / "distribution.png") as image:
        assert image.format == "PNG"


def test_config_prints_the_resolved_settings_as_toml_that_train_reads_back(tmp_path, capsys):
    assert cli.main(["config", "--preset", "ring", "--num-steps", "5000", "--r1", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert config_toml(config_from_preset("ring", num_steps=5000, r1=0.5)) == printed
    (tmp_path / "ring.toml").write_text(printed)
    assert cli.main(["config", "--config", str(tmp_path / "ring.toml")]) == 0
    assert capsys.readouterr().out == printed  # what --config reads back is the very same config
    rows = np.random.default_rng(0).normal(size=(300, 3))
    np.savetxt(tmp_path / "t.csv", rows, delimiter=",", header="a,b,c", comments="")
    assert cli.main(["config", "--target", f"file:{tmp_path / 't.csv'}"]) == 0  # a file's default: data, sized
    assert 'preset = "data"' in (out := capsys.readouterr().out) and "noise_dim = 3" in out


def test_the_launcher_hears_when_the_commands_modules_are_in_and_not_on_a_usage_error(tmp_path, capsys):
    from tinygan.cli import commands

    calls = []
    assert cli.main(["runs", str(tmp_path)], loaded=lambda: calls.append(sorted(commands.LOADS["runs"]))) == 0
    assert calls == [["tinygan.cli.reporting", "tinygan.runs"]]
    assert cli.main(["runs", "--no-such-flag"], loaded=lambda: calls.append("again")) == 2
    assert len(calls) == 1 and "--no-such-flag" in capsys.readouterr().err


def test_sizes_this_machine_cannot_hold_end_in_one_line(tmp_path, monkeypatch, capsys):
    """Within the limits, yet more memory than there is: XLA's out of memory is one line, not its traceback."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--num-steps", "10", "--no-plots", "--batch-size", "1048576",
                     "--discriminator-width", "65536"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tinygan: error: out of memory (") and "smaller batches" in err, err


def test_a_given_setting_the_config_leaves_unused_is_said_in_a_note(capsys, tmp_path):
    """Not refused (a preset or a file may carry it), but said, as a typo would otherwise go unseen; a sweep's
    setting that one of its grid's cells uses is used."""
    from tinygan.config import SECTIONS
    from tinygan.config.unused import READ_ONLY_WITH

    assert set(READ_ONLY_WITH) <= {f.name for cls in SECTIONS.values() for f in dataclasses.fields(cls)}
    assert cli.main(["config", "--target", "ring", "--mean", "3", "--adam-beta1", "0.5", "--keep-best",
                     "--best-metric", "modes_captured", "--init-std", "0.5"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "tinygan: note: --mean is not used: only the gaussian target reads it",
        "tinygan: note: --adam-beta1 is not used: only --optimizer adam reads it"]
    assert cli.main(["config", "--optimizer", "adam", "--adam-beta1", "0.5", "--minibatch-kernels", "3",
                     "--schedule", "cosine", "--decay-steps", "7"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "tinygan: note: --minibatch-kernels is not used: only --minibatch reads it",
        "tinygan: note: --decay-steps is not used: only --schedule staircase reads it"]
    (tmp_path / "c.toml").write_text("[train]\nplateau_window = 4\n")
    assert cli.main(["config", "--config", str(tmp_path / "c.toml")]) == 0
    assert capsys.readouterr().err == "tinygan: note: --plateau-window is not used: only --stop-when plateau reads it\n"
    from tinygan.cli.parser import build_parser, note_unused
    from tinygan.sweep import grid as sweeps

    args = build_parser().parse_args(["sweep", "--adam-beta1", "0.5", "--noise-jitter", "0.2"])
    grid = ["optimizer=sgd,adam", "noise=stratified,uniform"]
    plan = sweeps.plan_sweep(cli.config_from_args(args, notes=False), grid, "0:2")
    note_unused(args, plan.configs)
    assert capsys.readouterr().err == ""
    plan = sweeps.plan_sweep(cli.config_from_args(args, notes=False), ["noise=gaussian,uniform"], "0:2")
    note_unused(args, plan.configs)
    assert capsys.readouterr().err.splitlines() == [
        "tinygan: note: --noise-jitter is not used: only --noise stratified reads it",
        "tinygan: note: --adam-beta1 is not used: only --optimizer adam reads it"]
