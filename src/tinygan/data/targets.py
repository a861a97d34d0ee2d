"""Targets: what the generator imitates, in a registry keyed by the name the config uses.

A target has a dimension `dim`, draws samples `(n, dim)` in JAX inside the
compiled loop, gives its density `(n, dim) -> (n,)` in JAX for the
discriminator's pre-training, gives its modes (`Modes`) where it has them,
else None, and, in 1-D, hands metrics and pictures a law with `cdf`, `ppf`
and `rvs` (a frozen `scipy.stats` law where one exists; None in more
dimensions, where metrics compare samples with samples).

Target kinds (`data.target`): 1-D `gaussian`, `mixture` and `scipy:NAME`
(any continuous law of `scipy.stats`); 2-D `ring`, `grid`, `spiral`,
`swiss_roll` and `moons`, shaped by `data.target_params`; and `file:PATH`
(a CSV or .npy file of samples with any number of columns). A target is
built, and its data loaded, once per `DataConfig` when the config is
validated (`make_target` is cached), so a bad file fails before any training
or any file is written. Noise lives in `core/noise.py`.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
import scipy.stats

from tinygan.config import ConfigError, DataConfig, names
from tinygan.data.density import KDE_CENTRES, fixed_sample, kernel_density  # noqa: F401 (fixed_sample: its old home)
from tinygan.data.files import DataError, default_names, read_table
from tinygan.data.params import parse_numbers, parse_scipy_law, shape_params
from tinygan.data.shapes import draw_moons, draw_spiral, draw_swiss_roll, shape_target

__all__ = [
    "column_names",
    "POOL_SIZE", "PPF_KNOTS", "Modes", "Gaussian", "Mixture", "MixtureLaw", "PoolTarget", "KDE_CENTRES",
    "FileTarget", "EmpiricalLaw", "draw_spiral",
    "parse_scipy_law",
    "scipy_target", "MAX_FILE_VALUE", "file_target", "mixture_target", "MAX_MODES", "ring_target", "grid_target",
    "TARGETS", "TAKES_PARAMS", "fixed_sample", "MOMENT_SAMPLES", "moments", "make_target",
]

POOL_SIZE = 200_000  # samples a scipy target draws its batches from
PPF_KNOTS = 2_049  # points where a scipy law's ppf and pdf are computed; the pool and density interpolate them


class Modes(NamedTuple):
    """The modes of a target: means (k, dim), isotropic stds (k,), weights (k,) summing to 1."""

    means: np.ndarray
    stds: np.ndarray
    weights: np.ndarray


# ---------------------------------------------------------------- targets


class Gaussian(NamedTuple):
    """N(mean, std^2) on the real line: the seed's target is N(4, 0.5)."""

    mean: float
    std: float

    dim = 1

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        return self.mean + self.std * jax.random.normal(key, (n, 1))  # (n, 1)

    def density(self, x: jax.Array) -> jax.Array:
        return jax.scipy.stats.norm.pdf(x[:, 0], self.mean, self.std)  # (n,)

    def distribution(self):
        """The same law as a frozen `scipy.stats` distribution, for metrics."""
        return scipy.stats.norm(self.mean, self.std)

    @property
    def modes(self) -> Modes:
        return Modes(np.array([[self.mean]]), np.array([self.std]), np.array([1.0]))


class Mixture(NamedTuple):
    """sum_k w_k N(mean_k, std_k^2 I) in d dimensions; the weights sum to 1.

    The 1-D `mixture` target, and in 2-D the `ring` and `grid` of PacGAN and WGAN-GP.
    """

    weights: tuple[float, ...]
    means: tuple[tuple[float, ...], ...]  # (k, d)
    stds: tuple[float, ...]

    @property
    def dim(self) -> int:
        return len(self.means[0])

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        key_component, key_normal = jax.random.split(key)
        k = jax.random.choice(key_component, len(self.weights), (n,), p=jnp.asarray(self.weights))  # (n,)
        z = jax.random.normal(key_normal, (n, self.dim))
        return jnp.asarray(self.means)[k] + jnp.asarray(self.stds)[k][:, None] * z  # (n, d)

    def density(self, x: jax.Array) -> jax.Array:
        """sum_k w_k prod_j N(x_j; mean_kj, std_k^2): (n, d) -> (n,)."""
        means = jnp.asarray(self.means)[None]  # (1, k, d)
        stds = jnp.asarray(self.stds)[None, :, None]  # (1, k, 1)
        per_component = jnp.prod(jax.scipy.stats.norm.pdf(x[:, None, :], means, stds), axis=2)  # (n, k)
        return jnp.sum(jnp.asarray(self.weights)[None] * per_component, axis=1)  # (n,)

    def distribution(self) -> MixtureLaw | None:
        if self.dim != 1:
            return None
        return MixtureLaw(np.array(self.weights), np.array(self.means)[:, 0], np.array(self.stds))

    @property
    def modes(self) -> Modes:
        return Modes(np.array(self.means), np.array(self.stds), np.array(self.weights))


class MixtureLaw:
    """A 1-D Gaussian mixture as a law for metrics: cdf, ppf (numerical inversion), pdf, rvs."""

    def __init__(self, weights: np.ndarray, means: np.ndarray, stds: np.ndarray):
        self.weights, self.means, self.stds = weights / weights.sum(), means, stds

    def cdf(self, x):
        """F(x) = sum_k w_k Phi((x - mean_k) / std_k)."""
        x = np.asarray(x, np.float64)
        return np.sum(self.weights * scipy.special.ndtr((x[..., None] - self.means) / self.stds), axis=-1)

    def pdf(self, x):
        x = np.asarray(x, np.float64)
        return np.sum(self.weights * scipy.stats.norm.pdf(x[..., None], self.means, self.stds), axis=-1)

    def ppf(self, u):
        """F^-1(u) by bisection on [min_k, max_k] of mean_k + std_k Phi^-1(u), a bracket of the root.

        Each component's cdf is <= u at the lower end and >= u at the upper end, so the mixture's is too.
        Bisection halves the bracket until it is within 1e-12 (relative to the value) or 200 times.
        """
        u = np.asarray(u, np.float64)
        ends = self.means + self.stds * scipy.special.ndtri(np.clip(u, 1e-300, 1 - 1e-16))[..., None]  # (..., k)
        low, high = ends.min(axis=-1), ends.max(axis=-1)
        for _ in range(200):
            middle = 0.5 * (low + high)
            below = self.cdf(middle) < u
            low, high = np.where(below, middle, low), np.where(below, high, middle)
            if np.all(high - low <= 1e-12 * np.maximum(1.0, np.abs(middle))):
                break
        x = np.where(u <= 0, -np.inf, np.where(u >= 1, np.inf, 0.5 * (low + high)))
        return np.where((u < 0) | (u > 1) | np.isnan(u), np.nan, x)

    def mean(self) -> float:
        return float(np.sum(self.weights * self.means))

    def std(self) -> float:
        second = np.sum(self.weights * (self.stds**2 + self.means**2))
        return float(np.sqrt(second - self.mean() ** 2))

    def rvs(self, size: int, random_state=None) -> np.ndarray:
        rng = np.random.default_rng(random_state)
        k = rng.choice(len(self.weights), size, p=self.weights)
        return self.means[k] + self.stds[k] * rng.standard_normal(size)


@dataclass(frozen=True, eq=False)  # hashed by identity: a jit static argument, built once per config
class PoolTarget:
    """A target known by samples: batches are random rows of `pool`, the density an interpolated table.

    `pool` (m, 1) float32; `knots`, `values` (t,): the density at sorted points, linear between them and
    0 outside; `law` is what metrics and pictures see.
    """

    pool: np.ndarray
    knots: np.ndarray
    values: np.ndarray
    law: object

    dim = 1
    modes = None

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        return jnp.asarray(self.pool)[jax.random.randint(key, (n,), 0, len(self.pool))]  # (n, 1)

    def density(self, x: jax.Array) -> jax.Array:
        return jnp.interp(x[:, 0], jnp.asarray(self.knots), jnp.asarray(self.values), left=0.0, right=0.0)  # (n,)

    def distribution(self):
        return self.law


@dataclass(frozen=True, eq=False)  # hashed by identity: a jit static argument, built once per config
class FileTarget:
    """Samples from a file, any number of columns: batches are random rows, the density a Gaussian KDE."""

    rows_outside_programs = True  # its rows are picked outside compiled programs (`density.fixed_sample`)

    data: np.ndarray  # (m, d) float64
    names: tuple[str, ...] = ()  # the columns' names: the file's header, else x, y or x1 ... xd
    left_out: tuple[str, ...] = ()  # the file's columns of words, not learned (`files.Table`)
    bound_rows: jax.Array | None = None  # the rows as an argument of a program (`engine.with_data`), if they are

    modes = None

    @functools.cached_property
    def mean(self) -> np.ndarray:
        """(d,) each column's mean."""
        return self.data.mean(axis=0)

    @functools.cached_property
    def scale(self) -> np.ndarray:
        """(d,) each column's standard deviation (never 0: every column holds two distinct values)."""
        return self.data.std(axis=0)

    @functools.cached_property
    def rows(self) -> jax.Array:
        """(m, d) the table as training reads it, float32: the program's argument when bound, else made once."""
        return jnp.asarray(self.data, jnp.float32) if self.bound_rows is None else self.bound_rows

    @property
    def dim(self) -> int:
        return self.data.shape[1]

    @functools.cached_property
    def fingerprint(self) -> dict:
        """What a checkpoint records of the table it trained on (`checkpoints.encode`): its size and a SHA-256 of
        its numbers as read, so a changed file is told from the same numbers written another way."""
        table = np.ascontiguousarray(self.data, np.float64)
        return {"rows": table.shape[0], "columns": table.shape[1],
                "sha256": hashlib.sha256(table.tobytes()).hexdigest()}

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        return self.rows[jax.random.randint(key, (n,), 0, len(self.data))]  # (n, d)

    def density(self, x: jax.Array) -> jax.Array:
        return kernel_density(self.data, x)

    def distribution(self) -> EmpiricalLaw | None:
        return EmpiricalLaw(self.data[:, 0]) if self.dim == 1 else None


class EmpiricalLaw:
    """The empirical law of 1-D data: cdf the ECDF, ppf its quantile function, rvs resampling."""

    def __init__(self, values: np.ndarray):
        self.sorted = np.sort(np.asarray(values, np.float64))

    def cdf(self, x):
        """F_m(x) = #{x_i <= x} / m."""
        return np.searchsorted(self.sorted, np.asarray(x, np.float64), side="right") / len(self.sorted)

    def cdf_left(self, x):
        """F_m(x-) = #{x_i < x} / m: the left limit, below the step of a repeated value."""
        return np.searchsorted(self.sorted, np.asarray(x, np.float64), side="left") / len(self.sorted)

    def ppf(self, u):
        """F_m^-1(u) = inf {x : F_m(x) >= u} = x_(ceil(u m)), the smallest value for u = 0."""
        u = np.asarray(u, np.float64)
        index = np.clip(np.ceil(u * len(self.sorted)).astype(np.int64) - 1, 0, len(self.sorted) - 1)
        return self.sorted[index]

    def mean(self) -> float:
        return float(self.sorted.mean())

    def std(self) -> float:
        return float(self.sorted.std())

    def rvs(self, size: int, random_state=None) -> np.ndarray:
        return np.random.default_rng(random_state).choice(self.sorted, size)


# ---------------------------------------------------------------- building targets from the config


def scipy_target(config: DataConfig) -> PoolTarget:
    """Pool and density table from the law's ppf at PPF_KNOTS probabilities spaced evenly in logit(u).

    Sampling an arbitrary law inside a compiled JAX loop is not possible, so the pool holds POOL_SIZE
    stratified quantiles F^-1((i + 1/2) / POOL_SIZE), linearly interpolated between the exact knots
    (SciPy's generic ppf can take minutes for 200,000 points); a batch is random rows of it.
    """
    law = parse_scipy_law(config.target.partition(":")[2].strip(), config.target_params)
    tail = 0.5 / POOL_SIZE
    u = scipy.special.expit(np.linspace(scipy.special.logit(tail), scipy.special.logit(1 - tail), PPF_KNOTS))
    with np.errstate(all="ignore"):
        knots, values = law.ppf(u), law.pdf(law.ppf(u))
    if not (np.isfinite(knots).all() and np.isfinite(values).all()):
        raise ConfigError(f"data.target: scipy.stats law {config.target!r} gives non-finite quantiles or density")
    pool = np.interp((np.arange(POOL_SIZE) + 0.5) / POOL_SIZE, u, knots)
    knots, unique = np.unique(knots, return_index=True)
    return PoolTarget(pool.astype(np.float32)[:, None], knots.astype(np.float32), values[unique].astype(np.float32), law)


MAX_FILE_VALUE = 2.0**64  # a data file's values must be smaller in size: their squares stay finite in float32


def file_target(config: DataConfig) -> FileTarget:
    path = config.target.partition(":")[2]
    data, names, left_out = read_table(path, config.columns)
    if np.abs(data).max() >= MAX_FILE_VALUE:
        raise DataError(f"data.target: {path} holds values beyond +-2**64 (their squares overflow float32, which "
                        "training computes in): rescale the data")
    if len(data) < 2:
        raise DataError(f"data.target: {path} holds one data row; a distribution to learn needs at least two rows "
                        "with distinct values")
    constant = np.flatnonzero(np.ptp(data.astype(np.float32), axis=0) == 0)  # distinct as training sees them
    if len(constant):
        raise DataError(f"data.target: column {names[constant[0]]!r} of {path} holds a single value; every column "
                        "needs two distinct values (leave it out with --columns)")
    return FileTarget(data, names, left_out=left_out)


def mixture_target(config: DataConfig) -> Mixture:
    means = parse_numbers("data.mixture_means", config.mixture_means)
    stds = parse_numbers("data.mixture_stds", config.mixture_stds)
    weights = parse_numbers("data.mixture_weights", config.mixture_weights) or (1.0,) * len(means)
    stds = stds * len(means) if len(stds) == 1 else stds
    if not means:
        raise ConfigError("data.mixture_means: needs at least one mean")
    if len(means) > MAX_MODES:
        raise ConfigError(f"data.mixture_means: at most {MAX_MODES:,} components, got {len(means):,}")
    for name, values in (("mixture_stds", stds), ("mixture_weights", weights)):
        if len(values) != len(means):
            raise ConfigError(f"data.{name}: needs {len(means)} values (one per mean), got {len(values)}")
    if min(stds) <= 0:
        raise ConfigError(f"data.mixture_stds: must be > 0, got {config.mixture_stds!r}")
    if min(weights) < 0 or sum(weights) <= 0:
        raise ConfigError(f"data.mixture_weights: must be >= 0 with a positive sum, got {config.mixture_weights!r}")
    return Mixture(tuple(w / sum(weights) for w in weights), tuple((m,) for m in means), stds)


MAX_MODES = 1_024  # a mixture's modes, at most: every sample is compared with every mode


def _at_most_modes(count: int) -> None:
    if count > MAX_MODES:
        raise ConfigError(f"data.target_params: at most {MAX_MODES:,} modes, got {count:,}")


def ring_target(config: DataConfig) -> Mixture:
    """`modes` equal Gaussians evenly spaced on a circle, the first at angle 0 (PacGAN: 8, radius 1, std 0.01)."""
    p = shape_params(config, {"modes": 8, "radius": 1.0, "std": 0.01}, whole=("modes",))
    _at_most_modes(p["modes"])
    angles = 2 * np.pi * np.arange(p["modes"]) / p["modes"]
    means = tuple((p["radius"] * float(np.cos(a)), p["radius"] * float(np.sin(a))) for a in angles)
    return Mixture((1 / p["modes"],) * p["modes"], means, (p["std"],) * p["modes"])


def grid_target(config: DataConfig) -> Mixture:
    """size x size equal Gaussians on a square grid centred on 0 (PacGAN: 5 x 5 at {-4, -2, 0, 2, 4}^2, std 0.05)."""
    p = shape_params(config, {"size": 5, "spacing": 2.0, "std": 0.05}, whole=("size",))
    _at_most_modes(p["size"] ** 2)
    ticks = [p["spacing"] * (i - (p["size"] - 1) / 2) for i in range(p["size"])]
    means = tuple((x, y) for x in ticks for y in ticks)
    return Mixture((1 / len(means),) * len(means), means, (p["std"],) * len(means))


TARGETS = {
    "gaussian": lambda config: Gaussian(config.mean, config.std),
    "mixture": mixture_target,
    "scipy": scipy_target,
    "ring": ring_target,
    "grid": grid_target,
    "spiral": shape_target(draw_spiral, 0.05),
    "swiss_roll": shape_target(draw_swiss_roll, 0.05),
    "moons": shape_target(draw_moons, 0.05),
    "file": file_target,
}
TAKES_PARAMS = names.TAKES_PARAMS  # kinds that read data.target_params


MOMENT_SAMPLES = 100_000  # draws behind the moments of a target without a law


def moments(target) -> tuple[np.ndarray, np.ndarray]:
    """The target's per-column mean and standard deviation, each (dim,): `data.standardize`'s units.

    Exact from the law in 1-D; in more dimensions from MOMENT_SAMPLES draws of a fixed key.
    """
    if target.dim == 1:
        law = target.distribution()
        return np.array([law.mean()], np.float32), np.array([law.std()], np.float32)
    draws = fixed_sample(target, MOMENT_SAMPLES)
    return draws.mean(axis=0).astype(np.float32), draws.std(axis=0).astype(np.float32)


def column_names(target) -> tuple[str, ...]:
    """The names of a target's columns: a file's own, else x; x, y; or x1 ... xd."""
    return target.names if isinstance(target, FileTarget) else default_names(target.dim)


@functools.lru_cache(maxsize=16)
def make_target(config: DataConfig):
    """The target of `config.target`, `kind` or `kind:argument`; built (its file loaded) once per config."""
    return TARGETS[config.target.partition(":")[0]](config)
