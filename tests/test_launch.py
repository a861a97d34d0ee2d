"""The command's quick ending (`tinygan_launch.finish`): the exit code, every byte of output and the exit
handlers all arrive, and a process with work still running ends the ordinary way."""

from __future__ import annotations

import subprocess
import sys


def ended(body: str) -> subprocess.CompletedProcess:
    """A Python process that runs `body` and then ends through `tinygan_launch.finish`."""
    program = f"import atexit, sys, threading, time\nimport tinygan_launch\n{body}"
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)


def test_the_code_the_output_and_the_exit_handlers_all_arrive():
    done = ended(
        "atexit.register(lambda: print('exit handler ran'))\n"
        "print('x' * 200_000, end='')\n"  # more than a pipe holds: flushed, not dropped
        "sys.stderr.write('a warning')\n"
        "tinygan_launch.finish(3)"
    )
    assert done.returncode == 3
    assert done.stdout == "x" * 200_000 + "exit handler ran\n" and done.stderr == "a warning"


def test_none_is_success():
    assert ended("tinygan_launch.finish(None)").returncode == 0


def test_a_thread_still_working_is_waited_for(tmp_path):
    marker = tmp_path / "written"
    done = ended(
        f"threading.Thread(target=lambda: (time.sleep(0.3), open({str(marker)!r}, 'w').write('done'))).start()\n"
        "tinygan_launch.finish(0)"
    )
    assert done.returncode == 0 and marker.read_text() == "done"


def test_a_message_ends_as_sys_exit_would_end_it():
    done = ended("tinygan_launch.finish('tinygan: a message')")
    assert done.returncode == 1 and done.stderr == "tinygan: a message\n"
