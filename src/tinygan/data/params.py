"""A target's parameters as text: numbers and name=number pairs, read by a regular expression, never run as code."""

from __future__ import annotations

import math

import numpy as np
import scipy.special
import scipy.stats

from tinygan.config import ConfigError, DataConfig


def parse_numbers(where: str, text: str) -> tuple[float, ...]:
    """'1, 2.5, -3' -> (1.0, 2.5, -3.0); '' -> (); anything else is refused naming `where`."""
    if not text.strip():
        return ()
    numbers = []
    for piece in text.split(","):
        try:
            number = float(piece)
        except ValueError:
            raise ConfigError(f"{where}: {piece.strip()!r} is not a number (expected numbers separated by commas)")
        if not math.isfinite(number):
            raise ConfigError(f"{where}: must be finite numbers, got {piece.strip()!r}")
        numbers.append(number)
    return tuple(numbers)


def parse_params(text: str) -> dict[str, float]:
    """'a=2, scale=0.5' -> {'a': 2.0, 'scale': 0.5}: names and numbers only, never evaluated as code."""
    values = {}
    for piece in filter(str.strip, text.split(",")):
        key, equals, number = (part.strip() for part in piece.partition("="))
        if not (equals and key.isidentifier() and not key.startswith("_")):
            raise ConfigError(f"data.target_params: expected name=number pairs separated by commas, got {piece.strip()!r}")
        if key in values:
            raise ConfigError(f"data.target_params: {key} is given twice")
        values[key] = parse_numbers("data.target_params", number)[0] if number else None
        if values[key] is None:
            raise ConfigError(f"data.target_params: {key} has no value")
    return values


def shape_params(config: DataConfig, defaults: dict[str, float], whole: tuple[str, ...] = ()) -> dict:
    """A built-in target's parameters: `defaults` overridden by data.target_params, each checked.

    Every parameter must be > 0; those in `whole` must be whole numbers (returned as int).
    """
    given = parse_params(config.target_params)
    for name in given:
        if name not in defaults:
            raise ConfigError(f"data.target_params: {config.target} takes {', '.join(defaults)}; got {name!r}")
    values = {**defaults, **given}
    for name, value in values.items():
        if name in whole and value != int(value):
            raise ConfigError(f"data.target_params: {name} must be a whole number, got {value:g}")
        if value <= 0:
            raise ConfigError(f"data.target_params: {name} must be > 0, got {value:g}")
    return {name: int(value) if name in whole else value for name, value in values.items()}


def parse_scipy_law(name: str, params: str):
    """A frozen continuous `scipy.stats` law from a name and 'key=number, ...' (never evaluated as code)."""
    law = getattr(scipy.stats, name, None) if name.isidentifier() and not name.startswith("_") else None
    if not isinstance(law, scipy.stats.rv_continuous):
        raise ConfigError(f"data.target: {name!r} is not a continuous distribution of scipy.stats")
    values = parse_params(params)
    try:
        frozen = law(**values)
    except TypeError as error:
        raise ConfigError(f"data.target_params: wrong parameters for scipy.stats.{name}: {error}") from None
    if np.isnan(frozen.support()).any():
        raise ConfigError(f"data.target_params: invalid values for scipy.stats.{name}: {params!r}")
    return frozen
