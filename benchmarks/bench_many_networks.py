"""Many small networks, side by side: overfitlab's engine against the reference programs.

The task (issue 14): 1000 networks (50 L2 alphas x 20 seeds) of the course's 1-20-1 tanh MLP,
full-batch Adam (lr 1e-3) on the 10 course points, ITERS iterations, reporting either the final
test MSE (``final``) or the test MSE (100 points) after every iteration (``record``).

The references live in ``../shared/peers`` (``--peers DIR``): a minimal hand-written JAX loop
(vmap + scan + optax.adam) and a hand-written PyTorch CPU program (batched bmm, fused update,
tanh as 2 sigmoid(2z) - 1). Each runs in its own process, one after the other, in the same
order every repeat; overfitlab runs in this process through its public engine API
(:func:`overfitlab.engine.train.train_grid`). Printed: median warm and cold times and the ratios
overfitlab / peer (below 1: overfitlab is faster), with the load average before and after.

    python benchmarks/bench_many_networks.py                 # 20000 iterations, 3 repeats
    python benchmarks/bench_many_networks.py --iters 2000 --repeats 1 --modes final

PyTorch is optional (``pip install torch==2.13.0``, as ``make bench`` does); without it its
column is empty.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_PEERS = HERE.parent.parent / "shared" / "peers"


def loadavg() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def course_task():
    """The course data and the 50 alphas (the peers' common.py draws the same)."""
    from overfitlab.data.synthetic import noisy_function

    data = noisy_function(seed=0)
    return data, np.logspace(-5, 1, 50)


def run_overfitlab(iters: int, repeats: int, modes: list[str]) -> dict:
    """Median warm and cold seconds of train_grid for each mode, plus the final test MSE."""
    import jax

    from overfitlab.engine.train import TrainSpec, make_hyper, stack_networks, train_grid
    from overfitlab.experiments._course import predict

    data, alphas = course_task()
    hyper = stack_networks([make_hyper(a) for a in alphas])
    out = {}
    for mode in modes:
        spec = TrainSpec((1, 20, 1), "tanh", "adam", iters, tol=None, chunk=min(1000, iters),
                         record_train=False, record_loss_curve=False)

        def once():
            if mode == "record":
                res = train_grid(spec, jax.random.PRNGKey(0), 20, hyper, data.X_train,
                                 data.y_train, data.X_test, data.y_test, record="every")
                return res.eval_loss[..., -1]
            res = train_grid(spec, jax.random.PRNGKey(0), 20, hyper, data.X_train, data.y_train)
            return np.mean((predict(res.params, data.X_test, "tanh") - data.y_test) ** 2, -1)

        times = []
        for _ in range(repeats + 1):  # the first is cold: compilation included
            start = time.perf_counter()
            final = once()
            times.append(time.perf_counter() - start)
        out[mode] = {"cold_s": times[0], "warm_median_s": float(np.median(times[1:])),
                     "final_test_mse_median": float(np.median(final))}
    return out


def run_peer(script: Path, iters: int, repeats: int, modes: list[str], *extra: str) -> dict:
    """A reference program's JSON line ({} when it cannot run, e.g. PyTorch missing)."""
    cmd = [sys.executable, str(script), str(iters), str(repeats), ",".join(modes), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ})
    if proc.returncode != 0:
        print(f"  {script.name} did not run: {proc.stderr.strip().splitlines()[-1:]}")
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default="final,record")
    parser.add_argument("--peers", type=Path, default=DEFAULT_PEERS)
    args = parser.parse_args()
    modes = args.modes.split(",")
    if not (args.peers / "many_networks_jax_minimal.py").is_file():
        sys.exit(f"error: no reference programs in {args.peers}; pass --peers DIR")

    print(f"load average before: {loadavg()}")
    ours = run_overfitlab(args.iters, args.repeats, modes)
    jax_min = run_peer(args.peers / "many_networks_jax_minimal.py", args.iters, args.repeats,
                       modes, "legacy")
    torch_peer = run_peer(args.peers / "many_networks_torch.py", args.iters, args.repeats,
                          modes, "fusedc_sig")
    print(f"load average after: {loadavg()}")
    print(f"\n1000 networks, {args.iters} iterations, median of {args.repeats} warm runs")
    print(f"{'mode':<8}{'overfitlab':>12}{'JAX minimal':>13}{'PyTorch':>10}"
          f"{'ofl/JAX':>9}{'ofl/torch':>10}{'cold ofl':>10}   final test MSE (ofl, JAX, torch)")
    for mode in modes:
        o = ours[mode]["warm_median_s"]
        j = jax_min.get(mode, {}).get("warm_median_s", float("nan"))
        t = torch_peer.get(mode, {}).get("warm_median_s", float("nan"))
        mses = [ours[mode]["final_test_mse_median"],
                jax_min.get(mode, {}).get("final_test_mse_median", float("nan")),
                torch_peer.get(mode, {}).get("final_test_mse_median", float("nan"))]
        print(f"{mode:<8}{o:>11.2f}s{j:>12.2f}s{t:>9.2f}s{o / j:>9.2f}{o / t:>10.2f}"
              f"{ours[mode]['cold_s']:>9.2f}s   " + ", ".join(f"{v:.4f}" for v in mses))


if __name__ == "__main__":
    main()
