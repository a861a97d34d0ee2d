"""What a run measures for its target: which metrics, and computing them from generated samples.

A `Scorer` is built once per run from the target; called on samples (n, dim)
it returns one number per column, the same columns at every log point and in
metrics.json. Which columns depends on the target:

- 1-D (every 1-D target has a law): mean, std, w1, ks;
- more dimensions: sliced_w1 and energy, against a fixed sample of the target
  (on SLICED_SAMPLES and ENERGY_SAMPLES points: fewer at log points than at the end);
- targets of two modes or more: modes_captured, high_quality, reverse_kl (PacGAN's
  measures, on MODE_SAMPLES samples as PacGAN counts them);
- 2-D: GAN Lab's kl and js over the picture's square.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinygan import metrics
from tinygan.data import fixed_sample

LAW_COLUMNS = ("mean", "std", "w1", "ks")
SAMPLE_COLUMNS = ("sliced_w1", "energy")
MODE_COLUMNS = ("modes_captured", "high_quality", "reverse_kl")
GRID_COLUMNS = ("kl", "js")
ALL_COLUMNS = LAW_COLUMNS + SAMPLE_COLUMNS + MODE_COLUMNS + GRID_COLUMNS
HIGHER_IS_BETTER = frozenset({"modes_captured", "high_quality"})  # every other metric: lower is better

REFERENCE_SAMPLES = 10_000  # target samples that generated ones are compared with in 2 or more dimensions
# Points of each side behind the distances in 2 or more dimensions, (at a log point, at the end): a log point
# must cost little next to training, the final metrics may take a second. Energy costs n^2 distances.
SLICED_SAMPLES = (2_000, 10_000)
ENERGY_SAMPLES = (1_000, 5_000)
MODE_SAMPLES = 2_500  # samples behind the mode measures, at log points and at the end: PacGAN's protocol


def metric_columns(target) -> tuple[str, ...]:
    """The metrics recorded for `target`, in the order of the history's columns."""
    columns = LAW_COLUMNS if target.dim == 1 else SAMPLE_COLUMNS
    if target.modes is not None and len(target.modes.weights) > 1:  # one mode: coverage says nothing
        columns += MODE_COLUMNS
    if target.dim == 2:
        columns += GRID_COLUMNS
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
            scores["sliced_w1"] = metrics.sliced_wasserstein(thinned(x, sliced), thinned(self.reference, sliced))
            scores["energy"] = metrics.energy_distance(thinned(x, energy), thinned(self.reference, energy))
        if "modes_captured" in self.columns:
            scores.update(metrics.mode_metrics(thinned(x, MODE_SAMPLES), self.modes.means, self.modes.stds,
                                               self.modes.weights))
        if "kl" in self.columns:
            (x_low, x_high), (y_low, y_high) = self.view
            scores.update(metrics.gan_lab_divergences(x, self.reference, low=(x_low, y_low), high=(x_high, y_high)))
        return {name: scores[name] for name in self.columns}


def make_scorer(target, view: tuple | None = None) -> Scorer:
    """The scorer of `target`; `view` is the picture's square in 2-D (see `picture_view`)."""
    reference = None
    if target.dim > 1:
        reference = fixed_sample(target, REFERENCE_SAMPLES)
    return Scorer(metric_columns(target), target.distribution() if target.dim == 1 else None, reference,
                  target.modes, view)


def picture_view(target, x_range: float) -> tuple[tuple[float, float], ...] | None:
    """The region pictures show: [-x_range, x_range] in 1-D (the seed's), a box around the target in 2-D.

    Each axis is centred on the middle of the target's 0.1% to 99.9% quantiles and spans 1.5 times their
    distance (a quarter spare on each side); axes of spans within a factor 2 of each other get the larger
    span, so a round target looks round. None above 2-D.
    """
    if target.dim == 1:
        return ((-x_range, x_range),)
    if target.dim > 2:
        return None
    return view_around(fixed_sample(target, REFERENCE_SAMPLES))  # the points the scorer compares with


def view_around(points: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """The picture's box around points (n, 2), as `picture_view` describes it."""
    low, high = np.quantile(points[:, :2], [0.001, 0.999], axis=0)  # (2,) each
    spans = np.maximum(high - low, 1e-9)  # a degenerate axis still gets a box
    if spans.max() <= 2 * spans.min():
        spans = np.full(2, spans.max())
    centres = (low + high) / 2
    return tuple((float(c - 0.75 * s), float(c + 0.75 * s)) for c, s in zip(centres, spans))
