"""Settings: frozen dataclasses and the checks of their values, as plain data.

Every section checks its fields when it is built, so a bad value fails before any training with a message
naming the field (`train.batch_size: must be >= 1, got 0`). Names are checked against `names`, the registries'
vocabulary; what only a registry can tell (a target's parameters, a file's rows, the metrics a target records)
is checked when the config meets them (`tinygan.resolve.check`). Each field's docstring is its `--help` text.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import inspect
import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tinygan.config import names


class ConfigError(ValueError):
    """A configuration value is out of range, of the wrong type, or unknown."""


# Sizes beyond any low-dimensional GAN, refused before XLA is asked for them (it would abort or never finish).
MAX_WIDTH, MAX_LAYERS, MAX_BATCH = 65_536, 64, 1_048_576
MAX_NOISE_DIM = 1_024  # the noise grid's Latin hypercube shuffles every coordinate past the first (`noise.quantile_grid`)
MAX_STEPS = 2**31 - 1  # counts of steps: the step counters are 32-bit integers
MAX_REPEATS = 1_000  # steps repeated within one iteration (n_critic, unroll_steps) or maxout's pieces
MAX_SMOOTHING = 1e6  # data.smoothing, in gaps between neighbouring rows


def _is_finite(number: float) -> bool:
    """math.isfinite, for ints beyond float's range too (which it cannot convert)."""
    return abs(number) < 2**1023 if isinstance(number, int) else math.isfinite(number)


FLOAT32_MAX = 3.4028234663852886e38  # float(np.finfo(np.float32).max)


def _require(section: str, name: str, value: Any, kind: type, *, minimum=None, maximum=None, above=None,
             choices=None):
    """Check one field; raise ConfigError naming it as `section.name`."""
    where = f"{section}.{name}"
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is float and not (is_number and _is_finite(value)):
        raise ConfigError(f"{where}: must be a finite number, got {value!r}")
    if kind is float and abs(value) > FLOAT32_MAX:  # it would be infinite in the program
        raise ConfigError(f"{where}: must be within float32's range, +-3.4e38 (training computes in float32), "
                          f"got {value!r}")
    if kind is int and not (isinstance(value, int) and not isinstance(value, bool)):
        raise ConfigError(f"{where}: must be a whole number, got {value!r}")
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{where}: must be true or false, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"{where}: must be a string, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}: must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{where}: must be <= {maximum:,}, got {value!r}")
    if above is not None and value <= above:
        raise ConfigError(f"{where}: must be > {above}, got {value!r}")
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}: must be one of {', '.join(sorted(choices))}, got {value!r}")


@dataclass(frozen=True)
class DataConfig:
    """What the generator learns to imitate, and the noise it starts from."""

    target: str = "gaussian"
    """Target: 1-D gaussian, mixture or scipy:NAME (a continuous scipy.stats law); 2-D ring, grid, spiral, swiss_roll or moons; or file:PATH (samples, .csv or .npy, any number of columns)."""
    mean: float = 4.0
    """Mean of the Gaussian target."""
    std: float = 0.5
    """Standard deviation of the Gaussian target."""
    mixture_means: str = "-2, 2"
    """Means of the mixture target's Gaussian components, separated by commas (--mixture-means=-2,2)."""
    mixture_stds: str = "0.5"
    """Standard deviations of the mixture's components: one per mean, or one shared by all."""
    mixture_weights: str = ""
    """Weights of the mixture's components, one per mean, normalised to sum 1 (empty: equal weights)."""
    target_params: str = ""
    """Parameters of the target as name=number pairs (never run as code): a scipy law's ("a=2, scale=0.5"); ring: modes, radius, std (8, 1, 0.01); grid: size, spacing, std (5, 2, 0.05); spiral, swiss_roll, moons: noise (0.05)."""
    columns: str = ""
    """Columns of a file target: 0-based indices or header names, separated by commas (empty: all)."""
    noise: str = "stratified"
    """Generator input: stratified (the seed's linspace plus a jitter), uniform or gaussian (see noise_range)."""
    noise_dim: int = 1
    """Width of the generator's input for uniform and gaussian noise (stratified noise is 1-D)."""
    noise_range: float = 8.0
    """Half-width r of the noise (uniform: U[-r, r), gaussian: N(0, r^2/3)); also the x range of the pictures."""
    noise_jitter: float = 0.01
    """Width of the uniform jitter added to each stratified noise point."""
    standardize: bool = False
    """Train in standard units: D sees (x - mean) / scale and G's output is mapped back as mean + scale * G(z), with the target's own per-column mean and standard deviation."""
    quantile_transform: bool = False
    """Train on each column's normal scores: x becomes Phi^-1(F(x)), F the column's distribution (a file's rows, or 100,000 draws of a law), and G's output is mapped back through the column's quantiles: values stay within the column's range, and a column whose values repeat (integers, counts) is generated on its own values."""
    smoothing: float = 0.0
    """With quantile_transform: blur each real row's normal scores by a Gaussian kernel s times as wide as the typical gap between neighbouring rows (per column), shaped like the columns' correlations and rescaled so every column stays N(0, 1); G learns a smoothed table (a kernel estimate of it) rather than its exact rows: fewer copies of small tables (0: off)."""

    def __post_init__(self):
        _require("data", "target", self.target, str)
        kind, colon, argument = self.target.partition(":")
        takes_argument = kind in names.TAKES_ARGUMENT
        if kind not in names.TARGETS or (colon and not argument.strip()) or takes_argument != bool(colon):
            known = ", ".join(f"{name}:..." if name in names.TAKES_ARGUMENT else name for name in names.TARGETS)
            looks_like_a_file = self.target.lower().endswith((".csv", ".npy")) or "/" in self.target
            close = difflib.get_close_matches(kind, names.TARGETS, n=1, cutoff=0.6)
            hint = (f"; a data file is file:{self.target}" if looks_like_a_file and not colon else
                    f"; did you mean {close[0]}?" if close and close[0] != kind else "")
            raise ConfigError(f"data.target: must be one of {known}, got {self.target!r}{hint}")
        _require("data", "mean", self.mean, float)
        _require("data", "std", self.std, float, above=0)
        for name in ("mixture_means", "mixture_stds", "mixture_weights", "target_params", "columns"):
            _require("data", name, getattr(self, name), str)
        if self.target_params.strip() and kind not in names.TAKES_PARAMS:
            raise ConfigError(f"data.target_params: target {self.target!r} takes no parameters")
        if self.columns.strip() and kind != "file":
            raise ConfigError(f"data.columns: only file targets have columns, got target {self.target!r}")
        _require("data", "noise", self.noise, str, choices=names.NOISES)
        _require("data", "noise_dim", self.noise_dim, int, minimum=1, maximum=MAX_NOISE_DIM)
        if self.noise == "stratified" and self.noise_dim != 1:
            raise ConfigError(f"data.noise_dim: the stratified noise is 1-D, got {self.noise_dim}")
        _require("data", "noise_range", self.noise_range, float, above=0)
        _require("data", "noise_jitter", self.noise_jitter, float, minimum=0)
        _require("data", "standardize", self.standardize, bool)
        _require("data", "quantile_transform", self.quantile_transform, bool)
        if self.standardize and self.quantile_transform:
            raise ConfigError("data.quantile_transform: the networks work in one kind of units; "
                              "choose it or data.standardize")
        _require("data", "smoothing", self.smoothing, float, minimum=0, maximum=MAX_SMOOTHING)
        if self.smoothing and not self.quantile_transform:
            raise ConfigError(f"data.smoothing: blurs normal scores, so it needs data.quantile_transform; got "
                              f"{self.smoothing!r} without it")


@dataclass(frozen=True)
class ModelConfig:
    """The two networks."""

    hidden_size: int = 4
    """Generator hidden width h; the discriminator is 2h wide."""
    minibatch: bool = False
    """Minibatch discrimination as the discriminator's third block (Salimans et al. 2016)."""
    minibatch_kernels: int = 5
    """Number of minibatch-discrimination kernels."""
    minibatch_dims: int = 3
    """Dimension of each minibatch-discrimination kernel."""
    init: str = "normal"
    """Initial weights of the linear layers (biases start at 0): normal (N(0, init_std^2), the seed's), glorot (N(0, 2/(fan_in+fan_out))) or he (N(0, 2/fan_in))."""
    init_std: float = 1.0
    """Standard deviation of every linear layer's initial weights with init normal."""
    minibatch_init_std: float = 0.02
    """Standard deviation of the minibatch-discrimination projection's initial weights."""
    minibatch_include_self: bool = True
    """Count each sample's distance to itself in its minibatch features (the seed's); false: only the others."""
    generator_activation: str = "softplus"
    """Activation after each of the generator's hidden layers: tanh, relu, leaky_relu, softplus, elu, sigmoid, identity or maxout."""
    discriminator_activation: str = "tanh"
    """Activation after each of the discriminator's hidden layers and its plain third block (same choices)."""
    generator_layers: int = 1
    """Hidden layers of the generator."""
    discriminator_layers: int = 2
    """Hidden layers of the discriminator before its third block."""
    generator_width: int = 0
    """Width of the generator's hidden layers (0: hidden_size)."""
    discriminator_width: int = 0
    """Width of the discriminator's hidden layers (0: 2 * hidden_size)."""
    pack: int = 1
    """PacGAN: samples the discriminator judges together, concatenated (Lin et al. 2018); divides batch_size."""
    maxout_pieces: int = 5
    """Pieces of each maxout unit (Goodfellow et al. 2013): a unit is the largest of this many linear outputs."""
    generator_batch_norm: bool = False
    """Batch normalisation of each of G's hidden layers before its activation, by the statistics of the batch G is given (PacGAN's generator)."""
    generator_skip: bool = False
    """G(z) = z[:dim] + MLP(z), its last layer starting at 0: G starts as the identity on the first dim noise coordinates (needs noise_dim >= the data's dimension)."""

    def __post_init__(self):
        _require("model", "hidden_size", self.hidden_size, int, minimum=1, maximum=MAX_WIDTH)
        _require("model", "minibatch", self.minibatch, bool)
        _require("model", "minibatch_kernels", self.minibatch_kernels, int, minimum=1, maximum=MAX_WIDTH)
        _require("model", "minibatch_dims", self.minibatch_dims, int, minimum=1, maximum=MAX_WIDTH)
        _require("model", "init", self.init, str, choices=names.INITS)
        _require("model", "init_std", self.init_std, float, minimum=0)
        _require("model", "minibatch_init_std", self.minibatch_init_std, float, minimum=0)
        _require("model", "minibatch_include_self", self.minibatch_include_self, bool)
        _require("model", "generator_activation", self.generator_activation, str, choices=names.ACTIVATIONS)
        _require("model", "discriminator_activation", self.discriminator_activation, str, choices=names.ACTIVATIONS)
        _require("model", "generator_layers", self.generator_layers, int, minimum=1, maximum=MAX_LAYERS)
        _require("model", "discriminator_layers", self.discriminator_layers, int, minimum=1, maximum=MAX_LAYERS)
        _require("model", "generator_width", self.generator_width, int, minimum=0, maximum=MAX_WIDTH)
        _require("model", "discriminator_width", self.discriminator_width, int, minimum=0, maximum=MAX_WIDTH)
        _require("model", "pack", self.pack, int, minimum=1)
        _require("model", "maxout_pieces", self.maxout_pieces, int, minimum=1, maximum=MAX_REPEATS)
        _require("model", "generator_batch_norm", self.generator_batch_norm, bool)
        _require("model", "generator_skip", self.generator_skip, bool)


@dataclass(frozen=True)
class OptimConfig:
    """One optimizer per network (and a fresh one like D's for pre-training), each with its learning-rate schedule."""

    optimizer: str = "sgd"
    """Optimizer of each network and of D's pre-training: sgd (the seed's), adam or rmsprop."""
    learning_rate: float | None = None
    """Learning rate of every optimizer; unset: the seed's 0.005 with minibatch discrimination, 0.03 without."""
    generator_learning_rate: float | None = None
    """The generator's learning rate (0 freezes it); unset: learning_rate."""
    discriminator_learning_rate: float | None = None
    """The discriminator's learning rate, pre-training included (0 freezes it); unset: learning_rate."""
    schedule: str = "staircase"
    """Learning-rate schedule over an optimizer's own steps: constant, staircase (the seed's) or cosine (to 0)."""
    decay_rate: float = 0.95
    """Factor applied to the learning rate every decay_steps of an optimizer's own steps (staircase only)."""
    decay_steps: int = 150
    """Steps between learning-rate decays (staircase only)."""
    adam_beta1: float = 0.9
    """Adam's decay rate of the gradient's mean, in [0, 1) (PacGAN: 0.8; WGAN-GP: 0.5)."""
    adam_beta2: float = 0.999
    """Adam's decay rate of the squared gradient's mean, in [0, 1) (WGAN-GP: 0.9)."""
    pretrain_steps: int = 1000
    """Steps of discriminator pre-training on the target's density before the game (0: none)."""

    def __post_init__(self):
        _require("optim", "optimizer", self.optimizer, str, choices=names.OPTIMIZERS)
        if self.learning_rate is not None:
            _require("optim", "learning_rate", self.learning_rate, float, above=0)
        for name in ("generator_learning_rate", "discriminator_learning_rate"):
            if getattr(self, name) is not None:
                _require("optim", name, getattr(self, name), float, minimum=0)
        _require("optim", "schedule", self.schedule, str, choices=names.SCHEDULES)
        _require("optim", "decay_rate", self.decay_rate, float, above=0)
        _require("optim", "decay_steps", self.decay_steps, int, minimum=1, maximum=MAX_STEPS)
        for name in ("adam_beta1", "adam_beta2"):
            _require("optim", name, getattr(self, name), float, minimum=0)
            if getattr(self, name) >= 1:
                raise ConfigError(f"optim.{name}: must be < 1, got {getattr(self, name)!r}")
        _require("optim", "pretrain_steps", self.pretrain_steps, int, minimum=0, maximum=MAX_STEPS)


NAN_POLICIES = names.NAN_POLICIES
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_THRESHOLD_RULE = re.compile(rf"\s*(\w+)\s*([<>])\s*({_NUMBER})\s*")
_RULE_SHAPE = re.compile(r"\s*(\w+)\s*([<>])\s*([^<>=\s].*?)\s*")  # a threshold, if not a number


class StopRule(NamedTuple):
    """A parsed train.stop_when: `metric < threshold` (below), `metric > threshold`, or a plateau."""

    kind: str  # "<", ">" or "plateau"
    metric: str = ""  # a names.STOP_METRICS column; "" for a plateau, which reads train.plateau_metric
    threshold: float = math.nan


def parse_stop_rule(text: str, *, plateau: bool = True) -> StopRule | None:
    """`"w1<0.02"` -> StopRule("<", "w1", 0.02); `"plateau"` -> StopRule("plateau") (unless `plateau` is
    False: a sweep's success is a threshold); `""` -> None.

    A regular expression, never eval; raises ValueError saying what was expected.
    """
    expected = "METRIC<NUMBER, METRIC>NUMBER or plateau" if plateau else "METRIC<NUMBER or METRIC>NUMBER"
    if not text.strip():
        return None
    if plateau and text.strip() == "plateau":
        return StopRule("plateau")
    match = _THRESHOLD_RULE.fullmatch(text)
    if match is None:
        shaped = _RULE_SHAPE.fullmatch(text)  # METRIC<something: say what is wrong with the something
        if shaped:
            raise ValueError(f"the threshold {shaped[3]!r} in {text!r} is not a finite number (expected {expected})")
        raise ValueError(f"expected {expected}, got {text!r}")
    metric, kind, threshold = match.groups()
    if metric not in names.STOP_METRICS:
        raise ValueError(f"unknown metric {metric!r} in {text!r} (known: {', '.join(names.STOP_METRICS)})")
    if not math.isfinite(float(threshold)):
        raise ValueError(f"the threshold must be finite, got {text!r}")
    return StopRule(kind, metric, float(threshold))


@dataclass(frozen=True)
class TrainConfig:
    """The game: how long, how big a batch, how often to look."""

    num_steps: int = 1200
    """Training iterations (n_critic discriminator steps, then one generator step)."""
    batch_size: int = 12
    """Samples per batch, real and generated alike."""
    log_every: int = 10
    """Iterations between log points (log line, history row, animation frame)."""
    seed: int = 42
    """Random seed: the same seed gives a bit-identical run."""
    objective: str = "modified"
    """GAN objective: modified (the seed's), minimax, wasserstein, wasserstein_hinge or least_squares."""
    label_smoothing: float = 0.0
    """Move the real labels from 1 toward 1/2 by this fraction, in [0, 1) (minimax and modified only)."""
    gradient_penalty: float = 0.0
    """Weight of the WGAN-GP gradient penalty E[(||grad D(x_hat)|| - 1)^2] on random interpolates (0: off)."""
    r1: float = 0.0
    """Weight gamma of the R1 penalty gamma/2 E[||grad D(x)||^2] on real samples (0: off)."""
    n_critic: int = 1
    """Discriminator steps per generator step, each on its own real batch and noise (WGAN: 5)."""
    unroll_steps: int = 0
    """Look-ahead D steps the generator's loss is taken through (Metz et al. 2016, unrolled GAN; 0: off)."""
    generator_ema: float = 0.0
    """Decay of a moving average of G's weights, in [0, 1), that probes, metrics and samples read (0: off)."""
    stop_when: str = ""
    """Stop at the first log point where METRIC<NUMBER or METRIC>NUMBER holds (METRIC: loss_d, loss_g or a metric the history records for the target; e.g. "w1<0.02"), or "plateau" (see plateau_metric); empty: never stop early."""
    plateau_metric: str = ""
    """History column that --stop-when plateau watches (empty: w1 for 1-D targets, sliced_w1 for others); lower is better, except modes_captured and high_quality."""
    plateau_window: int = 20
    """--stop-when plateau stops after this many log points in a row without an improvement of plateau_metric."""
    plateau_tolerance: float = 0.0
    """Least change past the best value so far that counts as an improvement (plateau_metric's units)."""
    keep_best: bool = False
    """End with the state of the log point with the best best_metric instead of the last state."""
    best_metric: str = ""
    """History column that --keep-best optimises (empty: w1 for 1-D targets, sliced_w1 for others); lower is better, except modes_captured and high_quality."""
    nan_policy: str = "stop"
    """What an iteration with a non-finite loss or parameter does: stop (the run ends at the last finite state, marked diverged) or skip (its changes to the weights are discarded and counted; the counters go on)."""
    device: str = "auto"
    """Where the programs run: auto (a GPU when there is one and an iteration does enough arithmetic to gain from it: big networks and sweeps of many seeds; else the CPU), cpu or gpu."""

    def __post_init__(self):
        _require("train", "num_steps", self.num_steps, int, minimum=1)
        if self.num_steps >= 2**31:  # the step counter is a 32-bit integer
            raise ConfigError(f"train.num_steps: must be < 2**31, got {self.num_steps}")
        _require("train", "batch_size", self.batch_size, int, minimum=1, maximum=MAX_BATCH)
        _require("train", "log_every", self.log_every, int, minimum=1)
        _require("train", "seed", self.seed, int, minimum=0)
        if self.seed >= 2**32:  # a JAX key holds 32 bits of seed: larger ones would alias smaller ones
            raise ConfigError(f"train.seed: must be < 2**32, got {self.seed}")
        _require("train", "objective", self.objective, str, choices=names.OBJECTIVES)
        _require("train", "label_smoothing", self.label_smoothing, float, minimum=0)
        if self.label_smoothing >= 1:
            raise ConfigError(f"train.label_smoothing: must be < 1, got {self.label_smoothing!r}")
        if self.label_smoothing and self.objective not in names.SMOOTHING_OBJECTIVES:
            smoothing = ", ".join(names.SMOOTHING_OBJECTIVES)
            raise ConfigError(f"train.label_smoothing: only the cross-entropy objectives ({smoothing}) smooth labels, "
                              f"got {self.label_smoothing!r} with objective {self.objective!r}")
        _require("train", "gradient_penalty", self.gradient_penalty, float, minimum=0)
        _require("train", "r1", self.r1, float, minimum=0)
        _require("train", "n_critic", self.n_critic, int, minimum=1, maximum=MAX_REPEATS)
        _require("train", "unroll_steps", self.unroll_steps, int, minimum=0, maximum=MAX_REPEATS)
        _require("train", "generator_ema", self.generator_ema, float, minimum=0)
        if self.generator_ema >= 1:
            raise ConfigError(f"train.generator_ema: must be < 1, got {self.generator_ema!r}")
        _require("train", "device", self.device, str, choices=names.DEVICES)
        _require("train", "stop_when", self.stop_when, str)
        try:
            parse_stop_rule(self.stop_when)
        except ValueError as error:
            raise ConfigError(f"train.stop_when: {error}") from None
        for name in ("plateau_metric", "best_metric"):  # empty: the target's main distance (Config.main_metric)
            _require("train", name, getattr(self, name), str, choices=names.STOP_METRICS if getattr(self, name) else None)
        _require("train", "plateau_window", self.plateau_window, int, minimum=1)
        _require("train", "plateau_tolerance", self.plateau_tolerance, float, minimum=0)
        _require("train", "keep_best", self.keep_best, bool)
        _require("train", "nan_policy", self.nan_policy, str, choices=NAN_POLICIES)


SECTIONS = {"data": DataConfig, "model": ModelConfig, "optim": OptimConfig, "train": TrainConfig}


@dataclass(frozen=True)
class Config:
    """Everything that decides a run's result."""

    preset: str = "seed"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        _require("config", "preset", self.preset, str)
        if self.model.minibatch and self.train.batch_size < 2:
            raise ConfigError(
                f"train.batch_size: must be >= 2 with minibatch discrimination, got {self.train.batch_size}"
            )
        if self.train.batch_size % self.model.pack:  # ModelConfig cannot see the batch: checked here
            raise ConfigError(
                f"model.pack: must divide train.batch_size ({self.train.batch_size}), got {self.model.pack}"
            )

    @property
    def learning_rate(self) -> float:
        """The learning rate in force: the seed's rule when none is set."""
        if self.optim.learning_rate is not None:
            return self.optim.learning_rate
        return 0.005 if self.model.minibatch else 0.03

    # tinygan 0.1's methods, which need the registries: for one release, through the one import that goes up.
    def resolved(self) -> Config:
        """Deprecated: `tinygan.engine.resolve.resolved(config)`."""
        return _moved_up("resolved")(self)

    @property
    def recorded_metrics(self) -> tuple[str, ...]:
        """Deprecated: `tinygan.engine.resolve.recorded_metrics(config)`."""
        return _moved_up("recorded_metrics")(self)

    @property
    def main_metric(self) -> str:
        """Deprecated: `tinygan.engine.resolve.main_metric(config)`."""
        return _moved_up("main_metric")(self)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        """Build a config from `to_dict`'s shape; unknown keys are refused by name."""
        values = dict(values)
        preset = values.pop("preset", "seed")
        sections = {}
        for name, section_values in values.items():
            if name not in SECTIONS:
                raise ConfigError(f"{name}: unknown section (known: {', '.join(SECTIONS)})")
            if not isinstance(section_values, dict):
                raise ConfigError(f"{name}: must be a table of settings, got {section_values!r}")
            known = {f.name for f in dataclasses.fields(SECTIONS[name])}
            for key in section_values:
                if key not in known:
                    raise ConfigError(f"{name}.{key}: unknown setting")
            sections[name] = SECTIONS[name](**section_values)
        return cls(preset=preset, **sections)


def _moved_up(name: str):
    """`tinygan.engine.resolve`'s `name`, with a DeprecationWarning: what Config.`name` became."""
    import warnings

    from tinygan.engine import resolve  # the configuration's one import upward (pyproject.toml ignores it)

    warnings.warn(f"Config.{name} moved to tinygan.engine.resolve.{name}(config); it goes in the next release",
                  DeprecationWarning, stacklevel=3)
    return getattr(resolve, name)


@functools.cache
def field_sections() -> dict[str, str]:
    """Map every field name to the section that holds it (names are unique across sections)."""
    return {f.name: section for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)}


def replace(config: Config, **overrides) -> Config:
    """Return `config` with fields replaced, by plain name (`batch_size`) or path (`train.batch_size`)."""
    changes: dict[str, dict] = {}
    for key, value in overrides.items():
        section, dot, name = key.rpartition(".")
        section = section if dot else field_sections().get(name, "")
        if field_sections().get(name) != section:
            raise ConfigError(f"{key}: unknown setting")
        changes.setdefault(section, {})[name] = value
    return dataclasses.replace(
        config, **{s: dataclasses.replace(getattr(config, s), **c) for s, c in changes.items()}
    )


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass, read from its source."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body
    docs = {}
    for statement, following in itertools.pairwise(body):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[statement.target.id] = following.value.value
    return docs
