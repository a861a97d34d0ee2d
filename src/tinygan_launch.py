"""The `tinygan` command's entry point: a signal that comes while the heavy modules load ends the command in one
line, with the shell's exit code, rather than a traceback from deep inside an import.

It lives outside the `tinygan` package because importing anything inside it runs the package's __init__, which
imports JAX, SciPy and matplotlib (a second or two) before a handler could be set.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time

STARTED = time.monotonic()  # the command's start, for the time line of its summary

SIGNALS = (signal.SIGINT, signal.SIGTERM)
IMPORT_PAUSE = "TINYGAN_TEST_IMPORT_PAUSE"  # test hook: seconds added to the loading's end, so a test's signal lands in it


def main() -> None:
    def stop(signum, frame):  # nothing has started: nothing to save
        os.write(2, b"tinygan: interrupted\n")
        os._exit(128 + signum)

    previous = {number: signal.signal(number, stop) for number in SIGNALS}
    from tinygan import cli  # the command line; JAX, SciPy and matplotlib come with the command that needs them

    def loaded():  # the command's modules are in (a second or two): Ctrl-C is the command's own from here
        time.sleep(float(os.environ.get(IMPORT_PAUSE, 0)))
        for number, handler in previous.items():
            signal.signal(number, handler)
        keep_interrupts()

    finish(cli.main(loaded=loaded))


def keep_interrupts() -> None:
    """A Ctrl-C that Python would drop ends the command in one line, with the shell's exit code.

    Ctrl-C raises KeyboardInterrupt wherever the main thread is. Where Python cannot pass an exception on (a
    garbage collector's callback, which JAX runs while its modules load; a `__del__`), it prints "Exception
    ignored" with a traceback and carries on, so the command would run to its end as if never stopped.
    """
    dropped = sys.unraisablehook

    def hook(unraisable):
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            os.write(2, b"tinygan: interrupted\n")
            os._exit(128 + signal.SIGINT)
        dropped(unraisable)

    sys.unraisablehook = hook


def finish(code: int | None) -> None:
    """End the command with `code`, skipping the interpreter's teardown of JAX's programs and of every module
    (about 0.4 s here, a tenth of a second run) once nothing is left to do: the exit handlers run and the
    output is flushed first. Anything else (a thread still working, a message for an exit code, output that
    cannot be flushed) ends the ordinary way."""
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if others or not isinstance(code, int | None):
        sys.exit(code)
    try:
        atexit._run_exitfuncs()  # what sys.exit would run: Ray's shutdown, logging's flush, ...
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    except (OSError, ValueError):  # a closed pipe, a closed stream: let Python report it as it would
        sys.exit(code)
    os._exit(code or 0)
