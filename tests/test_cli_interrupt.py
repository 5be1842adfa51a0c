"""Interrupted or killed at a random moment, `run` and `report` leave the old results or the new.

Each test runs the real command line (``python -m overfitlab.cli``) on tiny settings, first to
completion (the previous results), then several times with another seed, sending SIGINT or
SIGKILL at a moment drawn from successive slices of the measured duration, so that start-up,
training, figures and the final swap are all within reach. (Every step of the swap itself is
tested one by one in test_cli_atomic_output.py; staging folders of killed runs are removed by the
next run, tested there too.) After every trial the output directory must
hold exactly the previous files, byte for byte, or a complete new result; SIGINT must end with
exit code 130 and one line saying which. SIGINT moments start a little after launch: until the
interpreter has loaded overfitlab's package, a Ctrl+C is Python's own (nothing is written then
either).
"""
import gc
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from _cli_subprocess import SRC, launch

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="signals and renameat2: Linux")

RUN = ["run", "early-stopping", "--quick", "--seeds", "2", "--set", "max_iter=300",
       "--set", "patience=50"]
REPORT = ["report", "--quick", "--only", "early-stopping", "--only", "convolution"]
SIGINT_FROM_S = 2.0


def files(out: Path) -> dict[str, bytes]:
    """Every visible file under ``out`` with its bytes (hidden staging folders are not results)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts)}


def complete_result(out: Path, folder: str, seed: int) -> dict:
    """Assert ``out/folder`` is one whole result of ``seed``; return its metrics."""
    path = out / folder
    payload = json.loads((path / "results.json").read_text())
    assert payload["seed"] == seed
    assert sorted(p.name for p in path.iterdir()) == sorted(
        ["results.json", "arrays.npz", *payload["figures"]])
    for name in payload["figures"]:
        assert (path / name).read_bytes()[-8:] == b"IEND\xaeB`\x82"  # the PNG's last chunk
    with np.load(path / "arrays.npz") as arrays:
        list(arrays.values())
    return payload["metrics"]


def trial(args, out, seed, signum, at_s):
    child = launch([*args, "--seed", str(seed), "--out", str(out)])
    time.sleep(at_s)
    child.send_signal(signum)
    _, err = child.communicate(timeout=300)
    return child.returncode, err, child.pid


def check_sigint_line(code, err, target, kept_old):
    if code == 0:  # it had finished
        assert not kept_old
        return
    assert code == 130 and "Traceback" not in err, err
    said = "unchanged (previous results kept)" if kept_old else "holds the new results"
    assert err.strip().splitlines()[-1] == f"interrupted: {target} {said}", err


def interrupt_at_random_moments(args, out, target, folders, trials, rng):
    """Run ``args`` to completion, then interrupt one run per signal of ``trials``; ``target``
    is the directory the command replaces (OUT/NAME for `run`, OUT for `report`)."""
    start = time.monotonic()
    first = launch([*args, "--seed", "1", "--out", str(out)])
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    duration = time.monotonic() - start
    reference = {1: [complete_result(out, f, 1) for f in folders]}
    seed, outcomes = 1, []
    for i, signum in enumerate(trials):
        old, new_seed = files(out), 3 - seed
        lo = SIGINT_FROM_S if signum == signal.SIGINT else 0.0
        hi = 1.1 * duration
        at_s = rng.uniform(lo + (hi - lo) * i / len(trials),
                           lo + (hi - lo) * (i + 1) / len(trials))
        code, err, pid = trial(args, out, new_seed, signum, at_s)
        now = files(out)
        kept_old = now == old
        assert set(now) == set(old)  # no file more or less: the same experiments and figures
        if not kept_old:  # then it is the complete new result, the same as any run of its seed
            metrics = [complete_result(out, f, new_seed) for f in folders]
            assert reference.setdefault(new_seed, metrics) == metrics
            ours = tuple(f"{f}/" for f in folders)
            for name in now:  # what the command does not write is carried over unchanged
                if not name.startswith(ours) and name != "report.html":
                    assert now[name] == old[name], name
            if "report.html" in now:
                assert now["report.html"] != old["report.html"]
                assert now["report.html"].rstrip().endswith(b"</html>")
            seed = new_seed
        if signum == signal.SIGINT:
            check_sigint_line(code, err, target, kept_old)
            assert not list(out.parent.rglob(f".*.overfitlab-*-{pid}-*")), "staging left behind"
        outcomes.append((signal.Signals(signum).name, round(at_s, 1), code,
                         "old" if kept_old else "new"))
    return outcomes


def test_run_interrupted_at_random_moments_keeps_old_or_new_results(tmp_path):
    out = tmp_path / "results"
    trials = [signal.SIGKILL, signal.SIGINT, signal.SIGKILL]
    outcomes = interrupt_at_random_moments(RUN, out, out / "early-stopping", ["early-stopping"],
                                           trials, random.Random())
    print(outcomes)


def test_report_interrupted_at_random_moments_keeps_old_or_new_results(tmp_path):
    out = tmp_path / "results"
    earlier = out / "cnn"  # from an earlier `run`: every state must keep it
    earlier.mkdir(parents=True)
    (earlier / "results.json").write_text('{"experiment": "cnn"}')
    trials = [signal.SIGINT, signal.SIGKILL]
    outcomes = interrupt_at_random_moments(REPORT, out, out, ["early-stopping", "convolution"],
                                           trials, random.Random())
    print(outcomes)
    assert (earlier / "results.json").read_text() == '{"experiment": "cnn"}'


def test_ctrl_c_pressed_through_the_end_of_a_run_never_kills_it_silently(tmp_path):
    """Ctrl+C pressed again and again from the moment the command prints where its results are
    until the process has gone (the swap is done; the process then leaves its last blocks and
    tears down JAX, up to a second): the new results, and either exit code 0 or 130 with the line
    saying so; never a traceback, nor a process killed by the signal (exit status -2)."""
    out = tmp_path / "results"
    child = launch([*RUN, "--seed", "1", "--out", str(out)])
    for line in child.stdout:
        if line.startswith("results written to"):
            break
    while child.poll() is None:
        child.send_signal(signal.SIGINT)
        time.sleep(0.005)
    err = child.stderr.read()
    assert child.returncode in (0, 130), err
    assert "Traceback" not in err
    if child.returncode == 130:  # inside the command's block it says what it kept; as the
        # command returns (its block left, results in place) the program says "interrupted"
        last = err.strip().splitlines()[-1]
        assert last == "interrupted" or last.endswith("early-stopping holds the new results"), err
    complete_result(out, "early-stopping", 1)


def test_an_interrupt_inside_a_c_extension_import_counts_as_ctrl_c():
    """A Ctrl+C that lands while a C extension initialises surfaces as ImportError("initialization
    failed") caused by the KeyboardInterrupt (seen in CI with scipy's HiGHS bindings); it is
    reported as an interruption, while any other ImportError stays an error."""
    from overfitlab.cli import _interrupted

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise ImportError("initialization failed") from interrupt
    except ImportError as exc:
        assert _interrupted(exc)
    assert not _interrupted(ImportError("No module named 'x'"))
    assert _interrupted(KeyboardInterrupt())


def test_a_ctrl_c_lost_inside_a_garbage_collector_callback_still_stops_the_commit(
        tmp_path, monkeypatch, capfd):
    """Python drops an exception raised in a garbage-collector callback (seen in CI inside XLA's):
    the command would carry on and write its results after a Ctrl+C, under an "Exception
    ignored ... Traceback". The program's handler records every Ctrl+C, its unraisable hook keeps
    the dropped one quiet, and the commit raises it again: nothing is written."""
    from overfitlab import cli
    from overfitlab.atomic_output import StagedDirectory

    monkeypatch.setattr(cli, "_received_interrupts", [])
    monkeypatch.setattr(sys, "unraisablehook", cli._lost_interrupts_unsaid)

    def ctrl_c_while_collecting(phase, info):
        if phase == "start":
            signal.raise_signal(signal.SIGINT)

    stage = StagedDirectory(tmp_path / "out")
    stage.open()
    (stage.path / "results.json").write_text("{}")
    previous = signal.signal(signal.SIGINT, cli._keyboard_interrupt)
    gc.callbacks.append(ctrl_c_while_collecting)
    try:
        gc.collect()  # returns normally: Python hands the KeyboardInterrupt to the hook
    finally:
        gc.callbacks.remove(ctrl_c_while_collecting)
        signal.signal(signal.SIGINT, previous)
    assert cli._received_interrupts == [signal.SIGINT]
    assert capfd.readouterr().err == ""
    with pytest.raises(KeyboardInterrupt), stage:
        cli._commit(stage)
    assert not (tmp_path / "out").exists()


def test_jax_loads_with_ctrl_c_held_back_until_it_has_loaded():
    """A Ctrl+C raised while jaxlib's native modules initialise aborts the process (seen in CI:
    exit status -6 as `report` loaded JAX to record its backend in results.json). JAX loads with
    the interrupt held back: it arrives right after, as a KeyboardInterrupt, with JAX whole."""
    script = textwrap.dedent("""
        import os, signal, sys
        from overfitlab import cli
        from overfitlab.experiments.results_io import versions
        assert "jax" not in sys.modules

        class CtrlCDuringJaxlib:  # presses Ctrl+C as jaxlib's extension modules start loading
            def find_spec(self, name, path=None, target=None):
                if name == "jaxlib.xla_client":
                    os.kill(os.getpid(), signal.SIGINT)
                return None

        sys.meta_path.insert(0, CtrlCDuringJaxlib())
        signal.signal(signal.SIGINT, cli._keyboard_interrupt)
        try:
            versions()  # records JAX's backend, the first thing to import it here
        except KeyboardInterrupt:
            import jax.numpy as jnp
            print("interrupted after loading", float(jnp.ones(3).sum()))
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "interrupted after loading 3.0"


def test_ctrl_c_as_a_first_run_starts_training_on_an_empty_cache_exits_130(tmp_path):
    """Ctrl+C just after a first run (nothing compiled yet) starts training: the line, status
    130 and nothing written, every time. Python's finalisation beside XLA's threads crashed
    such runs with a segmentation fault, after the line, in about 1 of 5 tries on 2 cores."""
    rng = random.Random()
    for attempt in range(12):
        cache, out = tmp_path / f"cache{attempt}", tmp_path / f"out{attempt}"
        child = launch(["run", "early-stopping", "--out", str(out)], cache=cache)
        for line in child.stderr:
            if "training" in line:
                break
        time.sleep(rng.uniform(0.0, 0.8))
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=300)
        if child.returncode == 0:  # it had finished
            continue
        assert child.returncode == 130, (attempt, child.returncode, err[-2000:])
        assert err.strip().splitlines()[-1].startswith("interrupted: nothing written"), err
        assert not out.exists()
