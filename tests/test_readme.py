"""The README's runnable blocks run as written: each Python block marked `<!-- runnable -->`, in a fresh folder
and a fresh process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
RUNNABLE = re.compile(r"<!-- runnable -->\n```python\n(.*?)```", re.S)


def runnable_blocks() -> list[str]:
    return RUNNABLE.findall(README.read_text())


def test_the_readme_marks_its_python_api_runnable():
    assert len(runnable_blocks()) >= 1 and "tinygan.train(config)" in runnable_blocks()[0]


@pytest.mark.parametrize("number", range(len(runnable_blocks())))
def test_a_runnable_block_runs_as_written(number, tmp_path):
    done = subprocess.run([sys.executable, "-c", runnable_blocks()[number]], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[0].split(" ", 1)[1].startswith("learned: W1 ")  # the first result learns
    assert (tmp_path / "generator.npz").is_file() and (tmp_path / "losses.png").is_file()
