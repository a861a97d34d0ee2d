"""The `tinygan` command's entry point: a signal that comes while the heavy modules load ends the command in one
line, with the shell's exit code, rather than a traceback from deep inside an import.

It lives outside the `tinygan` package because importing anything inside it runs the package's __init__, which
imports JAX, SciPy and matplotlib (a second or two) before a handler could be set.
"""

from __future__ import annotations

import os
import signal
import sys
import time

STARTED = time.monotonic()  # the command's start, for the time line of its summary

SIGNALS = (signal.SIGINT, signal.SIGTERM)
IMPORT_PAUSE = "TINYGAN_TEST_IMPORT_PAUSE"  # test hook: seconds added to the loading, so a test's signal lands in it


def main() -> None:
    def stop(signum, frame):  # nothing has started: nothing to save
        os.write(2, b"tinygan: interrupted\n")
        os._exit(128 + signum)

    previous = {number: signal.signal(number, stop) for number in SIGNALS}
    time.sleep(float(os.environ.get(IMPORT_PAUSE, 0)))
    from tinygan import cli  # JAX, SciPy and matplotlib: a second or two

    for number, handler in previous.items():
        signal.signal(number, handler)
    sys.exit(cli.main())
