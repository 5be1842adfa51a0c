"""The C heap of overfitlab's own processes: freed memory is kept for the next request.

glibc's ``malloc`` serves a request of 32 MiB or more with a fresh ``mmap`` and gives it back with
``munmap`` when it is freed; a worker thread's arena does the same with anything that does not
fit in its 64 MiB heaps, and a heap's free top is returned to the system too. XLA allocates a
compiled program's scratch memory on every call, from its worker threads, so a program whose
scratch is that large gets new pages on every call, and the kernel zeroes each 4 KiB page when
it is first touched. ``cnn-regularization``'s training step (105 networks at once) needs 37.6 MB
of scratch: its full preset took 2.9 million page faults in its 300 steps, 7.2-7.9 s of system
time and 17.7-19.9 s of wall time (three runs, 2 cores); with the settings below, 0.03-0.06
million faults, 0.8-1.0 s and 13.0-14.2 s (peak resident memory 0.70 -> 1.07 GB: freed blocks
stay in the process and are reused).

:func:`keep_freed_memory` sets, with ``mallopt``: no ``mmap`` for large blocks
(``M_MMAP_MAX = 0``), no trimming of the heap's top (``M_TRIM_THRESHOLD``), and one arena for
every thread (``M_ARENA_MAX = 1``), the main heap, which grows without the 64 MiB cap of thread
arenas; should the heap be unable to grow, glibc still falls back to ``mmap``. The
``overfitlab`` program and the report's workers call it; importing overfitlab does not (it would
change someone else's process), but a notebook or script may call it itself, before its first
fit. It changes nothing where the C library is not glibc.
"""
from __future__ import annotations

import ctypes
import os
from functools import cache

M_TRIM_THRESHOLD = -1  # malloc.h
M_MMAP_MAX = -4
M_ARENA_MAX = -8
NEVER_TRIM = 2**31 - 1  # bytes of free top before the heap is trimmed: mallopt's largest int


@cache
def keep_freed_memory() -> bool:
    """Make this process's ``malloc`` keep freed memory for reuse (see the module docstring);
    call it before the threads that allocate start. True when glibc accepted every setting."""
    if not glibc():
        return False
    libc = ctypes.CDLL(None)  # the process's own symbols, the C library's among them
    settings = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, NEVER_TRIM))
    accepted = [libc.mallopt(option, value) == 1 for option, value in settings]  # each one,
    return all(accepted)  # even after a refusal


def glibc() -> bool:
    """Whether this process runs on glibc (whose ``mallopt`` settings these are)."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):
        return False
