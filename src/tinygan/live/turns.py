"""Turns at a live session's lock: the controls (a page's requests) go before the playing thread."""

from __future__ import annotations

import contextlib
import threading
import time


class Turns:
    """A re-entrant lock and a condition on it. A lock is not fair: the playing thread, which takes it back at
    once chunk after chunk, would keep a control waiting; it lets the controls waiting go first (`give_way`)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.wake = threading.Condition(self.lock)  # the playing thread waits on it; controls notify it
        self._counting, self._waiting = threading.Lock(), 0  # controls waiting for the lock

    @contextlib.contextmanager
    def control(self):
        """The lock, for a control."""
        with self._counting:
            self._waiting += 1
        try:
            with self.lock:
                yield
        finally:
            with self._counting:
                self._waiting -= 1

    def give_way(self) -> None:
        """Wait (the lock not held) while a control waits for the lock."""
        while self._waiting:
            time.sleep(0.001)

    def wait_while(self, holds, seconds: float) -> None:
        """Wait (the lock held) `seconds`, or less if `holds()` turns false first: other notices (a compile done)
        do not cut it short."""
        deadline = time.perf_counter() + seconds
        while holds() and (left := deadline - time.perf_counter()) > 0:
            self.wake.wait(left)
