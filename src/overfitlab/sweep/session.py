"""One ``overfitlab sweep`` from the plan to the page (the CLI command is a thin wrapper).

:func:`execute` skips the points already done, starts or reaches the cluster only when some
remain, checks the workers, runs the rest with progress, and then writes the table, the figures
and the page from every point of the grid. Interrupted (Ctrl+C), it still writes the table of
what finished, with the other points ``pending``, before re-raising.
"""
from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from overfitlab.experiments.registry import get
from overfitlab.experiments.results_io import render_pngs, write_atomic
from overfitlab.sweep.cluster import check_workers, dashboard_link, open_client
from overfitlab.sweep.display import SweepProgress
from overfitlab.sweep.figures import numeric_answers, sweep_figures
from overfitlab.sweep.grid import SweepPlan
from overfitlab.sweep.page import render_page, write_page
from overfitlab.sweep.runner import done_records, run_points, sweep_directory
from overfitlab.sweep.table import table_rows, write_table


@dataclass
class SweepSummary:
    """What a finished sweep wrote and how it went."""

    directory: Path
    rows: list[dict[str, Any]]
    answers: dict[str, str]  # numeric answers shown: {id: question}
    wall_s: float
    files: dict[str, Path] = field(default_factory=dict)  # table, csv, page

    @property
    def failed(self) -> int:
        return sum(r["status"] == "failed" for r in self.rows)


def command_line(name: str, grids: list[str], quick: bool, seed: int | None, seeds: int | None,
                 assignments: list[str], out: Path, data_dir: Path | None) -> str:
    """The ``overfitlab sweep`` command that reproduces a sweep (where it runs aside)."""
    parts = ["overfitlab", "sweep", name]
    parts += [a for g in grids for a in ("--grid", g)]
    parts += ["--quick"] if quick else []
    parts += ["--seed", str(seed)] if seed is not None else []
    parts += ["--seeds", str(seeds)] if seeds is not None else []
    parts += [a for s in assignments for a in ("--set", s)]
    parts += ["--data-dir", str(data_dir)] if data_dir is not None else []
    return shlex.join(parts + ["--out", str(out)])


def _finish(plan: SweepPlan, directory: Path, records: dict[str, dict], command: str,
            start: float) -> SweepSummary:
    """Write the table, the figures (stale ones removed) and the page of every point."""
    rows = table_rows(plan, records)
    directory.mkdir(parents=True, exist_ok=True)
    table, csv = write_table(plan, rows, directory)
    pngs = render_pngs(sweep_figures(plan, records))
    for old in directory.glob("*.png"):
        if old.name not in pngs:
            old.unlink()
    for name, png in pngs.items():
        write_atomic(directory / name, png)
    answers = numeric_answers(plan, records)
    page = write_page(render_page(plan, rows, answers, pngs, command,
                                  get(plan.experiment).description), directory)
    return SweepSummary(directory, rows, answers, time.perf_counter() - start,
                        {"table": table, "csv": csv, "page": page,
                         **{name: directory / name for name in pngs}})


def execute(plan: SweepPlan, out: Path, console: Console, command: str,
            scheduler: str | None = None, workers: int | None = None) -> SweepSummary:
    """Run the points of ``plan`` not done yet under ``out`` and write the sweep's files.

    The points run on the scheduler at ``scheduler``, else on a new LocalCluster of ``workers``
    processes (default: one per core). Raises :class:`ConfigError` before any point runs when
    the cluster cannot be reached or its workers cannot run the sweep.
    """
    start = time.perf_counter()
    directory = sweep_directory(out, plan.experiment)
    records = done_records(plan, directory)
    skipped = len(records)
    todo = [p for p in plan.points if p.key not in records]
    if not todo:
        console.print(f"{plan.experiment} sweep: all {len(plan.points)} points already done in "
                      f"{directory}", highlight=False, soft_wrap=True)
        return _finish(plan, directory, records, command, start)

    def finished(point, record) -> None:
        records[point.key] = record
        progress.finished(point, record)

    with open_client(scheduler, workers) as active:
        found = check_workers(active, directory, plan.version)
        link = dashboard_link(active)
        console.print(f"{plan.experiment} sweep: {len(plan.points)} points, {skipped} already "
                      f"done in {directory}, {len(todo)} to run on {len(found)} worker(s) of the "
                      f"Dask scheduler {active.scheduler.address}", highlight=False,
                      soft_wrap=True)
        console.print(f"Dask dashboard: {link or 'none (install bokeh to get one)'}",
                      highlight=False, soft_wrap=True)
        try:
            with SweepProgress(console, plan.experiment, len(plan.points), skipped) as progress:
                run_points(plan, directory, todo, active, progress.started, finished)
        except KeyboardInterrupt:
            _finish(plan, directory, records, command, start)
            raise
    return _finish(plan, directory, records, command, start)

