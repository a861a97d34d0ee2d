"""Pictures of a 2-D run, as GAN Lab draws them: samples over D's heat map, with G's gradient arrows.

Arrays in, a matplotlib Figure (or an animation file) out, like `plots`. The
still picture and the animation draw one `_Scene`, so they always agree.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import ScaledTranslation

from tinygan.measure.scoring import thinned
from tinygan.pictures.caption import FrameCaption, canvas_image
from tinygan.pictures.labels import LABELS
from tinygan.pictures.plots import write_frames

POINTS = 1_500  # real and generated points drawn, at most: more only hide each other and slow the drawing
ARROW_LENGTH = 0.08  # the longest arrow of a picture, as a share of the picture's width
CAPTION_SIZE = 8  # points: the caption above the axes
REAL_COLOR, GENERATED_COLOR = "#00441b", "#40004b"  # the heat map's own hues, darker, as GAN Lab shows them


def arrow_vectors(pull: np.ndarray, extent) -> np.ndarray:
    """G's pull (m, 2) as arrows in data units, measured in shares of the picture's width and height:

    the 90th percentile of lengths is ARROW_LENGTH, none is over twice that. Directions on the picture are
    kept, and the ratios of lengths below the cap: a few huge gradients neither hide the rest nor cross it.
    """
    size = np.array([extent[1] - extent[0], extent[3] - extent[2]], np.float64)  # (2,)
    pull = np.nan_to_num(np.asarray(pull, np.float64), nan=0.0, posinf=0.0, neginf=0.0) / size  # picture units
    lengths = np.linalg.norm(pull, axis=1)  # (m,)
    typical = np.percentile(lengths, 90) if len(lengths) else 0.0
    if typical <= 0:
        return np.zeros_like(pull)
    capped = np.minimum(lengths * (ARROW_LENGTH / typical), 2 * ARROW_LENGTH)
    return pull * np.divide(capped, lengths, out=np.zeros_like(lengths), where=lengths > 0)[:, None] * size


def points_drawn(points: np.ndarray) -> np.ndarray:
    """At most POINTS of the points, evenly strided through them."""
    return thinned(np.asarray(points), POINTS)


def outside_fraction(generated: np.ndarray, extent) -> float:
    g = np.asarray(generated, np.float64)
    x_min, x_max, y_min, y_max = extent
    inside = (g[:, 0] >= x_min) & (g[:, 0] <= x_max) & (g[:, 1] >= y_min) & (g[:, 1] <= y_max)
    return float(1.0 - inside.mean()) if len(g) else 0.0


class _Scene:
    """The artists of one 2-D picture on `ax`; `show` puts a state of training into them."""

    def __init__(self, figure: Figure, ax, real, *, extent, side: int | None, arrows: int, lang: str, animated: bool,
                 title: str | None = None):
        self.words, self.extent = LABELS[lang], extent
        self.image = None
        if side is not None:
            self.image = ax.imshow(np.zeros((side, side)), origin="lower", extent=extent, cmap="PRGn", vmin=0, vmax=1,
                                   alpha=0.6, interpolation="bilinear", aspect="auto", animated=animated)
            figure.colorbar(self.image, ax=ax, shrink=0.8, label=self.words["decision"])
        self.real = ax.scatter(*points_drawn(real).T, s=5, color=REAL_COLOR, label=self.words["real"], alpha=0.7,
                               linewidths=0, animated=animated)
        self.generated = ax.scatter([], [], s=5, color=GENERATED_COLOR, label=self.words["generated"], alpha=0.7,
                                    linewidths=0, animated=animated)
        zeros = np.zeros(max(arrows, 1))
        self.arrows = ax.quiver(zeros, zeros, zeros, zeros, color="#444444", angles="xy", scale_units="xy", scale=1,
                                width=0.003, animated=animated, visible=arrows > 0)
        # The caption (an animation's frame, then the share of samples outside) hangs in a band of its own between
        # the title and the axes: generated samples may lie anywhere in the view, so no corner of it is spare.
        band = (2 if animated else 1) * CAPTION_SIZE * 1.5 + 2  # points
        lift = ScaledTranslation(0, band / 72, figure.dpi_scale_trans)
        self.caption = ax.text(0, 1, "", transform=ax.transAxes + lift, va="top", fontsize=CAPTION_SIZE,
                               linespacing=1.5, animated=animated)
        ax.set_title(title or self.words["title_2d"], pad=band + 6)
        width, height = extent[1] - extent[0], extent[3] - extent[2]
        square = max(width, height) <= 2 * min(width, height)  # a round target looks round; else fill the box
        ax.set(xlim=extent[:2], ylim=extent[2:], aspect="equal" if square else "auto")
        # Under the axes, never on the samples.
        figure.legend(handles=[self.real, self.generated], loc="outside lower center", ncols=2, markerscale=3,
                      frameon=False)

    @property
    def artists(self) -> list:
        return [a for a in (self.image, self.real, self.generated, self.arrows, self.caption) if a is not None]

    def show(self, generated, *, decision=None, arrows=None, heading: str = "") -> None:
        """`decision` (side, side) with y up; `arrows` (positions, pull), both (m, 2)."""
        if self.image is not None and decision is not None:
            self.image.set_data(decision)
        self.generated.set_offsets(points_drawn(generated))
        if arrows is not None:
            positions, pull = arrows
            vectors = arrow_vectors(pull, self.extent)
            self.arrows.set_offsets(np.asarray(positions))
            self.arrows.set_UVC(vectors[:, 0], vectors[:, 1])
        outside = self.words["outside_2d"].format(fraction=outside_fraction(generated, self.extent))
        self.caption.set_text(f"{heading}\n{outside}" if heading else outside)


def plot_samples_2d(
    real: np.ndarray,
    generated: np.ndarray,
    *,
    extent: tuple[float, float, float, float],
    decision: np.ndarray | None = None,
    arrows: tuple[np.ndarray, np.ndarray] | None = None,
    lang: str = "en",
    title: str | None = None,
) -> Figure:
    """A 2-D target as GAN Lab draws it: samples over the discriminator's heat map, with G's gradient arrows.

    `extent` is (x_min, x_max, y_min, y_max); `decision` is D(x) in [0, 1] on
    a grid spanning it, shape (rows for y, columns for x), drawn green where
    D says real and purple where it says fake. `arrows` is (positions, pull),
    both (m, 2): where a subset of generated samples would move (minus the
    gradient of G's loss), scaled so the longest is ARROW_LENGTH of the width.
    At most POINTS of each sample set are drawn; the share of generated
    samples outside `extent` is written on the picture.
    """
    figure = Figure(figsize=(5.6, 5.6), dpi=100, layout="constrained")
    ax = figure.add_subplot()
    side = None if decision is None else np.shape(decision)[0]
    scene = _Scene(figure, ax, real, extent=extent, side=side, arrows=0 if arrows is None else len(arrows[0]),
                   lang=lang, animated=False, title=title)
    scene.show(generated, decision=decision, arrows=arrows)
    return figure


def save_animation_2d(
    path: str | os.PathLike,
    steps: Sequence[int],
    generated: Sequence[np.ndarray],
    real: np.ndarray,
    *,
    extent: tuple[float, float, float, float],
    decisions: Sequence[np.ndarray] | None = None,
    arrows: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    lang: str = "en",
    fps: int = 30,
    encoder: Executor | None = None,
) -> Future | None:
    """Animate `plot_samples_2d` through training, one frame per entry, to a GIF or an MP4 (a GIF encoded on
    `encoder` when given: `write_frames`).

    `decisions` (side, side) and `arrows` (positions, pull) per frame, or None to leave them out.
    Labelled "Frame: i/n" with the iteration. The file appears only once complete.
    """
    path = Path(path)
    figure = Figure(figsize=(5.6, 5.6), dpi=100, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    side = None if decisions is None else np.shape(decisions[0])[0]
    scene = _Scene(figure, ax, real, extent=extent, side=side, arrows=0 if arrows is None else len(arrows[0][0]),
                   lang=lang, animated=True)
    canvas.draw()
    background = canvas.copy_from_bbox(figure.bbox)  # everything but the animated artists (blitting)
    caption = FrameCaption(scene.caption)

    def render(i: int) -> np.ndarray:
        heading = f"{scene.words['frame']}: {i + 1}/{len(steps)}  ({scene.words['iteration'].lower()} {steps[i]})"
        scene.show(generated[i], decision=None if decisions is None else decisions[i],
                   arrows=None if arrows is None else arrows[i], heading=heading)
        canvas.restore_region(background)
        for artist in scene.artists:
            if artist is not scene.caption:
                ax.draw_artist(artist)
        return caption.draw(canvas_image(canvas), scene.caption.get_text())

    return write_frames(path, (render(i) for i in range(len(steps))), fps, encoder)
