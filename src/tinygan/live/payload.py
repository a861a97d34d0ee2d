"""What the live page draws, as JSON-ready dicts: a scene (what stays until the next reset) and frames.

A scene holds the target (its density in 1-D, points of it in 2-D), the history's columns and rows, and the
picture's view; a frame holds what moves: D's decision, the generated density or points, G's arrows. The
numbers are those of a run's own pictures (`runs.distribution_figure`), thinned to what a screen shows.
Non-finite numbers become null: JSON has no NaN.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import numpy as np

from tinygan import engine, runs
from tinygan.core.objectives import OBJECTIVES
from tinygan.live.settings import noise_warning
from tinygan.pictures import plots
from tinygan.pictures import two_d as plots_2d
from tinygan.training.loop import Frame

HISTORY_ROWS = 2_000  # rows a scene sends at most (evenly thinned); frames then send every new row
LINE_POINTS = 500  # points of the 1-D decision boundary sent: a line a screen wide


def scene(game: engine.Game, config, view, columns: tuple[str, ...]) -> dict:
    """The target and how to draw it and the history; `view` is the picture's (low, high) per axis.

    The history's rows are the page's connection's to add (`thinned_rows`, `numbers_rows`): they grow.
    """
    real = runs.real_samples(game, config.train.seed)
    if game.target.dim == 1:
        centres, density, _ = plots.density(real[:, 0], *view[0])
        drawn = {"x": numbers(centres), "density": numbers(density)}
    else:
        drawn = {"points": numbers(plots_2d.points_drawn(real[:, :2]))}
    equilibrium = runs.equilibrium_losses(OBJECTIVES[config.train.objective])  # the config's: a live game's
    # objective is a knob, an argument of its programs (`engine.tuning`)
    return {
        "type": "scene",
        "dim": game.target.dim,
        "view": [list(axis) for axis in view],
        "real": drawn,
        "columns": list(columns),
        "metrics": list(columns[3:]),
        "equilibrium": None if equilibrium is None else numbers(equilibrium),
        "warning": noise_warning(config, game.target.dim),
    }


def frame(frame: Frame, view, manifold: np.ndarray | None = None) -> dict:
    """A frame's picture: D(x) and the generated density in 1-D; D's heat map, points, G's arrows and G's
    manifold in 2-D (`engine.manifold`: lines of (x, y) points, a lattice's rows, or one curve for 1-D noise).

    The heat map is side x side bytes, base64, first row the lowest y, spread over D's logit from the frame's
    lowest D to its highest: byte b stands for logit(D) = logit(low) + b / 255 * (logit(high) - logit(low)).
    """
    if len(view) == 1:
        low, high = view[0]
        stride = max(1, len(frame.decision) // LINE_POINTS)
        xs = np.linspace(low, high, len(frame.decision))
        centres, density, outside = plots.density(frame.generated[:, 0], low, high)
        return {"decision": {"x": numbers(xs[::stride]), "y": numbers(frame.decision[::stride])},
                "generated": {"x": numbers(centres), "density": numbers(density), "outside": outside}}
    extent = (*view[0], *view[1])
    side = round(len(frame.decision) ** 0.5)
    decision = np.nan_to_num(np.asarray(frame.decision, np.float64), nan=0.5).clip(1e-7, 1 - 1e-7)
    logits = np.log(decision / (1 - decision))
    # The bytes span the frame's own range: at the start D is within 1/1000 of 1/2 everywhere, which 256 steps
    # over [0, 1] would flatten to one or two shades. By logit, D near 0 and 1 keeps its structure too.
    low, high = logits.min(), logits.max()
    shades = np.round((logits - low) / max(high - low, 1e-12) * 255).clip(0, 255).astype(np.uint8)
    spaced = frame.generated[:: len(frame.generated) // len(frame.pull)][: len(frame.pull)]  # the arrows' points
    arrows = np.concatenate([spaced[:, :2], plots_2d.arrow_vectors(frame.pull, extent)], axis=1)  # (m, 4)
    return {"heatmap": {"side": side, "low": float(decision.min()), "high": float(decision.max()),
                        "values": base64.b64encode(shades.tobytes()).decode("ascii")},
            "generated": {"points": numbers(plots_2d.points_drawn(frame.generated[:, :2])),
                          "outside": plots_2d.outside_fraction(frame.generated, extent)},
            "arrows": numbers(arrows), "manifold": None if manifold is None else numbers(manifold[..., :2])}


def thinned_rows(rows: list[list], limit: int) -> list[list]:
    """At most `limit` rows, evenly strided, the last always kept (the page's curves end where training is)."""
    if len(rows) <= limit:
        return rows
    stride = math.ceil(len(rows) / limit)
    kept = rows[::stride]
    return kept if kept[-1] is rows[-1] else [*kept[:-1], rows[-1]]


def numbers_rows(rows: list[list]) -> list[list]:
    """History rows as JSON-ready lists, unrounded (a distance of 1e-7 is not 0); NaN becomes None."""
    return numbers(rows, None) if rows else []


def numbers(values, digits: int | None = 5):
    """Numbers (any nesting of arrays and lists) as JSON-ready lists, rounded to `digits` decimals (None: as
    they are); NaN and infinities become None."""
    array = np.asarray(values, np.float64)
    listed = (array if digits is None else np.round(array, digits)).tolist()
    if np.isfinite(array).all():
        return listed
    return _nulls(listed)


def _nulls(value):
    if isinstance(value, list):
        return [_nulls(item) for item in value]
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Published:
    """What pages read: the scene's JSON, the latest frame's JSON, and the history rows so far."""

    version: int  # changes with every reset: a new scene
    frame_id: int  # changes with every frame
    scene: dict  # `payload.scene`: read only
    frame: str  # JSON of `payload.frame` and the status, less the new rows
    rows: list  # the history rows (lists in column order); a page sends those it has not sent yet
