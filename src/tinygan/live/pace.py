"""How fast a live session plays: iterations a second for the page, and the time an iteration takes, which sizes
the compiled chunks."""

from __future__ import annotations

import time
from collections import deque

RATE_WINDOW = 2.0  # seconds over which iterations per second are measured (the last two chunks at least)


class Pace:
    def __init__(self):
        self._played = deque(maxlen=256)  # (time, iterations played in all)
        self._total = 0
        self.seconds_per_iteration = 0.0  # a moving average; 0 until a chunk was timed

    def played(self, iterations: int, seconds: float, timed: bool) -> None:
        """`iterations` played in `seconds`; `timed` False when a program compiled meanwhile (its time says
        nothing of training)."""
        if timed:
            seen = seconds / iterations
            average = self.seconds_per_iteration
            self.seconds_per_iteration = seen if not average else 0.8 * average + 0.2 * seen
        self._total += iterations
        self._played.append((time.perf_counter(), self._total))

    def per_second(self) -> float:
        """Iterations a second over the last RATE_WINDOW seconds; 0 until two chunks were played."""
        now = time.perf_counter()
        recent = [(t, n) for t, n in self._played if now - t <= RATE_WINDOW] or list(self._played)[-2:]
        if len(recent) < 2:
            return 0.0
        (first, done), (last, total) = recent[0], recent[-1]
        return (total - done) / max(last - first, 1e-9)
