"""PacGAN's 2-D protocol with tinygan's `ring` and `grid` presets (Lin et al. 2018, section 5, Table 1).

PacGAN trains a GAN and PacGAN2/3/4 ten times each on a ring of 8 Gaussians and a
5 x 5 grid of 25, 400,000 iterations a run, and reports the mean over the runs of
three measures of 2,500 generated samples: modes captured, the percentage of
high-quality samples (within 3 standard deviations of their nearest mode) and the
reverse KL of the high-quality samples' mode histogram to the uniform one.
tinygan's presets carry PacGAN's networks and optimiser; PacGAN-m is
`pack=m, batch_size=100*m` (100 packed tuples a batch). Each (target, pack) cell is
one vmapped sweep: all its seeds train at once, as one compiled program,

    training.seeds.train_seeds(tinygan.config_from_preset(target, pack=m, batch_size=100 * m, num_steps=N,
                                                          device=D), range(SEEDS))

on the device D (auto, cpu, gpu) resolves to for them, and every seed's metrics are
bit for bit those `tinygan.train` gives it: "modes_captured", "high_quality",
"reverse_kl" (tinygan.measure.scoring: the same 2,500-sample measures as PacGAN's
code). It prints, and writes as markdown, the mean and std over the seeds of each
cell next to PacGAN's Table 1 number for that cell, with the cell's device, wall
seconds (compiling and the final measures included) and seed-iterations per second.

The whole protocol is the default: 2 targets x 4 packings x 10 seeds x 400,000
iterations, hours on a GPU and weeks on a 2-core CPU. --steps and --seeds shrink it
(`--steps 50 --seeds 2` is a look in about a minute here); the reading must then say
what a short N can and cannot show. The markdown is rewritten after every cell (a
partial table survives an interruption); text from a line "## Reading" on in an
existing --out file is kept. With --json FILE every cell is appended to FILE as a
line; --resume then reuses the cells in FILE with the same target, pack, N and seeds.

    python benchmarks/pacgan_protocol.py --device gpu --out benchmarks/results/pacgan_protocol.md
    python benchmarks/pacgan_protocol.py --steps 50 --seeds 2 --out /tmp/pacgan.md   # a look, on the CPU
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

MEASURES = ("modes_captured", "high_quality", "reverse_kl")
MODES = {"ring": 8, "grid": 25}
PACGAN_ITERATIONS = 400_000
PACGAN_SEEDS = 10
# PacGAN (Lin et al. 2018), Table 1, mean over 10 runs: (modes captured, % high-quality samples, reverse KL).
# fjxmlzn/PacGAN keeps the table only as an image (synthetic_data_experiments/results/Table1.png), which
# could not be read as text here: these are the paper's numbers, quoted from it.
PACGAN_TABLE1 = {
    ("ring", 1): (6.3, 98.2, 0.45),
    ("ring", 2): (7.9, 95.6, 0.07),
    ("ring", 3): (7.8, 98.5, 0.12),
    ("ring", 4): (7.8, 98.2, 0.07),
    ("grid", 1): (17.3, 94.8, 0.70),
    ("grid", 2): (23.8, 91.3, 0.13),
    ("grid", 3): (23.6, 88.6, 0.15),
    ("grid", 4): (23.7, 84.3, 0.11),
}
READING = "## Reading"
PROGRESS_LINES = 4  # progress lines a cell prints, about: a full cell runs for many minutes


def method(pack: int) -> str:
    return "GAN" if pack == 1 else f"PacGAN{pack}"


def progress_printer(label: str, total: int):
    """A `train_seeds` progress callback that prints `label: k%` each time another 1 / PROGRESS_LINES is done."""
    done = shown = 0

    def progress(seed_iterations: int) -> None:
        nonlocal done, shown
        done += seed_iterations
        if done * PROGRESS_LINES // total > shown:
            shown = done * PROGRESS_LINES // total
            print(f"  {label}: {done / total:.0%}", flush=True)

    return progress


def run_cell(target: str, pack: int, seeds: list[int], num_steps: int, device: str) -> dict:
    """One cell of Table 1: every seed of (target, pack) in one vmapped sweep, on the device `device` resolves to."""
    import tinygan
    from tinygan.cli.bench import describe
    from tinygan.training import seeds as ensemble

    config = tinygan.config_from_preset(target, pack=pack, batch_size=100 * pack, num_steps=num_steps, device=device)
    chosen = ensemble.sweep_device(config, len(seeds))
    label = f"{target} {method(pack)}"
    start = time.perf_counter()
    result = ensemble.train_seeds(config, seeds, progress=progress_printer(label, len(seeds) * num_steps))
    wall = time.perf_counter() - start
    rows = [{"seed": row["seed"], "status": row["status"], **{name: float(row[name]) for name in MEASURES}}
            for row in result.rows]
    return {"target": target, "pack": pack, "num_steps": num_steps, "seeds": list(seeds), "device": describe(chosen),
            "batch": min(len(seeds), ensemble.default_seed_batch(config, len(seeds), chosen)), "seconds": wall,
            "seed_its": len(seeds) * num_steps / wall, "rows": rows}


def mean_std(values) -> tuple[float, float, int]:
    """Mean and sample std (ddof 1; 0 for one value) of the finite values, and how many were not finite."""
    x = np.asarray(values, np.float64)
    finite = x[np.isfinite(x)]
    if not len(finite):
        return float("nan"), float("nan"), len(x)
    return float(finite.mean()), float(finite.std(ddof=1)) if len(finite) > 1 else 0.0, len(x) - len(finite)


def fmt(stat: tuple[float, float, int], digits: int) -> str:
    mean, std, bad = stat
    text = "nan" if math.isnan(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}"
    return text + (f" ({bad} nan)" if bad else "")


def table(cells: list[dict]) -> list[str]:
    """Table 1: each cell's mean ± std over its seeds, PacGAN's number beside each measure, and its cost."""
    lines = [
        ("| target | method | seeds | modes captured | PacGAN | high quality (%) | PacGAN | reverse KL | PacGAN "
         "| device | s / cell | seed-it / s |"),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for cell in cells:
        stats = {name: mean_std([row[name] for row in cell["rows"]]) for name in MEASURES}
        paper = PACGAN_TABLE1.get((cell["target"], cell["pack"]), (float("nan"),) * 3)
        lines.append(
            f"| {cell['target']} ({MODES[cell['target']]} modes) | {method(cell['pack'])} | {len(cell['rows'])} "
            f"| {fmt(stats['modes_captured'], 1)} | {paper[0]:.1f} "
            f"| {fmt(stats['high_quality'], 1)} | {paper[1]:.1f} "
            f"| {fmt(stats['reverse_kl'], 2)} | {paper[2]:.2f} "
            f"| {cell['device']} | {cell['seconds']:.0f} | {cell['seed_its']:,.0f} |"
        )
    return lines


def per_seed(cells: list[dict]) -> list[str]:
    lines = ["| target | method | seed | modes | high quality (%) | reverse KL |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for cell in cells:
        for row in cell["rows"]:
            lines.append(f"| {cell['target']} | {method(cell['pack'])} | {row['seed']} | {row['modes_captured']:.0f} "
                         f"| {row['high_quality']:.1f} | {row['reverse_kl']:.3f} |")
    return lines


def markdown(args, command: str, cells: list[dict], done: bool, kept: str) -> str:
    import jax

    planned = len(args.targets) * len(args.packs)
    state = "." if done else f" - PARTIAL: {len(cells)} of {planned} cells so far."
    budget = 100 * args.steps / PACGAN_ITERATIONS
    reused = sum(bool(cell.get("reused")) for cell in cells)
    elapsed = sum(cell["seconds"] for cell in cells)
    lines = [
        "# PacGAN's 2-D protocol (Table 1) with tinygan's `ring` and `grid` presets",
        "",
        f"Written by `benchmarks/pacgan_protocol.py`{state}",
        "",
        "```sh",
        command,
        "```",
        "",
        (f"- iterations per run N = {args.steps:,} (PacGAN: {PACGAN_ITERATIONS:,}, i.e. {budget:.2g}% of its "
         "budget)"),
        (f"- seeds 0-{args.seeds - 1} ({args.seeds} a cell, trained at once as one vmapped sweep; PacGAN: "
         f"{PACGAN_SEEDS} runs); targets {', '.join(args.targets)}; packs {', '.join(map(str, args.packs))} "
         "(batch 100 x pack)"),
        ("- measures: tinygan's final `metrics` (2,500 samples, thinned from 100,000 fresh ones), mean ± sample "
         "std over the seeds; PacGAN's columns are Table 1's means over its 10 runs at 400,000 iterations"),
        (f"- machine: {platform.machine()}, {os.cpu_count()} CPUs; devices {', '.join(sorted({c['device'] for c in cells}))}"
         f" (--device {args.device}); jax {jax.__version__}; all cells together {elapsed / 60:.1f} min"),
        *([(f"- {reused} of these cells were reused (--resume) from {args.json}, made by an earlier call with "
            "the same N and seeds")] if reused else []),
        ("- s / cell: wall seconds of the cell's one `train_seeds` call (compiling, training, final measures); "
         "seed-it / s: seeds x N over those seconds"),
        "",
        ("PacGAN's numbers: Lin et al. 2018, Table 1, quoted from the paper; the repository "
         "fjxmlzn/PacGAN keeps the table only as an image (synthetic_data_experiments/results/Table1.png) that "
         "could not be read as text here, so they are not checked against it."),
        "",
        "## Results",
        "",
        *table(cells),
        "",
        "## Every seed",
        "",
        *per_seed(cells),
        "",
    ]
    text = "\n".join(lines)
    return text + ("\n" + kept if kept else "")


def parse_ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="ring,grid", help="presets, separated by commas (ring, grid)")
    parser.add_argument("--packs", default="1,2,3,4", help="packs m, separated by commas (1: plain GAN)")
    parser.add_argument("--seeds", type=int, default=PACGAN_SEEDS, help="seeds 0..SEEDS-1 a cell (PacGAN: 10)")
    parser.add_argument("--steps", "--num-steps", type=int, default=PACGAN_ITERATIONS,
                        help="iterations a run (PacGAN: 400,000)")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                        help="where the sweeps run: auto (a GPU when there is one), cpu or gpu")
    parser.add_argument("--out", default="benchmarks/results/pacgan_protocol.md", help="markdown written")
    parser.add_argument("--json", default="", help="also append every cell as a JSON line to this file")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the cells already in --json with the same target, pack, N and seeds")
    args = parser.parse_args(argv)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    args.packs = parse_ints(args.packs)
    unknown = [t for t in args.targets if t not in MODES]
    if unknown:
        parser.error(f"--targets: unknown {', '.join(unknown)} (known: {', '.join(MODES)})")
    if args.seeds < 1 or args.steps < 1 or any(p < 1 for p in args.packs):
        parser.error("--seeds, --steps and --packs must be >= 1")
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(sys.argv[1:] if argv is None else argv)])

    from tinygan.config import ConfigError
    from tinygan.engine import devices

    try:
        devices.check_device(args.device)
    except ConfigError as error:
        parser.error(f"--device: {error}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    kept = ""
    if out.exists():
        text = out.read_text()
        if READING in text:
            kept = text[text.index(READING):]
    seeds = list(range(args.seeds))
    done_before = {}
    if args.resume and args.json and Path(args.json).exists():
        for line in Path(args.json).read_text().splitlines():
            cell = json.loads(line)
            done_before[cell["target"], cell["pack"], cell["num_steps"], tuple(cell["seeds"])] = cell
    cells: list[dict] = []
    for target in args.targets:
        for pack in args.packs:
            cell = done_before.get((target, pack, args.steps, tuple(seeds)))
            reused = cell is not None
            if reused:
                cell = dict(cell, reused=True)
            else:
                cell = run_cell(target, pack, seeds, args.steps, args.device)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(cell) + "\n")
            cells.append(cell)
            means = {name: np.mean([row[name] for row in cell["rows"]]) for name in MEASURES}
            print(f"{target} {method(pack):8s} {len(seeds)} seeds: modes {means['modes_captured']:.1f}, "
                  f"hq {means['high_quality']:.1f}%, rkl {means['reverse_kl']:.3f}; {cell['device']}, "
                  f"{cell['seconds']:.1f} s, {cell['seed_its']:,.0f} seed-it/s" + (" (reused)" if reused else ""),
                  flush=True)
            out.write_text(markdown(args, command, cells, False, kept))
    out.write_text(markdown(args, command, cells, True, kept))
    elapsed = sum(cell["seconds"] for cell in cells)  # reused cells included: the protocol's cost, not this call's
    print()
    print("\n".join(table(cells)))
    print(f"\n{len(cells)} cells of {len(seeds)} seeds x {args.steps:,} iterations in {elapsed / 60:.1f} min "
          f"({elapsed:.0f} s wall); written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
