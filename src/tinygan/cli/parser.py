"""The command line's parser: commands, flags from the config's fields, choices, and "did you mean"."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import re
import sys

from tinygan import __version__
from tinygan.cli.configfile import blame_config_file, subcommand
from tinygan.config import PRESETS, SECTIONS, ConfigError, field_docs, replace
from tinygan.config.names import DEVICES
from tinygan.config.unused import unused_settings
from tinygan.pictures.labels import LABELS

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


def path_text(text: str) -> str:
    """A path argument: an empty one would mean the current folder (`--out ''` would train into it)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty text")
    return text


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


def config_from_args(args: argparse.Namespace, *, notes: bool = True):
    """The config the command line and its config file ask for; `notes`: say which given settings it leaves
    unused (a sweep says it of its grid's cells instead: `note_unused`)."""
    if args.preset is None:  # not given on the command line nor in a config file
        args.preset, args.preset_chosen = default_preset(args.target), True
    overrides = given_settings(args)
    from tinygan.engine.resolve import config_from_preset  # JAX: loaded once a command runs, not for --help

    try:
        config = config_from_preset(args.preset, **overrides)
    except ConfigError as error:
        raise blame_config_file(args, error) from None  # a bad value from --config FILE is named with FILE
    if notes:
        note_unused(args, [config])
    if not getattr(args, "quiet", False):
        _note_words_left_out(config)
    return _log_within_the_run(config, typed=args.log_every is not None, quiet=getattr(args, "quiet", False))


def given_settings(args: argparse.Namespace) -> dict:
    """The settings given on the command line or in its config file, by field name."""
    return {f.name: getattr(args, f.name) for cls in SECTIONS.values() for f in dataclasses.fields(cls)
            if getattr(args, f.name) is not None}


def note_unused(args: argparse.Namespace, configs) -> None:
    """A note for each given setting that none of `configs` uses (unless --quiet)."""
    if getattr(args, "quiet", False):
        return
    given = given_settings(args)
    everywhere = set.intersection(*(set(unused_settings(config, given)) for config in configs))
    for line in unused_settings(configs[0], given):  # in the order of the settings
        if line in everywhere:
            print(f"tinygan: note: {line}", file=sys.stderr)


def _note_words_left_out(config) -> None:
    """A file target's columns of words (a label, a species) and row index are not learned: said, with how to
    pick columns."""
    from tinygan.data.targets import make_target  # loaded (and the file read) by config_from_preset already

    left_out = getattr(make_target(config.data), "left_out", ())
    if left_out:
        path = config.data.target.partition(":")[2]
        print(f"tinygan: note: {path}: left out {', '.join(left_out)}; --columns picks the columns to learn",
              file=sys.stderr)


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


def add_device_flag(parser: argparse.ArgumentParser, default: str | None = "auto", note: str = "") -> None:
    parser.add_argument("--device", choices=DEVICES, default=default,
                        help="where the programs run: auto (a GPU for big networks and sweeps of many seeds when "
                        f"there is one, else the CPU), cpu or gpu{note or ' (default: auto)'}")


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
    train.add_argument("--config", metavar="FILE", type=path_text,
                       help="read options and settings from a TOML or YAML file; "
                       "flags given here override it")
    train.add_argument("--out", metavar="DIR", type=path_text,
                       help="run folder (default: runs/<date>-<time>-<preset>/)")
    train.add_argument("--anim", metavar="PATH", type=path_text,
                       help="write the training animation here (.gif, or .mp4 via ffmpeg)")
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
    config.add_argument("--config", metavar="FILE", type=path_text,
                        help="start from a TOML or YAML file; flags given here override it")
    add_debug_flag(config)
    add_config_flags(config)

    resume = commands.add_parser(
        "resume", help="go on with a stopped run from its latest checkpoint",
        description="Go on with a run that was stopped (Ctrl-C, SIGTERM) or killed, from its latest checkpoint; "
        "it ends bit for bit as if it had never stopped. --num-steps trains a finished run further.")
    resume.add_argument("run", metavar="RUN", type=path_text,
                        help="the run folder, or a checkpoint file alone (.npz, such as one "
                        "`tinygan serve` downloads): a new run folder goes on from it")
    resume.add_argument("--num-steps", type=int, metavar="N", help="train to N iterations in all")
    add_device_flag(resume, default=None, note="; default: the run's own setting")
    resume.add_argument("--out", metavar="DIR", type=path_text,
                        help="with a checkpoint file: the new run folder (default: "
                        "runs/<date>-<time>-<preset>/)")
    add_output_flags(resume)

    sample = commands.add_parser("sample", help="draw samples from a run's trained generator",
                                 description="Draw samples from a run's trained generator (its latest checkpoint; "
                                 "G's average with --generator-ema), as CSV with the data's column names.")
    sample.add_argument("run", metavar="RUN", type=path_text, help="the run folder")
    sample.add_argument("-n", type=int, default=1000, help="how many samples (default: 1000)")
    sample.add_argument("--seed", type=int, default=0, help="random seed of the noise (default: 0)")
    sample.add_argument("--iid", action="store_true",
                        help="independent draws of the noise; by default its levels are quasi-random (a scrambled "
                        "Sobol' sequence), so the samples cover the generator's law more evenly")
    sample.add_argument("--out", metavar="FILE", type=path_text,
                        help="write the samples here instead of to stdout: a new .csv file, or .npy for a NumPy "
                        "array of float32")
    add_debug_flag(sample)
    add_compile_cache_flag(sample)

    plot = commands.add_parser("plot", help="draw a run's pictures again from its folder",
                               description="Draw losses.png, metrics.png, distribution.png and the animation "
                               "again from a run's folder (its latest checkpoint).")
    plot.add_argument("run", metavar="RUN", type=path_text, help="the run folder")
    plot.add_argument("--lang", choices=sorted(LABELS),
                      help="language of the pictures (default: the run's); pictures in another language than the "
                      "run's are written beside its own, as distribution.pt.png")
    plot.add_argument("--replace", action="store_true",
                      help="with --lang: write over the run's own pictures instead")
    plot.add_argument("--anim", metavar="PATH", type=path_text,
                      help="draw the animation to this new file instead (.gif, or .mp4 via ffmpeg); by default it "
                      "is drawn where the run wrote it, when that is in the run folder, else as RUN/training.gif")
    add_debug_flag(plot)

    listing = commands.add_parser("runs", help="list the runs in a folder",
                                  description="A table of the runs in a folder: preset, iterations, status, "
                                  "main metric and when each started.")
    listing.add_argument("folder", nargs="?", default="runs", metavar="DIR", type=path_text,
                         help="where to look (default: runs)")
    add_debug_flag(listing)

    export = commands.add_parser("export", help="write a run's generator alone to one small file",
                                 description="Write a run's trained generator to one small self-describing file "
                                 "(.npz, no pickle) that tinygan.load_generator(path) loads with no config.")
    export.add_argument("run", metavar="RUN", type=path_text, help="the run folder")
    export.add_argument("out", metavar="OUT", type=path_text, help="the file to write (a new .npz file)")
    add_debug_flag(export)

    sweep = commands.add_parser(
        "sweep", help="train many seeds of a grid of settings at once: success rates with confidence",
        description="Train many seeds of one configuration, or of every cell of a grid of settings, as one "
        "compiled program per batch of seeds; print each cell's success rate with its 95%% interval and write "
        "sweep.csv, summary.json and pictures. Every seed's result equals `tinygan train --seed S`.")
    sweep.add_argument("--preset", choices=sorted(PRESETS), help=PRESET_HELP)
    sweep.add_argument("--config", metavar="FILE", type=path_text,
                       help="read options and settings from a TOML or YAML file; "
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
    sweep.add_argument("--out", metavar="DIR", type=path_text,
                       help="sweep folder (default: runs/<date>-<time>-sweep-<preset>/)")
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
    serve.add_argument("--run", metavar="RUN", type=path_text,
                       help="continue this run folder (saved back into it on Ctrl-C)")
    add_device_flag(serve, default=None, note=" (default: auto, or the run's own setting)")
    add_debug_flag(serve)
    add_compile_cache_flag(serve)

    bench = commands.add_parser("bench", help="measure training speed against a step-by-step loop",
                                description="Measure the compiled loop against a step-by-step loop, "
                                "and time each phase of `tinygan train`.")
    bench.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    bench.add_argument("--steps", type=int, default=20_000, help="iterations timed for the compiled loop")
    bench.add_argument("--sweep", action="store_true",
                       help="measure sweeps instead: seed-iterations per second and peak memory for 1 to 1024 seeds "
                       "(to 131,072 on a GPU)")
    add_device_flag(bench)
    add_debug_flag(bench)
    return parser
