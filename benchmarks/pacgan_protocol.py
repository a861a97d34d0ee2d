"""PacGAN's 2-D protocol with tinygan's `ring` and `grid` presets (Lin et al. 2018, section 5, Table 1).

PacGAN trains a GAN and PacGAN2/3/4 ten times each on a ring of 8 Gaussians and a
5 x 5 grid of 25, and reports the mean over the runs of three measures of 2,500
generated samples: modes captured, the percentage of high-quality samples (within
3 standard deviations of their nearest mode) and the reverse KL of the
high-quality samples' mode histogram to the uniform one. tinygan's presets carry
PacGAN's networks and optimiser; PacGAN-m is `pack=m, batch_size=100*m` (100
packed tuples a batch). For each target, pack m and seed s this runs

    tinygan.train(tinygan.config_from_preset(target, pack=m, batch_size=100 * m, num_steps=N,
                                             log_every=N_log, seed=s), frames=False)

and reads result.metrics["modes_captured"], ["high_quality"], ["reverse_kl"]
(tinygan.scoring: the same 2,500-sample measures as PacGAN's code). It prints, and
writes as markdown, the mean and std over the seeds of each cell next to PacGAN's
Table 1 number for that cell, with the seconds per run and the training
iterations per second (training time only: compile and final metrics excluded).

PacGAN's budget is 400,000 iterations a run; on a 2-core CPU that is hours per
run, so N is an option and the reading must say what a short N can and cannot show.
The markdown is rewritten after every run (a partial table survives an
interruption); text from a line "## Reading" on in an existing --out file is kept.
With --json FILE every run is appended to FILE; --resume then reuses the runs in
FILE with the same target, pack, seed, N and log_every, so a cell can be added later.

    nice -n 15 python benchmarks/pacgan_protocol.py --targets ring,grid --packs 1,2 --seeds 3 \\
        --num-steps 3000 --out benchmarks/results/pacgan_protocol.md
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MEASURES = ("modes_captured", "high_quality", "reverse_kl")
MODES = {"ring": 8, "grid": 25}
PACGAN_ITERATIONS = 400_000
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


def method(pack: int) -> str:
    return "GAN" if pack == 1 else f"PacGAN{pack}"


def run_one(target: str, pack: int, seed: int, num_steps: int, log_every: int) -> dict:
    import tinygan

    config = tinygan.config_from_preset(target, pack=pack, batch_size=100 * pack, num_steps=num_steps,
                                        log_every=log_every, seed=seed)
    start = time.perf_counter()
    result = tinygan.train(config, frames=False)
    wall = time.perf_counter() - start
    seconds = result.metrics["seconds"]
    row = {"target": target, "pack": pack, "seed": seed, "num_steps": num_steps, "log_every": log_every,
           "status": result.status,
           "iterations": result.metrics["iterations"], "seconds": wall,
           "train_seconds": seconds["train"], "compile_seconds": seconds["compile"],
           "its": num_steps / seconds["train"] if seconds["train"] > 0 else float("nan")}
    row.update({name: float(result.metrics[name]) for name in MEASURES})
    return row


def mean_std(values) -> tuple[float, float, int]:
    """Mean and sample std (ddof 1; 0 for one value) of the finite values, and how many were not finite."""
    x = np.asarray(values, np.float64)
    finite = x[np.isfinite(x)]
    if not len(finite):
        return float("nan"), float("nan"), len(x)
    return float(finite.mean()), float(finite.std(ddof=1)) if len(finite) > 1 else 0.0, len(x) - len(finite)


def cell_summary(rows: list[dict]) -> dict:
    summary = {name: mean_std([r[name] for r in rows]) for name in MEASURES}
    summary["seconds"] = float(np.mean([r["seconds"] for r in rows]))
    summary["its"] = float(np.mean([r["its"] for r in rows]))
    summary["runs"] = len(rows)
    return summary


def fmt(stat: tuple[float, float, int], digits: int) -> str:
    mean, std, bad = stat
    text = "nan" if math.isnan(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}"
    return text + (f" ({bad} nan)" if bad else "")


def table(cells: dict, targets, packs) -> list[str]:
    lines = [
        ("| target | method | runs | modes captured | PacGAN | high quality (%) | PacGAN | reverse KL | PacGAN "
         "| s / run | it / s |"),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for target in targets:
        for pack in packs:
            rows = cells.get((target, pack))
            if not rows:
                continue
            s = cell_summary(rows)
            paper = PACGAN_TABLE1.get((target, pack), (float("nan"),) * 3)
            lines.append(
                f"| {target} ({MODES[target]} modes) | {method(pack)} | {s['runs']} "
                f"| {fmt(s['modes_captured'], 1)} | {paper[0]} "
                f"| {fmt(s['high_quality'], 1)} | {paper[1]} "
                f"| {fmt(s['reverse_kl'], 2)} | {paper[2]} "
                f"| {s['seconds']:.0f} | {s['its']:.1f} |"
            )
    return lines


def per_run(rows: list[dict]) -> list[str]:
    lines = ["| target | method | seed | modes | high quality (%) | reverse KL | s | train s | compile s | it/s |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['target']} | {method(r['pack'])} | {r['seed']} | {r['modes_captured']:.0f} "
                     f"| {r['high_quality']:.1f} | {r['reverse_kl']:.3f} | {r['seconds']:.1f} "
                     f"| {r['train_seconds']:.1f} | {r['compile_seconds']:.1f} | {r['its']:.1f} |")
    return lines


def markdown(args, command: str, rows: list[dict], cells: dict, elapsed: float, done: bool, kept: str) -> str:
    import jax

    planned = len(args.targets) * len(args.packs) * args.seeds
    state = "." if done else f" - PARTIAL: {len(rows)} of {planned} runs so far."
    budget = 100 * args.num_steps / PACGAN_ITERATIONS
    reused = sum(bool(row.get("reused")) for row in rows)
    lines = [
        "# PacGAN's 2-D protocol (Table 1) with tinygan's `ring` and `grid` presets",
        "",
        f"Written by `benchmarks/pacgan_protocol.py`{state}",
        "",
        "```sh",
        command,
        "```",
        "",
        (f"- iterations per run N = {args.num_steps:,} (PacGAN: {PACGAN_ITERATIONS:,}, i.e. {budget:.2g}% of its "
         f"budget); log every {args.log_every:,}"),
        (f"- seeds 0-{args.seeds - 1} ({args.seeds} runs a cell; PacGAN: 10); targets {', '.join(args.targets)}; "
         f"packs {', '.join(map(str, args.packs))} (batch 100 x pack)"),
        ("- measures: tinygan's final `metrics` (2,500 samples, thinned from 100,000 fresh ones), mean ± sample "
         "std over the seeds; PacGAN's columns are Table 1's means over its 10 runs at 400,000 iterations"),
        (f"- machine: {platform.machine()}, {os.cpu_count()} CPUs, shared (run under `nice -n 15`); "
         f"jax {jax.__version__}; all runs together {elapsed / 60:.1f} min"),
        *([(f"- {reused} of these runs were reused (--resume) from {args.json}, made by an earlier call with "
            "the same N, log_every and seeds")] if reused else []),
        ("- s / run: wall seconds of one `tinygan.train` call (compile, training, log points, final metrics); "
         "it / s: N over the training seconds alone"),
        "",
        ("PacGAN's numbers: Lin et al. 2018, Table 1, quoted from the paper; the repository "
         "fjxmlzn/PacGAN keeps the table only as an image (synthetic_data_experiments/results/Table1.png) that "
         "could not be read as text here, so they are not checked against it."),
        "",
        "## Results",
        "",
        *table(cells, args.targets, args.packs),
        "",
        "## Every run",
        "",
        *per_run(rows),
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
    parser.add_argument("--seeds", type=int, default=10, help="runs a cell: seeds 0..SEEDS-1 (PacGAN: 10)")
    parser.add_argument("--num-steps", type=int, default=PACGAN_ITERATIONS, help="iterations a run (PacGAN: 400,000)")
    parser.add_argument("--log-every", type=int, default=0, help="iterations between log points (0: num-steps / 10)")
    parser.add_argument("--out", default="benchmarks/results/pacgan_protocol.md", help="markdown written")
    parser.add_argument("--json", default="", help="also append every run as a JSON line to this file")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the runs already in --json with the same target, pack, seed, N and log_every")
    args = parser.parse_args(argv)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    args.packs = parse_ints(args.packs)
    unknown = [t for t in args.targets if t not in MODES]
    if unknown:
        parser.error(f"--targets: unknown {', '.join(unknown)} (known: {', '.join(MODES)})")
    if args.seeds < 1 or args.num_steps < 1 or any(p < 1 for p in args.packs):
        parser.error("--seeds, --num-steps and --packs must be >= 1")
    args.log_every = args.log_every or max(1, args.num_steps // 10)
    command = "nice -n 15 python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(sys.argv[1:] if argv is None
                                                                                    else argv)])

    import jax

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    kept = ""
    if out.exists():
        text = out.read_text()
        if READING in text:
            kept = text[text.index(READING):]
    done_before = {}
    if args.resume and args.json and Path(args.json).exists():
        for line in Path(args.json).read_text().splitlines():
            row = json.loads(line)
            row.setdefault("num_steps", row["iterations"])
            row.setdefault("log_every", args.log_every)  # the first version of this file did not record them
            done_before[row["target"], row["pack"], row["seed"], row["num_steps"], row["log_every"]] = row
    rows: list[dict] = []
    cells: dict = {}
    # Every seed of a cell compiles the same programs: a persistent cache compiles them once per cell.
    with tempfile.TemporaryDirectory(prefix="pacgan_protocol_") as cache:
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        for target in args.targets:
            for pack in args.packs:
                for seed in range(args.seeds):
                    row = done_before.get((target, pack, seed, args.num_steps, args.log_every))
                    reused = row is not None
                    if reused:
                        row = dict(row, reused=True)
                    if not reused:
                        row = run_one(target, pack, seed, args.num_steps, args.log_every)
                    rows.append(row)
                    cells.setdefault((target, pack), []).append(row)
                    print(f"{target} {method(pack):8s} seed {seed}: modes {row['modes_captured']:.0f}, "
                          f"hq {row['high_quality']:.1f}%, rkl {row['reverse_kl']:.3f}; {row['seconds']:.1f} s, "
                          f"{row['its']:.1f} it/s" + (" (reused)" if reused else ""), flush=True)
                    if args.json and not reused:
                        with open(args.json, "a") as f:
                            f.write(json.dumps(row) + "\n")
                    out.write_text(markdown(args, command, rows, cells, sum(r["seconds"] for r in rows), False, kept))
    elapsed = sum(row["seconds"] for row in rows)  # reused runs included: the protocol's cost, not this call's
    out.write_text(markdown(args, command, rows, cells, elapsed, True, kept))
    print()
    print("\n".join(table(cells, args.targets, args.packs)))
    print(f"\n{len(rows)} runs in {elapsed / 60:.1f} min; written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
