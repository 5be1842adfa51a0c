"""Output directories replaced all at once: the disk holds the old tree or the new, never a mix.

A command builds what it writes in a hidden sibling of the directory it replaces,
``.<name>.overfitlab-stage-<pid>-<token>``, and commits by swapping the two names in one system
call: Linux's ``renameat2(..., RENAME_EXCHANGE)``, called through ctypes, exchanges them
atomically, after which the staging name holds the old tree, which is then removed. A process
killed at any moment (SIGKILL included) therefore leaves the target complete: the old tree before
the exchange, the new one after it.

Where ``renameat2`` is missing (systems other than Linux, glibc < 2.28) or the filesystem refuses
the exchange, the commit falls back to two renames (old tree aside, new tree in). Between them the
target is briefly absent; a process killed there leaves the old tree in an ``.overfitlab-aside-``
sibling, which the next command staging beside it moves back into place.

Staging folders of processes that no longer exist are removed by the next command staging beside
them. Targets that cannot be swapped are refused before any work: the current directory or one
containing it (the shell and the process would be left inside the deleted old tree), a filesystem
root or mount point (no sibling on the same filesystem), a file.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import re
import secrets
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Callable, Iterator, Optional

from overfitlab.errors import ConfigError

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # linux/fs.h
_STAGE, _ASIDE = "stage", "aside"
_SIBLING_NAME = re.compile(rf"\.(.+)\.overfitlab-({_STAGE}|{_ASIDE})-(\d+)-[0-9a-f]+")
"""``.<target name>.overfitlab-<kind>-<pid>-<token>``"""


class OutputDirError(ConfigError):
    """The output directory cannot be written or swapped; the message says which and why."""


def exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` (both existing) in one step.

    Returns False, having changed nothing, where the system or the filesystem offers no atomic
    exchange; raises OSError for other failures.
    """
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


@functools.cache
def _renameat2() -> Optional[Callable[..., int]]:
    """libc's ``renameat2``, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold back SIGINT (Ctrl+C) for the duration of the block; it takes effect right after.

    Keeps a commit and the record of it together: an interrupt lands before or after, not within.
    (A Python-level handler swap, not a signal mask: the C handler may run on any of the threads
    that JAX starts, and only the main thread runs Python handlers.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # Python delivers signals to the main thread only: nothing to hold back here
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received and callable(previous):
            previous(signal.SIGINT, None)
        elif received and previous == signal.SIG_DFL:
            os.kill(os.getpid(), signal.SIGINT)


def import_jax_whole():
    """``import jax`` with Ctrl+C held back until it has loaded (:func:`sigint_deferred`): a
    KeyboardInterrupt raised while jaxlib's native modules initialise cannot be caught (the
    process aborts, exit status -6); held back, it lands right after as an ordinary
    KeyboardInterrupt. Returns the module."""
    with sigint_deferred():
        import jax
    return jax


def is_staging_name(name: str) -> bool:
    """True for the names of staging and set-aside folders (of any target)."""
    return _SIBLING_NAME.fullmatch(name) is not None


def _sibling(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.overfitlab-{kind}-{os.getpid()}-"
                            f"{secrets.token_hex(4)}")


def _alive(pid: int) -> bool:
    if os.name != "posix":  # pragma: no cover - no safe probe: keep the folder
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True


def remove_stale(target: Path) -> None:
    """Remove staging folders beside ``target`` whose process is gone; put back a set-aside old
    tree where an interrupted two-rename commit left ``target`` absent."""
    try:
        entries = list(os.scandir(target.parent))
    except FileNotFoundError:
        return
    for entry in entries:
        match = _SIBLING_NAME.fullmatch(entry.name)
        if match is None or match.group(1) != target.name or _alive(int(match.group(3))):
            continue
        if match.group(2) == _ASIDE and not os.path.lexists(target):
            os.rename(entry.path, target)
        else:
            shutil.rmtree(entry.path, ignore_errors=True)


def check_replaceable(target: Path, shown: str) -> None:
    """Raise OutputDirError if ``target`` (absolute) cannot be staged beside and swapped."""
    if target.parent == target:
        raise OutputDirError(f"{shown} is a filesystem root, which cannot be replaced; "
                             f"choose a folder inside it, e.g. --out ./results")
    if target.exists() and not target.is_dir():
        raise OutputDirError(f"{shown} is a file, not a directory; choose another --out")
    existing = target.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OutputDirError(f"{shown} cannot be created: {existing} is a file, not a directory; "
                             f"choose another --out")
    cwd = Path.cwd().resolve()
    if target == cwd or target in cwd.parents:
        raise OutputDirError(f"{shown} is the current directory or contains it, and results are "
                             f"swapped in whole; choose a sub-folder, e.g. --out ./results")
    if os.path.ismount(target):
        raise OutputDirError(f"{shown} is a mount point, which cannot be swapped; choose a folder "
                             f"inside it")


def _make_dirs(path: Path, created: list[Path]) -> None:
    """``mkdir -p path``, appending each directory it creates to ``created`` (outermost first)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        os.mkdir(directory)
        created.append(directory)


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link ``src`` as ``dst``: the same bytes at no cost; a copy where links are refused."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


class StagedDirectory:
    """The next content of a directory, built beside it and swapped in by :meth:`commit`.

    ::

        with StagedDirectory(Path("results")) as stage:  # refuses an unusable target up front
            (stage.path / "report.html").write_text(...)
            stage.commit()                               # the one step that changes the target

    Leaving the block without a commit removes the staging folder and any parent directories
    created for it: the disk is as it was. With ``keep_others``, entries of the old target that the
    new content lacks are carried over at commit (hard links, or copies where links are refused),
    so that, for instance, a report keeps the folders of experiments it did not run.
    """

    def __init__(self, target: Path, keep_others: bool = False) -> None:
        self.shown = str(target)
        self.target = Path(os.path.realpath(target))
        self.keep_others = keep_others
        self.path: Optional[Path] = None
        self.existed = False
        self.committed = False
        self._created: list[Path] = []

    def __enter__(self) -> "StagedDirectory":
        return self if self.path is not None else self.open()

    def open(self) -> "StagedDirectory":
        """Check the target, remove stale staging folders and create this one (before any work)."""
        check_replaceable(self.target, self.shown)
        try:
            _make_dirs(self.target.parent, self._created)
            remove_stale(self.target)
            self.existed = self.target.is_dir()
            self.path = _sibling(self.target, _STAGE)
            os.mkdir(self.path)
            if self.existed:
                shutil.copymode(self.target, self.path)
        except OSError as exc:
            self._discard()
            reason = exc.strerror or str(exc)
            raise OutputDirError(f"cannot write to {self.shown} ({reason}); choose another "
                                 f"--out directory") from None
        return self

    def commit(self) -> None:
        """Swap the staged content in as the target in one step, then delete the old tree."""
        if self.keep_others and self.existed:
            self._carry_over()
        with sigint_deferred():
            if not self.existed:
                os.rename(self.path, self.target)
                self.committed = True
            elif exchange(self.path, self.target):
                self.committed = True
                shutil.rmtree(self.path, ignore_errors=True)
            else:  # two renames: the target is absent between them (see the module docstring)
                aside = _sibling(self.target, _ASIDE)
                os.rename(self.target, aside)
                try:
                    os.rename(self.path, self.target)
                except OSError:
                    os.rename(aside, self.target)
                    raise
                self.committed = True
                shutil.rmtree(aside, ignore_errors=True)

    def __exit__(self, *exc_info) -> None:
        if not self.committed:
            with sigint_deferred():
                self._discard()

    def _discard(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
        for directory in reversed(self._created):
            with contextlib.suppress(OSError):
                directory.rmdir()

    def _carry_over(self) -> None:
        for entry in os.scandir(self.target):
            destination = self.path / entry.name
            if is_staging_name(entry.name) or os.path.lexists(destination):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.copytree(entry.path, destination, symlinks=True,
                                copy_function=_link_or_copy)
            elif entry.is_symlink():
                os.symlink(os.readlink(entry.path), destination)
            else:
                _link_or_copy(entry.path, str(destination))

    def outcome(self) -> str:
        """What the target holds now, in words (for the line printed after an interruption).

        Until the commit the target is untouched, so whether it exists says what was kept.
        """
        if self.committed:
            return f"{self.shown} holds the new results"
        if os.path.isdir(self.target):
            return f"{self.shown} unchanged (previous results kept)"
        return f"nothing written ({self.shown} was not created)"
