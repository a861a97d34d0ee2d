"""Sweeps: a grid of settings times many seeds (`grid`), its units run here or as Ray tasks (`backends`).

`tinygan.sweep(config, ...)` is `grid.sweep`. Importing this package (`from tinygan.sweep import grid`, or Ray
unpickling a unit) makes it the `tinygan.sweep` attribute in the function's place, so the package, called,
is the function too.
"""

import sys
import types


class _Sweep(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from tinygan.sweep.grid import sweep

        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _Sweep
