"""Writing and reading tinygan's small files: whole or not at all (write_atomic), JSON without NaN."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

from tinygan.errors import RunError


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename it into place."""
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with open(temporary, "wb") as file:
            file.write(data.encode() if isinstance(data, str) else data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:  # a full disk, a lost permission: one line, and `path` as it was
        raise RunError(f"cannot write {path}: {error.strerror or error}") from error
    finally:
        temporary.unlink(missing_ok=True)


def finite_or_none(value):
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(value) -> str:
    return json.dumps(finite_or_none(value), indent=2, allow_nan=False) + "\n"


def regular_file(path: Path) -> Path:
    """`path` if it is a regular file (links followed), else RunError in one line: a pipe or a device in its place
    would block a read, or never end it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise RunError(f"{path}: missing") from None
    except OSError as error:
        raise RunError(f"{path}: cannot be read ({error.strerror or error})") from None
    if not stat.S_ISREG(mode):
        raise RunError(f"{path}: not a regular file")
    return path


def read_json(path: Path) -> dict:
    """A JSON object from one of tinygan's files, or RunError in one line."""
    try:
        value = json.loads(regular_file(path).read_text())
    except FileNotFoundError:
        raise RunError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunError(f"{path}: cannot be read ({error})") from None
    except RecursionError:  # nested deeper than Python's stack: no file of tinygan's is
        raise RunError(f"{path}: cannot be read (nested too deeply)") from None
    if not isinstance(value, dict):
        raise RunError(f"{path}: not a JSON object")
    return value
