"""The `tinygan` command: parse, validate, call the library, report.

Every config field is a flag (`num_steps` -> `--num-steps`) whose help is the
field's docstring. Bad input ends in one line on stderr and exit code 2,
before anything is written.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tinygan.cli.configfile import parse_args_with_config
from tinygan.cli.parser import (
    EXIT_DIVERGED,
    EXIT_INTERRUPTED,
    EXIT_SIGNALS,
    EXIT_USAGE,
    MAX_SAMPLES,
    UsageError,
    build_parser,
    config_from_args,
    note_unused,
)
from tinygan.config import SIZED_PRESETS, ConfigError
from tinygan.errors import CheckpointError, ExportError, RunError


def cmd_train(args: argparse.Namespace) -> int:
    from tinygan import runs
    from tinygan.runs.launch import RunOptions

    config = config_from_args(args)
    if args.tensorboard:
        from tinygan.runs.tensorboard import require_tensorboardx

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

    from tinygan.runs.launch import train_run

    if config.preset in SIZED_PRESETS and not (args.quiet or args.json):
        from tinygan.cli.reporting import preset_line

        print(preset_line(config, chosen=getattr(args, "preset_chosen", False)), flush=True)
    return _report(args, config.train.num_steps, args.lang,
                   lambda progress: train_run(config, folder, options, progress=progress))


def cmd_config(args: argparse.Namespace) -> int:
    from tinygan.config.toml import config_toml

    print(config_toml(config_from_args(args)), end="")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from tinygan import runs
    from tinygan.runs.launch import RunOptions, resume_run

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
    total = args.num_steps or _planned_steps(folder)
    return _report(args, total, lang, lambda progress: resume_run(folder, num_steps=args.num_steps, device=args.device,
                                                                            progress=progress))


def _planned_steps(folder: Path) -> int:
    """The iterations a run asks for: its config.json's, else (damaged: `resume_run` rewrites it from the
    checkpoint) its latest checkpoint's."""
    from tinygan import runs
    from tinygan.errors import RunError
    from tinygan.runs import checkpoints

    try:
        return runs.planned_steps(folder)
    except RunError:
        if not checkpoints.checkpoints(folder):
            raise
        return checkpoints.load(checkpoints.latest(folder), with_frames=False)[0].config.train.num_steps


def _resume_checkpoint(args: argparse.Namespace) -> int:
    from tinygan import runs
    from tinygan.runs import checkpoints
    from tinygan.runs.launch import resume_checkpoint

    snapshot, _ = checkpoints.load(args.run, with_frames=False)
    folder = runs.check_run_dir(Path(args.out) if args.out else runs.default_run_dir(snapshot.config.preset))
    total = args.num_steps or snapshot.config.train.num_steps
    return _report(args, total, "en", lambda progress: resume_checkpoint(args.run, folder, num_steps=args.num_steps,
                                                                       device=args.device, progress=progress))


def cmd_sample(args: argparse.Namespace) -> int:
    from tinygan import runs
    from tinygan.runs.launch import finished_result

    if not 1 <= args.n <= MAX_SAMPLES:
        raise UsageError(f"-n must be in [1, {MAX_SAMPLES:,}], got {args.n}")
    if not 0 <= args.seed < 2**32:
        raise UsageError(f"--seed must be in [0, 2**32), got {args.seed}")
    out = runs.check_new_file(args.out, "--out", runs.SAMPLE_FORMATS) if args.out else None
    result, _ = finished_result(runs.check_run(args.run), measured=False)

    import jax

    samples = result.sample(args.n, key=jax.random.key(args.seed), quasi=not args.iid)
    names = runs.column_names(result.game.target)
    if out is None:
        sys.stdout.write(runs.samples_csv(samples, names))
    else:
        runs.write_atomic(out, runs.samples_file(samples, out, names))
        print(f"{args.n:,} samples: {out}", file=sys.stderr)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from tinygan import runs
    from tinygan.runs.launch import RunOptions, finished_result

    folder = runs.check_run(args.run)
    options = RunOptions.of_run(folder)
    lang = args.lang or options.lang
    suffix = "" if lang == options.lang or args.replace else f".{lang}"  # another language goes beside the run's
    if args.anim:  # a new file: checked as draw_pictures names it, with the language's suffix
        animation = Path(args.anim)
        if animation.suffix.lower() not in runs.ANIMATION_FORMATS:
            runs.check_animation_path(animation)  # refused for its extension, before naming it with the suffix
        runs.check_animation_path(animation.with_name(f"{animation.stem}{suffix}{animation.suffix}"))
    else:
        animation = _animation_in(folder, Path(options.animation)) if options.animation else None
    result, _ = finished_result(folder)
    written = runs.draw_pictures(result, folder, animation=animation, lang=lang, suffix=suffix)
    print(f"{folder}/ ({', '.join(p.name if p.parent == folder else str(p) for p in written)})")
    return 0


def _animation_in(folder: Path, animation: Path) -> Path:
    """Where `plot` draws a run's animation again: where the run wrote it when that is in its folder; else (an
    --anim outside it, or a copied run's, or an edited status.json's) in the folder, never over a file elsewhere."""
    if animation.parent.resolve() == folder.resolve():
        return animation
    inside = folder / f"training{animation.suffix.lower()}"
    print(f"tinygan: note: the run's animation, {animation}, is outside {folder}: drawn again as {inside} "
          "(--anim PATH to draw it elsewhere)", file=sys.stderr)
    return inside


def cmd_runs(args: argparse.Namespace) -> int:
    from tinygan import runs
    from tinygan.cli.reporting import runs_table

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: {'is a file, not a folder' if folder.exists() else 'no such folder'}")
    print(runs_table(runs.list_runs(folder)))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from tinygan import runs
    from tinygan.runs.launch import finished_result

    out = runs.check_new_file(args.out, "OUT", (".npz",))
    result, _ = finished_result(runs.check_run(args.run), measured=False)
    result.export(out)
    print(f"generator of {args.run} at step {int(result.state.step):,}: {out} ({out.stat().st_size:,} bytes)")
    return 0


def _report(args: argparse.Namespace, total: int, lang: str, run) -> int:
    """Train through `run(progress)` with the log lines, bar and summary (or JSON lines, or nothing) asked
    for; the exit code says how the run ended."""
    from tinygan.cli.reporting import JsonLines, TrainingProgress, summary

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
    from tinygan import runs
    from tinygan.sweep import grid as sweeps
    from tinygan.sweep.backends import BACKENDS

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
    base = runs.with_absolute_data(config_from_args(args, notes=False))  # Ray's workers start in other folders
    plan = sweeps.plan_sweep(base, args.grid, args.seeds, args.success, args.seed_batch)
    note_unused(args, plan.configs)  # a setting one of the grid's cells uses is used
    folder = Path(args.out) if args.out else runs.default_run_dir(f"sweep-{plan.base.preset}")
    sweeps.check_sweep_dir(folder, plan, args.resume)
    options = {"address": args.address, "workers": args.workers} if args.backend == "ray" else {}
    backend = BACKENDS[args.backend](**options)

    from tinygan.cli.reporting import SweepProgress, sweep_table

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
    from tinygan.cli import bench
    from tinygan.engine.devices import check_device

    if not 1 <= args.steps < 2**31:  # the step counter is a 32-bit integer
        raise UsageError(f"--steps must be in [1, 2**31), got {args.steps}")
    check_device(args.device)
    if args.sweep:
        bench.sweep_main(as_json=args.json, device=args.device)
    else:
        bench.main(steps=args.steps, as_json=args.json, device=args.device)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from tinygan.live.server import serve

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be in [0, 65535], got {args.port}")
    given = [flag for flag, value in (("--preset", args.preset != "seed"), ("--num-steps", args.num_steps),
                                       ("--device", args.device)) if value not in (False, None)]
    if args.run is not None and given:
        raise UsageError(f"{', '.join(given)}: a run folder (--run) brings its own settings")
    chosen = {name: value for name, value in (("num_steps", args.num_steps), ("device", args.device))
              if value is not None}
    from tinygan.engine.resolve import config_from_preset

    serve(args.host, args.port, run=args.run, config=config_from_preset(args.preset, **chosen),
          announce=lambda line: print(line, flush=True))
    return 0


COMMANDS = {"serve": cmd_serve, "train": cmd_train, "config": cmd_config, "resume": cmd_resume, "sample": cmd_sample, "plot": cmd_plot, "runs": cmd_runs,
            "export": cmd_export, "sweep": cmd_sweep, "bench": cmd_bench}


# The modules each command runs on, beyond the command line's own: imported before it starts (`main`).
LOADS = {
    "train": ("tinygan.runs.launch", "tinygan.cli.reporting"), "resume": ("tinygan.runs.launch", "tinygan.cli.reporting"),
    "sample": ("tinygan.runs.launch",), "plot": ("tinygan.runs.launch", "tinygan.pictures.run"),
    "export": ("tinygan.runs.launch",), "runs": ("tinygan.runs", "tinygan.cli.reporting"),
    "sweep": ("tinygan.sweep.grid", "tinygan.sweep.backends", "tinygan.cli.reporting"),
    "bench": ("tinygan.cli.bench",), "serve": ("tinygan.live.server",),
}


def main(argv: list[str] | None = None, *, loaded: Callable[[], None] | None = None) -> int:
    """Run the command in `argv` (default: the process's); the exit code. `loaded()` is called once the command's
    modules are imported (JAX, SciPy, matplotlib: a second or two), just before it starts: the launcher's Ctrl-C
    handler ends the command in one line until then, whatever is being imported (tinygan_launch.py)."""
    _MAIN_STARTED[0] = time.monotonic()
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # a bare `tinygan`: what it can do, rather than an error about a missing command
        build_parser().print_help()
        return 0
    args = None
    try:
        args = parse_args_with_config(build_parser(), argv)
        if getattr(args, "no_compile_cache", True) is False:  # a command that compiles, the cache not refused
            from tinygan.cli import compile_cache

            compile_cache.enable()
        for module in LOADS.get(args.command, ()):
            importlib.import_module(module)
        if loaded is not None:
            loaded()
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
    except Exception as error:  # XLA's out of memory (jax.errors.JaxRuntimeError): sizes this machine cannot hold
        if not _out_of_memory(error) or getattr(args, "debug", False) or "--debug" in argv:
            raise
        print(f"tinygan: error: out of memory ({_one_line(error).partition(': ')[2] or _one_line(error)}): ask for "
              "smaller batches, narrower networks or fewer seeds at once", file=sys.stderr)
        return EXIT_USAGE


def _out_of_memory(error: Exception) -> bool:
    text = str(error)
    return type(error).__name__ in ("JaxRuntimeError", "XlaRuntimeError") and (
        "RESOURCE_EXHAUSTED" in text or "Out of memory" in text)


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
