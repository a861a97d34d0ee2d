"""TensorBoard event files: CRC-32C golden values, and every file read back by TensorBoard's own reader."""

import io
import math
import os
import re
import socket

import numpy as np
import pytest
from PIL import Image

from tinygan import tensorboard
from tinygan.tensorboard import EventWriter, TensorBoardLog, crc32c


def test_crc32c_matches_published_check_values():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC catalogue's check value for CRC-32/ISCSI
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720, appendix B.4
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E


def test_crc32c_matches_the_crc32c_package():
    reference = pytest.importorskip("crc32c")
    data = np.random.default_rng(0).bytes(10_000)
    for length in (1, 7, 255, 10_000):
        assert crc32c(data[:length]) == reference.crc32c(data[:length])


def test_png_header_reads_size_and_rejects_other_files():
    assert tensorboard.png_header(_png(7, 5, "RGBA")) == (7, 5, 4)
    assert tensorboard.png_header(_png(3, 9, "L")) == (3, 9, 1)
    with pytest.raises(ValueError, match="not a PNG"):
        tensorboard.png_header(b"GIF89a" + bytes(40))


def test_each_writer_gets_its_own_file_named_as_tensorboard_expects(tmp_path):
    with EventWriter(tmp_path) as first, EventWriter(tmp_path) as second:
        pass
    pattern = rf"events\.out\.tfevents\.\d+\.{re.escape(socket.gethostname())}\.{os.getpid()}(\.1)?\.tinygan"
    assert first.path != second.path
    assert all(re.fullmatch(pattern, path.name) for path in (first.path, second.path))


@pytest.fixture(scope="module")
def read_events():
    """Load an event file with TensorBoard's EventAccumulator, keeping every event (imported once: it is slow)."""
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

    def read(path):
        guidance = {accumulator.SCALARS: 0, accumulator.IMAGES: 0}
        return accumulator.EventAccumulator(str(path), size_guidance=guidance).Reload()

    return read


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


def test_image_reads_back_byte_for_byte(tmp_path, read_events):
    png = _png(7, 5, "RGBA")
    with EventWriter(tmp_path) as writer:
        writer.image("picture", png, 3)
    [image] = read_events(writer.path).Images("picture")
    assert (image.step, image.width, image.height, image.encoded_image_string) == (3, 7, 5, png)


def test_log_writes_history_columns_and_pictures(tmp_path, read_events):
    rows = [{"step": 0, "loss_d": 1.5, "loss_g": 0.5, "wasserstein": math.nan, "mode": "x", "stopped": False},
            {"step": 10, "loss_d": np.float32(1.25), "loss_g": 0.75, "wasserstein": np.float64(0.25)}]
    png = _png(4, 2, "RGB")
    with TensorBoardLog(tmp_path) as log:
        log.rows(rows)
        log.picture(10, png)
    events = read_events(log.writer.path)
    assert sorted(events.Tags()["scalars"]) == ["loss/d", "loss/g", "metric/wasserstein"]
    assert [(e.step, e.value) for e in events.Scalars("loss/d")] == [(0, 1.5), (10, 1.25)]
    assert [(e.step, e.value) for e in events.Scalars("loss/g")] == [(0, 0.5), (10, 0.75)]
    wasserstein = events.Scalars("metric/wasserstein")
    assert math.isnan(wasserstein[0].value) and (wasserstein[1].step, wasserstein[1].value) == (10, 0.25)
    assert [(e.step, e.encoded_image_string) for e in events.Images(tensorboard.PICTURE_TAG)] == [(10, png)]


def test_file_reads_while_open_and_after_a_cut(tmp_path, read_events):
    writer = EventWriter(tmp_path)
    writer.scalar("x", 1.0, 1)
    assert [e.step for e in read_events(writer.path).Scalars("x")] == [1]  # flushed: readable while training runs
    writer.scalar("x", 2.0, 2)
    writer.image("picture", _png(6, 6, "RGB"), 3)
    writer.close()
    whole = writer.path.read_bytes()
    cut = tmp_path / "cut" / writer.path.name
    cut.parent.mkdir()
    cut.write_bytes(whole[:-20])  # inside the last record, the image
    events = read_events(cut)
    assert [(e.step, e.value) for e in events.Scalars("x")] == [(1, 1.0), (2, 2.0)]
    assert "picture" not in events.Tags()["images"]


def _png(width: int, height: int, mode: str) -> bytes:
    """A small PNG of random pixels, so its bytes are not trivially compressible."""
    channels = len(mode)
    pixels = np.random.default_rng(width * height).integers(0, 256, (height, width, channels), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(buffer, format="PNG")  # mode from the shape
    return buffer.getvalue()
