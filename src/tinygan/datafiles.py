"""Loading samples from a data file: a CSV (header optional) or a .npy array, checked row by row.

Every problem is one line naming the file and, where it has one, the line
and column: a user's data never ends in a traceback.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tinygan.config import ConfigError


class DataError(ConfigError):
    """A target's data or parameters are unusable: reported like a bad setting, before training."""


MISSING = {"", "na", "n/a", "nan", "null", "none"}


def load_table(path: str, columns: str = "") -> np.ndarray:
    """Samples from a CSV (header optional) or .npy file, as (rows, columns) float64, columns picked.

    `columns`: comma-separated 0-based indices or header names ('' keeps all). Every problem is a one-line
    DataError: a missing file, no rows, ragged rows, a non-numeric cell (line and column), too few columns,
    and rows with missing or non-finite values (their line numbers).
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"data.target: no file {path!r}")
    if file.suffix == ".npy":
        return _load_npy(file, columns)
    with open(file, newline="") as handle:
        rows = [(line, [cell.strip() for cell in cells]) for line, cells in _numbered(csv.reader(handle))]
    if rows and all(not _is_number(cell) for cell in rows[0][1]):
        header, rows = rows[0][1], rows[1:]
    else:
        header = None
    if not rows:
        raise DataError(f"data.target: {path} holds no data rows")
    width = len(header or rows[0][1])
    for line, cells in rows:
        if len(cells) != width:
            raise DataError(f"data.target: {path} line {line} has {len(cells)} cells, expected {width}")
    picked = _pick_columns(columns, width, header, path)
    table = np.empty((len(rows), len(picked)))
    for i, (line, cells) in enumerate(rows):
        for j, column in enumerate(picked):
            cell = cells[column]
            if not _is_number(cell) and cell.lower() not in MISSING:
                raise DataError(f"data.target: {path} line {line}, column {column}: {cell!r} is not a number")
            table[i, j] = float(cell) if _is_number(cell) else np.nan
    return _refuse_non_finite(table, [line for line, _ in rows], "line", path)


def _numbered(reader):
    """(line number, cells) of the non-blank records; the line where each record starts."""
    line = 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            yield line, cells
        line = reader.line_num + 1


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return cell.strip().lower() not in MISSING


def _pick_columns(columns: str, width: int, header: list[str] | None, path: str) -> list[int]:
    picked = []
    for name in filter(None, (piece.strip() for piece in columns.split(","))):
        if name.isdigit():
            index = int(name)
        elif header is not None and name in header:
            index = header.index(name)
        else:
            where = f"its header has {', '.join(header)}" if header else "it has no header"
            raise DataError(f"data.columns: no column {name!r} in {path} ({where})")
        if index >= width:
            raise DataError(f"data.columns: {path} has {width} columns (0 to {width - 1}), asked for column {index}")
        picked.append(index)
    return picked or list(range(width))


def _load_npy(file: Path, columns: str) -> np.ndarray:
    try:
        array = np.load(file, allow_pickle=False)
    except ValueError as error:
        raise DataError(f"data.target: {file} is not a numeric .npy array ({error})") from None
    if not np.issubdtype(array.dtype, np.number) or array.ndim not in (1, 2):
        raise DataError(f"data.target: {file} must hold a 1-D or 2-D numeric array, got {array.dtype} {array.shape}")
    table = np.asarray(array, np.float64).reshape(len(array), -1)  # (rows, columns)
    if not table.size:
        raise DataError(f"data.target: {file} holds no data rows")
    table = table[:, _pick_columns(columns, table.shape[1], None, str(file))]
    return _refuse_non_finite(table, list(range(len(table))), "row", str(file))


def _refuse_non_finite(table: np.ndarray, numbers: list[int], kind: str, path: str, shown: int = 5) -> np.ndarray:
    bad = [numbers[i] for i in np.flatnonzero(~np.isfinite(table).all(axis=1))]
    if bad:
        more = f" and {len(bad) - shown} more" if len(bad) > shown else ""
        raise DataError(f"data.target: {path} has missing or non-finite values at {kind}s "
                        f"{', '.join(map(str, bad[:shown]))}{more}")
    return table
