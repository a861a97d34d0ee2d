"""Shared test settings and fixtures.

Strictness follows DESIGN.md section 3 (Equinox-style): warnings are errors
(pyproject.toml), and JAX's implicit rank promotion raises.

Training is the slow part (~4 s per run, mostly compilation), so trained
results are shared through session-scoped fixtures; treat them as read-only.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jax
import pytest

import tinygan

import live_server

jax.config.update("jax_numpy_rank_promotion", "raise")

# Compiled programs are kept on disk for the session: many tests build the same programs from fresh games,
# and the command-line tests run them again in subprocesses (which inherit these variables); XLA then loads
# them instead of compiling again. A loaded program is the compiled one, so no number changes.
# With pytest-xdist the workers share the cache the controller made (they inherit its environment); the
# controller, which outlives them, removes it.
if "PYTEST_XDIST_WORKER" in os.environ and "TINYGAN_TEST_JAX_CACHE" in os.environ:
    _COMPILE_CACHE = os.environ["TINYGAN_TEST_JAX_CACHE"]
else:
    _COMPILE_CACHE = tempfile.mkdtemp(prefix="tinygan-test-jax-cache-")
    atexit.register(shutil.rmtree, _COMPILE_CACHE, ignore_errors=True)
    os.environ["TINYGAN_TEST_JAX_CACHE"] = _COMPILE_CACHE
os.environ.update(JAX_COMPILATION_CACHE_DIR=_COMPILE_CACHE, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                  JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
jax.config.update("jax_compilation_cache_dir", _COMPILE_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

SUBPROCESS_TIMEOUT = 120  # seconds; a 50-iteration run takes ~10 s on a 2-core machine


@pytest.fixture(scope="session")
def small_config() -> tinygan.Config:
    """The seed's experiment, shortened: 50 iterations after 20 pre-training steps."""
    return tinygan.config_from_preset("seed", num_steps=50, pretrain_steps=20)


@pytest.fixture(scope="session")
def seed_config() -> tinygan.Config:
    """What `tinygan train --num-steps 50` runs: the seed preset, full pre-training."""
    return tinygan.config_from_preset("seed", num_steps=50)


@pytest.fixture(scope="session")
def seed_result(seed_config) -> tinygan.TrainResult:
    """One trained run of `seed_config`, shared by every test that only reads a result."""
    return tinygan.train(seed_config)


@pytest.fixture(scope="session")
def tinygan_command() -> list[str]:
    """The installed `tinygan` script beside this interpreter, else `python -m tinygan`."""
    script = Path(sys.executable).with_name("tinygan")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tinygan"]


@pytest.fixture(scope="session")
def run_process():
    """Run a command to completion in a folder, output captured, bounded by a timeout."""

    def run(args: list[str], cwd: Path, timeout: float = SUBPROCESS_TIMEOUT) -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)

    return run


# `python -m pytest -m "not slow" -n 2`: the quick subset for contributors. These modules train in subprocesses,
# run whole presets, sweeps, browsers or Ray, and hold most of the suite's time.
SLOW_MODULES = {
    "test_architectures", "test_bench", "test_bench_sweep", "test_compile_cache", "test_data_preset",
    "test_end_to_end", "test_live_api", "test_live_browser", "test_live_charts", "test_live_drawing",
    "test_live_picture", "test_live_session", "test_live_teaching", "test_network_options", "test_presets", "test_ray",
    "test_readme", "test_resume", "test_stabilizers", "test_stops", "test_sweep", "test_targets", "test_two_d",
    "test_units",
}


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    """The live view's server and headless Chromium (tests/live_server.py), shared by the browser modules."""
    reason = live_server.missing()
    if reason:
        live_server.skip_unless_required(reason)
    yield from live_server.serve(tmp_path_factory)


@pytest.fixture
def open_page(live):
    """Opens connected pages of the live view; at the end, no page threw and the session is paused."""
    yield from live_server.pages(live)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rpartition(".")[2] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
