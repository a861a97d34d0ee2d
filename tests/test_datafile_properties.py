"""Property tests of `load_table`: any CSV or .npy file loads as a finite float64 table or is refused in one line.

Hypothesis writes random files, well-formed and not (blank lines, quotes, missing cells, ragged rows, a BOM,
bytes that are not UTF-8, huge numbers; .npy files of every dtype and shape, truncated or not .npy at all).
Any exception other than DataError fails the test. Well-formed files must also load to the numbers written.
"""

import io
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygan.data import files
from tinygan.data.files import DataError, load_table

# Small budgets: the whole file runs in a few seconds. A fixed file name per test, rewritten by each example.
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

COLUMNS = st.sampled_from(["", "0", "1", "0, 1", "x", "y", "2", "-1", "\u00b2", "\u0663", "99999999999999999999"])


def loads_or_refuses(path, columns: str = "") -> np.ndarray | None:
    """The table, checked to be finite float64 (rows, columns), or None after a one-line DataError."""
    try:
        table = load_table(str(path), columns)
    except DataError as error:
        message = str(error)
        assert message and not set(message) & {"\n", "\r"}, message
        return None
    assert table.dtype == np.float64 and table.ndim == 2 and table.size and np.isfinite(table).all()
    return table


# ---------------------------------------------------------------- CSV

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["1e400", "-1e400", "9" * 400, "1_0", " 3 ", "+.5", "0x10", "Infinity", "\u0663"]),
)
CELLS = st.one_of(
    NUMBERS,
    st.sampled_from(["", "NA", "n/a", "nan", "null", "None", "x", "y", '"', '"1,5"', '"a\nb"', "\ufeff1"]),
    st.text(max_size=6),
)
ROWS = st.lists(st.lists(CELLS, min_size=1, max_size=4), max_size=6)


@st.composite
def csv_bytes(draw) -> bytes:
    """Rows joined by commas and any line ending, with blank lines, maybe a BOM, maybe bytes that are not UTF-8."""
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = []
    for row in draw(ROWS):
        lines.append(",".join(row))
        lines.extend([""] * draw(st.integers(0, 1)))
    data = ending.join(lines).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 4)) == 0:  # a stray byte that UTF-8 never starts a character with
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\x80", b"\x00"])) + data[at:]
    return data


@SETTINGS
@given(data=csv_bytes(), columns=COLUMNS, long_cell=st.integers(0, 9).map(lambda n: n == 0))
def test_any_csv_loads_finite_or_is_refused_in_one_line(tmp_path, data, columns, long_cell):
    path = tmp_path / "data.csv"
    path.write_bytes(data + b"1" * 200_000 * long_cell)  # longer than the csv module's field limit
    loads_or_refuses(path, columns)


FINITE = st.floats(allow_nan=False, allow_infinity=False)


@SETTINGS
@given(
    table=hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 4)), elements=FINITE),
    header=st.booleans(),
    bom=st.booleans(),
    ending=st.sampled_from(["\n", "\r\n"]),
)
def test_well_formed_csv_loads_the_numbers_written(tmp_path, table, header, bom, ending):
    lines = [",".join(f"c{j}" for j in range(table.shape[1]))] if header else []
    lines += [",".join(map(repr, row.tolist())) for row in table]
    path = tmp_path / "data.csv"
    path.write_bytes(("\ufeff" if bom else "").encode() + ending.join(lines).encode())
    np.testing.assert_array_equal(loads_or_refuses(path), table)


@pytest.mark.parametrize("damage, message", [
    (lambda line: line + ",99", "line 102 has 3 cells, expected 2"),  # numpy's reader would drop the extra cell
    (lambda line: "# a comment", None),  # a comment line is skipped by both readers alike
    (lambda line: line + " # junk", "line 102, column 1 ('b'): "),  # ... and what follows the '#'
])
def test_a_large_csv_is_as_strict_as_a_small_one(tmp_path, damage, message):
    """Past FAST_BYTES a CSV is first read by numpy's parser; a row it would bend is left to the careful reader,
    which names it."""
    rows = [f"{x:.6f},{y:.6f}" for x, y in np.random.default_rng(1).normal(size=(files.FAST_BYTES // 15, 2))]
    clean, path = "a,b\n" + "\n".join(rows) + "\n", tmp_path / "big.csv"
    path.write_text(clean)
    assert path.stat().st_size > files.FAST_BYTES
    table, names, _ = files.read_table(str(path))
    np.testing.assert_array_equal(table, np.array([[float(v) for v in row.split(",")] for row in rows]))
    rows[100] = damage(rows[100])
    path.write_text("a,b\n" + "\n".join(rows) + "\n")
    if message is None:
        kept = rows[:100] + rows[101:]
        np.testing.assert_array_equal(files.read_table(str(path))[0],
                                      np.array([[float(v) for v in row.split(",")] for row in kept]))
        return
    with pytest.raises(DataError, match=re.escape(message)):
        files.read_table(str(path))


def test_a_csv_without_read_permission_is_refused(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("1,2\n")
    path.chmod(0)
    try:
        if path.stat().st_mode & 0o444 or _can_read(path):
            pytest.skip("this user reads any file (root)")
        with pytest.raises(DataError, match="cannot be read"):
            load_table(str(path))
    finally:
        path.chmod(0o600)


def _can_read(path) -> bool:
    try:
        path.read_bytes()
    except PermissionError:
        return False
    return True


# ---------------------------------------------------------------- .npy

TRIPPED = []


class Tripwire:
    """An object that records it was unpickled: loading a data file must never run a pickle."""

    def __reduce__(self):
        return _trip, ()


def _trip():
    TRIPPED.append("unpickled")


PLAIN = ["<f8", ">f8", "<f4", "<f2", "<i8", ">i4", "<u1", "<u8", "?", "<c16", "<U3", "<M8[s]", "<m8[s]", "|V8", "O"]
STRUCTURED = [("a", "<f8"), ("b", "<i4")]
DTYPES = st.sampled_from([*PLAIN, STRUCTURED] + (["<f16"] if hasattr(np, "float128") else []))
SHAPES = st.lists(st.integers(0, 4), max_size=3).map(tuple)


@st.composite
def npy_bytes(draw) -> bytes:
    """A saved array of any dtype and shape, object arrays of tripwires included; maybe cut short or garbage."""
    dtype, shape = np.dtype(draw(DTYPES)), draw(SHAPES)
    if dtype == object:
        array = np.empty(shape, object)
        array.fill(Tripwire())
    else:
        array = np.frombuffer(
            draw(st.binary(min_size=dtype.itemsize * math.prod(shape), max_size=dtype.itemsize * math.prod(shape))),
            dtype,
        ).reshape(shape)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    data = buffer.getvalue()
    how = draw(st.sampled_from(["whole", "whole", "cut", "junk", "bytes", "zip", "header", "header"]))
    if how == "header":  # a header numpy's own check passes or nearly: any shape, odd values
        header = repr(
            {
                "descr": draw(st.sampled_from(["<f8", "<i4", "|u1", "<c8", "O", "x", 5, [("a", "<f8")]])),
                "fortran_order": draw(st.sampled_from([False, True, 1])),
                "shape": tuple(draw(st.lists(st.integers(-2, 6) | st.just(10**20), max_size=3))),
            }
        ).encode()
        header += b" " * (-(len(header) + 11) % 64) + b"\n"
        data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + draw(st.binary(max_size=64))
    elif how == "cut":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif how == "junk":
        data += draw(st.binary(min_size=1, max_size=16))
    elif how == "bytes":
        data = draw(st.binary(max_size=64))
    elif how == "zip":
        data = b"PK\x03\x04" + data
    return data


@SETTINGS
@given(data=npy_bytes(), columns=COLUMNS)
def test_any_npy_loads_finite_or_is_refused_in_one_line_without_unpickling(tmp_path, data, columns):
    path = tmp_path / "data.npy"
    path.write_bytes(data)
    loads_or_refuses(path, columns)
    assert not TRIPPED


@SETTINGS
@given(
    table=hnp.arrays(
        st.sampled_from([np.float64, np.float32, np.int64, np.uint8]),
        st.lists(st.integers(1, 5), min_size=1, max_size=2).map(tuple),
        elements={"allow_nan": False, "allow_infinity": False},
    ),
    fortran=st.booleans(),
)
def test_numeric_npy_loads_the_numbers_saved(tmp_path, table, fortran):
    path = tmp_path / "data.npy"
    np.save(path, np.asfortranarray(table) if fortran else table)
    np.testing.assert_array_equal(loads_or_refuses(path), table.astype(np.float64).reshape(len(table), -1))


def test_an_object_array_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.array([Tripwire(), 1.0], object), allow_pickle=True)
    with pytest.raises(DataError, match="must hold"):
        load_table(str(path))
    assert not TRIPPED
