"""A sweep's pictures: which seeds are best, median and worst, the Figures, and the PNG files."""

import io
import math

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

import tinygan
from tinygan.engine.resolve import recorded_metrics
from tinygan.pictures import sweep as plots_sweep
from tinygan.sweep import grid as sweeps

NAN, INF = math.nan, math.inf


def synthetic_result(plan, values, samples, folder=None, metric=None):
    """A SweepResult built by hand: `values[cell]` the success metric of each seed, `samples[cell]` (seeds, n, dim).

    The other metrics copy the success metric; summaries come from `sweep.grid.summarize`, as in a real sweep.
    """
    rule, configs = plan.rule, plan.configs
    rows, cells = [], []
    for cell, (settings, config) in enumerate(zip(plan.cells, configs)):
        metrics = recorded_metrics(config)[2:]
        cell_rows = []
        for seed, value in zip(plan.seeds, values[cell]):
            row = {"seed": seed, **{name: float(value) for name in metrics}}
            cell_rows.append({"cell": cell, **settings, **row, "success": sweeps.succeeds(row, rule)})
        rows += cell_rows
        cells.append({"cell": cell, "settings": settings, **sweeps.summarize(cell_rows, rule, metrics)})
    return sweeps.SweepResult(plan, rows, cells, [np.asarray(s, np.float32) for s in samples], folder, {})


@pytest.fixture(scope="module")
def seed_plan():
    return sweeps.plan_sweep(tinygan.config_from_preset("seed", num_steps=10), ["learning_rate=0.03,0.01"], "0:5",
                            "w1<0.5")


def seed_samples(centres, rng) -> np.ndarray:
    """(seeds, 2000, 1): each seed's samples around its centre."""
    return np.stack([rng.normal(centre, 0.5, (2000, 1)) for centre in centres])


@pytest.fixture(scope="module")
def seed_result(seed_plan):
    rng = np.random.default_rng(0)
    values = [[0.3, NAN, 0.1, 2.0, 40.0], [NAN, NAN, 0.02, 0.9, 0.6]]  # cell 0 spans more than two decades
    samples = [seed_samples([4.2, 0, 4.0, 2, -3], rng), seed_samples([0, 0, 4.0, 3, 3.5], rng)]
    samples[0][1] = NAN  # a diverged seed's samples
    samples[1][0, :1000] = INF  # half of another
    return synthetic_result(seed_plan, values, samples)


def visible(figure: Figure) -> list:
    return [ax for ax in figure.axes if ax.get_visible()]


def texts(ax) -> list[str]:
    return [text.get_text() for text in ax.texts]


# ---------------------------------------------------------------- best, median and worst


@pytest.mark.parametrize(
    ("values", "kind", "expected"),
    [
        ([0.3, NAN, 0.1, 0.5, 0.2], "<", (2, 0, 1)),  # ranked 0.1, 0.2, 0.3, 0.5, NaN
        ([0.3, NAN, 0.1, 0.5, 0.2], ">", (3, 4, 1)),  # ranked 0.5, 0.3, 0.2, 0.1, NaN
        ([INF, 1.0, -INF, 2.0], "<", (2, 1, 0)),  # -inf, 1, 2, inf: the lower middle is 1.0
        ([INF, 1.0, -INF, 2.0], ">", (0, 3, 2)),  # inf, 2, 1, -inf
        ([NAN, INF, 0.0], "<", (2, 1, 0)),  # NaN ranks below +inf
        ([NAN, -INF, 0.0], ">", (2, 1, 0)),  # and below -inf when higher is better
        ([0.7], "<", (0, 0, 0)),
        ([0.2, 0.1], "<", (1, 1, 0)),  # two seeds: the median is the better one
        ([NAN, NAN, NAN], ">", (0, 1, 2)),  # all diverged: ties keep the rows' order
        ([1.0, 1.0, 0.5, 1.0], "<", (2, 0, 3)),
    ],
)
def test_pick_seeds(values, kind, expected):
    picks = plots_sweep.pick_seeds(np.array(values), kind)
    assert (picks["best"], picks["median"], picks["worst"]) == expected


def test_cell_values_follow_the_rows(seed_result):
    np.testing.assert_array_equal(plots_sweep.cell_values(seed_result, 1, "w1"), [NAN, NAN, 0.02, 0.9, 0.6])
    assert plots_sweep.cell_label({"learning_rate": 0.01, "r1": 1.0}) == "learning_rate=0.01, r1=1.0"
    assert plots_sweep.cell_label({}) == "base"


# ---------------------------------------------------------------- the metric of every seed


def test_metric_distribution_counts_every_seed(seed_result):
    figure = plots_sweep.plot_metric_distribution(seed_result)
    assert isinstance(figure, Figure)
    strip, diverged, rates = figure.axes
    assert len(figure.axes) == 3
    assert strip.get_xscale() == "log"  # 0.02 to 40
    assert [label.get_text() for label in strip.get_yticklabels()] == ["learning_rate=0.03", "learning_rate=0.01"]
    assert texts(diverged) == ["1 NaN", "2 NaN"]
    # Cell 0: 0.1 and 0.3 succeed (w1 < 0.5); cell 1: only 0.02.
    assert texts(rates)[0].startswith("2/5 = 40%") and texts(rates)[1].startswith("1/5 = 20%")
    # Every seed is a dot: finite ones in the strip, diverged ones in their column.
    assert sum(len(c.get_offsets()) for c in strip.collections) == 7
    assert sum(len(c.get_offsets()) for c in diverged.collections) == 3
    assert any(line.get_xdata()[0] == 0.5 for line in strip.lines)  # the threshold
    figure.savefig(io.BytesIO(), format="png")  # draws without a warning


def test_metric_distribution_is_linear_without_two_decades_and_copes_with_all_nan(seed_plan):
    samples = [np.zeros((5, 3, 1))] * 2
    figure = plots_sweep.plot_metric_distribution(synthetic_result(seed_plan, [[0.2, 0.3, 1.0, 0.4, 0.5]] * 2,
                                                                   samples))
    assert figure.axes[0].get_xscale() == "linear"
    assert texts(figure.axes[1]) == ["0", "0"]
    diverged = synthetic_result(seed_plan, [[NAN, NAN, INF, NAN, NAN], [0.0, 0.1, 0.2, 0.3, 0.4]], samples)
    figure = plots_sweep.plot_metric_distribution(diverged)
    assert texts(figure.axes[1]) == ["4 NaN + 1 inf", "0"]
    assert figure.axes[0].get_xscale() == "linear"  # a zero: no log scale
    figure.savefig(io.BytesIO(), format="png")


def test_metric_distribution_of_many_cells_and_seeds():
    plan = sweeps.plan_sweep(tinygan.config_from_preset("seed", num_steps=10),
                            ["learning_rate=" + ",".join(f"0.0{i}" for i in range(1, 10)), "r1=0,1"], "0:2000",
                            "w1<0.5")
    rng = np.random.default_rng(1)
    values = [rng.lognormal(np.log(0.1 * (1 + cell)), 1.0, 2000) for cell in range(18)]
    values[3][:100] = NAN
    figure = plots_sweep.plot_metric_distribution(synthetic_result(plan, values, [np.zeros((2000, 1, 1))] * 18))
    strip, diverged, _ = figure.axes
    assert len(strip.get_yticklabels()) == 18
    assert texts(diverged)[3] == "100 NaN"
    assert figure.get_figheight() < 12  # about half an inch a cell


# ---------------------------------------------------------------- best, median and worst seeds


def test_seed_densities_show_best_median_and_worst(seed_result):
    figure = plots_sweep.plot_seed_densities(seed_result)
    panels = visible(figure)
    assert len(panels) == 6
    titles = [ax.get_title() for ax in panels]
    # Cell 0: 0.3, NaN, 0.1, 2.0, 40.0 -> best seed 2, median seed 3 (0.1, 0.3, 2.0, 40, NaN), worst seed 1.
    assert titles[:3] == ["best: seed 2, w1 = 0.1", "median: seed 3, w1 = 2", "worst: seed 1, w1 = NaN"]
    # Cell 1: NaN, NaN, 0.02, 0.9, 0.6 -> best 2, median 3 (0.02, 0.6, 0.9, NaN, NaN), worst the last NaN row.
    assert titles[3:] == ["best: seed 2, w1 = 0.02", "median: seed 3, w1 = 0.9", "worst: seed 1, w1 = NaN"]
    assert "diverged: no finite sample" in texts(panels[2])  # seed 1's samples are all NaN
    figure.savefig(io.BytesIO(), format="png")


def test_seed_densities_count_non_finite_samples_as_outside(seed_plan):
    rng = np.random.default_rng(2)
    samples = seed_samples([4, 4, 4, 4, 4], rng)
    samples[4, :500] = INF  # the worst seed: a quarter of its samples infinite
    result = synthetic_result(seed_plan, [[0.1, 0.2, 0.3, 0.4, 0.5]] * 2, [samples] * 2)
    panels = visible(plots_sweep.plot_seed_densities(result))
    assert texts(panels[2]) == ["25.0% outside"]
    assert texts(panels[0]) == ["0.0% outside"]


def test_seed_densities_merge_a_seed_that_is_best_and_median(seed_plan):
    plan = sweeps.plan_sweep(seed_plan.base, ["learning_rate=0.03"], "7,9", "w1>0.5")  # higher is better
    result = synthetic_result(plan, [[0.2, 0.9]], [seed_samples([0, 4], np.random.default_rng(3))])
    panels = visible(plots_sweep.plot_seed_densities(result))
    assert [ax.get_title() for ax in panels] == ["best = median: seed 9, w1 = 0.9", "worst: seed 7, w1 = 0.2"]


def test_seed_densities_in_2d_scatter_inside_the_box():
    plan = sweeps.plan_sweep(tinygan.config_from_preset("ring", num_steps=10), [], "0:4", "sliced_w1<0.1")
    target = tinygan.data.make_target(plan.base.data)
    real = tinygan.data.fixed_sample(target, 2000)
    samples = np.stack([real, real * 0.5, np.full_like(real, NAN), real + 100])  # good, shrunk, diverged, far away
    result = synthetic_result(plan, [[0.01, 0.3, NAN, 50.0]], [samples])
    figure = plots_sweep.plot_seed_densities(result)
    best, median, worst = visible(figure)
    assert best.get_title() == "best: seed 0, sliced_w1 = 0.01"
    assert median.get_title() == "median: seed 1, sliced_w1 = 0.3"
    assert worst.get_title() == "worst: seed 2, sliced_w1 = NaN"
    assert texts(worst) == ["diverged: no finite sample"]
    assert [len(c.get_offsets()) for c in best.collections] == [1500, 1500]  # real and generated, thinned
    (x_low, x_high), (y_low, y_high) = tinygan.measure.scoring.picture_view(target, plan.base.data.noise_range)
    assert best.get_xlim() == (x_low, x_high) and best.get_ylim() == (y_low, y_high)
    figure.savefig(io.BytesIO(), format="png")
    assert len(plots_sweep.plot_metric_distribution(result).axes) == 3


# ---------------------------------------------------------------- files


def test_save_pictures_writes_two_pngs_and_nothing_else(seed_result, tmp_path):
    paths = plots_sweep.save_pictures(seed_result._replace(folder=tmp_path))
    assert paths == [tmp_path / "sweep_metric.png", tmp_path / "sweep_seeds.png"]
    assert sorted(tmp_path.iterdir()) == sorted(paths)
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width > 500 and image.height > 200
    with pytest.raises(ValueError, match="no folder"):
        plots_sweep.save_pictures(seed_result)


def test_a_real_sweep_draws_its_pictures(tmp_path):
    config = tinygan.config_from_preset("seed", num_steps=50, pretrain_steps=20)
    plan = sweeps.plan_sweep(config, [], "0:3", "w1<0.5")  # one cell: one program to compile
    result = sweeps.run_sweep(plan, tmp_path / "sweep")
    assert [np.shape(s) for s in result.samples] == [(3, sweeps.PICTURE_SAMPLES, 1)]
    paths = sweeps.sweep_pictures(result)
    assert {path.name for path in paths} == {"sweep_metric.png", "sweep_seeds.png"}
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG"
    assert not list((tmp_path / "sweep").glob("*.partial"))


def test_metric_distribution_when_no_seed_succeeds(seed_plan):
    # Wilson's interval of 0 of 3 starts a rounding error above 0: the error bar must still draw.
    plan = sweeps.plan_sweep(seed_plan.base, ["learning_rate=0.03,0.01"], "0:3", "w1<0.5")
    result = synthetic_result(plan, [[1.0, 2.0, 3.0], [0.1, 0.2, 0.3]], [np.zeros((3, 2, 1))] * 2)
    rates = plots_sweep.plot_metric_distribution(result).axes[2]
    assert [text.split("  ")[0] for text in texts(rates)] == ["0/3 = 0%", "3/3 = 100%"]
