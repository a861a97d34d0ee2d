"""Where a sweep's units run: here, one after another, or as Ray tasks on a cluster.

A backend has one method, `run(tasks, finished, progress)`: `tasks` is a list
of (unit, config as a dict), each run as `unit.run(config)` (`sweep.grid.Unit`);
`finished(unit, result)` is called in this process as each one ends, in any
order; `progress(seed_iterations)` as iterations are played (as often as the
backend can tell).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

# A Ray worker unpickles `_run_unit` by importing this module, so tinygan's __init__ runs first and sets XLA_FLAGS
# before the worker starts JAX: its numbers are then the driver's, bit for bit.
import tinygan
from tinygan.config import Config, ConfigError
from tinygan.engine.devices import GPU_MIN_FLOPS
from tinygan.training.seeds import batch_flops

KILL_ONCE = "TINYGAN_TEST_KILL_ONCE"  # test hook: a marker file's path; the first Ray task it is missing for kills itself


class BackendError(ConfigError):
    """A unit that failed where it ran, or a backend that cannot start: reported in one line, like a bad setting."""


class LocalBackend:
    """Every unit in this process, in order: one vmapped program per batch of seeds."""

    def run(self, tasks: list, finished: Callable, progress: Callable[[int], None] | None = None) -> None:
        for unit, config in tasks:
            finished(unit, unit.run(config, progress))


def _run_unit(unit, config: dict):
    """One Ray task: `unit.run(config)` in a worker process, whose exit (not an exception) Ray retries."""
    marker = os.environ.get(KILL_ONCE)
    if marker and not os.path.exists(marker):
        try:
            open(marker, "x").close()
        except FileExistsError:  # another task got there first
            pass
        else:
            os._exit(1)  # a worker that dies, as an out-of-memory kill or a lost machine would end it
    return unit.run(config)


def start_ray(**options) -> None:
    """`ray.init(**options)`, without JAX's warning that forking a multithreaded process may deadlock: Ray
    forks only to exec its own processes at once, which is safe."""
    import ray

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
        ray.init(**options)


class RayBackend:
    """Every unit as a Ray task, collected as they finish: one GPU each for the units `train.device` sends to a
    GPU when the cluster has GPUs (`wants_gpu`), else one CPU each (with one host device).

    `address`: a running cluster's (`ray.init(address=...)`; tinygan must be
    installed on its machines); None starts a new local Ray of `workers` CPUs
    (default: all of them; RAY_ADDRESS is not read) for the sweep and shuts it
    down at the end. A Ray already started in this process is used as it is,
    and left running. A worker that dies is retried up to `max_retries` times; a unit that raises ends the sweep
    (with BackendError) after cancelling the units still running.
    """

    def __init__(self, address: str | None = None, workers: int | None = None, max_retries: int = 3):
        try:
            import ray  # noqa: F401
        except ImportError:
            raise BackendError("the Ray backend needs Ray: pip install 'tinygan[ray]'") from None
        if workers is not None and workers < 1:
            raise BackendError(f"Ray workers: must be >= 1, got {workers}")
        if max_retries < 0:
            raise BackendError(f"Ray max_retries: must be >= 0, got {max_retries}")
        self.address, self.workers, self.max_retries = address, workers, max_retries

    def run(self, tasks: list, finished: Callable, progress: Callable[[int], None] | None = None) -> None:
        import ray

        if not tasks:
            return
        started = not ray.is_initialized()
        if started and self.address is None:
            start_ray(address="local", num_cpus=self.workers or os.cpu_count(), include_dashboard=False)
        elif started:
            start_ray(address=self.address)
        try:
            remote = ray.remote(max_retries=self.max_retries, retry_exceptions=False)(_run_unit)
            cluster_gpus = ray.cluster_resources().get("GPU", 0)
            pending = {}
            for unit, config in tasks:
                on_gpu = wants_gpu(config, unit.width, cluster_gpus)
                placed = {**config, "train": {**config["train"], "device": "gpu" if on_gpu else "cpu"}}
                options = ({"num_gpus": 1, "num_cpus": 1} if on_gpu else
                           {"num_cpus": 1, "runtime_env": {"env_vars": {tinygan.HOST_DEVICES: "1"}}})
                pending[remote.options(**options).remote(unit, placed)] = (unit, config)
            try:
                while pending:
                    [ready], _ = ray.wait(list(pending), num_returns=1)
                    unit, config = pending.pop(ready)
                    try:
                        result = ray.get(ready)
                    except ray.exceptions.RayError as error:
                        raise BackendError(_failure(unit, error, self.max_retries)) from error
                    finished(unit, result)
                    if progress is not None:
                        progress(len(unit.seeds) * config["train"]["num_steps"])
            finally:  # an error, Ctrl-C (KeyboardInterrupt goes on up) or the end: nothing is left running
                for ref in pending:
                    ray.cancel(ref, force=True)
        finally:
            if started:
                ray.shutdown()  # stops the Ray it started; only disconnects from a cluster


def wants_gpu(config: dict, seeds: int, cluster_gpus: float) -> bool:
    """Whether a unit of `seeds` seeds at once goes to a GPU of the cluster: its `train.device` says gpu, or auto
    with GPUs in the cluster and enough arithmetic an iteration (`engine.devices`)."""
    device = config["train"].get("device", "auto")
    if device == "gpu" and not cluster_gpus:
        raise BackendError("train.device: gpu, but the Ray cluster has no GPU (use auto or cpu)")
    if device == "auto" and cluster_gpus:
        return batch_flops(Config.from_dict(config), seeds) >= GPU_MIN_FLOPS
    return device == "gpu"


def _failure(unit, error, max_retries: int) -> str:
    """One line on why a unit's task failed: the exception it raised, or its worker's deaths."""
    import ray

    if isinstance(error, ray.exceptions.RayTaskError):
        where, error = "failed on its Ray worker", error.cause
    elif isinstance(error, ray.exceptions.WorkerCrashedError):
        tries = max_retries + 1
        return f"unit {unit.name}: its Ray worker died, {tries} time{'s' * (tries > 1)} (max_retries={max_retries})"
    else:
        where = "failed on Ray"
    lines = str(error).strip().splitlines()
    return f"unit {unit.name} {where}: {type(error).__name__}" + (f": {lines[0]}" if lines else "")


BACKENDS = {"local": LocalBackend, "ray": RayBackend}
