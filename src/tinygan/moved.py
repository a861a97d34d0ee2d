"""Old import paths: tinygan 0.1's flat modules, which moved into packages by concern. For one release each
old path still imports (the module at its new home, with a DeprecationWarning saying where it went)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "tinygan.networks": "tinygan.core.networks",
    "tinygan.objectives": "tinygan.core.objectives",
    "tinygan.optimizers": "tinygan.core.optimizers",
    "tinygan.noise": "tinygan.core.noise",
    "tinygan.datafiles": "tinygan.data.files",
    "tinygan.units": "tinygan.data.units",
    "tinygan.metrics": "tinygan.measure.metrics",
    "tinygan.scoring": "tinygan.measure.scoring",
    "tinygan.verdict": "tinygan.measure.verdict",
    "tinygan.stats": "tinygan.measure.stats",
    "tinygan.plots": "tinygan.pictures.plots",
    "tinygan.plots_2d": "tinygan.pictures.two_d",
    "tinygan.plots_table": "tinygan.pictures.table",
    "tinygan.plots_sweep": "tinygan.pictures.sweep",
    "tinygan.labels": "tinygan.pictures.labels",
    "tinygan.runner": "tinygan.runs.launch",
    "tinygan.checkpoints": "tinygan.runs.checkpoints",
    "tinygan.tensorboard": "tinygan.runs.tensorboard",
    "tinygan.trainer": "tinygan.training.loop",
    "tinygan.ensemble": "tinygan.training.seeds",
    "tinygan.export": "tinygan.training.export",
    "tinygan.sweeps": "tinygan.sweep.grid",
    "tinygan.backends": "tinygan.sweep.backends",
    "tinygan.resolve": "tinygan.engine.resolve",
    "tinygan.configfile": "tinygan.cli.configfile",
    "tinygan.reporting": "tinygan.cli.reporting",
    "tinygan.bench": "tinygan.cli.bench",
    "tinygan.compile_cache": "tinygan.cli.compile_cache",
}


class OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path and gives the module at its new home (so both names are one module: a setting patched
    through one is seen through the other)."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        warnings.warn(f"{spec.name} moved to {MOVED[spec.name]}; the old path goes in the next release",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module):
        pass  # the module at its new home has run already


def install() -> None:
    if not any(isinstance(finder, OldPaths) for finder in sys.meta_path):
        sys.meta_path.append(OldPaths())
