"""Targets: what the generator imitates, in a registry keyed by the name the config uses.

A target draws samples in JAX inside the compiled loop, gives its density in
JAX for the discriminator's pre-training, hands metrics and pictures a law
with `cdf`, `ppf` and `rvs` (a frozen `scipy.stats` law where one exists),
and gives its modes (`Modes`) where it has them, else None.

Target kinds (`data.target`): `gaussian`, `mixture`, `scipy:NAME` (any
continuous law of `scipy.stats`, parameters in `data.target_params`) and
`file:PATH` (a CSV or .npy file of samples, read by `datafiles`). A target is
built, and its data loaded, once per `DataConfig` when the config is
validated (`make_target` is cached), so a bad file fails before any training
or any file is written. Noise lives in `noise.py`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
import scipy.stats

from tinygan.config import ConfigError, DataConfig
from tinygan.datafiles import DataError, load_table

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
        return jax.scipy.stats.norm.pdf(x, self.mean, self.std)

    def distribution(self):
        """The same law as a frozen `scipy.stats` distribution, for metrics."""
        return scipy.stats.norm(self.mean, self.std)

    @property
    def modes(self) -> Modes:
        return Modes(np.array([[self.mean]]), np.array([self.std]), np.array([1.0]))


class Mixture(NamedTuple):
    """sum_k w_k N(mean_k, std_k^2) on the real line; the weights sum to 1."""

    weights: tuple[float, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]

    dim = 1

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        key_component, key_normal = jax.random.split(key)
        k = jax.random.choice(key_component, len(self.weights), (n,), p=jnp.asarray(self.weights))  # (n,)
        z = jax.random.normal(key_normal, (n,))
        return (jnp.asarray(self.means)[k] + jnp.asarray(self.stds)[k] * z)[:, None]  # (n, 1)

    def density(self, x: jax.Array) -> jax.Array:
        means, stds, weights = (jnp.asarray(v)[None, :] for v in (self.means, self.stds, self.weights))  # (1, k)
        return jnp.sum(weights * jax.scipy.stats.norm.pdf(x, means, stds), axis=1, keepdims=True)  # (n, 1)

    def distribution(self) -> MixtureLaw:
        return MixtureLaw(np.array(self.weights), np.array(self.means), np.array(self.stds))

    @property
    def modes(self) -> Modes:
        return Modes(np.array(self.means)[:, None], np.array(self.stds), np.array(self.weights))


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
        return jnp.interp(x, jnp.asarray(self.knots), jnp.asarray(self.values), left=0.0, right=0.0)

    def distribution(self):
        return self.law


@dataclass(frozen=True, eq=False)
class FileTarget:
    """Samples from a file: batches are random rows, the density a Gaussian KDE (Scott's bandwidth).

    KDE: p(x) = 1/m sum_i N(x; x_i, h^2), h = std(x, ddof=1) m^(-1/5) (Scott 1992, as `scipy.stats.gaussian_kde`).
    """

    data: np.ndarray  # (m, 1)
    bandwidth: float

    dim = 1
    modes = None

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        return jnp.asarray(self.data, jnp.float32)[jax.random.randint(key, (n,), 0, len(self.data))]  # (n, 1)

    def density(self, x: jax.Array) -> jax.Array:
        centres = jnp.asarray(self.data[:, 0], jnp.float32)[None, :]  # (1, m)
        return jnp.mean(jax.scipy.stats.norm.pdf(x, centres, self.bandwidth), axis=1, keepdims=True)  # (n, 1)

    def distribution(self) -> EmpiricalLaw:
        return EmpiricalLaw(self.data[:, 0])


class EmpiricalLaw:
    """The empirical law of 1-D data: cdf the ECDF, ppf its quantile function, rvs resampling."""

    def __init__(self, values: np.ndarray):
        self.sorted = np.sort(np.asarray(values, np.float64))

    def cdf(self, x):
        """F_m(x) = #{x_i <= x} / m."""
        return np.searchsorted(self.sorted, np.asarray(x, np.float64), side="right") / len(self.sorted)

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


def parse_scipy_law(name: str, params: str):
    """A frozen continuous `scipy.stats` law from a name and 'key=number, ...' (never evaluated as code)."""
    law = getattr(scipy.stats, name, None) if name.isidentifier() and not name.startswith("_") else None
    if not isinstance(law, scipy.stats.rv_continuous):
        raise ConfigError(f"data.target: {name!r} is not a continuous distribution of scipy.stats")
    values = {}
    for piece in filter(str.strip, params.split(",")):
        key, equals, number = (part.strip() for part in piece.partition("="))
        if not (equals and key.isidentifier() and not key.startswith("_")):
            raise ConfigError(f"data.target_params: expected name=number pairs separated by commas, got {piece.strip()!r}")
        if key in values:
            raise ConfigError(f"data.target_params: {key} is given twice")
        values[key] = parse_numbers("data.target_params", number)[0] if number else None
        if values[key] is None:
            raise ConfigError(f"data.target_params: {key} has no value")
    try:
        frozen = law(**values)
    except TypeError as error:
        raise ConfigError(f"data.target_params: wrong parameters for scipy.stats.{name}: {error}") from None
    if np.isnan(frozen.support()).any():
        raise ConfigError(f"data.target_params: invalid values for scipy.stats.{name}: {params!r}")
    return frozen


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


def file_target(config: DataConfig) -> FileTarget:
    path = config.target.partition(":")[2]
    data = load_table(path, config.columns)
    if data.shape[1] != 1:
        raise DataError(f"data.columns: {path} gives {data.shape[1]} columns, and multi-dimensional targets are not "
                        "supported yet: pick one with --columns")
    if np.ptp(data) == 0:
        raise DataError(f"data.target: every value in {path} is the same; a target needs at least two distinct values")
    return FileTarget(data, float(np.std(data, ddof=1) * len(data) ** (-1 / 5)))


def mixture_target(config: DataConfig) -> Mixture:
    means = parse_numbers("data.mixture_means", config.mixture_means)
    stds = parse_numbers("data.mixture_stds", config.mixture_stds)
    weights = parse_numbers("data.mixture_weights", config.mixture_weights) or (1.0,) * len(means)
    stds = stds * len(means) if len(stds) == 1 else stds
    if not means:
        raise ConfigError("data.mixture_means: needs at least one mean")
    for name, values in (("mixture_stds", stds), ("mixture_weights", weights)):
        if len(values) != len(means):
            raise ConfigError(f"data.{name}: needs {len(means)} values (one per mean), got {len(values)}")
    if min(stds) <= 0:
        raise ConfigError(f"data.mixture_stds: must be > 0, got {config.mixture_stds!r}")
    if min(weights) < 0 or sum(weights) <= 0:
        raise ConfigError(f"data.mixture_weights: must be >= 0 with a positive sum, got {config.mixture_weights!r}")
    return Mixture(tuple(w / sum(weights) for w in weights), means, stds)


TARGETS = {
    "gaussian": lambda config: Gaussian(config.mean, config.std),
    "mixture": mixture_target,
    "scipy": scipy_target,
    "file": file_target,
}
@functools.lru_cache(maxsize=16)
def make_target(config: DataConfig):
    """The target of `config.target`, `kind` or `kind:argument`; built (its file loaded) once per config."""
    return TARGETS[config.target.partition(":")[0]](config)
