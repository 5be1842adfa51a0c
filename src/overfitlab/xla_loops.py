"""XLA's CPU loops in overfitlab's own processes: each training loop compiled as one function.

By default XLA's CPU backend runs a ``while`` loop (the engine's ``lax.scan`` over epochs) as a
sequence of kernels per iteration, each dispatched by its runtime onto a pool of threads, one per
core. An iteration of the engine does microseconds of arithmetic (20 course networks: 20 x 10
rows x 61 weights), so dispatch dominates, and the pool's second thread spins waiting for work
that a single core would finish as soon: 20 networks took 14 µs of wall time and 27 µs of CPU
time per Adam step on 2 cores, 13 µs of both when the process was pinned to one core.

XLA can instead compile a whole loop, when one iteration touches fewer bytes than its backend
option ``xla_cpu_small_while_loop_byte_threshold``, as one function that runs on one thread
(its ``SmallWhileLoopHoistingPass``; loops holding library calls, such as YNNPACK's matrix
products, are left as they are). With the threshold at :data:`WHOLE_LOOP_BYTES` every loop of
the engine qualifies: per Adam step, 1 network 5.5 -> 2.5 µs, 20 networks 14 µs (27 µs of CPU)
-> 13 µs (13 µs), 175 networks (two concurrent parts, see ``engine.train._parallel_parts``)
53 µs (104 µs of CPU) -> 53 µs (95 µs); 1000 networks, 5000 steps, 1.43-1.50 s -> 1.28-1.36 s
(2-core AVX2 machine, jax 0.10.2). On that machine the full report's arrays are bit for bit
those without the option; on an AVX-512 one some reductions are summed in another order, so
results agree to float32 rounding (which long training can amplify), and every process of one
program compiles alike. Measured figures: docs/performance.md, "Many small networks against
hand-written peers" and "Reports and start-up".

XLA reads the option from ``XLA_FLAGS`` once, when JAX's backend starts, and applies it to every
program of the process. So :func:`compile_loops_whole` sets it only in a process that has not
imported JAX yet, and only where the user's ``XLA_FLAGS`` pass no backend options of their own.
The ``overfitlab`` program and the report's workers call it; importing overfitlab does not (it
would change how someone else's programs compile), but a notebook or script may call it itself
before it imports JAX, or start Python with ``XLA_FLAGS`` set to :func:`flag`.
"""
from __future__ import annotations

import os
import sys
from functools import cache

OPTION = "xla_cpu_small_while_loop_byte_threshold"
WHOLE_LOOP_BYTES = 2**30
"""Bytes one loop iteration may touch and still be compiled whole: far above any of the
engine's loops (1000 networks recording a 100-point test error touch about 10 MB)."""


def flag() -> str:
    """The ``XLA_FLAGS`` entry that compiles every loop under :data:`WHOLE_LOOP_BYTES` whole."""
    return f"--xla_backend_extra_options={OPTION}={WHOLE_LOOP_BYTES}"


@cache
def compile_loops_whole() -> bool:
    """Add :func:`flag` to ``XLA_FLAGS`` (see the module docstring); True when added, False
    when JAX is already imported (its backend may have read the flags) or ``XLA_FLAGS``
    already passes backend options, which are left as the user set them."""
    if "jax" in sys.modules or "jaxlib" in sys.modules:
        return False
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_extra_options" in flags:
        return False
    os.environ["XLA_FLAGS"] = f"{flags} {flag()}".strip()
    return True
