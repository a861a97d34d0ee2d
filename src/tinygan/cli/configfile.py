"""Config files: `tinygan train --config FILE` reads settings from TOML (or YAML), flags override them.

A file holds the command's options at the top level, by their argparse names (`preset`, `out`, `lang`,
`seeds`, `grid`, ...), and config fields in tables named after their sections:

    preset = "seed-minibatch"
    out = "runs/mine"
    [train]
    num_steps = 5000

Values are checked as strictly as config fields (the string "5" is not a number, true is not 1), and
every problem is one ConfigError line naming the file and the setting's path, before anything is written.
Config fields are checked by `Config` itself, with the flags applied: a value a flag replaces is not
checked, and a file that only the flags make whole (pack 4 with --batch-size 8) is fine.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import math
import re
import reprlib
import stat
import tomllib
from pathlib import Path

from tinygan.config import SECTIONS, ConfigError, field_sections

FORMATS = (".toml", ".yaml", ".yml")
MAX_BYTES = 2**20  # a config file is a few lines: a larger one is a mistake
SETTINGS_FROM_FILE = "config_settings"  # the namespace attribute holding the file's config fields still in force


def read_settings(path: str) -> dict:
    """The mapping a TOML or YAML file holds, read as UTF-8; every way to fail is one ConfigError line."""
    file, kind = Path(path), Path(path).suffix.lower()
    if kind not in FORMATS:
        raise ConfigError(f"{path}: a config file is TOML (.toml) or YAML (.yaml, .yml)")
    data = _read_bytes(file, path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: not UTF-8 text (byte {data[error.start]:#04x})") from None
    if not text.strip():
        raise ConfigError(f"{path}: the file is empty")
    try:
        settings = _parse_toml(text, path) if kind == ".toml" else _parse_yaml(text, path)
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: must hold a mapping of settings (name: value), got {type(settings).__name__}")
    if not settings:
        raise ConfigError(f"{path}: holds no settings")
    return settings


def _read_bytes(file: Path, path: str) -> bytes:
    """A regular file's bytes, at most MAX_BYTES of them: a pipe would block and /dev/zero never end."""
    try:
        mode = file.stat().st_mode
        if stat.S_ISREG(mode):
            with open(file, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise ConfigError(f"{path}: cannot be read ({getattr(error, 'strerror', None) or error})") from None
    if stat.S_ISDIR(mode):
        raise ConfigError(f"{path}: is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{path}: not a regular file (a pipe, socket or device)")
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES // 2**20} MiB: not a config file")
    return data


def _parse_toml(text: str, path: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # tomllib ends its message with "(at line L, column C)" or "(at end of document)"
        message, line, column = re.fullmatch(
            r"(.*?)(?: \(at line (\d+), column (\d+)\)| \(at end of document\))?", " ".join(str(error).split())
        ).groups()
        where = f"line {line}: " if line else "end of file: "
        raise ConfigError(f"{path}: {where}{message}{f' (column {column})' if column else ''}") from None


def _parse_yaml(text: str, path: str):
    try:
        import yaml
    except ImportError:
        raise ConfigError(
            f"{path}: reading YAML needs PyYAML: pip install pyyaml (or write the file as .toml)"
        ) from None
    try:
        return yaml.load(text, Loader=_strict_yaml_loader())  # SafeLoader's: a Python tag is an error, never a call
    except yaml.YAMLError as error:
        mark, problem = getattr(error, "problem_mark", None), getattr(error, "problem", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(f"{path}: {where}{' '.join(str(problem or error).split())}") from None


@functools.cache
def _strict_yaml_loader():
    """PyYAML's SafeLoader, which also refuses a key given twice in one mapping (it would keep the last)."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults` may be overridden: that is its use
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # an unhashable key: SafeLoader says so below
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{_shown(key)} is given twice", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep)

    return StrictLoader


def parse_args_with_config(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line; with `--config FILE`, the file fills in whatever the command line leaves unset.

    Options from the file become the subcommand's defaults and the command line is parsed again, so flags
    win; config fields from the file fill the fields whose flags were not given (their flags default to None).
    """
    args = parser.parse_args(argv)
    path = getattr(args, "config", None)
    if path is None:
        return args
    command = subcommand(parser, args.command)
    options, settings = _split(read_settings(path), command, path)
    with _defaults(command, None):
        given = set(vars(parser.parse_args(argv))) - {"command"}  # only what the command line gives is there
    with _defaults(command, _options_not_given(options, command, given, path)):
        args = parser.parse_args(argv)
    in_force = {key: value for key, value in settings.items() if key.partition(".")[2] not in given}
    _refuse_structures(in_force, path)
    for key, value in in_force.items():
        setattr(args, key.partition(".")[2], value)
    setattr(args, SETTINGS_FROM_FILE, in_force)
    return args


def blame_config_file(args: argparse.Namespace, error: ConfigError) -> ConfigError:
    """`error`, named after the config file when the file's own settings fail the same way without the flags."""
    settings = getattr(args, SETTINGS_FROM_FILE, None)
    if not settings:
        return error
    from tinygan.engine.resolve import config_from_preset  # JAX: loaded once a command runs, not for --help

    try:
        config_from_preset(args.preset, **settings)
    except ConfigError as own:
        if str(own) == str(error):
            return ConfigError(f"{args.config}: {error}")
    return error


def subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The parser of subcommand `name` (argparse has no public way to reach it)."""
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]


def _split(settings: dict, command: argparse.ArgumentParser, path: str) -> tuple[dict, dict]:
    """The file's options {dest: value}, checked against the command's flags, and its config fields
    {"section.name": value} in the order `Config` checks them (so its errors compare equal)."""
    takes = {
        a.dest: a
        for a in command._actions
        if a.option_strings and a.dest not in field_sections() and a.dest not in ("help", "config")
    }
    options, fields = {}, {}
    for key, value in settings.items():
        if value is None:
            raise ConfigError(f"{path}: {key}: has no value")
        if key in SECTIONS:
            fields.update(_section(key, value, path))
        elif key == "config":
            raise ConfigError(f"{path}: config: a config file cannot name another")
        elif key in field_sections():
            section = field_sections()[key]
            raise ConfigError(f"{path}: {key}: a setting of [{section}]: write it under [{section}]")
        elif key in takes:
            options[key] = _option_value(takes[key], value, f"{path}: {key}")
        else:
            raise ConfigError(
                f"{path}: {_name(key)}: unknown option of {command.prog} (options: {', '.join(sorted(takes))}; "
                f"settings go in [{'], ['.join(SECTIONS)}])"
            )
    order = list(field_sections())
    return options, dict(sorted(fields.items(), key=lambda item: order.index(item[0].partition(".")[2])))


def _section(section: str, table, path: str) -> dict:
    """One section's settings as {"section.name": value}; ints given for floats become floats, as a flag's would."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {section}: must be a table of settings, got {_shown(table)}")
    types = {f.name: f.type for f in dataclasses.fields(SECTIONS[section])}
    fields = {}
    for name, value in table.items():
        if name not in types:
            raise ConfigError(f"{path}: {section}.{_name(name)}: unknown setting")
        if value is None:
            raise ConfigError(f"{path}: {section}.{name}: has no value")
        if types[name].startswith("float") and isinstance(value, int) and not isinstance(value, bool):
            value = _as_float(value)
        fields[f"{section}.{name}"] = value
    return fields


_FIELD_TYPES = {
    "int": "a whole number",
    "float": "a finite number",
    "float | None": "a finite number",
    "str": "a string",
    "bool": "true or false",
}


def _refuse_structures(fields: dict, path: str) -> None:
    """Refuse a list, table or date where a field takes one number, string or switch, before `Config` would
    repeat it whole in its message: a YAML alias makes a small file's list of lists a billion items long."""
    types = {f"{section}.{f.name}": f.type for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)}
    for key, value in fields.items():
        if not isinstance(value, (bool, int, float, str)):
            raise ConfigError(
                f"{path}: {key}: must be {_FIELD_TYPES.get(types[key], 'one value')}, got {_shown(value)}"
            )


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 2, 4, 4
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 80, 80, 80


def _name(key) -> str:
    """A key as a message names it: as written, cut short."""
    return _SHORT.repr(key)[1:-1] if isinstance(key, str) and len(key) > _SHORT.maxstring else str(key)


def _shown(value) -> str:
    """repr(value), cut short: a message stays one readable line whatever the file holds."""
    return _SHORT.repr(value)


def _as_float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer past float's range: infinite, which the field's check refuses
        return math.inf if value > 0 else -math.inf


def _option_value(action: argparse.Action, value, where: str):
    """A file's value for a flag, of the type the flag converts its text to: a switch takes true or false,
    a repeatable flag a list."""
    if action.nargs == 0:
        if not isinstance(action.const, bool):
            raise ConfigError(f"{where}: cannot be set in a config file")
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: must be true or false, got {_shown(value)}")
        return value
    if isinstance(action, argparse._AppendAction) or action.nargs not in (None, "?"):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: must be a list, got {_shown(value)}")
        return [_option_item(action, item, f"{where}[{i}]") for i, item in enumerate(value)]
    return _option_item(action, value, where)


def _option_item(action: argparse.Action, value, where: str):
    kind = action.type or str
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int and not (number and isinstance(value, int)):
        raise ConfigError(f"{where}: must be a whole number, got {_shown(value)}")
    if kind is float and not number:
        raise ConfigError(f"{where}: must be a number, got {_shown(value)}")
    if kind not in (int, float):
        if not isinstance(value, str):
            raise ConfigError(f"{where}: must be a string, got {_shown(value)}")
        _check_text(value, where)
        try:
            value = kind(value)
        except (ValueError, TypeError, argparse.ArgumentTypeError) as error:
            raise ConfigError(f"{where}: {' '.join(str(error).split())}") from None
    if action.choices is not None and value not in action.choices:
        raise ConfigError(f"{where}: must be one of {', '.join(map(str, action.choices))}, got {_shown(value)}")
    return float(value) if kind is float else value


def _check_text(value: str, where: str) -> None:
    """A string an option takes (a path, a rule) must be one the command line could have given: no NUL, and
    no lone surrogate (a YAML or TOML escape can write both; a path holding one cannot be opened)."""
    if "\0" in value:
        raise ConfigError(f"{where}: must not hold a NUL character, got {_shown(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{where}: must be text, got {_shown(value)} (a lone surrogate)") from None


@contextlib.contextmanager
def _defaults(command: argparse.ArgumentParser, defaults: dict | None):
    """The subcommand with `defaults` set, or every default suppressed (None), for one parse; then as it was."""
    saved = {action: action.default for action in command._actions}, dict(command._defaults)
    try:
        if defaults is None:
            for action in command._actions:
                action.default = argparse.SUPPRESS
            command._defaults.clear()
        else:
            command.set_defaults(**defaults)
        yield
    finally:
        for action, default in saved[0].items():
            action.default = default
        command._defaults = saved[1]


def _options_not_given(options: dict, command: argparse.ArgumentParser, given: set[str], path: str) -> dict:
    """The file's options less those the command line gave, and less the rivals of a flag it gave from a
    mutually exclusive group (--quiet on the command line outdoes the file's json = true)."""
    given = set(given)
    for group in command._mutually_exclusive_groups:
        rivals = {a.dest for a in group._group_actions}
        if rivals & given:
            given |= rivals
        set_in_file = sorted(a.dest for a in group._group_actions if options.get(a.dest, a.default) != a.default)
        if len(set_in_file) > 1:
            raise ConfigError(f"{path}: {', '.join(set_in_file)}: only one of these may be set")
    return {dest: value for dest, value in options.items() if dest not in given}


