"""Run folders: where a run's files go, checked before training and written atomically.

A run folder holds config.json, history.csv, metrics.json and, unless
switched off, losses.png, metrics.png, distribution.png and training.gif. Every file is
written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from datetime import datetime
from pathlib import Path

import jax
import numpy as np

from tinygan import plots, plots_2d
from tinygan.config import Config
from tinygan.scoring import picture_view, view_around
from tinygan.trainer import TrainResult

REAL_SAMPLES = 10_000  # real samples behind the pictures' real density, as the seed draws
ANIMATION_FORMATS = tuple(plots.WRITERS)


class RunError(ValueError):
    """A run folder or output path that cannot be used."""


def default_run_dir(preset: str, root: str | os.PathLike = "runs", now: datetime | None = None) -> Path:
    """runs/<date>-<time>-<preset>, with -2, -3, ... when two runs start in the same second."""
    stem = f"{(now or datetime.now()):%Y%m%d-%H%M%S}-{preset}"
    path, n = Path(root) / stem, 1
    while path.exists():
        n += 1
        path = Path(root) / f"{stem}-{n}"
    return path


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def check_run_dir(path: str | os.PathLike) -> Path:
    """Refuse a folder that holds anything already, is a file, or cannot be created."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunError(f"output folder {path} is a file")
    if path.is_dir() and (path / "config.json").exists():
        raise RunError(f"output folder {path} already holds a run")
    if path.is_dir() and any(path.iterdir()):
        raise RunError(f"output folder {path} is not empty")
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise RunError(f"cannot create output folder {path}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunError(f"output folder {path} cannot be written (no permission on {existing})")
    return path


def check_animation_path(path: str | os.PathLike, run_dir: Path | None = None) -> Path:
    """The animation goes to .gif or .mp4, in a writable folder (or the run folder), and replaces nothing."""
    path = Path(path)
    folder = path.parent.absolute()
    if path.suffix.lower() not in ANIMATION_FORMATS:
        raise RunError(f"--anim {path}: unknown extension {path.suffix or '(none)'!r}; use .gif or .mp4")
    if path.exists():
        raise RunError(f"--anim {path}: already exists; remove it or choose another path")
    if run_dir is not None and folder == run_dir.absolute():
        return path  # the run folder is checked on its own and made before the animation is written
    if not folder.is_dir():
        raise RunError(f"--anim {path}: folder {path.parent} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RunError(f"--anim {path}: folder {path.parent} cannot be written")
    return path


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename it into place."""
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with open(temporary, "wb") as file:
            file.write(data.encode() if isinstance(data, str) else data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _finite_or_none(value):
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(value) -> str:
    return json.dumps(_finite_or_none(value), indent=2, allow_nan=False) + "\n"


def history_csv(history: dict[str, np.ndarray]) -> str:
    """One row per log point; the step and the modes captured as whole numbers, the rest as exact floats."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(history)
    whole = {"step", "modes_captured"}
    for i in range(len(history["step"])):
        writer.writerow([_cell(history[name][i], name in whole) for name in history])
    return buffer.getvalue()


def _cell(value, whole: bool) -> str:
    value = float(value)
    return str(int(value)) if whole and math.isfinite(value) else repr(value)


def start_run(folder: str | os.PathLike, config: Config) -> Path:
    """Create the folder and write config.json, so a run is recognisable from its first second."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "config.json", to_json(config.resolved().to_dict()))
    return folder


def equilibrium_losses(objective) -> tuple[float, float] | None:
    """Both losses when D is indifferent on every input (D = 1/2); None for a critic, which has no such point.

    Without the penalties: they vanish at an equilibrium only on average.
    """
    if objective.indifferent is None:
        return None
    output = np.full(1, objective.indifferent, np.float32)
    return float(objective.discriminator_loss(output, output)), float(objective.generator_loss(output))


def png_bytes(figure) -> bytes:
    """A figure as the bytes of a PNG file."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def real_samples(result: TrainResult) -> np.ndarray:
    """REAL_SAMPLES target samples (n, dim) for the pictures, the same for every picture of a run."""
    seed = result.config.train.seed
    if result.game.target.dim == 1:  # the seed's: from the law, as its histogram was drawn
        law = result.game.target.distribution()
        return law.rvs(REAL_SAMPLES, random_state=np.random.default_rng(seed))[:, None]
    return np.asarray(result.game.target.sample(jax.random.key(seed), REAL_SAMPLES))


def draw_pictures(result: TrainResult, folder: Path, *, animation: Path | None, lang: str) -> list[Path]:
    """losses.png, metrics.png, distribution.png and the animation (training.gif unless `animation` names a path)."""
    history, real = result.history, real_samples(result)
    pictures = {
        "losses.png": plots.plot_losses(history["step"], history["loss_d"], history["loss_g"],
                                        equilibrium=equilibrium_losses(result.game.objective), lang=lang),
        "metrics.png": plots.plot_metrics(history, lang=lang),
    }
    animation = animation or folder / "training.gif"
    draw = _draw_1d if result.game.target.dim == 1 else _draw_2d
    pictures["distribution.png"] = draw(result, real, animation, lang)
    for name, figure in pictures.items():
        write_atomic(folder / name, png_bytes(figure))
    return [folder / name for name in pictures] + [animation]


def _draw_1d(result: TrainResult, real: np.ndarray, animation: Path, lang: str):
    """The seed's pictures: D(x), the real and the generated density; returns the still one."""
    x_range, frames = result.config.data.noise_range, result.frames
    xs = np.linspace(-x_range, x_range, len(frames[-1].decision))
    plots.save_animation(animation, [f.step for f in frames], [f.decision for f in frames],
                         [f.generated[:, 0] for f in frames], xs, real[:, 0], x_range=x_range, lang=lang)
    final = frames[-1]
    return plots.plot_distribution(xs, final.decision, real[:, 0], final.generated[:, 0], x_range=x_range, lang=lang)


def _draw_2d(result: TrainResult, real: np.ndarray, animation: Path, lang: str):
    """GAN Lab's pictures: samples over D's heat map with G's arrows; above 2-D, the first two columns alone."""
    frames = result.frames
    view = picture_view(result.game.target, result.config.data.noise_range)
    if view is None:  # more than 2 columns: no heat map, a box around the first two columns
        view = view_around(real)
    extent = (*view[0], *view[1])

    def decision(frame):
        return None if frame.decision is None else frame.decision.reshape(-1, round(len(frame.decision) ** 0.5))

    def arrows(frame):
        if frame.pull is None:
            return None
        return frame.generated[:: len(frame.generated) // len(frame.pull)][: len(frame.pull)], frame.pull

    with_heat_map, with_arrows = frames[-1].decision is not None, frames[-1].pull is not None
    plots_2d.save_animation_2d(
        animation, [f.step for f in frames], [f.generated[:, :2] for f in frames], real[:, :2], extent=extent,
        decisions=[decision(f) for f in frames] if with_heat_map else None,
        arrows=[arrows(f) for f in frames] if with_arrows else None, lang=lang,
    )
    final = frames[-1]
    return plots_2d.plot_samples_2d(real[:, :2], final.generated[:, :2], extent=extent, decision=decision(final),
                                    arrows=arrows(final), lang=lang)


def save_run(
    result: TrainResult,
    folder: str | os.PathLike,
    *,
    pictures: bool = True,
    animation: str | os.PathLike | None = None,
    lang: str = "en",
) -> list[Path]:
    """Write a trained run's files into its folder; returns the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "config.json", to_json(result.config.to_dict()))
    write_atomic(folder / "history.csv", history_csv(result.history))
    written = [folder / "config.json", folder / "history.csv"]
    metrics = dict(result.metrics, seconds=dict(result.metrics["seconds"]))
    if pictures:
        start = time.perf_counter()
        written += draw_pictures(result, folder, animation=Path(animation) if animation else None, lang=lang)
        metrics["seconds"]["pictures"] = time.perf_counter() - start
    write_atomic(folder / "metrics.json", to_json(metrics))
    written.append(folder / "metrics.json")
    return written
