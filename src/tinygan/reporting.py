"""What the command line shows while and after training: the seed's log lines, a progress bar, a summary."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tinygan.labels import LABELS
from tinygan.trainer import TrainResult


def log_line(row: dict) -> str:
    """The seed's log line: `step: loss_d loss_g`."""
    return f"{row['step']}: {row['loss_d']:.6f}\t{row['loss_g']:.6f}"


class TrainingProgress:
    """A progress bar on stderr with the log lines above it on stdout."""

    def __init__(self, total: int):
        console = Console(stderr=True)
        self.bar = Progress(
            TextColumn("training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[speed]}"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,  # no bar (nor its blank line) in logs and pipes
        )
        self.task = self.bar.add_task("training", total=total, speed="")

    def __enter__(self):
        self.bar.start()
        return self

    def __exit__(self, *exc):
        self.bar.stop()

    def update(self, done: int, rows: list[dict]) -> None:
        for row in rows:
            print(log_line(row), flush=True)
        speed = self.bar.tasks[0].speed
        self.bar.update(self.task, completed=done, speed=f"{speed:,.0f} it/s" if speed else "")


SUMMARY_FORMATS = {  # metric: (label, format), in the order shown
    "mean": ("mean", ".4f"), "std": ("std", ".4f"), "w1": ("W1", ".4f"), "ks": ("KS", ".4f"),
    "sliced_w1": ("sliced W1", ".4f"), "energy": ("energy", ".4f"), "modes_captured": ("modes", "d"),
    "high_quality": ("high quality %", ".1f"), "reverse_kl": ("reverse KL", ".3f"), "kl": ("KL", ".3f"),
    "js": ("JS", ".3f"),
}  # fmt: skip


def summary(result: TrainResult, folder: Path, written: list[Path], *, lang: str = "en") -> str:
    words = LABELS[lang]
    m, seconds = result.metrics, result.metrics["seconds"]
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
        f"time: compile {seconds['compile']:.2f} s, pre-training {seconds['pretrain']:.2f} s, "
        f"training {seconds['train']:.2f} s, metrics {seconds['metrics']:.2f} s"
    )
    lines = [metrics_line]
    if "stop_reason" in m:
        lines.append(f"stopped: {m['stop_reason']}")
    if m.get("best_step") is not None:
        lines.append(f"kept the best state: step {m['best_step']:,}, {result.config.resolved().train.best_metric} "
                     f"{m['best_metric']:.4f}")
    return "\n".join([*lines, time_line, f"{words['files']}: {folder}/ ({names})"])
