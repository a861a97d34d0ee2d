"""The `tinygan` command: parse, validate, call the library, report.

Every config field is a flag (`num_steps` -> `--num-steps`) whose help is the
field's docstring. Bad input ends in one line on stderr and exit code 2,
before anything is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from tinygan.config import PRESETS, SECTIONS, ConfigError, config_from_preset, field_docs
from tinygan.configfile import blame_config_file, parse_args_with_config
from tinygan.labels import LABELS

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130


class UsageError(Exception):
    """Bad input from the command line: reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line instead of usage text plus error."""

    def error(self, message):
        raise UsageError(message)


def parse_bool(text: str) -> bool:
    """true/false in the spellings people use, the seed's `True`/`False` included."""
    words = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")
    return words[text.lower()]


_FLAG_TYPES = {"int": int, "float": float, "str": str, "float | None": float}


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per config field; unset flags stay None so the preset's value holds."""
    for section, cls in SECTIONS.items():
        group = parser.add_argument_group(f"{section} settings")
        docs = field_docs(cls)
        for f in dataclasses.fields(cls):
            flag = "--" + f.name.replace("_", "-")
            default = "" if f.default is None else f" (default: {f.default})"
            help_text = f"{docs.get(f.name, '')}{default}".replace("%", "%%")
            if f.type == "bool":
                group.add_argument(flag, dest=f.name, nargs="?", const=True, type=parse_bool, metavar="True|False",
                                   help=help_text)
                group.add_argument("--no-" + flag[2:], dest=f.name, action="store_false", help=argparse.SUPPRESS)
            else:
                group.add_argument(flag, dest=f.name, type=_FLAG_TYPES[f.type], metavar=f.name.upper(),
                                   help=help_text)
    parser.set_defaults(**{f.name: None for cls in SECTIONS.values() for f in dataclasses.fields(cls)})


def config_from_args(args: argparse.Namespace):
    overrides = {
        f.name: getattr(args, f.name)
        for cls in SECTIONS.values()
        for f in dataclasses.fields(cls)
        if getattr(args, f.name) is not None
    }
    try:
        return config_from_preset(args.preset, **overrides)
    except ConfigError as error:
        raise blame_config_file(args, error) from None  # a bad value from --config FILE is named with FILE


def build_parser() -> Parser:
    parser = Parser(prog="tinygan", description="Train, measure and watch GANs on low-dimensional data.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    train = commands.add_parser("train", help="train a GAN and write its run folder",
                                description="Train a GAN (default: the seed's experiment) and write its run folder.")
    train.add_argument("--preset", default="seed", choices=sorted(PRESETS), help="named configuration to start from")
    train.add_argument("--config", metavar="FILE", help="read options and settings from a TOML or YAML file; "
                       "flags given here override it")
    train.add_argument("--out", metavar="DIR", help="run folder (default: runs/<date>-<time>-<preset>/)")
    train.add_argument("--anim", metavar="PATH", help="write the training animation here (.gif, or .mp4 via ffmpeg)")
    train.add_argument("--no-plots", action="store_true", help="skip losses.png, distribution.png and training.gif")
    train.add_argument("--lang", default="en", choices=sorted(LABELS), help="language of pictures and summary")
    add_config_flags(train)

    sweep = commands.add_parser(
        "sweep", help="train many seeds of a grid of settings at once: success rates with confidence",
        description="Train many seeds of one configuration, or of every cell of a grid of settings, as one "
        "compiled program per batch of seeds; print each cell's success rate with its 95%% interval and write "
        "sweep.csv, summary.json and pictures. Every seed's result equals `tinygan train --seed S`.")
    sweep.add_argument("--preset", default="seed", choices=sorted(PRESETS), help="named configuration to start from")
    sweep.add_argument("--config", metavar="FILE", help="read options and settings from a TOML or YAML file; "
                       "flags given here override it")
    sweep.add_argument("--seeds", default="0:100", metavar="SEEDS",
                       help="START:STOP (STOP excluded), a list 3,7,11, or both, e.g. 0:500 (default: 0:100)")
    sweep.add_argument("--seed-batch", type=int, metavar="N",
                       help="seeds trained at once (default: as many as fit in about 1 GB, at most 1024)")
    sweep.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                       help="sweep a setting over values (separated by ; when they hold commas); repeat for "
                       "more settings: every combination is a cell")
    sweep.add_argument("--success", metavar="RULE",
                       help="what counts as success, on a final metric: e.g. 'w1<0.05' (default: the main "
                       "distance < 0.1)")
    sweep.add_argument("--out", metavar="DIR", help="sweep folder (default: runs/<date>-<time>-sweep-<preset>/)")
    sweep.add_argument("--resume", action="store_true",
                       help="go on with the stopped sweep in --out: finished batches of seeds are not trained again")
    sweep.add_argument("--backend", default="local", choices=["local", "ray"],
                       help="where batches of seeds train: here, or as Ray tasks (pip install 'tinygan[ray]')")
    sweep.add_argument("--address", metavar="ADDR",
                       help="the Ray cluster to use (default: start a local Ray for this sweep)")
    sweep.add_argument("--workers", type=int, metavar="N", help="worker processes of a local Ray (default: CPUs)")
    sweep.add_argument("--no-plots", action="store_true", help="skip sweep_metric.png and sweep_seeds.png")
    sweep.add_argument("--lang", default="en", choices=sorted(LABELS), help="language of the pictures")
    sweep.add_argument("--json", action="store_true", help="print the cells' summary as JSON instead of a table")
    add_config_flags(sweep)

    bench = commands.add_parser("bench", help="measure training speed against a step-by-step loop",
                                description="Measure the compiled loop against a step-by-step loop, "
                                "and time each phase of `tinygan train`.")
    bench.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    bench.add_argument("--steps", type=int, default=20_000, help="iterations timed for the compiled loop")
    bench.add_argument("--sweep", action="store_true",
                       help="measure sweeps instead: seed-iterations per second and peak memory for 1 to 1024 seeds")
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    from tinygan import runs

    config = config_from_args(args)
    if args.anim and args.no_plots:
        raise UsageError("--anim and --no-plots contradict each other")
    folder = runs.check_run_dir(Path(args.out) if args.out else runs.default_run_dir(config.preset))
    animation = runs.check_animation_path(args.anim, folder) if args.anim else None

    from tinygan.reporting import TrainingProgress, summary
    from tinygan.trainer import train

    runs.start_run(folder, config)
    with TrainingProgress(config.train.num_steps) as progress:
        result = train(config, progress=progress.update, frames=not args.no_plots)
    written = runs.save_run(result, folder, pictures=not args.no_plots, animation=animation, lang=args.lang)
    print(summary(result, folder, written, lang=args.lang))
    return EXIT_INTERRUPTED if result.status == "interrupted" else 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from tinygan import runs, sweeps
    from tinygan.backends import BACKENDS

    if args.seed is not None:
        raise UsageError("a sweep's seeds are set by --seeds, not --seed")
    if args.address and args.backend != "ray":
        raise UsageError("--address names a Ray cluster: add --backend ray")
    if args.workers is not None and (args.backend != "ray" or args.address):
        raise UsageError("--workers sets the size of a local Ray: use it with --backend ray and no --address")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.resume and not args.out:
        raise UsageError("--resume needs --out DIR: the folder of the sweep to go on with")
    plan = sweeps.plan_sweep(config_from_args(args), args.grid, args.seeds, args.success, args.seed_batch)
    folder = Path(args.out) if args.out else runs.default_run_dir(f"sweep-{plan.base.preset}")
    sweeps.check_sweep_dir(folder, plan, args.resume)
    options = {"address": args.address, "workers": args.workers} if args.backend == "ray" else {}
    backend = BACKENDS[args.backend](**options)

    from tinygan.reporting import SweepProgress, sweep_table

    try:
        with SweepProgress() as progress:
            result = sweeps.run_sweep(plan, folder, backend=backend, resume=args.resume, progress=progress.update)
    except KeyboardInterrupt:
        print(f"tinygan: interrupted; finished batches are kept: go on with --resume --out {folder}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    written = [] if args.no_plots else sweeps.sweep_pictures(result, lang=args.lang)
    if args.json:
        print(runs.to_json({"success": plan.success, "cells": result.cells}), end="")
    else:
        print(sweep_table(result))
    done, seconds = result.trained["seed_iterations"], result.trained["seconds"]
    if done:
        print(f"trained {done:,} seed-iterations in {seconds:.1f} s: {done / seconds:,.0f} seed-iterations/s, "
              "compiling and measuring included", file=sys.stderr if args.json else sys.stdout)
    names = ", ".join(path.name for path in [folder / sweeps.CSV_FILE, folder / sweeps.SUMMARY_FILE, *written])
    print(f"files: {folder}/ ({names})", file=sys.stderr if args.json else sys.stdout)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from tinygan import bench

    if args.steps < 1:
        raise UsageError(f"--steps must be >= 1, got {args.steps}")
    if args.sweep:
        bench.sweep_main(as_json=args.json)
    else:
        bench.main(steps=args.steps, as_json=args.json)
    return 0


COMMANDS = {"train": cmd_train, "sweep": cmd_sweep, "bench": cmd_bench}


def main(argv: list[str] | None = None) -> int:
    from tinygan.runs import RunError

    try:
        args = parse_args_with_config(build_parser(), argv)
        return COMMANDS[args.command](args)
    except (UsageError, ConfigError, RunError) as error:
        print(f"tinygan: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tinygan: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
