"""tinygan: train, measure and watch Generative Adversarial Networks on low-dimensional data.

    import tinygan
    config = tinygan.config_from_preset("seed", minibatch=True, num_steps=2000)
    result = tinygan.train(config)
    result.metrics["w1"], result.sample(1000, key=jax.random.key(0))
"""

import os

# The networks here are tiny, and XLA's CPU defaults are tuned for large ones. Only read before JAX starts its
# CPU backend; a flag the user set in XLA_FLAGS wins.
# - The concurrency-optimised scheduler spends more time handing ops between threads than the ops take
#   (minibatch discrimination trains ~1.5x faster without it).
# - YNNPACK fusions make a vmap of many seeds ~5x slower, and round batched reductions differently from a
#   single run's: without them a sweep's seeds equal single runs bit for bit (see training/seeds.py).
# - A host device per core the process may use: a sweep runs an equal share of its seeds on each
#   (training.seeds.spread), ~1.2x faster on 2 cores than one device's intra-op threads alone; everything
#   else runs on the first. TINYGAN_HOST_DEVICES sets another count, and wins over the XLA_FLAGS a process
#   inherits from its parent (a Ray task gets one host device per CPU it holds).
HOST_DEVICES = "TINYGAN_HOST_DEVICES"


def _host_devices() -> int:
    setting = os.environ.get(HOST_DEVICES, "").strip()
    if setting.isdigit() and int(setting) >= 1:
        return int(setting)
    if setting:
        import warnings

        warnings.warn(f"{HOST_DEVICES}={setting!r} is not a whole number >= 1: one host device per core instead",
                      stacklevel=2)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_XLA_DEFAULTS = {
    "xla_force_host_platform_device_count": str(_host_devices()),
    "xla_cpu_enable_concurrency_optimized_scheduler": "false",
    "xla_cpu_experimental_ynn_fusion_type": "",
}
if os.environ.get(HOST_DEVICES, "").strip():
    os.environ["XLA_FLAGS"] = " ".join(flag for flag in os.environ.get("XLA_FLAGS", "").split()
                                       if not flag.startswith("--xla_force_host_platform_device_count="))
for _flag, _value in _XLA_DEFAULTS.items():
    if _flag not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" --{_flag}={_value}").strip()

import importlib

from tinygan import moved

moved.install()  # tinygan 0.1's flat module paths still import, with a DeprecationWarning

# The public API, imported on first use (PEP 562): `import tinygan` stays light, so `tinygan --help` answers
# before JAX, SciPy and matplotlib load. Each name: the module it lives in.
_PUBLIC = {
    "PRESETS": "tinygan.config",
    "Config": "tinygan.config",
    "ConfigError": "tinygan.config",
    "replace": "tinygan.config",
    "config_from_preset": "tinygan.engine.resolve",
    "load_generator": "tinygan.training.export",
    **dict.fromkeys(("distances", "energy_distance", "gan_lab_divergences", "ks_statistic", "mode_metrics",
                     "sliced_wasserstein", "wasserstein_1d"), "tinygan.measure.metrics"),
    **dict.fromkeys(("OBJECTIVES", "gradient_penalty", "r1_penalty"), "tinygan.core.objectives"),
    **dict.fromkeys(("plot_distribution", "plot_losses", "save_animation"), "tinygan.pictures.plots"),
    **dict.fromkeys(("RunOptions", "resume_run", "train_run"), "tinygan.runs.launch"),
    "save_run": "tinygan.runs.folder",
    "SweepResult": "tinygan.sweep.grid",
    "sweep": "tinygan.sweep.grid",
    "TrainResult": "tinygan.training.loop",
    "train": "tinygan.training.loop",
}


def __getattr__(name: str):
    if f"tinygan.{name}" in moved.MOVED:  # tinygan.trainer and the like, as attributes: their new homes, warned
        return importlib.import_module(f"tinygan.{name}")
    if name not in _PUBLIC:
        raise AttributeError(f"module 'tinygan' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # found once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])


__version__ = "0.1.0"

__all__ = [
    "OBJECTIVES",
    "PRESETS",
    "Config",
    "ConfigError",
    "RunOptions",
    "SweepResult",
    "TrainResult",
    "config_from_preset",
    "distances",
    "energy_distance",
    "gan_lab_divergences",
    "gradient_penalty",
    "ks_statistic",
    "load_generator",
    "mode_metrics",
    "plot_distribution",
    "plot_losses",
    "r1_penalty",
    "replace",
    "resume_run",
    "save_animation",
    "save_run",
    "sliced_wasserstein",
    "sweep",
    "train",
    "train_run",
    "wasserstein_1d",
]
