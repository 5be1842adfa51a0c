"""The real command line in a subprocess, ready to receive Ctrl+C (for the interrupt tests)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# `python -m overfitlab.cli ARGS`, except that SIGINT first gets Python's usual handler: a shell's
# background job inherits SIGINT ignored, and a preexec_fn would fork this multithreaded process.
_LAUNCH = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
           "sys.argv[0] = 'overfitlab'; runpy.run_module('overfitlab.cli', run_name='__main__')")


def launch(args: list[str], cwd: Path | None = None, cache: Path | None = None,
           cores: list[int] | None = None) -> subprocess.Popen:
    """Start ``overfitlab ARGS`` (this checkout's sources first), stdout and stderr piped;
    ``cache``: its compilation cache directory (``OVERFITLAB_CACHE``) instead of the caller's;
    ``cores``: the only cores it may run on (CPU affinity, set before anything else)."""
    code = _LAUNCH if cores is None else f"import os; os.sched_setaffinity(0, {cores}); {_LAUNCH}"
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=checkout_environment(cache))


def checkout_environment(cache: Path | None = None) -> dict[str, str]:
    """This process's environment with this checkout's sources first on ``PYTHONPATH`` and,
    when given, ``cache`` as the compilation cache directory (``OVERFITLAB_CACHE``)."""
    path = [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    if cache is not None:
        env["OVERFITLAB_CACHE"] = str(cache)
    return env
