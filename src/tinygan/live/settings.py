"""What the live page may change, and how its values become a config: every value checked, none trusted.

The page speaks in `settings`, a flat dict of the knobs GAN Lab shows (objective, stabilizers, learning
rates, batch size, seed) plus the preset and the target. `apply` turns a change into a new Config through
the config's own checks, with the live view's tighter bounds on top; every problem is one SettingsError
line, shown in the page.
"""

from __future__ import annotations

import dataclasses

from tinygan.config import PRESETS, SECTIONS, Config, ConfigError, field_docs, replace
from tinygan.core.objectives import OBJECTIVES
from tinygan.core.optimizers import OPTIMIZERS, learning_rates
from tinygan.engine.resolve import config_from_preset

# The page's knobs: setting -> the config field it sets.
FIELDS = {
    "objective": "train.objective",
    "minibatch": "model.minibatch",
    "label_smoothing": "train.label_smoothing",
    "gradient_penalty": "train.gradient_penalty",
    "r1": "train.r1",
    "n_critic": "train.n_critic",
    "unroll_steps": "train.unroll_steps",
    "generator_ema": "train.generator_ema",
    "optimizer": "optim.optimizer",
    "generator_learning_rate": "optim.generator_learning_rate",
    "discriminator_learning_rate": "optim.discriminator_learning_rate",
    "batch_size": "train.batch_size",
    "seed": "train.seed",
    "noise_dim": "data.noise_dim",
    "generator_width": "model.generator_width",
    "generator_layers": "model.generator_layers",
    "discriminator_width": "model.discriminator_width",
    "discriminator_layers": "model.discriminator_layers",
}
# The page's label of each setting: what an error names it by (tests check them against index.html).
LABELS = {"preset": "Preset", "target": "Target", "objective": "Objective", "minibatch": "Minibatch discrimination",
          "label_smoothing": "Label smoothing", "gradient_penalty": "Gradient penalty", "r1": "R1 penalty",
          "n_critic": "D steps per G step", "unroll_steps": "Unrolled steps", "generator_ema": "G weights EMA",
          "optimizer": "Optimizer", "generator_learning_rate": "G learning rate",
          "discriminator_learning_rate": "D learning rate", "batch_size": "Batch size", "seed": "Seed",
          "noise_dim": "Noise dimension", "generator_width": "G width", "generator_layers": "G layers",
          "discriminator_width": "D width", "discriminator_layers": "D layers"}
CUSTOM = "custom"  # the preset a session shows once its target is not its preset's
TARGETS = ("gaussian", "mixture", "ring", "grid", "spiral", "swiss_roll", "moons")  # built in, no file to read
UPLOAD = "upload"  # settings["target"] of a session on the uploaded file
# Tighter than the config's own bounds: a live session answers within a fraction of a second.
LIMITS = {"batch_size": 4_096, "n_critic": 20, "unroll_steps": 20, "noise_dim": 16, "generator_width": 1_024,
          "generator_layers": 8, "discriminator_width": 1_024, "discriminator_layers": 8}
# Settings that leave the data and both networks as they are: changing them keeps the trained weights.
KEEP_WEIGHTS = ("objective", "label_smoothing", "gradient_penalty", "r1", "n_critic", "unroll_steps",
                "generator_ema", "optimizer", "generator_learning_rate", "discriminator_learning_rate", "batch_size")


class SettingsError(ConfigError):
    """A value from the page that cannot be used: one line, shown in the page."""


def settings_of(config: Config) -> dict:
    """The page's view of a config: each knob's value, the learning rates as training uses them."""
    generator_rate, discriminator_rate = learning_rates(config)
    values = {name: _field(config, path) for name, path in FIELDS.items()}
    values.update(generator_learning_rate=generator_rate, discriminator_learning_rate=discriminator_rate,
                  generator_width=config.model.generator_width or config.model.hidden_size,  # the widths in use
                  discriminator_width=config.model.discriminator_width or 2 * config.model.hidden_size)
    target = config.data.target
    return {"preset": config.preset, "target": UPLOAD if target.startswith("file:") else target, **values}


def options() -> dict:
    """The choices the page offers, and each knob's help (the config field's own docstring)."""
    return {
        "presets": list(PRESETS),
        "targets": list(TARGETS),
        "objectives": list(OBJECTIVES),
        "optimizers": list(OPTIMIZERS),
        "settings_help": {name: _help(path) for name, path in FIELDS.items()} | {
            "preset": "A named configuration: choosing one replaces every setting and starts again.",
            "target": "The distribution the generator learns; changing it starts again. Upload a CSV of 1 or "
                      "2 numeric columns to learn your own data: the data preset, sized for it, learns it.",
        },
        "limits": LIMITS,
    }


def apply(config: Config, changes, upload: str | None) -> Config:
    """`config` with the page's `changes` (a dict of settings); `upload` is the uploaded file's path, if any.

    A preset replaces everything first; a new target drops the old one's parameters. The result passes the
    config's own checks and LIMITS, or SettingsError names the setting and the value.
    """
    if not isinstance(changes, dict) or not changes:
        raise SettingsError("settings: expected a JSON object of settings to change, e.g. {\"objective\": \"minimax\"}")
    known = ("preset", "target", *FIELDS)
    for name in changes:
        if name not in known:
            raise SettingsError(f"{_short(name)}: unknown setting (known: {', '.join(known)})")
    if "preset" in changes:
        config = _preset(changes["preset"])
    overrides = {FIELDS[name]: value for name, value in changes.items() if name in FIELDS}
    noise_dim = changes.get("noise_dim")
    if isinstance(noise_dim, int) and noise_dim > 1 and config.data.noise == "stratified":
        overrides["data.noise"] = "uniform"  # the seed's stratified noise is 1-D: a wider one is uniform
    for name, maximum in LIMITS.items():
        value = changes.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > maximum:
            raise SettingsError(f"{LABELS[name]}: at most {maximum:,} in the live view, got {value:,}")
    if "target" in changes:
        target = _target(changes["target"], upload)
        if target.startswith("file:") and "preset" not in changes:  # a table: the data preset, sized for it
            try:
                config = config_from_preset("data", target=target)
            except ConfigError as error:
                raise SettingsError(one_line(error)) from None
        # The old target's parameters and the metrics named after it (a run's resolved config names w1) go.
        if "preset" not in changes and not target.startswith("file:"):
            config = dataclasses.replace(config, preset=CUSTOM)  # the preset's settings, another target
        overrides.update({"data.target": target, "data.target_params": "",
                          "data.columns": "", "train.stop_when": "", "train.plateau_metric": "",
                          "train.best_metric": ""})
    try:
        return replace(config, **overrides)
    except ConfigError as error:
        raise SettingsError(_labelled(one_line(error))) from None
    except (TypeError, ValueError, OverflowError) as error:  # a value the config's checks could not even compare
        raise SettingsError(f"settings: {one_line(error)}") from None


def speed(value, highest: int) -> int | None:
    """A speed a page asked for: iterations a second from 1 to `highest`, or None (as fast as it goes)."""
    if value is None or (type(value) is int and 1 <= value <= highest):  # JSON's true is not a speed
        return value
    raise SettingsError(f"speed: iterations a second from 1 to {highest:,}, or null for as fast as it goes; "
                        f"got {value!r:.40}")


def switch(name: str, value) -> bool:
    """A switch a page turned: true or false."""
    if type(value) is bool:
        return value
    raise SettingsError(f"{name}: true or false; got {value!r:.40}")


def noise_warning(config: Config, dim: int) -> str:
    """A warning when G's noise has fewer dimensions than the target: G's samples then lie on a curve (a
    surface...) and cannot fill it; empty otherwise."""
    noise = config.data.noise_dim if config.data.noise != "stratified" else 1
    if noise >= dim:
        return ""
    return (f"G's noise has {noise} dimension{'s' if noise > 1 else ''}: its samples lie on a "
            f"{'curve' if noise == 1 else f'{noise}-D surface'} and cannot fill a {dim}-D target; raise the noise "
            "dimension")


def changes_weights(old: Config, new: Config) -> bool:
    """Whether going from `old` to `new` needs new networks or data: anything but the KEEP_WEIGHTS knobs."""
    kept = {FIELDS[name] for name in KEEP_WEIGHTS} | {"optim.learning_rate"}
    return _without(old, kept) != _without(new, kept)


def _without(config: Config, paths: set[str]) -> dict:
    values = config.to_dict()
    for path in paths:
        section, name = path.split(".")
        values[section].pop(name)
    return values


def _labelled(text: str) -> str:
    """A config error's text naming the setting as the page labels it: "Batch size: must be ...", not
    "train.batch_size: must be ..."."""
    for name, path in FIELDS.items():
        if text.startswith(f"{path}:"):
            return LABELS[name] + text[len(path):]
    return text


def _preset(name) -> Config:
    if not isinstance(name, str) or name not in PRESETS:
        raise SettingsError(f"Preset: must be one of {', '.join(PRESETS)}, got {_short(name)}")
    return config_from_preset(name)


def _target(name, upload: str | None) -> str:
    if name == UPLOAD:
        if upload is None:
            raise SettingsError("Target: no file uploaded yet")
        return f"file:{upload}"
    if not isinstance(name, str) or name not in TARGETS:
        raise SettingsError(f"Target: must be one of {', '.join(TARGETS)} or {UPLOAD}, got {_short(name)}")
    return name


def _field(config: Config, path: str):
    section, name = path.split(".")
    return getattr(getattr(config, section), name)


def _help(path: str) -> str:
    section, name = path.split(".")
    return field_docs(SECTIONS[section])[name]


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line(text, limit: int = 300) -> str:
    """An error's text (or any text) as one line of at most `limit` characters, for the page."""
    return " ".join(str(text).split())[:limit]
