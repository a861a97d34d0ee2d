"""Pictures: densities that keep the mass outside the range, Figures, and animation files."""

import warnings

import numpy as np
import pytest
import scipy.stats
from matplotlib.figure import Figure
from PIL import Image

from tinygan.engine.resolve import config_from_preset
from tinygan.pictures import plots
from tinygan.pictures import two_d as plots_2d

XS = np.linspace(-8, 8, 10_000)


# ---------------------------------------------------------------- density


def test_density_counts_mass_outside_the_range():
    samples = np.concatenate([np.full(500, -50.0), np.linspace(-1, 1, 500)])  # half of G's mass far away
    centres, density, outside = plots.density(samples, -8, 8)
    width = 16 / plots.BINS
    assert density.sum() * width == pytest.approx(0.5, rel=1e-12)  # not renormalised to 1
    assert outside == pytest.approx(0.5, rel=1e-12)
    assert centres.shape == density.shape == (100,)
    np.testing.assert_allclose(centres[[0, -1]], [-8 + width / 2, 8 - width / 2])


def test_density_of_samples_inside_integrates_to_one():
    samples = np.random.default_rng(0).normal(4, 0.5, 10_000)
    centres, density, outside = plots.density(samples, -8, 8, bins=50)
    assert centres.shape == (50,)
    assert density.sum() * (16 / 50) == pytest.approx(1.0, rel=1e-12)
    assert outside == 0.0
    assert centres[np.argmax(density)] == pytest.approx(4.0, abs=16 / 50)


def test_density_counts_non_finite_samples_as_outside():
    samples = np.array([0.0, 1.0, np.nan, np.inf, -np.inf, 9.0, 8.0, -8.0])  # 8 and -8 are inside
    _, density, outside = plots.density(samples, -8, 8, bins=4)
    assert outside == pytest.approx(4 / 8, rel=1e-12)
    assert density.sum() * 4 == pytest.approx(4 / 8, rel=1e-12)
    assert plots.outside_fraction(samples, -8, 8) == pytest.approx(4 / 8, rel=1e-12)


def test_outside_fraction():
    assert plots.outside_fraction(np.array([-7.0, -6.0, 0.0, 6.0, 6.5]), -6, 6) == pytest.approx(2 / 5)
    assert plots.outside_fraction(np.array([]), -6, 6) == 0.0


# ---------------------------------------------------------------- figures


def test_plot_losses_returns_a_figure_of_both_losses():
    steps, loss_d, loss_g = np.arange(0, 50, 10), np.linspace(1.4, 1.2, 5), np.linspace(0.7, 0.9, 5)
    figure = plots.plot_losses(steps, loss_d, loss_g)
    assert isinstance(figure, Figure)
    (ax,) = figure.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"Discriminator", "Generator"}
    np.testing.assert_array_equal(lines["Discriminator"].get_ydata(), loss_d)
    np.testing.assert_array_equal(lines["Generator"].get_ydata(), loss_g)
    assert ax.get_xlabel() == "Iteration" and ax.get_ylabel() == "Loss"


def test_plot_losses_draws_the_equilibrium_when_given():
    ax = plots.plot_losses(np.arange(3), np.ones(3), np.ones(3), equilibrium=(1.25, -0.5)).axes[0]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--" and len(line.get_ydata())]
    assert sorted(float(line.get_ydata()[0]) for line in dashed) == [-0.5, 1.25]
    assert "equilibrium (D = 1/2)" in [text.get_text() for text in ax.get_legend().get_texts()]


def test_plot_losses_in_portuguese():
    ax = plots.plot_losses(np.arange(3), np.ones(3), np.ones(3), lang="pt").axes[0]
    assert {line.get_label() for line in ax.get_lines()} == {"Rede discriminante", "Rede geradora"}
    assert ax.get_xlabel() == "Epoca" and ax.get_ylabel() == "Perda"


def test_plot_distribution_draws_three_curves_and_says_what_lies_outside():
    real = np.random.default_rng(0).normal(4, 0.5, 10_000)
    generated = np.concatenate([np.full(5000, -50.0), np.random.default_rng(1).normal(4, 0.5, 5000)])
    decision = np.full(10_000, 0.5)
    figure = plots.plot_distribution(XS, decision, real, generated)
    assert isinstance(figure, Figure)
    (ax,) = figure.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"decision boundary", "real data", "generated data"}
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Data values", "Probability density")
    np.testing.assert_array_equal(lines["decision boundary"].get_ydata(), decision)
    np.testing.assert_allclose(lines["generated data"].get_ydata(), plots.density(generated, -8, 8)[1])
    assert ax.get_xlim() == (-8, 8)
    texts = [t.get_text() for t in ax.texts]
    assert "50.0% of generated samples lie outside [-8, 8]" in texts


def test_plot_distribution_in_the_seeds_portuguese():
    figure = plots.plot_distribution(XS, np.full(10_000, 0.5), np.zeros(10), np.zeros(10), lang="pt")
    ax = figure.axes[0]
    assert {line.get_label() for axis in figure.axes for line in axis.get_lines()} == {
        "Fronteira discriminante", "Dados reais", "Dados sinteticos"}
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Valores", "Densidade de probabilidade")
    assert "0.0% das amostras sinteticas fora de [-8, 8]" in [t.get_text() for t in ax.texts]


# ---------------------------------------------------------------- animation


def animation_inputs(n_frames):
    rng = np.random.default_rng(0)
    steps = list(range(0, 10 * n_frames, 10))
    decisions = [np.full(10_000, 0.2 + 0.1 * i) for i in range(n_frames)]
    generated = [rng.normal(4 - i, 1.0, 10_000) for i in range(n_frames)]
    return steps, decisions, generated, XS, rng.normal(4, 0.5, 10_000)


def test_save_animation_writes_a_gif_with_one_frame_per_entry(tmp_path):
    path = tmp_path / "training.gif"
    plots.save_animation(path, *animation_inputs(5))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["training.gif"]  # no partial file left
    with Image.open(path) as image:
        assert image.format == "GIF"
        assert image.n_frames == 5
        assert image.size == (640, 400)


def test_save_animation_writes_an_mp4(tmp_path):
    path = tmp_path / "training.mp4"
    plots.save_animation(path, *animation_inputs(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["training.mp4"]
    data = path.read_bytes()
    assert len(data) > 1000
    assert data[4:8] == b"ftyp"  # an ISO base media file starts with its ftyp box


class FailingAt(list):
    """A list of frames whose entry `index` cannot be read: a failure half-way through writing."""

    def __init__(self, items, index):
        super().__init__(items)
        self.index = index

    def __getitem__(self, i):
        if i == self.index:
            raise RuntimeError("frame unavailable")
        return super().__getitem__(i)


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_a_failed_animation_leaves_no_file(tmp_path, suffix):
    steps, decisions, generated, xs, real = animation_inputs(4)
    with pytest.raises(RuntimeError, match="frame unavailable"):
        plots.save_animation(tmp_path / f"training{suffix}", steps, FailingAt(decisions, 2), generated, xs, real)
    assert list(tmp_path.iterdir()) == []


def test_mp4_writer_does_not_fork_the_jax_process(tmp_path):
    import jax

    jax.devices()  # JAX's fork warning is armed once its backend is up, as it is after training
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plots.save_animation(tmp_path / "training.mp4", *animation_inputs(2))
    assert [str(w.message) for w in caught if "fork" in str(w.message)] == []


def test_plot_samples_2d_draws_heat_map_samples_and_arrows():
    rng = np.random.default_rng(0)
    real = rng.normal(0, 1, (200, 2))
    generated = np.concatenate([rng.uniform(-1, 1, (150, 2)), np.full((50, 2), 40.0)])  # a quarter far away
    decision = np.linspace(0, 1, 30 * 20).reshape(20, 30)
    positions, directions = generated[:10], np.ones((10, 2))
    figure = plots_2d.plot_samples_2d(real, generated, extent=(-3, 3, -2, 2), decision=decision,
                                   arrows=(positions, directions))
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    (image,) = ax.get_images()
    np.testing.assert_array_equal(image.get_array(), decision)
    assert image.get_extent() == [-3, 3, -2, 2]
    real_points, generated_points = ax.collections[:2]
    np.testing.assert_array_equal(real_points.get_offsets(), real)
    np.testing.assert_array_equal(generated_points.get_offsets(), generated)
    (quiver,) = [c for c in ax.collections if c.__class__.__name__ == "Quiver"]
    assert quiver.N == 10
    texts = [t.get_text() for t in ax.texts]
    assert "25.0% of generated samples lie outside the picture" in texts

    # The note hangs between the title and the axes: generated samples may fill any corner of the view.
    figure.canvas.draw()
    (note,) = [t.get_window_extent() for t in ax.texts if "outside" in t.get_text()]
    assert ax.get_window_extent().y1 <= note.y0 and note.y1 <= ax.title.get_window_extent().y0


def test_plot_samples_2d_without_heat_map_or_arrows():
    points = np.zeros((5, 2))
    ax = plots_2d.plot_samples_2d(points, points, extent=(-1, 1, -1, 1), lang="pt").axes[0]
    assert ax.get_images() == [] and ax.get_title() == "Rede Adversarial Generativa 2D"
    assert "0.0% das amostras sinteticas fora da figura" in [t.get_text() for t in ax.texts]


def test_a_1d_picture_shows_the_target_whatever_the_noise_range():
    from tinygan.data.targets import make_target
    from tinygan.measure.scoring import picture_view

    seed, recommended = (config_from_preset(name) for name in ("seed", "recommended"))
    assert picture_view(make_target(seed.data), seed.data.noise_range) == ((-8.0, 8.0),)  # the blog's canvas
    ((low, high),) = picture_view(make_target(recommended.data), recommended.data.noise_range)  # noise range 0.3
    quantiles = scipy.stats.norm(4, 0.5).ppf([0.001, 0.999])
    assert low == -0.3 and high == pytest.approx(4 + 0.75 * (quantiles[1] - quantiles[0]))


# ---------------------------------------------------------------- metrics.png


def ring_history() -> dict[str, np.ndarray]:
    """A ring run's history: 7 metrics; reverse KL finite only at the last row (no sample near a mode before)."""
    steps = np.arange(0, 601, 100)
    return {"step": steps, "loss_d": np.ones(7), "loss_g": np.ones(7), "sliced_w1": np.geomspace(0.4, 0.001, 7),
            "energy": np.linspace(0.6, 0.2, 7), "modes_captured": np.arange(7.0), "high_quality": np.linspace(0, 50, 7),
            "reverse_kl": np.r_[[np.nan] * 6, 1.2], "kl": np.linspace(8, 5, 7), "js": np.linspace(0.9, 0.8, 7)}


def test_metrics_fill_their_grid_without_an_empty_cell():
    for count, rows in ((1, [1]), (4, [2, 2]), (5, [3, 2]), (7, [4, 3]), (9, [3, 3, 3])):
        history = {"step": np.arange(3)} | {f"m{i}": np.arange(3.0) + 1 for i in range(count)}
        figure = plots.plot_metrics(history)
        figure.canvas.draw()
        boxes = [ax.get_position() for ax in figure.axes]
        assert len(boxes) == count and all(ax.get_visible() for ax in figure.axes)
        tops = sorted({round(box.y1, 3) for box in boxes}, reverse=True)
        assert [sum(round(box.y1, 3) == top for box in boxes) for top in tops] == rows, count
        spans = [(min(box.x0 for box in row), max(box.x1 for box in row))
                 for row in ([box for box in boxes if round(box.y1, 3) == top] for top in tops)]
        # Each row spans the same width: the last row's panels are wider when it has fewer.
        assert np.allclose(spans, spans[0], atol=0.03) and spans[0][1] - spans[0][0] > 0.75, (count, spans)


def test_metrics_say_their_scale_name_the_iterations_and_draw_a_lone_point():
    figure = plots.plot_metrics(ring_history(), lang="pt")
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[0] == "Wasserstein-1 fatiado (escala log)"  # four decades: a log scale, said in the title
    assert figure.axes[0].get_yscale() == "log" and figure.axes[1].get_yscale() == "linear"
    assert "KL reversa sobre os modos (nats)" in titles and "distancia de energia" in titles
    assert all(ax.get_xlabel() == "Epoca" for ax in figure.axes)  # every panel names its x axis
    assert all(ax.get_xlim()[0] < 0 and ax.get_xlim()[1] > 600 for ax in figure.axes)  # the whole run, each
    lone = figure.axes[titles.index("KL reversa sobre os modos (nats)")].lines[0]
    assert lone.get_marker() == "o"  # one finite value: a line alone would draw nothing
    assert figure.axes[0].lines[0].get_marker() in ("None", None, "")


def test_metrics_draw_the_values_to_reach():
    history = {"step": np.arange(3), "mean": np.array([0.0, 2.0, 3.9]), "std": np.array([3.0, 1.0, 0.6])}
    figure = plots.plot_metrics(history, references={"mean": 4.0, "std": 0.5})
    for ax, value in zip(figure.axes, (4.0, 0.5)):
        dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
        assert len(dashed) == 1 and list(dashed[0].get_ydata()) == [value, value]
        assert any(text.get_text() == f" target {value:.4g}" for text in ax.texts)


def test_a_gif_encoded_on_another_thread_is_the_same_file_and_its_failure_is_heard(tmp_path):
    import concurrent.futures

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (40, 60, 3), dtype=np.uint8) for _ in range(5)]
    assert plots.write_frames(tmp_path / "here.gif", iter(frames), 10) is None
    with concurrent.futures.ThreadPoolExecutor(1) as encoder:
        future = plots.write_frames(tmp_path / "there.gif", iter(frames), 10, encoder)
        assert future.result() is None
        # A folder that is not there: the encoder's error reaches whoever waits, and no partial file stays.
        failed = plots.write_frames(tmp_path / "missing" / "x.gif", iter(frames), 10, encoder)
        with pytest.raises(FileNotFoundError):
            failed.result()
    assert (tmp_path / "here.gif").read_bytes() == (tmp_path / "there.gif").read_bytes()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["here.gif", "there.gif"]
