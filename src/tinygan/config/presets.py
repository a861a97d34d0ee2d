"""The named presets: the seed's system, the recommended one, PacGAN's and WGAN-GP's toys, and `data`, which
sizes itself from the table it learns (given its shape: `tinygan.resolve.config_from_preset` reads it)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from tinygan.config.settings import (
    Config,
    ConfigError,
    DataConfig,
    ModelConfig,
    OptimConfig,
    TrainConfig,
    field_sections,
    replace,
)

UNIT_GAUSSIAN_RANGE = math.sqrt(3)  # data.noise_range giving gaussian noise N(0, I): std = range / sqrt(3)


def pacgan_preset(name: str, target: str) -> Config:
    """PacGAN's 2-D experiments (Lin et al. 2018, section 5 and Table 1; the code in fjxmlzn/PacGAN).

    G: 4 x 400 ReLU with batch norm; D: 3 x 200 maxout with 5 pieces (two layers and the third block);
    weights N(0, 0.02^2); Adam 1e-4, beta1 0.8; batches of 100; z ~ N(0, I2); 400 epochs of 100,000
    samples = 400,000 iterations. PacGAN-m: `--pack m --batch-size 100m` (100 packed tuples a batch).
    """
    return Config(
        preset=name,
        data=DataConfig(target=target, noise="gaussian", noise_dim=2, noise_range=UNIT_GAUSSIAN_RANGE),
        model=ModelConfig(generator_layers=4, generator_width=400, generator_activation="relu",
                          generator_batch_norm=True, discriminator_layers=2, discriminator_width=200,
                          discriminator_activation="maxout", maxout_pieces=5, init_std=0.02),
        optim=OptimConfig(optimizer="adam", learning_rate=1e-4, adam_beta1=0.8, schedule="constant",
                          pretrain_steps=0),
        train=TrainConfig(num_steps=400_000, batch_size=100, log_every=1_000),
    )


def fast_preset(name: str, target: str) -> Config:
    """PacGAN's ring or grid learnt in 30,000 iterations instead of 400,000: `wide30k-ema` of
    benchmarks/ring_grid_search.py, the best its search found.

    G 4 x 256 ReLU and D 2 x 128 ReLU, He initialisation; z ~ N(0, I2); batches of 256; Adam 1e-3 with beta1 0.5
    and a cosine decay to 0; the modified loss with R1 0.1; samples from an EMA of G's weights (0.999).
    """
    return Config(
        preset=name,
        data=DataConfig(target=target, noise="gaussian", noise_dim=2, noise_range=UNIT_GAUSSIAN_RANGE),
        model=ModelConfig(generator_layers=4, generator_width=256, generator_activation="relu",
                          discriminator_layers=2, discriminator_width=128, discriminator_activation="relu", init="he"),
        optim=OptimConfig(optimizer="adam", learning_rate=1e-3, adam_beta1=0.5, schedule="cosine", pretrain_steps=0),
        train=TrainConfig(num_steps=30_000, batch_size=256, log_every=2_000, r1=0.1, generator_ema=0.999),
    )


MIN_TABLE_ROWS, MAX_TABLE_COLUMNS = 20, 16  # the tables the `data` preset learns
LARGE_TABLE = 20_000  # rows past which the data preset trains wider networks for longer
DATA_LOG_POINTS = 25  # log points (history rows, animation frames) of a data preset's run
LAW_TABLE_ROWS = 100_000  # the rows a law (which has none) counts as when the data preset sizes itself


def data_log_interval(num_steps: int) -> int:
    """The data preset's log interval: about DATA_LOG_POINTS log points, at an interval that divides num_steps
    where one gives between 2/3 and 3/2 as many (the nearest; a shorter last interval would be a compiled
    program of its own, seconds for a second or two of training), else num_steps // DATA_LOG_POINTS."""
    ideal = num_steps / DATA_LOG_POINTS
    divisors = {d for i in range(1, math.isqrt(num_steps) + 1) if num_steps % i == 0 for d in (i, num_steps // i)}
    near = [d for d in divisors if ideal / 1.5 <= d <= ideal * 1.5]
    return min(near, key=lambda d: (abs(d - ideal), d)) if near else max(1, num_steps // DATA_LOG_POINTS)


def data_preset(rows: int | None, columns: int, num_steps: int | None = None) -> Config:
    """The `data` preset for a table of `rows` x `columns` (rows None: a law, which gives as many as asked);
    `num_steps` replaces the iterations it would choose (the log interval follows).

    A GAN on each column's normal scores (data.quantile_transform) whose generator starts as the identity
    (model.generator_skip), so every column's law is right from the first step and training learns how the
    columns go together. The real rows are blurred by a kernel as wide as the gap between neighbouring rows
    (data.smoothing 1), so G learns the law the rows were drawn from rather than copies of them. G and D:
    3 hidden layers of leaky ReLUs (He init), 64 wide and 10,000 iterations up to LARGE_TABLE rows, 128 wide
    and 40,000 iterations above; noise N(0, I) of the table's width; batches of
    256 (all rows, when fewer); Adam 1e-3 with betas (0.5, 0.9) and a cosine decay; the non-saturating loss
    with R1 = 5; G's samples read from an EMA of its weights (0.999). benchmarks/results/data_recipe.md
    has the search behind each choice.
    """
    rows = LAW_TABLE_ROWS if rows is None else rows
    large = rows > LARGE_TABLE
    num_steps = num_steps or (40_000 if large else 10_000)
    width = 128 if large else 64
    return Config(
        preset="data",
        data=DataConfig(noise="gaussian", noise_dim=columns, noise_range=UNIT_GAUSSIAN_RANGE,
                        quantile_transform=True, smoothing=1.0),
        model=ModelConfig(generator_layers=3, generator_width=width, generator_activation="leaky_relu",
                          generator_skip=True, discriminator_layers=2, discriminator_width=width,
                          discriminator_activation="leaky_relu", init="he"),
        optim=OptimConfig(optimizer="adam", learning_rate=1e-3, adam_beta1=0.5, adam_beta2=0.9, schedule="cosine",
                          pretrain_steps=0),
        train=TrainConfig(num_steps=num_steps, batch_size=min(256, rows), log_every=data_log_interval(num_steps),
                          r1=5.0, generator_ema=0.999),
    )


def check_table(data: DataConfig, rows: int | None, columns: int) -> tuple[int | None, int]:
    """The shape (rows None: a law) of a table the `data` preset can learn; a ConfigError naming the file
    otherwise."""
    path = data.target.partition(":")[2]
    if rows is not None and rows < MIN_TABLE_ROWS:
        raise ConfigError(f"data.target: {path} has {rows} rows; the data preset needs at least {MIN_TABLE_ROWS} "
                          "to learn a law from")
    if columns > MAX_TABLE_COLUMNS:
        raise ConfigError(f"data.target: {path or data.target} has {columns} columns; the data preset learns at most "
                          f"{MAX_TABLE_COLUMNS}: pick some with --columns")
    return rows, columns


# Presets whose settings follow the data's shape: (rows, columns, num_steps) -> Config, rows None for a law and
# num_steps the iterations asked for, if any.
SIZED_PRESETS = {"data": data_preset}

PRESETS: dict[str, Config] = {
    "seed": Config(preset="seed"),
    "seed-minibatch": Config(preset="seed-minibatch", model=ModelConfig(minibatch=True)),
    # The most reliable way to learn the seed's N(4, 0.5) within 5,000 iterations that a search over the options
    # found (benchmarks/results/recommended_search.md): an affine G (one identity unit) on narrow Gaussian
    # noise, an elu D 16 wide, the modified loss with R1, Adam with a cosine decay, and an EMA of G's weights.
    "recommended": Config(
        preset="recommended",
        data=DataConfig(noise="gaussian", noise_range=0.3),
        model=ModelConfig(generator_width=1, generator_activation="identity", discriminator_width=16,
                          discriminator_activation="elu", init_std=0.5),
        optim=OptimConfig(optimizer="adam", learning_rate=0.02, adam_beta1=0.5, schedule="cosine", pretrain_steps=0),
        train=TrainConfig(num_steps=3_000, batch_size=64, r1=1.0, generator_ema=0.99),
    ),
    "ring": pacgan_preset("ring", "ring"),
    "grid": pacgan_preset("grid", "grid"),
    "ring-fast": fast_preset("ring-fast", "ring"),
    "grid-fast": fast_preset("grid-fast", "grid"),
    # Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", the 8 Gaussians of gan_toy.py: modes
    # at radius 2 with std 0.02, all divided by 1.414; G and D 3 x 512 ReLU; WGAN-GP with lambda 0.1 (its toy
    # setting), 5 critic steps, Adam 1e-4 with betas (0.5, 0.9), batches of 256, 100,000 iterations.
    "wgan-gp-8gaussians": Config(
        preset="wgan-gp-8gaussians",
        data=DataConfig(target="ring", target_params=f"modes=8, radius={2 / 1.414!r}, std={0.02 / 1.414!r}",
                        noise="gaussian", noise_dim=2, noise_range=UNIT_GAUSSIAN_RANGE),
        model=ModelConfig(generator_layers=3, generator_width=512, generator_activation="relu",
                          discriminator_layers=2, discriminator_width=512, discriminator_activation="relu", init="he"),
        optim=OptimConfig(optimizer="adam", learning_rate=1e-4, adam_beta1=0.5, adam_beta2=0.9,
                          schedule="constant", pretrain_steps=0),
        train=TrainConfig(num_steps=100_000, batch_size=256, log_every=500, objective="wasserstein",
                          gradient_penalty=0.1, n_critic=5),
    ),
    "data": data_preset(None, 1),  # as sized for its default target; a table re-sizes it (config_from_preset)
}


def config_from_preset(preset: str = "seed", *, table_shape: Callable[[DataConfig], tuple[int | None, int]],
                       **overrides) -> Config:
    """A named preset with overrides, e.g. `config_from_preset("seed", minibatch=True, num_steps=500)`.

    A preset sized by the data (`SIZED_PRESETS`: `data`) is sized for the target the overrides name, whose
    (rows, columns) `table_shape` gives (rows None for a law), and the overrides still win:
    `config_from_preset("data", target="file:x.csv", num_steps=500)`.
    """
    if preset not in PRESETS:
        raise ConfigError(f"preset: unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    base = PRESETS[preset]
    if preset in SIZED_PRESETS:
        data = {key.rpartition(".")[2]: value for key, value in overrides.items() if _section_of(key) == "data"}
        steps = next((value for key, value in overrides.items() if key.rpartition(".")[2] == "num_steps"), None)
        valid = isinstance(steps, int) and not isinstance(steps, bool) and 1 <= steps < 2**31  # else refused below
        data = dataclasses.replace(base.data, **data)
        base = SIZED_PRESETS[preset](*check_table(data, *table_shape(data)), steps if valid else None)
    return replace(base, **overrides)


def _section_of(key: str) -> str:
    """The section of an override given by name (`batch_size`) or path (`train.batch_size`); '' if unknown."""
    section, dot, name = key.rpartition(".")
    return section if dot else field_sections().get(name, "")


