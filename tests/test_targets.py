"""Targets beyond the seed's Gaussian: mixtures, scipy.stats laws and samples from files."""

import re

import jax
import numpy as np
import pytest
import scipy.stats

import tinygan
from tinygan.config import ConfigError, DataConfig
from tinygan.data import files
from tinygan.data.files import DataError, load_table, read_table
from tinygan.data.targets import MixtureLaw, make_target, parse_scipy_law


def sample(target, n=100_000, seed=0) -> np.ndarray:
    return np.asarray(target.sample(jax.random.key(seed), n))


# ---------------------------------------------------------------- moments and modes


@pytest.mark.parametrize("config", [
    DataConfig(),
    DataConfig(target="mixture", mixture_means="-2, 3", mixture_stds="0.5, 1", mixture_weights="1, 3"),
    DataConfig(target="scipy:gamma", target_params="a=2, scale=0.5"),
    DataConfig(target="scipy:beta", target_params="a=2, b=3"),
], ids=["gaussian", "mixture", "gamma", "beta"])
def test_samples_have_the_law_s_moments(config):
    target = make_target(config)
    x, law = sample(target), target.distribution()
    assert x.shape == (100_000, 1)
    assert abs(x.mean() - law.mean()) < 5 * law.std() / np.sqrt(len(x))
    assert abs(x.std() - law.std()) < 0.01 * law.std()
    assert scipy.stats.kstest(x[:, 0], law.cdf).statistic < 0.01


def test_modes():
    gaussian = make_target(DataConfig(mean=1.5, std=0.25)).modes
    np.testing.assert_array_equal(gaussian.means, [[1.5]])
    assert list(gaussian.stds) == [0.25] and list(gaussian.weights) == [1.0]
    mixture = make_target(DataConfig(target="mixture", mixture_means="-2, 3", mixture_stds="0.5", mixture_weights="1, 3"))
    np.testing.assert_array_equal(mixture.modes.means, [[-2.0], [3.0]])
    np.testing.assert_array_equal(mixture.modes.stds, [0.5, 0.5])
    np.testing.assert_allclose(mixture.modes.weights, [0.25, 0.75])
    x = sample(mixture)[:, 0]
    assert abs(np.mean(x < 0.5) - 0.25) < 0.01
    assert make_target(DataConfig(target="scipy:gamma", target_params="a=2")).modes is None


@pytest.mark.parametrize("config", [
    DataConfig(target="mixture", mixture_means="-2, 3", mixture_stds="0.5, 1", mixture_weights="1, 3"),
    DataConfig(target="scipy:gamma", target_params="a=2, scale=0.5"),
], ids=["mixture", "gamma"])
def test_density_matches_the_law(config):
    target = make_target(config)
    xs = np.linspace(0.2, 4.0, 50, dtype=np.float32)[:, None]
    density = np.asarray(target.density(xs))
    assert density.shape == (50,)
    np.testing.assert_allclose(density, target.distribution().pdf(xs[:, 0]), rtol=2e-3, atol=1e-4)


# ---------------------------------------------------------------- the mixture's law


def test_mixture_cdf_and_ppf_round_trip():
    law = MixtureLaw(np.array([0.2, 0.5, 0.3]), np.array([-3.0, 0.0, 5.0]), np.array([0.3, 1.0, 2.0]))
    u = np.array([1e-9, 1e-4, 0.01, 0.2, 0.5, 0.77, 0.99, 1 - 1e-9])
    np.testing.assert_allclose(law.cdf(law.ppf(u)), u, rtol=1e-9, atol=1e-15)
    xs = np.linspace(-5, 10, 31)
    np.testing.assert_allclose(law.ppf(law.cdf(xs)), xs, atol=1e-8)
    assert list(law.ppf([0.0, 1.0])) == [-np.inf, np.inf]
    assert np.isnan(law.ppf(1.5))


def test_one_component_mixture_is_scipy_s_normal():
    law, normal = MixtureLaw(np.array([1.0]), np.array([4.0]), np.array([0.5])), scipy.stats.norm(4, 0.5)
    u = np.linspace(0.001, 0.999, 101)
    np.testing.assert_allclose(law.ppf(u), normal.ppf(u), rtol=1e-10, atol=1e-9)
    xs = np.linspace(2, 6, 41)
    np.testing.assert_allclose(law.cdf(xs), normal.cdf(xs), rtol=1e-12)
    np.testing.assert_allclose(law.pdf(xs), normal.pdf(xs), rtol=1e-12)
    assert (law.mean(), law.std()) == pytest.approx((4.0, 0.5))
    x = law.rvs(100_000, random_state=np.random.default_rng(0))
    assert abs(x.mean() - 4) < 0.01 and abs(x.std() - 0.5) < 0.01


@pytest.mark.parametrize("overrides, message", [
    ({"mixture_means": ""}, "data.mixture_means: needs at least one mean"),
    ({"mixture_means": "1, x"}, "data.mixture_means: 'x' is not a number"),
    ({"mixture_means": "1, inf"}, "data.mixture_means: must be finite numbers, got 'inf'"),
    ({"mixture_stds": "1, 2, 3"}, "data.mixture_stds: needs 2 values (one per mean), got 3"),
    ({"mixture_stds": "0"}, "data.mixture_stds: must be > 0"),
    ({"mixture_weights": "1"}, "data.mixture_weights: needs 2 values (one per mean), got 1"),
    ({"mixture_weights": "1, -1"}, "data.mixture_weights: must be >= 0 with a positive sum"),
])
def test_bad_mixtures_are_refused(overrides, message):
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        make_target(DataConfig(target="mixture", **overrides))  # the registry checks its parameters


# ---------------------------------------------------------------- scipy laws by name


@pytest.mark.parametrize("name, params, expected", [
    ("gamma", "a=2, scale=0.5", scipy.stats.gamma(a=2, scale=0.5)),
    ("lognorm", " s = 0.5 ,loc=-1 ", scipy.stats.lognorm(s=0.5, loc=-1)),
    ("norm", "", scipy.stats.norm()),
    ("t", "df=3e0", scipy.stats.t(df=3)),
])
def test_scipy_parser_accepts(name, params, expected):
    law = parse_scipy_law(name, params)
    assert law.dist.name == expected.dist.name and law.kwds == expected.kwds


@pytest.mark.parametrize("target, params, message", [
    ("scipy:nonesuch", "", "data.target: 'nonesuch' is not a continuous distribution of scipy.stats"),
    ("scipy:poisson", "mu=2", "data.target: 'poisson' is not a continuous distribution of scipy.stats"),
    ("scipy:__import__('os')", "", "data.target: \"__import__('os')\" is not a continuous distribution"),
    ("scipy:stats", "", "data.target: 'stats' is not a continuous distribution"),
    ("scipy:gamma", "a=__import__('os')", "data.target_params: \"__import__('os')\" is not a number"),
    ("scipy:gamma", "a=2; b=3", "data.target_params: '2; b=3' is not a number"),
    ("scipy:gamma", "a", "data.target_params: expected name=number pairs"),
    ("scipy:gamma", "a=", "data.target_params: a has no value"),
    ("scipy:gamma", "a=1, a=2", "data.target_params: a is given twice"),
    ("scipy:gamma", "a=nan", "data.target_params: must be finite numbers"),
    ("scipy:gamma", "a=1e999", "data.target_params: must be finite numbers"),
    ("scipy:gamma", "b=2", "data.target_params: wrong parameters for scipy.stats.gamma"),
    ("scipy:gamma", "a=-1", "data.target_params: invalid values for scipy.stats.gamma"),
    ("scipy:", "", "data.target: must be one of gaussian, mixture, scipy:..., ring"),
    ("gaussian", "a=1", "data.target_params: target 'gaussian' takes no parameters"),
])
def test_scipy_parser_refuses(target, params, message):
    with pytest.raises(ConfigError) as error:
        make_target(DataConfig(target=target, target_params=params))
    assert str(error.value).startswith(message)


# ---------------------------------------------------------------- files of samples


def write(tmp_path, text: str, name: str = "data.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_csv_with_a_header_and_columns_by_name_or_index(tmp_path):
    path = write(tmp_path, "x,y,z\n1,2,3\n4,5,6\n\n7,8,9\n")
    np.testing.assert_array_equal(load_table(path), [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    np.testing.assert_array_equal(load_table(path, "z, 0"), [[3, 1], [6, 4], [9, 7]])
    np.testing.assert_array_equal(load_table(path, "y"), [[2], [5], [8]])


def test_csv_without_a_header(tmp_path):
    path = write(tmp_path, "1.5,-2\n3e-1,4\n")
    np.testing.assert_array_equal(load_table(path), [[1.5, -2], [0.3, 4]])


TABLE = [[1.5, -2.0, 300.0], [0.25, 4.0, 1e-3], [-7.0, 0.5, 2.0]]


@pytest.mark.parametrize("text, names", [
    ("a\tb\tc\n1.5\t-2\t300\n.25\t4\t1e-3\n-7\t0.5\t2\n", ("a", "b", "c")),  # tabs
    ("a;b;c\n1.5;-2;300\n0.25;4;0.001\n-7;.5;2\n", ("a", "b", "c")),  # semicolons
    ("a;b;c\n1,5;-2;300\n0,25;4;0,001\n-7;0,5;2\n", ("a", "b", "c")),  # and decimal commas, as spreadsheets in Europe
    ("a|b|c\n1.5|-2|300\n0.25|4|0.001\n-7|0.5|2\n", ("a", "b", "c")),  # pipes
    ("  a   b  c\n 1.5  -2 300\n0.25 4\t0.001\n-7 0.5 2  \n", ("a", "b", "c")),  # runs of spaces and tabs
    ('"a","b","c"\n"1.5","-2","300"\n0.25,4,0.001\n-7, 0.5 ,2\n', ("a", "b", "c")),  # quoted, spaced
    ("# made by hand\n\n# the header:\na,b,c\n1.5,-2,300\n# a note\n0.25,4,0.001\n-7,0.5,2\n", ("a", "b", "c")),
    ("# a,b,c\n1.5,-2,300\n0.25,4,0.001\n-7,0.5,2\n", ("a", "b", "c")),  # numpy.savetxt's header
    ("# a b\n1.5 -2 300\n0.25 4 0.001\n-7 0.5 2\n", ("x1", "x2", "x3")),  # a comment of another width: no header
], ids=["tabs", "semicolons", "decimal commas", "pipes", "spaces", "quoted", "comments", "savetxt", "comment"])
def test_a_table_is_read_with_its_own_delimiter_and_decimal_mark(tmp_path, text, names):
    """The delimiter is the one that splits every line alike; the same numbers whichever it is, small files
    and large ones (numpy's fast reader) alike."""
    path = write(tmp_path, text)
    table, read, _ = read_table(path)
    np.testing.assert_array_equal(table, TABLE)
    assert read == names
    lines = text.splitlines()
    body = [line for line in lines if line.strip() and not line.startswith("#")][-3:]
    large = "\n".join(lines + body * (files.FAST_BYTES // 20)) + "\n"
    assert len(large) > files.FAST_BYTES
    np.testing.assert_array_equal(read_table(write(tmp_path, large, "large.csv"))[0][:3], TABLE)


def test_npy_files(tmp_path):
    np.save(tmp_path / "one.npy", np.array([1.0, 2.0, 3.0]))
    np.save(tmp_path / "two.npy", np.arange(12.0).reshape(4, 3))
    np.testing.assert_array_equal(load_table(str(tmp_path / "one.npy")), [[1], [2], [3]])
    np.testing.assert_array_equal(load_table(str(tmp_path / "two.npy"), "2"), [[2], [5], [8], [11]])
    np.save(tmp_path / "bad.npy", np.array([1.0, np.inf, 3.0, np.nan]))
    with pytest.raises(DataError, match=r"non-finite values at rows 1, 3$"):
        load_table(str(tmp_path / "bad.npy"))


@pytest.mark.parametrize("text, columns, message", [
    ("", "", "holds no data rows"),
    ("x,y\n", "", "holds no data rows"),
    ("1,2\n3\n", "", "line 2 has 1 cell, expected 2"),
    ("x,y\n1,2\n3,oops\n", "", "line 3, column 1 ('y'): 'oops' is not a number"),
    ("1,2\nnan,3\n4,5\n6,inf\n", "", "missing or non-finite values at lines 2, 4"),
    ("1,2\n,3\n4,NA\n", "", "missing or non-finite values at lines 2, 3"),
    ("".join(f"{i},nan\n" for i in range(8)), "", "missing or non-finite values at lines 1, 2, 3, 4, 5 and 3 more"),
    ("1,2\n3,4\n", "2", "data.columns: "),
    ("x,y\n1,2\n", "w", "data.columns: no column 'w'"),
    ("1,2\n", "y", "data.columns: no column 'y'"),
])
def test_bad_files_are_refused_in_one_line(tmp_path, text, columns, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as error:
        load_table(path, columns)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_file_target_config(tmp_path):
    path = write(tmp_path, "label,value\n" + "".join(f"a,{v}\n" for v in np.random.default_rng(0).normal(2, 1, 500)))
    target = make_target(DataConfig(target=f"file:{path}", columns="value"))
    law = target.distribution()
    data = load_table(path, "1")[:, 0]
    assert law.mean() == pytest.approx(data.mean()) and target.modes is None
    np.testing.assert_array_equal(law.cdf([data.min(), data.max()]), [1 / 500, 1.0])
    assert law.ppf(0.5) == np.sort(data)[249]
    x = sample(target, 2000)
    assert np.isin(x[:, 0], data.astype(np.float32)).all()
    xs = np.linspace(-1, 5, 13)
    np.testing.assert_allclose(target.density(xs[:, None].astype(np.float32)),
                               scipy.stats.gaussian_kde(data)(xs), rtol=1e-4, atol=1e-6)
    assert make_target(DataConfig(target="file:" + write(tmp_path, "1,2\n3,4\n5,7\n", "two.csv"))).dim == 2
    with pytest.raises(ConfigError, match="^data.target: no file"):
        make_target(DataConfig(target=f"file:{tmp_path / 'missing.csv'}"))
    with pytest.raises(ConfigError, match="^data.columns: only file targets"):
        DataConfig(columns="0")


def test_cli_reports_a_bad_file_before_writing_anything(tmp_path, capsys):
    from tinygan.cli import main

    path = write(tmp_path, "1\n2\nx\n")
    assert main(["train", "--target", f"file:{path}", "--out", str(tmp_path / "run"), "--no-plots"]) == 2
    assert "line 3, column 0: 'x' is not a number" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- short training runs


@pytest.mark.parametrize("overrides", [
    {"target": "mixture"},
    {"target": "scipy:gamma", "target_params": "a=2, scale=0.5"},
    {"noise": "uniform"},
    {"noise": "gaussian", "noise_dim": 3},
], ids=["mixture", "scipy", "uniform-noise", "gaussian-noise-3d"])
def test_short_training_runs(overrides):
    result = tinygan.train(tinygan.config_from_preset("seed", num_steps=20, pretrain_steps=5, **overrides))
    assert result.status == "finished"
    assert all(np.isfinite(result.metrics[k]) for k in ("mean", "std", "w1", "ks"))


def test_short_training_run_on_a_file(tmp_path):
    path = write(tmp_path, "x\n" + "".join(f"{v}\n" for v in np.random.default_rng(1).gamma(2, 1, 300)))
    result = tinygan.train(tinygan.config_from_preset("seed", num_steps=20, pretrain_steps=5, target=f"file:{path}"))
    assert result.status == "finished" and np.isfinite(result.metrics["w1"])


def test_columns_of_words_are_left_out_and_said(tmp_path, capsys):
    """A label column (every cell words, missing markers aside) is not learned, unless picked: then it is refused
    by its line, as is a column of numbers with one word in it."""
    from tinygan.cli import main

    path = write(tmp_path, "a,species,b\n1,setosa,2\n3,NA,4\n5,virginica,6\n")
    table = read_table(path)
    assert (table.names, table.left_out) == (("a", "b"), ("'species' (words, not numbers)",))
    np.testing.assert_array_equal(table.data, [[1, 2], [3, 4], [5, 6]])
    with pytest.raises(DataError, match=r"line 2, column 1 \('species'\): 'setosa' is not a number$"):
        read_table(path, "a,species")
    unnamed = write(tmp_path, "1,x\n2,y\n", "unnamed.csv")
    assert read_table(unnamed)[1:] == (("x",), ("column 1 (words, not numbers)",))
    for text, message in [("a,b\nx,y\nz,w\n", "line 2, column 0 ('a'): 'x' is not a number"),  # words only
                          ("a,b\n1,2\n3,oops\n", "line 3, column 1 ('b'): 'oops' is not a number")]:
        with pytest.raises(DataError, match=re.escape(message)):
            read_table(write(tmp_path, text, "bad.csv"))
    assert main(["config", "--preset", "seed", "--target", f"file:{path}"]) == 0
    assert capsys.readouterr().err == (f"tinygan: note: {path}: left out 'species' (words, not numbers); --columns "
                                       "picks the columns to learn\n")


@pytest.mark.parametrize("name", ["", "Unnamed: 0", "index"])
def test_a_row_index_is_left_out_small_or_large(tmp_path, name):
    """pandas' to_csv writes the index first, unnamed: 0, 1, 2, ... is not data to learn (1, 2, 3, ... neither);
    a named column, a column picked, or one that does not count the rows is kept."""
    rows = np.random.default_rng(0).normal(size=(40, 2)).round(4)
    for counting, kept in [(np.arange, False), (lambda n: np.arange(1, n + 1), False), (lambda n: -np.arange(n), True)]:
        for repeats, file in [(1, "small.csv"), (1500, "large.csv")]:  # past FAST_BYTES: numpy's reader
            table = np.tile(rows, (repeats, 1))
            text = f"{name},a,b\n" + "".join(f"{i},{x},{y}\n" for i, (x, y) in zip(counting(len(table)), table))
            read = read_table(write(tmp_path, text, file))
            assert read.names == ((name, "a", "b") if kept else ("a", "b")), file
            np.testing.assert_array_equal(read.data[:, -2:], table)
            assert read.left_out == (() if kept else (f"column 0, {name!r} (a row index)",))
    assert read_table(write(tmp_path, "id,a\n0,1.5\n1,2.5\n"), "").names == ("id", "a")
    assert read_table(write(tmp_path, ",a\n0,1.5\n1,2.5\n"), "0,1").names == ("", "a")


@pytest.mark.parametrize("text, expected", [
    ("0,346;0,822\n0,330;-1,303\n", [[0.346, 0.822], [0.33, -1.303]]),  # decimal commas, no header
    ("10\t2,5\n11\t3,25\n", [[10, 2.5], [11, 3.25]]),
    ("1,5 2,5\n3,5 4,5\n", [[1.5, 2.5], [3.5, 4.5]]),
    ('x,y\n1,2\n# a comment, "with a quote\n3,4\n5,6\n# "\n7,8\n', [[1, 2], [3, 4], [5, 6], [7, 8]]),
    ("\t# indented\na\tb\n1\t2\n3\t4\n", [[1, 2], [3, 4]]),
    ('a,b\n"#1",2\n3,4\n', "line 2, column 0 ('a'): '#1' is not a number"),  # a quoted '#' is data
    ('p q\n"1" "2"\n3 4\n', "line 2, column 0 ('p'): '\"1\"' is not a number"),  # whitespace tables quote nothing
    ("1 2\x0b3 4\n5 6\x0b7 8\n", [[1, 2, 3, 4], [5, 6, 7, 8]]),  # whitespace, as numpy's reader splits it
    ("a\tb\n1\t2\n3\n", "line 3 has 1 cell, expected 2"),  # ragged, but tabbed: named by its line
    ("a b c\n1 2\n3 4\n", "line 2 has 2 cells, expected 3"),
    ("x\n1\n2\nnot a number\n", "line 4, column 0 ('x'): 'not a number' is not a number"),  # one column
    ("a,b\n1_0,2\n3,4\n", "line 2, column 0 ('a'): '1_0' is not a number"),
    ("a\tb\n1,000\t2.5\n2,500\t3.5\n", "line 2, column 0 ('a'): '1,000' is not a number"),  # not 1.0
    ("n;x\n1.234;0,5\n2.345;0,7\n", "line 2, column 1 ('x'): '0,5' is not a number"),  # both marks: not 1.234
    ("Doe, J\t1,5\nRoe, K\t2,25\n", [[1.5], [2.25]]),  # a tab's cells hold commas; the names are words
    ("1,5;2\n2;3,25\n", [[1.5, 2], [2, 3.25]]),
    ('"a", "b"\n1, "2"\n3,4\n', [[1, 2], [3, 4]]),  # a space before a quote
], ids=["semicolons", "tabs", "spaces", "quote in a comment", "indented comment", "quoted #", "quoted in spaces",
        "vertical tab", "ragged tabs", "ragged spaces", "words in one column", "underscore", "thousands", "both marks",
        "names with commas", "some decimal commas", "space before a quote"])
def test_odd_tables_read_alike_small_and_large(tmp_path, text, expected):
    """Found by fuzzing: each table reads (or is refused) the same whichever reader takes it."""
    lines = text.splitlines(keepends=True)
    large = text + "".join(line for line in lines[-2:] if not line.lstrip().startswith("#")) * (files.FAST_BYTES // 8)
    for name, content in [("small.csv", text), ("large.csv", large)]:
        path = write(tmp_path, content, name)
        if isinstance(expected, str):
            with pytest.raises(DataError, match=re.escape(expected)):
                read_table(path)
        else:
            np.testing.assert_array_equal(read_table(path).data[:len(expected)], expected)
