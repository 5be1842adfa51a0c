"""Where a report's time goes: each experiment alone, in a fresh process, on an empty cache.

For every experiment (or those named), a new Python process with an empty ``OVERFITLAB_CACHE``
(nothing compiled or kept yet, as in a first ``overfitlab report``) runs the preset, then renders
its figures to PNG as the report does. It prints the run's seconds, the part of them spent
compiling (JAX's tracing, lowering to MLIR and XLA's backend compilation, summed from
``jax.monitoring``'s duration events) and the rendering seconds, then the totals. Experiments
that reuse another's computations in the report (``small-network``) train them again here.

Usage: python benchmarks/bench_experiment_split.py [--preset full|quick] [NAME ...]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = """
import collections, json, sys, time, warnings
warnings.simplefilter("ignore")
from overfitlab.process_memory import keep_freed_memory
from overfitlab.xla_loops import compile_loops_whole
keep_freed_memory()  # as the report's workers do
compile_loops_whole()  # likewise, before JAX starts
import jax.monitoring
spent = collections.Counter()
COMPILING = ("jaxpr_trace_duration", "jaxpr_to_mlir_module_duration", "backend_compile_duration")

def listen(event, duration, **_):
    if event.rsplit("/", 1)[-1] in COMPILING:
        spent["compile"] += duration

jax.monitoring.register_event_duration_secs_listener(listen)
from overfitlab.experiments import registry
from overfitlab.experiments.results_io import figure_pngs
name, preset = sys.argv[1:3]
start = time.perf_counter()
result = registry.get(name).run(registry.config_class(name).preset(preset))
run = time.perf_counter() - start
start = time.perf_counter()
figure_pngs(result)
print(json.dumps({"run": run, "compile": spent["compile"],
                  "figures": time.perf_counter() - start}))
"""


def measure(name: str, preset: str) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        done = subprocess.run([sys.executable, "-c", CHILD, name, preset], capture_output=True,
                              text=True, env={**os.environ, "OVERFITLAB_CACHE": cache})
    if done.returncode:
        raise SystemExit(f"{name} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="experiments (default: all, catalog order)")
    parser.add_argument("--preset", default="full", choices=("full", "quick"))
    args = parser.parse_args()
    from overfitlab.experiments import registry
    names = args.names or [entry.name for entry in registry.catalog()]
    print(f"{args.preset} presets, each experiment alone on an empty cache; load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    print(f"{'experiment':22s} {'run, s':>7s} {'compiling':>10s} {'figures, s':>11s}")
    totals = dict.fromkeys(("run", "compile", "figures"), 0.0)
    for name in names:
        row = measure(name, args.preset)
        print(f"{name:22s} {row['run']:7.1f} {row['compile']:10.1f} {row['figures']:11.1f}",
              flush=True)
        totals = {k: totals[k] + row[k] for k in totals}
    print(f"{'total':22s} {totals['run']:7.1f} {totals['compile']:10.1f} "
          f"{totals['figures']:11.1f}")


if __name__ == "__main__":
    main()
