"""Bounded work: a configuration's memory footprint is estimated and checked before it runs.

Each experiment's Config estimates the peak memory of its run from its resolved fields
(:meth:`~overfitlab.experiments.base.Config.footprint`). The limit is half of the memory
available when the configuration is checked (``MemAvailable`` in /proc/meminfo; half of the
physical memory where that is unknown), or ``OVERFITLAB_MEMORY_LIMIT`` (bytes, or with a K/M/G
suffix). A configuration above it is refused at once with one line saying what to lower, so
that ``--seeds 100000`` fails in a second instead of eating the machine.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from overfitlab.errors import ConfigError, TooMuchWorkError

FLOAT_BYTES = 4  # the engine trains in float32 unless JAX's x64 mode is on
_SUFFIXES = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


@dataclass(frozen=True)
class Footprint:
    """Estimated peak bytes of a run, and the parameters to lower when it is too large."""

    bytes: int = 0
    lower: str = ""  # e.g. "--seeds or --set max_iter"

    def __add__(self, other: "Footprint") -> "Footprint":
        """Both runs' bytes; what to lower is the larger part's."""
        larger = self if self.bytes >= other.bytes else other
        return Footprint(self.bytes + other.bytes, larger.lower)


def float_arrays(*shapes: tuple[int, ...], copies: float = 1.0) -> int:
    """Bytes of float32 arrays of these shapes, times ``copies`` (host copies, float64 views)."""
    total = 0
    for shape in shapes:
        size = 1
        for n in shape:
            size *= int(n)
        total += size
    return int(total * FLOAT_BYTES * copies)


def available_memory() -> int:
    """Bytes of memory available now (MemAvailable), or the physical memory if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_limit() -> int:
    """The documented limit: OVERFITLAB_MEMORY_LIMIT, or half of the available memory."""
    raw = os.environ.get("OVERFITLAB_MEMORY_LIMIT", "").strip().upper()
    if raw:
        try:
            scale = _SUFFIXES.get(raw[-1], 1)
            return int(float(raw[:-1] if raw[-1] in _SUFFIXES else raw) * scale)
        except ValueError:
            raise ConfigError(f"OVERFITLAB_MEMORY_LIMIT={raw!r} is not a size; use bytes or a "
                              "number with K, M or G, e.g. 8G") from None
    return available_memory() // 2


def gigabytes(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def check(footprint: Footprint) -> None:
    """Raise TooMuchWorkError if ``footprint`` exceeds :func:`memory_limit`."""
    limit = memory_limit()
    if footprint.bytes > limit:
        raise TooMuchWorkError(
            f"this run would need about {gigabytes(footprint.bytes)} of memory, more than the "
            f"limit of {gigabytes(limit)} (half the available memory; OVERFITLAB_MEMORY_LIMIT "
            f"sets another): lower {footprint.lower}")
