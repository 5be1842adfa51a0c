"""Cold fit in a new process, with and without the kept lowered programs (engine/programs.py).

Each repeat starts two fresh Python processes one after the other, both on the same warm
compilation cache (a temporary ``OVERFITLAB_CACHE``, filled by untimed runs: two with programs
kept, since a key's second process keeps its program, and one without): one loads the kept
lowered training program, the other traces and lowers the engine (its program folder switched
off). Each process times its first ``RegularizedMLPRegressor.fit``
(the course network: 10 points, 20 tanh units, 20000 iterations, test curve recorded), which is
what a notebook kernel or a CLI run pays. Prints the medians and their ratio.

``--empty-cache`` gives every process an empty cache of its own instead: nothing is kept or
compiled yet, the case of a key's first process, which should cost the same either way.

Usage: python benchmarks/bench_cold_fit.py [--repeats 5] [--empty-cache]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = """
import sys, time, warnings
warnings.simplefilter("ignore")
if sys.argv[1] == "traced":
    import overfitlab.engine.programs as programs
    programs._directory = lambda: None
from overfitlab.data.synthetic import noisy_function
from overfitlab.estimators import RegularizedMLPRegressor
data = noisy_function(n_train=10, seed=0)
model = RegularizedMLPRegressor((20,), "tanh", max_iter=20000, tol=0.0, random_state=0)
start = time.perf_counter()
model.fit(data.X_train, data.y_train, eval_set=(data.X_test, data.y_test))
print(time.perf_counter() - start)
"""


def cold_fit(kind: str, cache: str) -> float:
    """Seconds of the first fit in a new process (``kind``: "kept" or "traced")."""
    out = subprocess.run([sys.executable, "-c", CHILD, kind], capture_output=True, text=True,
                         check=True, env={**os.environ, "OVERFITLAB_CACHE": cache})
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--empty-cache", action="store_true",
                        help="an empty cache for every process (a key's first process)")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"kept": [], "traced": []}
    with tempfile.TemporaryDirectory() as shared:
        if not args.empty_cache:
            for kind in ("kept", "kept", "traced"):  # mark, keep; the compiled programs
                cold_fit(kind, shared)
        for _ in range(args.repeats):
            for kind in times:
                if args.empty_cache:
                    with tempfile.TemporaryDirectory() as empty:
                        times[kind].append(cold_fit(kind, empty))
                else:
                    times[kind].append(cold_fit(kind, shared))
    load = os.getloadavg()[0]
    for kind, label in (("kept", "programs kept"), ("traced", "engine traced")):
        runs = ", ".join(f"{t:.2f}" for t in times[kind])
        print(f"{label:16s} median {statistics.median(times[kind]):.3f} s  ({runs})")
    ratio = statistics.median(times["kept"]) / statistics.median(times["traced"])
    cache = "empty caches" if args.empty_cache else "warm cache"
    print(f"ratio kept / traced: {ratio:.2f} ({cache}; load average {load:.2f})")


if __name__ == "__main__":
    main()
