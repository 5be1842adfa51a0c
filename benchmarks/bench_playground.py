"""Playground benchmarks: latency of one warm request, and behaviour under concurrent load.

**Latency** (default). A warm ``POST /api/train`` with the course defaults, alpha varied on every
request.

The server runs under uvicorn in a background thread on 127.0.0.1; the client posts over HTTP
(stdlib urllib), so a request's time includes validation, training, summarising and JSON on
both sides. Every request has a different alpha (log-spaced), so none is served from the
answer cache and none recompiles (alpha is a traced value). The networks train as
``compute.PARTS`` concurrent parts (one per core, at most 2). Because the machine may be shared,
the table also reports the load average and the process CPU time per request (summed over
threads): on an otherwise idle machine the wall time approaches CPU time / PARTS.

    python benchmarks/bench_playground.py [--requests 50] [--seeds 20] [--iterations 20000]

**Load** (``--load``). The server runs as its own process (``uvicorn --factory``, its default
admission settings: one training per usable core, 4 waiting per core, 503 + Retry-After beyond)
on 127.0.0.1. ``--clients`` threads (20) each post course-default requests with a random alpha
(never a cache hit) back to back for ``--duration`` seconds (60); a client that gets 503 waits
the Retry-After seconds, as the page does. Reported: p50/p95 latency of the answered requests,
throughput, the 503 count, errors (anything else: other statuses, refused connections,
timeouts), and the server's resident memory (VmRSS) after one warm request and after the load.

    python benchmarks/bench_playground.py --load [--clients 20] [--duration 60]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import uvicorn

from overfitlab.app import compute
from overfitlab.app.server import create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def _rss_mb(pid: int) -> float:
    """Resident memory of a process in MB, from /proc (Linux)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _start_server(port: int) -> subprocess.Popen:
    """The playground in its own process, answering on 127.0.0.1:port."""
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory",
                             "overfitlab.app.server:create_app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning", "--no-access-log"])
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/defaults", timeout=5).read()
            return proc
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("the playground server did not start") from None
            time.sleep(0.2)


def load_test(clients: int, duration: float) -> None:
    """``clients`` concurrent clients for ``duration`` seconds (see the module docstring)."""
    port = _free_port()
    server = _start_server(port)
    url = f"http://127.0.0.1:{port}/api/train"
    try:
        t0 = time.perf_counter()
        _post(url, {"alpha": 1e-4})  # compiles the course shape
        warm_s = time.perf_counter() - t0
        rss_before = _rss_mb(server.pid)
        load_before = os.getloadavg()
        results: list[tuple[float, int | str]] = []
        start = time.monotonic()
        deadline = start + duration

        def client(i: int) -> None:
            rng = np.random.default_rng(i)
            while time.monotonic() < deadline:
                body = json.dumps({"alpha": float(10 ** rng.uniform(-5, 1))}).encode()
                req = urllib.request.Request(url, data=body,
                                             headers={"Content-Type": "application/json"})
                wait, t = 0.0, time.perf_counter()
                try:
                    with urllib.request.urlopen(req, timeout=120) as r:
                        r.read()
                        status: int | str = r.status
                except urllib.error.HTTPError as err:
                    status = err.code
                    wait = float(err.headers.get("Retry-After", 1)) if err.code == 503 else 0.0
                except OSError as err:
                    status = type(err).__name__
                results.append((time.perf_counter() - t, status))
                time.sleep(max(0.0, min(wait, deadline - time.monotonic())))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        load_after = os.getloadavg()
        rss_after = _rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)

    ok = np.array([t for t, s in results if s == 200]) * 1000
    busy = sum(1 for _, s in results if s == 503)
    errors = len(results) - len(ok) - busy
    print(f"playground load: {clients} clients for {elapsed:.0f} s on 127.0.0.1, course defaults "
          "(20 seeds x 20000 iterations, 1-20-1 tanh, 10 points), random alpha per request")
    print(f"cores: {os.cpu_count()}   load average (1, 5, 15 min) before: "
          f"{', '.join(f'{x:.2f}' for x in load_before)}   after: "
          f"{', '.join(f'{x:.2f}' for x in load_after)}   first request (compiles): {warm_s:.2f} s")
    print("| answered | p50 latency | p95 latency | throughput | 503 | errors "
          "| server RSS before -> after |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    p50, p95 = (np.percentile(ok, q) if ok.size else float("nan") for q in (50, 95))
    print(f"| {ok.size} | {p50:.0f} ms | {p95:.0f} ms | {ok.size / elapsed:.2f} /s | {busy} "
          f"| {errors} | {rss_before:.0f} MB -> {rss_after:.0f} MB |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--load", action="store_true", help="run the load test instead")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    args = parser.parse_args()
    if args.load:
        load_test(args.clients, args.duration)
        return

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/api/train"
    base = {"seeds": args.seeds, "iterations": args.iterations}  # other fields: course defaults

    t0 = time.perf_counter()
    first = _post(url, {**base, "alpha": 1e-4})
    compile_s = time.perf_counter() - t0
    load_before = os.getloadavg()

    wall, cpu, server_ms = [], [], []
    for alpha in np.geomspace(1e-5, 10.0, args.requests):
        c0, t0 = time.process_time(), time.perf_counter()
        answer = _post(url, {**base, "alpha": float(alpha)})
        wall.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.process_time() - c0))
        server_ms.append(answer["elapsed_ms"])
        assert not answer["compiled"], "a warm request recompiled"
    load_after = os.getloadavg()
    server.should_exit = True

    def row(name, values):
        v = np.asarray(values)
        return (f"| {name:<28} | {np.percentile(v, 50):8.0f} | {np.percentile(v, 95):8.0f} "
                f"| {v.min():8.0f} | {v.max():8.0f} |")

    print(f"playground latency: {args.requests} warm requests, {args.seeds} seeds x "
          f"{args.iterations} iterations, 1-20-1 tanh, 10 points, alpha 1e-5..10 log-spaced")
    print(f"cores: {os.cpu_count()}   parts: {compute.PARTS}   load average (1, 5, 15 min) before: "
          f"{', '.join(f'{x:.2f}' for x in load_before)}   after: "
          f"{', '.join(f'{x:.2f}' for x in load_after)}")
    print(f"first request (compiles): {compile_s:.2f} s (compiled={first['compiled']})")
    print("| ms                           |      p50 |      p95 |      min |      max |")
    print("|------------------------------|----------|----------|----------|----------|")
    print(row("HTTP round trip (wall)", wall))
    print(row("server compute (wall)", server_ms))
    print(row("process CPU time", cpu))
    print(f"target: p50 < 300 ms -> {'met' if np.percentile(wall, 50) < 300 else 'NOT met'}")


if __name__ == "__main__":
    main()
