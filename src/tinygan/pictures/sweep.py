"""Pictures of a sweep: how every cell's seeds end, and what its best, median and worst seeds learned.

Arrays in (a `sweep.grid.SweepResult`), matplotlib Figures out, like `plots` and
`two_d`; `save_pictures` writes them as PNGs into the sweep's folder. A seed
whose metric is NaN or infinite (it diverged) is counted and drawn apart,
never dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from tinygan.data.targets import fixed_sample, make_target
from tinygan.files import write_atomic
from tinygan.measure.scoring import picture_view, view_around
from tinygan.pictures.labels import LABELS
from tinygan.pictures.plots import COLORS, density, metric_name
from tinygan.pictures.run import png_bytes
from tinygan.pictures.two_d import GENERATED_COLOR, REAL_COLOR, outside_fraction, points_drawn

METRIC_FILE, SEEDS_FILE = "sweep_metric.png", "sweep_seeds.png"
SUCCESS_COLOR, FAILURE_COLOR, DIVERGED_COLOR = "#2ca02c", "#d62728", "#444444"
ROLES = ("best", "median", "worst")


def cell_label(settings: dict) -> str:
    """'learning_rate=0.01, r1=1.0'; the base config itself when the grid is empty."""
    return ", ".join(f"{name}={value}" for name, value in settings.items()) or "base"


def cell_values(result, cell: int, metric: str) -> np.ndarray:
    """The metric's final value for each seed of a cell, in the order of its rows and samples: (seeds,)."""
    return np.array([row[metric] for row in result.rows if row["cell"] == cell], np.float64)


def pick_seeds(values: np.ndarray, kind: str) -> dict[str, int]:
    """Indices of the best, median and worst values: lowest first for '<', highest first for '>'.

    Non-finite values rank last: NaN always, and an infinity on the bad side (+inf for '<', -inf for
    '>'). The median is the lower middle of the ranking, so with two seeds it is the best one.
    """
    values = np.asarray(values, np.float64)
    signed = values if kind == "<" else -values
    order = np.argsort(np.where(np.isnan(signed), np.inf, signed), kind="stable")  # ties: the first row first
    order = np.concatenate([order[~np.isnan(signed[order])], order[np.isnan(signed[order])]])  # NaN after +inf
    return {"best": int(order[0]), "median": int(order[(len(order) - 1) // 2]), "worst": int(order[-1])}


def _format(value: float) -> str:
    return f"{value:.3g}" if np.isfinite(value) else ("NaN" if np.isnan(value) else f"{value:g}")


# ---------------------------------------------------------------- the metric of every seed


def _strip_style(n: int) -> tuple[float, float]:
    """Dot area and opacity for n seeds in a row: big and solid for a few, small and faint for 10,000."""
    return float(np.clip(60 / np.sqrt(n), 1.0, 24.0)), float(np.clip(4 / np.sqrt(n), 0.12, 0.85))


def _metric_limits(finite: np.ndarray, threshold: float, log: bool) -> tuple[float, float]:
    """The x range: every finite value and the threshold, with a twentieth spare on each side."""
    points = np.append(finite, threshold)
    if log:
        points = np.log10(points[points > 0])
    low, high = float(points.min()), float(points.max())
    spare = (high - low) / 20 or (abs(low) / 10 if not log else 0.5) or 1.0
    low, high = low - spare, high + spare
    return (10**low, 10**high) if log else (low, high)


def plot_metric_distribution(result, *, lang: str = "en") -> Figure:
    """The success metric's final value for every seed, one row per cell, and each cell's success rate.

    Left: each seed a dot (jittered up and down), green where it succeeds, over a box from the first to
    the third quartile with the median; the success threshold dashed, its side shaded; a log scale when
    the values are positive and span more than two decades. Middle: the seeds whose value is NaN or
    infinite, counted. Right: the success rate with Wilson's 95% interval, and successes / seeds.
    """
    words, rule = LABELS[lang], result.plan.rule
    values = [cell_values(result, summary["cell"], rule.metric) for summary in result.cells]
    finite = np.concatenate([v[np.isfinite(v)] for v in values] + [np.zeros(0)])
    log = bool(finite.size and finite.min() > 0 and finite.max() > 100 * finite.min())
    rows = len(values)
    figure = Figure(figsize=(10, 1.4 + 0.5 * max(rows, 2)), dpi=100, layout="constrained")
    strip, diverged, rates = figure.subplots(1, 3, sharey=True, gridspec_kw={"width_ratios": [6, 0.9, 2.6]})
    jitter = np.random.default_rng(0)
    for y, (summary, v) in enumerate(zip(result.cells, values)):
        ok = np.isfinite(v)
        success = (v < rule.threshold) if rule.kind == "<" else (v > rule.threshold)
        size, alpha = _strip_style(len(v))
        offsets = y + jitter.uniform(-0.3, 0.3, len(v))  # (seeds,)
        for mask, color in ((ok & ~success, FAILURE_COLOR), (ok & success, SUCCESS_COLOR)):
            strip.scatter(v[mask], offsets[mask], s=size, color=color, alpha=alpha, linewidths=0, rasterized=True)
        if ok.any():
            q1, median, q3 = np.quantile(v[ok], [0.25, 0.5, 0.75])
            strip.add_patch(_box(q1, q3, y))
            strip.plot([median, median], [y - 0.36, y + 0.36], color="black", linewidth=2.2)
        # The diverged seeds: dots in their own column, and their count.
        nan, inf = int(np.isnan(v).sum()), int(np.isinf(v).sum())
        size, alpha = _strip_style(max(nan + inf, 1))  # a few diverged seeds among many stay visible
        diverged.scatter(jitter.uniform(0.15, 0.85, nan + inf), offsets[~ok], s=size, color=DIVERGED_COLOR,
                         alpha=alpha, linewidths=0, marker="X", rasterized=True)
        count = " + ".join([f"{nan} NaN"] * bool(nan) + [f"{inf} inf"] * bool(inf)) or "0"
        diverged.text(0.5, y + 0.42, count, ha="center", va="bottom", fontsize=7,
                      color=DIVERGED_COLOR if nan + inf else "#999999")
        # The success rate and its interval.
        low, high = summary["wilson_95"]
        spread = [[max(summary["rate"] - low, 0.0)], [max(high - summary["rate"], 0.0)]]  # rounding: never below 0
        rates.errorbar([summary["rate"]], [y], xerr=spread, fmt="o",
                       color=SUCCESS_COLOR if summary["successes"] else FAILURE_COLOR, ecolor="black", elinewidth=1.5,
                       capsize=4, markersize=6)
        rates.text(0.5, y + 0.42, words["sweep_rate"].format(successes=summary["successes"], seeds=summary["seeds"],
                                                              rate=summary["rate"], low=low, high=high),
                   ha="center", va="bottom", fontsize=7.5)
    # The metric's axis and the success side.
    if log:
        strip.set_xscale("log")
    limits = _metric_limits(finite, rule.threshold, log)
    strip.set_xlim(limits)
    succeeding_side = (limits[0], rule.threshold) if rule.kind == "<" else (rule.threshold, limits[1])
    strip.axvspan(*succeeding_side, color=SUCCESS_COLOR, alpha=0.07, linewidth=0)
    strip.axvline(rule.threshold, color="black", linestyle="--", linewidth=1)
    name = metric_name(rule.metric, lang)
    strip.set_xlabel(f"{name} ({rule.metric}), {words['sweep_final']}")
    strip.set_title(words["sweep_success"].format(rule=f"{rule.metric} {rule.kind} {rule.threshold:g}"), fontsize=10)
    strip.set_yticks(range(rows), [cell_label(summary["settings"]) for summary in result.cells])
    strip.set_ylim(rows - 0.5, -0.62)  # the first cell on top
    diverged.set(xlim=(0, 1), xticks=[])
    diverged.set_title(words["sweep_diverged"], fontsize=10)
    rates.set(xlim=(-0.02, 1.02), xticks=[0, 0.25, 0.5, 0.75, 1], xticklabels=["0", "25%", "50%", "75%", "100%"])
    rates.set_title(words["sweep_rate_title"], fontsize=10)
    for ax in (strip, diverged, rates):
        ax.tick_params(axis="y", length=0)
        for y in range(rows - 1):
            ax.axhline(y + 0.5, color="#dddddd", linewidth=0.8)
    figure.suptitle(words["sweep_metric_title"].format(seeds=result.cells[0]["seeds"] if rows else 0))
    return figure


def _box(q1: float, q3: float, y: float):
    from matplotlib.patches import Rectangle

    return Rectangle((q1, y - 0.3), q3 - q1, 0.6, facecolor="none", edgecolor="black", linewidth=1.4, zorder=3)


# ---------------------------------------------------------------- the best, median and worst seeds


def _real_picture(config):
    """What the real data looks like for a cell: (view box, real samples (n, dim), 1-D law with a pdf or None)."""
    target = make_target(config.data)
    real = fixed_sample(target, 2_000)  # (2000, dim)
    view = picture_view(target, config.data.noise_range) or view_around(real)
    law = target.distribution() if target.dim == 1 else None
    return view, real, law if hasattr(law, "pdf") else None


def _draw_1d(ax, generated: np.ndarray, view, real: np.ndarray, law, words) -> None:
    """The seed's 2000 samples as a density histogram over the real density (the law's pdf, else a histogram)."""
    low, high = view[0]
    if law is not None:
        xs = np.linspace(low, high, 400)
        ax.plot(xs, law.pdf(xs), color=COLORS["real"], linewidth=1.2, label=words["real"])
    else:
        centres, real_density, _ = density(real[:, 0], low, high)
        ax.plot(centres, real_density, color=COLORS["real"], linewidth=1.2, label=words["real"])
    centres, generated_density, outside = density(generated[:, 0], low, high)
    ax.fill_between(centres, generated_density, step="mid", color=COLORS["generated"], alpha=0.5, linewidth=0,
                    label=words["generated"])
    ax.set_xlim(low, high)
    ax.set_ylim(bottom=0)
    ax.text(0.02, 0.97, words["sweep_outside"].format(fraction=outside), transform=ax.transAxes, va="top",
            fontsize=7)


def _draw_2d(ax, generated: np.ndarray, view, real: np.ndarray, words) -> None:
    """Generated over real samples inside the picture's box (the first two columns above 2-D)."""
    extent = (*view[0], *view[1])
    ax.scatter(*points_drawn(real[:, :2]).T, s=3, color=REAL_COLOR, alpha=0.5, linewidths=0, label=words["real"])
    finite = generated[np.isfinite(generated[:, :2]).all(axis=1), :2]
    ax.scatter(*points_drawn(finite).T, s=3, color=GENERATED_COLOR, alpha=0.6, linewidths=0, label=words["generated"])
    ax.set(xlim=extent[:2], ylim=extent[2:], xticks=[], yticks=[])
    ax.set_aspect("equal" if max(np.ptp(view, axis=1)) <= 2 * min(np.ptp(view, axis=1)) else "auto")
    ax.text(0.02, 0.97, words["sweep_outside"].format(fraction=outside_fraction(generated[:, :2], extent)),
            transform=ax.transAxes, va="top", fontsize=7)


def plot_seed_densities(result, *, lang: str = "en") -> Figure:
    """For every cell (a row), what its best, median and worst seeds' final generators draw (by the success metric).

    1-D: a histogram of the seed's samples over the real density; 2-D: its samples over real ones inside
    the picture's box. Each panel is titled with its seed and metric value, green where the seed succeeds.
    Where one seed is two of them (fewer than three seeds) it gets one panel; a seed whose samples are
    all NaN or infinite gets a panel that says so.
    """
    words, rule = LABELS[lang], result.plan.rule
    configs = result.plan.configs
    dim = np.shape(result.samples[0])[-1]
    rows = len(result.cells)
    picked = []  # per cell: {row index: the roles it plays}, one panel each
    for cell in range(rows):
        picks: dict[int, list[str]] = {}
        for role, index in pick_seeds(cell_values(result, cell, rule.metric), rule.kind).items():
            picks.setdefault(index, []).append(words[f"sweep_{role}"])
        picked.append(picks)
    columns = max(map(len, picked))  # 3, or fewer with fewer than 3 seeds
    height = (2.1 if dim == 1 else 2.8) * (1 if rows <= 6 else 0.8)
    width = (3.3 if dim == 1 else 2.8) * columns + 0.4
    figure = Figure(figsize=(width, 0.6 + height * rows), dpi=100, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    for cell, (summary, picks) in enumerate(zip(result.cells, picked)):
        values = cell_values(result, cell, rule.metric)
        seeds = [row["seed"] for row in result.rows if row["cell"] == cell]
        view, real, law = _real_picture(configs[cell])
        for ax in axes[cell, len(picks):]:
            ax.set_visible(False)
        for ax, (index, roles) in zip(axes[cell], picks.items()):
            generated = np.asarray(result.samples[cell][index], np.float64)  # (2000, dim)
            value = values[index]
            succeeded = bool(value < rule.threshold if rule.kind == "<" else value > rule.threshold)
            ax.set_title(f"{' = '.join(roles)}: {words['sweep_seed']} {seeds[index]}, {rule.metric} = {_format(value)}",
                         fontsize=8, color=SUCCESS_COLOR if succeeded else FAILURE_COLOR)
            if not np.isfinite(generated).any():
                ax.text(0.5, 0.5, words["sweep_no_finite"], transform=ax.transAxes, ha="center", va="center",
                        fontsize=9, color=DIVERGED_COLOR)
                ax.set(xticks=[], yticks=[])
                continue
            if dim == 1:
                _draw_1d(ax, generated, view, real, law, words)
            else:
                _draw_2d(ax, generated, view, real, words)
        axes[cell, 0].set_ylabel(cell_label(summary["settings"]), fontsize=9, fontweight="bold")
    drawn = [ax for ax in axes.ravel() if ax.get_legend_handles_labels()[0]]
    if drawn:  # the first panel that drew samples (not one of a diverged seed) names them, under the panels
        handles, labels = drawn[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside lower center", ncols=len(handles), fontsize=8, markerscale=3,
                      frameon=False)
    figure.suptitle(words["sweep_seeds_title"].format(metric=rule.metric))
    return figure


# ---------------------------------------------------------------- files


def save_pictures(result, *, lang: str = "en") -> list[Path]:
    """sweep_metric.png and sweep_seeds.png in the sweep's folder, each written whole or not at all."""
    if result.folder is None:
        raise ValueError("save_pictures: this sweep has no folder to write into")
    folder = Path(result.folder)
    pictures = {METRIC_FILE: plot_metric_distribution, SEEDS_FILE: plot_seed_densities}
    for name, draw in pictures.items():
        write_atomic(folder / name, png_bytes(draw(result, lang=lang)))
    return [folder / name for name in pictures]
