"""Compiled training of many MLPs at once, read top to bottom.

One call trains B networks (seeds x configurations, flattened) on the same data. Each network
has its own hyper-parameters (:class:`Hyper`: alpha, l1, learning rate, dropout rate, hidden-unit
masks, sample weights), its own initial weights and its own PRNG stream. The objective of one
network on a batch of m samples with weights s_i is scikit-learn's:

    J(W) = 1/2 * sum_i s_i ||y_i - f(x_i)||^2 / sum_i s_i  +  alpha / (2 sum_i s_i) sum_l ||W_l||^2

minimised by scikit-learn's Adam or SGD (see :mod:`overfitlab.engine.optim`), followed, when
l1 > 0, by the proximal step of l1 / sum_i s_i * sum |W| (soft-thresholding, exact zeros).

The loop structure mirrors ``MLPRegressor._fit_stochastic``: an *iteration* is one epoch (one
pass over the data in mini-batches of ``batch_size``; one step when full batch). After each
epoch:

* ``loss_curve`` records the epoch's mean objective (computed on each batch before its update);
* when evaluation data is given, the MSE on it (and on the training data) after the update is
  recorded on the iterations of ``record_steps`` (every one, or a log-spaced grid);
* the stopping rule of scikit-learn is applied: with tol set, a network whose tracked metric
  (minus the training loss, or the validation R^2 with ``early_stopping``) has not improved by
  more than tol for more than ``n_iter_no_change`` epochs stops (frozen from then on); with
  ``early_stopping`` its best-validation weights are restored at the end.

Epochs run inside ``lax.scan`` over chunks, inside a ``lax.while_loop`` that ends as soon as
every network has stopped; networks are vectorized with ``vmap``. The whole function is
compiled once per (shapes, spec) and cached by ``jax.jit``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from overfitlab.engine import optim
from overfitlab.engine.mlp import Params, check_activation, forward, init_stack
from overfitlab.engine.regularizers import dropout_masks, l1_penalty, l2_penalty, prox_l1


@dataclass(frozen=True)
class TrainSpec:
    """Static description of a training run (everything that fixes the compiled program)."""

    layer_sizes: tuple[int, ...]
    activation: str = "relu"
    solver: str = "adam"
    max_iter: int = 200
    batch_size: int | None = None  # None: full batch
    shuffle: bool = True
    tol: float | None = 1e-4  # None: run exactly max_iter epochs
    n_iter_no_change: int = 10
    early_stopping: bool = False  # track validation R^2, restore the best weights
    lr_schedule: str = "constant"  # "constant" | "invscaling" | "adaptive" (sgd only)
    power_t: float = 0.5
    momentum: float = 0.9
    nesterovs_momentum: bool = True
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    chunk: int = 500  # epochs per scan inside the while loop
    use_dropout: bool = False  # compile the dropout masks in (any network has rate > 0)
    use_l1: bool = False  # compile the proximal L1 step in (any network has l1 > 0)
    record_train_mse: bool = True  # with evaluation data, also record the training-set MSE

    def __post_init__(self) -> None:
        check_activation(self.activation)
        if self.solver not in ("adam", "sgd"):
            raise ValueError(f"solver must be 'adam' or 'sgd', got {self.solver!r}")
        if self.lr_schedule not in ("constant", "invscaling", "adaptive"):
            raise ValueError(f"unknown learning-rate schedule {self.lr_schedule!r}")

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return tuple(self.layer_sizes[1:-1])


class Hyper(NamedTuple):
    """Per-network hyper-parameters; every leaf has a leading network axis when batched."""

    alpha: jax.Array  # L2 coefficient
    l1: jax.Array  # L1 coefficient (proximal)
    learning_rate: jax.Array
    dropout: jax.Array  # inverted-dropout rate on hidden units, in [0, 1)
    unit_masks: tuple  # one (h_l,) 0/1 array per hidden layer
    sample_weight: jax.Array  # (n_samples,), e.g. bootstrap counts for bagging


def make_hyper(n_samples: int, hidden_sizes: Sequence[int], alpha=1e-4, l1=0.0,
               learning_rate=1e-3, dropout=0.0, unit_masks=None, sample_weight=None,
               dtype=np.float32) -> Hyper:
    """A single network's :class:`Hyper` with defaults (all units on, unit sample weights).

    From host values the leaves are NumPy arrays (:func:`stack_networks` moves a stack of them to
    the device without compiling anything); JAX arrays, traced ones included, stay JAX.
    """
    given = (alpha, l1, learning_rate, dropout, sample_weight, *(unit_masks or ()))
    xp = jnp if any(isinstance(a, jax.Array) for a in given) else np
    if unit_masks is None:
        unit_masks = tuple(xp.ones((h,), dtype) for h in hidden_sizes)
    if sample_weight is None:
        sample_weight = xp.ones((n_samples,), dtype)
    cast = lambda a: xp.asarray(a, dtype)  # noqa: E731
    return Hyper(cast(alpha), cast(l1), cast(learning_rate), cast(dropout),
                 tuple(cast(m) for m in unit_masks), cast(sample_weight))


def to_device(a) -> jax.Array:
    """A host array on the device, in JAX's canonical dtype (float32 unless x64 is enabled).

    ``jax.device_put`` of a host array compiles nothing, while ``jnp.asarray`` compiles a small
    program per shape (jax 0.10): cold starts pay for each of those.
    """
    a = np.asarray(a)
    return jax.device_put(a.astype(jax.dtypes.canonicalize_dtype(a.dtype), copy=False))


def host_keys(rng: np.random.RandomState, n: int) -> np.ndarray:
    """``n`` PRNG keys (raw threefry key data, uint32 of shape (n, 2)) drawn from a NumPy
    RandomState on the host, which compiles nothing (``jax.random.split`` compiles a program per
    shape)."""
    return rng.randint(0, 2**32, size=(n, 2), dtype=np.uint64).astype(np.uint32)


def stack_networks(trees: Sequence):
    """Stack single-network pytrees (:class:`Hyper`, parameters) along a new leading axis.

    Stacked on the host with NumPy: eager ``jnp.stack`` would compile a program per shape.
    """
    return jax.tree_util.tree_map(lambda *xs: to_device(np.stack([np.asarray(x) for x in xs])),
                                  *trees)


class NetState(NamedTuple):
    """Everything one network carries from epoch to epoch."""

    params: Params
    opt_state: object
    key: jax.Array
    lr: jax.Array  # current learning rate (changes with invscaling/adaptive)
    best_metric: jax.Array  # best -loss, or best validation R^2
    no_improve: jax.Array
    done: jax.Array  # stopped by the tol rule
    n_iter: jax.Array  # epochs run
    samples_seen: jax.Array
    best_params: Params
    best_iter: jax.Array


class TrainResult(NamedTuple):
    """Stacked outcome of a batched run (leading axis: network).

    ``eval_mse``/``train_mse`` are MSE after the iterations listed in ``record_steps``
    (NaN where a network had already stopped); ``loss_curve``/``val_score`` hold one value per
    epoch run and NaN afterwards.
    """

    params: Params
    opt_state: object
    loss_curve: jax.Array  # (B, max_iter)
    val_score: jax.Array  # (B, max_iter) validation R^2 (NaN unless early_stopping)
    eval_mse: jax.Array  # (B, R)
    train_mse: jax.Array  # (B, R)
    record_steps: np.ndarray  # (R,) iteration counts, 1-based
    n_iter: jax.Array  # (B,)
    converged: jax.Array  # (B,) stopped by the tol rule before max_iter
    best_iter: jax.Array  # (B,) iteration of the best validation score (early_stopping)


def record_grid(max_iter: int, record: str | int | None) -> np.ndarray:
    """Iterations (1-based) at which evaluation curves are recorded.

    ``"every"``: 1..max_iter; an int k: about k log-spaced iterations (always including 1 and
    max_iter); ``None``: none.
    """
    if record is None:
        return np.zeros((0,), np.int64)
    if record == "every":
        return np.arange(1, max_iter + 1)
    if isinstance(record, int) and record >= 2:
        grid = np.unique(np.round(np.geomspace(1, max_iter, record)).astype(np.int64))
        return grid
    raise ValueError(f"record must be 'every', an int >= 2 or None, got {record!r}")


def _mse(params, X, y, activation, masks) -> jax.Array:
    """Mean squared error of the deterministic network (no dropout)."""
    return jnp.mean((forward(params, X, activation, masks) - y) ** 2)


def _r2(params, X, y, activation, masks) -> jax.Array:
    """Coefficient of determination, averaged over outputs (scikit-learn's default)."""
    resid = jnp.sum((forward(params, X, activation, masks) - y) ** 2, axis=0)
    total = jnp.sum((y - jnp.mean(y, axis=0)) ** 2, axis=0)
    return jnp.mean(1.0 - resid / total)


def _objective(params, X, y, w, hyper: Hyper, key, spec: TrainSpec):
    """Weighted half squared error + L2 (+ L1 for reporting) of one batch, with dropout."""
    wsum = jnp.sum(w)
    masks = [m[None, :] for m in hyper.unit_masks]
    if spec.use_dropout and spec.hidden_sizes:
        drop = dropout_masks(key, hyper.dropout, X.shape[0], spec.hidden_sizes, X.dtype)
        masks = [m * d for m, d in zip(masks, drop)]
    pred = forward(params, X, spec.activation, masks)
    data_term = 0.5 * jnp.sum(w[:, None] * (pred - y) ** 2) / wsum
    # The L1 term is minimised by the proximal step, not by the gradient: report it only.
    reported_l1 = jax.lax.stop_gradient(l1_penalty(params, hyper.l1, wsum))
    return data_term + l2_penalty(params, hyper.alpha, wsum) + reported_l1


def _batches(key, n: int, batch_size: int, shuffle: bool):
    """Index matrix (n_batches, batch_size) and validity mask for one epoch.

    The last batch is padded with index 0 and mask 0 so every batch has the same shape, which
    reproduces scikit-learn's smaller final batch exactly.
    """
    n_batches = -(-n // batch_size)
    order = jax.random.permutation(key, n) if (shuffle and n_batches > 1) else jnp.arange(n)
    pad = n_batches * batch_size - n
    idx = jnp.concatenate([order, jnp.zeros((pad,), order.dtype)]).reshape(n_batches, batch_size)
    valid = (jnp.arange(n_batches * batch_size) < n).reshape(n_batches, batch_size)
    return idx, valid


def _epoch(state: NetState, hyper: Hyper, data, spec: TrainSpec, record_now, epoch):
    """One epoch of one network; returns the new state and this epoch's recorded values."""
    X, y, X_eval, y_eval, X_val, y_val = data
    n = X.shape[0]
    batch_size = n if spec.batch_size is None else min(spec.batch_size, n)
    one_batch = batch_size == n
    if spec.use_dropout or (spec.shuffle and not one_batch):
        key, k_perm, k_drop = jax.random.split(state.key, 3)
    else:  # deterministic epoch: skip the (costly) key derivation
        key = k_perm = k_drop = state.key
    idx, valid = _batches(k_perm, n, batch_size, spec.shuffle)
    grad_fn = jax.value_and_grad(_objective)

    def step(carry, batch):
        params, opt_state, acc = carry
        b_idx, b_valid, b_key = batch
        if one_batch:  # full batch: no gather needed
            w, Xb, yb = hyper.sample_weight, X, y
        else:
            w, Xb, yb = hyper.sample_weight[b_idx] * b_valid, X[b_idx], y[b_idx]
        old = (params, opt_state)
        loss, grads = grad_fn(params, Xb, yb, w, hyper, b_key, spec)
        if spec.solver == "adam":
            updates, opt_state = optim.adam_update(
                grads, opt_state, state.lr, spec.beta_1, spec.beta_2, spec.epsilon)
        else:
            updates, opt_state = optim.sgd_update(
                grads, opt_state, state.lr, spec.momentum, spec.nesterovs_momentum)
        params = jax.tree_util.tree_map(jnp.add, params, updates)
        wsum = jnp.sum(w)
        if spec.use_l1:
            params = prox_l1(params, state.lr * hyper.l1 / wsum)
        if not one_batch:  # a batch whose sample weights are all 0 carries no information
            empty = wsum == 0
            params, opt_state = jax.tree_util.tree_map(
                lambda new_, old_: jnp.where(empty, old_, new_), (params, opt_state), old)
            loss = jnp.where(empty, 0.0, loss)
        # scikit-learn accumulates the batch loss times the batch's sample count.
        return (params, opt_state, acc + loss * jnp.sum(b_valid)), None

    keys = jax.random.split(k_drop, idx.shape[0])
    carry = (state.params, state.opt_state, jnp.zeros((), X.dtype))
    if one_batch:
        (params, opt_state, acc), _ = step(carry, (idx[0], valid[0], keys[0]))
    else:
        (params, opt_state, acc), _ = jax.lax.scan(step, carry, (idx, valid, keys))
    epoch_loss = acc / n
    masks = [m[None, :] for m in hyper.unit_masks]

    # Stopping rule (scikit-learn's _update_no_improvement_count), on a "higher is better" metric.
    if spec.early_stopping:
        metric = _r2(params, X_val, y_val, spec.activation, masks)
    else:
        metric = -epoch_loss
    tol = 0.0 if spec.tol is None else spec.tol
    no_improve = jnp.where(metric < state.best_metric + tol, state.no_improve + 1, 0)
    improved = metric > state.best_metric
    best_metric = jnp.where(improved, metric, state.best_metric)
    n_iter = state.n_iter + 1
    best_params, best_iter = state.best_params, state.best_iter
    if spec.early_stopping:
        best_params = jax.tree_util.tree_map(
            lambda new, old: jnp.where(improved, new, old), params, state.best_params)
        best_iter = jnp.where(improved, n_iter, state.best_iter)

    lr, done = state.lr, state.done
    samples_seen = state.samples_seen + n
    if spec.tol is not None:
        triggered = no_improve > spec.n_iter_no_change
        if spec.solver == "sgd" and spec.lr_schedule == "adaptive":
            done = triggered & (lr <= 1e-6)
            lr = jnp.where(triggered & ~done, lr / 5.0, lr)
            no_improve = jnp.where(triggered & ~done, 0, no_improve)
        else:
            done = triggered
    if spec.solver == "sgd" and spec.lr_schedule == "invscaling":
        lr = hyper.learning_rate / (samples_seen + 1.0) ** spec.power_t

    nan = jnp.full((), jnp.nan, X.dtype)

    def evaluate(_):
        train = _mse(params, X, y, spec.activation, masks) if spec.record_train_mse else nan
        return _mse(params, X_eval, y_eval, spec.activation, masks), train

    eval_mse, train_mse = jax.lax.cond(record_now, evaluate, lambda _: (nan, nan), None)
    new = NetState(params, opt_state, key, lr, best_metric, no_improve, done, n_iter,
                   samples_seen, best_params, best_iter)
    # Networks that had already stopped (or ran out of iterations) keep their state.
    active = ~state.done & (epoch < spec.max_iter)
    if spec.tol is not None or spec.max_iter % min(spec.chunk, spec.max_iter):
        new = jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), new, state)
    outputs = (epoch_loss, jnp.where(spec.early_stopping, metric, nan), eval_mse, train_mse)
    outputs = tuple(jnp.where(active, o, nan) for o in outputs)
    return new, outputs


def _initial_state(params, opt_state, key, hyper: Hyper, spec: TrainSpec, dtype) -> NetState:
    if opt_state is None:
        opt_state = (optim.adam_init(params) if spec.solver == "adam"
                     else optim.sgd_init(params))
    return NetState(params=params, opt_state=opt_state, key=key,
                    lr=jnp.asarray(hyper.learning_rate, dtype),
                    best_metric=jnp.asarray(-jnp.inf, dtype),
                    no_improve=jnp.zeros((), jnp.int32), done=jnp.zeros((), bool),
                    n_iter=jnp.zeros((), jnp.int32), samples_seen=jnp.zeros((), dtype),
                    best_params=params, best_iter=jnp.zeros((), jnp.int32))


# XLA's CPU backend generates the code of each fusion with its newer MLIR "fusion emitters" by
# default; the older LLVM emitters compile the training program in well under half the time (0.37 s
# instead of about 0.9 s for the course's learning curve, jax 0.10.2 on a quiet 2-core machine) and
# run it as fast or faster (the 1000-network sweep: 14 s instead of 19 s). Other backends ignore
# the option. Only a top-level jit takes compiler options: a caller that jits its own program
# around `train` (the playground) passes them itself.
COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False}


def _train_program(params, opt_state, keys, hyper: Hyper, data, record_mask, record_idx,
                   spec: TrainSpec):
    dtype = data[0].dtype
    record_mask = jnp.asarray(record_mask)  # a constant when inlined into a caller's jit
    init = jax.vmap(lambda p, o, k, h: _initial_state(p, o, k, h, spec, dtype),
                    in_axes=(0, None if opt_state is None else 0, 0, 0))
    state = init(params, opt_state, keys, hyper)
    n_nets = keys.shape[0]
    chunk = min(spec.chunk, spec.max_iter)
    n_chunks = -(-spec.max_iter // chunk)
    total = n_chunks * chunk
    epoch_fn = jax.vmap(_epoch, in_axes=(0, 0, None, None, None, None))
    nan_curves = jnp.full((4, n_nets, total), jnp.nan, dtype)

    def run_chunk(carry):
        state, curves, t0 = carry

        def body(s, t):
            return epoch_fn(s, hyper, data, spec, record_mask[t], t)

        state, outs = jax.lax.scan(body, state, t0 + jnp.arange(chunk))
        block = jnp.stack([jnp.swapaxes(o, 0, 1) for o in outs])  # (4, B, chunk)
        curves = jax.lax.dynamic_update_slice(curves, block, (0, 0, t0))
        return state, curves, t0 + chunk

    def keep_going(carry):
        state, _, t0 = carry
        return (t0 < spec.max_iter) & ~jnp.all(state.done)

    state, curves, _ = jax.lax.while_loop(keep_going, run_chunk, (state, nan_curves, 0))
    params = state.params
    if spec.early_stopping:
        params = state.best_params
    loss_curve, val_score = curves[0, :, :spec.max_iter], curves[1, :, :spec.max_iter]
    eval_mse, train_mse = curves[2][:, record_idx], curves[3][:, record_idx]
    return (params, state.opt_state, loss_curve, val_score, eval_mse, train_mse, state.n_iter,
            state.done, state.best_iter)


_train_compiled = jax.jit(_train_program, static_argnames=("spec",),
                          compiler_options=COMPILER_OPTIONS)


def _data_tuple(X, y, X_eval, y_eval, X_val, y_val):
    """Arrays as 2-D arrays of X's dtype; absent evaluation/validation sets reuse the training set.

    Host arrays are prepared with NumPy (eager JAX casts and reshapes would each compile a
    program); JAX arrays, traced ones included (``train`` inside a caller's ``jit``), stay JAX.
    """
    xp = jnp if any(isinstance(a, jax.Array) for a in (X, y, X_eval, X_val)) else np
    dtype = jnp.result_type(X) if xp is jnp else np.asarray(X).dtype
    if not jax.config.jax_enable_x64 and dtype == np.float64:
        dtype = np.dtype(np.float32)
    as2d = lambda a: xp.asarray(a, dtype).reshape(len(a), -1)  # noqa: E731
    X, y = as2d(X), as2d(y)
    X_eval, y_eval = (X, y) if X_eval is None else (as2d(X_eval), as2d(y_eval))
    X_val, y_val = (X, y) if X_val is None else (as2d(X_val), as2d(y_val))
    return X, y, X_eval, y_eval, X_val, y_val


def train(spec: TrainSpec, params: Params, keys: jax.Array, hyper: Hyper, X, y,
          X_eval=None, y_eval=None, X_val=None, y_val=None, record: str | int | None = None,
          opt_state=None) -> TrainResult:
    """Train B networks at once from stacked initial ``params`` (leading axis B).

    ``keys`` (B, 2) seed each network's shuffling and dropout; ``hyper`` is stacked along B.
    ``X_eval``/``y_eval`` enable the evaluation curves on the iterations chosen by ``record``
    (see :func:`record_grid`); ``X_val``/``y_val`` are required with ``spec.early_stopping``.
    ``opt_state`` (stacked) continues a previous run's optimizer, as ``partial_fit`` does.
    """
    if spec.early_stopping and X_val is None:
        raise ValueError("early_stopping needs validation data X_val, y_val")
    if X_eval is None and record is not None:
        raise ValueError("recording evaluation curves needs X_eval and y_eval")
    data = _data_tuple(X, y, X_eval, y_eval, X_val, y_val)
    steps = record_grid(spec.max_iter, record)
    chunk = min(spec.chunk, spec.max_iter)
    total = -(-spec.max_iter // chunk) * chunk
    mask = np.zeros(total, bool)
    mask[steps - 1] = True
    traced = any(isinstance(leaf, jax.core.Tracer)
                 for leaf in jax.tree_util.tree_leaves((params, keys, hyper, data, opt_state)))
    program = _train_program if traced else _train_compiled  # inside a caller's jit: inline
    (out_params, out_opt, loss_curve, val_score, eval_mse, train_mse, n_iter, converged,
     best_iter) = program(params, opt_state, keys, hyper, data, mask, steps - 1, spec)
    return TrainResult(out_params, out_opt, loss_curve, val_score, eval_mse, train_mse, steps,
                       n_iter, converged, best_iter)


def init_many(key: jax.Array, n: int, layer_sizes: tuple[int, ...], activation: str,
              dtype=jnp.float32) -> Params:
    """``n`` independent Glorot-uniform initialisations stacked along a leading axis.

    A pure function of ``key``: the draws come from a NumPy generator seeded with the key's
    bits (see :func:`~overfitlab.engine.mlp.init_mlp`), one network after the other. It runs on
    the host, so call it outside ``jax.jit``.
    """
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    return jax.tree_util.tree_map(to_device, init_stack(rng, n, layer_sizes, activation, dtype))


def train_grid(spec: TrainSpec, key: jax.Array, n_seeds: int, hyper: Hyper, X, y,
               X_eval=None, y_eval=None, record: str | int | None = None,
               X_val=None, y_val=None) -> TrainResult:
    """Train every (seed, configuration) pair in one compiled call.

    ``hyper`` is stacked along a configuration axis C. Seed s draws one initialisation shared by
    all C configurations (so configurations are compared from the same starting weights) and an
    independent shuffling/dropout stream per (s, c). Every array of the result has leading axes
    (n_seeds, C).
    """
    n_configs = jax.tree_util.tree_leaves(hyper)[0].shape[0]
    init_key, run_key = jax.random.split(key)
    x_dtype = jnp.result_type(X)
    dtype = x_dtype if jnp.issubdtype(x_dtype, jnp.floating) else jnp.float32
    params = init_many(init_key, n_seeds, tuple(spec.layer_sizes), spec.activation, dtype)
    repeat = lambda a: jnp.repeat(a, n_configs, axis=0)  # noqa: E731
    params = jax.tree_util.tree_map(repeat, params)
    hyper = jax.tree_util.tree_map(lambda a: jnp.tile(a, (n_seeds,) + (1,) * (a.ndim - 1)),
                                   hyper)
    keys = jax.random.split(run_key, n_seeds * n_configs)
    out = train(spec, params, keys, hyper, X, y, X_eval, y_eval, X_val, y_val, record)
    unflat = lambda a: a.reshape((n_seeds, n_configs) + a.shape[1:])  # noqa: E731
    return out._replace(
        params=jax.tree_util.tree_map(unflat, out.params),
        opt_state=jax.tree_util.tree_map(unflat, out.opt_state),
        loss_curve=unflat(out.loss_curve), val_score=unflat(out.val_score),
        eval_mse=unflat(out.eval_mse), train_mse=unflat(out.train_mse),
        n_iter=unflat(out.n_iter), converged=unflat(out.converged),
        best_iter=unflat(out.best_iter))


