"""Where a sweep's units run: here, one after another, or as Ray tasks on a cluster.

A backend has one method, `run(tasks, finished, progress)`: `tasks` is a list
of (unit, config as a dict), each run as `sweep.run_unit(unit, config)`;
`finished(unit, result)` is called in this process as each one ends, in any
order; `progress(seed_iterations)` as iterations are played (as often as the
backend can tell).
"""

from __future__ import annotations

from collections.abc import Callable


class LocalBackend:
    """Every unit in this process, in order: one vmapped program per batch of seeds."""

    def run(self, tasks: list, finished: Callable, progress: Callable[[int], None] | None = None) -> None:
        from tinygan.sweep import run_unit

        for unit, config in tasks:
            finished(unit, run_unit(unit, config, progress))


BACKENDS = {"local": LocalBackend}
