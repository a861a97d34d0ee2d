"""The units the networks work in: the data's own (`Identity`), or each column's normal scores (`NormalScores`).

With data.quantile_transform the game is played on normal scores: a value x of a column becomes
z = Phi^-1(F(x)), F the column's cumulative distribution, and G's output is mapped back through the
column's quantiles (the quantile transform of tabular generative models, e.g. TabDDPM). Scales, offsets,
skew, heavy tails and bounds are gone before training starts: every column of the real batches is
exactly N(0, 1), so a generator that starts as the identity (model.generator_skip) starts with every
column's law right and only has to learn how the columns go together.

A units object gives the game its real batches in model units (`sample`), their density for D's
pre-training (`density`), and the two maps between the units, `to_data` (what G's samples become) and
`to_model` (what D reads of a point in the data's units, for pictures). All four are JAX functions.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.spatial
import scipy.special

from tinygan.config import DataConfig
from tinygan.data.targets import FileTarget, fixed_sample, kernel_density, make_target

MAX_KNOTS = 2_048  # knots of a column's cumulative distribution, at most: more values are interpolated between them
MAX_VALUES = 65_536  # distinct values of a column generated on its own values, at most
LAW_ROWS = 100_000  # draws of a law behind its normal scores (a file's own rows otherwise)
DENSITY_CENTRES = 4_096  # encoded rows behind the density that D's pre-training reads
GAP_ROWS = 20_000  # rows behind data.smoothing's neighbour gap, at most
GAP_PROBES = 2_000  # of them, the rows whose nearest neighbours are found
_EDGE = 1e-6  # probabilities are kept in [_EDGE, 1 - _EDGE]: normal scores within +-4.75


class Identity(NamedTuple):
    """The data's own units: real batches are the target's samples, and both maps are the identity."""

    target: Any

    @property
    def arrays(self) -> jax.Array | None:
        """The data the game reads, an argument of its programs (`engine.with_data`): a file's rows (float32),
        or None for a law."""
        return self.target.rows if isinstance(self.target, FileTarget) else None

    def with_arrays(self, arrays: jax.Array) -> Identity:
        return Identity(dataclasses.replace(self.target, bound_rows=arrays))

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        return self.target.sample(key, n)  # (n, dim)

    def density(self, x: jax.Array) -> jax.Array:
        return self.target.density(x)  # (n,)

    def to_data(self, z: jax.Array) -> jax.Array:
        return z

    def to_model(self, x: jax.Array) -> jax.Array:
        return x


@dataclass(frozen=True, eq=False)  # hashed by identity: part of a jit static argument, built once per config
class NormalScores:
    """Each column's normal scores: the quantile transform, with repeated values spread over their share.

    Each distinct value v of a column owns the interval [F(v-), F(v)) of cumulative probability that its rows
    take up. A real row drawn for a batch gets, per column, u uniform in its value's interval and
    z = Phi^-1(u), so the batches are continuous and exactly N(0, 1) per column even where values repeat.
    Back in the data's units, u = Phi(z) goes through the column's quantile function: a column whose
    values repeat (at most half as many distinct values as rows: integers, counts, categories) maps each
    interval to its value, so it is generated on its own values; any other column is interpolated linearly
    between its values at their intervals' midpoints, so it is generated within its range, between the
    values seen. Knot arrays are (k, dim), each column padded with its last knot; a column of more than
    MAX_KNOTS values keeps MAX_KNOTS of them, evenly spaced in probability, and interpolates between.
    """

    quantile_levels: jax.Array  # (k, dim) to_data's knots: probability levels, non-decreasing per column
    quantile_values: jax.Array  # (k, dim) the values there
    cdf_values: jax.Array  # (k, dim) the values, increasing per column
    cdf_low: jax.Array  # (k, dim) F(v-): where each value's interval starts
    cdf_high: jax.Array  # (k, dim) F(v): where it ends
    centres: np.ndarray  # (<= DENSITY_CENTRES, dim) encoded rows behind `density`
    target: Any  # the target in the data's units, whose samples (a file's rows, a law's draws) are encoded
    blur: np.ndarray | None = None  # (dim, dim) data.smoothing's kernel: spread x a Cholesky factor of the correlations
    spread: float = 0.0  # the kernel's width in normal scores: data.smoothing x the rows' neighbour gap
    rescale: np.ndarray | None = None  # (dim,) what keeps each column N(0, 1): 1 / sqrt(1 + spread^2) where blurred

    @property
    def arrays(self) -> dict[str, jax.Array]:
        """The data the game reads, an argument of its programs (`engine.with_data`): the knots, and a file's
        rows."""
        arrays = {name: getattr(self, name) for name in KNOTS}
        return {**arrays, "rows": self.target.rows} if isinstance(self.target, FileTarget) else arrays

    def with_arrays(self, arrays: dict[str, jax.Array]) -> NormalScores:
        knots = {name: arrays[name] for name in KNOTS}
        target = dataclasses.replace(self.target, bound_rows=arrays["rows"]) if "rows" in arrays else self.target
        return dataclasses.replace(self, **knots, target=target)

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """n real samples (n, dim) in normal scores: the target's, each u spread over its value's interval."""
        key_draw, key_level = jax.random.split(key)
        x = self.target.sample(key_draw, n)  # (n, dim) in the data's units
        low, high = self._cdf(x, self.cdf_low), self._cdf(x, self.cdf_high)
        u = low + (high - low) * jax.random.uniform(key_level, x.shape)
        z = jax.scipy.special.ndtri(jnp.clip(u, _EDGE, 1 - _EDGE))  # (n, dim)
        if self.blur is None:
            return z
        # A kernel shaped like the scores' own correlations R: z + s L e, L L^T = R, has covariance (1 + s^2) R
        # when z's is R, so rescaled it keeps every column N(0, 1) and every correlation as it was.
        noise = jax.random.normal(jax.random.fold_in(key, 1), z.shape)  # a third stream, apart from the two above
        return (z + noise @ jnp.asarray(self.blur.T, jnp.float32)) * jnp.asarray(self.rescale[None], jnp.float32)

    def density(self, x: jax.Array) -> jax.Array:
        return kernel_density(self.centres, x)

    def to_data(self, z: jax.Array) -> jax.Array:
        """(n, dim) normal scores -> (n, dim) values, through each column's quantile function."""
        return from_scores(z, self.quantile_levels, self.quantile_values)

    def to_model(self, x: jax.Array) -> jax.Array:
        """(n, dim) values -> (n, dim) normal scores, at the middle of each value's interval (for pictures)."""
        u = self._cdf(x, (self.cdf_low + self.cdf_high) / 2)
        return jax.scipy.special.ndtri(jnp.clip(u, _EDGE, 1 - _EDGE))

    def _cdf(self, x: jax.Array, levels: jax.Array) -> jax.Array:
        """Per column, `levels` (k, dim) interpolated at x (n, dim) by the values' knots."""
        return jax.vmap(jnp.interp, in_axes=1, out_axes=1)(x, self.cdf_values, levels)


def from_scores(z: jax.Array, levels: jax.Array, values: jax.Array) -> jax.Array:
    """Normal scores z (n, dim) back to values: per column, the quantile function given by knots (levels,
    values), each (k, dim), linear between them: `NormalScores.to_data`, and what an exported generator reads."""
    return jax.vmap(jnp.interp, in_axes=1, out_axes=1)(jax.scipy.special.ndtr(z), levels, values)


KNOTS = ("quantile_levels", "quantile_values", "cdf_values", "cdf_low", "cdf_high")


class _Column(NamedTuple):
    """One column's knots (numpy, float64): its quantile function, and its values with their intervals."""

    quantile_levels: np.ndarray
    quantile_values: np.ndarray
    cdf_values: np.ndarray
    cdf_low: np.ndarray
    cdf_high: np.ndarray

    @property
    def repeats(self) -> bool:
        """Generated on its own values: each value's interval is two knots of its quantile function."""
        return len(self.quantile_levels) == 2 * len(self.cdf_values)


def repeats_values(column: np.ndarray) -> bool:
    """Whether a column is generated on its own values: at most half as many distinct values as rows (and at
    most MAX_VALUES of them), as integers, counts and categories are."""
    return _repeats(len(np.unique(column)), len(column))


def _repeats(distinct: int, rows: int) -> bool:
    return distinct <= rows / 2 and distinct <= MAX_VALUES


def _column(values: np.ndarray) -> _Column:
    distinct, counts = np.unique(values, return_counts=True)
    high = np.cumsum(counts) / len(values)
    low = high - counts / len(values)
    if _repeats(len(distinct), len(values)):  # each value keeps its whole interval
        return _Column(np.stack([low, high], 1).ravel(), np.repeat(distinct, 2), distinct, low, high)
    middle = (low + high) / 2  # linear between the values at their intervals' midpoints
    if len(distinct) > MAX_KNOTS:  # MAX_KNOTS of the values, evenly spaced in probability
        thinned = np.linspace(middle[0], middle[-1], MAX_KNOTS)
        distinct, middle = np.interp(thinned, middle, distinct), thinned
        low, high = middle - 0.5 / len(values), middle + 0.5 / len(values)  # one row's share, as no value repeats
    return _Column(middle, distinct, distinct, low, high)


def _stacked(columns: list[np.ndarray]) -> jax.Array:
    """Columns of knots (each (k_j,)) as one (max k_j, dim) float32 array, each padded with its last knot."""
    length = max(len(column) for column in columns)
    padded = [np.concatenate([column, np.full(length - len(column), column[-1])]) for column in columns]
    return jnp.asarray(np.stack(padded, axis=1), jnp.float32)


def normal_scores(target, rows: np.ndarray | None = None, smoothing: float = 0.0) -> NormalScores:
    """The normal scores of `target`: of its rows (rows, dim) when given (a file's), else of LAW_ROWS fixed draws;
    `smoothing` > 0 blurs the real rows (data.smoothing)."""
    table = fixed_sample(target, LAW_ROWS) if rows is None else np.asarray(rows, np.float64)
    columns = [_column(table[:, j]) for j in range(table.shape[1])]
    knots = {name: _stacked([getattr(column, name) for column in columns]) for name in KNOTS}
    centres = _encoded(table[:: -(-len(table) // DENSITY_CENTRES)], columns)  # (<= DENSITY_CENTRES, dim)
    # A column generated on its own values is not blurred: each real value is already spread over its whole
    # interval, and a blur across intervals would move rows between values (an integer's share of the rows).
    blurred = np.array([not column.repeats for column in columns])
    if not smoothing or not blurred.any():
        return NormalScores(**knots, centres=centres, target=target)
    sample = _encoded(table[:: -(-len(table) // GAP_ROWS)], columns)[:, blurred]
    spread = smoothing * neighbour_gap(sample, len(table))
    correlation = np.atleast_2d(np.corrcoef(centres[:, blurred], rowvar=False)) if len(centres) > 1 else np.eye(blurred.sum())
    blur = np.zeros((len(columns), len(columns)))
    blur[np.ix_(blurred, blurred)] = spread * np.linalg.cholesky(np.nan_to_num(correlation) + 1e-6 * np.eye(blurred.sum()))
    rescale = np.where(blurred, 1 / np.sqrt(1 + spread**2), 1.0)
    return NormalScores(**knots, centres=centres, target=target, blur=blur, spread=spread, rescale=rescale)


def _encoded(rows: np.ndarray, columns: list[_Column]) -> np.ndarray:
    """Rows (m, dim) as normal scores, each value at the middle of its interval."""
    levels = np.stack([np.interp(rows[:, j], c.cdf_values, (c.cdf_low + c.cdf_high) / 2)
                       for j, c in enumerate(columns)], 1)
    return scipy.special.ndtri(np.clip(levels, _EDGE, 1 - _EDGE))


def neighbour_gap(scores: np.ndarray, rows: int) -> float:
    """The typical gap between neighbouring rows, per column: the median distance from a distinct row of
    `scores` (m, dim) to its nearest other one, over sqrt(dim); `scores` being m of a table's `rows` rows,
    the gap is carried to the whole table by (m / rows)^(1 / dim), as for rows spread evenly. 0 for one row."""
    distinct = np.unique(scores, axis=0)
    if len(distinct) < 2:
        return 0.0
    m, dim = scores.shape
    probes = distinct[:: -(-len(distinct) // GAP_PROBES)]
    distance, _ = scipy.spatial.cKDTree(distinct).query(probes, k=2)  # the first is the row itself
    return float(np.median(distance[:, 1]) / np.sqrt(dim) * (m / rows) ** (1 / dim))


@functools.lru_cache(maxsize=16)
def make_units(config: DataConfig) -> Identity | NormalScores:
    """The units of `config`'s game: normal scores with data.quantile_transform (of a file's rows, or of the
    law's draws), else the data's own; built once per config."""
    target = make_target(config)
    if not config.quantile_transform:
        return Identity(target)
    return normal_scores(target, target.data if isinstance(target, FileTarget) else None, config.smoothing)
