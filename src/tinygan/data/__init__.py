"""What the generator learns: laws, 2-D shapes and data files (`targets`), reading files (`files`), and the
units the networks work in (`units`: standard scores or normal scores).

`tinygan.data` was the targets' module: their names stay importable from here.
"""

from tinygan.data.targets import *  # noqa: F403
