"""Run folders: where a run's files go, checked before training and written atomically.

A run folder holds config.json, history.csv, metrics.json and, unless
switched off, losses.png, metrics.png, distribution.png and training.gif. Every file is
written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import math
import os
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from tinygan.pictures import ANIMATION_FORMATS
from tinygan.config import Config, replace
from tinygan.errors import RunError
from tinygan.files import finite_or_none, read_json, to_json, write_atomic  # noqa: F401 (their old home)
from tinygan.data.files import default_names
from tinygan.data.targets import column_names  # noqa: F401 (its old home)
from tinygan.training.loop import TrainResult
from tinygan.engine.resolve import resolved

__all__ = [
    "ANIMATION_FORMATS", "default_run_dir", "check_run_dir", "check_animation_path", "check_new_file", "samples_csv",
    "SAMPLE_FORMATS", "samples_file",
    "list_runs", "history_csv", "STATUS_FILE", "LOCK_FILE", "RUN_STATUSES", "run_status", "now",
    "write_status", "check_run", "planned_steps", "run_lock", "is_locked", "with_absolute_data", "start_run",
    "save_run",
]



def default_run_dir(preset: str, root: str | os.PathLike = "runs", now: datetime | None = None) -> Path:
    """runs/<date>-<time>-<preset>, with -2, -3, ... when two runs start in the same second."""
    stem = f"{(now or datetime.now()):%Y%m%d-%H%M%S}-{preset}"
    path, n = Path(root) / stem, 1
    while path.exists():
        n += 1
        path = Path(root) / f"{stem}-{n}"
    return path


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def check_run_dir(path: str | os.PathLike) -> Path:
    """Refuse a folder that holds anything already, is a file, or cannot be created."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunError(f"output folder {path} is a file")
    if path.is_dir() and (path / "config.json").exists():
        raise RunError(f"output folder {path} already holds a run")
    if path.is_dir() and any(path.iterdir()):
        raise RunError(f"output folder {path} is not empty")
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise RunError(f"cannot create output folder {path}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunError(f"output folder {path} cannot be written (no permission on {existing})")
    return path


def check_animation_path(path: str | os.PathLike, run_dir: Path | None = None) -> Path:
    """The animation goes to .gif or .mp4, in a writable folder (or the run folder), and replaces nothing."""
    path = Path(path)
    folder = path.parent.absolute()
    if path.suffix.lower() not in ANIMATION_FORMATS:
        raise RunError(f"--anim {path}: unknown extension {path.suffix or '(none)'!r}; use .gif or .mp4")
    if os.path.lexists(path):  # a dangling link too: it would be replaced
        raise RunError(f"--anim {path}: already exists; remove it or choose another path")
    if run_dir is not None and folder == run_dir.absolute():
        return path  # the run folder is checked on its own and made before the animation is written
    _check_folder_of(path, "--anim")
    return path


def check_new_file(path: str | os.PathLike, what: str, suffixes: tuple[str, ...] = ()) -> Path:
    """A file to create: its folder exists and can be written, nothing is there yet (nothing is replaced), and
    its extension is one of `suffixes` (when given: the formats the command writes)."""
    path = Path(path)
    if path.is_dir():
        raise RunError(f"{what} {path}: is a folder; name a file")
    if os.path.lexists(path):  # a dangling link too: it would be replaced
        raise RunError(f"{what} {path}: already exists; remove it or choose another path")
    _check_folder_of(path, what)
    if suffixes and path.suffix.lower() not in suffixes:
        raise RunError(f"{what} {path}: unknown extension {path.suffix or '(none)'!r}; use {' or '.join(suffixes)}")
    return path


def _file_in_the_way(folder: Path) -> Path | None:
    """The file that stands where `folder` or a folder above it should be (as the user wrote the path), if any."""
    existing = next((above for above in [folder, *folder.parents] if above.exists()), None)
    return existing if existing is not None and not existing.is_dir() else None


def _check_folder_of(path: Path, what: str) -> None:
    """The folder `path` goes into exists, is a folder and can be written."""
    folder = path.parent
    if not folder.absolute().is_dir():
        if (blocking := _file_in_the_way(folder)) is not None:
            raise RunError(f"{what} {path}: {blocking} is a file, not a folder")
        raise RunError(f"{what} {path}: folder {folder} does not exist")
    if not os.access(folder.absolute(), os.W_OK | os.X_OK):
        raise RunError(f"{what} {path}: folder {folder} cannot be written")


def samples_csv(samples: np.ndarray, names: tuple[str, ...] = ()) -> str:
    """Samples (n, dim) as CSV with a header (the columns' `names`, else x; x, y; or x1 ... xd), as exact floats."""
    header = io.StringIO()
    csv.writer(header, lineterminator="").writerow(names or default_names(samples.shape[1]))
    lines = [header.getvalue()] + [",".join(repr(float(value)) for value in row) for row in samples]
    return "\n".join(lines) + "\n"


SAMPLE_FORMATS = (".csv", ".npy")  # what `tinygan sample --out` writes, by the file's extension


def samples_file(samples: np.ndarray, path: Path, names: tuple[str, ...] = ()) -> bytes | str:
    """Samples as `path`'s format: CSV (`samples_csv`) or a .npy array of the generator's float32 numbers."""
    if path.suffix.lower() != ".npy":
        return samples_csv(samples, names)
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(samples), allow_pickle=False)
    return buffer.getvalue()


def list_runs(folder: Path) -> list[dict]:
    """Every run folder directly in `folder` (one with config.json), as a dict of what `tinygan runs` shows;
    unreadable files leave their fields out rather than stopping the listing."""
    found = []
    for path in sorted(folder.iterdir()):
        if not (path / "config.json").is_file():
            continue
        entry = {"run": path.name}
        with contextlib.suppress(RunError, KeyError, TypeError):
            config = read_json(path / "config.json")
            entry.update(_typed({"preset": config.get("preset"), "num_steps": config["train"]["num_steps"]}))
        with contextlib.suppress(RunError):
            status = read_json(path / STATUS_FILE)
            entry.update(_typed({name: status.get(name) for name in ("status", "step", "started")}))
            if status.get("status") == "running" and not is_locked(path):
                entry["status"] = "killed"  # running, says the file; but no process holds the lock
        with contextlib.suppress(RunError):
            metrics = read_json(path / "metrics.json")
            entry.update(_typed({name: metrics.get(name) for name in ("w1", "sliced_w1", "floor_ratio")}))
            fallback = _typed({"status": metrics.get("status"), "step": metrics.get("iterations")})
            entry.update({name: value for name, value in fallback.items() if name not in entry})
        entry.setdefault("started", datetime.fromtimestamp((path / "config.json").stat().st_mtime).astimezone()
                         .isoformat(timespec="seconds"))
        found.append(entry)
    return sorted(found, key=lambda entry: entry["started"])


# What `tinygan runs` shows of each field: a value of another type (a damaged file's) is left out.
_LISTED_TYPES = {"preset": str, "status": str, "started": str, "step": int, "num_steps": int,
                 "w1": (int, float), "sliced_w1": (int, float), "floor_ratio": (int, float)}


def _typed(values: dict) -> dict:
    return {name: value for name, value in values.items()
            if isinstance(value, _LISTED_TYPES[name]) and not isinstance(value, bool)}


def history_csv(history: dict[str, np.ndarray]) -> str:
    """One row per log point; the step and the modes captured as whole numbers, the rest as exact floats."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(history)
    whole = {"step", "modes_captured"}
    for i in range(len(history["step"])):
        writer.writerow([_cell(history[name][i], name in whole) for name in history])
    return buffer.getvalue()


def _cell(value, whole: bool) -> str:
    value = float(value)
    return str(int(value)) if whole and math.isfinite(value) else repr(value)


STATUS_FILE, LOCK_FILE = "status.json", ".lock"
# status.json's words: see `run_status`; failed: an error (out of memory, a full disk) ended the process
RUN_STATUSES = ("running", "finished", "stopped", "diverged", "failed")


def run_status(trainer_status: str) -> str:
    """status.json's word for how training ended: a stopping rule's end is finished, a signal's is stopped."""
    return {"interrupted": "stopped", "diverged": "diverged"}.get(trainer_status, "finished")


def now() -> str:
    """The local time, to the second, with its offset: how status.json says when."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def write_status(folder: Path, status: str, **fields) -> None:
    """status.json: running, finished, stopped (by a signal: resumable), diverged or failed (by an error:
    resumable), with the step and more."""
    write_atomic(folder / STATUS_FILE, to_json({"status": status, **fields, "updated": now()}))


def check_run(path: str | os.PathLike) -> Path:
    """An existing run folder (holding config.json), or RunError saying what the path is instead."""
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path}: no such run folder")
    if not path.is_dir():
        raise RunError(f"{path}: is a file, not a run folder")
    if not (path / "config.json").is_file():
        raise RunError(f"{path}: not a run folder (no config.json)")
    return path


def planned_steps(folder: Path) -> int:
    """The iterations a run folder's config.json asks for, or RunError."""
    train = read_json(folder / "config.json").get("train")
    steps = train.get("num_steps") if isinstance(train, dict) else None
    if not isinstance(steps, int) or isinstance(steps, bool):
        raise RunError(f"{folder / 'config.json'}: holds no train.num_steps")
    return steps


@contextlib.contextmanager
def run_lock(folder: Path):
    """Hold the run's lock while training it: a second process on the same run is refused, not interleaved.

    The lock (flock on RUN/.lock) goes with the process, however it ends: a killed run holds none, though
    its file stays; a run that ends removes the file.
    """
    path = folder / LOCK_FILE
    if path.exists() and not path.is_file():  # a pipe would block the open
        raise RunError(f"cannot lock {folder}: {path} is not a regular file")
    try:
        handle = open(path, "a")  # noqa: SIM115 (held open until the run ends)
    except OSError as error:
        raise RunError(f"cannot lock {folder}: {error.strerror}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"{folder}: another process is training this run") from None
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def is_locked(folder: Path) -> bool:
    """Whether a live process holds the run's lock (is training it now)."""
    if not (folder / LOCK_FILE).is_file():  # none, or a pipe, which would block the open: no lock held
        return False
    try:
        with open(folder / LOCK_FILE) as handle:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def with_absolute_data(config: Config) -> Config:
    """`config` with a file target's path made absolute, so that the run resumes, samples and plots from any
    folder (its checkpoints also record the table's SHA-256: a changed file is refused)."""
    kind, _, path = config.data.target.partition(":")
    if kind != "file" or Path(path).is_absolute():
        return config
    return replace(config, target=f"file:{Path(path).absolute()}")


def start_run(folder: str | os.PathLike, config: Config) -> Path:
    """Create the folder and write config.json, so a run is recognisable from its first second."""
    folder, written = Path(folder), to_json(resolved(config).to_dict())  # a config the registries refuse: nothing made
    _make_folder(folder)
    write_atomic(folder / "config.json", written)
    return folder


def _make_folder(folder: Path) -> None:
    """The folder and those above it, or RunError saying why not (a file in the way, no permission)."""
    if (blocking := _file_in_the_way(folder)) is not None:
        raise RunError(f"cannot create folder {folder}: {blocking} is a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"cannot create folder {folder}: {error.strerror or error}") from None


def save_run(
    result: TrainResult,
    folder: str | os.PathLike,
    *,
    pictures: bool = True,
    animation: str | os.PathLike | None = None,
    lang: str = "en",
) -> list[Path]:
    """Write a trained run's files into its folder; returns the paths written."""
    folder = Path(folder)
    _make_folder(folder)
    write_atomic(folder / "config.json", to_json(result.config.to_dict()))
    write_atomic(folder / "history.csv", history_csv(result.history))
    written = [folder / "config.json", folder / "history.csv"]
    metrics = dict(result.metrics, seconds=dict(result.metrics["seconds"]))
    if pictures:
        start = time.perf_counter()
        from tinygan.pictures.run import draw_pictures

        written += draw_pictures(result, folder, animation=Path(animation) if animation else None, lang=lang)
        metrics["seconds"]["pictures"] = time.perf_counter() - start
    write_atomic(folder / "metrics.json", to_json(metrics))
    written.append(folder / "metrics.json")
    return written
