"""Python's cycle collector in overfitlab's own processes: run less often, skip what survived.

CPython collects reference cycles when allocations outnumber deallocations by the youngest
generation's threshold (700), and every tenth collection of a generation also collects the
next; an occasional full collection walks every container object of the process. An
experiment creates and drops hundreds of thousands of containers (JAX's tracing, matplotlib's
ticks and texts) in a process that holds millions more (JAX, SciPy, scikit-learn, matplotlib and
their caches), so collections ran often and the full ones walked all of it: 1,975 collections
and 2.63 s of a 50 s run of six full presets (weight-penalty, small-network, vanishing-gradient,
autoencoder-pca, double-descent, cnn; one process on one core, AVX-512 machine, 2026-12-03).

:func:`collect_rarely` collects once, moves everything that survives to the permanent
generation (``gc.freeze``: modules and caches, never walked again) and raises the youngest
threshold to :data:`YOUNGEST_THRESHOLD`: the same run then made 131 collections in 0.70 s
(threshold alone: 1.37 s; freeze alone: 2.07 s). In a full report (two workers, seven
experiments each, the same evening) the workers' collections took 2.2 s instead of 4.8 s, and
peak memory stayed at 1.5-1.6 GB. Cycles still go: a collection runs after that many net
allocations, and the next call collects what the previous work left. Objects frozen while alive
and dropped later are freed by reference counting; only cycles among them stay, for the
process's life, so it is for processes that overfitlab starts for a bounded job: the
``overfitlab`` program before an experiment and the report's workers before each of theirs.
Importing overfitlab changes nothing.
"""
from __future__ import annotations

import gc

YOUNGEST_THRESHOLD = 10_000
"""Net allocations of container objects between collections of the youngest generation."""


def collect_rarely() -> None:
    """Collect the garbage of the work so far, freeze what survives and collect less often
    from now on (see the module docstring)."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNGEST_THRESHOLD, middle, oldest)
