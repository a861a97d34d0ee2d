"""Run folders: a run's files (`folder`), starting, resuming and finishing a run in its folder (`launch`),
checkpoints that resume exactly (`checkpoints`) and TensorBoard logs (`tensorboard`).

`tinygan.runs` was a module of its own: its names stay importable from here.
"""

from tinygan.data.targets import column_names  # noqa: F401
from tinygan.files import finite_or_none, read_json, to_json, write_atomic  # noqa: F401
from tinygan.runs.folder import *  # noqa: F403
from tinygan.runs.folder import RunError  # noqa: F401

_PICTURES = ("distribution_figure", "draw_pictures", "equilibrium_losses", "png_bytes", "real_samples")


def __getattr__(name: str):
    """The pictures' names (`pictures.run`), imported at their first use: matplotlib takes ~0.3 s to import, and
    a run draws only at its end (`preload` imports it meanwhile)."""
    if name in _PICTURES:
        from tinygan.pictures import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
