"""The report's experiments on worker processes: the same results as one after the other,
refusals handed back, progress relayed, and no worker outliving the report."""
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _cli_subprocess import checkout_environment, launch

from overfitlab.errors import DivergedError
from overfitlab.experiments.early_stopping import EarlyStoppingConfig
from overfitlab.experiments.registry import catalog
from overfitlab.report.workers import (WorkerDiedError, core_shares, groups_reusing,
                                       run_in_workers)

@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="sets CPU affinity")
def test_jobs_do_not_change_any_result(tmp_path):
    """Three experiments on two workers give byte-for-byte the answers and metrics of the same
    report run one after the other in one process on as many cores as a worker gets (each
    experiment is seeded, not scheduled). The core count matters: autoencoder-pca's covariance
    X^T X sums over 1,797 images, a sum XLA splits across threads. Both run as the program does
    (a subprocess): its process and its workers compile the training loops alike
    (overfitlab.xla_loops), which this test process, which imported JAX long before, cannot (on
    AVX-512 the two compilations round differently)."""
    names = ("early-stopping", "convolution", "autoencoder-pca")
    shares = core_shares(sorted(os.sched_getaffinity(0)), 2)
    written = {}
    for jobs, cores in (("1", shares and shares[0]), ("2", None)):
        out = tmp_path / jobs
        run = launch(["report", "--quick", *(a for n in names for a in ("--only", n)),
                      "--jobs", jobs, "--out", str(out)], cores=cores)
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stdout + stderr
        written[jobs] = {name: json.loads((out / name / "results.json").read_text())
                         for name in names}
        html = (out / "report.html").read_text()
        assert html.index('id="early-stopping"') < html.index('id="convolution"')  # list order
    for name, one in written["1"].items():
        two = written["2"][name]
        assert (one["answers"], one["metrics"], one["figures"]) == \
               (two["answers"], two["metrics"], two["figures"])


def quick(**overrides) -> EarlyStoppingConfig:
    return EarlyStoppingConfig.preset("quick", **{"seeds": 2, "max_iter": 200, "patience": 50,
                                                  **overrides})


def test_a_refusal_comes_back_as_the_experiment_s_error_and_progress_is_relayed():
    seen: dict[int, list[float]] = {0: [], 1: []}
    tasks = [("early-stopping", quick()), ("early-stopping", quick(learning_rate=1e3))]
    finished = {f.index: f for f in run_in_workers(
        tasks, [[0], [1]], 2, lambda i: lambda fraction, message: seen[i].append(fraction))}
    result, pngs = finished[0].unwrap()
    assert set(pngs) == set(result.figures) and all(p[:4] == b"\x89PNG" for p in pngs.values())
    assert result.answer("best_iteration").value > 0
    with pytest.raises(DivergedError, match="diverged"):
        finished[1].unwrap()
    assert seen[0] and seen[0] == sorted(seen[0]) and seen[0][-1] == 1.0


def test_leaving_early_terminates_the_workers():
    """An error or Ctrl+C in the parent closes the iteration: the workers go at once, the long
    trainings still running or queued are not waited for."""
    long = quick(max_iter=100_000, patience=100_000, seeds=64)
    iteration = run_in_workers([("early-stopping", quick()), ("early-stopping", long),
                                ("early-stopping", long)], [[0], [1], [2]], 2,
                               lambda i: lambda fraction, message: None)
    assert next(iteration).index == 0
    start = time.monotonic()
    iteration.close()
    assert multiprocessing.active_children() == []
    assert time.monotonic() - start < 10


def test_an_experiment_runs_after_the_one_whose_computations_it_reuses():
    """small-network reuses weight-penalty's penalty sweep from memory: in the report they share
    a worker, in that order (apart, small-network would train the whole sweep again)."""
    reuses = {e.name: e.reuses for e in catalog()}
    assert reuses["small-network"] == ("weight-penalty",)
    names = [e.name for e in catalog()]
    groups = groups_reusing(names, reuses)
    assert sorted(i for g in groups for i in g) == list(range(len(names)))
    pair = [g for g in groups if names.index("small-network") in g]
    assert [names[i] for i in pair[0]] == ["weight-penalty", "small-network"]
    assert groups_reusing(["small-network", "dropout"], reuses) == [[0], [1]]  # nothing earlier
    assert groups_reusing(["weight-penalty", "cnn", "small-network"], reuses) == [[0, 2], [1]]


def test_cores_are_dealt_out_to_the_workers_in_disjoint_shares():
    assert core_shares([0, 1], 2) == [[0], [1]]
    assert core_shares([0, 1, 2, 3, 5], 2) == [[0, 1], [2, 3]]  # equal sizes: core 5 unused
    assert core_shares([4, 7], 1) == [[4, 7]]
    assert core_shares([0], 2) is None  # fewer cores than workers: every worker uses every core


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and two cores")
def test_each_worker_runs_on_its_own_share_of_the_cores():
    """Two workers' thread pools on the same cores would contend: each gets half of them (a
    worker sets its affinity as it starts, so the test looks for up to 30 s)."""
    shares = sorted(core_shares(sorted(os.sched_getaffinity(0)), 2))
    seen: list[list[list[int]]] = []

    def progress_for(index):
        def update(fraction, message):
            deadline = time.monotonic() + 30
            while not seen or (seen[-1] != shares and time.monotonic() < deadline):
                seen.append(sorted(sorted(os.sched_getaffinity(pid))
                                   for pid in workers_of(os.getpid())))
                time.sleep(0.05)
        return update

    list(run_in_workers([("early-stopping", quick())], [[0]], 2, progress_for))
    assert seen[-1] == shares


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="sets CPU affinity")
def test_a_worker_not_allowed_to_pin_itself_starts_on_every_core(tmp_path):
    """Some containers refuse sched_setaffinity: the worker must start all the same (a failing
    initializer would have the pool start replacements forever)."""
    code = textwrap.dedent("""
        import multiprocessing, os
        from overfitlab.report import workers

        def refuse(pid, cores):
            raise PermissionError("not allowed here")

        before = os.sched_getaffinity(0)
        os.sched_setaffinity = refuse
        workers._start_worker(multiprocessing.Queue(), os.getppid(), [[0], [1]],
                              multiprocessing.Value("i", 0))
        assert os.sched_getaffinity(0) == before
        print("started")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=checkout_environment(tmp_path), timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "started", done.stderr


def workers_of(pid: int) -> list[int]:
    """The pool's worker processes among ``pid``'s children (not the resource tracker)."""
    return [c for c in children(pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]


@pytest.mark.skipif(sys.platform != "linux", reason="finds the worker in /proc")
def test_a_worker_killed_mid_experiment_is_an_error_not_an_endless_wait():
    """multiprocessing.Pool replaces a dead worker and would wait forever for its result; the
    report names the experiment instead (the out-of-memory killer is the usual cause)."""
    long = quick(max_iter=100_000, patience=100_000, seeds=64)
    killed, earlier = [], set(workers_of(os.getpid()))  # (another test's processes: not ours)

    def progress_for(index):
        def update(fraction, message):
            if not killed:  # the experiment is under way in the worker: kill that worker
                killed.extend(set(workers_of(os.getpid())) - earlier)
                for pid in killed:
                    os.kill(pid, signal.SIGKILL)
        return update

    def hung(signum, frame):
        raise TimeoutError("still waiting for the killed worker")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    try:
        with pytest.raises(WorkerDiedError, match="ended without a result") as caught:
            list(run_in_workers([("early-stopping", quick()), ("early-stopping", long)],
                                [[0, 1]], 1, progress_for))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert len(killed) == 1 and caught.value.index == 0
    assert multiprocessing.active_children() == []


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal: Linux")
def test_workers_die_with_a_killed_report(tmp_path):
    """SIGKILL leaves the parent no chance to clean up: the workers get the parent-death signal
    and stop at once rather than finish their experiments into an abandoned staging folder."""
    long_pair = ["--only", "weight-penalty", "--only", "sample-size"]  # full presets: > 20 s each
    child = launch(["report", *long_pair, "--jobs", "2", "--out", str(tmp_path / "r")])
    started = set()
    for line in child.stderr:  # progress lines: both experiments are running in their workers
        started.update(label for label in ("[1/2]", "[2/2]") if line.startswith(label))
        if len(started) == 2:
            break
    workers = [pid for pid in children(child.pid)
               if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]
    assert len(workers) == 2
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    deadline = time.monotonic() + 3
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(w) for w in workers)
