"""What the command line shows: a run's answers, their explanations, and progress.

Values are written by :mod:`overfitlab.formatting`, as in the report: never cut, a 10-90 % band
only where its ends differ. Sentences (text answers longer than the report's table takes) are
printed in full below the table instead of squeezed into a column. Progress is a Rich bar on a
terminal and plain log lines when stderr is piped or redirected, where a bar cannot move.
"""
from __future__ import annotations

import math
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn)
from rich.table import Table
from rich.text import Text

from overfitlab.experiments.base import Answer, Result
from overfitlab.experiments.display import is_text_answer
from overfitlab.formatting import format_band, format_value
from overfitlab.progress import Progress as ProgressCallback

LOG_EVERY_FRACTION = 0.10
"""Piped progress: a line each time another tenth of the work is done..."""

LOG_EVERY_S = 10.0
"""...or when this many seconds have passed since the last line, updates or not (a heartbeat)."""

EDGE_MARK = "at edge"


class ProgressLog:
    """A progress callback that prints plain lines: ``label  45%  12.3 s  message``.

    A line is printed on the first update, whenever the fraction done has crossed the next
    multiple of :data:`LOG_EVERY_FRACTION`, and once at completion; :meth:`heartbeat`, called
    every second by :func:`progress_display`, repeats the latest state when :data:`LOG_EVERY_S`
    seconds have passed without a line, so that a log shows a long compiled call is still running.
    Updates in between cost a lock and two comparisons. Safe to call from several threads (the
    engine reports from a worker thread when it trains parts concurrently).
    """

    def __init__(self, label: str, console: Console,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.console, self.clock = label, console, clock
        self.start = clock()
        self.next_fraction = 0.0
        self.next_time = self.start + LOG_EVERY_S
        self.fraction, self.message = 0.0, "starting"
        self.finished = False
        self._lock = threading.Lock()

    def __call__(self, fraction: float, message: str) -> None:
        with self._lock:
            self.fraction, self.message = fraction, message
            if self.finished or (fraction < self.next_fraction and fraction < 1.0):
                return
            self._print()

    def heartbeat(self) -> None:
        """Repeat the latest state if no line has been printed for :data:`LOG_EVERY_S`."""
        with self._lock:
            if not self.finished and self.clock() >= self.next_time:
                self._print()

    def _print(self) -> None:
        now = self.clock()
        self.finished = self.fraction >= 1.0
        self.next_fraction = (math.floor(self.fraction / LOG_EVERY_FRACTION + 1e-9) + 1) \
            * LOG_EVERY_FRACTION
        self.next_time = now + LOG_EVERY_S
        self.console.print(f"{self.label}  {self.fraction:4.0%}  {now - self.start:6.1f} s  "
                           f"{self.message}", markup=False, highlight=False, soft_wrap=True)


class ProgressBoard:
    """The progress of one or more labelled tasks running at once (the report runs experiments
    side by side): rich bars in one live display on a terminal, :class:`ProgressLog` lines
    otherwise, with one heartbeat thread for every log. Use as a context manager; :meth:`task`
    gives a task's ``progress(fraction, message)`` callback, :meth:`finish` takes its bar away."""

    COLUMNS = (SpinnerColumn(), TextColumn("[bold]{task.fields[label]}"), BarColumn(),
               TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
               TextColumn("{task.description}", markup=False))

    def __init__(self, console: Console) -> None:
        self.console = console
        self._bars = Progress(*self.COLUMNS, console=console, transient=True,
                              refresh_per_second=5) if console.is_terminal else None
        self._callbacks: dict[str, ProgressCallback] = {}
        self._logs: dict[str, ProgressLog] = {}  # the running tasks' logs (heartbeats)
        self._tasks: dict[str, int] = {}  # the running tasks' bars
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeats, daemon=True,
                                      name="overfitlab-progress-log")

    def __enter__(self) -> "ProgressBoard":
        if self._bars is not None:
            self._bars.start()
        else:
            self._beat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bars is not None:
            self._bars.stop()
        else:
            self._stop.set()
            self._beat.join()

    def task(self, label: str) -> ProgressCallback:
        """The progress callback of the task called ``label``, created on first use; silent
        once the task is finished."""
        if label not in self._callbacks:
            self._callbacks[label] = self._new_task(label)
        return self._callbacks[label]

    def _new_task(self, label: str) -> ProgressCallback:
        if self._bars is None:
            log = self._logs[label] = ProgressLog(label, self.console)
            return log
        bars = self._bars
        task = self._tasks[label] = bars.add_task("starting", total=1.0, label=escape(label))

        def update(fraction: float, message: str) -> None:
            if label in self._tasks:
                bars.update(task, completed=min(max(fraction, 0.0), 1.0), description=message)

        return update

    def finish(self, label: str) -> None:
        """Take ``label``'s bar off the display; its callback prints nothing more (late updates
        of a task that ran elsewhere may still arrive)."""
        self._callbacks.setdefault(label, lambda fraction, message: None)
        if label in self._tasks:
            self._bars.remove_task(self._tasks.pop(label))
        log = self._logs.pop(label, None)
        if log is not None:
            log.finished = True

    def _heartbeats(self) -> None:
        while not self._stop.wait(1.0):
            for log in list(self._logs.values()):
                log.heartbeat()


@contextmanager
def progress_display(label: str, console: Console) -> Iterator[ProgressCallback]:
    """The ``progress(fraction, message)`` callback for ``label``: a bar or log lines."""
    with ProgressBoard(console) as board:
        yield board.task(label)


def answers_table(result: Result) -> Table:
    """The answers with a number or a short word as value, one row each, nothing cut."""
    uses_seeds = result.config.USES_SEEDS
    seeds = f"{result.config.seeds} seeds" if uses_seeds else "no seeds"
    table = Table(title=f"{result.experiment}  ({seeds}, {result.elapsed_s:.1f} s)")
    table.add_column("answer", style="bold", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    if uses_seeds:
        table.add_column("10-90 %", justify="right", overflow="fold")
    for a in result.answers:
        if _is_text(a):
            continue
        value = Text(format_value(a.value))
        if a.at_edge:
            value.append(f" ({EDGE_MARK})", style="yellow")
        band = [format_band(a.low, a.high)] if uses_seeds else []
        table.add_row(a.id, value, *band)
    return table


def print_result(result: Result, console: Console, explain: bool) -> None:
    """The table, then every text answer in full, the notes, and the explanations: all of them
    with ``explain``, otherwise only those of answers at the edge of their search (they say how
    to widen it)."""
    console.print(answers_table(result))
    for a in result.answers:
        if _is_text(a):
            console.print(Text.assemble((f"{a.id}: ", "bold"), a.value))
    for note in result.notes:
        console.print(Text.assemble(("note: ", "bold"), note))
    for a in result.answers:
        if explain or a.at_edge:
            label = f"{a.id} ({EDGE_MARK})" if a.at_edge else a.id
            console.print(Text.assemble(("\n" + label, "bold"), (f"  {a.question}", "italic")))
            console.print(Text(a.explanation), style="dim" if not a.at_edge else None)
    if not explain:
        console.print(Text("--explain prints why each value is what it is", style="dim"))


def _is_text(answer: Answer) -> bool:
    return is_text_answer({"value": answer.value})
