"""Checkpoints: a run's whole state at a step, in files that are safe to load and that resume it exactly.

RUN/checkpoints/step-000001200.npz holds every array as a member of its own: both networks, both optimizer
states, G's EMA, keep-best's state, the keys, the history and the pre-training losses; and a JSON manifest:
the format and its version, the config, the stopping rule's progress and a SHA-256 of every member (the
manifest's own beside it). The animation's frames are kept apart in RUN/frames/, one file per stretch
between checkpoints, named with their checksums in the manifest: a checkpoint does not grow with them.

Nothing is unpickled: numpy reads arrays with allow_pickle=False, and the state's structure comes from
the config (what its networks and optimizers hold), never from the file. Every file goes to a temporary
name, is flushed to disk and renamed, so a SIGKILL at any moment leaves the last checkpoint whole.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import signal
import stat
import zipfile
from pathlib import Path

import jax
import numpy as np

from tinygan import engine
from tinygan.config import Config, ConfigError, replace
from tinygan.errors import CheckpointError
from tinygan.data.targets import FileTarget, make_target
from tinygan.data.files import DAMAGED_ARCHIVE_ERRORS, DataError, read_npy_header
from tinygan.files import write_atomic
from tinygan.measure.scoring import metric_columns
from tinygan.config.names import LOSS_COLUMNS
from tinygan.training.loop import Frame, Snapshot
from tinygan.engine.resolve import check, resolved

FORMAT, VERSION = "tinygan-checkpoint", 1
FOLDER, FRAMES_FOLDER = "checkpoints", "frames"
STATUSES = ("running", "finished", "stopped", "interrupted", "diverged")
_NAME = re.compile(r"step-(\d{9})\.npz")
_FRAME_FIELDS = ("step", "generated", "decision", "pull")
KILL_IN_WRITE = "TINYGAN_TEST_KILL_IN_WRITE"  # test hook: N; the process SIGKILLs itself halfway through write N



def checkpoint_name(step: int) -> str:
    return f"step-{step:09d}.npz"


def checkpoints(run: str | Path) -> list[Path]:
    """The run's checkpoint files, oldest first (by step)."""
    folder = Path(run) / FOLDER
    found = [path for path in folder.glob("step-*.npz") if _NAME.fullmatch(path.name)] if folder.is_dir() else []
    return sorted(found)


def latest(run: str | Path) -> Path:
    """The run's newest checkpoint; CheckpointError when it has none."""
    found = checkpoints(run)
    if not found:
        raise CheckpointError(f"{run}: no checkpoint in {Path(run) / FOLDER}")
    return found[-1]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _leaves(tree) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(jax.device_get(tree))]


def template(config: Config) -> engine.TrainState:
    """The structure, shapes and dtypes of a run's state (no numbers), from its config alone."""
    game = engine.make_game(config)
    return jax.eval_shape(lambda key: engine.init_state(game, key), jax.random.key(0))


class Checkpointer:
    """Writes a run's checkpoints (`__call__(snapshot)`) and keeps the last `keep` of them.

    Frames already written (`segments`, a checkpoint's list when resuming) are not written again.
    """

    def __init__(self, run: str | Path, keep: int, segments: list[dict] | tuple = ()):
        self.run, self.keep, self.segments = Path(run), keep, list(segments)
        self.written = 0

    def __call__(self, snapshot: Snapshot) -> Path:
        (self.run / FOLDER).mkdir(parents=True, exist_ok=True)
        saved = sum(segment["count"] for segment in self.segments)
        if len(snapshot.frames) > saved:
            self.segments.append(self._write_frames(snapshot.frames[saved:]))
        path = self.run / FOLDER / checkpoint_name(snapshot.step)
        data = encode(snapshot, self.segments)
        self.written += 1
        if os.environ.get(KILL_IN_WRITE) == str(self.written):
            _die_halfway(path, data)
        write_atomic(path, data)
        for old in checkpoints(self.run)[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def _write_frames(self, frames: list[Frame]) -> dict:
        (self.run / FRAMES_FOLDER).mkdir(exist_ok=True)
        arrays = {"step": np.array([frame.step for frame in frames], np.int64),
                  "generated": np.stack([frame.generated for frame in frames])}
        for name in ("decision", "pull"):
            if getattr(frames[0], name) is not None:
                arrays[name] = np.stack([getattr(frame, name) for frame in frames])
        data = _npz_bytes(arrays)
        name = f"{FRAMES_FOLDER}/frames-{frames[0].step:09d}-{frames[-1].step:09d}.npz"
        write_atomic(self.run / name, data)
        return {"file": name, "sha256": sha256(data), "count": len(frames)}


def _die_halfway(path: Path, data: bytes) -> None:
    """The test hook: half of `data` in the temporary file `runs.write_atomic` uses, then SIGKILL."""
    with open(path.with_name(f".{path.name}.partial"), "wb") as file:
        file.write(data[: len(data) // 2])
        file.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def encode(snapshot: Snapshot, segments: list[dict]) -> bytes:
    """A checkpoint file's bytes: the snapshot's arrays and their manifest (`segments`: its frames' files)."""
    arrays = {f"state.{i}": leaf for i, leaf in enumerate(_leaves(snapshot.state))}
    if snapshot.best_state is not None:
        arrays.update({f"best.{i}": leaf for i, leaf in enumerate(_leaves(snapshot.best_state))})
    arrays["keys"] = np.asarray(jax.random.key_data(snapshot.keys))
    arrays["pretrain_losses"] = np.asarray(snapshot.pretrain_losses)
    arrays.update({f"history.{name}": np.asarray(values) for name, values in snapshot.history.items()})
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "step": snapshot.step,
        "status": snapshot.status,
        "config": snapshot.config.to_dict(),
        "history_columns": list(snapshot.history),
        "watch": snapshot.watch,
        "frames": segments,
        "state_paths": [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_leaves_with_path(snapshot.state)],
        "arrays": {name: {"shape": list(array.shape), "dtype": array.dtype.str, "sha256": sha256(array.tobytes())}
                   for name, array in arrays.items()},
    }
    target = make_target(snapshot.config.data)
    if isinstance(target, FileTarget):  # the table it trained on: `load` refuses a changed file
        manifest["data"] = target.fingerprint
    text = json.dumps(manifest, indent=1).encode()  # NaN and infinity as JavaScript's words: read back by json
    arrays["manifest"] = np.frombuffer(text, np.uint8)
    arrays["checksum"] = np.frombuffer(sha256(text).encode(), np.uint8)
    return _npz_bytes(arrays)


def load(path: str | Path, *, with_frames: bool = True) -> tuple[Snapshot, list[dict]]:
    """A checkpoint file's Snapshot and its frames' files; every problem is one CheckpointError naming the file.

    Besides every member's checksum, what the manifest says is checked against the config it holds (a changed
    manifest can carry a matching checksum): the state's shapes, a finite state, the history's columns, the
    watch's fields, the frames' files and the pre-training losses; and, in a run folder, the config against
    the run's config.json (a checkpoint of another run swapped in).
    """
    path = Path(path)
    arrays, manifest = _read_members(path, _read_regular_file(path))
    try:
        config = check(Config.from_dict(manifest["config"]))  # a target file it names: read and checked here
    except DataError as error:  # the run's data, not the checkpoint, is what went wrong (only `check` reads it)
        raise CheckpointError(f"{path}: the data it trained on cannot be used: {_one_line(error)}") from None
    except (ConfigError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(f"{path}: its config is not valid: {_one_line(error)}") from None
    _check_same_data(path, config, manifest.get("data"))
    _check_same_run(path, config)
    expected = template(config)
    state = _tree(path, arrays, "state", expected)
    best = _tree(path, arrays, "best", expected) if any(name.startswith("best.") for name in arrays) else None
    keys = arrays["keys"]
    if keys.dtype != np.uint32 or keys.shape != (2, *jax.random.key_data(jax.random.key(0)).shape):
        raise CheckpointError(f"{path}: its keys have shape {keys.shape} and type {keys.dtype}")
    step = int(state.step)
    if step != manifest["step"] or not 0 <= step <= config.train.num_steps or manifest["status"] not in STATUSES:
        raise CheckpointError(f"{path}: its step ({step}) or status ({manifest['status']!r}) is not possible")
    history = _history(path, arrays, manifest["history_columns"], config, step)
    losses = arrays["pretrain_losses"]  # (pretrain_steps,)
    if losses.dtype.kind != "f" or losses.shape != (config.optim.pretrain_steps,):
        raise CheckpointError(f"{path}: its pre-training losses are {losses.dtype}{list(losses.shape)}, expected "
                              f"one number for each of {config.optim.pretrain_steps} steps")
    segments = _segments(path, manifest["frames"])
    frames = _load_frames(path, segments, step, make_target(config.data).dim) if with_frames else []
    snapshot = Snapshot(config, state, jax.random.wrap_key_data(keys), history, frames, losses,
                        _watch(path, manifest["watch"]), best, manifest["status"])
    return snapshot, segments


def _check_same_data(path: Path, config: Config, recorded) -> None:
    """A checkpoint of a file's table is used with that table only: a changed file would silently train, sample
    and measure against other data. (Checkpoints written before tinygan recorded it are taken as they are.)"""
    target = make_target(config.data)
    if recorded is None or not isinstance(target, FileTarget):
        return
    now = target.fingerprint
    if not isinstance(recorded, dict) or set(recorded) != set(now) or any(
            type(recorded[key]) is not type(now[key]) for key in now):
        raise CheckpointError(f"{path}: its manifest is malformed ('data' is not the table's rows, columns and sha256)")
    if recorded != now:
        file = config.data.target.partition(":")[2]
        shape = (f"{recorded['rows']:,} x {recorded['columns']} then, {now['rows']:,} x {now['columns']} now"
                 if [recorded["rows"], recorded["columns"]] != [now["rows"], now["columns"]] else
                 f"{now['rows']:,} x {now['columns']}, other numbers")
        raise CheckpointError(f"{path}: its data file {file} has changed since the run trained on it ({shape}): "
                              "put the run's data back, or train a new run on the new data")


def _read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file: a pipe named like a checkpoint would block, /dev/zero never end."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes() if stat.S_ISREG(mode) else b""
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except OSError as error:
        raise CheckpointError(f"{path}: cannot be read ({error.strerror})") from None
    if stat.S_ISDIR(mode):
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    if not stat.S_ISREG(mode):
        raise CheckpointError(f"{path}: not a regular file (a pipe, socket or device), not a checkpoint")
    return data


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _check_same_run(path: Path, config: Config) -> None:
    """A checkpoint in RUN/checkpoints/ holds RUN's config, as its config.json says, but for num_steps (which
    `resume --num-steps` writes to config.json first). A config.json that is not a whole config (damaged,
    emptied) names no run: then there is nothing to compare, the checkpoint's own config is the run's."""
    saved = path.parent.parent / "config.json"
    if path.parent.name != FOLDER or not saved.is_file():
        return
    ours = config.to_dict()
    try:
        written = json.loads(saved.read_text())
        if _layout(written) != _layout(ours):
            return
        theirs = replace(resolved(Config.from_dict(written)), num_steps=config.train.num_steps).to_dict()
    except (OSError, ValueError, TypeError, AttributeError, KeyError, RecursionError):  # ValueError: JSON, Config
        return
    if ours != theirs:
        raise CheckpointError(f"{path}: is not this run's checkpoint: its {_first_difference(ours, theirs)} "
                              f"differs from {saved}'s")


def _layout(config: dict) -> dict:
    """A `Config.to_dict()`'s sections and their settings' names, without the values."""
    return {section: sorted(fields) if isinstance(fields, dict) else None for section, fields in config.items()} \
        if isinstance(config, dict) else {}


def _first_difference(ours: dict, theirs: dict) -> str:
    """The first setting ("section.name") where two `Config.to_dict()`s differ."""
    for section, fields in ours.items():
        if fields != theirs.get(section):
            if not isinstance(fields, dict):
                return section
            return next(f"{section}.{name}" for name in fields if fields[name] != theirs[section].get(name))
    return "config"


def _members(path: Path, data: bytes) -> dict[str, np.ndarray]:
    """The arrays of an .npz file's bytes, each .npy header checked before its data is read; nothing is
    unpickled, and nothing compressed is inflated (tinygan stores its members: a zip bomb is refused)."""
    if not data.startswith(b"PK\x03\x04"):
        raise CheckpointError(f"{path}: not a checkpoint (not an .npz file{', empty' if not data else ''})")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if len(set(names)) != len(names) or not all(name.endswith(".npy") for name in names):
                raise CheckpointError(f"{path}: not a checkpoint (its members are not one .npy file per array)")
            if any(info.compress_type != zipfile.ZIP_STORED for info in infos):
                raise CheckpointError(f"{path}: has compressed members: not a file tinygan wrote")
            return {info.filename[:-4]: _array(path, info.filename, archive.read(info)) for info in infos}
    except CheckpointError:
        raise
    except _DAMAGED as error:
        raise CheckpointError(f"{path}: not a checkpoint, or damaged or cut short ({_one_line(error)})") from None


_DAMAGED = (*DAMAGED_ARCHIVE_ERRORS, KeyError)  # each becomes one CheckpointError naming the file


def _array(path: Path, name: str, raw: bytes) -> np.ndarray:
    """One .npy member: a header naming a plain dtype and a shape its bytes hold exactly, then its data."""
    stream = io.BytesIO(raw)
    try:
        shape, fortran_order, dtype = read_npy_header(stream)
    except ValueError as error:
        raise CheckpointError(f"{path}: member {name!r} is not a readable array ({_one_line(error)})") from None
    if dtype.hasobject:
        raise CheckpointError(f"{path}: holds pickled Python objects; refused (loading them could run code)")
    if math.prod(shape) * dtype.itemsize != len(raw) - stream.tell():
        raise CheckpointError(f"{path}: member {name!r} is cut short or has extra bytes")
    array = np.frombuffer(raw, dtype, math.prod(shape), stream.tell())
    return array.reshape(shape, order="F" if fortran_order else "C").copy()


def _read_members(path: Path, data: bytes) -> tuple[dict[str, np.ndarray], dict]:
    """Every member of a checkpoint, checked against its manifest; and the manifest, its fields of their types."""
    arrays = _members(path, data)
    if "manifest" not in arrays or "checksum" not in arrays:
        raise CheckpointError(f"{path}: not a tinygan checkpoint (no manifest)")
    text = arrays.pop("manifest").tobytes()
    if arrays.pop("checksum").tobytes().decode(errors="replace") != sha256(text):
        raise CheckpointError(f"{path}: its manifest does not match its checksum (changed or damaged)")
    try:
        manifest = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise CheckpointError(f"{path}: its manifest is malformed ({type(error).__name__}: {error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise CheckpointError(f"{path}: not a tinygan checkpoint (format {found!r})")
    if manifest.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {manifest.get('version')!r}; this tinygan "
                              f"reads version {VERSION}")
    for key, kind in _MANIFEST_FIELDS.items():
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            raise CheckpointError(f"{path}: its manifest is malformed ({key!r} missing or not {kind.__name__})")
    listed = manifest["arrays"]
    if set(listed) != set(arrays):
        raise CheckpointError(f"{path}: its members do not match its manifest")
    for name, array in arrays.items():
        entry = listed[name]
        if not isinstance(entry, dict) or [array.dtype.str, list(array.shape), sha256(array.tobytes())] != [
                entry.get("dtype"), entry.get("shape"), entry.get("sha256")]:
            raise CheckpointError(f"{path}: member {name!r} does not match its checksum (changed or damaged)")
    return arrays, manifest


_MANIFEST_FIELDS = {"step": int, "status": str, "config": dict, "history_columns": list, "watch": dict,
                    "frames": list, "arrays": dict}


def _tree(path: Path, arrays: dict[str, np.ndarray], prefix: str, expected: engine.TrainState):
    """The members `prefix.0`, `prefix.1`, ... as a state shaped like `expected`, or CheckpointError.

    Every number must be finite: the trainer never keeps a state that is not (a diverged run keeps its last
    finite one), so one that is was changed.
    """
    specs, treedef = jax.tree.flatten(expected)
    leaves = [arrays.get(f"{prefix}.{i}") for i in range(len(specs))]
    if sum(name.startswith(f"{prefix}.") for name in arrays) != len(specs) or any(
        leaf is None or leaf.shape != spec.shape or leaf.dtype != spec.dtype for leaf, spec in zip(leaves, specs)
    ):
        raise CheckpointError(f"{path}: its {prefix} does not fit the networks and optimizers of its config")
    if not all(np.isfinite(leaf).all() for leaf in leaves if leaf.dtype.kind == "f"):
        raise CheckpointError(f"{path}: its {prefix} holds numbers that are not finite")
    return jax.tree.unflatten(treedef, [jax.numpy.asarray(leaf) for leaf in leaves])


def _history(path: Path, arrays: dict[str, np.ndarray], columns: list, config: Config, step: int) -> dict:
    """The history's columns: those a run of `config` records, in order, numbers of one length, the steps
    whole, increasing and none past the state's."""
    wanted = [*LOSS_COLUMNS, *metric_columns(make_target(config.data))]
    stored = sorted(name.removeprefix("history.") for name in arrays if name.startswith("history."))
    if columns != wanted or stored != sorted(wanted):
        raise CheckpointError(f"{path}: its history's columns are not the {', '.join(wanted)} its config records")
    history = {name: arrays[f"history.{name}"] for name in columns}
    if any(values.ndim != 1 or values.dtype.kind not in "fiu" for values in history.values()):
        raise CheckpointError(f"{path}: its history's columns are not lists of numbers")
    if len({len(values) for values in history.values()}) > 1:
        raise CheckpointError(f"{path}: its history's columns differ in length")
    steps = history["step"].astype(np.float64)
    if not (np.all(steps == np.round(steps)) and np.all(np.diff(steps) > 0) and np.all((0 <= steps) & (steps <= step))):
        raise CheckpointError(f"{path}: its history's steps are not whole, increasing steps up to {step}")
    return history


def _watch(path: Path, watch: dict) -> dict:
    """The stopping rule's and keep-best's progress (`training.stopping._Watch.progress`): its fields, of their types."""
    if watch.keys() != _WATCH_FIELDS.keys() or not all(check(watch[name]) for name, check in _WATCH_FIELDS.items()):
        raise CheckpointError(f"{path}: its stopping rule's progress is malformed ({_short(watch)})")
    return watch


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_WATCH_FIELDS = {"rows_seen": _count, "plateau_best": _number, "plateau_index": _count, "best_value": _number,
                 "best_step": lambda v: v is None or _count(v), "stopped_at": lambda v: v is None or _count(v),
                 "reason": lambda v: isinstance(v, str)}


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _segments(path: Path, segments: list) -> list[dict]:
    """The manifest's frames files: each {"file": "frames/frames-A-B.npz", "sha256": str, "count": n >= 1}, once."""
    for segment in segments:
        file = segment.get("file") if isinstance(segment, dict) else None
        if isinstance(file, str) and not re.fullmatch(rf"{FRAMES_FOLDER}/frames-\d{{9}}-\d{{9}}\.npz", file):
            raise CheckpointError(f"{path}: lists a frames file outside the run: {_short(file)}")
        if not (isinstance(segment, dict) and segment.keys() == {"file", "sha256", "count"} and isinstance(file, str)
                and isinstance(segment["sha256"], str) and _count(segment["count"]) and segment["count"] >= 1):
            raise CheckpointError(f"{path}: lists a malformed frames entry: {_short(segment)}")
    if len({segment["file"] for segment in segments}) != len(segments):
        raise CheckpointError(f"{path}: lists a frames file twice")
    return segments


def _load_frames(path: Path, segments: list[dict], step: int, dim: int) -> list[Frame]:
    """The frames of a checkpoint's files in RUN/frames/, each checked against the checksum it lists; their
    steps increasing and none past `step`, samples of `dim` columns, every file's arrays shaped as the first's."""
    frames, shapes = [], None
    for segment in segments:
        file = path.parent.parent / segment["file"]
        try:
            data = _read_regular_file(file)
        except CheckpointError:
            raise CheckpointError(f"{path}: its frames file {file} is missing or not a file") from None
        if sha256(data) != segment["sha256"]:
            raise CheckpointError(f"{file}: does not match the checksum {path} lists (changed or damaged)")
        arrays = _members(file, data)
        if "step" not in arrays or "generated" not in arrays or not set(arrays) <= set(_FRAME_FIELDS):
            raise CheckpointError(f"{file}: not a frames file")
        count = len(arrays["step"]) if arrays["step"].ndim == 1 else -1
        if count != segment["count"] or any(values.ndim < 1 or len(values) != count for values in arrays.values()):
            raise CheckpointError(f"{file}: holds {count} frames, {path} lists {segment['count']}")
        found = {name: (values.dtype.kind, values.shape[1:]) for name, values in arrays.items()}
        if shapes is None:
            shapes = found
        kinds_ok = all(kind == ("i" if name == "step" else "f") for name, (kind, _) in found.items())
        if found != shapes or found["step"][1] or found["generated"][1][1:] != (dim,) or not kinds_ok:
            raise CheckpointError(f"{file}: its frames are not shaped as the run's")
        optional = {name: arrays.get(name, [None] * count) for name in ("decision", "pull")}
        frames += [Frame(int(arrays["step"][i]), optional["decision"][i], arrays["generated"][i], optional["pull"][i])
                   for i in range(count)]
    steps = np.array([frame.step for frame in frames])
    if np.any(np.diff(steps) <= 0) or np.any((steps < 0) | (steps > step)):
        raise CheckpointError(f"{path}: its frames' steps are not increasing steps up to {step}")
    return frames
