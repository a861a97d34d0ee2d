"""The command line, on top of everything: `parser` turns flags into a config, `commands` runs each command.
Its helpers live beside it: config files (`configfile`), what the terminal shows (`reporting`), speed
figures (`bench`) and the cache of compiled programs (`compile_cache`)."""

from tinygan.cli.commands import COMMANDS, main
from tinygan.cli.parser import (
    EXIT_DIVERGED,
    EXIT_INTERRUPTED,
    EXIT_SIGNALS,
    EXIT_USAGE,
    UsageError,
    build_parser,
    config_from_args,
)

__all__ = ["COMMANDS", "EXIT_DIVERGED", "EXIT_INTERRUPTED", "EXIT_SIGNALS", "EXIT_USAGE", "UsageError",
           "build_parser", "config_from_args", "main"]
