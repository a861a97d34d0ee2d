"""Corner plots of tables: panels, ranges from the real data, the share outside them, names, animation."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from tinygan.measure.scoring import thinned
from tinygan.pictures import table as plots_table
from tinygan.pictures.table import column_ranges, frames_kept, outside_fraction, plot_corner, save_animation_corner


def table(d: int, n: int = 600, *, seed: int = 0) -> np.ndarray:
    """Correlated columns of very different scales: (n, d)."""
    rng = np.random.default_rng(seed)
    mixed = rng.normal(size=(n, d)) @ (np.eye(d) + 0.4)  # (n, d), every pair correlated
    return mixed * np.logspace(-2, 4, d) + np.arange(d)


def names_of(d: int) -> list[str]:
    return [f"column {j}" for j in range(d)]


def panels(figure: Figure) -> dict[tuple[int, int], object]:
    """The figure's panels by (row, column) of the grid."""
    return {(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start): ax for ax in figure.axes}


def by_gid(artists, gid: str) -> list:
    return [artist for artist in artists if artist.get_gid() == gid]


def caption(figure: Figure) -> str:
    (text,) = by_gid(figure.texts, "notes")
    return text.get_text()


# ---------------------------------------------------------------- the still picture


@pytest.mark.parametrize("d", [3, 5, 16])
def test_plot_corner_draws_every_pair_below_and_every_density_on_the_diagonal(d):
    real = table(d)
    generated = real[::-1] + 0.5 * real.std(axis=0)  # shifted by half a standard deviation
    figure = plot_corner(real, generated, names_of(d))
    grid = panels(figure)
    assert isinstance(figure, Figure)
    assert sorted(grid) == [(i, j) for i in range(d) for j in range(i + 1)]  # nothing above the diagonal
    ranges = column_ranges(real)
    for (i, j), ax in grid.items():
        assert ax.get_xlim() == tuple(ranges[j])
        if i == j:
            (curve,) = by_gid(ax.patches, "generated")
            edges = np.linspace(*ranges[j], len(curve.get_data().values) + 1)
            counts = np.histogram(generated[:, j], bins=edges)[0]
            np.testing.assert_allclose(curve.get_data().values, counts / (len(generated) * np.diff(edges)[0]))
            np.testing.assert_allclose(curve.get_data().edges, edges)
            assert len(by_gid(ax.patches, "real")) == 2  # filled, and its edge
        else:
            assert ax.get_ylim() == tuple(ranges[i])
            (real_points,) = by_gid(ax.lines, "real")
            (generated_points,) = by_gid(ax.lines, "generated")
            np.testing.assert_array_equal(real_points.get_xydata(), real[:, [j, i]])
            np.testing.assert_array_equal(generated_points.get_xydata(), generated[:, [j, i]])
    assert [grid[d - 1, j].get_xlabel() for j in range(d)] == names_of(d)
    assert [grid[i, 0].get_ylabel() for i in range(1, d)] == names_of(d)[1:]
    assert {label.get_text() for i, j in grid if i < d - 1 for label in grid[i, j].get_xticklabels()} <= {""}
    assert {label.get_text() for i, j in grid if j > 0 for label in grid[i, j].get_yticklabels()} <= {""}
    assert figure.get_suptitle() == f"Generated against real data, {d} columns"
    assert figure.get_figwidth() == figure.get_figheight() == pytest.approx(max(6.0, 1.3 * d + 0.95))


def test_points_are_thinned_evenly_to_as_many_as_the_real_ones():
    real, generated = table(3, n=4000), table(3, n=9000, seed=1)
    ax = panels(plot_corner(real, generated, names_of(3)))[2, 1]
    (real_points,) = by_gid(ax.lines, "real")
    (generated_points,) = by_gid(ax.lines, "generated")
    np.testing.assert_array_equal(real_points.get_xydata(), thinned(real, 1500)[:, [1, 2]])
    np.testing.assert_array_equal(generated_points.get_xydata(), thinned(generated, 1500)[:, [1, 2]])
    few = panels(plot_corner(real[:200], generated, names_of(3)))[2, 1]  # a short table: as many of each
    assert len(by_gid(few.lines, "generated")[0].get_xdata()) == 200


def test_ranges_contain_the_real_data_but_not_its_far_outliers():
    real = table(4, n=2000)
    ranges = column_ranges(real)
    assert np.all(ranges[:, 0] < real.min(axis=0)) and np.all(ranges[:, 1] > real.max(axis=0))
    low, high = np.quantile(real, [0.005, 0.995], axis=0)
    assert np.all(ranges[:, 1] - ranges[:, 0] <= 2.16 * (high - low))  # never beyond half the span + 8% each side
    outlier = real.copy()
    outlier[0, 2] = 1e9
    far = column_ranges(outlier)
    np.testing.assert_array_equal(far[[0, 1, 3]], ranges[[0, 1, 3]])
    assert far[2, 1] < 1e6  # the picture is not squashed into a corner by one value
    constant = column_ranges(np.column_stack([np.full(50, 3.0), np.zeros(50), np.arange(50.0)]))
    assert constant[0, 0] < 3 < constant[0, 1] and constant[1, 0] < 0 < constant[1, 1]


def test_the_share_outside_the_drawn_ranges_is_on_the_picture():
    real = table(4, n=1000)
    generated = real.copy()
    generated[::10, 3] += 1e6  # a tenth of the samples far away in one column
    assert outside_fraction(generated, column_ranges(real)) == pytest.approx(0.1, abs=1e-12)
    figure = plot_corner(real, generated, ["a", "b", "c", "very far column"])
    assert caption(figure).splitlines() == [
        "10.0% of generated samples lie outside the drawn ranges", "most often in very far column: 10.0%"]
    (curve,) = by_gid(panels(figure)[3, 3].patches, "generated")
    width = np.diff(curve.get_data().edges)[0]
    assert curve.get_data().values.sum() * width == pytest.approx(0.9)  # not renormalised to the drawn range
    assert caption(plot_corner(real, real, list("abcd"))) == "0.0% of generated samples lie outside the drawn ranges"


def test_rows_with_nan_or_inf_are_left_out_and_counted():
    real = table(3)
    generated = real.copy()
    generated[:30, 1] = np.nan
    generated[30:60, 2] = np.inf
    generated[60:90, 0] = -np.inf
    figure = plot_corner(real, generated, names_of(3))
    finite = generated[90:]
    for (i, j), ax in panels(figure).items():
        if i != j:
            np.testing.assert_array_equal(by_gid(ax.lines, "generated")[0].get_xydata(), finite[:, [j, i]])
    lines = caption(figure).splitlines()
    assert lines[0] == "15.0% of generated samples lie outside the drawn ranges"  # 90 of 600
    assert lines[-1] == "15.0% are NaN or infinite (not drawn)"
    FigureCanvasAgg(figure).draw()  # and it draws
    nothing = plot_corner(real, np.full((5, 3), np.nan), names_of(3))  # nothing finite at all
    assert caption(nothing).replace("\n", " ").startswith("100.0% of generated samples lie outside the drawn ranges")
    assert caption(plot_corner(real, np.empty((0, 3)), names_of(3))).startswith("0.0% of generated")


def test_long_names_are_shortened_and_kept_apart():
    names = ["measurement_temperature_left_sensor", "measurement_temperature_right_sensor",
             "Größe der Wohnfläche in Quadratmetern", "x", "price $ per unit", "a" * 30, "a" * 30, ""]
    short = plots_table.short_names(names)
    assert short == ["measurem…ft_sensor", "measurem…ht_sensor", "Größe der Wohnflä…", "x",
                     r"price \$ per unit", "aaaaaaaa…aaaaaa #6", "aaaaaaaa…aaaaaa #7", "column 8"]
    assert len(set(short)) == len(short)
    assert all(len(name.replace("\\$", "$")) <= plots_table.NAME_LENGTH for name in short)
    assert plots_table.short_names(["feature_of_interest_1", "feature_of_interest_2"]) == [
        "feature_of_inter…1", "feature_of_inter…2"]  # the shortest end that tells them apart
    grid = panels(plot_corner(table(3), table(3), names[:3]))
    assert [grid[2, j].get_xlabel() for j in range(3)] == short[:3]


def test_portuguese_words_and_the_iteration():
    figure = plot_corner(table(3), table(3, seed=1), names_of(3), lang="pt", step=300)
    assert figure.get_suptitle() == "Dados sinteticos contra dados reais, 3 colunas"
    assert caption(figure).splitlines()[:1] == ["Epoca 300"]
    assert "das amostras sinteticas fora das faixas desenhadas" in caption(figure)
    assert [text.get_text() for text in figure.legends[0].get_texts()] == ["Dados reais", "Dados sinteticos"]
    english = plot_corner(table(3), table(3, seed=1), names_of(3), step=300)
    assert caption(english).splitlines()[0] == "Iteration 300"
    assert [text.get_text() for text in english.legends[0].get_texts()] == ["real data", "generated data"]


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="2 names for 3 columns"):
        plot_corner(table(3), table(3), ["a", "b"])
    with pytest.raises(ValueError, match=r"must be \(m, 3\)"):
        plot_corner(table(3), table(4), names_of(3))


# ---------------------------------------------------------------- ticks


@pytest.mark.parametrize(("ticks", "labels"), [
    ([500, 1000, 1500], ["500", "1000", "1500"]),
    ([-0.5, 0, 0.5], ["\N{MINUS SIGN}0.5", "0.0", "0.5"]),
    ([10.6, 10.8, 11.0], ["10.6", "10.8", "11.0"]),
    ([20_000, 40_000], ["20k", "40k"]),
    ([1.2e6, 1.4e6], ["1.2M", "1.4M"]),
    ([2e-5, 4e-5], ["2e\N{MINUS SIGN}5", "4e\N{MINUS SIGN}5"]),
    ([5e8, 1.5e9], ["5e8", "1.5e9"]),
    ([0, 2e11], ["0", "2e11"]),
])  # fmt: skip
def test_tick_labels_are_short(ticks, labels):
    assert plots_table.tick_labels(np.array(ticks, np.float64)) == labels


def test_tick_labels_never_overlap():
    real = table(5, n=800) * np.array([1, 1e-3, 1e3, -1, 1e5])  # scales from 1e-5 to 1e9, negative ones
    figure = plot_corner(real, real, names_of(5))
    renderer = FigureCanvasAgg(figure).get_renderer()
    boxes = [label.get_window_extent(renderer) for ax in figure.axes
             for label in ax.get_xticklabels() + ax.get_yticklabels() if label.get_text()]
    boxes += [ax.xaxis.label.get_window_extent(renderer) for ax in figure.axes if ax.get_xlabel()]
    boxes += [ax.yaxis.label.get_window_extent(renderer) for ax in figure.axes if ax.get_ylabel()]
    assert len(boxes) > 20
    overlaps = [(a, b) for k, a in enumerate(boxes) for b in boxes[k + 1:] if a.overlaps(b)]
    assert overlaps == []
    for ax in figure.axes:  # two to four ticks on every labelled axis
        assert all(2 <= len(axis.get_ticklocs()) <= 4 for axis in (ax.xaxis, ax.yaxis) if axis.get_ticklabels()
                   and axis.get_ticklabels()[0].get_text())


# ---------------------------------------------------------------- animation


def test_frames_kept_are_evenly_spaced_with_the_last():
    np.testing.assert_array_equal(frames_kept(7), np.arange(7))
    kept = frames_kept(500)
    assert len(kept) == len(set(kept)) == 100 and kept[0] == 0 and kept[-1] == 499
    assert set(np.diff(kept)) == {5, 6}
    np.testing.assert_array_equal(frames_kept(12, 5), [0, 3, 6, 8, 11])


def animation_inputs(count: int, d: int = 3):
    real = table(d, n=300)
    steps = list(range(0, 10 * count, 10))
    frames = [real * (1 + 0.1 * k) for k in range(count)]  # shrinking to the real data, frame by frame
    return steps, frames, real, names_of(d)


def test_save_animation_corner_writes_a_gif_of_every_frame(tmp_path):
    path = tmp_path / "corner.gif"
    save_animation_corner(path, *animation_inputs(4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corner.gif"]
    with Image.open(path) as image:
        assert image.format == "GIF"
        assert image.n_frames == 4
        assert image.size == (600, 600)


def test_save_animation_corner_keeps_an_evenly_spaced_subset(tmp_path, monkeypatch):
    shown = []
    show = plots_table._Corner.show
    monkeypatch.setattr(plots_table, "FRAMES", 5)
    monkeypatch.setattr(plots_table._Corner, "show", lambda self, g, heading="": shown.append(heading) or show(
        self, g, heading=heading))
    save_animation_corner(tmp_path / "corner.gif", *animation_inputs(12))
    with Image.open(tmp_path / "corner.gif") as image:
        assert image.n_frames == 5
    assert shown == [f"Iteration {step}" for step in (0, 30, 60, 80, 110)]  # the last snapshot among them


def test_the_still_picture_is_the_animations_last_frame(monkeypatch):
    written = []
    monkeypatch.setattr(plots_table, "write_frames", lambda path, frames, fps, encoder=None: written.extend(map(np.asarray, frames)))
    steps, frames, real, names = animation_inputs(3)
    frames[-1] = np.concatenate([frames[-1], np.full((20, 3), 1e9), np.full((5, 3), np.nan)])
    save_animation_corner("unused.gif", steps, frames, real, names)
    figure = plot_corner(real, frames[-1], names, step=steps[-1])
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    still = np.asarray(canvas.buffer_rgba())[:, :, :3]
    assert len(written) == 3 and written[-1].shape == still.shape
    # The animation writes its notes with Pillow (caption.FrameCaption), the still with matplotlib: the same
    # lines in the same place, in glyphs a pixel or so apart. So the notes' box is compared by its ink.
    (notes,) = [text for text in figure.texts if text.get_gid() == "notes"]
    box = notes.get_window_extent(canvas.get_renderer()).padded(4)
    rows = slice(round(figure.bbox.height - box.y1), round(figure.bbox.height - box.y0))
    columns = slice(round(box.x0), round(box.x1))
    ink = [np.mean(picture[rows, columns] < 128) for picture in (written[-1], still)]
    assert ink[1] > 0.02 and ink[0] == pytest.approx(ink[1], rel=0.15)
    outside = np.ones(still.shape[:2], bool)
    outside[rows, columns] = False
    differ = np.any(written[-1] != still, axis=2)[outside]
    assert differ.mean() < 0.005  # the same picture, but for points drawn over a spine in a different order
    assert np.any(written[0] != written[-1], axis=2).mean() > 0.01  # and the frames do change
