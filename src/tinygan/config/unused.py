"""Settings that only another setting's value puts to use: `--adam-beta1` with SGD, `--mean` with the ring.

Such a setting is not wrong (a preset or a config file may carry it for a later change), so it is not refused;
but one the user gave that the rest of the config ignores is said in a note, as a typo would otherwise go
unseen. (Combinations that cannot mean anything, such as label smoothing under a critic, are refused by the
settings' own checks.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tinygan.config.settings import Config


def _staircase(config: Config) -> bool:
    return config.optim.schedule == "staircase"


def _adam(config: Config) -> bool:
    return config.optim.optimizer == "adam"


def _minibatch(config: Config) -> bool:
    return config.model.minibatch


def _plateau(config: Config) -> bool:
    return config.train.stop_when.strip() == "plateau"


# A setting, whether the config puts it to use, and what would.
READ_ONLY_WITH: dict[str, tuple[Callable[[Config], bool], str]] = {
    "mean": (lambda config: config.data.target == "gaussian", "the gaussian target"),
    "std": (lambda config: config.data.target == "gaussian", "the gaussian target"),
    "mixture_means": (lambda config: config.data.target == "mixture", "the mixture target"),
    "mixture_stds": (lambda config: config.data.target == "mixture", "the mixture target"),
    "mixture_weights": (lambda config: config.data.target == "mixture", "the mixture target"),
    "noise_jitter": (lambda config: config.data.noise == "stratified", "--noise stratified"),
    "minibatch_kernels": (_minibatch, "--minibatch"),
    "minibatch_dims": (_minibatch, "--minibatch"),
    "minibatch_init_std": (_minibatch, "--minibatch"),
    "minibatch_include_self": (_minibatch, "--minibatch"),
    "init_std": (lambda config: config.model.init == "normal", "--init normal"),
    "maxout_pieces": (lambda config: "maxout" in (config.model.generator_activation,
                                                  config.model.discriminator_activation), "a maxout activation"),
    "decay_rate": (_staircase, "--schedule staircase"),
    "decay_steps": (_staircase, "--schedule staircase"),
    "adam_beta1": (_adam, "--optimizer adam"),
    "adam_beta2": (_adam, "--optimizer adam"),
    "plateau_metric": (_plateau, "--stop-when plateau"),
    "plateau_window": (_plateau, "--stop-when plateau"),
    "plateau_tolerance": (_plateau, "--stop-when plateau"),
    "best_metric": (lambda config: config.train.keep_best, "--keep-best"),
}


def unused_settings(config: Config, given: Iterable[str]) -> list[str]:
    """A line for each of the settings `given` (field names) that `config` does not use."""
    return [f"--{name.replace('_', '-')} is not used: only {READ_ONLY_WITH[name][1]} reads it"
            for name in given if name in READ_ONLY_WITH and not READ_ONLY_WITH[name][0](config)]
