"""What a person sees of a sweep in the terminal: progress while it runs, a table at the end.

On a terminal a Rich progress bar counts the points done, running and failed (failures are also
printed above the bar as they happen); elsewhere (a log file, CI) each finished point prints one
plain line. Events may arrive from the Dask client's thread, hence the lock.
"""
from __future__ import annotations

import threading
from typing import Any

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table

from overfitlab.formatting import format_band, format_value
from overfitlab.sweep.grid import Point


class SweepProgress:
    """Progress over the points of one sweep; use as a context manager.

    ``total`` counts every point of the grid, ``done`` those already done before this run (they
    start the bar filled that far).
    """

    def __init__(self, console: Console, label: str, total: int, done: int = 0) -> None:
        self.console, self.label, self.total = console, label, total
        self.done, self.failed = done, 0
        self.running: set[str] = set()
        self._lock = threading.Lock()
        self._bar: Progress | None = None
        if console.is_terminal:
            self._bar = Progress(TextColumn("[bold]{task.fields[label]}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.description}"),
                                 TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=console, transient=True)
            self._task = self._bar.add_task(self._counts(), total=total, completed=done,
                                            label=label)

    def __enter__(self) -> "SweepProgress":
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _counts(self) -> str:
        return f"running {len(self.running)}, failed {self.failed}"

    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done + self.failed,
                             description=self._counts())

    def started(self, point: Point, worker: str) -> None:  # noqa: ARG002 - callback signature
        """A worker started ``point``."""
        with self._lock:
            self.running.add(point.key)
            self._refresh()

    def finished(self, point: Point, record: dict[str, Any]) -> None:
        """``point`` finished (``record['status']`` is ``ok`` or ``failed``)."""
        with self._lock:
            self.running.discard(point.key)
            ok = record["status"] == "ok"
            self.done += ok
            self.failed += not ok
            where = f"{record['elapsed_s']:.1f} s on {record['worker']}" \
                if record.get("elapsed_s") is not None else "no worker finished it"
            if self._bar is None:
                status = "ok" if ok else f"FAILED: {record['error']}"
                self.console.print(f"[{self.done + self.failed}/{self.total}] {point.label()}: "
                                   f"{status} ({where})", highlight=False, soft_wrap=True)
            elif not ok:
                self.console.print(f"[red]✗[/] {point.label()}: {record['error']} ({where})",
                                   highlight=False, soft_wrap=True)
            self._refresh()


def _answer_cell(row: dict[str, Any], answer_id: str) -> str:
    name = f"answer_{answer_id}"
    band = format_band(row.get(f"{name}_low"), row.get(f"{name}_high"))
    return (format_value(row.get(name)) + (f" ({band})" if band else "")
            + (" edge" if row.get(f"{name}_at_edge") else ""))


def summary_table(title: str, keys: tuple[str, ...], rows: list[dict[str, Any]],
                  answers: dict[str, str]) -> Table:
    """One line per point: grid values, status, each numeric answer with its 10-90 % band
    (``edge``: optimum at an end of the searched range), time and worker."""
    table = Table(title=title)
    for key in keys:
        table.add_column(key, justify="right", style="bold")
    table.add_column("status")
    for answer_id in answers:
        table.add_column(answer_id, justify="right")
    table.add_column("time (s)", justify="right")
    table.add_column("worker")
    for row in rows:
        status = {"ok": "[green]ok[/]", "failed": "[red]failed[/]"}.get(row["status"],
                                                                      row["status"])
        table.add_row(*(format_value(row[k]) for k in keys), status,
                      *(_answer_cell(row, a) for a in answers),
                      format_value(row["elapsed_s"]),
                      (row["worker"] or "—").split("://")[-1])  # tcp://host:port -> host:port
    return table
