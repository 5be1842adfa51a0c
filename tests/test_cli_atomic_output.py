"""Output directories replaced in one step (overfitlab.atomic_output)."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from overfitlab import atomic_output
from overfitlab.atomic_output import OutputDirError, StagedDirectory, exchange, sigint_deferred


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden staging folders included) with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def make_old(target: Path) -> None:
    (target / "a").mkdir(parents=True)
    (target / "a" / "results.json").write_text("old a")
    (target / "kept").mkdir()
    (target / "kept" / "results.json").write_text("old kept")
    (target / "report.html").write_text("old report")


def test_exchange_swaps_two_directories_in_one_step(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("x")
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "f").write_text("y")
    if not exchange(tmp_path / "x", tmp_path / "y"):
        pytest.skip("no renameat2(RENAME_EXCHANGE) on this system or filesystem")
    assert (tmp_path / "x" / "f").read_text() == "y"
    assert (tmp_path / "y" / "f").read_text() == "x"


@pytest.mark.parametrize("atomic", [True, False], ids=["renameat2", "two-renames"])
def test_commit_replaces_the_whole_tree_and_leaves_no_staging(tmp_path, monkeypatch, atomic):
    if not atomic:
        monkeypatch.setattr(atomic_output, "exchange", lambda a, b: False)
    target = tmp_path / "results"
    make_old(target)
    with StagedDirectory(target) as stage:
        (stage.path / "new.txt").write_text("new")
        assert tree(target)["report.html"] == b"old report"  # untouched until the commit
        stage.commit()
    assert tree(tmp_path) == {"results/new.txt": b"new"}
    assert stage.outcome() == f"{target} holds the new results"


def test_keep_others_carries_over_what_the_new_tree_lacks_as_hard_links(tmp_path):
    target = tmp_path / "results"
    make_old(target)
    (target / ".early-stopping.overfitlab-stage-1-ab").mkdir()  # a run's leftover: not carried
    old_inode = (target / "kept" / "results.json").stat().st_ino
    with StagedDirectory(target, keep_others=True) as stage:
        (stage.path / "a").mkdir()
        (stage.path / "a" / "results.json").write_text("new a")
        (stage.path / "report.html").write_text("new report")
        stage.commit()
    assert tree(tmp_path) == {"results/a/results.json": b"new a",
                              "results/kept/results.json": b"old kept",
                              "results/report.html": b"new report"}
    assert (target / "kept" / "results.json").stat().st_ino == old_inode
    assert [p.name for p in tmp_path.iterdir()] == ["results"]


def test_leaving_without_commit_restores_the_disk_as_it_was(tmp_path):
    target = tmp_path / "deep" / "er" / "results"
    with pytest.raises(KeyboardInterrupt):
        with StagedDirectory(target) as stage:
            (stage.path / "half.png").write_bytes(b"\x89PNG")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []  # parents it created are gone too
    assert stage.outcome() == f"nothing written ({target} was not created)"
    make_old(target)
    before = tree(tmp_path)
    with pytest.raises(RuntimeError):
        with StagedDirectory(target, keep_others=True) as stage:
            (stage.path / "report.html").write_text("new")
            raise RuntimeError
    assert tree(tmp_path) == before
    assert stage.outcome() == f"{target} unchanged (previous results kept)"


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_staging_of_a_dead_process_is_removed_and_a_set_aside_tree_put_back(tmp_path):
    pid = dead_pid()
    target = tmp_path / "results"
    stale = tmp_path / f".results.overfitlab-stage-{pid}-0a1b"
    stale.mkdir()
    live = tmp_path / f".results.overfitlab-stage-{os.getpid()}-0a1b"  # a concurrent run's
    live.mkdir()
    aside = tmp_path / f".results.overfitlab-aside-{pid}-0c1d"  # killed between two renames
    make_old(aside)
    with StagedDirectory(target) as stage:
        assert not stale.exists() and live.exists()
        assert tree(target)["report.html"] == b"old report"  # the previous results are back
        assert stage.existed
    assert not list(tmp_path.glob(".results.overfitlab-aside-*"))


@pytest.mark.parametrize("case, needle", [
    ("cwd", "is the current directory or contains it"),
    ("parent", "is the current directory or contains it"),
    ("root", "is a filesystem root"),
    ("file", "is a file, not a directory"),
    ("under-file", "is a file, not a directory"),
    ("mount", "is a mount point"),
])
def test_targets_that_cannot_be_swapped_are_refused_before_anything_is_written(
        tmp_path, monkeypatch, case, needle):
    if case == "mount" and not os.path.ismount("/proc"):
        pytest.skip("no /proc mount point here")
    (tmp_path / "work").mkdir()
    (tmp_path / "file").write_text("keep me")
    monkeypatch.chdir(tmp_path / "work")
    target = {"cwd": Path("."), "parent": Path(".."), "root": Path("/"),
              "file": tmp_path / "file", "under-file": tmp_path / "file" / "sub",
              "mount": Path("/proc")}[case]
    before = tree(tmp_path)
    with pytest.raises(OutputDirError, match=needle):
        StagedDirectory(target).open()
    assert tree(tmp_path) == before


def test_unwritable_target_is_refused_with_the_reason(tmp_path):
    with pytest.raises(OutputDirError, match=r"cannot write to /proc/x \(.+\); choose another"):
        StagedDirectory(Path("/proc/x")).open()


@pytest.fixture
def python_ctrl_c_handler():
    """Python's own Ctrl+C handler for the test, as in a terminal: a process started in the
    background (a CI job, nohup) inherits SIGINT ignored, and Python then installs none."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_sigint_deferred_delivers_ctrl_c_after_the_block(python_ctrl_c_handler):
    reached_end = False
    with pytest.raises(KeyboardInterrupt):
        with sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # give the signal every chance to land inside
                pass
            reached_end = True
    assert reached_end
