"""Run folders: a run's files (`folder`), starting, resuming and finishing a run in its folder (`launch`),
checkpoints that resume exactly (`checkpoints`) and TensorBoard logs (`tensorboard`).

`tinygan.runs` was a module of its own: its names stay importable from here.
"""

from tinygan.data.targets import column_names  # noqa: F401
from tinygan.files import finite_or_none, read_json, to_json, write_atomic  # noqa: F401
from tinygan.pictures.run import distribution_figure, draw_pictures, equilibrium_losses, png_bytes, real_samples  # noqa: F401
from tinygan.runs.folder import *  # noqa: F403
from tinygan.runs.folder import RunError  # noqa: F401
