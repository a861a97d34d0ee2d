"""Which machine runs a game's programs: the CPU or a GPU, by the `train.device` setting.

`auto` sends a program to the GPU when there is one and an iteration of it, over all the seeds it trains at
once, does at least GPU_MIN_FLOPS of arithmetic. Below that the GPU's fixed cost per iteration (a kernel launch
per operation) is slower than the CPU doing the whole sum. Measured on one H200 against this project's 2-core
CPU (issue 15): the seed preset's single run (~4 x 10^4 flops an iteration) trains 33,900 it/s there and
124,000 here; a sweep of its seeds is as fast as the CPU at about 8 seeds and 70x faster at 1,024; the ring
preset's networks (~10^9 flops) train 30-60x faster there. The threshold sits where those cross.
"""

from __future__ import annotations

import jax

from tinygan.config import ConfigError

GPU_MIN_FLOPS = 300_000  # flops an iteration (all seeds) from which `auto` takes the GPU


def gpus() -> list:
    """The GPUs JAX sees here; none where JAX was installed without CUDA, or there is no GPU."""
    try:
        return jax.devices("gpu")
    except RuntimeError:  # "Unknown backend gpu", or a GPU backend that failed to start
        return []


def cpu() -> jax.Device:
    return jax.devices("cpu")[0]


def check_device(setting: str) -> None:
    """Refuse `gpu` where there is none, before anything is built or written."""
    if setting == "gpu" and not gpus():
        raise ConfigError("train.device: gpu, but JAX sees no GPU here (install jax[cuda12] on a machine with one, "
                          "or use auto or cpu)")


def choose(setting: str, flops: float) -> jax.Device:
    """The first device of the platform `setting` (auto, cpu or gpu) picks for `flops` an iteration."""
    check_device(setting)
    found = gpus()
    if setting == "gpu" or (setting == "auto" and found and flops >= GPU_MIN_FLOPS):
        return found[0]
    return cpu()


def platform_devices(device: jax.Device) -> list:
    """Every device of `device`'s platform on this machine (host devices, or GPUs), `device` first."""
    return jax.local_devices(backend=device.platform)


def free_memory(device: jax.Device) -> int | None:
    """Bytes free on an accelerator (its allocator's limit less what is in use); None where it does not say."""
    stats = device.memory_stats() or {}
    if "bytes_limit" not in stats:
        return None
    return max(0, stats["bytes_limit"] - stats.get("bytes_in_use", 0))


def on_cpu():
    """A context in which new arrays land on the CPU: a game's data (a file's rows, quantile knots) is made
    there, whichever device then runs it; a program on the GPU takes them as arguments."""
    return jax.default_device(cpu())
