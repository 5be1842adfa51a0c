"""Many small CNNs at once against one at a time: the training step of the cnn-regularization
experiment (8x8 digits, its default network and recipe mix) vmapped over K networks, against K
calls of the same step compiled for one network.

Both are timed warm (each compiled once beforehand), median of the repeats, and the one-network
loop dispatches its K calls back to back without waiting, as a Python loop over seeds would.

Usage: python benchmarks/bench_cnn_many.py [--networks 42] [--steps 20] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import time
from functools import partial

import jax
import numpy as np

from overfitlab.data.digits import load_digits
from overfitlab.engine import cnn_many
from overfitlab.experiments.cnn_regularization import (REGULARIZERS, CNNRegularizationConfig,
                                                       build_model, recipe_of, stack_recipes)


def setup(k: int, config: CNNRegularizationConfig):
    """Stacked state, data and recipes of k networks cycling through the recipes."""
    x, y = load_digits()
    x = ((x - x.mean()) / x.std()).astype(np.float32)
    model = build_model(x.shape[1:], config.channels, config.dense_hidden, config.dropout)
    settings = cnn_many.ManySettings(steps=1000, batch_size=config.batch_size,
                                     shift=config.shift)
    names = [REGULARIZERS[i % len(REGULARIZERS)] for i in range(k)]
    recipe = jax.device_put(stack_recipes([recipe_of(name, config) for name in names]))
    params = cnn_many.init_many(model, np.arange(k), x.shape[1:])
    state = (params, cnn_many._init_optimizer(params, settings=settings))
    order = np.random.default_rng(0).permutation(len(y))
    train = jax.device_put(np.stack([order] * k).astype(np.int32))
    n = jax.device_put(np.full(k, 400, np.int32))
    seeds = jax.device_put(np.arange(k, dtype=np.uint32))
    step = partial(cnn_many._train_step, model=model, settings=settings)
    return step, state, (jax.device_put(x), jax.device_put(y), train, n, recipe, seeds)


def split(state_and_args, k: int):
    """Network k's slice of the stacked state and per-network arguments."""
    state, (x, y, *per_network) = state_and_args
    take = lambda tree: jax.tree_util.tree_map(lambda a: a[k:k + 1], tree)  # noqa: E731
    return take(state), (x, y, *(take(a) for a in per_network))


def time_steps(step, state, args, steps: int) -> tuple[float, object]:
    start = time.perf_counter()
    for t in range(steps):
        state = step(state, *args, t)
    jax.block_until_ready(state)
    return time.perf_counter() - start, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=42)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = CNNRegularizationConfig.preset("full")
    k = args.networks
    step, state, data = setup(k, config)
    singles = [split((state, data), i) for i in range(k)]
    state = step(state, *data, 0)  # compile
    singles = [(step(s, *a, 0), a) for s, a in singles]  # compile the one-network step
    together, alone = [], []
    for _ in range(args.repeats):
        seconds, state = time_steps(step, state, data, args.steps)
        together.append(seconds)
        start = time.perf_counter()
        for t in range(args.steps):
            singles = [(step(s, *a, t), a) for s, a in singles]
        jax.block_until_ready([s for s, _ in singles])
        alone.append(time.perf_counter() - start)
    images = k * args.steps * config.batch_size
    t_together, t_alone = float(np.median(together)), float(np.median(alone))
    print(f"{os.cpu_count()} CPUs, jax {jax.__version__}, load {os.getloadavg()[0]:.2f}: "
          f"{k} networks x {args.steps} steps of {config.batch_size} images")
    print(f"vmapped: {t_together:.3f} s ({images / t_together:,.0f} images/s); one network at a "
          f"time: {t_alone:.3f} s ({images / t_alone:,.0f} images/s); "
          f"speed-up {t_alone / t_together:.2f}x")


if __name__ == "__main__":
    main()
