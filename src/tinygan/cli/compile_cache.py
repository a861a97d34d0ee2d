"""A persistent cache of compiled programs, so a second `tinygan train` skips most of XLA's compiling.

JAX keys each compiled program by its computation, its compile options and the machine, so a cache hit
runs the very program a fresh compile would give: results are the same bit for bit. The cache lives in the
user's cache folder (`$XDG_CACHE_HOME/tinygan/jax`, else `~/.cache/tinygan/jax`), at most MAX_BYTES,
least recently used programs evicted first. With a size limit JAX reads and writes it under a file lock,
so runs that start at once share it safely. `TINYGAN_COMPILE_CACHE=0` (or `off`) turns it off, and
`TINYGAN_COMPILE_CACHE=PATH` puts it elsewhere; the command line's `--no-compile-cache` turns it off too.
A cache JAX was given already (JAX_COMPILATION_CACHE_DIR) is left as it is.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import jax

CACHE_ENV = "TINYGAN_COMPILE_CACHE"
MAX_BYTES = 1 << 30  # 1 GiB: the seed's programs take about 0.3 MB, the data preset's a few MB
OFF = ("0", "off", "no", "false")


def cache_folder() -> Path | None:
    """Where the cache lives, or None when the environment turns it off."""
    chosen = os.environ.get(CACHE_ENV, "").strip()
    if chosen.lower() in OFF:
        return None
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tinygan" / "jax"


def enable() -> Path | None:
    """Turn the cache on for this process (before its first compile), unless the environment turns it off or
    the folder cannot be made or written: then training compiles as it would anyway (with a note on stderr when
    TINYGAN_COMPILE_CACHE named that folder). Returns the folder in use."""
    if jax.config.jax_compilation_cache_dir:  # given to JAX already (JAX_COMPILATION_CACHE_DIR): kept as it is
        return Path(jax.config.jax_compilation_cache_dir)
    folder = cache_folder()
    if folder is None or importlib.util.find_spec("filelock") is None:  # JAX locks the cache with filelock
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        problem = "" if os.access(folder, os.R_OK | os.W_OK | os.X_OK) else "cannot be written"
    except OSError as error:
        problem = "is a file, not a folder" if folder.is_file() else (error.strerror or str(error)).lower()
    if problem:
        if os.environ.get(CACHE_ENV, "").strip():  # the user's own choice: say why it is not used
            print(f"tinygan: note: {CACHE_ENV}={os.environ[CACHE_ENV]}: {problem}; compiling without the cache",
                  file=sys.stderr)
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)  # a size limit: locked reads and writes
    # Every program, the small ones too: a small program (the final probe and samples, the finite check) compiles
    # in 0.05-0.1 s and loads in ~0.02 s, so a second run of the seed preset saves ~0.2 s more.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
