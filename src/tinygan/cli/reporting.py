"""What the command line shows while and after training: the seed's log lines, a progress bar, a summary."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tinygan.engine.resolve import resolved, table_shape
from tinygan.pictures.labels import LABELS
from tinygan.training.loop import TrainResult


def preset_line(config, *, chosen: bool = False) -> str:
    """One line saying what the `data` preset chose for the table: its shape, the networks, the game's length."""
    rows, columns = table_shape(config.data)
    model, train = config.model, config.train
    shape = f"{rows:,} rows x {columns} column{'s' * (columns > 1)}" if rows is not None else f"a {columns}-D law"
    why = " (for a file target; --preset seed trains the blog's network on it)" if chosen else ""
    return (f"preset {config.preset}{why}: {shape}; G {model.generator_layers} x {model.generator_width} "
            f"{model.generator_activation}, D {model.discriminator_layers + 1} x {model.discriminator_width} "
            f"{model.discriminator_activation}, batch {train.batch_size}, {train.num_steps:,} iterations")


def log_line(row: dict) -> str:
    """The seed's log line: `step: loss_d loss_g`."""
    return f"{row['step']}: {row['loss_d']:.6f}\t{row['loss_g']:.6f}"


def _progress_bar() -> Progress:
    """A bar on stderr: what it is doing, bar, done of total, speed, time left; none (nor its blank line) in logs
    and pipes."""
    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[speed]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


LOG_HEADER = "step: loss_d\tloss_g"  # the columns of `log_line`, named once above them


class TrainingProgress:
    """A progress bar on stderr with the log lines above it on stdout, under their header. The bar says
    "compiling" until the first rows come: XLA compiles the programs first, for several seconds."""

    def __init__(self, total: int):
        self.bar = _progress_bar()
        self.task = self.bar.add_task("compiling", total=total, speed="")
        self.headed = False

    def __enter__(self):
        self.bar.start()
        return self

    def __exit__(self, *exc):
        self.bar.stop()

    def update(self, done: int, rows: list[dict]) -> None:
        if rows and not self.headed:
            print(LOG_HEADER, flush=True)
            self.headed = True
        for row in rows:
            print(log_line(row), flush=True)
        speed = self.bar.tasks[0].speed
        self.bar.update(self.task, description="training", completed=done, speed=f"{speed:,.0f} it/s" if speed else "")


class JsonLines:
    """`--json`: one JSON object per log line on stdout ({"event": "log", "step": ..., ...}), one at the end."""

    def update(self, done: int, rows: list[dict]) -> None:
        for row in rows:
            print(_json_line({"event": "log", **row}), flush=True)

    @staticmethod
    def end(result: TrainResult, written: list[Path]) -> None:
        metrics = {name: value for name, value in result.metrics.items() if name != "seconds"}
        print(_json_line({"event": "end", **metrics, "seconds": result.metrics["seconds"],
                          "folder": str(written[0].parent), "files": [str(path) for path in written]}), flush=True)


def _json_line(value: dict) -> str:
    """One line of JSON; NaN and infinity (which JSON lacks) as null."""
    from tinygan.files import finite_or_none

    return json.dumps(finite_or_none(value), allow_nan=False)


def runs_table(entries: list[dict]) -> str:
    """`tinygan runs`: one line per run: folder, preset, iterations, status, main distance, when it started."""
    if not entries:
        return "no runs"
    header = ["run", "preset", "iterations", "status", "distance", "started"]
    lines = []
    for entry in entries:
        step, total = entry.get("step"), entry.get("num_steps")
        iterations = f"{step if step is not None else '?'}/{total if total is not None else '?'}"
        distance = next((f"{name} {_number(entry[name], '.4f')}" for name in ("floor_ratio", "w1", "sliced_w1")
                         if isinstance(entry.get(name), float)), "")
        lines.append([entry["run"], str(entry.get("preset") or "?"), iterations, str(entry.get("status") or "?"),
                      distance, str(entry.get("started", "?"))[:19].replace("T", " ")])
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip()
                     for row in [header, *lines])


class SweepProgress:
    """A bar over the whole sweep, in seed-iterations, with seed-iterations per second."""

    def __init__(self):
        self.bar = _progress_bar()
        self.task = None

    def __enter__(self):
        self.bar.start()
        return self

    def __exit__(self, *exc):
        self.bar.stop()

    def update(self, seed_iterations: int, total: int) -> None:
        if self.task is None:
            self.task = self.bar.add_task("sweeping", total=total, speed="")
        self.bar.advance(self.task, seed_iterations)
        speed = self.bar.tasks[0].speed
        self.bar.update(self.task, speed=f"{speed:,.0f} seed-it/s" if speed else "")


def _settings_text(settings: dict) -> str:
    return ", ".join(f"{name}={value}" for name, value in settings.items()) or "(base)"


def sweep_table(result) -> str:
    """Each cell of a sweep in one line: successes, rate with Wilson's 95% interval, the metric's quartiles,
    and the p-value of the test that its rate equals the first cell's."""
    rule = result.plan.rule
    label, spec = SUMMARY_FORMATS[rule.metric]
    header = ["cell", "settings", "success", "rate", "95% interval", f"{label} median [q1, q3]", "p vs cell 0"]
    lines = []
    for cell in result.cells:
        q = cell[rule.metric]
        low, high = cell["wilson_95"]
        diverged = f" ({q['non_finite']} NaN)" if q["non_finite"] else ""
        p_value = cell.get("p_value_vs_cell_0")
        lines.append([str(cell["cell"]), _settings_text(cell["settings"]), f"{cell['successes']}/{cell['seeds']}",
                      f"{cell['rate']:.1%}", f"[{low:.1%}, {high:.1%}]",
                      f"{_number(q['median'], spec)} [{_number(q['q1'], spec)}, {_number(q['q3'], spec)}]{diverged}",
                      "" if p_value is None else f"{p_value:.3g}"])
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    text = ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in [header, *lines]]
    return f"success: {result.plan.success}\n" + "\n".join(text)


def _number(value: float, spec: str) -> str:
    return "nan" if math.isnan(value) else format(value, ".4g" if spec == "d" else spec)


SUMMARY_FORMATS = {  # metric: (label, format), in the order shown
    "mean": ("mean", ".4f"), "std": ("std", ".4f"), "w1": ("W1", ".4f"), "ks": ("KS", ".4f"),
    "sliced_w1": ("sliced W1", ".4f"), "energy": ("energy", ".4f"), "modes_captured": ("modes", "d"),
    "high_quality": ("high quality %", ".1f"), "reverse_kl": ("reverse KL", ".3f"), "kl": ("KL", ".3f"),
    "js": ("JS", ".3f"),
}  # fmt: skip


def summary(result: TrainResult, folder: Path, written: list[Path], *, lang: str = "en",
            elapsed: float | None = None) -> str:
    """The lines after training: the final metrics, the verdict, how it stopped, the time, the files. `elapsed`:
    the command's seconds since it started, so the time line also counts start-up and pictures (the seconds
    metrics.json records)."""
    words = LABELS[lang]
    m, seconds = result.metrics, dict(result.metrics["seconds"])
    if (folder / "metrics.json").is_file():
        seconds.update(json.loads((folder / "metrics.json").read_text()).get("seconds", {}))
    status = f" [{words['interrupted']}]" if result.status == "interrupted" else ""
    names = ", ".join(p.name if p.parent == folder else str(p) for p in written)
    modes = result.game.target.modes
    shown = "  ".join(
        f"{label} {value:{spec}}" + (f"/{len(modes.weights)}" if name == "modes_captured" else "")
        for name, (label, spec) in SUMMARY_FORMATS.items()
        if name in m
        for value in [m[name]]
    )
    metrics_line = f"{words['summary']}{status}: {shown}  ({m['samples']:,} samples, {m['iterations']:,} iterations)"
    time_line = (
        f"compile {seconds['compile']:.2f} s, pre-training {seconds['pretrain']:.2f} s, "
        f"training {seconds['train']:.2f} s, metrics {seconds['metrics']:.2f} s"
    )
    if "pictures" in seconds:
        time_line += f", pictures {seconds['pictures']:.2f} s"
    if elapsed is not None:  # start-up: imports, reading the data, writing the files
        startup = max(0.0, elapsed - seconds.get("total", 0.0) - seconds.get("pictures", 0.0))
        time_line = f"{elapsed:.1f} s in all: start-up {startup:.2f} s, {time_line}"
    time_line = f"time: {time_line}"
    lines = [metrics_line]
    if "verdict" in m:
        lines.append(f"verdict: {m['verdict']['sentence']}")
    if "stop_reason" in m:
        lines.append(f"stopped: {m['stop_reason']}")
    if m.get("best_step") is not None:
        lines.append(f"kept the best state: step {m['best_step']:,}, {resolved(result.config).train.best_metric} "
                     f"{m['best_metric']:.4f}")
    return "\n".join([*lines, time_line, f"{words['files']}: {folder}/ ({names})"])
