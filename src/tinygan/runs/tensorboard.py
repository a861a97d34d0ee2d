"""TensorBoard event files through tensorboardX, an optional extra: pip install 'tinygan[tensorboard]'.

tensorboardX encodes the Event protobufs and frames them as TFRecords (with their CRC-32C); this module says
what goes in them: a history row's numeric columns as scalars (loss/d, loss/g, metric/<name>), one event per
row, and the distribution picture's PNG bytes as an image, stored as they are. Writing is synchronous (its
`EventsWriter`, not `SummaryWriter`, whose background thread holds events back until it next flushes), so
a batch is in the file when the call returns; importing this module does not import tensorboardX.
"""

from __future__ import annotations

import io
import itertools
import math
import numbers
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from tinygan.config import ConfigError

INSTALL_HINT = "pip install 'tinygan[tensorboard]'"
LOSS_TAGS = {"loss_d": "loss/d", "loss_g": "loss/g"}  # history columns -> tags; other columns go to metric/<name>
PICTURE_TAG = "distribution"
FLUSH_SECONDS = 1.0  # a writer flushes (and fsyncs) at most this often while writing, and always on closing

_SERIAL = itertools.count(1)  # with the process id: each writer's own file, however many open in one second


class TensorBoardMissing(ConfigError):
    """tensorboardX is not installed: reported in one line naming the extra to install, like a bad setting."""


def require_tensorboardx() -> None:
    """Raise TensorBoardMissing unless tensorboardX can be imported; call it before a run writes anything."""
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        raise TensorBoardMissing(f"--tensorboard needs tensorboardX, which is not installed: {INSTALL_HINT}") from None


def row_scalars(row: Mapping[str, object]) -> dict[str, float]:
    """A history row's numeric columns by tag: loss_d -> loss/d, loss_g -> loss/g, any other -> metric/<name>."""
    return {LOSS_TAGS.get(name, f"metric/{name}"): float(value) for name, value in row.items()
            if name != "step" and isinstance(value, numbers.Real) and not isinstance(value, bool)}


# Pillow's image modes -> Summary.Image colorspace: grey, grey + alpha, RGB (a palette shows as RGB), RGBA.
_COLORSPACES = {"1": 1, "L": 1, "I": 1, "I;16": 1, "I;16B": 1, "LA": 2, "RGB": 3, "P": 3, "RGBA": 4, "PA": 4}


def png_header(png: bytes) -> tuple[int, int, int]:
    """(width, height, Summary.Image colorspace) of a PNG file, read by Pillow from its header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
            size, mode = image.size, image.mode
    except UnidentifiedImageError:
        raise ValueError("not a PNG file") from None
    if mode not in _COLORSPACES:
        raise ValueError(f"a PNG file of image mode {mode}, which TensorBoard's images do not take")
    return size[0], size[1], _COLORSPACES[mode]


class EventWriter:
    """Appends events to a new event file in `folder`, named as TensorBoard's writers name theirs
    (events.out.tfevents.<time>.<host>.<pid>.<serial>.tinygan).

    Each call writes its events at once; the file is flushed after a call when `flush_seconds` have passed
    since the last flush (the first call flushes), and on `flush` and `close`, so TensorBoard reads it while it
    grows. A process killed between flushes leaves whole records only up to a point (a reader skips a cut-off
    last one); a run stopped by Ctrl-C or an error closes the writer, so everything is on disk.
    """

    def __init__(self, folder: str | os.PathLike, flush_seconds: float = FLUSH_SECONDS):
        require_tensorboardx()
        from tensorboardX.event_file_writer import EventsWriter

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        suffix = f".{os.getpid()}.{next(_SERIAL)}.tinygan"
        self._events = EventsWriter(str(folder / "events"), suffix)  # the file and its file_version event
        [self.path] = folder.glob(f"events.out.tfevents.*{suffix}")
        self.flush_seconds = flush_seconds
        self._flushed = -math.inf
        self._closed = False

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars({tag: value}, step)

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        """Several tags at one step, in one event (float32, as TensorBoard keeps scalars; NaN stays NaN)."""
        self.write_rows([(step, values)])

    def write_rows(self, rows: list[tuple[int, Mapping[str, float]]]) -> None:
        """(step, {tag: value}) pairs, an event each, written as one batch."""
        from tensorboardX.proto.summary_pb2 import Summary

        now = time.time()
        self._write([(step, now, Summary(value=[Summary.Value(tag=tag, simple_value=float(value))
                                                for tag, value in values.items()]))
                     for step, values in rows])

    def image(self, tag: str, png: bytes, step: int) -> None:
        """A PNG file's bytes, stored as they are (TensorBoard shows them byte for byte); its size from its header."""
        from tensorboardX.proto.summary_pb2 import Summary

        width, height, colorspace = png_header(png)
        image = Summary.Image(height=height, width=width, colorspace=colorspace, encoded_image_string=png)
        self._write([(step, time.time(), Summary(value=[Summary.Value(tag=tag, image=image)]))])

    def _write(self, summaries) -> None:
        from tensorboardX.proto.event_pb2 import Event

        for step, wall_time, summary in summaries:
            self._events.write_event(Event(wall_time=wall_time, step=int(step), summary=summary))
        if time.monotonic() - self._flushed >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Everything written so far onto the disk (tensorboardX flushes and fsyncs the file)."""
        if not self._closed:
            self._events.flush()
            self._flushed = time.monotonic()

    def close(self) -> None:
        """Flush and close; closing again does nothing."""
        if not self._closed:
            self._events.close()
            self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class TensorBoardLog:
    """A run's history rows as scalars and its pictures as images, in one event file in `folder`.

    Raises TensorBoardMissing when tensorboardX is not installed; `require_tensorboardx` says so sooner."""

    def __init__(self, folder: str | os.PathLike):
        self.writer = EventWriter(folder)

    def rows(self, rows: list[dict]) -> None:
        """History rows (dicts with "step", "loss_d", "loss_g" and metric columns), one event per row."""
        self.writer.write_rows([(int(row["step"]), values) for row in rows if (values := row_scalars(row))])

    def picture(self, step: int, png: bytes) -> None:
        self.writer.image(PICTURE_TAG, png, step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
