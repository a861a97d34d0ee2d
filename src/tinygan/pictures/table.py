"""Pictures of a table with three or more columns: a corner plot of real against generated samples.

Every pair of columns is a panel below the diagonal (real and generated points), every column's two
densities sit on the diagonal, and the empty upper triangle holds the legend and the notes. Arrays in,
a matplotlib Figure (or an animation file) out, like `plots` and `two_d`; the still picture and the
animation draw one `_Corner`, so they always agree.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from functools import cache
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

from tinygan.measure.scoring import thinned
from tinygan.pictures.caption import FrameCaption, canvas_image
from tinygan.pictures.labels import LABELS
from tinygan.pictures.plots import COLORS, write_frames
from tinygan.pictures.two_d import points_drawn

PANEL = 1.3  # inches per panel; the figure is at least MIN_SIDE inches square
MIN_SIDE = 6.0
MARGINS = {"left": 0.8, "right": 0.15, "bottom": 0.62, "top": 0.5}  # inches around the grid of panels
NAME_LENGTH = 18  # characters of a column's name on the picture, at most
FRAMES = 100  # frames of an animation, at most: an evenly spaced subset of the snapshots, the last one kept
TICK_SIZE = 7  # points
GAP = 0.07  # the gap between panels, as a share of a panel
ANIMATION_PIXELS = 1_600  # an animation's side, at most: its dpi shrinks for many columns
REAL_COLOR, GENERATED_COLOR = COLORS["real"], COLORS["generated"]


# ---------------------------------------------------------------- what is drawn


def column_ranges(real: np.ndarray) -> np.ndarray:
    """Each column's drawn range (d, 2), from the real data alone.

    From the 0.5% to the 99.5% quantile, out to the real extremes but at most half that distance
    further (a far outlier does not squash the picture), plus 8% of it on each side.
    """
    real = _finite_rows(real)
    if not len(real):
        return np.tile([-1.0, 1.0], (real.shape[1], 1))
    low, high = np.quantile(real, [0.005, 0.995], axis=0)  # (d,) each
    span = high - low
    span = np.where(span > 0, span, np.maximum(np.abs(low) / 10, 1.0))  # a constant column still gets a range
    low = np.maximum(real.min(axis=0), low - span / 2) - 0.08 * span
    high = np.minimum(real.max(axis=0), high + span / 2) + 0.08 * span
    return np.stack([low, high], axis=1)


def outside_fraction(generated: np.ndarray, ranges: np.ndarray) -> float:
    """Share of generated rows with any value outside its column's range; NaN and inf count as outside."""
    inside = _inside(generated, ranges)
    return float(1.0 - inside.all(axis=1).mean()) if len(inside) else 0.0


def short_names(names: Sequence[str], limit: int = NAME_LENGTH) -> list[str]:
    """Column names of at most `limit` characters, still told apart.

    A long name keeps its start and an ellipsis; names that would then read the same keep their ends
    as well ('measurement…_left', 'measurement…_right'), and any still equal are numbered.
    """
    names = [" ".join(str(name).split()) or f"column {i + 1}" for i, name in enumerate(names)]
    short = [name if len(name) <= limit else name[: limit - 1] + "…" for name in names]
    for tail in range(1, limit // 2 + 1):  # as short an end as tells them apart
        clashes = _clashing(short)
        if not clashes:
            break
        for i in clashes:
            if len(names[i]) > limit:
                short[i] = names[i][: limit - 1 - tail] + "…" + names[i][-tail:]
    for i in _clashing(short):
        suffix = f" #{i + 1}"
        short[i] = short[i][: limit - len(suffix)] + suffix
    return [name.replace("$", r"\$") for name in short]  # a dollar sign is text, not mathtext


def _clashing(names: list[str]) -> list[int]:
    """Indices of the names that equal another one."""
    counts = {name: names.count(name) for name in names}
    return [i for i, name in enumerate(names) if counts[name] > 1]


def frames_kept(count: int, limit: int = FRAMES) -> np.ndarray:
    """Indices of at most `limit` of `count` frames, evenly spaced, the first and the last among them."""
    if count <= limit:
        return np.arange(count)
    return np.round(np.linspace(0, count - 1, limit)).astype(int)  # distinct: the spacing is over 1


def tick_labels(ticks: np.ndarray) -> list[str]:
    """Short labels for ticks: as few decimals as they need (the same for all), k and M for ten thousands
    and millions, a short exponent ('2e-5') for tiny or huge values."""
    ticks = np.asarray(ticks, np.float64)
    largest = float(np.max(np.abs(ticks), initial=0.0))
    if largest >= 1e9 or 0 < largest < 1e-3:
        labels = [_exponent(t) for t in ticks]
    else:
        scale, suffix = (1e6, "M") if largest >= 1e6 else (1e3, "k") if largest >= 1e4 else (1.0, "")
        values = ticks / scale
        decimals = next(d for d in range(7) if np.allclose(values, np.round(values, d), rtol=0, atol=1e-9 * largest))
        labels = [f"{v + 0.0:.{decimals}f}{suffix if v else ''}" for v in values]  # + 0.0: never '-0'
    return [label.replace("-", "\N{MINUS SIGN}") for label in labels]  # as matplotlib writes it


def _exponent(value: float) -> str:
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def _ticks(low: float, high: float, panel: float) -> np.ndarray:
    """Round ticks in [low, high] for a panel `panel` points wide: two to four (three best), one if no more fit.

    Labels must not meet each other, nor a neighbour's label across the gap between panels: each keeps
    half its width, less half the gap, from the panel's edges. Steps are 1, 2 or 5 times a power of ten;
    where no two multiples fit, odd multiples (-1000 and 1000, without the 0 between them that crowds them).
    """
    span = high - low
    magnitude = math.floor(math.log10(span))
    best, best_key = np.array([]), None
    for exponent in range(magnitude - 2, magnitude + 1):
        for factor in (1, 2, 5):
            step = factor * 10.0**exponent
            multiples = np.arange(math.ceil(low / step), math.floor(high / step) + 1) * step
            variants = [multiples, multiples[np.round(multiples / step) % 2 == 1]]  # all, odd multiples
            for alternate, ticks in enumerate(variants):
                if not 1 <= len(ticks) <= 12:
                    continue
                width = max(map(_width, tick_labels(ticks))) + 1  # points, the widest label
                room = max(width / 2 - GAP * panel / 2, 0.06 * panel)  # points from each edge of the panel
                at = (ticks - low) / span * panel  # points from the left edge
                ticks, at = ticks[(at >= room) & (at <= panel - room)], at[(at >= room) & (at <= panel - room)]
                fits = 1 <= len(ticks) <= 4 and np.all(np.diff(at) >= width + 3)
                key = (len(ticks) < 2, alternate, abs(len(ticks) - 3), -len(ticks))  # the smallest is best
                if fits and (best_key is None or key < best_key):
                    best, best_key = ticks, key
    return best


def _width(text: str) -> float:
    """A tick label's width in points, from its characters' (kerning aside)."""
    return sum(_character_width(character) for character in text)


@cache
def _character_width(character: str) -> float:
    return TextToPath().get_text_width_height_descent(character, FontProperties(size=TICK_SIZE), ismath=False)[0]


def _finite_rows(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, np.float64)
    return points[np.isfinite(points).all(axis=1)]


def _inside(generated: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """(m, d) whether each value lies in its column's range (NaN never does)."""
    generated = np.asarray(generated, np.float64)
    return (generated >= ranges[:, 0]) & (generated <= ranges[:, 1])


def _densities(points: np.ndarray, edges: np.ndarray, total: int) -> list[np.ndarray]:
    """Each column's histogram over its edges (d, bins + 1), as a share of all `total` rows per unit."""
    return [np.histogram(points[:, j], bins=edges[j])[0] / (max(total, 1) * (edges[j, 1] - edges[j, 0]))
            for j in range(len(edges))]


# ---------------------------------------------------------------- the picture


def _side(columns: int) -> float:
    """The figure's side in inches."""
    return max(MIN_SIDE, PANEL * columns + MARGINS["left"] + MARGINS["right"])


class _Corner:
    """The artists of one corner plot on `figure`; `show` puts a state of training into them."""

    def __init__(self, figure: Figure, real, names, *, lang: str, animated: bool):
        real = np.asarray(real, np.float64)
        columns = real.shape[1]
        self.words, self.names = LABELS[lang], short_names(names)
        self.ranges = column_ranges(real)  # (d, 2)
        finite = _finite_rows(real)
        bins = int(np.clip(np.sqrt(len(finite)), 10, 40))
        self.edges = np.linspace(self.ranges[:, 0], self.ranges[:, 1], bins + 1, axis=1)  # (d, bins + 1)
        real_drawn = points_drawn(finite)
        self.count = max(len(real_drawn), 1)  # generated points drawn, at most: as many as real ones, a fair match

        side = _side(columns)
        panel = (side - MARGINS["left"] - MARGINS["right"]) / columns  # inches
        grid = figure.add_gridspec(columns, columns, wspace=GAP, hspace=GAP,
                                   left=MARGINS["left"] / side, right=1 - MARGINS["right"] / side,
                                   bottom=MARGINS["bottom"] / side, top=1 - MARGINS["top"] / side)
        ticks = [_ticks(*self.ranges[j], panel * 72) for j in range(columns)]
        points = {"linestyle": "none", "marker": "o", "markeredgewidth": 0,
                  "markersize": float(np.clip(panel * 1.4, 1.2, 2.6)),  # points
                  "alpha": float(np.clip(8 / np.sqrt(self.count), 0.3, 0.6))}  # a few points solid, many see-through
        self.panels, self.points, self.curves = {}, [], []
        for i in range(columns):
            for j in range(i + 1):
                ax = self.panels[i, j] = figure.add_subplot(grid[i, j])
                ax.set_xlim(*self.ranges[j])
                ax.set_xticks(ticks[j], tick_labels(ticks[j]) if i == columns - 1 else [])
                if i == j:
                    self.curves.append(self._diagonal(ax, finite, len(real), j, animated))
                else:  # column j across, column i up
                    ax.set_ylim(*self.ranges[i])
                    ax.set_yticks(ticks[i], tick_labels(ticks[i]) if j == 0 else [])
                    ax.plot(real_drawn[:, j], real_drawn[:, i], color=REAL_COLOR, gid="real", **points)
                    (line,) = ax.plot([], [], color=GENERATED_COLOR, gid="generated", animated=animated, **points)
                    self.points.append((line, j, i))
                ax.tick_params(labelsize=TICK_SIZE, length=2.5, width=0.6, pad=1.5)
                for spine in ax.spines.values():
                    spine.set_linewidth(0.6)
                if i == columns - 1:
                    ax.set_xlabel(self.names[j], fontsize=8, labelpad=3)
                if j == 0 and i > 0:
                    ax.set_ylabel(self.names[i], fontsize=8, labelpad=3)
        figure.align_labels([self.panels[columns - 1, j] for j in range(columns)]
                            + [self.panels[i, 0] for i in range(1, columns)])
        self._headings(figure, side, panel, points["markersize"], animated)

    def _diagonal(self, ax, finite: np.ndarray, total: int, j: int, animated: bool):
        """Column j's real density, filled, and an empty generated one to fill: its artist.

        Their heights need no scale, only each other; the top leaves room for a generated peak up to 1.6
        times the real one.
        """
        real = _densities(finite[:, j : j + 1], self.edges[j : j + 1], total)[0]
        ax.stairs(real, self.edges[j], fill=True, color=REAL_COLOR, alpha=0.25, linewidth=0, gid="real")
        ax.stairs(real, self.edges[j], color=REAL_COLOR, linewidth=1.0, gid="real")
        ax.set_ylim(0, 1.6 * max(float(np.max(real)), 1e-12))
        ax.set_yticks([])
        return ax.stairs(np.zeros_like(real), self.edges[j], color=GENERATED_COLOR, linewidth=1.2, gid="generated",
                         animated=animated)

    def _headings(self, figure: Figure, side: float, panel: float, marker: float, animated: bool) -> None:
        """The title above the grid; legend and notes in the empty upper triangle, right-aligned at its top,
        in letters that grow with the picture (8 points for 3 columns, 11 for 16)."""
        columns = len(self.ranges)
        size = 8 + 3 * float(np.clip((columns - 3) / 13, 0, 1))
        figure.suptitle(self.words["corner_title"].format(columns=columns), fontsize=size + 4,
                        y=1 - 0.12 / side, va="top")
        right, top = 1 - MARGINS["right"] / side, 1 - MARGINS["top"] / side
        legend = figure.legend(
            [self.panels[1, 0].lines[0], self.points[0][0]], [self.words["real"], self.words["generated"]],
            loc="upper right", bbox_to_anchor=(right, top), fontsize=size + 1, markerscale=0.7 * size / marker,
            frameon=False, borderaxespad=0, handletextpad=0.3)
        for handle in legend.legend_handles:  # a copy of an animated line is animated too: keep it in the background
            handle.set(animated=False, alpha=0.8)
        self.width = int((columns - 1) * panel * 72 / (0.55 * size))  # characters per line of the notes
        below = 2 * 1.5 * (size + 1) / 72 + 0.12  # the legend's height and a gap, inches
        self.caption = figure.text(right, top - below / side, "", ha="right", va="top", fontsize=size,
                                   linespacing=1.4, gid="notes", animated=animated)

    @property
    def artists(self) -> list:
        return [line for line, _, _ in self.points] + self.curves + [self.caption]

    def show(self, generated, *, heading: str = "") -> None:
        """Draw generated samples (m, d) in the columns' own units; rows with NaN or inf are left out."""
        generated = np.asarray(generated, np.float64).reshape(-1, len(self.ranges))
        finite = _finite_rows(generated)
        drawn = thinned(finite, self.count)
        for line, x, y in self.points:
            line.set_data(drawn[:, x], drawn[:, y])
        for curve, values in zip(self.curves, _densities(finite, self.edges, len(generated))):
            curve.set_data(values=values)
        self.caption.set_text("\n".join(self.notes(generated, heading)))

    def notes(self, generated: np.ndarray, heading: str = "") -> list[str]:
        """The caption's lines: the iteration, the share outside the drawn ranges, where, and how many are NaN."""
        lines = [heading] if heading else []
        lines += _wrap(self.words["corner_outside"].format(fraction=outside_fraction(generated, self.ranges)),
                       self.width)
        if len(generated):
            per_column = 1.0 - _inside(generated, self.ranges).mean(axis=0)  # (d,)
            not_finite = 1.0 - np.isfinite(generated).all(axis=1).mean()
            if per_column.max() > 0:
                worst = int(np.argmax(per_column))
                lines.append(self.words["corner_outside_most"].format(name=self.names[worst],
                                                                       fraction=per_column[worst]))
            if not_finite > 0:
                lines.append(self.words["corner_not_finite"].format(fraction=not_finite))
        return lines


def _wrap(text: str, width: int) -> list[str]:
    """Text in as few lines of at most `width` characters as it needs, of about equal lengths."""
    count = max(len(textwrap.wrap(text, max(width, 10))), 1)
    even = -(-len(text) // count)
    while len(lines := textwrap.wrap(text, even)) > count:
        even += 1
    return lines


def _check(real: np.ndarray, names: Sequence[str], generated: Sequence[np.ndarray]) -> None:
    real = np.asarray(real)
    if real.ndim != 2 or real.shape[1] < 2:
        raise ValueError(f"real samples must be (n, d) with d >= 2, not {real.shape}")
    if len(names) != real.shape[1]:
        raise ValueError(f"{len(names)} names for {real.shape[1]} columns")
    for frame in generated:
        if np.ndim(frame) != 2 or np.shape(frame)[1] != real.shape[1]:
            raise ValueError(f"generated samples must be (m, {real.shape[1]}), not {np.shape(frame)}")


def plot_corner(
    real: np.ndarray,
    generated: np.ndarray,
    names: Sequence[str],
    *,
    lang: str = "en",
    step: int | None = None,
) -> Figure:
    """A corner plot of a table: real (n, d) and generated (m, d) samples in the columns' own units.

    Below the diagonal, every pair of columns as points (at most POINTS real ones and as many generated
    ones, evenly thinned); on the diagonal, each column's real and generated densities over the same
    bins, as a share of all samples (not renormalised to the drawn range). Every range comes from the
    real data (`column_ranges`); the share of generated samples outside them, and of NaN or inf rows
    (not drawn), is written in the empty upper triangle, with the iteration `step` when given.
    """
    _check(real, names, [generated])
    side = _side(np.shape(real)[1])
    figure = Figure(figsize=(side, side), dpi=100)
    corner = _Corner(figure, real, names, lang=lang, animated=False)
    corner.show(generated, heading="" if step is None else f"{corner.words['iteration']} {step}")
    return figure


def save_animation_corner(
    path: str | os.PathLike,
    steps: Sequence[int],
    generated_frames: Sequence[np.ndarray],
    real: np.ndarray,
    names: Sequence[str],
    *,
    lang: str = "en",
    fps: int = 10,
    encoder: Executor | None = None,
) -> Future | None:
    """Animate `plot_corner` through training, one frame per snapshot, to a GIF or an MP4 (a GIF encoded on
    `encoder` when given: `write_frames`).

    Of more than FRAMES snapshots an evenly spaced FRAMES are kept, the last among them. Each frame
    shows the iteration. The real samples, axes and labels are drawn once; each frame draws only the
    generated points, densities and notes over that background (blitting). The file appears only once
    complete.
    """
    if len(steps) != len(generated_frames) or not len(steps):
        raise ValueError(f"{len(steps)} steps for {len(generated_frames)} frames of generated samples")
    kept = frames_kept(len(steps), FRAMES)
    _check(real, names, [generated_frames[k] for k in kept[:1]])
    side = _side(np.shape(real)[1])
    figure = Figure(figsize=(side, side), dpi=min(100.0, ANIMATION_PIXELS / side))
    canvas = FigureCanvasAgg(figure)
    corner = _Corner(figure, real, names, lang=lang, animated=True)
    canvas.draw()
    background = canvas.copy_from_bbox(figure.bbox)  # everything but the generated artists
    caption = FrameCaption(corner.caption)

    def render(k: int) -> np.ndarray:
        _check(real, names, [generated_frames[k]])
        corner.show(generated_frames[k], heading=f"{corner.words['iteration']} {steps[k]}")
        canvas.restore_region(background)
        for artist in corner.artists:
            if artist is not corner.caption:
                figure.draw_artist(artist)
        return caption.draw(canvas_image(canvas), corner.caption.get_text())

    return write_frames(Path(path), (render(int(k)) for k in kept), fps, encoder)
