"""Cost of showing progress: an experiment run with no display, with log lines, with a Rich bar.

The CLI shows ``progress(fraction, message)`` updates as a Rich bar on a terminal (redrawn by a
background thread five times a second) or as log lines when stderr is piped. Both must cost under
5 % of a run. Each mode runs the same experiment (compiled code warmed up first) ``--repeats``
times, interleaved in rotating order so that load changes hit every mode alike; the median
seconds and their ratio to the run without display (wall time, and the process's CPU time, which
load blurs less) are printed with the load average. Last, the CPU share of each display by itself
(20 updates a second while the process sleeps) bounds that cost independently of the load on the
machine.

Usage: python benchmarks/bench_cli_progress.py [--experiment NAME] [--quick] [--repeats N]
                                               [--set key=value ...]
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import io
import os
import statistics
import time

from rich.console import Console

from overfitlab.experiments.registry import get
from overfitlab.progress import no_progress
from overfitlab.terminal import progress_display


def timed_run(experiment, config, mode: str) -> tuple[float, float, int]:
    """Wall and CPU seconds of one run in ``mode``, and the number of progress updates."""
    calls = [0]
    sink = Console(file=io.StringIO(), force_terminal=(mode == "bar"), width=100)
    display = progress_display(experiment.name, sink) if mode != "none" \
        else contextlib.nullcontext(no_progress)
    start, start_cpu = time.perf_counter(), time.process_time()
    with display as update:
        def show(fraction, message):
            calls[0] += 1
            update(fraction, message)
        experiment.run(config, show)
    return time.perf_counter() - start, time.process_time() - start_cpu, calls[0]


def idle_cpu_share(mode: str, seconds: float = 5.0, rate_hz: float = 20.0) -> float:
    """CPU seconds per wall second that the display costs by itself, while this process only
    sleeps and sends ``rate_hz`` updates a second (the bar's refresh thread included): a bound
    on its overhead that load on the machine does not blur."""
    sink = Console(file=io.StringIO(), force_terminal=(mode == "bar"), width=100)
    start_cpu, start = time.process_time(), time.perf_counter()
    with progress_display("idle", sink) as update:
        for i in range(int(seconds * rate_hz)):
            update(i / (seconds * rate_hz), f"iteration {i}")
            time.sleep(1 / rate_hz)
    return (time.process_time() - start_cpu) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="early-stopping")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--set", dest="assignments", action="append", default=[])
    args = parser.parse_args()
    experiment = get(args.experiment)
    cls = experiment.config_class
    config = cls.preset("quick" if args.quick else "full", **cls.parse_assignments(
        args.assignments))
    experiment.run(config)  # compile once
    modes = ("none", "log", "bar")
    wall: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    updates = {}
    for r in range(args.repeats):
        for mode in modes[r % 3:] + modes[:r % 3]:  # each mode first, second, third in turn
            gc.collect()
            elapsed, used, updates[mode] = timed_run(experiment, config, mode)
            wall[mode].append(elapsed)
            cpu[mode].append(used)
    base, base_cpu = statistics.median(wall["none"]), statistics.median(cpu["none"])
    print(f"{args.experiment} ({'quick' if args.quick else 'full'} {' '.join(args.assignments)}),"
          f" {args.repeats} interleaved repeats, load average {os.getloadavg()}")
    print(f"{'display':<8} {'wall s':>7} {'ratio':>6} {'CPU s':>7} {'ratio':>6} {'updates':>8}"
          f"  wall of each run (s)")
    for mode in modes:
        median, median_cpu = statistics.median(wall[mode]), statistics.median(cpu[mode])
        runs = " ".join(f"{s:.2f}" for s in wall[mode])
        print(f"{mode:<8} {median:7.3f} {median / base:6.3f} {median_cpu:7.3f} "
              f"{median_cpu / base_cpu:6.3f} {updates[mode]:8d}  {runs}")
    for mode in ("log", "bar"):
        print(f"{mode} display alone, 20 updates/s: {idle_cpu_share(mode):.2%} of one core")


if __name__ == "__main__":
    main()
