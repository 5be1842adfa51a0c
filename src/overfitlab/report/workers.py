"""The report's experiments, several at once, each in a worker process.

An experiment's compiled programs use every core for their large operations, but only part of
the time: compilation, small steps, NumPy analysis and figure rendering run on one core. Two
experiments side by side fill those gaps (docs/performance.md, "Reports and start-up").

Each worker runs on its own share of the cores (CPU affinity, set before JAX starts its thread
pools, which size themselves from it): two experiments' pools would otherwise contend for the
same cores (measured in the same section). An experiment's numbers depend on the number of
cores its process computes on, at float32 rounding (XLA splits some large sums, such as a
convolution's kernel gradient, across threads), so every share has the same size.

Workers are spawned processes (JAX does not survive ``fork``) started with Ctrl+C ignored, so
that the parent alone decides what an interruption means, and they are terminated with it; on
Linux they also receive SIGKILL when the parent dies (``PR_SET_PDEATHSIG``), so that a killed
report leaves no computation running. A worker runs an experiment (with Python's cycle
collector set to run rarely and to skip what the imports and earlier tasks left,
:mod:`overfitlab.cyclic_gc`), renders its figures to PNG and sends back the Result without its
matplotlib Figures (their names stay, their PNG bytes travel beside them) and with the versions
it was computed with (so the parent never imports JAX); progress travels on a queue, as
``(task index, fraction, message)``, and so does the start of each task, as ``(task index,
None, worker pid)``, which lets the parent notice a worker that dies. Experiments that reuse
another's computations in memory (``Experiment.reuses``) run in that one's worker, after it.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import queue
import signal
import sys
from dataclasses import dataclass, replace
from typing import Callable, Iterator

from overfitlab.cores import allowed_cores
from overfitlab.experiments.base import Config, Result
from overfitlab.progress import Progress

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_POLL_S = 0.1
_progress_queue: multiprocessing.Queue | None = None  # the worker's end of the progress queue


@dataclass
class Finished:
    """A task's outcome: its Result (figures as names only) and rendered PNGs, or the exception
    it raised (re-raised by :meth:`unwrap`, where the caller reports it)."""

    index: int
    result: Result | None = None
    pngs: dict[str, bytes] | None = None
    error: BaseException | None = None

    def unwrap(self) -> tuple[Result, dict[str, bytes]]:
        if self.error is not None:
            raise self.error
        return self.result, self.pngs


def core_shares(cores: list[int], workers: int) -> list[list[int]] | None:
    """Disjoint shares of ``cores``, one per worker, all of the same size (cores left over stay
    unused), or None when there are fewer cores than workers (then every worker may use every
    core). Equal sizes keep the numbers from depending on which worker runs an experiment: XLA
    splits some large sums across as many threads as its process has cores."""
    size = len(cores) // workers
    if size == 0:
        return None
    return [cores[i * size:(i + 1) * size] for i in range(workers)]


def _start_worker(progress_queue: multiprocessing.Queue, parent: int,
                  shares: list[list[int]] | None, started: multiprocessing.Value) -> None:
    """Worker start-up: die with the parent, run on the next share of the cores, keep freed
    memory for reuse, compile loops whole, use the compilation cache, report on the queue."""
    global _progress_queue
    _progress_queue = progress_queue
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was asked for
            os._exit(1)
    with started.get_lock():
        index = started.value
        started.value += 1
    if shares is not None:  # (None too where the platform has no CPU affinity)
        try:
            os.sched_setaffinity(0, shares[index % len(shares)])  # before JAX sizes its pools
        except OSError:  # not allowed here (a restricted container): run on every core
            pass
    from overfitlab.compilation_cache import enable_compilation_cache
    from overfitlab.process_memory import keep_freed_memory
    from overfitlab.xla_loops import compile_loops_whole

    keep_freed_memory()  # before JAX starts its threads
    compile_loops_whole()  # before JAX reads XLA_FLAGS (inherited from the program if set)
    enable_compilation_cache()


def _run_task(index: int, name: str, config: Config) -> Finished:
    """In a worker: run experiment ``name`` on ``config`` and render its figures."""
    from overfitlab.cyclic_gc import collect_rarely
    from overfitlab.experiments.registry import get
    from overfitlab.experiments.results_io import figure_pngs, versions

    def progress(fraction: float, message: str) -> None:
        _progress_queue.put((index, fraction, message))

    _progress_queue.put((index, None, os.getpid()))  # started, in this process
    try:
        experiment = get(name)
        collect_rarely()  # after the experiment's imports, before its work
        result = experiment.run(config, progress)
        pngs = figure_pngs(result)
    except Exception as exc:  # noqa: BLE001  (handed to the parent, which reports it)
        return Finished(index, error=exc)
    return Finished(index, replace(result, figures=dict.fromkeys(result.figures),
                                   versions=versions()), pngs)


def _run_group(group: list[tuple[int, str, Config]]) -> list[Finished]:
    """In a worker: run the tasks of ``group`` one after the other."""
    return [_run_task(index, name, config) for index, name, config in group]


def groups_reusing(names: list[str], reuses: dict[str, tuple[str, ...]]) -> list[list[int]]:
    """The indices of ``names`` in groups to run in one worker each: an experiment joins the
    group of an earlier one it reuses (``reuses[name]``, see ``Experiment.reuses``), so that it
    finds that one's computations in memory; every other experiment is a group of its own."""
    group_of: dict[str, int] = {}
    groups: list[list[int]] = []
    for i, name in enumerate(names):
        shared = [group_of[earlier] for earlier in reuses.get(name, ()) if earlier in group_of]
        group_of[name] = shared[0] if shared else len(groups)
        if shared:
            groups[shared[0]].append(i)
        else:
            groups.append([i])
    return groups


class WorkerDiedError(RuntimeError):
    """A worker process ended without handing back its experiment's result (killed: by the
    system's out-of-memory killer, or by a signal); ``index`` is that experiment's task."""

    def __init__(self, index: int) -> None:
        super().__init__("its worker process ended without a result (killed, e.g. by the "
                         "system when memory ran out)")
        self.index = index


def run_in_workers(tasks: list[tuple[str, Config]], groups: list[list[int]], workers: int,
                   progress_for: Callable[[int], Progress]) -> Iterator[Finished]:
    """Run ``tasks`` (experiment name, config) on ``workers`` processes, each on its own share
    of the cores (:func:`core_shares`), each group of task indices in one worker in its order,
    the groups in order of submission; yield the tasks as their groups finish.
    ``progress_for(index)`` is task ``index``'s progress callback, called in this process. A
    worker that dies while it runs a task raises :class:`WorkerDiedError`
    (``multiprocessing.Pool`` itself would replace it and wait forever for the lost result).
    Leaving the iteration early (an error, Ctrl+C) terminates the workers at once."""
    context = multiprocessing.get_context("spawn")
    progress_queue = context.Queue()
    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited through exec by workers
    try:
        pool = context.Pool(workers, initializer=_start_worker,
                            initargs=(progress_queue, os.getpid(),
                                      core_shares(allowed_cores(), workers),
                                      context.Value("i", 0)))
    finally:
        signal.signal(signal.SIGINT, ignored)
    group_of = {i: g for g, group in enumerate(groups) for i in group}
    running: dict[int, tuple[int, int]] = {}  # group -> (task index, worker pid) it runs now

    def relay(timeout: float) -> None:
        for index, pid in _relay(progress_queue, progress_for, timeout):
            running[group_of[index]] = (index, pid)

    try:
        pending = {g: pool.apply_async(_run_group, ([(i, *tasks[i]) for i in group],))
                   for g, group in enumerate(groups)}
        while pending:
            relay(timeout=_POLL_S)
            for g in [g for g, handle in pending.items() if handle.ready()]:
                relay(timeout=0.0)  # its last updates first
                running.pop(g, None)
                yield from pending.pop(g).get()
            for g, (index, pid) in running.items():
                if not _exists(pid) and not pending[g].ready():
                    raise WorkerDiedError(index)
        pool.close()
    finally:
        pool.terminate()
        pool.join()
        progress_queue.close()


def _exists(pid: int) -> bool:
    """Whether process ``pid`` exists (a dead worker is reaped by the pool within 0.1 s)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _relay(progress_queue: multiprocessing.Queue, progress_for: Callable[[int], Progress],
           timeout: float) -> list[tuple[int, int]]:
    """Pass the queued progress updates on (waiting up to ``timeout`` for the first); return
    the tasks that started meanwhile, as (task index, worker pid)."""
    started = []
    try:
        item = progress_queue.get(timeout=timeout) if timeout else progress_queue.get_nowait()
        while True:
            index, fraction, message = item
            if fraction is None:
                started.append((index, message))
            else:
                progress_for(index)(fraction, message)
            item = progress_queue.get_nowait()
    except queue.Empty:
        return started
