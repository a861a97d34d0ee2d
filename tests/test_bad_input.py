"""Bad input the project had not seen: every case ends in one line on stderr (`tinygan: error: ...`) and exit
code 2, never a traceback, and changes no file that was there before. One test per family, run in-process
through `tinygan.cli.main`: config files, data files, run folders and checkpoints; and a full disk (ENOSPC
halfway through a write), where the line names the file and the run's last checkpoint still loads.

One run is trained per module; each case works on a copy of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import io
import json
import os
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import tinygan
from tinygan import cli, files
from tinygan.config import ConfigError, replace
from tinygan.errors import ExportError
from tinygan.data.targets import make_target
from tinygan.runs import checkpoints

CHECKPOINT = Path("checkpoints/step-000000040.npz")
FRAMES = Path("frames/frames-000000000-000000030.npz")


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A 40-iteration seed run with its pictures and frames: one checkpoint (step 40), one frames file."""
    folder = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        argv = ["train", "--out", "R", "--num-steps", "40", "--log-every", "10", "--pretrain-steps", "0", "--quiet"]
        assert cli.main(argv) == 0
    assert (folder / "R" / CHECKPOINT).is_file() and (folder / "R" / FRAMES).is_file()
    return folder / "R"


def snapshot(root: Path) -> dict[str, str]:
    """Every path under `root` and what it is: a file's SHA-256, a link's target, a folder, or another kind."""
    found = {}
    for folder, names, files in os.walk(root):
        for name in names + files:
            path = Path(folder, name)
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                found[str(path)] = "link " + os.readlink(path)
            elif stat.S_ISREG(mode) and not mode & 0o444:  # not readable: its mode and size stand for it
                found[str(path)] = f"unreadable {path.stat().st_size}"
            elif stat.S_ISREG(mode):
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[str(path)] = "folder" if stat.S_ISDIR(mode) else f"mode {stat.S_IFMT(mode)}"
    return found


@contextlib.contextmanager
def deadline(seconds: int = 20):
    """A blocked read (a FIFO) fails the test instead of hanging the suite."""

    def expire(number, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def refused(argv: list[str], folder: Path, capsys, expected: str, *, unchanged: bool = True) -> str:
    """Run the command in `folder`: exit 2, one line `tinygan: error: ...` holding `expected`, no traceback,
    and (`unchanged`) every file there as it was. Returns the line."""
    before = snapshot(folder)
    capsys.readouterr()
    with deadline(), pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        code = cli.main(argv)
    error = capsys.readouterr().err
    assert code == cli.EXIT_USAGE, error
    assert error.count("\n") == 1 and error.startswith("tinygan: error: ") and "Traceback" not in error, error
    assert expected in error, error
    if unchanged:
        assert snapshot(folder) == before
    return error


def names(cases: list) -> list[str]:
    """Each case's first value, its id (a pytest.param holds its values apart)."""
    return [getattr(case, "values", case)[0] for case in cases]


def write(path: Path, content) -> None:
    """A file, or something else at `path`: "fifo", "folder", ("link", target), ("unreadable", bytes)."""
    if isinstance(content, np.ndarray):
        np.save(path, content)
    elif content == "fifo":
        os.mkfifo(path)
    elif content == "folder":
        path.mkdir()
    elif isinstance(content, tuple) and content[0] == "link":
        path.symlink_to(content[1])
    elif isinstance(content, tuple) and content[0] == "unreadable":
        path.write_bytes(content[1])
        path.chmod(0)
    else:
        path.write_bytes(content)


def npy_header(header: str, data: bytes = b"", version: int = 1) -> bytes:
    """A .npy file with this header dict written by hand (shapes and orders numpy's writer would not make)."""
    text = header.encode() + b" " * (-(len(header) + 11) % 64) + b"\n"
    length = struct.pack("<H" if version == 1 else "<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + length + text + data


# ---------------------------------------------------------------- config files

BOMB = "[" + ", ".join(["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                       + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]) + "]"
CONFIG_CASES = [
    # (id, file name, content, extra arguments, a part of the message)
    ("huge int", "c.toml", b"[train]\nnum_steps = 1" + b"0" * 400, [], "train.num_steps: must be < 2**31"),
    ("nan", "c.toml", b"[optim]\nlearning_rate = nan", [], "optim.learning_rate: must be a finite number, got nan"),
    ("-inf", "c.toml", b"[data]\nmean = -inf", [], "data.mean: must be a finite number, got -inf"),
    ("nested arrays", "c.toml", b"[train]\nnum_steps = [[1, 2], [3]]", [], "train.num_steps: must be a whole"),
    ("date", "c.toml", b"[train]\nseed = 1979-05-27", [], "train.seed: must be a whole number, got datetime.date"),
    ("unicode key", "c.toml", "[train]\n\"nüm_steps\" = 5".encode(), [], "train.nüm_steps: unknown setting"),
    ("cyrillic section", "c.yaml", "trаin:\n  num_steps: 5\n".encode(), [], "trаin: unknown option"),
    ("duplicate toml key", "c.toml", b"[train]\nnum_steps = 5\nnum_steps = 6", [], "Cannot overwrite a value"),
    ("duplicate yaml key", "c.yaml", b"train:\n  num_steps: 5\n  num_steps: 6\n", [], "'num_steps' is given twice"),
    ("bom, crlf", "c.toml", b"\xef\xbb\xbf[train]\r\nnum_steps = 0\r\n", [], "train.num_steps: must be >= 1, got 0"),
    ("two boms", "c.toml", b"\xef\xbb\xbf\xef\xbb\xbf[train]\n", [], "line 1: Invalid statement"),
    ("cr alone", "c.toml", b"[train]\rnum_steps = 5\r", [], "line 1: Expected newline"),
    ("utf-16", "c.toml", "[train]\nnum_steps = 5\n".encode("utf-16"), [], "not UTF-8 text"),
    ("yaml python tag", "c.yaml", b"out: !!python/object/apply:os.system ['echo hi']\n", [], "could not determine"),
    ("yaml alias bomb", "c.yaml", f"train:\n  num_steps: {BOMB}\n".encode(), [], "num_steps: must be a whole number"),
    ("yaml alias bomb, option", "c.yaml", f"no_plots: {BOMB}\n".encode(), [], "no_plots: must be true or false"),
    ("yaml recursive alias", "c.yaml", b"train: &t\n  x: *t\n", [], "train.x: unknown setting"),
    ("yaml unhashable key", "c.yaml", b"? [a, b]\n: 1\n", [], "found unhashable key"),
    ("yaml two documents", "c.yaml", b"train: {num_steps: 5}\n---\nout: x\n", [], "but found another document"),
    ("string for a table", "c.toml", b'train = "fast"', [], "train: must be a table of settings, got 'fast'"),
    ("array of tables", "c.toml", b"[[train]]\nnum_steps = 5", [], "train: must be a table of settings"),
    ("table for a string", "c.toml", b"[data]\ntarget_params = {modes = 8}", [], "data.target_params: must be a"),
    ("NUL in out", "c.yaml", b'out: "a\\0b"\n', [], "out: must not hold a NUL character"),
    ("lone surrogate in out", "c.yaml", b'out: "\\ud800"\n', [], "out: must be text"),
    ("50 MB", "c.toml", b"[train]\n" + b"# padding\n" * 5_000_000, [], "larger than 1 MiB"),
    ("empty", "c.toml", b"", [], "the file is empty"),
    ("fifo", "c.toml", "fifo", [], "c.toml: not a regular file"),
    ("/dev/zero", "c.toml", ("link", "/dev/zero"), [], "c.toml: not a regular file"),
    ("folder", "c.toml", "folder", [], "c.toml: is a folder"),
    ("link loop", "c.toml", ("link", "c.toml"), [], "c.toml: cannot be read"),
    ("no read permission", "c.toml", ("unreadable", b"[train]\nnum_steps = 0\n"), [], "c.toml: "),  # root reads it
    ("bad file, good flag", "c.toml", b"[model]\nhidden_size = 0", ["--num-steps", "5"], "model.hidden_size: must be"),
    ("flag replaces the bad value", "c.toml", b"[train]\nnum_steps = [1]\n[model]\nhidden_size = 0",
     ["--num-steps", "5"], "model.hidden_size: must be >= 1"),
    ("json and quiet", "c.toml", b"json = true\nquiet = true", [], "json, quiet: only one of these may be set"),
    ("sweep: grid of lists", "c.yaml", f"grid: [{BOMB}]\n".encode(), ["sweep"], "grid[0]: must be a string"),
    ("sweep: bad success", "c.toml", b'success = "w1<<0.1"', ["sweep"], "--success: expected METRIC<NUMBER"),
    ("batch of 2**62", "c.toml", b"[train]\nbatch_size = 4611686018427387904", [], "train.batch_size"),
    ("width of 2**40", "c.toml", b"[model]\nhidden_size = 1099511627776", [], "model.hidden_size"),
    ("sweep: huge seeds", "c.toml", b'seeds = "0:' + b"1" * 31 + b'"', ["sweep"], "--seeds"),
    ("past float32", "c.toml", b"[optim]\nlearning_rate = 1e308", [],
     "optim.learning_rate: must be within float32's range, +-3.4e38 (training computes in float32), got 1e+308"),
    ("empty path in out", "c.toml", b'out = ""', [], "expected a path, got an empty text"),
]


@pytest.mark.parametrize("name, file, content, extra, expected", CONFIG_CASES,
                         ids=names(CONFIG_CASES))
def test_a_bad_config_file(tmp_path, capsys, name, file, content, extra, expected):
    write(tmp_path / file, content)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("a run folder that is not empty: a file the parser accepts trains nothing")
    command, extra = (extra[0], extra[1:]) if extra[:1] == ["sweep"] else ("train", extra)
    out = [] if name.endswith(" in out") else ["--out", "full"]
    refused([command, "--config", file, *out, *extra], tmp_path, capsys, expected)


# ---------------------------------------------------------------- data files

DATA_CASES = [
    ("one row", "d.csv", b"1.5\n", "", "holds one data row; a distribution to learn needs at least two rows"),
    ("identical rows", "d.csv", b"x\n" + b"3.0\n" * 50, "", "holds a single value"),
    ("identical column", "d.npy", np.stack([np.arange(5.0), np.ones(5)], 1), "", "holds a single value"),
    ("one column, two asked", "d.csv", b"1\n2\n3\n", "0,1", "d.csv has 1 column (0), asked for column 1"),
    ("header name missing", "d.csv", b"x,y\n1,2\n3,4\n", "z", "no column 'z' in d.csv"),
    ("mixed delimiters", "d.csv", b"1,2\n3;4\n5\t6\n", "", "line 2 has 1 cell, expected 2"),
    ("beyond float64", "d.csv", b"1e309\n2\n", "", "non-finite values at line 1"),
    ("huge int", "d.csv", b"1" + b"0" * 400 + b"\n1\n", "", "non-finite values at line 1"),
    ("NUL byte", "d.csv", b"1\n2\x00\n3\n", "", "line 2, column 0"),
    ("utf-16", "d.csv", "x\n1\n2\n".encode("utf-16"), "", "is not UTF-8 text"),
    ("header only", "d.csv", b"x,y\n", "", "holds no data rows"),
    ("png named .csv", "d.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "", "is not UTF-8 text (byte 0x89)"),
    ("png named .npy", "d.npy", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "", "is not a .npy array"),
    ("folder", "d.csv", "folder", "", "d.csv is a folder"),
    ("fifo", "d.csv", "fifo", "", "d.csv is not a regular file"),
    ("/dev/null", "/dev/null", None, "", "/dev/null is not a regular file"),
    ("/dev/zero as .npy", "d.npy", ("link", "/dev/zero"), "", "d.npy is not a regular file"),
    ("npy (0, 2)", "d.npy", np.zeros((0, 2)), "", "holds no data rows"),
    ("npy (2, 3, 4)", "d.npy", np.zeros((2, 3, 4)), "", "must hold a 1-D or 2-D array of numbers"),
    ("npy of strings", "d.npy", np.array(["1", "2"]), "", "must hold a 1-D or 2-D array of numbers"),
    ("npy of objects", "d.npy", np.array([1, None], object), "", "must hold a 1-D or 2-D array of numbers"),
    ("npy huge claimed shape", "d.npy", npy_header("{'descr': '<f8', 'fortran_order': False, 'shape': "
                                                   "(4611686018427387904, 4611686018427387904), }"), "", "cut short"),
    ("npy negative shape", "d.npy", npy_header("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 2), }",
                                               bytes(16)), "", "negative shape"),
    ("npy fortran order, cut short", "d.npy", npy_header("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                                                         bytes(40)), "", "is cut short"),
    ("npz", "d.npy", b"PK\x03\x04" + bytes(40), "", "is not a .npy array"),
    ("npy version 3.0", "d.npy", npy_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", bytes(16),
                                            version=3), "", "is not a .npy array (unsupported .npy version 3.0)"),
    ("npy header of 10,000 characters", "d.npy", npy_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
                                                            + " " * 10_000, bytes(16)), "", "Header info length"),
    ("beyond float32", "d.csv", b"1e308\n-1e308\n3\n", "", "data.target"),
    ("distinct only in float64", "d.csv", b"5e-324\n1e-323\n", "", "data.target"),
]


@pytest.mark.parametrize("name, file, content, columns, expected", DATA_CASES,
                         ids=names(DATA_CASES))
def test_a_bad_data_file(tmp_path, capsys, name, file, content, columns, expected):
    make_target.cache_clear()  # targets are cached by their config: d.csv of another case would be read from there
    if content is not None:
        write(tmp_path / file, content)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("a run folder that is not empty: a file the target accepts trains nothing")
    argv = ["train", "--target", f"file:{file}", "--out", "full", *(["--columns", columns] if columns else [])]
    refused(argv, tmp_path, capsys, expected)


# ---------------------------------------------------------------- run folders and checkpoints


def tamper(change):
    """Rewrite RUN's checkpoint after `change(manifest, arrays)`, every checksum made to match again."""

    def apply(run: Path) -> None:
        with np.load(run / CHECKPOINT) as npz:
            arrays = {name: npz[name] for name in npz.files}
        manifest = json.loads(arrays.pop("manifest").tobytes())
        del arrays["checksum"]
        change(manifest, arrays)
        manifest["arrays"] = {name: {"shape": list(a.shape), "dtype": a.dtype.str,
                                     "sha256": hashlib.sha256(a.tobytes()).hexdigest()} for name, a in arrays.items()}
        text = json.dumps(manifest).encode()
        arrays.update(manifest=np.frombuffer(text, np.uint8),
                      checksum=np.frombuffer(hashlib.sha256(text).hexdigest().encode(), np.uint8))
        np.savez(run / CHECKPOINT, **arrays)

    return apply


def replace_with(relative: str, content):
    def apply(run: Path) -> None:
        path = run / relative
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        write(path, content)

    return apply


def another_runs_checkpoint(run: Path) -> None:
    """The checkpoint of a run with seed 7 (the same networks, other numbers) in place of RUN's."""
    snapshot, segments = checkpoints.load(run / CHECKPOINT)
    other = dataclasses.replace(snapshot, config=replace(snapshot.config, seed=7))
    (run / CHECKPOINT).write_bytes(checkpoints.encode(other, segments))


def compressed(run: Path) -> None:
    with np.load(run / CHECKPOINT) as npz:
        np.savez_compressed(run / CHECKPOINT, **{name: npz[name] for name in npz.files})


def huge_member(run: Path) -> None:
    """A member whose .npy header claims 8 TB (numpy would try to allocate them before reading)."""
    import zipfile

    with zipfile.ZipFile(run / CHECKPOINT, "a") as archive:
        archive.writestr("big.npy", npy_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"))


def set_json(relative: str, value):
    return lambda run: (run / relative).write_text(value if isinstance(value, str) else json.dumps(value))


SAMPLE, PLOT, EXPORT, RESUME = ["sample", "RUN", "-n", "5"], ["plot", "RUN"], ["export", "RUN", "g.npz"], [
    "resume", "RUN", "--num-steps", "80"]
RUN_CASES = [
    # (id, change to the copy of the run, command, a part of the message)
    ("RUN is a file", lambda run: (shutil.rmtree(run), run.write_text("x")), SAMPLE, "RUN: is a file"),
    ("RUN is empty", lambda run: (shutil.rmtree(run), run.mkdir()), RESUME, "not a run folder (no config.json)"),
    ("RUN is missing", shutil.rmtree, EXPORT, "RUN: no such run folder"),
    ("RUN is a link loop", lambda run: (shutil.rmtree(run), run.symlink_to("RUN")), PLOT, "RUN: no such run folder"),
    ("runs DIR is a file", None, ["runs", "RUN/config.json"], "is a file, not a folder"),
    # A damaged config.json is rewritten from the checkpoint when the run goes on (test_resume); a finished run
    # given no more iterations is refused first, with nothing changed.
    ("config.json not JSON", set_json("config.json", "{nope"), ["resume", "RUN"], "finished at step 40"),
    ("config.json an array", set_json("config.json", [1, 2]), ["resume", "RUN"], "finished at step 40"),
    ("config.json without train", set_json("config.json", {}), ["resume", "RUN"], "finished at step 40"),
    ("status.json not JSON", set_json("status.json", "{"), PLOT, "status.json: cannot be read"),
    ("status.json an array", set_json("status.json", "[]"), RESUME, "status.json: not a JSON object"),
    ("status.json wrong types", set_json("status.json", {"options": {"checkpoint_every": "x"}}), PLOT,
     "--checkpoint-every must be >= 0"),
    ("status.json options a list", set_json("status.json", {"options": [1]}), PLOT, "status.json"),
    ("status.json unknown lang", set_json("status.json", {"options": {"lang": "xx"}}), PLOT, "lang"),
    ("status.json lang a list", set_json("status.json", {"options": {"lang": ["en"]}}), PLOT, "lang"),
    ("status.json nested too deeply", set_json("status.json", "[" * 100_000 + "]" * 100_000), PLOT,
     "status.json: cannot be read (nested too deeply)"),
    ("status.json is a fifo", replace_with("status.json", "fifo"), PLOT, "status.json: not a regular file"),
    ("the lock is a fifo", replace_with(".lock", "fifo"), RESUME, ".lock is not a regular file"),
    ("zero-byte checkpoint", replace_with(str(CHECKPOINT), b""), SAMPLE, "not a checkpoint (not an .npz file, empty)"),
    ("checkpoint is garbage", replace_with(str(CHECKPOINT), b"PK\x03\x04junk"), PLOT, "damaged or cut short"),
    ("checkpoint is cut short", lambda run: (run / CHECKPOINT).write_bytes((run / CHECKPOINT).read_bytes()[:5000]),
     RESUME, "damaged or cut short"),
    ("checkpoint is a folder", replace_with(str(CHECKPOINT), "folder"), EXPORT, "is a folder"),
    ("checkpoint is a fifo", replace_with(str(CHECKPOINT), "fifo"), SAMPLE, "not a regular file"),
    ("checkpoint is /dev/zero", replace_with(str(CHECKPOINT), ("link", "/dev/zero")), SAMPLE, "not a regular file"),
    ("checkpoint is a link loop", replace_with(str(CHECKPOINT), ("link", CHECKPOINT.name)), SAMPLE, "cannot be read"),
    ("no checkpoints", lambda run: shutil.rmtree(run / "checkpoints"), SAMPLE, "no checkpoint in RUN/checkpoints"),
    ("another run's checkpoint", another_runs_checkpoint, EXPORT, "is not this run's checkpoint: its train.seed"),
    ("frames file deleted", lambda run: (run / FRAMES).unlink(), PLOT, "frames file RUN/frames/"),
    ("frames file emptied", replace_with(str(FRAMES), b""), RESUME, "does not match the checksum"),
    ("compressed members", compressed, SAMPLE, "has compressed members"),
    ("a member claims 8 TB", huge_member, SAMPLE, "member 'big.npy' is cut short"),
    ("manifest: step past num_steps", tamper(lambda m, a: m.update(step=10**6)), SAMPLE, "its step (40)"),
    ("manifest: negative step", tamper(lambda m, a: (m.update(step=-5), a.update({"state.14": np.int32(-5)}))),
     SAMPLE, "its step (-5)"),
    ("manifest: step 40.0", tamper(lambda m, a: m.update(step=40.0)), SAMPLE, "'step' missing or not int"),
    ("manifest: status unknown", tamper(lambda m, a: m.update(status="exploded")), SAMPLE, "status ('exploded')"),
    ("manifest: format a list", tamper(lambda m, a: m.update(format=[1])), SAMPLE, "format [1]"),
    ("manifest: config a list", tamper(lambda m, a: m.update(config=[1])), SAMPLE, "'config' missing or not dict"),
    ("manifest: config invalid", tamper(lambda m, a: m["config"]["train"].update(num_steps=0)), SAMPLE,
     "its config is not valid: train.num_steps"),
    ("manifest: config reads /etc/passwd", tamper(lambda m, a: m["config"]["data"].update(target="file:/etc/passwd")),
     SAMPLE, "the data it trained on cannot be used: data.target: /etc/passwd"),
    ("history: columns of unequal length", tamper(lambda m, a: a.update({"history.loss_d": a["history.loss_d"][:2]})),
     PLOT, "its history's columns differ in length"),
    ("history: columns a string", tamper(lambda m, a: m.update(history_columns="step")), SAMPLE,
     "'history_columns' missing or not list"),
    ("history: a column missing", tamper(lambda m, a: (m["history_columns"].remove("ks"), a.pop("history.ks"))),
     PLOT, "history's columns are not the step, loss_d"),
    ("history: a column of strings", tamper(lambda m, a: a.update({"history.w1": np.array(["a"] * 4)})), RESUME,
     "not lists of numbers"),
    ("history: steps past the state", tamper(lambda m, a: a.update({"history.step": np.array([0, 10, 20, 30, 99])})),
     PLOT, "history's steps"),
    ("frames: ../../etc/passwd", tamper(lambda m, a: m["frames"][0].update(file="../../etc/passwd")), SAMPLE,
     "lists a frames file outside the run: '../../etc/passwd'"),
    ("frames: negative count", tamper(lambda m, a: m["frames"][0].update(count=-1)), PLOT, "malformed frames entry"),
    ("frames: listed twice", tamper(lambda m, a: m["frames"].append(dict(m["frames"][0]))), PLOT, "frames file twice"),
    ("watch: sets other attributes", tamper(lambda m, a: m["watch"].update(rule="x", keep_best=True)), RESUME,
     "stopping rule's progress is malformed"),
    ("watch: wrong types", tamper(lambda m, a: m["watch"].update(rows_seen="x")), RESUME, "progress is malformed"),
    ("keys of the wrong shape", tamper(lambda m, a: a.update(keys=np.zeros((3, 2), np.uint32))), SAMPLE, "its keys"),
    ("pre-training losses as text", tamper(lambda m, a: a.update(pretrain_losses=np.array(["x"]))), PLOT,
     "pre-training losses"),
    ("state holds NaN", tamper(lambda m, a: a["state.0"].fill(np.nan)), RESUME, "holds numbers that are not finite"),
    ("best state partly there", tamper(lambda m, a: a.update({"best.0": a["state.0"]})), SAMPLE, "its best"),
    ("sample -n 0", None, ["sample", "RUN", "-n", "0"], "-n must be"),
    ("sample -n -1", None, ["sample", "RUN", "-n", "-1"], "-n must be"),
    ("sample -n 10**12", None, ["sample", "RUN", "-n", str(10**12)], "-n must be"),
    ("sample --seed -1", None, ["sample", "RUN", "--seed", "-1"], "--seed must be in [0, 2**32)"),
    ("sample --out existing", None, ["sample", "RUN", "--out", "RUN/config.json"], "already exists"),
    ("export to an existing file", None, ["export", "RUN", "RUN/config.json"], "already exists"),
    ("export to a folder", None, ["export", "RUN", "RUN"], "is a folder"),
    ("export to a missing folder", None, ["export", "RUN", "nowhere/g.npz"], "folder nowhere does not exist"),
    ("export to a dangling link", lambda run: (run.parent / "g.npz").symlink_to("nowhere/x"), EXPORT, "g.npz"),
    ("resume --num-steps 0", None, ["resume", "RUN", "--num-steps", "0"], "--num-steps must be >= 1"),
    ("resume --num-steps past 2**31", None, ["resume", "RUN", "--num-steps", str(2**31)], "must be < 2**31"),
    ("resume --num-steps below the step", None, ["resume", "RUN", "--num-steps", "10"], "already at step 40"),
    ("resume a finished run", None, ["resume", "RUN"], "finished at step 40"),
]


@pytest.mark.parametrize("name, change, argv, expected", RUN_CASES,
                         ids=names(RUN_CASES))
def test_a_bad_run_folder_or_checkpoint(trained, tmp_path, capsys, name, change, argv, expected):
    shutil.copytree(trained, tmp_path / "RUN", symlinks=True)
    if change is not None:
        change(tmp_path / "RUN")
    refused(argv, tmp_path, capsys, expected)


def test_debug_shows_the_traceback_instead(trained, tmp_path, capsys):
    make_target.cache_clear()
    shutil.copytree(trained, tmp_path / "RUN")
    (tmp_path / "RUN" / CHECKPOINT).write_bytes(b"")
    (tmp_path / "c.toml").write_bytes(b"[train]\nnum_steps = 0\n")
    (tmp_path / "d.csv").write_bytes(b"1\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        for argv, error in [(["sample", "RUN", "--debug"], checkpoints.CheckpointError),
                            (["train", "--config", "c.toml", "--debug"], ValueError),
                            (["train", "--target", "file:d.csv", "--debug"], ValueError)]:
            with pytest.raises(error):
                cli.main(argv)
    assert "tinygan: error" not in capsys.readouterr().err


# ---------------------------------------------------------------- a full disk


class FullDisk:
    """`runs.write_atomic`'s open, for files whose name holds `name`: half of the bytes go in, then ENOSPC."""

    def __init__(self, name: str):
        self.name, self.hits = name, 0

    def __call__(self, path, mode="r", *args, **kwargs):
        file = open(path, mode, *args, **kwargs)  # noqa: SIM115 (the caller's with closes it)
        if "w" not in mode or self.name not in str(path):
            return file
        self.hits += 1
        return _FullFile(file)


class _FullFile:
    def __init__(self, file):
        self.file = file

    def write(self, data):
        self.file.write(data[: len(data) // 2])
        self.file.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.file.close()


@pytest.mark.parametrize("argv, full, named", [
    (["resume", "RUN", "--num-steps", "80", "--quiet"], "step-000000080", "RUN/checkpoints/step-000000080.npz"),
    (["resume", "RUN", "--num-steps", "80", "--quiet"], "status.json", "RUN/status.json"),
    (["sample", "RUN", "-n", "5", "--out", "samples.csv"], "samples.csv", "samples.csv"),
    (["export", "RUN", "g.npz"], "g.npz", "g.npz"),
], ids=["checkpoint while training", "status.json before training", "sample --out", "export"])
def test_a_full_disk(trained, tmp_path, capsys, monkeypatch, argv, full, named):
    """ENOSPC halfway through a write: one line naming the file, exit 2, the run's last checkpoint intact."""
    shutil.copytree(trained, tmp_path / "RUN")
    kept = (tmp_path / "RUN" / CHECKPOINT).read_bytes()
    disk = FullDisk(full)
    monkeypatch.setattr(files, "open", disk, raising=False)  # write_atomic's open: a module global shadows the builtin
    error = refused(argv, tmp_path, capsys, f"cannot write {named}: No space left on device", unchanged=False)
    assert disk.hits == 1, error
    latest = checkpoints.latest(tmp_path / "RUN")
    assert latest.name == CHECKPOINT.name and latest.read_bytes() == kept
    assert checkpoints.load(latest)[0].step == 40
    assert not list(tmp_path.rglob(".*.partial"))  # the half-written temporary file is gone
    if not named.startswith("RUN/"):
        assert not (tmp_path / named).exists()


def test_io_helpers_are_what_they_say():
    """The hand-made .npy header is one numpy reads (so the cases above test tinygan, not a broken file)."""
    data = npy_header("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", struct.pack("<6d", *range(6)))
    np.testing.assert_array_equal(np.load(io.BytesIO(data)), np.arange(6.0).reshape(2, 3, order="F"))


# ---------------------------------------------------------------- the Python API


@pytest.mark.parametrize("n, key, message", [
    (10**12, 0, "sample: n must be a whole number from 0 to 100,000,000"),  # XLA aborted the interpreter
    (-1, 0, "sample: n must be a whole number"),
    (2.5, 0, "sample: n must be a whole number"),
    (5, None, "sample: key must be a JAX key (jax.random.key(seed)) or an int seed, got None"),
    (5, "x", "sample: key must be a JAX key"),
])
def test_the_apis_draws_refuse_a_bad_count_or_key_in_one_line(seed_result, tmp_path, n, key, message):
    generator = tinygan.load_generator(seed_result.export(tmp_path / "g.npz"))
    for draw in (seed_result.sample, generator.sample):
        with pytest.raises(ConfigError, match=re.escape(message)):
            draw(n, key=key)


def test_the_apis_draws_take_a_seed_a_typed_key_or_a_raw_key(seed_result):
    by_seed = seed_result.sample(5, key=3)
    np.testing.assert_array_equal(by_seed, seed_result.sample(5, key=jax.random.key(3)))
    np.testing.assert_array_equal(seed_result.sample(5, key=jax.random.PRNGKey(3)), by_seed)
    assert seed_result.sample(0, key=3).shape == (0, 1)


def test_the_api_names_what_it_expected(seed_config):
    with pytest.raises(ConfigError, match=r"^train: expected a tinygan.Config \(tinygan.config_from_preset\), got None$"):
        tinygan.train(None)
    with pytest.raises(ConfigError, match="^sweep: expected a tinygan.Config"):
        tinygan.sweep(None, seeds="0:2")
    with pytest.raises(ConfigError, match="^seeds: a text such as '0:100' or a list of whole numbers, got 5$"):
        tinygan.sweep(seed_config, seeds=5)
    with pytest.raises(ExportError, match="^load_generator: expected the path of a generator file, got None$"):
        tinygan.load_generator(None)
    # A grid given as one text is one item (it was read a character at a time: "--grid: ..., got 'l'"); the
    # success rule, checked after it, is what stops this one.
    with pytest.raises(ConfigError, match="^--success: "):
        tinygan.sweep(seed_config, seeds="0:2", grid="learning_rate=0.01,0.02", success="w1<nope")


def test_tinygan_sweep_is_the_function_even_after_its_package_is_imported():
    """Importing tinygan.sweep.grid first (as a Ray worker does) makes the package the `tinygan.sweep` attribute:
    called, it is the function. A fresh interpreter, where nothing asked for the function before."""
    code = ("import tinygan.sweep.grid, tinygan\n"
            "try:\n    tinygan.sweep(None, seeds='0:2')\nexcept tinygan.ConfigError as error:\n    print(error)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout.startswith("sweep: expected a tinygan.Config"), done.stdout + done.stderr
