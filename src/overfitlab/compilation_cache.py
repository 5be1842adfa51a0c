"""JAX's persistent compilation cache for overfitlab's programs.

A training program takes 0.4-1 s to compile; the cache keeps compiled programs on disk, so a new
process (a CLI run, a notebook kernel, a sweep worker) that trains the same shapes again skips
that. The directory is ``$OVERFITLAB_CACHE/jax`` (default ``~/.cache/overfitlab/jax``);
``OVERFITLAB_CACHE=off`` disables it, and a cache directory the user already configured for JAX
is left alone. The CLI enables it for every command, sweep workers for every point, the
estimators on their first fit.
"""
from __future__ import annotations

import os
from functools import cache
from pathlib import Path

MIN_COMPILE_SECONDS = 0.3  # cache only programs that took at least this long to compile


@cache
def enable_compilation_cache() -> Path | None:
    """Point JAX's persistent cache at overfitlab's directory (once per process); the
    directory, or None when disabled, unwritable, or already configured by the user."""
    setting = os.environ.get("OVERFITLAB_CACHE", "")
    if setting.lower() in ("off", "0", "none", "false"):
        return None
    import jax

    if jax.config.jax_compilation_cache_dir:
        return None
    directory = Path(setting or Path.home() / ".cache" / "overfitlab") / "jax"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return directory
