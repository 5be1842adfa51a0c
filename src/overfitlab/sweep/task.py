"""What runs for one grid point, on a Dask worker or in this process.

:func:`run_point` runs the experiment's own ``run`` on the point's Config, writes the complete
results folder ``<point dir>/<experiment>/`` atomically (:func:`write_result`: a temporary
directory, then a rename), and only then the point's record ``<point dir>/point.json`` (also
atomically). A point counts as done when its record says ``"ok"``, so a worker killed at any
moment leaves either nothing or a complete point behind; the debris of a killed attempt
(temporary dot-directories) is removed when the point runs again.

Errors never escape: a failing point returns (and records) ``status: "failed"`` with a one-line
error, and the sweep goes on with the other points.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from overfitlab.experiments.base import Config

TOPIC = "overfitlab-sweep"
"""Dask event topic on which workers announce the point they start."""

RECORD = "point.json"
LOCAL = "this process"
"""The worker column of points run without a cluster."""


def one_line(exc: BaseException, limit: int = 500) -> str:
    """``Type: message`` of an exception on one line, at most ``limit`` characters."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def outcome(key: str, experiment: str, status: str, worker: str | None,
            error: str | None = None, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record of one point's attempt: what :func:`run_point` returns and stores.

    ``payload`` is the point's results.json document, of which the metrics and answers are kept.
    """
    payload = payload or {}
    return {"key": key, "experiment": experiment, "status": status, "error": error,
            "worker": worker, "elapsed_s": None,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "metrics": payload.get("metrics", {}), "answers": payload.get("answers", [])}


def read_record(directory: Path) -> dict[str, Any] | None:
    """The record of the point stored in ``directory``, or None if there is none (or it is
    unreadable, which counts as not done)."""
    try:
        return json.loads((Path(directory) / RECORD).read_text())
    except (OSError, ValueError):
        return None


def _announce(key: str) -> str:
    """Tell the client that ``key`` starts (a Dask event); return where it runs."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not inside a Dask worker
        return LOCAL
    worker.log_event(TOPIC, {"event": "started", "key": key, "worker": worker.address})
    return worker.address


def _remove_debris(directory: Path) -> None:
    """Delete the temporary files and directories an interrupted attempt left in
    ``directory`` (their names start with a dot)."""
    for entry in directory.glob(".*"):
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def installed_version() -> str:
    """The overfitlab version of this process (the client compares its workers' with its own)."""
    from overfitlab import __version__

    return __version__


def worker_report(probe: str) -> dict[str, Any]:
    """Pre-flight answer of a worker: its overfitlab version and whether it sees ``probe``, a
    file the client wrote in the sweep directory."""
    return {"overfitlab": installed_version(), "sees_output": os.path.exists(probe)}


def run_point(experiment: str, config: Config, directory: str, key: str,
              version: str) -> dict[str, Any]:
    """Run one point, write its results folder and record under ``directory``; return the
    record (see :func:`outcome`). ``version`` is the client's overfitlab version."""
    from overfitlab.compilation_cache import enable_compilation_cache
    from overfitlab.experiments.registry import get
    from overfitlab.experiments.results_io import result_payload, write_atomic, write_result

    start = time.perf_counter()
    worker = _announce(key)
    folder = Path(directory)
    try:
        if installed_version() != version:
            raise RuntimeError(f"this worker has overfitlab {installed_version()}, the client "
                               f"{version}; install the same version on every worker")
        enable_compilation_cache()
        folder.mkdir(parents=True, exist_ok=True)
        _remove_debris(folder)
        result = get(experiment).run(config)
        write_result(result, folder)
        record = outcome(key, experiment, "ok", worker, payload=result_payload(result))
    except Exception as exc:  # noqa: BLE001 - reported in the table; the sweep goes on
        record = outcome(key, experiment, "failed", worker, error=one_line(exc))
    record["elapsed_s"] = round(time.perf_counter() - start, 3)
    try:
        write_atomic(folder / RECORD, (json.dumps(record, indent=1) + "\n").encode())
    except OSError as exc:
        if record["status"] == "ok":  # not recorded means not done: say so
            record.update(status="failed", error=f"could not record the point: {one_line(exc)}")
    return record
