"""Checkpoint files: what they hold comes back exactly; every damaged, changed or foreign file is refused in
one line (CheckpointError), and loading one never runs code."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile

import jax
import numpy as np
import pytest
from helpers import assert_trees_equal

import tinygan
from tinygan.runs import checkpoints
from tinygan.runs.checkpoints import Checkpointer, CheckpointError
from tinygan.training import loop as trainer


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 60-iteration seed run with keep-best, a checkpoint every 20 iterations, all of them kept: the folder
    and the snapshots the trainer handed over."""
    folder = tmp_path_factory.mktemp("run")
    writer, seen = Checkpointer(folder, keep=10), []

    def checkpoint(snapshot):
        seen.append(snapshot)
        writer(snapshot)

    config = tinygan.config_from_preset("seed", num_steps=60, log_every=10, pretrain_steps=0, keep_best=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer, "CHUNK_ITERATIONS", 20)  # three chunks
        tinygan.train(config, checkpoint=checkpoint, checkpoint_every=20)
    return folder, seen


@pytest.fixture
def last(run, tmp_path):
    """A copy of the run's last checkpoint and its frames, free to damage."""
    folder, _ = run
    for path in [*folder.glob("frames/*.npz"), checkpoints.latest(folder)]:
        target = tmp_path / path.relative_to(folder)
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(path.read_bytes())
    return checkpoints.latest(tmp_path)


def test_a_checkpoint_gives_back_what_was_saved(run):
    folder, seen = run
    assert [path.name for path in checkpoints.checkpoints(folder)] == [
        checkpoints.checkpoint_name(s.step) for s in seen]
    assert [s.status for s in seen] == ["running", "running", "finished"]
    for snapshot, path in zip(seen, checkpoints.checkpoints(folder)):
        loaded, _ = checkpoints.load(path)
        assert_trees_equal(loaded.state, snapshot.state)
        assert_trees_equal(loaded.best_state, snapshot.best_state)
        np.testing.assert_array_equal(jax.random.key_data(loaded.keys), jax.random.key_data(snapshot.keys))
        assert loaded.history.keys() == snapshot.history.keys()
        for name, values in snapshot.history.items():
            np.testing.assert_array_equal(loaded.history[name], values)
        np.testing.assert_array_equal(loaded.pretrain_losses, snapshot.pretrain_losses)
        assert (loaded.watch, loaded.status, loaded.config) == (snapshot.watch, snapshot.status, snapshot.config)
        assert [f.step for f in loaded.frames] == [f.step for f in snapshot.frames]
        for a, b in zip(loaded.frames, snapshot.frames):
            np.testing.assert_array_equal(a.generated, b.generated)
            np.testing.assert_array_equal(a.decision, b.decision)


def test_only_the_last_k_are_kept(run, tmp_path):
    _, seen = run
    writer = Checkpointer(tmp_path, keep=2)
    for snapshot in seen:
        writer(snapshot)
    assert [p.name for p in checkpoints.checkpoints(tmp_path)] == ["step-000000040.npz", "step-000000060.npz"]
    assert len(checkpoints.load(checkpoints.latest(tmp_path))[0].frames) == 6  # the frames files stay


# ---------------------------------------------------------------- damaged, changed and foreign files


def members(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def rewrite(path, arrays: dict, manifest: dict | None = None, *, fix_checksum: bool = True) -> None:
    """Write a checkpoint with these arrays and (changed) manifest; its checksum made to match unless told."""
    arrays = dict(arrays)
    if manifest is not None:
        text = json.dumps(manifest).encode()
        arrays["manifest"] = np.frombuffer(text, np.uint8)
        if fix_checksum:
            arrays["checksum"] = np.frombuffer(hashlib.sha256(text).hexdigest().encode(), np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


def manifest_of(arrays) -> dict:
    return json.loads(arrays["manifest"].tobytes())


def refused(path, *words: str) -> str:
    with pytest.raises(CheckpointError) as caught:
        checkpoints.load(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert all(word in message for word in words), message
    return message


def test_changed_numbers_in_any_member_are_refused(last):
    original = members(last)
    for name in [n for n in original if n not in ("manifest", "checksum")]:
        arrays = dict(original)
        changed = arrays[name].copy() if arrays[name].size else np.zeros(1, arrays[name].dtype)  # one more number
        changed.reshape(-1).view(np.uint8)[-1] ^= 1  # one bit of the member's last number
        arrays[name] = changed
        rewrite(last, arrays)
        refused(last, repr(name), "checksum")


def test_a_changed_manifest_is_refused(last):
    arrays = members(last)
    manifest = manifest_of(arrays)
    rewrite(last, arrays, {**manifest, "step": 40}, fix_checksum=False)
    refused(last, "manifest", "checksum")


def test_damaged_bytes_anywhere_are_refused_or_harmless(last):
    """One flipped byte every ~1% of the file: refused in one line, or (zip metadata such as a date) harmless."""
    data, reference = last.read_bytes(), checkpoints.load(last)[0]
    for offset in range(0, len(data), len(data) // 97):
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF
        last.write_bytes(bytes(damaged))
        try:
            loaded, _ = checkpoints.load(last)
        except CheckpointError as error:
            assert "\n" not in str(error)
        else:
            assert_trees_equal(loaded.state, reference.state)


@pytest.mark.parametrize("keep", [0, 0.005, 0.5, 0.999])
def test_a_cut_short_file_is_refused(last, keep):
    data = last.read_bytes()
    last.write_bytes(data[: int(len(data) * keep)])
    refused(last, "checkpoint")


def test_another_version_or_format_is_refused(last):
    arrays = members(last)
    manifest = manifest_of(arrays)
    rewrite(last, arrays, {**manifest, "version": 2})
    refused(last, "version 2", f"reads version {checkpoints.VERSION}")
    rewrite(last, arrays, {**manifest, "format": "something-else"})
    refused(last, "not a tinygan checkpoint")
    del arrays["manifest"]
    rewrite(last, arrays)
    refused(last, "no manifest")


def test_members_missing_or_extra_are_refused(last):
    arrays = members(last)
    rewrite(last, {name: a for name, a in arrays.items() if name != "state.0"})
    refused(last, "do not match its manifest")
    rewrite(last, {**arrays, "extra": np.zeros(3)})
    refused(last, "do not match its manifest")


def test_a_state_that_does_not_fit_its_config_is_refused(last):
    """Consistent checksums, but the config says 8 hidden units where the arrays hold 4."""
    arrays = members(last)
    manifest = manifest_of(arrays)
    manifest["config"]["model"]["generator_width"] = 8
    rewrite(last, arrays, manifest)
    refused(last, "does not fit")
    manifest["config"]["model"]["hidden_size"] = 0
    rewrite(last, arrays, manifest)
    refused(last, "config is not valid", "model.hidden_size")


class _Trap:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_checkpoint_made_to_run_code_is_refused(last, tmp_path):
    marker = tmp_path / "code-ran"
    arrays = members(last)
    trap = np.empty(1, object)
    trap[0] = _Trap(str(marker))
    buffer = io.BytesIO()
    np.savez(buffer, **{**arrays, "state.0": trap}, allow_pickle=True)
    last.write_bytes(buffer.getvalue())
    refused(last, "pickled", "refused")
    assert not marker.exists()


def test_frames_files_are_checked(last):
    frames = sorted(last.parent.parent.glob("frames/*.npz"))
    data = frames[0].read_bytes()
    frames[0].write_bytes(data[:-10] + bytes(10))
    message = refused(last.parent.parent / "checkpoints" / last.name)
    assert "checksum" in message
    frames[0].unlink()
    refused(last, "frames file", "missing")
    assert len(checkpoints.load(last, with_frames=False)[0].frames) == 0


def test_no_checkpoint_or_not_a_file(tmp_path):
    refused(tmp_path / "nothing.npz", "no such checkpoint")
    (tmp_path / "folder.npz").mkdir()
    refused(tmp_path / "folder.npz", "is a folder")
    (tmp_path / "text.npz").write_text("hello")
    refused(tmp_path / "text.npz", "not a checkpoint")
    with zipfile.ZipFile(tmp_path / "zip.npz", "w") as archive:
        archive.writestr("a.txt", "not an array")
    with pytest.raises(CheckpointError):
        checkpoints.load(tmp_path / "zip.npz")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        checkpoints.latest(tmp_path)


def test_a_kill_during_a_write_leaves_the_previous_checkpoint(run, tmp_path, monkeypatch):
    """The test hook's half-written temporary file is not a checkpoint: the last whole one is what loads."""
    _, seen = run
    writer = Checkpointer(tmp_path, keep=3)
    writer(seen[0])
    killed = []
    monkeypatch.setenv(checkpoints.KILL_IN_WRITE, "2")
    monkeypatch.setattr(os, "kill", lambda pid, number: killed.append(number))
    monkeypatch.setattr(checkpoints, "write_atomic", lambda path, data: None)  # the process is dead by now
    writer(seen[1])
    assert killed and [p.name for p in checkpoints.checkpoints(tmp_path)] == ["step-000000020.npz"]
    assert (tmp_path / "checkpoints" / ".step-000000040.npz.partial").exists()
    assert checkpoints.load(checkpoints.latest(tmp_path))[0].step == 20
