"""A run in its folder from start to end: checkpoints, status.json, the lock, TensorBoard, and resuming.

`train_run` starts a run and `resume_run` goes on with a stopped one; `tinygan train` and `tinygan resume`
call them. A run resumed from any checkpoint ends bit for bit as if it had never stopped: the checkpoint
holds everything training reads (see `runs/checkpoints.py`). While a process trains a run it holds the run's
lock, so a second process cannot write the same folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinygan import pictures, runs
from tinygan.runs import checkpoints
from tinygan.config import Config, ConfigError, replace
from tinygan.engine.devices import check_device
from tinygan.runs.folder import RunError
from tinygan.training.loop import Frame, Snapshot, TrainResult, measure, train

TENSORBOARD_FOLDER = "tensorboard"


@dataclass(frozen=True)
class RunOptions:
    """How a run is kept and shown, not what it learns: kept in status.json, so `resume` keeps them too."""

    pictures: bool = True  # losses.png, metrics.png, distribution.png and the animation
    animation: str | None = None  # the animation's path, when not RUN/training.gif
    lang: str = "en"
    checkpoint_every: int = 10_000  # iterations between checkpoints (at the end of the chunk reaching them); 0: none
    keep_checkpoints: int = 3  # the last K checkpoints are kept
    tensorboard: bool = False  # TensorBoard event files in RUN/tensorboard/

    def __post_init__(self):
        from tinygan.pictures.labels import LABELS
        from tinygan.pictures import ANIMATION_FORMATS

        if not isinstance(self.pictures, bool) or not isinstance(self.tensorboard, bool):
            raise ConfigError(f"pictures and tensorboard must be true or false, got {self.pictures!r} and "
                              f"{self.tensorboard!r}")
        if not isinstance(self.lang, str) or self.lang not in LABELS:
            raise ConfigError(f"--lang must be one of {', '.join(LABELS)}, got {self.lang!r}")
        if self.animation is not None and (not isinstance(self.animation, str) or
                                           Path(self.animation).suffix.lower() not in ANIMATION_FORMATS):
            raise ConfigError(f"--anim must be a .gif or .mp4 path, got {self.animation!r}")
        if not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 0:
            raise ConfigError(f"--checkpoint-every must be >= 0, got {self.checkpoint_every!r}")
        if not isinstance(self.keep_checkpoints, int) or self.keep_checkpoints < 1:
            raise ConfigError(f"--keep-checkpoints must be >= 1, got {self.keep_checkpoints!r}")

    @classmethod
    def of_run(cls, folder: Path, status: dict | None = None) -> RunOptions:
        """A run's options, as its status.json (or `status`, read from it) keeps them; the defaults without
        one. Names this tinygan does not know are left out; a bad value is a RunError naming the file."""
        if status is None:
            status = runs.read_json(folder / runs.STATUS_FILE) if (folder / runs.STATUS_FILE).exists() else {}
        values = status.get("options", {})
        try:
            if not isinstance(values, dict):
                raise ConfigError(f"options must be a JSON object, got {values!r:.80}")
            known = {f.name for f in dataclasses.fields(cls)}
            return cls(**{name: value for name, value in values.items() if name in known})
        except ConfigError as error:
            raise RunError(f"{folder / runs.STATUS_FILE}: {error}") from None


def train_run(config: Config, folder: str | Path, options: RunOptions = RunOptions(), *,
              progress: Callable[[int, list[dict]], None] | None = None) -> tuple[TrainResult, list[Path]]:
    """Train `config` into a new run folder (checked by `runs.check_run_dir` first); returns the result and
    the files written. A data file's path is made absolute (`runs.with_absolute_data`)."""
    config = runs.with_absolute_data(config)
    folder = runs.start_run(folder, config)
    with runs.run_lock(folder):
        return _run(config, folder, options, progress, None, [], runs.now())


def resume_run(folder: str | Path, *, num_steps: int | None = None, device: str | None = None,
               progress: Callable[[int, list[dict]], None] | None = None) -> tuple[TrainResult, list[Path]]:
    """Go on with the run in `folder` from its latest checkpoint, to its own num_steps or to `num_steps`, on its
    own `train.device` or on `device` (which its config.json then records).

    A run that a signal stopped, or that was killed at any moment, goes on; so does a finished one given more
    iterations. A run that diverged, or that its stopping rule ended, is refused (RunError), as is a
    damaged checkpoint (CheckpointError) or a run another process is training: nothing changes then.
    """
    folder = runs.check_run(folder)
    if device is not None:
        check_device(device)  # a GPU asked for where there is none: refused before anything changes
    with runs.run_lock(folder):
        status = runs.read_json(folder / runs.STATUS_FILE) if (folder / runs.STATUS_FILE).exists() else {}
        options = RunOptions.of_run(folder, status)
        if options.tensorboard:
            from tinygan.runs.tensorboard import require_tensorboardx

            require_tensorboardx()  # before anything is written: one line and exit 2 without tensorboardX
        started = status.get("started", runs.now())
        if not checkpoints.checkpoints(folder):  # killed before its first checkpoint: start again, as it was
            config = _config_to_start_over(folder, num_steps, device)
            _forget_after(folder, [])
            return _run(config, folder, options, progress, None, [], started)
        latest = checkpoints.latest(folder)
        snapshot, segments = checkpoints.load(latest)
        named = status.get("checkpoint")
        if named and not (isinstance(named, str) and (folder / named).is_file()):
            _note(f"{folder / str(named)}, the newest checkpoint status.json names, is missing; going on from "
                  f"{latest.name} (step {snapshot.step:,})")
        config = snapshot.config
        if num_steps is not None:
            if num_steps < snapshot.step:
                raise RunError(f"--num-steps {num_steps}: the run is already at step {snapshot.step}")
            config = replace(config, num_steps=num_steps)
        if device is not None:
            config = replace(config, device=device)
        extended = config.train.num_steps > snapshot.step
        refuse_ended(folder, snapshot, status)
        if not extended and (folder / "metrics.json").is_file() and snapshot.status == "finished":
            raise RunError(f"{folder}: finished at step {snapshot.step:,}; give --num-steps N to train it further")
        saved, kept = _saved_config(folder), snapshot.config  # saved's num_steps may be ahead: a longer resume
        if saved is None or replace(saved, num_steps=kept.train.num_steps) != kept:  # killed before its checkpoint
            _note(f"{folder / 'config.json'} is damaged or does not match the checkpoint; rewritten from the checkpoint")
            runs.write_atomic(folder / "config.json", runs.to_json(kept.to_dict()))
        _forget_after(folder, segments)
        if config != snapshot.config:
            runs.write_atomic(folder / "config.json", runs.to_json(config.to_dict()))
        if not extended:  # finished, but killed before its files were written: measure and write them
            snapshot = dataclasses.replace(snapshot, status="running")
        return _run(config, folder, options, progress, snapshot, segments, started)


def _saved_config(folder: Path) -> Config | None:
    """The run's config.json as a config; None when it is missing or damaged."""
    try:
        return Config.from_dict(runs.read_json(folder / "config.json"))
    except (OSError, ValueError, TypeError, KeyError, ConfigError, RunError):
        return None


def _note(message: str) -> None:
    """One line on stderr about something resume did that its user should know."""
    print(f"tinygan: note: {message}", file=sys.stderr)


def refuse_ended(folder: Path, snapshot: Snapshot, status: dict) -> None:
    """RunError for a run that cannot go on: it diverged, or its stopping rule ended it."""
    if snapshot.status == "diverged":
        why = status.get("reason", f"after step {snapshot.step:,}")
        raise RunError(f"{folder}: diverged ({why}); resuming would diverge again (train it again with "
                       "--nan-policy skip, or a smaller learning rate)")
    if snapshot.status == "stopped":
        raise RunError(f"{folder}: its stopping rule ended it at step {snapshot.step:,}; nothing to resume")


def resume_checkpoint(path: str | Path, folder: str | Path, *, num_steps: int | None = None,
                      device: str | None = None, progress: Callable[[int, list[dict]], None] | None = None) -> tuple[TrainResult, list[Path]]:
    """Make a new run folder from a checkpoint file alone (one `tinygan serve` downloads) and go on with it.

    The checkpoint is checked first, and nothing is written when it cannot be resumed. The new run's
    animation starts at the checkpoint's step. A checkpoint of a run folder lists frames kept in that folder:
    resume the folder itself.
    """
    path = Path(path)
    if device is not None:
        check_device(device)  # before anything is written
    snapshot, segments = checkpoints.load(path, with_frames=False)
    if segments:
        raise checkpoints.CheckpointError(f"{path}: a checkpoint of a run folder (its frames are files there): "
                                          "resume that folder instead")
    refuse_ended(path, snapshot, {})
    data = path.read_bytes()
    folder = runs.start_run(runs.check_run_dir(folder), snapshot.config)
    name = f"{checkpoints.FOLDER}/{checkpoints.checkpoint_name(snapshot.step)}"
    (folder / checkpoints.FOLDER).mkdir()
    runs.write_atomic(folder / name, data)
    runs.write_status(folder, "stopped", step=snapshot.step, num_steps=snapshot.config.train.num_steps,
                      started=runs.now(), options=dataclasses.asdict(RunOptions()), checkpoint=name)
    return resume_run(folder, num_steps=num_steps, device=device, progress=progress)


def _config_to_start_over(folder: Path, num_steps: int | None, device: str | None) -> Config:
    """The config of a run killed before its first checkpoint, from its config.json."""
    if (folder / "metrics.json").exists():  # it ended, so it had checkpoints: they were removed
        raise checkpoints.CheckpointError(f"{folder}: no checkpoint in {folder / checkpoints.FOLDER}")
    try:
        config = Config.from_dict(runs.read_json(folder / "config.json"))
    except ConfigError as error:
        raise RunError(f"{folder / 'config.json'}: {error}") from None
    changed = {name: value for name, value in (("num_steps", num_steps), ("device", device)) if value is not None}
    if changed:
        config = replace(config, **changed)
        runs.write_atomic(folder / "config.json", runs.to_json(config.to_dict()))
    return config


def _forget_after(folder: Path, segments: list[dict]) -> None:
    """Remove what a killed process left past the checkpoint resumed from: frames of no checkpoint, and
    unfinished temporary files (`runs.write_atomic`'s)."""
    kept = {segment["file"] for segment in segments}
    for path in (folder / checkpoints.FRAMES_FOLDER).glob("*.npz"):
        if f"{checkpoints.FRAMES_FOLDER}/{path.name}" not in kept:
            path.unlink()
    for temporary in [*folder.glob(".*.partial"), *folder.glob("*/.*.partial")]:
        temporary.unlink()


def _run(config: Config, folder: Path, options: RunOptions, progress, resume: Snapshot | None,
         segments: list[dict], started: str) -> tuple[TrainResult, list[Path]]:
    """Train in `folder` (whose lock the caller holds), writing checkpoints, status.json and the run's files."""
    with contextlib.ExitStack() as stack:
        checkpointer = checkpoints.Checkpointer(folder, options.keep_checkpoints, segments)
        status = {"step": resume.step if resume else 0, "num_steps": config.train.num_steps, "started": started,
                  "options": dataclasses.asdict(options)}

        def checkpoint(snapshot: Snapshot) -> None:
            path = checkpointer(snapshot)
            status.update(step=snapshot.step, checkpoint=str(path.relative_to(folder)))
            runs.write_status(folder, "running", **status)

        runs.write_status(folder, "running", **status)
        on_frame = None
        if options.tensorboard:
            from tinygan.runs.tensorboard import TensorBoardLog

            board = stack.enter_context(TensorBoardLog(folder / TENSORBOARD_FOLDER))
            progress = _both(progress, lambda done, rows: board.rows(rows))
            on_frame = _picture_logger(config, board, options.lang)
        if options.pictures:
            pictures.preload()  # matplotlib loads while the programs compile and train
        try:
            result = train(config, progress=progress, frames=options.pictures or options.tensorboard, resume=resume,
                           checkpoint=checkpoint, checkpoint_every=options.checkpoint_every, on_frame=on_frame)
            reasons = [result.metrics[key] for key in ("stop_reason", "divergence") if key in result.metrics]
            runs.write_status(folder, runs.run_status(result.status), **status,
                              **({"reason": reasons[0]} if reasons else {}))
            written = runs.save_run(result, folder, pictures=options.pictures, lang=options.lang,
                                    animation=Path(options.animation) if options.animation else None)
        except Exception as error:  # out of memory, a full disk: the folder says so, and resume goes on from it
            runs.write_status(folder, "failed", **status, reason=_first_line(error))
            raise
    return result, written


def _first_line(error: Exception, limit: int = 300) -> str:
    """An error in one short line, for status.json (XLA's out-of-memory text runs to many lines)."""
    line = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
    return line if len(line) <= limit else line[:limit - 3] + "..."


def _both(first, second):
    """One progress callback calling two (the first may be None)."""
    if first is None:
        return second

    def both(*args):
        first(*args)
        second(*args)

    return both


def _picture_logger(config: Config, board, lang: str) -> Callable[[Frame], None]:
    """Each frame kept, as the run's distribution picture, into TensorBoard."""
    from tinygan.engine import make_game

    game = make_game(config)
    real = runs.real_samples(game, config.train.seed)

    def log(frame: Frame) -> None:
        board.picture(frame.step, runs.png_bytes(runs.distribution_figure(game, config, frame, real, lang=lang)))

    return log


def finished_result(folder: str | Path, *, measured: bool = True) -> tuple[TrainResult, Snapshot]:
    """A run as its latest checkpoint holds it: the measured state (keep-best's pick, else the last), history
    and frames; with `measured`, the final frame and metrics too, measured again (the same numbers as the
    run's, timings aside). For `tinygan plot`, `sample` and `export`."""
    from tinygan.engine import make_game
    from tinygan.measure.scoring import make_scorer, picture_view

    snapshot, _ = checkpoints.load(checkpoints.latest(runs.check_run(folder)), with_frames=measured)
    config, state = snapshot.config, snapshot.measured_state
    history = {name: np.asarray(values) for name, values in snapshot.history.items()}
    result = TrainResult(config, state, history, list(snapshot.frames), {"status": snapshot.status},
                         snapshot.status, snapshot.pretrain_losses)
    if measured:
        game = make_game(config)
        view = picture_view(game.target, config.data.noise_range)
        final_frame, metrics = measure(game, config, state, snapshot.keys[1], view, make_scorer(game.target, view))
        result.frames.append(final_frame)
        result.metrics.update(metrics)
    return result, snapshot
