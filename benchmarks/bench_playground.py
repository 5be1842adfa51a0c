"""Latency of a warm ``POST /api/train`` with the course defaults, alpha varied on every request.

The server runs under uvicorn in a background thread on 127.0.0.1; the client posts over HTTP
(stdlib urllib), so a request's time includes validation, training, summarising and JSON on
both sides. Every request has a different alpha (log-spaced), so none is served from the
answer cache and none recompiles (alpha is a traced value). The networks train as
``compute.PARTS`` concurrent parts (one per core, at most 2). Because the machine may be shared,
the table also reports the load average and the process CPU time per request (summed over
threads): on an otherwise idle machine the wall time approaches CPU time / PARTS.

    python benchmarks/bench_playground.py [--requests 50] [--seeds 20] [--iterations 20000]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import threading
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=20000)
    args = parser.parse_args()

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
