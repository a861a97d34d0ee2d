"""The `tinygan` command: parse, validate, call the library, report.

Every config field is a flag (`num_steps` -> `--num-steps`) whose help is the
field's docstring. Bad input ends in one line on stderr and exit code 2,
before anything is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import re
import sys
import time
from pathlib import Path

from tinygan import __version__
from tinygan.config import PRESETS, SECTIONS, SIZED_PRESETS, ConfigError, field_docs, replace
from tinygan.configfile import subcommand, blame_config_file, parse_args_with_config
from tinygan.errors import CheckpointError, ExportError, RunError
from tinygan.labels import LABELS

EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130
EXIT_SIGNALS = {2: 130, 15: 143}  # SIGINT, SIGTERM: the shell's 128 + signal number
MAX_SAMPLES = 10_000_000  # `tinygan sample -n` at most: about 200 MB of CSV per column


class UsageError(Exception):
    """Bad input from the command line: reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line instead of usage text plus error, takes no abbreviated
    flags (`--num-step` is not `--num-steps`), and names the nearest command, flag or choice to a mistyped one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs, allow_abbrev=False)

    def error(self, message):
        choice = re.search(r"invalid choice: '(.*?)' \(choose from (.*)\)", message)
        if choice:
            message += _did_you_mean(choice[1], re.findall(r"'(.*?)'", choice[2]))
        raise UsageError(message)

    def parse_args(self, args=None, namespace=None):
        known, extras = self.parse_known_args(args, namespace)
        if extras:
            command = self._subparsers and getattr(known, "command", None)
            flags = (subcommand(self, command) if command else self)._option_string_actions
            guess = next((word for word in extras if word.startswith("--")), "")
            self.error(f"unrecognized arguments: {' '.join(extras)}{_did_you_mean(guess.partition('=')[0], flags)}")
        return known


def _did_you_mean(word: str, names) -> str:
    close = difflib.get_close_matches(word, list(names), n=1, cutoff=0.6) if word else []
    return f"; did you mean {close[0]}?" if close else ""


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


def default_preset(target: str | None) -> str:
    """The preset a command without --preset starts from: `data` to learn a file's table, else the seed's."""
    return "data" if isinstance(target, str) and target.startswith("file:") else "seed"


PRESET_HELP = ("named configuration to start from; a preset changes the defaults below (default: data for a "
               "--target file:PATH, else seed)")


def config_from_args(args: argparse.Namespace):
    if args.preset is None:  # not given on the command line nor in a config file
        args.preset, args.preset_chosen = default_preset(args.target), True
    overrides = {
        f.name: getattr(args, f.name)
        for cls in SECTIONS.values()
        for f in dataclasses.fields(cls)
        if getattr(args, f.name) is not None
    }
    from tinygan.resolve import config_from_preset  # JAX: loaded once a command runs, not for --help

    try:
        config = config_from_preset(args.preset, **overrides)
    except ConfigError as error:
        raise blame_config_file(args, error) from None  # a bad value from --config FILE is named with FILE
    return _log_within_the_run(config, typed=args.log_every is not None, quiet=getattr(args, "quiet", False))


def _log_within_the_run(config, *, typed: bool, quiet: bool):
    """The config with log_every cut to num_steps, said in one line: a run logs its first and last iteration
    anyway, so a longer interval (a preset's, with a short --num-steps) would only hide the history."""
    num_steps, log_every = config.train.num_steps, config.train.log_every
    if log_every <= num_steps:
        return config
    if not quiet:
        interval = f"--log-every {log_every}" if typed else f"the {config.preset} preset's log interval ({log_every:,})"
        print(f"tinygan: note: {interval} is longer than --num-steps {num_steps:,}: logging every "
              f"{num_steps:,} iterations", file=sys.stderr)
    return replace(config, log_every=num_steps)


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error, not one line")


def add_compile_cache_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-compile-cache", action="store_true",
                        help="compile every program afresh, not reading or writing tinygan's cache of compiled "
                        "programs (also: TINYGAN_COMPILE_CACHE=0)")


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    """--quiet, --json, --debug and --no-compile-cache: what a training command prints, and how it compiles."""
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--quiet", action="store_true", help="print nothing but errors")
    shown.add_argument("--json", action="store_true",
                       help="print one JSON object per log line on stdout, and one at the end (for scripts)")
    add_debug_flag(parser)
    add_compile_cache_flag(parser)


def build_parser() -> Parser:
    parser = Parser(prog="tinygan", description="Train, measure and watch GANs on low-dimensional data.",
                    epilog="`tinygan COMMAND --help` describes a command; `tinygan train` runs the blog post's experiment.")
    parser.add_argument("--version", action="version", version=f"tinygan {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    train = commands.add_parser("train", help="train a GAN and write its run folder",
                                description="Train a GAN (default: the seed's experiment) and write its run folder.")
    train.add_argument("--preset", choices=sorted(PRESETS), help=PRESET_HELP)
    train.add_argument("--config", metavar="FILE", help="read options and settings from a TOML or YAML file; "
                       "flags given here override it")
    train.add_argument("--out", metavar="DIR", help="run folder (default: runs/<date>-<time>-<preset>/)")
    train.add_argument("--anim", metavar="PATH", help="write the training animation here (.gif, or .mp4 via ffmpeg)")
    train.add_argument("--no-plots", action="store_true", help="skip losses.png, distribution.png and training.gif")
    train.add_argument("--lang", default="en", choices=sorted(LABELS), help="language of pictures and summary")
    train.add_argument("--checkpoint-every", type=int, default=10_000, metavar="N",
                       help="write a checkpoint every N iterations, at the end of the compiled chunk reaching them "
                       "(0: only at the end and when stopped; default: 10000)")
    train.add_argument("--keep-checkpoints", type=int, default=3, metavar="K", help="keep the last K (default: 3)")
    train.add_argument("--tensorboard", action="store_true",
                       help="also write TensorBoard event files (losses, metrics, pictures) to RUN/tensorboard/")
    add_output_flags(train)
    add_config_flags(train)

    config = commands.add_parser(
        "config", help="print the settings a train command would use, as TOML",
        description="Print the settings `tinygan train` would use with the same preset and flags, as the TOML "
                    "file that `tinygan train --config FILE` reads back (unset values are the preset's rule).")
    config.add_argument("--preset", choices=sorted(PRESETS), help=PRESET_HELP)
    config.add_argument("--config", metavar="FILE", help="start from a TOML or YAML file; flags given here override it")
    add_debug_flag(config)
    add_config_flags(config)

    resume = commands.add_parser(
        "resume", help="go on with a stopped run from its latest checkpoint",
        description="Go on with a run that was stopped (Ctrl-C, SIGTERM) or killed, from its latest checkpoint; "
        "it ends bit for bit as if it had never stopped. --num-steps trains a finished run further.")
    resume.add_argument("run", metavar="RUN", help="the run folder, or a checkpoint file alone (.npz, such as one "
                        "`tinygan serve` downloads): a new run folder goes on from it")
    resume.add_argument("--num-steps", type=int, metavar="N", help="train to N iterations in all")
    resume.add_argument("--out", metavar="DIR", help="with a checkpoint file: the new run folder (default: "
                        "runs/<date>-<time>-<preset>/)")
    add_output_flags(resume)

    sample = commands.add_parser("sample", help="draw samples from a run's trained generator",
                                 description="Draw samples from a run's trained generator (its latest checkpoint; "
                                 "G's average with --generator-ema), as CSV with the data's column names.")
    sample.add_argument("run", metavar="RUN", help="the run folder")
    sample.add_argument("-n", type=int, default=1000, help="how many samples (default: 1000)")
    sample.add_argument("--seed", type=int, default=0, help="random seed of the noise (default: 0)")
    sample.add_argument("--iid", action="store_true",
                        help="independent draws of the noise; by default its levels are quasi-random (a scrambled "
                        "Sobol' sequence), so the samples cover the generator's law more evenly")
    sample.add_argument("--out", metavar="FILE", help="write the CSV here instead of to stdout (a new file)")
    add_debug_flag(sample)
    add_compile_cache_flag(sample)

    plot = commands.add_parser("plot", help="draw a run's pictures again from its folder",
                               description="Draw losses.png, metrics.png, distribution.png and the animation "
                               "again from a run's folder (its latest checkpoint).")
    plot.add_argument("run", metavar="RUN", help="the run folder")
    plot.add_argument("--lang", choices=sorted(LABELS),
                      help="language of the pictures (default: the run's); pictures in another language than the "
                      "run's are written beside its own, as distribution.pt.png")
    plot.add_argument("--replace", action="store_true",
                      help="with --lang: write over the run's own pictures instead")
    add_debug_flag(plot)

    listing = commands.add_parser("runs", help="list the runs in a folder",
                                  description="A table of the runs in a folder: preset, iterations, status, "
                                  "main metric and when each started.")
    listing.add_argument("folder", nargs="?", default="runs", metavar="DIR", help="where to look (default: runs)")
    add_debug_flag(listing)

    export = commands.add_parser("export", help="write a run's generator alone to one small file",
                                 description="Write a run's trained generator to one small self-describing file "
                                 "(.npz, no pickle) that tinygan.load_generator(path) loads with no config.")
    export.add_argument("run", metavar="RUN", help="the run folder")
    export.add_argument("out", metavar="OUT", help="the file to write (a new .npz file)")
    add_debug_flag(export)

    sweep = commands.add_parser(
        "sweep", help="train many seeds of a grid of settings at once: success rates with confidence",
        description="Train many seeds of one configuration, or of every cell of a grid of settings, as one "
        "compiled program per batch of seeds; print each cell's success rate with its 95%% interval and write "
        "sweep.csv, summary.json and pictures. Every seed's result equals `tinygan train --seed S`.")
    sweep.add_argument("--preset", choices=sorted(PRESETS), help=PRESET_HELP)
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
    add_debug_flag(sweep)
    add_compile_cache_flag(sweep)
    add_config_flags(sweep)

    serve = commands.add_parser(
        "serve", help="watch and steer training live in the browser",
        description="Serve the live view: training as it happens in the browser (densities or heat map, losses, "
        "metrics), with controls for the data, objective, stabilizers, learning rates and speed. Ctrl-C stops it.")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000; 0: any free port)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, this machine only; another address warns)")
    serve.add_argument("--preset", default="seed", choices=sorted(PRESETS), help="what the session starts with")
    serve.add_argument("--num-steps", type=int, metavar="N",
                       help="iterations the session plays before it pauses (default: the preset's; play goes on)")
    serve.add_argument("--run", metavar="RUN", help="continue this run folder (saved back into it on Ctrl-C)")
    add_debug_flag(serve)
    add_compile_cache_flag(serve)

    bench = commands.add_parser("bench", help="measure training speed against a step-by-step loop",
                                description="Measure the compiled loop against a step-by-step loop, "
                                "and time each phase of `tinygan train`.")
    bench.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    bench.add_argument("--steps", type=int, default=20_000, help="iterations timed for the compiled loop")
    bench.add_argument("--sweep", action="store_true",
                       help="measure sweeps instead: seed-iterations per second and peak memory for 1 to 1024 seeds")
    add_debug_flag(bench)
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    from tinygan import runs
    from tinygan.runner import RunOptions

    config = config_from_args(args)
    if args.tensorboard:
        from tinygan.tensorboard import require_tensorboardx

        require_tensorboardx()  # before anything is written: one line and exit 2 without tensorboardX
    if args.anim and args.no_plots:
        raise UsageError("--anim and --no-plots contradict each other")
    folder = runs.check_run_dir(Path(args.out) if args.out else runs.default_run_dir(config.preset))
    if args.anim:
        runs.check_animation_path(args.anim, folder)
    animation = str(Path(args.anim).absolute()) if args.anim else None  # resume and plot may run elsewhere
    options = RunOptions(pictures=not args.no_plots, animation=animation, lang=args.lang,
                         checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep_checkpoints,
                         tensorboard=args.tensorboard)

    from tinygan.runner import train_run

    if config.preset in SIZED_PRESETS and not (args.quiet or args.json):
        from tinygan.reporting import preset_line

        print(preset_line(config, chosen=getattr(args, "preset_chosen", False)), flush=True)
    return _report(args, config.train.num_steps, args.lang,
                   lambda progress: train_run(config, folder, options, progress=progress))


def cmd_config(args: argparse.Namespace) -> int:
    from tinygan.configfile import config_toml

    print(config_toml(config_from_args(args)), end="")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from tinygan import runs
    from tinygan.runner import RunOptions, resume_run

    if args.num_steps is not None and args.num_steps < 1:
        raise UsageError(f"--num-steps must be >= 1, got {args.num_steps}")
    if Path(args.run).is_file():  # a checkpoint file alone: a new run folder goes on from it
        if Path(args.run).suffix.lower() != ".npz":
            raise UsageError(f"{args.run}: is a file, neither a run folder nor a checkpoint (.npz)")
        return _resume_checkpoint(args)
    if args.out is not None:
        raise UsageError("--out: a run folder resumes in place; --out is for a checkpoint file")
    folder = runs.check_run(args.run)
    lang = RunOptions.of_run(folder).lang
    total = args.num_steps or runs.planned_steps(folder)
    return _report(args, total, lang, lambda progress: resume_run(folder, num_steps=args.num_steps, progress=progress))


def _resume_checkpoint(args: argparse.Namespace) -> int:
    from tinygan import checkpoints, runs
    from tinygan.runner import resume_checkpoint

    snapshot, _ = checkpoints.load(args.run, with_frames=False)
    folder = runs.check_run_dir(Path(args.out) if args.out else runs.default_run_dir(snapshot.config.preset))
    total = args.num_steps or snapshot.config.train.num_steps
    return _report(args, total, "en", lambda progress: resume_checkpoint(args.run, folder, num_steps=args.num_steps,
                                                                       progress=progress))


def cmd_sample(args: argparse.Namespace) -> int:
    from tinygan import runs
    from tinygan.runner import finished_result

    if not 1 <= args.n <= MAX_SAMPLES:
        raise UsageError(f"-n must be in [1, {MAX_SAMPLES:,}], got {args.n}")
    if not 0 <= args.seed < 2**32:
        raise UsageError(f"--seed must be in [0, 2**32), got {args.seed}")
    out = runs.check_new_file(args.out, "--out") if args.out else None
    result, _ = finished_result(runs.check_run(args.run), measured=False)

    import jax

    samples = result.sample(args.n, key=jax.random.key(args.seed), quasi=not args.iid)
    text = runs.samples_csv(samples, runs.column_names(result.game.target))
    if out is None:
        sys.stdout.write(text)
    else:
        runs.write_atomic(out, text)
        print(f"{args.n:,} samples: {out}", file=sys.stderr)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from tinygan import runs
    from tinygan.runner import RunOptions, finished_result

    folder = runs.check_run(args.run)
    options = RunOptions.of_run(folder)
    result, _ = finished_result(folder)
    animation = Path(options.animation) if options.animation else None
    lang = args.lang or options.lang
    suffix = "" if lang == options.lang or args.replace else f".{lang}"  # another language goes beside the run's
    written = runs.draw_pictures(result, folder, animation=animation, lang=lang, suffix=suffix)
    print(f"{folder}/ ({', '.join(p.name if p.parent == folder else str(p) for p in written)})")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from tinygan import runs
    from tinygan.reporting import runs_table

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: {'is a file, not a folder' if folder.exists() else 'no such folder'}")
    print(runs_table(runs.list_runs(folder)))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from tinygan import runs
    from tinygan.runner import finished_result

    out = runs.check_new_file(args.out, "OUT")
    result, _ = finished_result(runs.check_run(args.run), measured=False)
    result.export(out)
    print(f"generator of {args.run} at step {int(result.state.step):,}: {out} ({out.stat().st_size:,} bytes)")
    return 0


def _report(args: argparse.Namespace, total: int, lang: str, run) -> int:
    """Train through `run(progress)` with the log lines, bar and summary (or JSON lines, or nothing) asked
    for; the exit code says how the run ended."""
    from tinygan.reporting import JsonLines, TrainingProgress, summary

    if args.quiet:
        result, written = run(None)
    elif args.json:
        result, written = run(JsonLines().update)
        JsonLines.end(result, written)
    else:
        with TrainingProgress(total) as progress:
            result, written = run(progress.update)
        print(summary(result, written[0].parent, written, lang=lang, elapsed=time.monotonic() - _started()))
    if result.status == "diverged":
        print(f"tinygan: the run diverged: {result.metrics['divergence']}; its last finite state is kept",
              file=sys.stderr)
        return EXIT_DIVERGED
    if result.status == "interrupted":
        print(f"tinygan: stopped; go on with: tinygan resume {written[0].parent}", file=sys.stderr)
        return EXIT_SIGNALS.get(result.stop_signal, EXIT_INTERRUPTED)
    return 0


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


def cmd_serve(args: argparse.Namespace) -> int:
    from tinygan.live.server import serve

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be in [0, 65535], got {args.port}")
    if args.run is not None and (args.preset != "seed" or args.num_steps is not None):
        raise UsageError("--preset, --num-steps: a run folder (--run) brings its own settings")
    steps = {} if args.num_steps is None else {"num_steps": args.num_steps}
    from tinygan.resolve import config_from_preset

    serve(args.host, args.port, run=args.run, config=config_from_preset(args.preset, **steps),
          announce=lambda line: print(line, flush=True))
    return 0


COMMANDS = {"serve": cmd_serve, "train": cmd_train, "config": cmd_config, "resume": cmd_resume, "sample": cmd_sample, "plot": cmd_plot, "runs": cmd_runs,
            "export": cmd_export, "sweep": cmd_sweep, "bench": cmd_bench}


def main(argv: list[str] | None = None) -> int:
    _MAIN_STARTED[0] = time.monotonic()
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # a bare `tinygan`: what it can do, rather than an error about a missing command
        build_parser().print_help()
        return 0
    args = None
    try:
        args = parse_args_with_config(build_parser(), argv)
        if getattr(args, "no_compile_cache", True) is False:  # a command that compiles, the cache not refused
            from tinygan import compile_cache

            compile_cache.enable()
        return COMMANDS[args.command](args)
    except (UsageError, ConfigError, RunError, CheckpointError, ExportError, OSError) as error:
        if getattr(args, "debug", False) or "--debug" in argv:  # the flag, or `debug = true` in a config file
            raise
        message = _one_line(error)
        print(f"tinygan: error: {_flag_first(message, argv) if isinstance(error, ConfigError) else message}",
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tinygan: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _flag_first(message: str, argv: list[str]) -> str:
    """A setting's error as the user typed it: `--num-steps: train.num_steps: must be >= 1, got -5` when the
    message is about a setting whose flag is on the command line (the config path follows it)."""
    setting = re.match(r"(\w+)\.(\w+): ", message)
    if setting is None:
        return message
    flag = "--" + setting[2].replace("_", "-")
    typed = next((word.partition("=")[0] for word in argv if word.partition("=")[0] in (flag, "--no-" + flag[2:])), None)
    return f"{typed}: {message}" if typed else message


def _started() -> float:
    """When the command started (time.monotonic()): when the launcher began, before the heavy imports; else when
    `main` was called (from Python)."""
    launcher = sys.modules.get("tinygan_launch")
    return getattr(launcher, "STARTED", _MAIN_STARTED[0])


_MAIN_STARTED = [time.monotonic()]


def _one_line(error: Exception) -> str:
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror}"
    return " ".join(str(error).split())


if __name__ == "__main__":
    sys.exit(main())
