"""Mini-batch training of an image classifier from :mod:`overfitlab.engine.cnn`, top to bottom.

Loss: mean softmax cross-entropy against label-smoothed targets,
``L = -(1/B) sum_n sum_k t_nk log softmax(f(x_n))_k`` with
``t_nk = (1 - eps) [k = y_n] + eps / K`` (Szegedy et al., 2016; ``eps = 0``: the plain
cross-entropy ``-(1/B) sum_n log softmax(f(x_n))[y_n]``).
Its gradient with respect to the logits is ``(softmax(f(x_n)) - t_n) / B``: smoothing stops
pushing the true class's probability all the way to 1. Optimizer: AdamW
(Adam with decoupled weight decay ``w <- w - eta_t (adam_step + lambda w)`` on kernels only, not
biases) under a one-cycle cosine schedule: ``eta_t`` rises from ``eta/25`` to ``eta`` over the
first ``warmup`` fraction of the steps and falls to ``eta/2500`` by the last. Each epoch draws a
fresh permutation and drops the last partial batch, so every step sees a ``(B, H, W, C)`` batch
and one compiled train step serves the whole run. The step is called from a Python loop rather
than a ``lax.scan``: on XLA's CPU backend convolutions inside a scan ran about 30x slower (measured
with jax 0.10), while the dispatch cost of a loop is negligible beside a step.
Optional augmentation shifts each image by a
random whole number of pixels in ``[-s, s]`` along each axis (edge pixels fill the gap).
Everything random derives from one PRNG key, so a run is reproducible from its seed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cache, partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy.special import logsumexp

from overfitlab.engine import cnn, threefry
from overfitlab.engine.programs import to_device, ynn_fusions
from overfitlab.progress import Progress, no_progress


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters of one training run."""

    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    augment_shift: int = 0  # max random shift in pixels; 0 disables augmentation
    label_smoothing: float = 0.0  # eps of the smoothed targets; 0: plain cross-entropy
    warmup: float = 0.2  # fraction of steps spent raising the learning rate
    eval_batch_size: int = 500
    progress_updates: int = 10  # progress reports per epoch (at most)


@dataclass
class Fit:
    """A trained model, its per-epoch history and its cost."""

    params: cnn.Params
    history: dict[str, np.ndarray] = field(default_factory=dict)
    train_seconds: float = 0.0
    images_per_second: float = 0.0
    steps: int = 0


def cross_entropy(logits: jax.Array, labels: jax.Array, smoothing: float = 0.0) -> jax.Array:
    """Mean softmax cross-entropy of integer ``labels``, against targets smoothed by ``smoothing``
    (``eps`` of the module docstring): ``-(1 - eps) log p_y - (eps / K) sum_k log p_k``."""
    log_p = jax.nn.log_softmax(logits)
    true_class = jnp.take_along_axis(log_p, labels[:, None], axis=-1)[:, 0]
    if not smoothing:
        return -true_class.mean()
    return -((1.0 - smoothing) * true_class + smoothing * log_p.mean(axis=-1)).mean()


def random_shift(x: jax.Array, shift: int, key: jax.Array) -> jax.Array:
    """Translate each image of ``x`` by independent integer offsets in [-shift, shift]."""
    n, h, w, _ = x.shape
    padded = jnp.pad(x, ((0, 0), (shift, shift), (shift, shift), (0, 0)), mode="edge")
    offsets = jax.random.randint(key, (n, 2), 0, 2 * shift + 1)

    def crop(img: jax.Array, o: jax.Array) -> jax.Array:
        return jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, img.shape[-1]))

    return jax.vmap(crop)(padded, offsets)


def _convolutions_on_all_cores() -> dict:
    """``jax.jit`` compiler options that keep XLA's CPU backend from handing convolutions to
    YNNPACK, which runs each one on a single thread; Eigen's convolution, used instead, runs on
    every core. Matrix products and reductions stay with YNNPACK, as by default (the two library
    fusion types named are the rest of jaxlib 0.10's default list). Measured per training step
    on 2 cores (jax 0.10.2, same process, interleaved): VGG-style net, batch 32, 33.0 -> 24.8 ms;
    compact net (the MNIST preset), batch 32, 16.2 -> 13.9 ms; simple convnet, batch 128, 74.5
    -> 72.6 ms (its step already keeps both cores busy). Eigen sums in another order, so losses
    differ from YNNPACK's at float32 rounding."""
    return ynn_fusions("INDIVIDUAL_DOT", "REDUCE")


COMPILER_OPTIONS = _convolutions_on_all_cores()
"""For ``jax.jit(compiler_options=...)`` of one network's training step and forward pass."""


@cache
def make_optimizer(settings: TrainSettings, total_steps: int) -> optax.GradientTransformation:
    """AdamW under a one-cycle cosine schedule; weight decay on kernels (ndim > 1) only.

    Cached, so runs with equal settings share one optimizer object and hence one compiled step.
    """
    schedule = optax.cosine_onecycle_schedule(
        transition_steps=max(total_steps, 1), peak_value=settings.learning_rate,
        pct_start=settings.warmup, div_factor=25.0, final_div_factor=100.0)
    kernels_only = lambda params: jax.tree_util.tree_map(lambda p: p.ndim > 1, params)  # noqa: E731
    return optax.adamw(schedule, weight_decay=settings.weight_decay, mask=kernels_only)


@partial(jax.jit, static_argnames=("model", "optimizer", "shift", "smoothing"),
         donate_argnums=(0,), compiler_options=COMPILER_OPTIONS)
def train_step(state, x_all, y_all, batches, keys, i, *, model, optimizer, shift,
               smoothing=0.0):
    """Optimizer step ``i`` of an epoch, on the images ``x_all[batches[i]]`` with random key
    ``keys[i]``, descending the cross-entropy smoothed by ``smoothing``; returns the new state,
    the batch's plain cross-entropy (comparable with the test loss whatever the smoothing) and
    the batch accuracy. Indexing inside the compiled step keeps the Python loop to one dispatch
    per step."""

    def loss_fn(params, xb, yb, key):
        logits, moments = cnn.apply_train(model, params, xb, key)
        return cross_entropy(logits, yb, smoothing), (logits, moments)

    params, opt_state = state
    key_shift, key_drop = jax.random.split(keys[i])
    xb, yb = x_all[batches[i]], y_all[batches[i]]
    if shift:
        xb = random_shift(xb, shift, key_shift)
    (_, (logits, moments)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, xb, yb, key_drop)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    # BatchNorm's running statistics get zero gradients (so no Adam update) and are then moved
    # towards the batch's moments.
    params = cnn.update_running_stats(model, optax.apply_updates(params, updates), moments)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == yb)
    return (params, opt_state), cross_entropy(logits, yb), accuracy


@partial(jax.jit, static_argnames="optimizer", compiler_options=COMPILER_OPTIONS)
def _optimizer_state(params, *, optimizer):
    """The optimizer's initial state in one compiled program (called eagerly, ``init`` compiles
    a small program per parameter shape: ten for the digits convnet, 0.4 s)."""
    return optimizer.init(params)


@partial(jax.jit, static_argnames="model", compiler_options=COMPILER_OPTIONS)
def _logits(params, x, *, model):
    return cnn.apply(model, params, x)


def predict_logits(model: cnn.Model, params: cnn.Params, x: np.ndarray,
                   batch_size: int = 500) -> np.ndarray:
    """Logits for every image of ``x``, in batches of exactly ``batch_size`` (the last one
    zero-padded), so one compiled forward pass serves every data set."""
    n = len(x)
    size = batch_size
    out = []
    for start in range(0, n, size):
        xb = x[start:start + size]
        pad = size - len(xb)
        if pad:
            xb = np.concatenate([xb, np.zeros((pad, *xb.shape[1:]), xb.dtype)])
        out.append(np.asarray(_logits(params, to_device(xb), model=model))[: size - pad])
    return np.concatenate(out)


def evaluate(model: cnn.Model, params: cnn.Params, x: np.ndarray, y: np.ndarray,
             batch_size: int = 500) -> tuple[float, float, np.ndarray]:
    """Mean cross-entropy, accuracy and predicted classes on ``(x, y)``."""
    logits = predict_logits(model, params, x, batch_size).astype(np.float64)
    loss = float(np.mean(logsumexp(logits, axis=1) - logits[np.arange(len(y)), y]))
    predictions = logits.argmax(-1)
    return loss, float(np.mean(predictions == y)), predictions


def _mean(values: list[jax.Array]) -> float:
    """The mean of device scalars (one step's loss each), in float64 on the host (an eager
    ``jnp.mean`` would compile a program per length)."""
    return float(np.mean(np.asarray(jax.device_get(values), np.float64)))


def fit(model: cnn.Model, key: jax.Array, x_train: np.ndarray, y_train: np.ndarray,
        x_test: np.ndarray, y_test: np.ndarray, settings: TrainSettings,
        progress: Progress = no_progress, label: str = "CNN") -> Fit:
    """Train ``model`` from a fresh initialisation drawn from ``key``; evaluate after each epoch.

    ``history`` holds per epoch: ``train_loss``/``train_accuracy`` (running means over the
    epoch's batches, with dropout and augmentation active; the loss is the plain cross-entropy
    even when the targets are smoothed), ``test_loss``/``test_accuracy``
    (evaluation mode) and ``seconds`` (cumulative training time, evaluation excluded); and at
    each progress report (about ``progress_updates`` per epoch): ``step_epoch`` (fractional
    epoch), ``step_loss``/``step_accuracy`` (means over the batches since the last report).
    """
    n = len(x_train)
    batch = min(settings.batch_size, n)
    steps_per_epoch = n // batch
    total = steps_per_epoch * settings.epochs
    report_every = max(1, steps_per_epoch // max(settings.progress_updates, 1))
    optimizer = make_optimizer(settings, total)

    key_init, key_data = threefry.split(key)
    params = cnn.init(model, key_init, x_train.shape[1:])
    # Committed like the step's outputs, so the second step finds the program the first compiled
    # (fresh, uncommitted arrays compile a second copy: 2-3 s per network on 2 cores).
    state = jax.device_put((params, _optimizer_state(params, optimizer=optimizer)),
                           jax.devices()[0])
    x_all, y_all = to_device(x_train), to_device(y_train)
    step = partial(train_step, model=model, optimizer=optimizer, shift=settings.augment_shift,
                   smoothing=settings.label_smoothing)

    history: dict[str, list[float]] = {k: [] for k in
                                       ("train_loss", "train_accuracy", "test_loss",
                                        "test_accuracy", "seconds")}
    trace: dict[str, list[float]] = {"step_epoch": [], "step_loss": [], "step_accuracy": []}
    train_seconds = 0.0
    for epoch in range(settings.epochs):
        key_perm, key_steps = threefry.split(threefry.fold_in(key_data, epoch))
        batches = threefry.permutations(key_perm, n)[0, : steps_per_epoch * batch]
        batches = to_device(batches.reshape(steps_per_epoch, batch))
        step_keys = to_device(threefry.split(key_steps, steps_per_epoch))
        start = time.perf_counter()
        losses, accuracies = [], []
        for i in range(steps_per_epoch):
            state, loss, accuracy = step(state, x_all, y_all, batches, step_keys, i)
            losses.append(loss)
            accuracies.append(accuracy)
            if (i + 1) % report_every == 0 or i + 1 == steps_per_epoch:
                recent = slice(-report_every, None)  # float() below waits for these steps
                window_loss, window_acc = _mean(losses[recent]), _mean(accuracies[recent])
                trace["step_epoch"].append(epoch + (i + 1) / steps_per_epoch)
                trace["step_loss"].append(window_loss)
                trace["step_accuracy"].append(window_acc)
                progress((epoch * steps_per_epoch + i + 1) / total,
                         f"{label} epoch {epoch + 1}/{settings.epochs} "
                         f"loss {window_loss:.3f} acc {window_acc:.3f}")
        jax.block_until_ready(state)
        train_seconds += time.perf_counter() - start
        test_loss, test_acc, _ = evaluate(model, state[0], x_test, y_test,
                                          settings.eval_batch_size)
        history["train_loss"].append(_mean(losses))
        history["train_accuracy"].append(_mean(accuracies))
        history["test_loss"].append(test_loss)
        history["test_accuracy"].append(test_acc)
        history["seconds"].append(train_seconds)
    history.update(trace)
    return Fit(state[0], {k: np.asarray(v) for k, v in history.items()}, train_seconds,
               total * batch / train_seconds if train_seconds else 0.0, total)
