"""The cores this process may run on: its CPU affinity where the operating system reports one
(Linux), else the machine's core count. A process confined by ``taskset``, a container's CPU set
or the report's worker shares sees only its own cores."""
from __future__ import annotations

import os


def allowed_cores() -> list[int]:
    """This process's CPU affinity, sorted; empty where the platform does not report one."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def usable_cores() -> int:
    """How many cores this process may run on (at least 1)."""
    return max(1, len(allowed_cores()) or os.cpu_count() or 1)
