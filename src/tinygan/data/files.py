"""Loading samples from a data file: a text table or a .npy array, checked row by row.

A text table is a CSV, or cells split by tabs, semicolons, pipes or runs of whitespace (`sniff` tells which,
and a decimal comma where commas do not split the cells), with a header or not; lines that start with '#' are
comments, and the last one before the rows names the columns when it fits them (numpy.savetxt's header).

Every problem is one line naming the file and, where it has one, the line
and column: a user's data never ends in a traceback.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
import struct
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.lib import format as npy_format

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
    return read_table(path, columns)[0]


def default_names(width: int) -> tuple[str, ...]:
    """Names of columns a file does not name: x; x, y; or x1 ... xd (as `tinygan sample` writes them)."""
    return {1: ("x",), 2: ("x", "y")}.get(width, tuple(f"x{i + 1}" for i in range(width)))


class Table(NamedTuple):
    """A data file as read: the numbers (rows, columns), the columns' names, and the text columns left out."""

    data: np.ndarray
    names: tuple[str, ...]
    left_out: tuple[str, ...] = ()  # with no columns picked: columns of words only, a row index; each with why


def read_table(path: str, columns: str = "") -> Table:
    """`load_table`'s table and the names of its columns: the header's, else `default_names`. With no `columns`
    picked, a column that holds words only, and a row index (pandas'), are left out and said in `left_out`."""
    file = Path(path)
    if not file.is_file():  # nor a pipe or device: reading one could block or never end
        if file.exists():
            what = "a folder, not a file" if file.is_dir() else "not a regular file (a pipe or device)"
            raise DataError(f"data.target: {path} is {what}")
        raise DataError(f"data.target: no file {path!r}")
    try:
        large = file.stat().st_size > FAST_BYTES and file.suffix.lower() != ".npy"
        if large and (fast := _clean_csv(file, columns, path)) is not None:
            return fast
        data = file.read_bytes()
    except OSError as error:
        raise DataError(f"data.target: {path} cannot be read ({error.strerror})") from None
    if file.suffix.lower() == ".npy":
        table = _load_npy(data, columns, path)
        return Table(table, default_names(table.shape[1]))
    rows, comments, dialect = _csv_rows(data, path)
    header = _header(rows[0][1], dialect) if rows else None
    if header is not None:
        rows = rows[1:]
    elif rows:
        header = _commented_header(comments, dialect, len(rows[0][1]))
    if not rows:
        raise DataError(f"data.target: {path} holds no data rows")
    width = len(header or rows[0][1])
    for line, cells in rows:
        if len(cells) != width:
            raise DataError(f"data.target: {path} line {line} has {len(cells)} {_plural(len(cells), 'cell')}, "
                            f"expected {width}")
    picked = _pick_columns(columns, width, header, path)
    words = [] if columns.strip() else [column for column in picked if _all_words(rows, column)]
    if len(words) < len(picked):  # words everywhere: the first cell is refused below, by its line
        picked = [column for column in picked if column not in words]
    else:
        words = []
    table = np.empty((len(rows), len(picked)))
    for i, (line, cells) in enumerate(rows):
        for j, column in enumerate(picked):
            cell = cells[column].replace(",", ".") if dialect.decimal_comma else cells[column]
            if dialect.decimal_comma and "." in cells[column]:  # 1.234 beside 0,5: a thousands mark, or a slip
                raise DataError(f"data.target: {path} line {line}, column {column}: {cells[column]!r} has a decimal "
                                "point in a table written with decimal commas")
            if not _is_number(cell) and cell.lower() not in MISSING:
                named = f" ({header[column]!r})" if header else ""
                pick = " (pick the numeric columns with --columns)" if len(picked) > 1 and not columns else ""
                raise DataError(f"data.target: {path} line {line}, column {column}{named}: {cells[column]!r} is "
                                f"not a number{pick}")
            table[i, j] = float(cell) if _is_number(cell) else np.nan
    names = tuple(header[column] for column in picked) if header else default_names(len(picked))
    named = [repr(header[column]) if header else f"column {column}" for column in words]
    left_out = tuple(f"{name} (words, not numbers)" for name in named)
    return _without_index(Table(_refuse_non_finite(table, [line for line, _ in rows], "line", path), names, left_out),
                          picked, columns)


INDEX_NAMES = re.compile(r"|Unnamed: 0|index")  # pandas' to_csv names its index column so, or not at all


def _without_index(table: Table, picked: list[int], columns: str) -> Table:
    """The table without a first column that numbers its rows (0, 1, 2, ... or 1, 2, 3, ...) under no name or
    pandas' name for it: `DataFrame.to_csv` writes one unless told not to, and it is not data to learn."""
    data, names = table.data, table.names
    if columns.strip() or picked[:1] != [0] or data.shape[1] < 2 or not INDEX_NAMES.fullmatch(names[0]):
        return table
    counting = np.arange(len(data))
    if not (np.array_equal(data[:, 0], counting) or np.array_equal(data[:, 0], counting + 1)):
        return table
    return Table(data[:, 1:], names[1:], (f"column 0, {names[0]!r} (a row index)", *table.left_out))


def _all_words(rows: list[tuple[int, list[str]]], column: int) -> bool:
    """Whether a column holds words only (missing markers aside), as a label or a category does: every other
    cell has a letter (a cell such as '2;3' is a misread number, refused by its line)."""
    cells = [cells[column] for _, cells in rows if cells[column].lower() not in MISSING]
    return bool(cells) and all(any(char.isalpha() for char in cell) and not _is_number(cell) for cell in cells)


def _commented_header(comments: list[str], dialect: Dialect, width: int) -> list[str] | None:
    """numpy.savetxt's header: the last comment line before the rows ('# a,b'), when it names every column."""
    if not comments:
        return None
    try:
        named = _split([comments[-1].lstrip().removeprefix("#").strip()], dialect)[0]
    except (csv.Error, IndexError):
        return None
    return named if len(named) == width and _header(named, dialect) else None


def _header(cells: list[str], dialect: Dialect) -> list[str] | None:
    """The first record as a header when it is words; one of only missing markers is data ('0,5' is a number
    with a decimal comma)."""
    numbers = [cell.replace(",", ".") if dialect.decimal_comma else cell for cell in cells]
    if all(not _is_number(cell) for cell in numbers) and any(cell.lower() not in MISSING for cell in cells):
        return cells
    return None


FAST_BYTES = 1 << 20  # CSV files larger than this are first read by numpy's parser, in C


def _clean_csv(file: Path, columns: str, path: str) -> Table | None:
    """A large CSV streamed through `numpy.loadtxt`, the same table the careful reader gives a clean file, in a
    fraction of the time and memory; None for anything out of the ordinary (a missing or non-numeric cell,
    ragged rows, odd bytes), which the careful reader then reads again and names by line."""
    try:
        with open(file, encoding="utf-8-sig", newline="") as text:
            head = [line for line, _ in zip(text, range(SNIFF_LINES))]
        start = next(i for i, line in enumerate(head) if line.strip() and not _is_comment(line))
        comments = [line for line in head[:start] if _is_comment(line)]
        if any(_is_comment(line) or line.count('"') % 2 for line in head[start:]):
            return None  # comments among the rows, or a quote across lines: the careful reader takes them
        dialect = sniff([line for line in head[start:] if line.strip()])
        if dialect.decimal_comma:
            return None
        first = _split(head[start:start + 1], dialect)[0]
        header = _header(first, dialect)
        named = header or _commented_header(comments, dialect, len(first))
        picked = _pick_columns(columns, len(first), named, path)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns of an empty file: the careful reader says it better
            # Every column read, and no comments: a row of another width or a '#' fails here as in the careful reader
            # (with usecols, loadtxt would drop a row's extra cells; by default it skips what follows a '#').
            quote = '"' if dialect.delimiter else None  # a whitespace table's cells are never quoted
            table = np.loadtxt(file, delimiter=dialect.delimiter, quotechar=quote, dtype=np.float64, ndmin=2,
                               encoding="utf-8-sig", skiprows=start + (1 if header else 0), comments=None)
    except (StopIteration, IndexError, ValueError, UnicodeDecodeError, csv.Error, Warning):
        return None
    if not table.size or table.shape[1] != len(first) or not np.isfinite(table).all():
        return None
    table = table[:, picked]
    names = tuple(named[column] for column in picked) if named else default_names(len(picked))
    return _without_index(Table(table, names), picked, columns)


class Dialect(NamedTuple):
    """How a text table is written: its delimiter (None: runs of whitespace), and whether its decimal mark is a
    comma ('4,5' for 4.5, as spreadsheets write it in much of Europe, with ';' or tabs between cells)."""

    delimiter: str | None = ","
    decimal_comma: bool = False


DELIMITERS = ("\t", ",", ";", "|")  # tried in this order, then runs of whitespace (a tab first: a TSV's cells
# hold commas ('Doe, J', '1,5') far more often than a CSV's hold tabs)
SNIFF_LINES = 100  # the lines that decide the dialect: every one must split into the same number of cells


def sniff(lines: list[str]) -> Dialect:
    """The dialect whose delimiter splits every one of the first SNIFF_LINES data lines (blank and '#' lines
    aside) into the same number of cells, above one: the first of DELIMITERS, then runs of whitespace, that
    does, unless another that does leaves only decimal commas in its cells ('0,5;1,25'). When none does
    (ragged rows), the one that splits the most lines, more than half of them, so that the reader names the
    ragged line; else a comma (one column)."""
    sample, splits = lines[:SNIFF_LINES], {}
    for delimiter in (*DELIMITERS, None):
        try:
            splits[delimiter] = _split(sample, Dialect(delimiter))
        except csv.Error:  # a field past the csv module's limit: the reader names its line
            continue
    even = [delimiter for delimiter, rows in splits.items() if len({len(cells) for cells in rows}) == 1
            and len(rows[0]) > 1]
    for delimiter in even:
        with_commas = [cell for cells in splits[delimiter] for cell in cells  # words aside: 'Doe, J'
                       if "," in cell and not any(char.isalpha() for char in cell)]
        points = any("." in cell and _is_number(cell) for cells in splits[delimiter] for cell in cells)
        decimal = with_commas and all(DECIMAL_COMMA.fullmatch(cell) for cell in with_commas)
        if delimiter != "," and decimal and not points:
            return Dialect(delimiter, decimal_comma=True)
    if even:
        return Dialect(even[0])
    split_lines = {delimiter: sum(len(cells) > 1 for cells in rows) for delimiter, rows in splits.items()}
    most = max(split_lines.values(), default=0)
    tied = [delimiter for delimiter in (",", *DELIMITERS, None) if split_lines.get(delimiter, -1) == most]
    # The ragged lines are the few: a delimiter that splits no more than half the lines is no delimiter ('x\n1\n
    # not a number' is one column with a bad cell); a comma among equals, as before tinygan sniffed.
    return Dialect(tied[0]) if 2 * most > len(sample) else Dialect()


DECIMAL_COMMA = re.compile(r"[-+]?\d*,\d+(?:[eE][-+]?\d+)?")  # '0,5', '-1,25e3': a number with a decimal comma


def _split(lines: list[str], dialect: Dialect) -> list[list[str]]:
    """Each line's stripped cells (a record quoted across lines is not split by `sniff`'s sample)."""
    if dialect.delimiter is None:
        return [line.split() for line in lines]  # any whitespace, as numpy's reader splits
    return [[cell.strip() for cell in cells]
            for cells in csv.reader(lines, delimiter=dialect.delimiter, skipinitialspace=True)]


def _is_comment(line: str) -> bool:
    """A comment line: '#' first, spaces and tabs aside (a '#' in a quoted first cell is data: '"#1",2')."""
    return line.lstrip(" \t").startswith("#")


def _csv_rows(data: bytes, path: str) -> tuple[list[tuple[int, list[str]]], list[str], Dialect]:
    """(line number, stripped cells) of the non-blank records, each numbered by the line where it starts; the
    comment lines ('#' first) before the first record, which are skipped like those after it before the cells
    are parsed (a quote in a comment opens nothing); the dialect."""
    try:
        text = data.decode("utf-8-sig")  # a BOM is not part of the first cell
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DataError(f"data.target: {path} line {line} is not UTF-8 text (byte {data[error.start]:#04x})") from None
    lines = list(io.StringIO(text, newline=""))  # split at \n, \r\n and \r only, as the csv module and numpy do
    comments = [line.strip() for line in itertools.takewhile(lambda line: not line.strip() or _is_comment(line), lines)
                if line.strip()]
    kept = [(number, line) for number, line in enumerate(lines, 1) if not _is_comment(line)]
    dialect = sniff([line for _, line in kept if line.strip()])
    if dialect.delimiter is None:
        return [(number, cells) for number, line in kept if (cells := _split([line], dialect)[0])], comments, dialect
    rows, reader = [], csv.reader((line for _, line in kept), delimiter=dialect.delimiter, skipinitialspace=True)
    numbers, line = [number for number, _ in kept], kept[0][0] if kept else 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((line, [cell.strip() for cell in cells]))
            line = numbers[reader.line_num] if reader.line_num < len(numbers) else len(lines) + 1
    except csv.Error as error:
        raise DataError(f"data.target: {path} line {line}: {error}") from None
    return rows, comments, dialect


def _is_number(cell: str) -> bool:
    """A number as a data file writes one: float() also reads '1_0' as 10 and other scripts' digits, which
    numpy's reader does not (the two readers must agree), and which are more likely a slip than data."""
    if not cell.isascii() or "_" in cell:
        return False
    try:
        float(cell)
    except ValueError:
        return False
    return cell.strip().lower() not in MISSING


def _pick_columns(columns: str, width: int, header: list[str] | None, path: str) -> list[int]:
    picked = []
    for name in filter(None, (piece.strip() for piece in columns.split(","))):
        if name.isdecimal():  # not isdigit: int() refuses superscripts
            index = int(name)
        elif header is not None and name in header:
            index = header.index(name)
        else:
            where = f"its header has {', '.join(map(repr, header))}" if header else "it has no header"
            raise DataError(f"data.columns: no column {name!r} in {path} ({where})")
        if index >= width:
            span = "0" if width == 1 else f"0 to {width - 1}"
            raise DataError(f"data.columns: {path} has {width} {_plural(width, 'column')} ({span}), asked for "
                            f"column {index}")
        picked.append(index)
    return picked or list(range(width))


def _load_npy(data: bytes, columns: str, path: str) -> np.ndarray:
    table = _read_npy(data, path)  # (rows, columns)
    table = table[:, _pick_columns(columns, table.shape[1], None, path)]
    return _refuse_non_finite(table, list(range(len(table))), "row", path)


# What zipfile and numpy's .npy reader raise on damaged bytes, to be turned into one line naming the file.
# Not markers of missing code: zipfile raises NotImplementedError for a compression method it lacks and
# RuntimeError for an encrypted member.
DAMAGED_ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, struct.error, EOFError, OSError, ValueError,
                          OverflowError, NotImplementedError, RuntimeError)


# The longest .npy header read, in characters: numpy's own default, named so that a change there cannot
# quietly let a header of megabytes be parsed. Every header numpy writes (and tinygan's) is far shorter.
NPY_MAX_HEADER = 10_000


def read_npy_header(stream: io.BytesIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    """A .npy file's shape, Fortran order and dtype, read from its header alone (the stream is left at the data):
    how tinygan reads any .npy it did not just write, so nothing is unpickled or allocated first.

    numpy.lib.format's public readers do the parsing; the callers check the dtype and the bytes the shape needs.
    ValueError for no magic, an unknown version (3.0 included), a damaged or overlong header or a negative length.
    """
    version = npy_format.read_magic(stream)
    read_header = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}
    if version not in read_header:
        raise ValueError(f"unsupported .npy version {version[0]}.{version[1]}")
    shape, fortran_order, dtype = read_header[version](stream, max_header_size=NPY_MAX_HEADER)
    if any(length < 0 for length in shape):  # numpy's header check lets these through
        raise ValueError(f"negative shape {shape}")
    return shape, fortran_order, dtype


def _read_npy(data: bytes, path: str) -> np.ndarray:
    """A .npy file's 1-D or 2-D integer or float array as (rows, columns) float64.

    Read by hand rather than by np.load: the dtype and size are checked before any data is read, so an object
    array is never unpickled and a header claiming a huge shape allocates nothing.
    """
    handle = io.BytesIO(data)
    try:
        shape, fortran_order, dtype = read_npy_header(handle)
    except ValueError as error:
        reason = str(error).splitlines()[0] if str(error) else "unreadable header"
        raise DataError(f"data.target: {path} is not a .npy array ({reason})") from None
    if dtype.kind not in "iuf" or len(shape) not in (1, 2):  # signed, unsigned, float: not complex, bool or objects
        raise DataError(f"data.target: {path} must hold a 1-D or 2-D array of numbers, got {dtype} {shape}")
    size = math.prod(shape)
    if not size:
        raise DataError(f"data.target: {path} holds no data rows")
    held = len(data) - handle.tell()
    if held < size * dtype.itemsize:
        raise DataError(f"data.target: {path} is cut short: {shape} {dtype} needs {size * dtype.itemsize} bytes "
                        f"of data, the file holds {held}")
    array = np.frombuffer(data, dtype, size, handle.tell()).reshape(shape, order="F" if fortran_order else "C")
    with np.errstate(over="ignore", invalid="ignore"):  # a float128 beyond float64 (or no number): inf or nan, refused
        return array.astype(np.float64).reshape(shape[0], -1)


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _refuse_non_finite(table: np.ndarray, numbers: list[int], kind: str, path: str, shown: int = 5) -> np.ndarray:
    bad = [numbers[i] for i in np.flatnonzero(~np.isfinite(table).all(axis=1))]
    if bad:
        more = f" and {len(bad) - shown} more" if len(bad) > shown else ""
        raise DataError(f"data.target: {path} has missing or non-finite values at {_plural(len(bad), kind)} "
                        f"{', '.join(map(str, bad[:shown]))}{more}")
    return table
