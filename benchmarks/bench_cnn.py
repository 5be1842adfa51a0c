"""Benchmark of the cnn experiment: accuracy/time targets and training throughput vs PyTorch.

1. digits (full preset): test accuracy and seconds (target >= 98.5 % in under 30 s);
2. MNIST from local IDX files (``--data-dir`` or ``OVERFITLAB_DATA``; skipped when absent), 2
   epochs: test accuracy and seconds (target >= 99.2 % in <= 60 s of training);
3. training images per second (28x28x1, AdamW; median of the repeats) of the simple convnet
   (batch 128), of the VGG-style net and of its compact variant, the MNIST preset's (batch 32),
   in this engine and in PyTorch's CPU build when torch is installed (benchmark only; the
   package never imports torch).

Usage: python benchmarks/bench_cnn.py [--data-dir DIR] [--skip-mnist] [--holdout last]
                                       [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from overfitlab.engine import cnn
from overfitlab.engine.cnn_train import TrainSettings, make_optimizer, train_step
from overfitlab.experiments.cnn import EXPERIMENT, CNNConfig

BATCH = 128
MNIST_OVERRIDES = {"epochs": 2}  # the other settings are the mnist preset defaults


def run_experiment(label: str, **overrides) -> dict:
    config = CNNConfig.preset("full", **overrides)
    result = EXPERIMENT.run(config)
    m = result.metrics
    row = {"case": label, "test_accuracy": m["test_accuracy"],
           "mlp_test_accuracy": m["mlp_test_accuracy"], "epochs": m["epochs"],
           "train_seconds": m["train_seconds"], "run_seconds": result.elapsed_s,
           "images_per_second": m["images_per_second"],
           "test_held_out_from_train": m["test_held_out_from_train"]}
    print(f"{label}: test accuracy {m['test_accuracy']:.2%} (MLP {m['mlp_test_accuracy']:.2%}), "
          f"{m['epochs']} epochs, CNN training {m['train_seconds']:.1f} s, whole run "
          f"{result.elapsed_s:.1f} s, {m['images_per_second']:,.0f} images/s", flush=True)
    return row


# Each throughput case: the engine's architecture and its batch size (the MNIST preset trains the
# compact net in batches of 32).
THROUGHPUT_CASES = {"simple": (cnn.simple_convnet(), BATCH), "vgg": (cnn.vgg_convnet(), 32),
                    "compact": (cnn.compact_convnet(), 32)}


def jax_throughput(name: str, steps: int, repeats: int) -> float:
    """Steady-state training images per second (median over repeats; compilation excluded)."""
    model, batch = THROUGHPUT_CASES[name]
    rng = np.random.default_rng(0)
    n = batch * steps
    x = jnp.asarray(rng.normal(size=(n, 28, 28, 1)).astype(np.float32))
    y = jnp.asarray(rng.integers(0, 10, n).astype(np.int32))
    optimizer = make_optimizer(TrainSettings(), steps * (repeats + 1))
    params = cnn.init(model, jax.random.PRNGKey(0), (28, 28, 1))
    state = (params, optimizer.init(params))
    step = partial(train_step, model=model, optimizer=optimizer, shift=0)
    batches = jnp.arange(n).reshape(steps, batch)
    keys = jax.random.split(jax.random.PRNGKey(1), steps)
    rates = []
    for r in range(repeats + 1):  # the first pass compiles
        start = time.perf_counter()
        for i in range(steps):
            state, loss, _ = step(state, x, y, batches, keys, i)
        loss.block_until_ready()
        if r:
            rates.append(n / (time.perf_counter() - start))
    return float(np.median(rates))


def torch_model(name: str):
    """The same architecture in PyTorch (NCHW; BatchNorm momentum 0.1 is the engine's 0.9)."""
    from torch import nn
    if name == "simple":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10))
    if name == "vgg":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.1), nn.Linear(1024, 512), nn.BatchNorm1d(512), nn.ReLU(),
            nn.Dropout(0.1), nn.Linear(512, 10))
    return nn.Sequential(
        nn.Conv2d(1, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3), nn.BatchNorm2d(128), nn.ReLU(),
        nn.Flatten(), nn.Dropout(0.1), nn.Linear(1152, 512), nn.BatchNorm1d(512), nn.ReLU(),
        nn.Dropout(0.1), nn.Linear(512, 10))


def torch_throughput(name: str, steps: int, repeats: int) -> float | None:
    """The same network, loss and optimizer in PyTorch (CPU); None when torch is absent."""
    try:
        import torch
        from torch import nn
    except ImportError:
        return None
    torch.manual_seed(0)
    model = torch_model(name)
    batch = THROUGHPUT_CASES[name][1]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(batch * steps, 1, 28, 28)
    y = torch.randint(0, 10, (batch * steps,))
    rates = []
    for r in range(repeats + 1):  # the first pass warms up
        start = time.perf_counter()
        for i in range(steps):
            xb, yb = x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
        if r:
            rates.append(batch * steps / (time.perf_counter() - start))
    return float(np.median(rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("OVERFITLAB_DATA"),
                        help="folder with the MNIST IDX files (default: $OVERFITLAB_DATA)")
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--holdout", default="stratified", choices=("stratified", "last"),
                        help="how the MNIST test set is held out of the training split")
    parser.add_argument("--steps", type=int, default=30, help="steps per throughput repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"jax {jax.__version__} on {jax.default_backend()}", flush=True)
    rows = [run_experiment("digits (full preset)")]
    if args.skip_mnist:
        print("MNIST: skipped (--skip-mnist)")
    elif not args.data_dir or not os.path.isdir(args.data_dir):
        print("MNIST: skipped (no data directory: pass --data-dir or set OVERFITLAB_DATA)")
    else:
        rows.append(run_experiment(f"mnist ({args.holdout} 10k held out)", dataset="mnist",
                                   data_dir=args.data_dir, holdout=args.holdout,
                                   **MNIST_OVERRIDES))

    throughput = {}
    for name, (_, batch) in THROUGHPUT_CASES.items():
        ours = jax_throughput(name, args.steps, args.repeats)
        theirs = torch_throughput(name, args.steps, args.repeats)
        throughput[name] = {"batch": batch, "jax_images_per_second": ours,
                            "torch_images_per_second": theirs}
        print(f"{name} convnet training, batch {batch}: overfitlab/JAX {ours:,.0f} images/s",
              end="")
        if theirs is None:
            print("; PyTorch: skipped (torch is not installed: "
                  ".venv/bin/pip install torch==2.13.0 for the comparison)")
        else:
            import torch
            print(f"; PyTorch {torch.__version__} {theirs:,.0f} images/s "
                  f"(JAX/PyTorch = {ours / theirs:.2f})", flush=True)
    summary = {"runs": rows, "throughput": throughput, "cpus": os.cpu_count()}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
