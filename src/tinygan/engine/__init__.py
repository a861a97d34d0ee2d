"""The compiled training engine: the game, one pure train step, and the scanned loop.

Everything here is a pure function of arrays and explicit keys. Python drives the loop in chunks (see
`training/loop.py`); inside a chunk `jax.lax.scan` runs the iterations, and at each log point a probe looks at
the networks for the history and the animation. `game` builds what a config describes, `step` plays one
iteration, `probes` looks at the networks and scans; `resolve` checks a config against the registries.
"""

from tinygan.engine.game import *  # noqa: F403
from tinygan.engine.game import __all__ as _game
from tinygan.engine.probes import *  # noqa: F403
from tinygan.engine.probes import __all__ as _probes
from tinygan.engine.step import *  # noqa: F403
from tinygan.engine.step import __all__ as _step

__all__ = [*_game, *_step, *_probes]
