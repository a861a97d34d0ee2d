"""Config files (`--config FILE`): TOML and YAML read alike, flags win over the file, every bad file is one line.

Most tests stop at the parsed arguments and the Config they build (`parse_args_with_config`,
`config_from_args`); one trains for a few steps through `tinygan.cli.main`. A property test checks that
random documents give the Config the same settings give as flags, or the same error, named with the file.
"""

import argparse
import dataclasses
import json
import math
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygan import cli
from tinygan.cli import build_parser, config_from_args
from tinygan.cli.configfile import parse_args_with_config, read_settings
from tinygan.config import PRESETS, SECTIONS, Config, ConfigError
from tinygan.engine.resolve import config_from_preset

TOML = """\
preset = "seed-minibatch"  # a comment
out = "runs/mine"
lang = "pt"

[train]
num_steps = 5000
batch_size = 16

[optim]
learning_rate = 1  # an int where a float goes: as --learning-rate 1 gives

[data]
target = "mixture"
mixture_means = "-2, 2"
"""

YAML = """\
preset: seed-minibatch
out: runs/mine
lang: pt
train: {num_steps: 5000, batch_size: 16}
optim:
  learning_rate: 1
data:
  target: mixture
  mixture_means: "-2, 2"
"""


def parse(*argv: str) -> argparse.Namespace:
    return parse_args_with_config(build_parser(), list(argv))


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An empty working folder: file names in messages stay short, and anything written would show."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_toml_and_yaml_say_the_same(folder):
    (folder / "mine.toml").write_text(TOML)
    (folder / "mine.yaml").write_text(YAML)
    (folder / "mine.yml").write_text(YAML)
    assert read_settings("mine.toml") == read_settings("mine.yaml") == read_settings("mine.yml")
    assert config_from_args(parse("train", "--config", "mine.toml")) == config_from_args(
        parse("train", "--config", "mine.yml")
    )


def test_the_file_sets_options_and_fields(folder):
    (folder / "mine.toml").write_text(TOML)
    args = parse("train", "--config", "mine.toml")
    assert (args.preset, args.out, args.lang, args.no_plots) == ("seed-minibatch", "runs/mine", "pt", False)
    config = config_from_args(args)
    expected = config_from_preset(
        "seed-minibatch", num_steps=5000, batch_size=16, learning_rate=1.0, target="mixture", mixture_means="-2, 2"
    )
    assert config == expected and json.dumps(config.to_dict()) == json.dumps(expected.to_dict())


def test_flags_win_over_the_file(folder):
    (folder / "mine.toml").write_text(TOML + "[model]\nminibatch = true\nhidden_size = 0\n")
    args = parse(
        "train",
        "--config",
        "mine.toml",
        "--num-steps",
        "7",
        "--no-minibatch",
        "--hidden-size=3",
        "--preset",
        "recommended",
        "--out",
        "elsewhere",
        "--lang",
        "en",
        "--no-plots",
    )
    assert (args.preset, args.out, args.lang, args.no_plots) == ("recommended", "elsewhere", "en", True)
    config = config_from_args(args)
    assert config == config_from_preset(
        "recommended",
        num_steps=7,
        batch_size=16,
        log_every=7,  # the preset's 10 is cut to the 7 iterations of the run
        minibatch=False,
        hidden_size=3,
        learning_rate=1.0,
        target="mixture",
        mixture_means="-2, 2",
    )


def test_sweep_options_from_the_file_and_a_grid_the_flags_replace(folder):
    (folder / "sweep.toml").write_text(
        'seeds = "0:8"\nseed_batch = 4\ngrid = ["hidden_size=2,4", "r1=0;1"]\n[train]\nnum_steps = 30\n'
    )
    args = parse("sweep", "--config", "sweep.toml")
    assert (args.seeds, args.seed_batch, args.grid, args.num_steps) == ("0:8", 4, ["hidden_size=2,4", "r1=0;1"], 30)
    args = parse("sweep", "--config", "sweep.toml", "--grid", "objective=minimax,modified", "--seeds", "3,4")
    assert (args.seeds, args.grid) == ("3,4", ["objective=minimax,modified"])


def test_any_parser_switches_lists_types_and_rival_flags(tmp_path):
    """The options machinery on a parser of its own: a switch, a repeated flag, a typed flag, rivals."""
    parser = argparse.ArgumentParser(prog="tool")
    command = parser.add_subparsers(dest="command").add_parser("go", prog="tool go")
    command.add_argument("--config")
    command.add_argument("--ratio", type=float, default=0.5)
    command.add_argument("--tag", action="append", default=[])
    command.add_argument("--when", type=lambda text: text.upper(), default="NOW")
    rivals = command.add_mutually_exclusive_group()
    rivals.add_argument("--quiet", action="store_true")
    rivals.add_argument("--json", action="store_true")
    path = tmp_path / "go.toml"
    path.write_text('ratio = 2\ntag = ["a", "b"]\nwhen = "later"\njson = true\n')
    args = parse_args_with_config(parser, ["go", "--config", str(path)])
    assert (args.ratio, args.tag, args.when, args.quiet, args.json) == (2.0, ["a", "b"], "LATER", False, True)
    assert type(args.ratio) is float
    args = parse_args_with_config(parser, ["go", "--config", str(path), "--quiet", "--tag", "c"])
    assert (args.tag, args.quiet, args.json) == (["c"], True, False)
    path.write_text("quiet = true\njson = true\n")
    with pytest.raises(ConfigError, match=r"go.toml: json, quiet: only one of these may be set$"):
        parse_args_with_config(parser, ["go", "--config", str(path)])


def test_an_error_is_named_with_the_file_only_when_the_file_is_at_fault(folder):
    (folder / "mine.toml").write_text("[model]\nhidden_size = 0\npack = 4\n")
    with pytest.raises(ConfigError, match=r"^mine.toml: model.hidden_size: must be >= 1, got 0$"):
        config_from_args(parse("train", "--config", "mine.toml", "--num-steps", "9"))
    # pack 4 does not divide the preset's batch of 12, but the flags' batch of 8: the flags make the file right
    config = config_from_args(parse("train", "--config", "mine.toml", "--hidden-size", "2", "--batch-size", "8"))
    assert (config.model.pack, config.train.batch_size) == (4, 8)
    with pytest.raises(ConfigError, match=r"^train.num_steps: must be >= 1, got 0$"):
        config_from_args(
            parse("train", "--config", "mine.toml", "--hidden-size", "2", "--batch-size", "8", "--num-steps", "0")
        )


BAD_FILES = [
    ("missing.toml", None, "no such file"),
    ("folder.toml", "folder", "is a folder, not a file"),
    ("mine.ini", b"[train]\n", "a config file is TOML (.toml) or YAML (.yaml, .yml)"),
    ("latin1.toml", b'out = "caf\xe9"\n', "line 1: not UTF-8 text (byte 0xe9)"),
    ("empty.toml", b"", "the file is empty"),
    ("blank.yaml", b"\n  \n", "the file is empty"),
    ("comments.toml", b"# nothing yet\n", "holds no settings"),
    ("syntax.toml", b"[train]\nnum_steps = 5\nbatch_size = = 3\n", "line 3: Invalid value (column 14)"),
    ("list.yaml", b"- 1\n- 2\n", "must hold a mapping of settings (name: value), got list"),
    ("tag.yaml", b"out: !!python/object/apply:os.system ['echo hi']\n", "line 1: could not determine a constructor"),
    ("syntax.yaml", b"train:\n  num_steps: [5\n", "line 3: expected ',' or ']'"),
    ("null.yaml", b"train:\n  num_steps:\n", "train.num_steps: has no value"),
    ("typo.toml", b"[train]\nnum_stepz = 5\n", "train.num_stepz: unknown setting"),
    ("string.toml", b'[train]\nnum_steps = "5"\n', "train.num_steps: must be a whole number, got '5'"),
    ("bool.toml", b"[train]\nnum_steps = true\n", "train.num_steps: must be a whole number, got True"),
    ("float.toml", b"[train]\nnum_steps = 5.0\n", "train.num_steps: must be a whole number, got 5.0"),
    ("range.toml", b"[model]\nhidden_size = 0\n", "model.hidden_size: must be >= 1, got 0"),
    ("huge.toml", b"[data]\nmean = 1" + b"0" * 400 + b"\n", "data.mean: must be a finite number, got inf"),
    ("table.toml", b"train = 5\n", "train: must be a table of settings, got 5"),
    ("toplevel.toml", b"num_steps = 5\n", "num_steps: a setting of [train]: write it under [train]"),
    ("section.toml", b"[training]\nnum_steps = 5\n", "training: unknown option of tinygan train (options: anim, "),
    ("option.toml", b'outt = "x"\n', "outt: unknown option of tinygan train (options: anim, "),
    ("lang.toml", b'lang = "xx"\n', "lang: must be one of en, pt, got 'xx'"),
    ("preset.toml", b'preset = "nope"\n', "preset: must be one of "),
    ("switch.toml", b'no_plots = "yes"\n', "no_plots: must be true or false, got 'yes'"),
    ("nested.toml", b'config = "other.toml"\n', "config: a config file cannot name another"),
]


@pytest.mark.parametrize("name, content, message", BAD_FILES, ids=[name for name, _, _ in BAD_FILES])
def test_a_bad_file_is_one_line_exit_2_and_nothing_written(folder, capsys, name, content, message):
    if content == "folder":
        (folder / name).mkdir()
    elif content is not None:
        (folder / name).write_bytes(content)
    before = sorted(folder.rglob("*"))
    assert cli.main(["train", "--config", name, "--out", "run"]) == cli.EXIT_USAGE
    error = capsys.readouterr().err
    assert error.startswith(f"tinygan: error: {name}: {message}") and error.count("\n") == 1, error
    assert sorted(folder.rglob("*")) == before


@pytest.mark.parametrize(
    "content, message",
    [
        (b'grid = "hidden_size=2,4"\n', "grid: must be a list, got 'hidden_size=2,4'"),
        (b"grid = [4]\n", "grid[0]: must be a string, got 4"),
        (b'seed_batch = "4"\n', "seed_batch: must be a whole number, got '4'"),
        (b"[train]\nbatch_size = 0\n", "train.batch_size: must be >= 1, got 0"),
    ],
)
def test_a_bad_sweep_file_is_one_line_exit_2_and_nothing_written(folder, capsys, content, message):
    (folder / "sweep.toml").write_bytes(content)
    assert cli.main(["sweep", "--config", "sweep.toml", "--seeds", "0:2", "--out", "sweep"]) == cli.EXIT_USAGE
    error = capsys.readouterr().err
    assert error == f"tinygan: error: sweep.toml: {message}\n"
    assert sorted(path.name for path in folder.iterdir()) == ["sweep.toml"]


def test_yaml_without_pyyaml_says_how_to_get_it(folder, monkeypatch):
    (folder / "mine.yaml").write_text(YAML)
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` now fails
    with pytest.raises(ConfigError, match=r"^mine.yaml: reading YAML needs PyYAML: pip install pyyaml"):
        read_settings("mine.yaml")


def test_train_with_a_config_file(folder, capsys):
    """The one test here that trains: a few steps, the file's settings and a flag's in the run's config.json."""
    (folder / "tiny.toml").write_text(
        'out = "run"\nno_plots = true\n[train]\nnum_steps = 500\nlog_every = 5\n[optim]\npretrain_steps = 0\n'
    )
    assert cli.main(["train", "--config", "tiny.toml", "--num-steps", "10"]) == 0
    saved = json.loads((folder / "run" / "config.json").read_text())
    assert (saved["train"]["num_steps"], saved["train"]["log_every"], saved["optim"]["pretrain_steps"]) == (10, 5, 0)
    assert not list((folder / "run").glob("*.png"))


# ---------------------------------------------------------------- property: a file says what its flags say

FIELDS = [(section, f.name, f.type) for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)]
WORDS = [
    "gaussian",
    "mixture",
    "ring",
    "moons",
    "scipy:gamma",
    "scipy:nope",
    "file:nowhere.csv",
    "file:",
    "uniform",
    "stratified",
    "relu",
    "maxout",
    "he",
    "adam",
    "cosine",
    "minimax",
    "wasserstein",
    "w1",
    "sliced_w1",
    "kl",
    "w1<0.02",
    "plateau",
    "loss_d>",
    "a=2",
    "modes=4, radius=2",
    "-2, 2",
    "0.5",
    "1, x",
    "0",
    "x",
    "",
]


def good_values(kind: str) -> st.SearchStrategy:
    """Values of the type a field takes (an int where a float goes included), in range or not."""
    if kind == "bool":
        return st.booleans()
    if kind == "int":
        return st.integers(-2, 40) | st.sampled_from([2**32, 10**30])
    if kind.startswith("float"):
        return st.floats(-2, 3) | st.integers(-2, 4) | st.sampled_from([1e300, math.inf, math.nan, 10**400])
    return st.sampled_from(WORDS) | st.text(max_size=8)


WRONG = {
    "bool": st.sampled_from([1, 0, "true", [True]]),
    "int": st.sampled_from(["5", 5.0, True, [1], {"a": 1}]),
    "str": st.sampled_from([5, True, 1.5, ["relu"], {"a": "b"}]),
}


def wrong_values(kind: str) -> st.SearchStrategy:
    return WRONG.get(kind, st.sampled_from(["0.5", True, [0.5], {"a": 0.5}]))


def toml_value(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # nan, inf, -inf: TOML's spellings too
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):  # escapes for what TOML's basic strings may not hold as is
        return (
            '"' + "".join(f"\\u{ord(c):04x}" if c in '"\\' or ord(c) < 0x20 or c == "\x7f" else c for c in value) + '"'
        )
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    return "{" + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + "}"


def flag_text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else repr(value) if isinstance(value, float) else str(value)


@st.composite
def documents(draw):
    """(preset or None, {(section, name): value}, whether every value is of its field's type)."""
    chosen = draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True))
    wrong = [draw(st.integers(0, 5)) == 0 for _ in chosen]
    values = {
        (section, name): draw(wrong_values(kind) if bad else good_values(kind))
        for (section, name, kind), bad in zip(chosen, wrong, strict=True)
    }
    return draw(st.none() | st.sampled_from(sorted(PRESETS))), values, not any(wrong)


def outcome(argv: list[str]) -> Config | str:
    """The Config the command line builds, or its ConfigError's message."""
    try:
        return config_from_args(parse_args_with_config(build_parser(), argv))
    except ConfigError as error:
        return str(error)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=documents())
def test_a_file_builds_the_config_its_flags_build_or_fails_naming_the_setting(folder, document):
    preset, values, flag_like = document
    lines = [f'preset = "{preset}"'] if preset else []
    for section in SECTIONS:
        lines += [f"[{section}]"] + [f"{name} = {toml_value(v)}" for (s, name), v in values.items() if s == section]
    (folder / "doc.toml").write_text("\n".join(lines) + "\n")
    from_file = outcome(["train", "--config", "doc.toml"])
    if isinstance(from_file, str):
        assert from_file.startswith("doc.toml: ") and "\n" not in from_file, from_file
        assert from_file.split(": ")[1] in {f"{section}.{name}" for section, name, _ in FIELDS} | {"config"}
    if flag_like:
        flags = [f"--{name.replace('_', '-')}={flag_text(value)}" for (_, name), value in values.items()]
        from_flags = outcome(["train", *(["--preset", preset] if preset else []), *flags])
        if isinstance(from_flags, str):
            assert from_file == f"doc.toml: {from_flags}"
        else:
            assert from_file == from_flags and json.dumps(from_file.to_dict()) == json.dumps(from_flags.to_dict())
    else:
        assert isinstance(from_file, str)
