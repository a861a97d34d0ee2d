"""The persistent cache of compiled programs: where it lives, what turns it off, and that it changes no number."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinygan.cli import compile_cache


def test_the_cache_lives_in_the_users_cache_folder_unless_told(monkeypatch, tmp_path):
    monkeypatch.delenv(compile_cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.cache_folder() == tmp_path / "xdg" / "tinygan" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert compile_cache.cache_folder() == Path.home() / ".cache" / "tinygan" / "jax"
    monkeypatch.setenv(compile_cache.CACHE_ENV, str(tmp_path / "mine"))
    assert compile_cache.cache_folder() == tmp_path / "mine"
    for off in ("0", "off", "OFF", "no", "false"):
        monkeypatch.setenv(compile_cache.CACHE_ENV, off)
        assert compile_cache.cache_folder() is None


def _command(folder: Path, *flags: str) -> list[str]:
    code = "import sys; from tinygan.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, "train", "--num-steps", "100", "--no-plots", "--quiet", "--out", str(folder),
            *flags]


def _environment(**variables: str) -> dict:
    """This process's environment without the tests' own JAX cache, and with `variables`."""
    return {**{key: value for key, value in os.environ.items() if not key.startswith("JAX_")}, **variables}


def _train(folder: Path, env: dict, *flags: str) -> str:
    """`tinygan train` in a fresh process; its history.csv."""
    subprocess.run(_command(folder, *flags), env=_environment(**env), check=True, timeout=300)
    return (folder / "history.csv").read_text()


@pytest.fixture(scope="module")
def started_at_once(tmp_path_factory) -> tuple[Path, list[str]]:
    """Two runs started at once on a fresh cache: the cache and each run's history.csv. The first run of a cache
    for the tests below (each cold run costs seconds of compiling)."""
    folder = tmp_path_factory.mktemp("started-at-once")
    env = _environment(**{compile_cache.CACHE_ENV: str(folder / "shared")})
    runs = [subprocess.Popen(_command(folder / name), env=env) for name in ("a", "b")]
    assert [run.wait(timeout=300) for run in runs] == [0, 0]
    return folder / "shared", [(folder / name / "history.csv").read_text() for name in ("a", "b")]


def test_a_second_run_reads_the_cache_and_gives_the_same_numbers(started_at_once, tmp_path):
    cache, (first, _) = started_at_once
    kept = sorted(path.name for path in cache.iterdir())
    assert any(name.endswith("-cache") for name in kept) and ".lockfile" in kept  # written under JAX's lock
    assert _train(tmp_path / "second", {compile_cache.CACHE_ENV: str(cache)}) == first  # a hit changes no bit
    assert _train(tmp_path / "off", {compile_cache.CACHE_ENV: str(tmp_path / "other")}, "--no-compile-cache") == first
    assert _train(tmp_path / "env-off", {compile_cache.CACHE_ENV: "0", "XDG_CACHE_HOME": str(tmp_path / "xdg")}) == first
    assert not (tmp_path / "other").exists() and not (tmp_path / "xdg" / "tinygan").exists()


def test_runs_that_start_at_once_share_a_fresh_cache(started_at_once):
    _, (a, b) = started_at_once
    assert a == b


def test_a_cache_folder_that_cannot_be_used_is_said_in_one_note(tmp_path):
    """TINYGAN_COMPILE_CACHE naming a file, or a folder under one: a note on stderr, and no cache (nothing
    is written there); the default folder failing says nothing (a read-only home is not the user's choice)."""
    (tmp_path / "file").write_text("kept")
    code = "from tinygan.cli import compile_cache; print(compile_cache.enable())"
    for chosen, problem in [(tmp_path / "file", "is a file, not a folder"),
                            (tmp_path / "file" / "sub", "not a directory")]:
        done = subprocess.run([sys.executable, "-c", code], env=_environment(**{compile_cache.CACHE_ENV: str(chosen)}),
                              capture_output=True, text=True, check=True, timeout=60)
        assert done.stdout == "None\n"
        assert done.stderr == (f"tinygan: note: {compile_cache.CACHE_ENV}={chosen}: {problem}; compiling without "
                               "the cache\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                          env={**_environment(XDG_CACHE_HOME=str(tmp_path / "file")), compile_cache.CACHE_ENV: ""})
    assert (done.stdout, done.stderr) == ("None\n", "")
    assert (tmp_path / "file").read_text() == "kept"
