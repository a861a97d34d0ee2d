"""A reference sample set compared with many others (`metrics.SampleSet`) gives the plain distances bit for bit,
however many times it is asked; the scorer reads its reference through one."""

from __future__ import annotations

import numpy as np
import pytest

from tinygan.data.targets import make_target
from tinygan.engine.resolve import config_from_preset
from tinygan.measure import metrics
from tinygan.measure.scoring import ENERGY_SAMPLES, SLICED_SAMPLES, make_scorer, picture_view, thinned


@pytest.mark.parametrize("n, m, dim", [(300, 300, 2), (200, 350, 3), (50, 50, 1)])
def test_a_sample_set_gives_the_plain_distances_bit_for_bit(n, m, dim):
    rng = np.random.default_rng(dim)
    reference = metrics.SampleSet(rng.normal(size=(m, dim)) * 1.5)
    for _ in range(3):  # the first call computes the reference's parts, the others reuse them
        x = rng.normal(size=(n, dim))
        assert reference.sliced_wasserstein(x) == metrics.sliced_wasserstein(x, reference.points)
        assert reference.sliced_wasserstein(x, num_projections=7, seed=3) == \
            metrics.sliced_wasserstein(x, reference.points, num_projections=7, seed=3)
        assert reference.energy_distance(x) == metrics.energy_distance(x, reference.points)


def test_the_scorer_reads_the_same_distances_through_its_sample_sets():
    config = config_from_preset("ring")
    target = make_target(config.data)
    scorer = make_scorer(target, picture_view(target, config.data.noise_range))
    samples = np.random.default_rng(0).normal(size=(10_000, 2))
    for final in (False, True, False):
        scores = scorer(samples, final=final)
        sliced, energy = SLICED_SAMPLES[final], ENERGY_SAMPLES[final]
        assert scores["sliced_w1"] == metrics.sliced_wasserstein(thinned(samples, sliced),
                                                                 thinned(scorer.reference, sliced))
        assert scores["energy"] == metrics.energy_distance(thinned(samples, energy), thinned(scorer.reference, energy))
    assert sorted(scorer.sample_sets) == sorted({*SLICED_SAMPLES, *ENERGY_SAMPLES})
