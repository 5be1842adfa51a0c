"""The Dask cluster a sweep (or a scikit-learn search under joblib) runs on.

:func:`open_client` starts a ``LocalCluster`` (one single-threaded worker process per core by
default: JAX releases the GIL, but each experiment is one compiled call that is best given a
process of its own) or connects to an existing scheduler by address. Nothing else in a sweep
depends on which: moving to several machines means starting ``dask scheduler`` on one and
``dask worker tcp://HOST:8786`` on each, then passing ``--scheduler tcp://HOST:8786``.

The same client serves scikit-learn::

    with open_client(workers=2) as client, joblib.parallel_backend("dask"):
        GridSearchCV(RegularizedMLPRegressor(), grid, n_jobs=-1).fit(X, y)

:func:`check_workers` runs before any point: it refuses a cluster without workers, workers that
cannot import overfitlab or have another version, and workers that cannot see the output
directory (their results would be lost).
"""
from __future__ import annotations

import asyncio
import logging
import uuid
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from overfitlab.cores import usable_cores
from overfitlab.errors import ConfigError
from overfitlab.sweep.task import worker_report

CONNECT_TIMEOUT_S = 5.0
"""How long to try to reach a scheduler given by address before giving up."""

WORKER_WAIT_S = 10.0
"""How long to wait for a scheduler without workers to get one."""


def check_options(scheduler: str | None, workers: int | None) -> None:
    """Refuse both ``scheduler`` and ``workers``, fewer than one worker, or a scheduler address
    that is not ``[protocol://]host:port``, before trying anything."""
    from distributed.comm import parse_address, parse_host_port

    if scheduler is not None and workers is not None:
        raise ConfigError("give either --scheduler (an existing cluster) or --workers (a local "
                          "one), not both")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if scheduler is None:
        return
    try:
        protocol, location = parse_address(scheduler)
        if protocol in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError as exc:
        raise ConfigError(f"--scheduler {scheduler!r} is not an address like "
                          f"tcp://HOST:8786 ({exc})") from None


@contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None,
                dashboard_address: str | None = ":8787") -> Iterator["distributed.Client"]:  # noqa: F821
    """A ``distributed.Client`` on the scheduler at ``scheduler``, or on a new ``LocalCluster``
    of ``workers`` processes (default: one per core); closed (cluster included) on exit.

    Raises :class:`ConfigError` when the scheduler cannot be reached within
    :data:`CONNECT_TIMEOUT_S`.
    """
    from distributed import Client, LocalCluster

    check_options(scheduler, workers)
    cluster = None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT_S:g} s "
                f"({type(exc).__name__}); start one with `dask scheduler` and workers with "
                f"`dask worker {scheduler}`, or leave out --scheduler to use this machine"
            ) from None
    else:
        with warnings.catch_warnings():  # "port 8787 in use, using another": the link says so
            warnings.simplefilter("ignore")
            cluster = LocalCluster(n_workers=workers or usable_cores(), threads_per_worker=1,
                                   processes=True, silence_logs=logging.ERROR,
                                   dashboard_address=dashboard_address)
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def dashboard_link(client) -> str | None:
    """The address of the cluster's dashboard, or None when it has none (bokeh missing)."""
    services = client.scheduler_info().get("services", {})
    return client.dashboard_link if "dashboard" in services else None


def check_workers(client, directory: Path, version: str) -> dict[str, str]:
    """Check every worker before any point runs; return {worker address: overfitlab version}.

    Raises :class:`ConfigError` when the cluster has no worker after :data:`WORKER_WAIT_S`, a
    worker cannot run overfitlab or runs another version, or a worker cannot see
    ``directory`` (the sweep's output, which must be on a filesystem every worker mounts).
    """
    address = client.scheduler.address
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except (TimeoutError, asyncio.TimeoutError):  # distinct before Python 3.11
        raise ConfigError(f"the Dask scheduler at {address} has no workers; start one on each "
                          f"machine with `dask worker {address}`") from None
    directory.mkdir(parents=True, exist_ok=True)
    probe = directory / f".probe-{uuid.uuid4().hex}"
    probe.write_text("overfitlab sweep: can the workers see this directory?\n")
    try:
        reports = client.run(worker_report, str(probe))
    except Exception as exc:  # noqa: BLE001 - unpickling fails where overfitlab is missing
        raise ConfigError(f"the workers of {address} cannot run overfitlab ({type(exc).__name__}:"
                          f" {exc}); install overfitlab {version} on every worker") from None
    finally:
        probe.unlink(missing_ok=True)
    for worker, report in sorted(reports.items()):
        if report["overfitlab"] != version:
            raise ConfigError(f"worker {worker} has overfitlab {report['overfitlab']}, this "
                              f"machine {version}; install the same version on every worker")
        if not report["sees_output"]:
            raise ConfigError(f"worker {worker} cannot see {directory}; give --out a directory "
                              f"on a filesystem that every worker mounts")
    return {worker: report["overfitlab"] for worker, report in reports.items()}
