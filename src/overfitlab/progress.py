"""Progress reporting shared by the engine, the experiments and the front ends.

A progress callback is ``progress(fraction_done, message)`` with the fraction in [0, 1]. Producers
(long engine calls, experiments) only call it; consumers (the CLI's bar or log lines, the sweep)
decide how to show it. Nothing here prints.
"""
from __future__ import annotations

from typing import Callable

Progress = Callable[[float, str], None]
"""``progress(fraction_done, message)``; fraction in [0, 1]."""


def no_progress(fraction: float, message: str) -> None:  # noqa: ARG001
    """Progress callback that ignores updates."""


def scaled(progress: Progress, start: float, stop: float) -> Progress:
    """The callback for a sub-task that covers ``[start, stop]`` of its parent's progress."""
    def report(fraction: float, message: str) -> None:
        progress(start + (stop - start) * min(max(fraction, 0.0), 1.0), message)
    return report
