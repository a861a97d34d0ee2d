"""Pictures: 1-D distributions, losses, metrics and animations (`plots`), 2-D pictures (`two_d`), corner plots
of tables (`table`), a sweep's pictures (`sweep`), a run's pictures (`run`), and their words (`labels`)."""

import threading

ANIMATION_FORMATS = (".gif", ".mp4")  # what `plots.write_frames` writes (here: this module imports no matplotlib)


def preload() -> None:
    """Import matplotlib's figure and its Agg canvas on a thread of their own (~0.3 s), while the caller compiles
    and trains (XLA lets go of the GIL): the pictures at the end then find them loaded."""

    def load():
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.figure  # noqa: F401

    threading.Thread(target=load, name="tinygan-preload", daemon=True).start()
