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
import os
import re
import signal
import zipfile
from pathlib import Path

import jax
import numpy as np

from tinygan import engine
from tinygan.config import Config, ConfigError
from tinygan.runs import write_atomic
from tinygan.trainer import Frame, Snapshot

FORMAT, VERSION = "tinygan-checkpoint", 1
FOLDER, FRAMES_FOLDER = "checkpoints", "frames"
STATUSES = ("running", "finished", "stopped", "interrupted", "diverged")
_NAME = re.compile(r"step-(\d{9})\.npz")
_FRAME_FIELDS = ("step", "generated", "decision", "pull")
KILL_IN_WRITE = "TINYGAN_TEST_KILL_IN_WRITE"  # test hook: N; the process SIGKILLs itself halfway through write N


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, damaged, changed, or from another format."""


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
    text = json.dumps(manifest, indent=1).encode()  # NaN and infinity as JavaScript's words: read back by json
    arrays["manifest"] = np.frombuffer(text, np.uint8)
    arrays["checksum"] = np.frombuffer(sha256(text).encode(), np.uint8)
    return _npz_bytes(arrays)


def load(path: str | Path, *, with_frames: bool = True) -> tuple[Snapshot, list[dict]]:
    """A checkpoint file's Snapshot and its frames' files; every problem is one CheckpointError naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file") from None
    except OSError as error:
        raise CheckpointError(f"{path}: cannot be read ({error.strerror})") from None
    arrays, manifest = _read_members(path, data)
    try:
        config = Config.from_dict(manifest["config"])
    except ConfigError as error:
        raise CheckpointError(f"{path}: its config is not valid: {error}") from None
    expected = template(config)
    state = _tree(path, arrays, "state", expected)
    best = _tree(path, arrays, "best", expected) if any(name.startswith("best.") for name in arrays) else None
    keys = arrays["keys"]
    if keys.dtype != np.uint32 or keys.shape != (2, *jax.random.key_data(jax.random.key(0)).shape):
        raise CheckpointError(f"{path}: its keys have shape {keys.shape} and type {keys.dtype}")
    history = {name: arrays[f"history.{name}"] for name in manifest["history_columns"]}
    if len({len(values) for values in history.values()}) > 1:
        raise CheckpointError(f"{path}: its history's columns differ in length")
    step = int(state.step)
    if step != manifest["step"] or not 0 <= step <= config.train.num_steps or manifest["status"] not in STATUSES:
        raise CheckpointError(f"{path}: its step ({step}) or status ({manifest['status']!r}) is not possible")
    frames = _load_frames(path, manifest["frames"]) if with_frames else []
    snapshot = Snapshot(config, state, jax.random.wrap_key_data(keys), history, frames, arrays["pretrain_losses"],
                        manifest["watch"], best, manifest["status"])
    return snapshot, manifest["frames"]


def _members(path: Path, data: bytes) -> dict[str, np.ndarray]:
    """The arrays of an .npz file's bytes, read without unpickling anything."""
    if not data.startswith(b"PK\x03\x04"):
        raise CheckpointError(f"{path}: not a checkpoint (not an .npz file{', empty' if not data else ''})")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise CheckpointError(f"{path}: holds pickled Python objects; refused (loading them could run code)") \
                from None
        raise CheckpointError(f"{path}: not a checkpoint, or damaged ({error})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as error:
        raise CheckpointError(f"{path}: not a checkpoint, or damaged or cut short ({error})") from None


def _read_members(path: Path, data: bytes) -> tuple[dict[str, np.ndarray], dict]:
    """Every member of a checkpoint, checked against its manifest; and the manifest."""
    arrays = _members(path, data)
    if "manifest" not in arrays or "checksum" not in arrays:
        raise CheckpointError(f"{path}: not a tinygan checkpoint (no manifest)")
    text = arrays.pop("manifest").tobytes()
    if arrays.pop("checksum").tobytes().decode(errors="replace") != sha256(text):
        raise CheckpointError(f"{path}: its manifest does not match its checksum (changed or damaged)")
    try:
        manifest = json.loads(text)
        if manifest.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not a tinygan checkpoint (format {manifest.get('format')!r})")
        if manifest.get("version") != VERSION:
            raise CheckpointError(f"{path}: checkpoint format version {manifest.get('version')!r}; this tinygan "
                                  f"reads version {VERSION}")
        listed = manifest["arrays"]
        if set(listed) != set(arrays):
            raise CheckpointError(f"{path}: its members do not match its manifest")
        for name, array in arrays.items():
            entry = listed[name]
            if [array.dtype.str, list(array.shape)] != [entry["dtype"], entry["shape"]] or \
                    sha256(array.tobytes()) != entry["sha256"]:
                raise CheckpointError(f"{path}: member {name!r} does not match its checksum (changed or damaged)")
    except (AttributeError, KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: its manifest is malformed ({type(error).__name__}: {error})") from None
    return arrays, manifest


def _tree(path: Path, arrays: dict[str, np.ndarray], prefix: str, expected: engine.TrainState):
    """The members `prefix.0`, `prefix.1`, ... as a state shaped like `expected`, or CheckpointError."""
    specs, treedef = jax.tree.flatten(expected)
    leaves = [arrays.get(f"{prefix}.{i}") for i in range(len(specs))]
    if sum(name.startswith(f"{prefix}.") for name in arrays) != len(specs) or any(
        leaf is None or leaf.shape != spec.shape or leaf.dtype != spec.dtype for leaf, spec in zip(leaves, specs)
    ):
        raise CheckpointError(f"{path}: its {prefix} does not fit the networks and optimizers of its config")
    return jax.tree.unflatten(treedef, [jax.numpy.asarray(leaf) for leaf in leaves])


def _load_frames(path: Path, segments: list[dict]) -> list[Frame]:
    """The frames of a checkpoint's files in RUN/frames/, each checked against the checksum it lists."""
    frames = []
    for segment in segments:
        file = path.parent.parent / segment["file"]
        if not re.fullmatch(rf"{FRAMES_FOLDER}/frames-\d{{9}}-\d{{9}}\.npz", segment["file"]):
            raise CheckpointError(f"{path}: lists a frames file outside the run: {segment['file']!r}")
        try:
            data = file.read_bytes()
        except OSError:
            raise CheckpointError(f"{path}: its frames file {file} is missing") from None
        if sha256(data) != segment["sha256"]:
            raise CheckpointError(f"{file}: does not match the checksum {path} lists (changed or damaged)")
        arrays = _members(file, data)
        if "step" not in arrays or "generated" not in arrays or not set(arrays) <= set(_FRAME_FIELDS):
            raise CheckpointError(f"{file}: not a frames file")
        count = len(arrays["step"])
        if count != segment["count"] or any(len(values) != count for values in arrays.values()):
            raise CheckpointError(f"{file}: holds {count} frames, {path} lists {segment['count']}")
        optional = {name: arrays.get(name, [None] * count) for name in ("decision", "pull")}
        frames += [Frame(int(arrays["step"][i]), optional["decision"][i], arrays["generated"][i], optional["pull"][i])
                   for i in range(count)]
    return frames
