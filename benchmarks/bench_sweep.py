"""A 16-point quick sweep run sequentially in this process, then on LocalClusters of 1 and 2
workers (and once more on 2 workers with the compilation cache they filled).

Every configuration runs the same points (``overfitlab sweep``'s own task function, each point
writing its results folder) into a fresh directory, with a fresh, empty JAX compilation cache
(``OVERFITLAB_CACHE``) except the last one. Reported per configuration:

* wall: from submitting the first point to the last result (the cluster's start-up apart);
* start: starting the LocalCluster (worker processes spawned, overfitlab imported on first use);
* slowest / median point: a point's time inside its task (run + results folder); the slowest is
  usually a process's first, which also pays the imports and the compilation of its programs;
* overhead per task: (wall x workers - sum of the points' times) / points, the worker time not
  spent in points (scheduling, transfers, the idle tail);
* speed-up: the sequential wall over this wall.

    python benchmarks/bench_sweep.py [--experiment weight-penalty] [--grid ...] [--set ...]
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from overfitlab import __version__
from overfitlab.sweep.grid import plan_sweep
from overfitlab.sweep.runner import run_points

DEFAULT_GRID = ["n_train=10,20,40,80", "noise=0.1,0.2,0.3,0.4"]


def _run(plan, directory: Path, workers: int | None) -> dict:
    """Run every point of ``plan`` (in this process when ``workers`` is None)."""
    start = time.perf_counter()
    client = cluster = None
    if workers is not None:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    started = time.perf_counter()
    records = run_points(plan, directory, list(plan.points), client)
    wall = time.perf_counter() - started
    if client is not None:
        client.close()
        cluster.close()
    failed = [r["error"] for r in records.values() if r["status"] != "ok"]
    if failed:
        raise SystemExit(f"{len(failed)} point(s) failed, e.g. {failed[0]}")
    times = [records[p.key]["elapsed_s"] for p in plan.points]
    n = len(plan.points)
    return {"wall": wall, "start": started - start if workers else 0.0, "slowest": max(times),
            "median": statistics.median(times), "sum": sum(times),
            "overhead": (wall * (workers or 1) - sum(times)) / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="weight-penalty")
    parser.add_argument("--grid", action="append", help=f"default: {' '.join(DEFAULT_GRID)}")
    parser.add_argument("--set", action="append", default=[], dest="assignments")
    args = parser.parse_args()

    from overfitlab.experiments.registry import get

    cls = get(args.experiment).config_class
    base = cls.preset("quick", **cls.parse_assignments(args.assignments))
    plan = plan_sweep(args.experiment, base, args.grid or DEFAULT_GRID, __version__)
    root = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    print(f"{args.experiment} --quick, {len(plan.points)} points "
          f"({' x '.join(args.grid or DEFAULT_GRID)}); load average {os.getloadavg()[0]:.2f}",
          flush=True)
    configurations = [("sequential, this process", None, "cold"),
                      ("LocalCluster, 1 worker", 1, "cold"),
                      ("LocalCluster, 2 workers", 2, "cold"),
                      ("LocalCluster, 2 workers, warm cache", 2, "warm")]
    results = {}
    for label, workers, cache in configurations:
        if cache == "cold":
            os.environ["OVERFITLAB_CACHE"] = str(root / f"cache-{len(results)}")
        results[label] = _run(plan, root / f"out-{len(results)}", workers)
        print(f"  {label}: {results[label]['wall']:.1f} s "
              f"(load average {os.getloadavg()[0]:.2f})", flush=True)

    sequential = results[configurations[0][0]]["wall"]
    print("\n| configuration | wall | start | slowest point | median point | overhead per task "
          "| speed-up |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, r in results.items():
        print(f"| {label} | {r['wall']:.1f} s | {r['start']:.1f} s | {r['slowest']:.1f} s | "
              f"{r['median']:.1f} s | {r['overhead']:.2f} s | {sequential / r['wall']:.2f}x |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"outputs in {root}")


if __name__ == "__main__":
    main()
