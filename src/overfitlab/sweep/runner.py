"""Run the points of a sweep that are not done yet: as Dask tasks, or one after the other.

Layout of a sweep directory (``OUT/<experiment>-sweep/``)::

    points/<key>/<experiment>/   the point's results folder (results.json, figures, arrays.npz)
    points/<key>/point.json      its record: status, error, worker, elapsed time, answers
    table.parquet, table.csv     one row per point of the last sweep run here
    *.png, sweep.html            its figures and page

A point is done when its record says ``"ok"`` and its results.json exists; done points are
skipped, failed ones run again. Each point is one Dask task (:func:`task_key`): should a worker die,
the scheduler runs its task again elsewhere, and the point's folder is replaced as a whole, so
nothing is lost and nothing is doubled.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

from overfitlab.errors import ConfigError
from overfitlab.sweep.grid import Point, SweepPlan
from overfitlab.sweep.task import LOCAL, TOPIC, one_line, outcome, read_record, run_point

Record = dict[str, Any]
OnStart = Callable[[Point, str], None]  # (point, worker address)
OnFinish = Callable[[Point, Record], None]


def sweep_directory(out: Path, experiment: str) -> Path:
    """Where the sweep of ``experiment`` under ``out`` keeps its points, table and page."""
    return Path(out) / f"{experiment}-sweep"


def check_output(directory: Path) -> None:
    """Refuse, before any work, a sweep directory that cannot be created or written."""
    existing = Path(directory)
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{directory} cannot be created: {existing} is a file, not a "
                          f"directory; choose another --out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write to {existing}; choose another --out directory")


def point_directory(directory: Path, point: Point) -> Path:
    """The folder of ``point`` inside the sweep directory."""
    return Path(directory) / "points" / point.key


def task_key(plan: SweepPlan, point: Point, directory: Path) -> str:
    """The Dask key of ``point``: the experiment (the dashboard groups tasks by it), the point's
    key and a hash of the output directory (the same point swept into two directories on one
    shared cluster is two tasks: each directory gets its folder)."""
    where = hashlib.sha256(str(Path(directory).resolve()).encode()).hexdigest()[:8]
    return f"{plan.experiment}-{point.key}-{where}"


def done_records(plan: SweepPlan, directory: Path) -> dict[str, Record]:
    """Records of the points of ``plan`` already done in ``directory``, by point key."""
    done = {}
    for point in plan.points:
        folder = point_directory(directory, point)
        record = read_record(folder)
        if (record is not None and record.get("status") == "ok"
                and (folder / plan.experiment / "results.json").is_file()):
            done[point.key] = record
    return done


def _ignore(*_: Any) -> None:
    """Default event callback."""


def run_points(plan: SweepPlan, directory: Path, points: list[Point], client=None,
               on_start: OnStart = _ignore, on_finish: OnFinish = _ignore) -> dict[str, Record]:
    """Run ``points`` of ``plan``, writing under ``directory``; return their records by key.

    With a ``distributed.Client`` each point is a task (started in grid order, gathered as they
    finish); without one they run here, in order. ``on_start(point, worker)`` and
    ``on_finish(point, record)`` report progress; on a cluster ``on_start`` is called from the
    client's event thread. On KeyboardInterrupt the tasks still queued are cancelled.
    """
    records: dict[str, Record] = {}
    if client is None:
        for point in points:
            on_start(point, LOCAL)
            records[point.key] = run_point(plan.experiment, point.config,
                                           str(point_directory(directory, point)), point.key,
                                           plan.version)
            on_finish(point, records[point.key])
        return records

    from distributed import as_completed

    by_key = {p.key: p for p in points}

    def started(event: tuple[float, dict]) -> None:
        message = event[1]
        if message.get("event") == "started" and message.get("key") in by_key:
            on_start(by_key[message["key"]], message.get("worker", "?"))

    client.subscribe_topic(TOPIC, started)
    futures = {client.submit(run_point, plan.experiment, p.config,
                             str(point_directory(directory, p)), p.key, plan.version,
                             key=task_key(plan, p, directory)): p for p in points}
    try:
        for future in as_completed(futures):
            point = futures[future]
            try:
                record = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the worker died thrice
                record = outcome(point.key, plan.experiment, "failed", None, one_line(exc))
            records[point.key] = record
            on_finish(point, record)
    finally:
        client.cancel([f for f in futures if not f.done()])
        client.unsubscribe_topic(TOPIC)
    return records
