"""Pictures of a run: arrays in, matplotlib Figures (or an animation file) out.

Uses matplotlib's object API with the Agg canvas, never pyplot, so it draws
without a screen and leaves no global state. Densities are counts over
(all samples x bin width), not renormalised to the drawn range: a generator
that sends mass far away shows a low curve and a note saying how much.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tinygan.pictures import ANIMATION_FORMATS
from tinygan.pictures.caption import FrameCaption, canvas_image
from tinygan.pictures.labels import LABELS

BINS = 100
COLORS = {"decision": "#1f77b4", "real": "#2ca02c", "generated": "#d62728"}


def density(samples: np.ndarray, low: float, high: float, bins: int = BINS) -> tuple[np.ndarray, np.ndarray, float]:
    """Histogram density over [low, high] as a share of *all* samples.

    Returns the bin centres, the density (counts / (n * bin width)) and the
    fraction of samples outside [low, high] (non-finite ones included).
    """
    x = np.asarray(samples, np.float64).ravel()
    edges = np.linspace(low, high, bins + 1)
    counts, _ = np.histogram(x[np.isfinite(x)], bins=edges)
    n = max(x.size, 1)
    outside = 1.0 - counts.sum() / n if x.size else 0.0
    return (edges[:-1] + edges[1:]) / 2, counts / (n * (edges[1] - edges[0])), float(outside)


def outside_fraction(samples: np.ndarray, low: float, high: float) -> float:
    """Fraction of samples outside [low, high]; NaN and inf count as outside."""
    x = np.asarray(samples, np.float64).ravel()
    return float(1.0 - np.mean((x >= low) & (x <= high))) if x.size else 0.0


def plot_losses(
    steps: np.ndarray,
    loss_d: np.ndarray,
    loss_g: np.ndarray,
    *,
    equilibrium: tuple[float, float] | None = None,
    lang: str = "en",
) -> Figure:
    """The discriminator's and the generator's loss at every log point.

    `equilibrium`: the two losses when D(x) = 1/2 everywhere (for the seed's
    losses 2 ln 2 and ln 2), drawn as dashed lines: where a game that reached
    its equilibrium would sit.
    """
    words = LABELS[lang]
    figure = Figure(figsize=(6.4, 4), dpi=100, layout="constrained")
    ax = figure.add_subplot()
    ax.plot(steps, loss_d, label=words["discriminator"], color=COLORS["decision"])
    ax.plot(steps, loss_g, label=words["generator"], color=COLORS["generated"])
    if equilibrium is not None:
        for value, color in zip(equilibrium, (COLORS["decision"], COLORS["generated"])):
            ax.axhline(value, color=color, linestyle="--", linewidth=0.8, alpha=0.6)
        ax.plot([], [], color="gray", linestyle="--", linewidth=0.8, label=words["equilibrium"])
    ax.set(title=words["losses_title"], xlabel=words["iteration"], ylabel=words["loss"])
    ax.legend()
    return figure


METRIC_NAMES = {
    "en": {
        "mean": "mean", "std": "standard deviation", "w1": "Wasserstein-1", "ks": "Kolmogorov-Smirnov",
        "sliced_w1": "sliced Wasserstein-1", "energy": "energy distance", "modes_captured": "modes captured",
        "high_quality": "high-quality samples (%)", "reverse_kl": "reverse KL over modes (nats)",
        "kl": "GAN Lab KL (bits)", "js": "GAN Lab JS (bits)", "floor_ratio": "energy / sampling floor",
        "classifier": "5-NN classifier accuracy", "memorised": "memorised share",
        "corr_error": "rank correlation error", "w1:": "Wasserstein-1 per column (its units)",
        "ks:": "Kolmogorov-Smirnov per column",
    },
    "pt": {
        "mean": "media", "std": "desvio padrao", "w1": "Wasserstein-1", "ks": "Kolmogorov-Smirnov",
        "sliced_w1": "Wasserstein-1 fatiado", "energy": "distancia de energia", "modes_captured": "modos capturados",
        "high_quality": "amostras de alta qualidade (%)", "reverse_kl": "KL reversa sobre os modos (nats)",
        "kl": "KL do GAN Lab (bits)", "js": "JS do GAN Lab (bits)", "floor_ratio": "energia / piso amostral",
        "classifier": "acuracia do classificador 5-NN", "memorised": "fracao memorizada",
        "corr_error": "erro de correlacao de postos", "w1:": "Wasserstein-1 por coluna (suas unidades)",
        "ks:": "Kolmogorov-Smirnov por coluna",
    },
}  # fmt: skip
LEGEND_COLUMNS = 8  # per-column panels name their columns in a legend up to this many
LINEAR_PANELS = ("mean", "std", "modes_captured", "high_quality", "classifier")  # never on a log scale


def metric_name(metric: str, lang: str = "en") -> str:
    """A metric's name in words, in `lang` ("w1:NAME" as its kind, "w1:")."""
    return METRIC_NAMES[lang].get(metric, metric)


def plot_metrics(history: dict[str, np.ndarray], *, lang: str = "en", references: dict[str, float] | None = None) -> Figure:
    """Every metric of the history over the iterations, one small panel each (the losses have their own picture);
    per-column metrics ("w1:NAME") share one panel of a line per column. `references` are the values a metric
    should reach (the target's mean, the floor's 1), drawn as dashed lines.

    Distances that span more than two decades are drawn on a log scale, and their titles say so.
    """
    words = LABELS[lang]
    references = references or {}
    panels: dict[str, list[str]] = {}  # panel -> its history columns
    for name in history:
        if name not in ("step", "loss_d", "loss_g"):
            kind, colon, _ = name.partition(":")
            panels.setdefault(f"{kind}:" if colon else name, []).append(name)
    figure, axes = _panel_grid(len(panels))
    steps = np.asarray(history["step"])
    for ax, (panel, names) in zip(axes, panels.items()):
        values = np.concatenate([np.asarray(history[name], np.float64) for name in names])
        for name in names:
            few = np.isfinite(np.asarray(history[name], np.float64)).sum() < 3  # a line of one point draws nothing
            ax.plot(steps, history[name], label=name.partition(":")[2], linewidth=1 if len(names) > 1 else 1.5,
                    color=COLORS["generated"] if len(names) == 1 else None, marker="o" if few else None, markersize=3)
        if steps.size and steps[-1] > steps[0]:  # every panel over the whole run, even where a metric was not finite
            pad = 0.02 * (steps[-1] - steps[0])
            ax.set_xlim(steps[0] - pad, steps[-1] + pad)
        title = metric_name(panel, lang)
        positive = values[np.isfinite(values) & (values > 0)]
        if panel not in LINEAR_PANELS and positive.size and positive.max() > 100 * positive.min():
            ax.set_yscale("log")
            title += f" ({words['log_scale']})"
        if panel in references:
            ax.axhline(references[panel], color="0.4", linestyle="--", linewidth=1, label=words["target"])
            ax.text(1, references[panel], f" {words['target']} {references[panel]:.4g}", transform=ax.get_yaxis_transform(),
                    va="center", ha="left", fontsize=7, color="0.3", clip_on=False)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(words["iteration"], fontsize=8)
        if 1 < len(names) <= LEGEND_COLUMNS:
            ax.legend(fontsize=6)
    return figure


def _panel_grid(count: int) -> tuple[Figure, list]:
    """`count` small panels in rows of 3 or 4, whichever leaves the last row fuller (2 x 2 for four), with no
    empty cell: a shorter last row's panels are wider, so they fill it."""
    columns = 2 if count == 4 else count if count <= 3 else min((3, 4), key=lambda c: (-count % c, -c))
    rows, last = -(-count // columns), count - (-(-count // columns) - 1) * columns
    cells = math.lcm(columns, last)  # grid columns: each panel spans cells // columns, or cells // last at the end
    figure = Figure(figsize=(3.2 * columns, 2.5 * rows), dpi=100, layout="constrained")
    grid = figure.add_gridspec(rows, cells)
    axes = []
    for i in range(count):
        row, place = divmod(i, columns)
        width = cells // (last if row == rows - 1 else columns)
        axes.append(figure.add_subplot(grid[row, place * width : (place + 1) * width]))
    return figure, axes


def span(x_range: float | tuple[float, float]) -> tuple[float, float]:
    """A picture's x range: (low, high) as given, or a half-width r for [-r, r] (the seed's [-8, 8])."""
    return (-x_range, x_range) if np.isscalar(x_range) else (float(x_range[0]), float(x_range[1]))


def shares_axis(real_density: np.ndarray) -> bool:
    """Whether D(x), in [0, 1], is drawn on the densities' axis (the seed's picture) or on one of its own: the
    real density must peak between 1/4 and 4, so neither hides the other (data in its own units may not)."""
    return 0.25 <= float(np.max(real_density)) <= 4


def decision_axis(ax, real_density: np.ndarray, words: dict):
    """The axis D(x) is drawn on: `ax` itself, or a second y axis on the right, in [0, 1.05]."""
    if shares_axis(real_density):
        return ax
    twin = ax.twinx()
    twin.set(ylim=(0, 1.05), ylabel=words["decision"])
    return twin


def plot_distribution(
    xs: np.ndarray,
    decision: np.ndarray,
    real: np.ndarray,
    generated: np.ndarray,
    *,
    x_range: float | tuple[float, float] = 8.0,
    lang: str = "en",
    title: str | None = None,
) -> Figure:
    """The seed's picture: D(x) on the grid xs, the real density and the generated density.

    `real` and `generated` are samples; both are histogrammed over `x_range` ([-x_range, x_range], or
    (low, high)) in BINS bins, and the share of generated samples outside that range is written on the picture.
    D(x) shares the densities' axis unless their scale is far from its [0, 1] (`shares_axis`).
    """
    words = LABELS[lang]
    low, high = span(x_range)
    figure = Figure(figsize=(6.4, 4), dpi=100, layout="constrained")
    ax = figure.add_subplot()
    centres, real_density, _ = density(real, low, high)
    _, generated_density, outside = density(generated, low, high)
    boundary = decision_axis(ax, real_density, words)
    lines = boundary.plot(xs, decision, label=words["decision"], color=COLORS["decision"])
    lines += ax.plot(centres, real_density, label=words["real"], color=COLORS["real"])
    lines += ax.plot(centres, generated_density, label=words["generated"], color=COLORS["generated"])
    top = max(float(np.max(real_density)), float(np.max(generated_density)), 1e-300)
    if boundary is ax:
        top = max(top, 1.0)
    # The top eighth is left empty for the note, and the legend sits under the axes: neither covers a curve.
    ax.set(xlim=(low, high), ylim=(0, top * 1.15), xlabel=words["values"], ylabel=words["density"])
    if boundary is not ax:
        boundary.set_ylim(0, 1.15)
    ax.set_title(title or words["title"])
    ax.text(0.02, 0.97, words["outside"].format(fraction=outside, low=low, high=high),
            transform=ax.transAxes, va="top", fontsize=8)
    figure.legend(lines, [line.get_label() for line in lines], loc="outside lower center", ncols=3, frameon=False)
    return figure


def save_animation(
    path: str | os.PathLike,
    steps: Sequence[int],
    decisions: Sequence[np.ndarray],
    generated: Sequence[np.ndarray],
    xs: np.ndarray,
    real: np.ndarray,
    *,
    x_range: float | tuple[float, float] = 8.0,
    view: tuple[float, float] = (-6.0, 6.0),
    lang: str = "en",
    fps: int = 30,
    encoder: Executor | None = None,
) -> Future | None:
    """Animate the seed's three curves through training, one frame per entry, to a GIF or an MP4 (a GIF encoded
    on `encoder` when given: `write_frames`).

    Densities are histogrammed over `x_range` (as `plot_distribution`) and drawn over x in `view` and y in
    [0, 1.4] like the seed's animation (1.4 times the real density's peak when D(x) has an axis of its own),
    labelled "Frame: i/n" with the iteration, and the share of generated samples outside the view. The file
    appears only once complete.
    """
    path = Path(path)
    words = LABELS[lang]
    low, high = span(x_range)
    figure = Figure(figsize=(6.4, 4), dpi=100)
    canvas = FigureCanvasAgg(figure)
    figure.suptitle(words["title"], fontsize=15)
    ax = figure.add_subplot()
    centres, real_density, _ = density(real, low, high)
    top = 1.4 if shares_axis(real_density) else 1.4 * float(np.max(real_density))
    ax.set(xlim=view, ylim=(0, top), xlabel=words["values"], ylabel=words["density"])
    boundary = decision_axis(ax, real_density, words)
    if boundary is not ax:
        boundary.set_ylim(0, 1.4)  # D(x) too stays below the caption's band
    ax.plot(centres, real_density, color=COLORS["real"])
    # Only the changing artists are drawn per frame, over a saved background (blitting: ~10x faster).
    (line_decision,) = boundary.plot(xs, decisions[0], color=COLORS["decision"], animated=True)
    (line_generated,) = ax.plot(centres, centres * 0, color=COLORS["generated"], animated=True)
    caption = ax.text(0.02, 0.95, "", transform=ax.transAxes, va="top", fontsize=9, linespacing=1.6, animated=True)
    # The legend under the axes, the caption in the empty band above 1/1.4 of the height: neither covers a curve.
    figure.subplots_adjust(bottom=0.24)
    figure.legend(
        [line_decision, ax.lines[0], line_generated],
        [words["decision"], words["real"], words["generated"]],
        loc="lower center", ncols=3, frameon=False,
    )
    canvas.draw()
    background = canvas.copy_from_bbox(figure.bbox)
    caption = FrameCaption(caption)

    def render(i: int) -> np.ndarray:
        line_decision.set_ydata(decisions[i])
        line_generated.set_ydata(density(generated[i], low, high)[1])
        canvas.restore_region(background)
        for artist, axis in ((line_decision, boundary), (line_generated, ax)):
            axis.draw_artist(artist)
        outside = words["outside"].format(fraction=outside_fraction(generated[i], *view), low=view[0], high=view[1])
        return caption.draw(canvas_image(canvas),
                            f"{words['frame']}: {i + 1}/{len(steps)}  ({words['iteration'].lower()} {steps[i]})\n{outside}")

    return write_frames(path, (render(i) for i in range(len(steps))), fps, encoder)


def write_frames(path: Path, frames, fps: int, encoder: Executor | None = None) -> Future | None:
    """Frames (RGB images, or arrays (height, width, 3) of uint8) to a GIF or MP4 by the path's extension; the
    file appears only once complete. With an `encoder`, a GIF's frames are taken here and the file is encoded and
    written there (PIL lets go of the GIL: the caller draws on meanwhile); the future of that is returned."""
    if path.suffix.lower() not in ANIMATION_FORMATS:
        raise ValueError(f"an animation is a .gif or .mp4 file, got {path}")
    temporary = path.with_name(f".{path.stem}.partial{path.suffix}")

    def write(writer):
        try:
            writer(temporary)
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)

    if path.suffix.lower() == ".mp4":
        return write(functools.partial(_write_mp4, frames=frames, fps=fps))
    save = functools.partial(_save_gif, images=_gif_images(frames), fps=fps)
    return encoder.submit(write, save) if encoder is not None else write(save)


def _gif_images(frames) -> list:
    """The frames as palette images: one palette from the first frame keeps colours steady and quantising fast;
    256 colours keep small marks (the real samples over a 2-D heat map) apart from the shades around them."""
    from PIL import Image

    images, palette = [], None
    for frame in frames:
        image = frame if isinstance(frame, Image.Image) else Image.fromarray(frame)
        palette = palette or image.quantize(colors=256)
        images.append(image.quantize(palette=palette, dither=Image.Dither.NONE))  # flat colours: no dithering
    return images


def _save_gif(path: Path, images: list, fps: int) -> None:
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)


def _write_mp4(path: Path, frames, fps: int) -> None:
    """H.264 through the ffmpeg binary that imageio-ffmpeg ships, fed raw RGB frames on stdin."""
    import subprocess

    import imageio_ffmpeg

    process = None
    try:
        for frame in map(np.asarray, frames):
            if process is None:
                height, width = frame.shape[:2]
                command = [
                    imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
                    "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mp4", str(path),
                ]  # fmt: skip
                # A new session, not preexec_fn: forking a threaded (JAX) process must not run Python code.
                process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
            process.stdin.write(frame.tobytes())
    except BaseException:
        if process is not None:
            process.kill()
            process.communicate()
        raise
    _, errors = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"ffmpeg failed writing {path}: {errors.decode(errors='replace').strip()}")
