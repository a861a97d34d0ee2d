"""A config against the registries: what only a target, a noise or the measures can tell about it.

`tinygan.config` checks each value alone and each name against its vocabulary. Here the config meets the
registries: a target's parameters and a file's rows, the noise's width, the metrics a target records (which a
stopping rule or keep-best may name), and the `data` preset's size, which follows the table's shape.
"""

from __future__ import annotations

from tinygan.config import Config, ConfigError, DataConfig, parse_stop_rule, presets, replace
from tinygan.core.noise import make_noise
from tinygan.data.targets import FileTarget, make_target
from tinygan.engine.devices import check_device
from tinygan.measure.scoring import metric_columns


def config_from_preset(preset: str = "seed", **overrides) -> Config:
    """A named preset with overrides, checked against the registries, e.g.
    `config_from_preset("seed", minibatch=True, num_steps=500)`.

    The `data` preset is sized for the table the overrides name, and the overrides still win:
    `config_from_preset("data", target="file:x.csv", num_steps=500)`.
    """
    return check(presets.config_from_preset(preset, table_shape=table_shape, **overrides))


def check(config: Config) -> Config:
    """`config` when the registries accept it; a ConfigError naming the setting otherwise."""
    target, noise = make_target(config.data), make_noise(config.data)  # their own checks; a file loads once
    rule, recorded = parse_stop_rule(config.train.stop_when), recorded_metrics(config)
    for where, name in (("stop_when", rule.metric if rule else ""), ("plateau_metric", config.train.plateau_metric),
                        ("best_metric", config.train.best_metric)):
        if name and name not in recorded:
            raise ConfigError(f"train.{where}: {name} is not recorded for target {config.data.target!r} "
                              f"(recorded: {', '.join(recorded)})")
    if config.model.generator_skip and noise.dim < target.dim:
        raise ConfigError(f"model.generator_skip: G adds its noise to its output, so the noise needs at least "
                          f"the data's {target.dim} dimensions; got data.noise_dim {noise.dim}")
    check_device(config.train.device)
    return config


def table_shape(data: DataConfig) -> tuple[int | None, int]:
    """(rows, columns) of a target: a file's table, or (None, dim) for a law, which has no rows."""
    target = make_target(data)
    return (len(target.data), target.dim) if isinstance(target, FileTarget) else (None, target.dim)


def recorded_metrics(config: Config) -> tuple[str, ...]:
    """The history's columns a stopping rule or keep-best may read: both losses and the target's metrics."""
    return ("loss_d", "loss_g") + metric_columns(make_target(config.data))


def main_metric(config: Config) -> str:
    """The distance a plateau or keep-best reads unless told: w1 in 1-D, sliced_w1 in more dimensions."""
    return "w1" if "w1" in recorded_metrics(config) else "sliced_w1"


def resolved(config: Config) -> Config:
    """The same config, checked (`check`), with every automatic value written out (learning rate, plateau and
    best metrics)."""
    main = main_metric(check(config))
    return replace(config, learning_rate=config.learning_rate, plateau_metric=config.train.plateau_metric or main,
                   best_metric=config.train.best_metric or main)
