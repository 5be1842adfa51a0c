"""JAX's persistent compilation cache, shared by every front end and every sweep worker.

Compiling a training loop costs 0.3-1 s per program and shape; the cache keeps compiled programs
on disk so that a repeated command, or another worker process of the same machine, loads them
instead of compiling again. The directory is ``$OVERFITLAB_CACHE/jax`` (default
``~/.cache/overfitlab/jax``); only programs that took at least 0.3 s to compile are stored.
"""
from __future__ import annotations

import os
from pathlib import Path


def cache_directory() -> Path:
    """Where compiled programs are kept on this machine (``$OVERFITLAB_CACHE`` or the default)."""
    return Path(os.environ.get("OVERFITLAB_CACHE", Path.home() / ".cache" / "overfitlab")) / "jax"


def enable_compilation_cache() -> None:
    """Persist compiled JAX programs in :func:`cache_directory` (silently skipped if it cannot
    be created: the cache only saves time)."""
    import jax

    directory = cache_directory()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.3)
