"""What a run measures for its target: which metrics, and computing them from generated samples.

A `Scorer` is built once per run from the target; called on samples (n, dim)
it returns one number per column, the same columns at every log point and in
metrics.json. Which columns depends on the target:

- 1-D (every 1-D target has a law): mean, std, w1, ks;
- more dimensions: sliced_w1 and energy, against a fixed sample of the target
  (on SLICED_SAMPLES and ENERGY_SAMPLES points: fewer at log points than at the end);
- targets of two modes or more: modes_captured, high_quality, reverse_kl (PacGAN's
  measures, on MODE_SAMPLES samples as PacGAN counts them);
- 2-D: GAN Lab's kl and js over the picture's square;
- file targets (a table's rows): the verdict's measures against the rows (`TABLE_COLUMNS`): floor_ratio,
  the squared energy distance to the rows over the data's own sampling floor; classifier, a 5-nearest-
  neighbour classifier's held-out accuracy telling generated from real rows; memorised, the share of
  generated samples closer to a row than that row is to any other; with two columns or more, corr_error,
  the largest error of the rank correlations, and each column's w1 and ks in its own units ("w1:NAME").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from tinygan.config.names import (  # the measures' names: plain data, for the configuration to check against
    ALL_COLUMNS,  # noqa: F401 (its old home)
    GRID_COLUMNS,
    LAW_COLUMNS,
    MODE_COLUMNS,
    SAMPLE_COLUMNS,
    TABLE_COLUMNS,
)
from tinygan.data.targets import FileTarget, fixed_sample
from tinygan.measure import metrics

HIGHER_IS_BETTER = frozenset({"modes_captured", "high_quality"})  # every other metric: lower is better

REFERENCE_SAMPLES = 10_000  # target samples that generated ones are compared with in 2 or more dimensions
# Points of each side behind the distances in 2 or more dimensions, (at a log point, at the end): a log point
# must cost little next to training, the final metrics may take a second. Energy costs n^2 distances.
SLICED_SAMPLES = (2_000, 10_000)
ENERGY_SAMPLES = (1_000, 5_000)
MODE_SAMPLES = 2_500  # samples behind the mode measures, at log points and at the end: PacGAN's protocol
# A table's measures, (at a log point, at the end): rows and samples behind the floor ratio and the classifier
# (energy costs n^2 distances; the floor is the median of FLOOR_SPLITS halvings), and rows behind each column's
# W1 and KS. Fewer rows than that: all of them.
TABLE_SAMPLES = (500, 3_000)
COLUMN_ROWS = (10_000, 100_000)
FLOOR_SPLITS = 20
MEMORISED_ROWS = 10_000  # rows, at most, that generated samples are compared with for copies: a fixed random pick
FLOOR_DRAWS = 10  # disjoint sets of final samples whose floor ratios are averaged, at most


def metric_columns(target) -> tuple[str, ...]:
    """The metrics recorded for `target`, in the order of the history's columns."""
    columns = LAW_COLUMNS if target.dim == 1 else SAMPLE_COLUMNS
    if target.modes is not None and len(target.modes.weights) > 1:  # one mode: coverage says nothing
        columns += MODE_COLUMNS
    if target.dim == 2:
        columns += GRID_COLUMNS
    if isinstance(target, FileTarget):
        columns += TABLE_COLUMNS[: 3 + (target.dim > 1)]
        if target.dim > 1:
            columns += tuple(f"{kind}:{name}" for name in target.names for kind in ("w1", "ks"))
    return columns


def thinned(samples: np.ndarray, n: int) -> np.ndarray:
    """At most n rows, evenly strided through all of them (noise-grid samples are ordered: never the first n)."""
    return samples[:: max(1, len(samples) // max(n, 1))][: max(n, 0)]


@dataclass(frozen=True)
class Scorer:
    """Metrics of generated samples against one target; see the module's docstring for which."""

    columns: tuple[str, ...]
    law: object | None  # the 1-D target's law
    reference: np.ndarray | None  # (REFERENCE_SAMPLES, dim) target samples, in 2 or more dimensions
    modes: object | None  # data.Modes
    view: tuple | None  # ((low, high), (low, high)): GAN Lab's grid in 2-D
    table: FileTarget | None = None  # a file target's rows, for the verdict's measures
    # The reference thinned to each size a distance reads, its own parts computed once (`metrics.SampleSet`).
    sample_sets: dict = field(default_factory=dict, compare=False, repr=False)

    def __call__(self, samples: np.ndarray, *, final: bool = False) -> dict[str, float]:
        """The metrics of samples (n, dim); `final` compares more points in 2 or more dimensions (slower)."""
        x = np.asarray(samples, np.float64)  # (n, dim)
        if not np.isfinite(x).all():  # a diverged generator: nothing meaningful to compare
            return dict.fromkeys(self.columns, float("nan"))
        scores = {}
        if self.law is not None:
            scores.update(metrics.distances(x, self.law))
        if self.reference is not None:
            sliced, energy = SLICED_SAMPLES[final], ENERGY_SAMPLES[final]
            scores["sliced_w1"] = self._reference(sliced).sliced_wasserstein(thinned(x, sliced))
            scores["energy"] = self._reference(energy).energy_distance(thinned(x, energy))
        if "modes_captured" in self.columns:
            scores.update(metrics.mode_metrics(thinned(x, MODE_SAMPLES), self.modes.means, self.modes.stds,
                                               self.modes.weights))
        if "kl" in self.columns:
            (x_low, x_high), (y_low, y_high) = self.view
            scores.update(metrics.gan_lab_divergences(x, self.reference, low=(x_low, y_low), high=(x_high, y_high)))
        if self.table is not None:
            scores.update(table_scores(x, self.table, final))
        return {name: scores[name] for name in self.columns}

    def _reference(self, n: int) -> metrics.SampleSet:
        if n not in self.sample_sets:
            self.sample_sets[n] = metrics.SampleSet(thinned(self.reference, n))
        return self.sample_sets[n]


def make_scorer(target, view: tuple | None = None) -> Scorer:
    """The scorer of `target`; `view` is the picture's square in 2-D (see `picture_view`)."""
    reference = None
    if target.dim > 1:
        reference = fixed_sample(target, REFERENCE_SAMPLES)
    return Scorer(metric_columns(target), target.distribution() if target.dim == 1 else None, reference,
                  target.modes, view, target if isinstance(target, FileTarget) else None)


def table_scores(samples: np.ndarray, table: FileTarget, final: bool) -> dict[str, float]:
    """The verdict's measures of samples (n, dim) against a table's rows (`TABLE_COLUMNS` and each column's)."""
    size = min(TABLE_SAMPLES[final], len(table.data))
    rows = standard_rows(table, size)
    # The floor ratio compares `size` generated samples with `size` rows, as the floor compares halves; at the
    # end, it is the mean over several disjoint sets of samples (one set's ratio varies widely on small tables).
    draws = max(1, min(FLOOR_DRAWS, len(samples) // size, 10_000 // size)) if final else 1
    standard = (thinned(samples, size * draws) - table.mean) / table.scale  # (size * draws, dim) standard units
    generated = standard[:size]
    ratio = np.mean([metrics.squared_energy_distance(part, rows) for part in np.split(standard, draws)])
    scores = {"floor_ratio": float(ratio) / sampling_floor(table, size),
              "classifier": metrics.nearest_neighbour_accuracy(generated, rows)[0],
              "memorised": nearest_rows(table).memorised_share(generated)}
    if table.dim > 1:
        scores["corr_error"] = metrics.correlation_error(thinned(samples, COLUMN_ROWS[final]), column_rows(table, final))
        errors = metrics.column_errors(thinned(samples, COLUMN_ROWS[final]), column_rows(table, final))
        for name, (w1, ks) in zip(table.names, errors):
            scores[f"w1:{name}"], scores[f"ks:{name}"] = w1, ks
    return scores


@functools.lru_cache(maxsize=32)
def standard_rows(table: FileTarget, n: int) -> np.ndarray:
    """n of the table's rows (all of them, or a random pick of a fixed key), in their standard units (n, dim)."""
    rows = table.data if n >= len(table.data) else table.data[np.random.default_rng(0).permutation(len(table.data))[:n]]
    return (rows - table.mean) / table.scale


@functools.lru_cache(maxsize=8)
def nearest_rows(table: FileTarget) -> metrics.NearestRows:
    """The table's rows (MEMORISED_ROWS of them at most) that generated samples are compared with for copies."""
    return metrics.NearestRows(standard_rows(table, MEMORISED_ROWS))


@functools.lru_cache(maxsize=32)
def sampling_floor(table: FileTarget, n: int) -> float:
    """The table's own sampling noise at n rows: `metrics.sampling_floor` of `standard_rows(table, n)`."""
    return metrics.sampling_floor(standard_rows(table, n), splits=FLOOR_SPLITS)


@functools.lru_cache(maxsize=32)
def column_rows(table: FileTarget, final: bool) -> np.ndarray:
    """The rows behind each column's W1 and KS: all of them, or COLUMN_ROWS[final] of a fixed random pick."""
    n = COLUMN_ROWS[final]
    return table.data if n >= len(table.data) else table.data[np.random.default_rng(1).permutation(len(table.data))[:n]]


def picture_view(target, x_range: float) -> tuple[tuple[float, float], ...] | None:
    """The region pictures show: in 1-D [-x_range, x_range] (the seed's canvas, its noise range) widened to the
    target's span where that reaches beyond (a narrow noise range must not leave the target off the picture),
    and a file's data: around its rows; a box around the target in 2-D.

    Each axis is centred on the middle of the target's 0.1% to 99.9% quantiles and spans 1.5 times their
    distance (a quarter spare on each side); axes of spans within a factor 2 of each other get the larger
    span, so a round target looks round. None above 2-D.
    """
    if target.dim == 1 and isinstance(target, FileTarget):
        return (span_around(target.data[:, 0]),)
    if target.dim == 1:
        low, high = _span(*target.distribution().ppf([0.001, 0.999]))
        return ((min(-x_range, low), max(x_range, high)),)
    if target.dim > 2:
        return None
    return view_around(fixed_sample(target, REFERENCE_SAMPLES))  # the points the scorer compares with


def span_around(values: np.ndarray) -> tuple[float, float]:
    """One axis of a picture around values: the middle of their 0.1% to 99.9% quantiles, 1.5 times that wide."""
    return _span(*np.quantile(values, [0.001, 0.999]))


def _span(low: float, high: float) -> tuple[float, float]:
    """An axis around [low, high]: its middle, 1.5 times as wide (a quarter spare on each side)."""
    middle, span = (low + high) / 2, max(high - low, 1e-9)
    return float(middle - 0.75 * span), float(middle + 0.75 * span)


def view_around(points: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """The picture's box around points (n, 2), as `picture_view` describes it."""
    low, high = np.quantile(points[:, :2], [0.001, 0.999], axis=0)  # (2,) each
    spans = np.maximum(high - low, 1e-9)  # a degenerate axis still gets a box
    if spans.max() <= 2 * spans.min():
        spans = np.full(2, spans.max())
    centres = (low + high) / 2
    return tuple((float(c - 0.75 * s), float(c + 0.75 * s)) for c, s in zip(centres, spans))
