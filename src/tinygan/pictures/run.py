"""A run's pictures: losses, metrics, the distribution and the animation, drawn from its result in the run's words."""

from __future__ import annotations

import concurrent.futures
import io
from concurrent.futures import Future
from pathlib import Path

import jax
import numpy as np

from tinygan.config import Config
from tinygan.data import density
from tinygan.data.targets import FileTarget, column_names, moments
from tinygan.files import write_atomic
from tinygan.measure.scoring import picture_view
from tinygan.pictures import plots
from tinygan.pictures import table as plots_table
from tinygan.pictures import two_d as plots_2d
from tinygan.training.loop import Frame, TrainResult

REAL_SAMPLES = 10_000  # real samples behind the pictures' real density, as the seed draws


def equilibrium_losses(objective) -> tuple[float, float] | None:
    """Both losses when D is indifferent on every input (D = 1/2); None for a critic, which has no such point.

    Without the penalties: they vanish at an equilibrium only on average.
    """
    if objective.indifferent is None:
        return None

    @jax.jit  # one small program, not one per operation of the losses (each a cache lookup)
    def losses(output):
        return objective.discriminator_loss(output, output), objective.generator_loss(output)

    return tuple(float(loss) for loss in losses(np.full(1, objective.indifferent, np.float32)))


def png_bytes(figure) -> bytes:
    """A figure as the bytes of a PNG file."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def real_samples(game, seed: int) -> np.ndarray:
    """REAL_SAMPLES target samples (n, dim) for the pictures, the same for every picture of a run."""
    if game.target.dim == 1:  # the seed's: from the law, as its histogram was drawn
        law = game.target.distribution()
        return law.rvs(REAL_SAMPLES, random_state=np.random.default_rng(seed))[:, None]
    return np.asarray(density.draw(game.target, jax.random.key(seed), REAL_SAMPLES))


def draw_pictures(result: TrainResult, folder: Path, *, animation: Path | None, lang: str,
                  suffix: str = "") -> list[Path]:
    """losses.png, metrics.png, distribution.png and the animation (training.gif unless `animation` names a path),
    each name with `suffix` before its extension (".pt": distribution.pt.png, beside the run's own)."""
    history, real = result.history, real_samples(result.game, result.config.train.seed)
    pictures = {
        f"losses{suffix}.png": plots.plot_losses(history["step"], history["loss_d"], history["loss_g"],
                                                 equilibrium=equilibrium_losses(result.game.objective), lang=lang),
        f"metrics{suffix}.png": plots.plot_metrics(history, lang=lang, references=metric_references(result.game.target)),
        f"distribution{suffix}.png": distribution_figure(result.game, result.config, result.frames[-1], real,
                                                         lang=lang),
    }
    animation = animation or folder / "training.gif"
    animation = animation.with_name(f"{animation.stem}{suffix}{animation.suffix}")
    animate = {1: _animate_1d, 2: _animate_2d}.get(result.game.target.dim, _animate_table)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tinygan-gif") as encoder:
        encoded = animate(result, real, animation, lang, encoder)  # a GIF is encoded while the PNGs are drawn
        for name, figure in pictures.items():
            write_atomic(folder / name, png_bytes(figure))
        if encoded is not None:
            encoded.result()
    return [folder / name for name in pictures] + [animation]


def metric_references(target) -> dict[str, float]:
    """The values metrics.png marks: a 1-D target's mean and std, and a table's floor (1) and chance (0.5)."""
    references = {}
    if target.dim == 1:
        mean, std = moments(target)
        references.update({name: float(value[0]) for name, value in (("mean", mean), ("std", std))
                           if np.isfinite(value[0])})
    if isinstance(target, FileTarget):
        references.update(floor_ratio=1.0, classifier=0.5)
    return references


def distribution_figure(game, config: Config, frame: Frame, real: np.ndarray, *, lang: str):
    """One frame as the seed's picture in 1-D (D(x), real and generated densities), GAN Lab's in 2-D (samples
    over D's heat map with G's arrows), and a corner plot of every pair of columns above."""
    if game.target.dim > 2:
        return plots_table.plot_corner(real, frame.generated, column_names(game.target), lang=lang, step=frame.step)
    if game.target.dim == 1:
        (x_range,) = picture_view(game.target, config.data.noise_range)
        xs = np.linspace(*x_range, len(frame.decision))
        return plots.plot_distribution(xs, frame.decision, real[:, 0], frame.generated[:, 0], x_range=x_range,
                                       lang=lang)
    return plots_2d.plot_samples_2d(real[:, :2], frame.generated[:, :2], extent=_extent(game, config, real),
                                    decision=_decision_image(frame), arrows=_arrows(frame), lang=lang)


def _animate_1d(result: TrainResult, real: np.ndarray, animation: Path, lang: str, encoder) -> Future | None:
    frames = result.frames
    (x_range,) = picture_view(result.game.target, result.config.data.noise_range)
    xs = np.linspace(*x_range, len(frames[-1].decision))
    seeds_canvas = x_range == (-8.0, 8.0) and not isinstance(result.game.target, FileTarget)
    view = (-6.0, 6.0) if seeds_canvas else x_range  # the blog's animation shows [-6, 6] of its [-8, 8]
    return plots.save_animation(animation, [f.step for f in frames], [f.decision for f in frames],
                                [f.generated[:, 0] for f in frames], xs, real[:, 0], x_range=x_range, view=view,
                                lang=lang, encoder=encoder)


def _animate_2d(result: TrainResult, real: np.ndarray, animation: Path, lang: str, encoder) -> Future | None:
    frames = result.frames
    with_heat_map, with_arrows = frames[-1].decision is not None, frames[-1].pull is not None
    return plots_2d.save_animation_2d(
        animation, [f.step for f in frames], [f.generated[:, :2] for f in frames], real[:, :2],
        extent=_extent(result.game, result.config, real),
        decisions=[_decision_image(f) for f in frames] if with_heat_map else None,
        arrows=[_arrows(f) for f in frames] if with_arrows else None, lang=lang, encoder=encoder,
    )


def _animate_table(result: TrainResult, real: np.ndarray, animation: Path, lang: str, encoder) -> Future | None:
    frames = result.frames
    return plots_table.save_animation_corner(animation, [f.step for f in frames], [f.generated for f in frames], real,
                                             column_names(result.game.target), lang=lang, encoder=encoder)


def _extent(game, config: Config, real: np.ndarray) -> tuple[float, float, float, float]:
    """The 2-D pictures' box: D's view."""
    view = picture_view(game.target, config.data.noise_range)
    return (*view[0], *view[1])


def _decision_image(frame: Frame) -> np.ndarray | None:
    return None if frame.decision is None else frame.decision.reshape(-1, round(len(frame.decision) ** 0.5))


def _arrows(frame: Frame):
    if frame.pull is None:
        return None
    return frame.generated[:: len(frame.generated) // len(frame.pull)][: len(frame.pull)], frame.pull
