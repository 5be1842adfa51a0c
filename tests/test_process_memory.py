"""The program's processes keep freed C memory for reuse (overfitlab.process_memory)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from overfitlab.process_memory import glibc

pytestmark = pytest.mark.skipif(not glibc(), reason="mallopt settings of glibc's malloc")

# In a fresh process: malloc, touch and free a 48 MiB block four times from a worker thread (as
# XLA allocates a program's scratch memory), counting the page faults of each round.
CHILD = """
import ctypes, json, resource, sys, threading
from overfitlab.process_memory import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
SIZE = 48 << 20
faults = []

def rounds():
    for _ in range(4):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        block = libc.malloc(SIZE)
        ctypes.memset(block, 1, SIZE)
        libc.free(block)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)

thread = threading.Thread(target=rounds)
thread.start()
thread.join()
print(json.dumps({"applied": applied, "faults": faults, "pages": SIZE // 4096}))
"""


def _rounds(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_freed_large_block_is_reused_without_new_page_faults():
    default, kept = _rounds("default"), _rounds("keep")
    pages = default["pages"]
    # glibc's default: every round maps the block afresh, and every page faults again
    assert min(default["faults"][1:]) > pages // 2, default
    assert kept["applied"] is True
    assert kept["faults"][0] > pages // 2  # the first touch of new memory faults anyway
    assert max(kept["faults"][1:]) < pages // 50, kept  # later rounds reuse those pages


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_the_program_keeps_freed_memory_and_an_importer_does_not(sigint):
    """The ``overfitlab`` program applies the settings before a command runs, also started with
    Ctrl+C ignored (``nohup ... &`` from a script: no interrupt handling then, same memory); a
    process that only imports the CLI (a notebook, a test runner) keeps its C library's
    defaults."""
    probe = ("import signal, sys\n"
             "if sys.argv[2] == 'ignored':\n    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
             "sys.argv = [sys.argv[1], 'list']\n"
             "from overfitlab import cli, process_memory\n"
             "try:\n    cli.app()\nexcept SystemExit:\n    pass\n"
             "print(process_memory.keep_freed_memory.cache_info().currsize, file=sys.stderr)")
    applied = {}
    for program in ("overfitlab", "notebook"):
        done = subprocess.run([sys.executable, "-c", probe, program, sigint],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        applied[program] = done.stderr.strip().splitlines()[-1]
    assert applied == {"overfitlab": "1", "notebook": "0"}
