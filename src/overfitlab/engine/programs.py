"""Lowered training programs kept on disk, so that a new process skips tracing them.

JAX's persistent compilation cache (enabled by the CLI and the estimators) keeps compiled XLA
executables, but it is looked up by the lowered program: a new process must still trace the
Python engine and lower it to StableHLO before it can hit that cache, 0.3-0.6 s per program on a
2-core machine (a cross-validated search traces two: the folds' and the refit's). This module
keeps the lowered programs themselves (``jax.export``, serialized) in a ``programs`` folder inside
the compilation cache directory, one file per key: a hash of everything the trace depends on (the
engine's source files, the JAX version, the platform, the static spec, and the tree structure,
shapes and dtypes of the arguments).

A key's first process runs the plain ``jax.jit`` program and leaves a ``.seen`` mark; the next
process that needs the key exports the program (tracing and lowering for export costs about
0.3 s more than for ``jax.jit``) and keeps it; every process after that loads it in milliseconds
and compiles it through the compilation cache. So a program used once (a first report, a test
run on a fresh machine) costs nothing extra, and one used again and again stops being traced.
Files are written to a temporary file renamed into place, so a file is whole or absent; a kept
program that cannot be read is exported again. With no compilation cache directory configured
nothing is kept and the plain program runs.

The exported program computes exactly what the traced one does (the same StableHLO); the argument
types must be registered for serialization (:func:`register_types`). The key cannot see a
function replaced at run time: code that patches the engine (a test) must point ``_directory``
elsewhere, or it would store the patched program under the real one's key.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from functools import cache, partial
from pathlib import Path
from typing import Callable

import jax
import numpy as np
from jax import export

_programs: dict[str, Callable] = {}  # key -> the kept program's jitted call, or the plain one
_lock = threading.Lock()  # concurrent parts with the same key trace it once


def to_device(a) -> jax.Array:
    """A host array on the default device, in JAX's canonical dtype (float32 unless x64 is
    enabled), committed to that device as the outputs of an exported program are (so the
    chunks after the first find the program the first one compiled).

    ``jax.device_put`` of a host array compiles nothing, while ``jnp.asarray`` compiles a small
    program per shape (jax 0.10): cold starts pay for each of those.
    """
    a = np.asarray(a)
    return jax.device_put(a.astype(jax.dtypes.canonicalize_dtype(a.dtype), copy=False),
                          jax.devices()[0])


def ynn_fusions(*kinds: str) -> dict:
    """``jax.jit`` compiler options that hand XLA's CPU backend only these kinds of fusion
    (``"INDIVIDUAL_DOT"``, ``"REDUCE"``, ...; jaxlib 0.10's default list also has convolutions)
    to its YNNPACK kernels, the rest to its own code generation. Older jaxlibs lack the option:
    none is passed."""
    if tuple(int(p) for p in jax.__version__.split(".")[:2]) < (0, 10):
        return {}
    return {"xla_cpu_experimental_ynn_fusion_type":
            ",".join(f"LIBRARY_FUSION_TYPE_{kind}" for kind in kinds)}


def register_types(*types: type) -> None:
    """Let these NamedTuple argument types appear in exported programs (once per type)."""
    for nodetype in types:
        export.register_namedtuple_serialization(
            nodetype, serialized_name=f"{nodetype.__module__}.{nodetype.__qualname__}")


def run(jitted: Callable, fn: Callable, args: tuple, static: dict, compiler_options: dict):
    """``jitted(*args, **static)``, the engine's ``jax.jit`` of ``fn`` with the keyword arguments
    ``static`` static; when a compilation cache directory is configured, the same program
    loaded from disk once it has been kept (see the module docstring)."""
    directory = _directory()
    if directory is None:
        return jitted(*args, **static)
    key = _key(fn, args, static)
    with _lock:
        if key not in _programs:
            _programs[key] = _prepare(directory / key, jitted, fn, args, static,
                                      compiler_options)
    return _programs[key](*args)


def _prepare(path: Path, jitted: Callable, fn: Callable, args: tuple, static: dict,
             compiler_options: dict) -> Callable:
    """The callable of ``args`` for this key: the kept program; else, when an earlier process
    marked the key as seen, the program exported now and kept; else the plain program, after
    marking the key as seen (a program used once, as in a first report or a test run, is not
    worth the export: exporting traces and lowers more slowly than ``jax.jit`` does)."""
    program, seen = path.with_suffix(".jaxexport"), path.with_suffix(".seen")
    exported = _load(program, jax.tree_util.tree_structure((args, {})))
    if exported is None and seen.exists():
        exported = export.export(jax.jit(partial(fn, **static)))(*args)
        _write(program, exported.serialize())
    if exported is None:
        _write(seen, b"")
        return partial(jitted, **static)
    return jax.jit(exported.call, compiler_options=compiler_options)


def _directory() -> Path | None:
    """The folder of kept programs (created on the first write), or None without a cache."""
    cache_dir = jax.config.jax_compilation_cache_dir
    return Path(cache_dir) / "programs" if cache_dir else None


@cache
def _source_digest() -> str:
    """SHA-256 of the engine's source files (the code a trace runs)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _key(fn: Callable, args: tuple, static: dict) -> str:
    leaves, tree = jax.tree_util.tree_flatten(args)
    avals = [(np.shape(a), str(a.dtype)) for a in leaves]
    what = (_source_digest(), jax.__version__, jax.default_backend(), fn.__qualname__,
            repr(sorted(static.items())), str(tree), avals, jax.config.jax_enable_x64)
    return hashlib.sha256(repr(what).encode()).hexdigest()[:32]


def _load(path: Path, tree) -> export.Exported | None:
    """The program exported to ``path`` for (positional, keyword) arguments of structure
    ``tree``, or None when the file is absent or unreadable."""
    try:
        exported = export.deserialize(bytearray(path.read_bytes()))
    except Exception:  # noqa: BLE001 - a missing or damaged file of any kind is traced again
        return None
    return exported if exported.in_tree == tree else None


def _write(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file renamed into place; a failed write
    (disk full, read-only cache) leaves nothing behind and keeps nothing."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
