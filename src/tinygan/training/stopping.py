"""How a run ends early: a signal (the first asks for a stop between chunks, the second stops at once), and the
stopping rule and keep-best, fed the history's rows."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
from collections.abc import Callable

from tinygan import engine
from tinygan.config import Config, parse_stop_rule
from tinygan.engine.resolve import resolved
from tinygan.measure.scoring import HIGHER_IS_BETTER


class StopSignal:
    """The first SIGINT or SIGTERM asks training to stop after the running chunk; a second one stops it at once.

    Python runs a signal's handler only between bytecodes of the main thread, which waits seconds inside XLA
    while a program compiles. So the signals are also written, as they arrive, to a pipe (the interpreter's
    wakeup fd) that a thread watches: it ends the process at the second one whatever the main thread is doing.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.received: int | None = None  # the signal's number, once one came

    def is_set(self) -> bool:
        return self.received is not None

    def handle(self, signum, frame):
        self.received = self.received or signum

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
            yield self
            return
        previous = {number: signal.signal(number, self.handle) for number in self.SIGNALS}
        read, write = os.pipe()
        os.set_blocking(write, False)
        previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        threading.Thread(target=_stop_at_the_second, args=(read, self.SIGNALS), daemon=True).start()
        try:
            yield self
        finally:
            signal.set_wakeup_fd(previous_fd)
            os.close(write)  # the watcher reads the end of the pipe, and stops
            for number, handler in previous.items():
                signal.signal(number, handler)


def _stop_at_the_second(read: int, numbers: tuple[int, ...]) -> None:
    """Count the signals written to `read`; at the second, end the process with the shell's code for it."""
    seen = 0
    while chunk := os.read(read, 64):
        for number in chunk:
            seen += number in numbers
            if seen == 2:
                os.write(2, b"tinygan: stopped at once; tinygan resume goes on from the last checkpoint\n")
                os._exit(128 + number)
    os.close(read)


def _loss(metric: str, value: float) -> float:
    """A value of `metric`, signed so that lower is better (modes captured and high quality count down)."""
    return -value if metric in HIGHER_IS_BETTER else value


class _Watch:
    """The stopping rule and keep-best, fed the history rows in order; Python between chunks, no compiled part.

    `see(row, start_state)` returns True when the run must end at this row; `start_state()` gives the state
    the row describes (the state its log interval starts from), fetched only when needed.
    A plateau is `plateau_window` rows in a row, after the best so far, none below it by more than
    `plateau_tolerance`. NaN never meets a threshold, never improves and is never the best.
    """

    def __init__(self, config: Config):
        train = config.train
        self.rule = parse_stop_rule(train.stop_when)
        written_out = resolved(config).train  # the automatic metric names written out
        self.keep_best, self.best_metric = train.keep_best, written_out.best_metric
        self.plateau_metric, self.window, self.tolerance = written_out.plateau_metric, train.plateau_window, \
            train.plateau_tolerance
        self.needs_starts = self.rule is not None or self.keep_best
        self.rows_seen = 0
        self.plateau_best, self.plateau_index = math.inf, 0  # the best value, and the row it (or the start) was
        self.best_value, self.best_step, self.best_state = _loss(self.best_metric, math.inf), None, None
        self.stopped_at, self.reason, self.start_state = None, "", None

    def progress(self) -> dict:
        """What a checkpoint keeps of the watch (numbers and text; the best state is kept apart)."""
        return {"rows_seen": self.rows_seen, "plateau_best": self.plateau_best, "plateau_index": self.plateau_index,
                "best_value": self.best_value, "best_step": self.best_step, "stopped_at": self.stopped_at,
                "reason": self.reason}

    def restore(self, progress: dict, best_state: engine.TrainState | None) -> None:
        """Go on from a checkpoint's `progress()` and best state."""
        for name, value in progress.items():
            setattr(self, name, value)
        self.best_state = best_state

    def see(self, row: dict, start_state: Callable[[], engine.TrainState]) -> bool:
        index, self.rows_seen = self.rows_seen, self.rows_seen + 1
        if self.keep_best and _loss(self.best_metric, row[self.best_metric]) < _loss(self.best_metric, self.best_value):
            self.best_value, self.best_step, self.best_state = row[self.best_metric], row["step"], start_state()
        reason = self._reason(index, row)
        if reason is None:
            return False
        self.stopped_at, self.reason, self.start_state = row["step"], reason, start_state()
        return True

    def _reason(self, index: int, row: dict) -> str | None:
        rule = self.rule
        if rule is None:
            return None
        if rule.kind == "plateau":
            value = _loss(self.plateau_metric, row[self.plateau_metric])
            if value < self.plateau_best - self.tolerance:
                self.plateau_best, self.plateau_index = value, index
            if index - self.plateau_index < self.window:
                return None
            best = _loss(self.plateau_metric, self.plateau_best)  # back to the metric's sign
            return (f"plateau: {self.plateau_metric} did not improve by more than {self.tolerance:g} "
                    f"in {self.window} log points (best {best:.6g}) at step {row['step']}")
        value = row[rule.metric]
        if not (value < rule.threshold if rule.kind == "<" else value > rule.threshold):
            return None
        return f"{rule.metric}{rule.kind}{rule.threshold!r} at step {row['step']}: {rule.metric} = {value:.6g}"

    def record(self) -> dict:
        """What metrics.json gains: stopped_at and stop_reason when the rule held; best_step and best_metric."""
        record = {}
        if self.stopped_at is not None:
            record.update(stopped_at=self.stopped_at, stop_reason=self.reason)
        if self.keep_best:
            record.update(best_step=self.best_step, best_metric=self.best_value if self.best_step is not None else None)
        return record


def fresh_watch(config: Config) -> dict:
    """The stopping rule's and keep-best's progress at the start of a run, as a Snapshot keeps it."""
    return _Watch(config).progress()
