"""The first minutes, timed: `tinygan --help`, a first and a second `tinygan train` (seed preset, all pictures),
and the bytes of a 1-D run's frames, against issue 14's goals and against `python -c "import jax"` measured in
the same run (the floor no tinygan command can go under).

    python benchmarks/startup.py [--repeats 3] [--json]

Each train runs in a fresh folder with its own compile cache: the first run of a repeat fills an empty
cache (what a new user meets), the second reads it. Times are wall seconds of the whole command, medians over
the repeats; this machine is shared, so read the ratios more than the seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TINYGAN = [str(Path(sys.executable).with_name("tinygan"))]
GOALS = {"help": 0.5, "first_train": 7.0, "second_train": 3.0, "frames_mb": 2.0}


def wall(command: list[str], cwd: Path, **env) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env={**os.environ, **env}, check=True, capture_output=True)
    return time.perf_counter() - start


def repeat(folder: Path) -> dict:
    cache = folder / "cache"
    times = {"import_jax": wall([sys.executable, "-c", "import jax"], folder),
             "help": wall([*TINYGAN, "--help"], folder)}
    for name in ("first_train", "second_train"):
        times[name] = wall([*TINYGAN, "train", "--out", name, "--quiet"], folder, TINYGAN_COMPILE_CACHE=str(cache))
    frames = folder / "first_train" / "frames"
    times["frames_mb"] = sum(path.stat().st_size for path in frames.iterdir()) / 1e6
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            runs.append(repeat(Path(folder)))
    medians = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
    report = {"medians": medians, "goals": GOALS, "repeats": args.repeats,
              "over_import_jax": {name: medians[name] / medians["import_jax"] for name in ("help", "first_train",
                                                                                           "second_train")}}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'what':<14}{'median':>10}{'goal':>8}{'x import jax':>14}")
    for name, value in medians.items():
        unit = " MB" if name == "frames_mb" else " s"
        goal = f"{GOALS[name]:g}{unit.strip()}" if name in GOALS else "-"
        ratio = f"{report['over_import_jax'][name]:.1f}" if name in report["over_import_jax"] else "-"
        print(f"{name:<14}{value:>8.2f}{unit:<3}{goal:>6}{ratio:>14}")


if __name__ == "__main__":
    main()
