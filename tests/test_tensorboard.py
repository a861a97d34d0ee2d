"""TensorBoard event files written through tensorboardX, read back by TensorBoard's own reader; and the one-line
refusal when tensorboardX is not installed."""

import importlib.util
import io
import math
import os
import re
import socket
import sys

import numpy as np
import pytest
from PIL import Image

from tinygan import cli
from tinygan.runs import tensorboard
from tinygan.runs.tensorboard import EventWriter, TensorBoardLog, TensorBoardMissing

needs_tensorboardx = pytest.mark.skipif(importlib.util.find_spec("tensorboardX") is None,
                                        reason="tensorboardX is not installed (pip install 'tinygan[test]')")
HINT = "pip install 'tinygan[tensorboard]'"


def test_png_header_reads_size_and_rejects_other_files():
    assert tensorboard.png_header(_png(7, 5, "RGBA")) == (7, 5, 4)
    assert tensorboard.png_header(_png(6, 2, "RGB")) == (6, 2, 3)
    assert tensorboard.png_header(_png(3, 9, "L")) == (3, 9, 1)
    with pytest.raises(ValueError, match="not a PNG"):
        tensorboard.png_header(b"GIF89a" + bytes(40))


@needs_tensorboardx
def test_each_writer_gets_its_own_file_named_as_tensorboard_expects(tmp_path):
    with EventWriter(tmp_path) as first, EventWriter(tmp_path) as second:
        pass
    pattern = rf"events\.out\.tfevents\.\d+\.{re.escape(socket.gethostname())}\.{os.getpid()}\.\d+\.tinygan"
    assert first.path != second.path
    assert all(re.fullmatch(pattern, path.name) for path in (first.path, second.path))
    assert sorted(tmp_path.iterdir()) == sorted([first.path, second.path])


@pytest.fixture(scope="module")
def read_events():
    """Load an event file with TensorBoard's EventAccumulator, keeping every event (imported once: it is slow)."""
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

    def read(path):
        guidance = {accumulator.SCALARS: 0, accumulator.IMAGES: 0}
        return accumulator.EventAccumulator(str(path), size_guidance=guidance).Reload()

    return read


@needs_tensorboardx
def test_scalars_read_back_exactly_as_float32(tmp_path, read_events):
    values = [0.1, -2.5e-8, math.nan, math.inf, 1e40, 123456.789]
    steps = [0, 1, 10, 2**40, 2**40 + 1, 2**62]
    with EventWriter(tmp_path) as writer:
        for step, value in zip(steps, values, strict=True):
            writer.scalar("loss/d", value, step)
        writer.scalars({"a": 1.0, "b/c": -1.0}, 5)
    events = read_events(writer.path)
    assert sorted(events.Tags()["scalars"]) == ["a", "b/c", "loss/d"]
    read = events.Scalars("loss/d")
    assert [event.step for event in read] == steps
    np.testing.assert_array_equal([event.value for event in read], np.array(values[:4] + [math.inf, values[5]],
                                                                            dtype=np.float32))
    assert [(event.step, event.value) for event in events.Scalars("b/c")] == [(5, -1.0)]


@needs_tensorboardx
def test_image_reads_back_byte_for_byte(tmp_path, read_events):
    png = _png(7, 5, "RGBA")
    with EventWriter(tmp_path) as writer:
        writer.image("picture", png, 3)
    [image] = read_events(writer.path).Images("picture")
    assert (image.step, image.width, image.height, image.encoded_image_string) == (3, 7, 5, png)


@needs_tensorboardx
def test_log_writes_history_columns_and_pictures(tmp_path, read_events):
    rows = [{"step": 0, "loss_d": 1.5, "loss_g": 0.5, "wasserstein": math.nan, "mode": "x", "stopped": False},
            {"step": 10, "loss_d": np.float32(1.25), "loss_g": 0.75, "wasserstein": np.float64(0.25)},
            {"step": 20, "mode": "y"}]  # no numeric column: no event
    png = _png(4, 2, "RGB")
    with TensorBoardLog(tmp_path) as log:
        log.rows(rows)
        log.rows([])
        log.picture(10, png)
    events = read_events(log.writer.path)
    assert sorted(events.Tags()["scalars"]) == ["loss/d", "loss/g", "metric/wasserstein"]
    assert [(e.step, e.value) for e in events.Scalars("loss/d")] == [(0, 1.5), (10, 1.25)]
    assert [(e.step, e.value) for e in events.Scalars("loss/g")] == [(0, 0.5), (10, 0.75)]
    wasserstein = events.Scalars("metric/wasserstein")
    assert math.isnan(wasserstein[0].value) and (wasserstein[1].step, wasserstein[1].value) == (10, 0.25)
    assert [(e.step, e.encoded_image_string) for e in events.Images(tensorboard.PICTURE_TAG)] == [(10, png)]
    assert [(e.step, e.wall_time > 0) for e in events.Scalars("loss/g")] == [(0, True), (10, True)]


@needs_tensorboardx
def test_file_reads_while_open_and_after_a_cut(tmp_path, read_events):
    writer = EventWriter(tmp_path, flush_seconds=0)  # every call flushed
    writer.scalar("x", 1.0, 1)
    assert [e.step for e in read_events(writer.path).Scalars("x")] == [1]  # readable while training runs
    writer.scalar("x", 2.0, 2)
    assert [e.step for e in read_events(writer.path).Scalars("x")] == [1, 2]
    writer.image("picture", _png(6, 6, "RGB"), 3)
    writer.close()
    writer.close()  # a second close does nothing
    whole = writer.path.read_bytes()
    cut = tmp_path / "cut" / writer.path.name
    cut.parent.mkdir()
    cut.write_bytes(whole[:-20])  # inside the last record, the image
    events = read_events(cut)
    assert [(e.step, e.value) for e in events.Scalars("x")] == [(1, 1.0), (2, 2.0)]
    assert "picture" not in events.Tags()["images"]


@needs_tensorboardx
def test_the_first_call_flushes_and_later_ones_at_most_once_in_flush_seconds(tmp_path, read_events):
    writer = EventWriter(tmp_path, flush_seconds=math.inf)
    writer.scalar("x", 1.0, 1)
    writer.scalar("x", 2.0, 2)
    assert [e.step for e in read_events(writer.path).Scalars("x")] == [1]
    writer.flush()
    assert [e.step for e in read_events(writer.path).Scalars("x")] == [1, 2]
    writer.close()


@needs_tensorboardx
def test_an_interrupted_run_leaves_every_event_on_disk(tmp_path, read_events):
    png = _png(4, 4, "RGBA")
    with pytest.raises(KeyboardInterrupt), TensorBoardLog(tmp_path) as log:
        log.writer.flush_seconds = math.inf  # nothing flushed after the first call, but by closing
        log.rows([{"step": 0, "loss_d": 1.0}])
        log.rows([{"step": 10, "loss_d": 2.0}])
        log.picture(10, png)
        raise KeyboardInterrupt
    events = read_events(log.writer.path)
    assert [(e.step, e.value) for e in events.Scalars("loss/d")] == [(0, 1.0), (10, 2.0)]
    assert [(e.step, e.encoded_image_string) for e in events.Images(tensorboard.PICTURE_TAG)] == [(10, png)]


@pytest.fixture
def without_tensorboardx(monkeypatch):
    """tensorboardX as if not installed: importing it raises ImportError."""
    monkeypatch.setitem(sys.modules, "tensorboardX", None)


def test_without_tensorboardx_the_error_is_one_line_naming_the_extra(tmp_path, without_tensorboardx):
    with pytest.raises(TensorBoardMissing) as error:
        tensorboard.require_tensorboardx()
    message = str(error.value)
    assert "\n" not in message and "tensorboardX" in message and message.endswith(HINT)
    with pytest.raises(TensorBoardMissing, match=re.escape(HINT)):
        TensorBoardLog(tmp_path / "tensorboard")
    assert not (tmp_path / "tensorboard").exists()


TRAIN = ["train", "--num-steps", "20", "--log-every", "10", "--pretrain-steps", "0", "--tensorboard"]


def test_train_with_tensorboard_but_without_tensorboardx_exits_2_in_one_line(tmp_path, capsys,
                                                                            without_tensorboardx):
    assert cli.main([*TRAIN, "--out", str(tmp_path / "run")]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tinygan: error: ") and err.rstrip().endswith(HINT)


def test_train_with_tensorboard_but_without_tensorboardx_writes_nothing(tmp_path, capsys, without_tensorboardx):
    assert cli.main([*TRAIN, "--out", str(tmp_path / "run")]) == cli.EXIT_USAGE
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "run").exists()


@needs_tensorboardx
def test_resume_of_a_tensorboard_run_without_tensorboardx_changes_nothing(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "run"
    assert cli.main([*TRAIN, "--out", str(folder), "--quiet", "--no-plots"]) == 0
    before = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    capsys.readouterr()
    assert cli.main(["resume", str(folder), "--num-steps", "30", "--quiet"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.rstrip().endswith(HINT)
    assert {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()} == before


def _png(width: int, height: int, mode: str) -> bytes:
    """A small PNG of random pixels, so its bytes are not trivially compressible."""
    channels = len(mode)
    pixels = np.random.default_rng(width * height).integers(0, 256, (height, width, channels), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(buffer, format="PNG")  # mode from the shape
    return buffer.getvalue()
