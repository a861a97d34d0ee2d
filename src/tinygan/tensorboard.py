"""TensorBoard event files written with no dependency: hand-encoded protobuf inside TFRecord framing.

An event file is a run of records, each `length | CRC of length | Event message | CRC of message`; TensorBoard
reads every file in a folder whose name contains "tfevents". Only the protobuf fields that scalars and images
need are encoded (tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto).
"""

from __future__ import annotations

import numbers
import os
import socket
import struct
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Self

import numpy as np

FILE_VERSION = b"brain.Event:2"  # the first record of every event file
LOSS_TAGS = {"loss_d": "loss/d", "loss_g": "loss/g"}  # history columns -> tags; other columns go to metric/<name>
PICTURE_TAG = "distribution"

# CRC-32C (Castagnoli), reflected polynomial; TFRecord's checksum, unlike zlib's CRC-32.
_CASTAGNOLI = 0x82F63B78
_MASK_DELTA = 0xA282EAD8  # TFRecord masks each CRC: a CRC of data that itself holds CRCs is then no weaker


def _crc32c_table() -> tuple[int, ...]:
    """The CRC of each single byte, so the main loop takes a byte per table look-up instead of 8 shifts."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (_CASTAGNOLI if crc & 1 else 0)
        table.append(crc)
    return tuple(table)


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C of data (RFC 3720, appendix B.4): crc32c(b"123456789") == 0xE3069283."""
    table, crc = _CRC32C_TABLE, 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The CRC as TFRecord stores it: rotated right by 15 bits, plus a constant, modulo 2**32."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def tfrecord(data: bytes) -> bytes:
    """One TFRecord: uint64 length, its masked CRC, the data, its masked CRC (all little-endian)."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


# Protobuf wire format: each field is a varint key (field number << 3 | wire type), then its value.
_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


def _varint(value: int) -> bytes:
    """Base-128, least significant group first; a negative int64 as its two's complement (ten bytes)."""
    value &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _int_field(field: int, value: int) -> bytes:
    return _key(field, _VARINT) + _varint(int(value))


def _bytes_field(field: int, data: bytes) -> bytes:
    return _key(field, _LENGTH_DELIMITED) + _varint(len(data)) + data


def _double_field(field: int, value: float) -> bytes:
    return _key(field, _FIXED64) + struct.pack("<d", value)


def _float_field(field: int, value: float) -> bytes:
    with np.errstate(over="ignore"):  # beyond float32's range is +-inf, as TensorFlow would store it
        return _key(field, _FIXED32) + struct.pack("<f", np.float32(value))


def _event(wall_time: float, step: int, *fields: bytes) -> bytes:
    """Event: wall_time = 1 (double), step = 2 (int64), then file_version = 3 or summary = 5."""
    return _double_field(1, wall_time) + _int_field(2, step) + b"".join(fields)


def _summary(*values: bytes) -> bytes:
    """Event.summary = 5 holding Summary.value = 1 (repeated Summary.Value)."""
    return _bytes_field(5, b"".join(_bytes_field(1, value) for value in values))


def scalars_event(values: Mapping[str, float], step: int, wall_time: float) -> bytes:
    """An Event with one Summary.Value per tag: tag = 1, simple_value = 2 (float32; NaN stays NaN)."""
    return _event(wall_time, step, _summary(*(_bytes_field(1, tag.encode()) + _float_field(2, value)
                                               for tag, value in values.items())))


def image_event(tag: str, png: bytes, step: int, wall_time: float) -> bytes:
    """An Event with one Summary.Value: tag = 1, image = 4 (height = 1, width = 2, colorspace = 3, PNG bytes = 4)."""
    width, height, colorspace = png_header(png)
    image = _int_field(1, height) + _int_field(2, width) + _int_field(3, colorspace) + _bytes_field(4, png)
    return _event(wall_time, step, _summary(_bytes_field(1, tag.encode()) + _bytes_field(4, image)))


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLORSPACES = {0: 1, 4: 2, 2: 3, 3: 3, 6: 4}  # PNG colour type -> grey, grey+alpha, RGB, palette as RGB, RGBA


def png_header(png: bytes) -> tuple[int, int, int]:
    """(width, height, Summary.Image colorspace) from the IHDR chunk, which a PNG file must start with."""
    if len(png) < 26 or png[:8] != _PNG_SIGNATURE or png[12:16] != b"IHDR":
        raise ValueError("not a PNG file: no PNG signature followed by an IHDR chunk")
    width, height, _bit_depth, colour_type = struct.unpack(">IIBB", png[16:26])
    if colour_type not in _COLORSPACES:
        raise ValueError(f"not a PNG file: unknown colour type {colour_type}")
    return width, height, _COLORSPACES[colour_type]


def _create_event_file(folder: Path):
    """A new file named as TensorBoard's writers name theirs; a counter only if this second's name is taken."""
    stem = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}"
    for counter in range(1000):
        name = f"{stem}.tinygan" if counter == 0 else f"{stem}.{counter}.tinygan"
        try:
            return open(folder / name, "xb")
        except FileExistsError:
            continue
    raise FileExistsError(f"no free event file name {stem}.*.tinygan in {folder}")


class EventWriter:
    """Appends events to a new event file in `folder`.

    Every call frames its records, writes them with one write call and flushes, so TensorBoard reads the file
    while it grows, and a crash between calls leaves only whole records (a reader skips a cut-off last one).
    """

    def __init__(self, folder: str | os.PathLike):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._file = _create_event_file(folder)
        self.path = Path(self._file.name)
        self.write_events([_event(time.time(), 0, _bytes_field(3, FILE_VERSION))])

    def write_events(self, events: Iterable[bytes]) -> None:
        """Encoded Event messages, framed and written as one batch."""
        self._file.write(b"".join(tfrecord(event) for event in events))
        self._file.flush()

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars({tag: value}, step)

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        """Several tags at one step, in one event."""
        self.write_events([scalars_event(values, step, time.time())])

    def image(self, tag: str, png: bytes, step: int) -> None:
        """A PNG file's bytes, shown as they are; its size comes from its header."""
        self.write_events([image_event(tag, png, step, time.time())])

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def row_scalars(row: Mapping[str, object]) -> dict[str, float]:
    """A history row's numeric columns by tag: loss_d -> loss/d, loss_g -> loss/g, any other -> metric/<name>."""
    return {LOSS_TAGS.get(name, f"metric/{name}"): float(value) for name, value in row.items()
            if name != "step" and isinstance(value, numbers.Real) and not isinstance(value, bool)}


class TensorBoardLog:
    """A run's history rows as scalars and its pictures as images, in one event file in `folder`."""

    def __init__(self, folder: str | os.PathLike):
        self.writer = EventWriter(folder)

    def rows(self, rows: list[dict]) -> None:
        """History rows (dicts with "step", "loss_d", "loss_g" and metric columns), one event per row."""
        now = time.time()
        events = [scalars_event(values, int(row["step"]), now) for row in rows if (values := row_scalars(row))]
        self.writer.write_events(events)

    def picture(self, step: int, png: bytes) -> None:
        self.writer.image(PICTURE_TAG, png, step)

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
