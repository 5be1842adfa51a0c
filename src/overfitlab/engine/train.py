"""Compiled training of many MLPs at once, read top to bottom.

One call trains B networks (seeds x configurations x folds, flattened) at once. Each network has
its own hyper-parameters (:class:`Hyper`: alpha, l1, learning rate, dropout rate, optional
hidden-unit masks and sample weights), its own initial weights and its own PRNG stream; the data
are shared, or given per network with a leading network axis (e.g. one noise draw per network), and
a network may train on its own rows of shared data (``rows``: a cross-validation fold's training
rows, gathered in the compiled program rather than copied per network).

The objective of one network on a batch of m samples with weights s_i (all 1 by default) is
scikit-learn's, for a regressor (identity output, ``loss="squared_error"``)

    J(W) = 1/2 * sum_i s_i ||y_i - f(x_i)||^2 / sum_i s_i  +  alpha / (2 sum_i s_i) sum_l ||W_l||^2

and for a classifier (``loss="log_loss"``) the data term is the cross-entropy of the output
probabilities p = softmax(z) (several classes, one-hot y) or p = sigmoid(z) (binary and multilabel
y in {0, 1}), -sum_i s_i sum_k [y_ik log p_ik (+ (1 - y_ik) log(1 - p_ik) for sigmoid)] / sum_i s_i.
Its gradient with respect to the output pre-activation z is (p - y) s_i / sum_i s_i, exactly
scikit-learn's backpropagated delta. The objective is minimised by scikit-learn's Adam or SGD (see
:mod:`overfitlab.engine.optim`), followed, when l1 > 0, by the proximal step of
l1 / sum_i s_i * sum |W| (soft-thresholding: exact zeros). The *reported* loss is scikit-learn's
``loss_curve_`` value: the squared-error term averaged over outputs, probabilities clipped to
[eps, 1 - eps] in the log-loss, plus the L2 and L1 penalties.

The loop mirrors ``MLPRegressor._fit_stochastic``: an *iteration* is one epoch (one pass over the
data in mini-batches of ``batch_size``, taken in a permutation drawn from the network's PRNG key
(:class:`EngineOrders`) or in orders the caller draws, such as scikit-learn's own shuffles, both on
the host; one step when full batch). After each epoch:

* ``loss_curve`` records the epoch's mean reported loss (computed on each batch before its update);
* with evaluation data, the loss (MSE for regression, log-loss for classification; plus accuracy
  for classification) on it, and on the training data, after the update, is recorded on the
  iterations of ``record_steps`` (every one, or a log-spaced grid);
* **divergence**: a network whose training objective is non-finite, or larger than
  ``DIVERGENCE_FACTOR`` times its reference (the larger of its first epoch's objective and the
  loss of the best constant prediction), is diverged from that iteration on; a finite spike that
  comes back below the threshold is forgiven, so ``diverged`` describes the end of training;
* **stopping** (with ``tol`` set): a network whose tracked metric has not improved by more than tol
  for more than ``n_iter_no_change`` epochs stops and is frozen (so does a non-finite one).
  The metric is the validation score (R^2 or accuracy) with ``early_stopping``, whose best weights
  are restored at the end, and minus the epoch's training loss when training is full batch without
  dropout: scikit-learn's rule, exactly. With dropout or mini-batches the epoch's loss is noisy
  (random masks, random batches) and the weights themselves wander around their trend, so the rule
  would stop on noise (a 20-unit network with dropout 0.2 stopped after 53 of 20000 epochs). There
  the metric is minus the training objective on the full training set without dropout, evaluated
  after each epoch (no sampling noise), and it is judged over *doubling windows* of epochs
  (n_iter_no_change, then n_iter_no_change more, then 2x, 4x, ... that many): training stops at
  the end of a window whose best objective improved on the best before it by less than tol per
  epoch of the window. Windows that grow with training average out the wandering of the weights
  at every time scale (a plateau must last as long as the training so far to stop it).

Epochs run in a compiled ``lax.scan`` over a chunk of ``chunk`` epochs, networks vectorized with
``vmap``; a Python loop calls that one compiled program chunk after chunk, reports progress
between chunks and ends as soon as every network has stopped. On a CPU a compiled loop of small
networks runs on one core, so when a step's work is large enough (:data:`PARALLEL_MIN_WORK`: many
small networks, or a few on many rows) the networks are split into equal parts trained
concurrently, one per core; networks are independent, so this changes nothing but the wall time.
The program pays only for what the spec uses: no dropout masks without dropout, no proximal step
without L1, no sample-weight or unit-mask arithmetic when none are given, no stopping bookkeeping
with ``tol=None``, no loss curve when ``record_loss_curve`` is off. The initial state is built on
the host, so a cold fit compiles exactly one program.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from overfitlab.engine import optim, programs, threefry
from overfitlab.engine.programs import to_device
from overfitlab.engine.mlp import Params, check_activation, forward, init_stack
from overfitlab.engine.regularizers import dropout_masks, l1_penalty, l2_penalty, prox_l1
from overfitlab.cores import usable_cores
from overfitlab.progress import Progress, no_progress

LOSSES = {"squared_error": ("identity",), "log_loss": ("softmax", "logistic")}
"""Loss -> the output activations it pairs with (scikit-learn's canonical links)."""

DIVERGENCE_FACTOR = 100.0
"""A network has diverged when its training objective exceeds this multiple of its reference
(the larger of its first epoch's objective and the loss of the best constant prediction)."""


@dataclass(frozen=True)
class TrainSpec:
    """Static description of a training run (everything that fixes the compiled program)."""

    layer_sizes: tuple[int, ...]
    activation: str = "relu"
    solver: str = "adam"
    max_iter: int = 200
    loss: str = "squared_error"  # "squared_error" | "log_loss"
    out_activation: str = "identity"  # "identity" | "softmax" | "logistic" (see LOSSES)
    batch_size: int | None = None  # None: full batch
    shuffle: bool = True
    tol: float | None = 1e-4  # None: run exactly max_iter epochs
    n_iter_no_change: int = 10
    early_stopping: bool = False  # track the validation score, restore the best weights
    lr_schedule: str = "constant"  # "constant" | "invscaling" | "adaptive" (sgd only)
    power_t: float = 0.5
    momentum: float = 0.9
    nesterovs_momentum: bool = True
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    chunk: int = 1000  # epochs per compiled call (progress is reported between calls)
    use_dropout: bool = False  # compile the dropout masks in (any network has rate > 0)
    use_l1: bool = False  # compile the proximal L1 step in (any network has l1 > 0)
    record_train: bool = True  # with evaluation data, also record the training-set loss
    record_loss_curve: bool = True  # record the reported loss of every epoch

    def __post_init__(self) -> None:
        check_activation(self.activation)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {self.loss!r}")
        if self.out_activation not in LOSSES[self.loss]:
            raise ValueError(f"loss {self.loss!r} needs an output activation in "
                             f"{LOSSES[self.loss]}, got {self.out_activation!r}")
        if self.solver not in ("adam", "sgd"):
            raise ValueError(f"solver must be 'adam' or 'sgd', got {self.solver!r}")
        if self.lr_schedule not in ("constant", "invscaling", "adaptive"):
            raise ValueError(f"unknown learning-rate schedule {self.lr_schedule!r}")
        if self.early_stopping and self.tol is None:
            raise ValueError("early_stopping needs tol (the improvement that resets patience)")

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return tuple(self.layer_sizes[1:-1])

    @property
    def classifier(self) -> bool:
        return self.loss == "log_loss"


class Hyper(NamedTuple):
    """Per-network hyper-parameters; every leaf has a leading network axis when batched.

    ``unit_masks`` and ``sample_weight`` are None when unused (all units on, unit weights): the
    compiled program then skips their arithmetic.
    """

    alpha: jax.Array  # L2 coefficient
    l1: jax.Array  # L1 coefficient (proximal)
    learning_rate: jax.Array
    dropout: jax.Array  # inverted-dropout rate on hidden units, in [0, 1)
    unit_masks: tuple | None  # one (h_l,) 0/1 array per hidden layer
    sample_weight: jax.Array | None  # (n_samples,) (or one per row of ``rows``), e.g. bootstrap
    #                                  counts or a CV fold mask


def make_hyper(alpha=1e-4, l1=0.0, learning_rate=1e-3, dropout=0.0, unit_masks=None,
               sample_weight=None, dtype=np.float32) -> Hyper:
    """A single network's :class:`Hyper` (host NumPy leaves; stack with :func:`stack_networks`)."""
    cast = lambda a: np.asarray(a, dtype)  # noqa: E731
    masks = None if unit_masks is None else tuple(cast(m) for m in unit_masks)
    weights = None if sample_weight is None else cast(sample_weight)
    return Hyper(cast(alpha), cast(l1), cast(learning_rate), cast(dropout), masks, weights)


def _fill_unused(hypers: Sequence[Hyper]) -> list[Hyper]:
    """Where some networks have unit masks or sample weights and others None, give the others
    all-ones ones (so that the stack has one structure)."""
    out = list(hypers)
    for field in ("unit_masks", "sample_weight"):
        given = [getattr(h, field) for h in out if getattr(h, field) is not None]
        if given and len(given) < len(out):
            ones = jax.tree_util.tree_map(np.ones_like, given[0])
            out = [h if getattr(h, field) is not None else h._replace(**{field: ones})
                   for h in out]
    return out


def host_keys(rng: np.random.RandomState, n: int) -> np.ndarray:
    """``n`` PRNG keys (raw threefry key data, uint32 of shape (n, 2)) drawn from a NumPy
    RandomState on the host, which compiles nothing (``jax.random.split`` compiles a program per
    shape)."""
    return rng.randint(0, 2**32, size=(n, 2), dtype=np.uint64).astype(np.uint32)


def derived_stream(rng: np.random.RandomState) -> np.random.RandomState:
    """A RandomState seeded by hashing ``rng``'s current state (``SeedSequence``): a function of
    ``rng`` that draws nothing from it (the estimators draw their dropout keys from it, so that
    ``rng`` goes on to draw exactly scikit-learn's shuffles)."""
    state = rng.get_state()[1]
    return np.random.RandomState(np.random.MT19937(np.random.SeedSequence(state.tolist())))


def seed_keys(seed: int, n: int) -> np.ndarray:
    """``n`` independent PRNG keys derived on the host from an integer seed (0 .. 2**32 - 1)."""
    return host_keys(np.random.RandomState(seed), n)


def stack_networks(trees: Sequence):
    """Stack single-network pytrees (:class:`Hyper`, parameters) along a new leading axis.

    Stacked on the host with NumPy (eager ``jnp.stack`` would compile a program per shape).
    """
    if trees and isinstance(trees[0], Hyper):
        trees = _fill_unused(trees)
    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)


class Data(NamedTuple):
    """Training, evaluation and validation arrays (None when absent).

    Shared arrays are 2-D ``(n, features)`` (``w_val`` and ``rows``: 1-D); an array with one more
    leading axis holds one version per network (e.g. per-network targets ``y`` of shape (B, n, k)).
    ``rows`` (m,) or (B, m), when given, are the indices of the rows of ``X``/``y`` a network
    trains on (its training set is ``X[rows]``, in that order; sample weights align with them).
    """

    X: jax.Array
    y: jax.Array
    X_eval: jax.Array | None
    y_eval: jax.Array | None
    X_val: jax.Array | None
    y_val: jax.Array | None
    w_val: jax.Array | None
    rows: jax.Array | None

    def network_axes(self) -> "Data":
        """``vmap`` in_axes: 0 for per-network arrays, None for shared ones."""
        shared_ndim = Data(2, 2, 2, 2, 2, 2, 1, 1)
        return Data(*(None if a is None or a.ndim == d else 0
                      for a, d in zip(self, shared_ndim)))


class NetState(NamedTuple):
    """Everything one network carries from epoch to epoch."""

    params: Params
    opt_state: object
    key: jax.Array
    lr: jax.Array  # current learning rate (changes with invscaling/adaptive)
    best_metric: jax.Array  # best stopping metric (higher is better); with doubling windows,
    #                         the best before the current window
    no_improve: jax.Array
    window_best: jax.Array  # doubling windows: the best metric in the current window
    window_end: jax.Array  # doubling windows: the epoch that ends the current window
    done: jax.Array  # stopped (tol rule or divergence)
    n_iter: jax.Array  # epochs run
    samples_seen: jax.Array
    best_params: Params | None  # weights of the best validation score (early_stopping only)
    best_iter: jax.Array
    ref_loss: jax.Array  # the divergence reference
    diverged_at: jax.Array  # first iteration of the current divergence (0: not diverged)


class TrainResult(NamedTuple):
    """Stacked outcome of a batched run (leading axis: network), as host NumPy arrays.

    Curves over epochs (``loss_curve``, ``val_score``) have one column per iteration and NaN after
    a network stopped; curves on ``record_steps`` (``eval_*``, ``train_*``) one column per recorded
    iteration. Absent curves (not recorded, or regression accuracy) are None. ``eval_loss`` and
    ``train_loss`` are the MSE for regression and the log-loss for classification.
    """

    params: Params
    opt_state: object
    loss_curve: np.ndarray | None  # (B, max_iter)
    val_score: np.ndarray | None  # (B, max_iter) validation R^2 or accuracy (early_stopping)
    eval_loss: np.ndarray | None  # (B, R)
    train_loss: np.ndarray | None  # (B, R)
    eval_accuracy: np.ndarray | None  # (B, R), classification only
    train_accuracy: np.ndarray | None  # (B, R), classification only
    record_steps: np.ndarray  # (R,) iteration counts, 1-based
    n_iter: np.ndarray  # (B,) epochs run
    converged: np.ndarray  # (B,) stopped by the tol rule before max_iter
    best_iter: np.ndarray  # (B,) iteration of the best validation score (early_stopping)
    diverged: np.ndarray  # (B,) the objective ended non-finite or exploded
    diverged_at: np.ndarray  # (B,) iteration from which it stayed so (0 where not diverged)


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
        return np.unique(np.round(np.geomspace(1, max_iter, record)).astype(np.int64))
    raise ValueError(f"record must be 'every', an int >= 2 or None, got {record!r}")


# ------------------------------------------------------------------------------ losses
def _weighted_mean(values: jax.Array, w: jax.Array | None) -> jax.Array:
    """sum_i w_i v_i / sum_i w_i over the sample axis (the plain mean when w is None)."""
    return jnp.mean(values) if w is None else jnp.sum(w * values) / jnp.sum(w)


def _data_losses(z: jax.Array, y: jax.Array, w, spec: TrainSpec) -> tuple[jax.Array, jax.Array]:
    """(trained, reported) data term of output pre-activations ``z`` against targets ``y``.

    The trained term's gradient in z is scikit-learn's delta (p - y) w / sum w; the reported
    term is the value scikit-learn prints (see the module docstring).
    """
    if spec.loss == "squared_error":
        per_sample = jnp.sum((z - y) ** 2, axis=1)
        trained = 0.5 * _weighted_mean(per_sample, w)
        return trained, trained / y.shape[1]
    eps = jnp.finfo(z.dtype).eps
    if spec.out_activation == "softmax":
        trained = _weighted_mean(-jnp.sum(y * jax.nn.log_softmax(z), axis=1), w)
        p = jnp.clip(jax.nn.softmax(z), eps, 1 - eps)
        return trained, _weighted_mean(-jnp.sum(y * jnp.log(p), axis=1), w)
    # logistic: -[y log s(z) + (1 - y) log(1 - s(z))] = softplus(z) - y z
    trained = _weighted_mean(jnp.sum(jax.nn.softplus(z) - y * z, axis=1), w)
    p = jnp.clip(jax.nn.sigmoid(z), eps, 1 - eps)
    return trained, _weighted_mean(-jnp.sum(y * jnp.log(p) + (1 - y) * jnp.log(1 - p), axis=1), w)


def _unit_masks(hyper: Hyper):
    return None if hyper.unit_masks is None else [m[None, :] for m in hyper.unit_masks]


def _objective(params, X, y, w, hyper: Hyper, drop, spec: TrainSpec):
    """Penalised objective of one batch: (trained value, (reported value, trained data+L2)).

    ``w`` None means unit sample weights; ``drop``, when not None, are the batch's dropout
    masks (one (n, h_l) array per hidden layer).
    """
    masks = _unit_masks(hyper)
    if drop is not None:
        masks = drop if masks is None else [m * d for m, d in zip(masks, drop)]
    z = forward(params, X, spec.activation, masks)
    trained, reported = _data_losses(z, y, w, spec)
    wsum = X.shape[0] if w is None else jnp.sum(w)
    l2 = l2_penalty(params, hyper.alpha, wsum)
    l1 = l1_penalty(params, hyper.l1, wsum) if spec.use_l1 else 0.0
    return trained + l2, (reported + l2 + l1, trained + l2)


def constant_loss(y: np.ndarray, w: np.ndarray | None, spec: TrainSpec) -> np.ndarray:
    """Data loss of the best constant prediction (the mean target, or the class frequencies),
    over any leading axes of ``y`` (..., n, k) and ``w`` (..., n).

    A sane run's objective stays near or below it; it floors the divergence reference. NumPy on
    the host: squared error 1/2 sum_k Var_w(y_k); log-loss the entropy of the frequencies.
    """
    w = np.ones(y.shape[:-1], y.dtype) if w is None else w
    wsum = np.sum(w, axis=-1)
    mean = np.sum(w[..., None] * y, axis=-2) / wsum[..., None]
    if spec.loss == "squared_error":
        spread = np.sum((y - mean[..., None, :]) ** 2, axis=-1)
        return 0.5 * np.sum(w * spread, axis=-1) / wsum
    plogp = lambda p: np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)  # noqa: E731
    entropy = -np.sum(plogp(mean), axis=-1)
    if spec.out_activation == "logistic":
        entropy = entropy - np.sum(plogp(1.0 - mean), axis=-1)
    return entropy


def _hits(z, y, spec: TrainSpec) -> jax.Array:
    """1.0 where the predicted label(s) equal the target's, per sample (multilabel: all of them,
    as ``accuracy_score``)."""
    if spec.out_activation == "softmax":
        return (jnp.argmax(z, axis=1) == jnp.argmax(y, axis=1)).astype(z.dtype)
    return jnp.all((z > 0) == (y > 0.5), axis=1).astype(z.dtype)


def _predict_metrics(params, X, y, spec: TrainSpec, masks) -> dict[str, jax.Array]:
    """Loss (MSE, or log-loss) and, for classifiers, accuracy of the deterministic network."""
    z = forward(params, X, spec.activation, masks)
    if spec.loss == "squared_error":
        return {"loss": jnp.mean((z - y) ** 2)}
    return {"loss": _data_losses(z, y, None, spec)[1], "accuracy": jnp.mean(_hits(z, y, spec))}


def _validation_score(params, X, y, w, spec: TrainSpec, masks) -> jax.Array:
    """scikit-learn's ``score`` on the validation split: R^2 averaged over outputs, or accuracy.

    An output whose validation targets are constant (total sum of squares 0) scores as
    ``r2_score`` scores it by default: 1 for a perfect prediction, else 0 (not -inf or NaN).
    """
    z = forward(params, X, spec.activation, masks)
    if spec.classifier:
        return _weighted_mean(_hits(z, y, spec), w)
    wn = jnp.ones(y.shape[0], y.dtype) if w is None else w
    mean = jnp.sum(wn[:, None] * y, axis=0) / jnp.sum(wn)
    resid = jnp.sum(wn[:, None] * (z - y) ** 2, axis=0)
    total = jnp.sum(wn[:, None] * (y - mean) ** 2, axis=0)
    varies = total != 0
    r2 = jnp.where(varies, 1.0 - resid / jnp.where(varies, total, 1.0),
                   jnp.where(resid != 0, 0.0, 1.0))
    return jnp.mean(r2)


# ------------------------------------------------------------------------------ one epoch
def _computed_once(masks: list[jax.Array], t) -> list[jax.Array]:
    """The dropout ``masks``, computed once and kept in memory for the step that uses them.

    XLA's CPU backend fuses element-wise producers into each of their consumers, so the masks'
    threefry hash (20 rounds per entry) would be computed again inside the forward pass and
    inside each of the gradient's sums. A conditional is a fusion boundary: its results are
    computed once. The predicate ``t >= 0`` (the epoch, shared by all networks, so that the
    conditional stays one under ``vmap``) always holds, and the compiler cannot know it. 70
    course networks with dropout, 4000 full-batch steps, 2 cores: 1.6 s without it, 0.47 s with
    it (and 0.77 s with the matrix-product layers that ``mlp._affine`` replaced).
    """
    return jax.lax.cond(t >= 0, lambda m: m, lambda m: [jnp.zeros_like(a) for a in m], masks)


def _batches(n: int, batch_size: int, order=None):
    """Index matrix (n_batches, batch_size) and validity mask for one epoch.

    The samples are taken in ``order`` when given (drawn on the host, see :func:`train`), else
    in their stored order. The last batch is padded with index 0 and mask 0 so every batch has
    the same shape, which reproduces scikit-learn's smaller final batch exactly.
    """
    n_batches = -(-n // batch_size)
    if order is None:
        order = jnp.arange(n)
    pad = n_batches * batch_size - n
    idx = jnp.concatenate([order, jnp.zeros((pad,), order.dtype)]).reshape(n_batches, batch_size)
    valid = (jnp.arange(n_batches * batch_size) < n).reshape(n_batches, batch_size)
    return idx, valid


def _epoch(state: NetState, hyper: Hyper, data: Data, spec: TrainSpec, record_now, t, order):
    """Epoch ``t`` (0-based, of this call) of one network: the new state and recorded values.
    ``order`` (n,), when given, is the order its mini-batches take the samples in.

    With ``data.rows`` the network's training set is ``X[rows]``: a mini-batch gathers its rows
    through them, and the whole set (a full batch, the stopping rule's objective, the recorded
    training loss) is gathered where it is used."""
    X, y, rows = data.X, data.y, data.rows
    n = X.shape[0] if rows is None else rows.shape[0]
    X_fit, y_fit = (X, y) if rows is None else (X[rows], y[rows])
    batch_size = n if spec.batch_size is None else min(spec.batch_size, n)
    one_batch = batch_size == n
    if spec.use_dropout:  # the middle key is the epoch's shuffle, drawn on the host (EngineOrders)
        key, _, k_drop = jax.random.split(state.key, 3)
    else:  # deterministic epoch: skip the (costly) key derivation
        key = k_drop = state.key
    grad_fn = jax.value_and_grad(_objective, has_aux=True)

    def step(params, opt_state, Xb, yb, w, b_key):
        """One optimizer step on a batch; returns (params, opt_state, reported, trained)."""
        drop = None
        if spec.use_dropout:
            drop = _computed_once(dropout_masks(b_key, hyper.dropout, Xb.shape[0],
                                                spec.hidden_sizes, Xb.dtype), t)
        (_, (reported, trained)), grads = grad_fn(params, Xb, yb, w, hyper, drop, spec)
        if spec.solver == "adam":
            updates, opt_state = optim.adam_update(
                grads, opt_state, state.lr, spec.beta_1, spec.beta_2, spec.epsilon)
        else:
            updates, opt_state = optim.sgd_update(
                grads, opt_state, state.lr, spec.momentum, spec.nesterovs_momentum)
        params = jax.tree_util.tree_map(jnp.add, params, updates)
        if spec.use_l1:
            wsum = Xb.shape[0] if w is None else jnp.sum(w)
            params = prox_l1(params, state.lr * hyper.l1 / wsum)
        return params, opt_state, reported, trained

    if one_batch:
        params, opt_state, epoch_loss, epoch_trained = step(
            state.params, state.opt_state, X_fit, y_fit, hyper.sample_weight, k_drop)
    else:
        idx, valid = _batches(n, batch_size, order)

        def batch_step(carry, batch):
            params, opt_state, acc, acc_trained = carry
            b_idx, b_valid, b_key = batch
            w = b_valid.astype(X.dtype)
            if hyper.sample_weight is not None:
                w = w * hyper.sample_weight[b_idx]
            data_idx = b_idx if rows is None else rows[b_idx]
            new_params, new_opt, reported, trained = step(params, opt_state, X[data_idx],
                                                          y[data_idx], w, b_key)
            # A batch whose sample weights are all 0 carries no information: skip it.
            empty = jnp.sum(w) == 0
            params, opt_state = jax.tree_util.tree_map(
                lambda new_, old_: jnp.where(empty, old_, new_), (new_params, new_opt),
                (params, opt_state))
            # scikit-learn accumulates the batch loss times the batch's sample count.
            reported, trained = (jnp.where(empty, 0.0, v * jnp.sum(b_valid))
                                 for v in (reported, trained))
            return (params, opt_state, acc + reported, acc_trained + trained), None

        keys = jax.random.split(k_drop, idx.shape[0])
        zero = jnp.zeros((), X.dtype)
        (params, opt_state, acc, acc_trained), _ = jax.lax.scan(
            batch_step, (state.params, state.opt_state, zero, zero), (idx, valid, keys))
        epoch_loss, epoch_trained = acc / n, acc_trained / n
    masks = _unit_masks(hyper)
    n_iter = state.n_iter + 1

    # Divergence: a non-finite or exploded objective (see DIVERGENCE_FACTOR). An exploded but
    # finite objective that comes back below the threshold clears the mark (a transient spike);
    # a non-finite one never comes back.
    ref_loss = jnp.where(t == 0, jnp.maximum(state.ref_loss, epoch_trained), state.ref_loss)
    finite = jnp.isfinite(epoch_trained)
    bad = ~finite | (epoch_trained > DIVERGENCE_FACTOR * ref_loss)
    diverged_at = jnp.where(bad, jnp.where(state.diverged_at == 0, n_iter, state.diverged_at), 0)

    # Stopping rule on a metric that is higher when better (see the module docstring).
    lr, done = state.lr, state.done
    best_metric, no_improve = state.best_metric, state.no_improve
    window_best, window_end = state.window_best, state.window_end
    best_params, best_iter = state.best_params, state.best_iter
    if spec.tol is not None and _stochastic_stopping(spec, one_batch):
        # Minus the full-training-set objective without dropout, judged over doubling windows.
        metric = -_objective(params, X_fit, y_fit, hyper.sample_weight, hyper, None, spec)[1][0]
        window_best = jnp.maximum(window_best, metric)
        at_end = n_iter == window_end
        window = window_end - window_end // 2  # the first window is n_iter_no_change long
        triggered = at_end & (window_best < best_metric + spec.tol * window)
        best_metric = jnp.where(at_end, jnp.maximum(best_metric, window_best), best_metric)
        window_best = jnp.where(at_end, -jnp.inf, window_best)
        window_end = jnp.where(at_end & (window_end < 2**30), 2 * window_end, window_end)
    elif spec.tol is not None:  # scikit-learn's _update_no_improvement_count
        metric = (_validation_score(params, data.X_val, data.y_val, data.w_val, spec, masks)
                  if spec.early_stopping else -epoch_loss)
        no_improve = jnp.where(metric < best_metric + spec.tol, no_improve + 1, 0)
        improved = metric > best_metric
        best_metric = jnp.where(improved, metric, best_metric)
        if spec.early_stopping:
            best_params = jax.tree_util.tree_map(
                lambda new, old: jnp.where(improved, new, old), params, best_params)
            best_iter = jnp.where(improved, n_iter, best_iter)
        triggered = no_improve > spec.n_iter_no_change
    if spec.tol is not None:
        if spec.solver == "sgd" and spec.lr_schedule == "adaptive":
            done = triggered & (lr <= 1e-6)
            lr = jnp.where(triggered & ~done, lr / 5.0, lr)
            no_improve = jnp.where(triggered & ~done, 0, no_improve)
        else:
            done = triggered
        done = done | ~finite
    samples_seen = state.samples_seen + n
    if spec.solver == "sgd" and spec.lr_schedule == "invscaling":
        lr = hyper.learning_rate / (samples_seen + 1.0) ** spec.power_t

    outputs = {}
    if spec.record_loss_curve:
        outputs["loss"] = epoch_loss
    if spec.early_stopping:
        outputs["val_score"] = metric
    if data.X_eval is not None:
        outputs.update(_recorded_metrics(params, data, X_fit, y_fit, spec, masks, record_now))
    new = NetState(params, opt_state, key, lr, best_metric, no_improve, window_best, window_end,
                   done, n_iter, samples_seen, best_params, best_iter, ref_loss, diverged_at)
    # Networks that had already stopped (or ran out of iterations) keep their state.
    if spec.tol is not None or spec.max_iter % _chunk(spec):
        active = ~state.done & (t < spec.max_iter)
        new = jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), new, state)
        outputs = {k: jnp.where(active, v, jnp.nan) for k, v in outputs.items()}
    return new, outputs


def _stochastic_stopping(spec: TrainSpec, one_batch: bool) -> bool:
    """Whether the tol rule runs on doubling windows (dropout or mini-batches, no validation)."""
    return not spec.early_stopping and (spec.use_dropout or not one_batch)


def _recorded_metrics(params, data: Data, X_fit, y_fit, spec: TrainSpec, masks,
                      record_now) -> dict:
    """Evaluation (and training) loss/accuracy after the update on recorded iterations, NaN on
    the others (a real branch: the predicate is shared by all networks). ``record_now`` None
    records every iteration, with no branch at all."""
    def evaluate(_):
        out = {f"eval_{k}": v for k, v in
               _predict_metrics(params, data.X_eval, data.y_eval, spec, masks).items()}
        if spec.record_train:
            out.update({f"train_{k}": v for k, v in
                        _predict_metrics(params, X_fit, y_fit, spec, masks).items()})
        return out

    if record_now is None:
        return evaluate(None)
    shapes = jax.eval_shape(evaluate, None)
    skip = lambda _: {k: jnp.full(s.shape, jnp.nan, s.dtype) for k, s in shapes.items()}  # noqa: E731
    return jax.lax.cond(record_now, evaluate, skip, None)


# ------------------------------------------------------------------------------ the program
def _chunk(spec: TrainSpec) -> int:
    return min(spec.chunk, spec.max_iter)


def _run_chunk(state: NetState, hyper: Hyper, data: Data, record_now, t0, orders,
               spec: TrainSpec):
    """``_chunk(spec)`` epochs of every network (vmapped), from epoch ``t0`` of this call.

    ``record_now`` (chunk,) says on which epochs evaluation curves are recorded; None records
    every epoch (a program without the branch). ``orders`` (chunk, B, n), when given, are the
    networks' sample orders of each epoch."""
    epoch_fn = jax.vmap(_epoch, in_axes=(0, 0, data.network_axes(), None, None, None, 0))

    def body(s, inputs):
        t, rec, order = inputs
        return epoch_fn(s, hyper, data, spec, rec, t, order)

    steps = t0 + jnp.arange(_chunk(spec))
    return jax.lax.scan(body, state, (steps, record_now, orders))


# XLA's CPU backend generates the code of each fusion with its newer MLIR "fusion emitters" by
# default; the older LLVM emitters compile the training program in well under half the time (0.37 s
# instead of about 0.9 s for the course's learning curve, jax 0.10.2 on a quiet 2-core machine) and
# run it as fast or faster (the 1000-network sweep: 14 s instead of 19 s). LLVM's optimisation
# level 1 instead of 3 takes another 40 % off the compilation (0.85 s -> 0.5 s for the
# 1000-network program, 2-core AVX2 machine) and runs as fast (level 0 runs 7x slower: nothing is
# vectorised). Sums stay with XLA's own code rather than YNNPACK's kernels, which run each one
# apart from the element-wise work it could be fused with: with the element-wise layers of
# ``mlp._affine`` the gradients are such sums (1000 networks, 2 cores, 2000 steps: 1.01 s with
# YNNPACK's sums and matrix products, 2.3 s with YNNPACK's sums and the element-wise layers,
# 0.81 s with XLA's sums and the element-wise layers). The other small dense programs (the
# autoencoder, the vanishing-gradient chains, the playground's) use them too. Other backends
# ignore the options.
COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 1,
                    **programs.ynn_fusions("INDIVIDUAL_DOT")}

_run_chunk_compiled = jax.jit(_run_chunk, static_argnames=("spec",),
                              compiler_options=COMPILER_OPTIONS)
programs.register_types(Hyper, Data, NetState, optim.AdamState, optim.SGDState)


def _initial_state(params, opt_state, keys, hyper: Hyper, data: Data, spec: TrainSpec,
                   dtype) -> NetState:
    """The state before the first epoch, built on the host (nothing to compile)."""
    n_nets = keys.shape[0]
    params = jax.tree_util.tree_map(lambda a: np.array(a, dtype), params)
    if opt_state is None:
        zeros = jax.tree_util.tree_map(np.zeros_like, params)
        opt_state = (optim.AdamState(np.zeros(n_nets, np.int32), zeros, zeros)
                     if spec.solver == "adam" else optim.SGDState(zeros))
    w = None if hyper.sample_weight is None else np.asarray(hyper.sample_weight, dtype)
    y = _training_targets(np.asarray(data.y, np.float64), data.rows)
    baseline = np.broadcast_to(constant_loss(y, w, spec), (n_nets,))
    scalar = lambda value, dt=dtype: np.full(n_nets, value, dt)  # noqa: E731
    return NetState(
        params=params, opt_state=opt_state, key=np.asarray(keys, np.uint32),
        lr=np.broadcast_to(np.asarray(hyper.learning_rate, dtype), (n_nets,)).copy(),
        best_metric=scalar(-np.inf), no_improve=scalar(0, np.int32),
        window_best=scalar(-np.inf), window_end=scalar(spec.n_iter_no_change, np.int32),
        done=scalar(False, bool),
        n_iter=scalar(0, np.int32), samples_seen=scalar(0),
        best_params=params if spec.early_stopping else None, best_iter=scalar(0, np.int32),
        ref_loss=baseline.astype(dtype), diverged_at=scalar(0, np.int32))


def _training_targets(y: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """``y[rows]``, the targets the networks train on, for shared or per-network ``y`` and
    ``rows`` (host)."""
    if rows is None:
        return y
    if y.ndim == 2:
        return y[rows]
    return y[:, rows] if rows.ndim == 1 else np.take_along_axis(y, rows[..., None], axis=1)


def padded_rows(fit_rows: list[np.ndarray], weights: np.ndarray | None = None
                ) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """Training sets of different sizes (e.g. cross-validation folds, each the indices of its
    training rows) as one ``rows`` matrix for :func:`train`: each set padded to the largest
    set's count (F, m) with copies of its first row, and each set's sample weights over its
    rows: the given ``weights`` (indexed by row, or 1), 0 on the padding rows, which the
    weighted objective ignores. The weights are None when none are given and no set is
    padded, so that the engine skips their arithmetic."""
    m = max(len(r) for r in fit_rows)
    if weights is None and all(len(r) == m for r in fit_rows):
        return np.stack(fit_rows), [None] * len(fit_rows)
    padded, fold_weights = [], []
    for r in fit_rows:
        w = np.ones(len(r)) if weights is None else weights[r]
        padded.append(np.concatenate([r, np.repeat(r[:1], m - len(r))]))
        fold_weights.append(np.concatenate([w, np.zeros(m - len(r))]))
    return np.stack(padded), fold_weights


def _prepare_data(X, y, X_eval, y_eval, X_val, y_val, w_val, rows=None) -> Data:
    """Host arrays in X's floating dtype (float32 unless x64 is enabled), targets 2-D per network.

    Prepared with NumPy: eager JAX casts and reshapes would each compile a program.
    """
    X = np.asarray(X)
    dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.dtype(np.float32)
    if not jax.config.jax_enable_x64 and dtype == np.float64:
        dtype = np.dtype(np.float32)

    def inputs(a):
        if a is None:
            return None
        a = np.asarray(a, dtype)
        return a[:, None] if a.ndim == 1 else a

    def targets(a, inputs_):
        if a is None:
            return None
        a = np.asarray(a, dtype)
        return a.reshape(inputs_.shape[:-1] + (-1,)) if a.ndim < inputs_.ndim else a

    X, X_eval, X_val = inputs(X), inputs(X_eval), inputs(X_val)
    w_val = None if w_val is None else np.asarray(w_val, dtype)
    rows = None if rows is None else np.asarray(rows, np.int32)
    return Data(X, targets(y, X), X_eval, targets(y_eval, X_eval), X_val, targets(y_val, X_val),
                w_val, rows)


def train(spec: TrainSpec, params: Params, keys, hyper: Hyper, X, y, X_eval=None, y_eval=None,
          X_val=None, y_val=None, w_val=None, record: str | int | None = None, opt_state=None,
          progress: Progress = no_progress, rows=None, orders=None) -> TrainResult:
    """Train B networks at once from stacked initial ``params`` (leading axis B).

    ``keys`` (B, 2) seed each network's shuffling and dropout; ``hyper`` is stacked along B.
    ``X``/``y`` (and the other data) are shared 2-D arrays, or carry a leading network axis to give
    each network its own (``y`` (B, n, k): per-network targets). ``rows`` (m,) or (B, m) make a
    network train on ``X[rows]``, ``y[rows]`` only (sample weights then align with ``rows``):
    a cross-validation fold's rows, without copying the data per network. ``X_eval``/``y_eval``
    enable the evaluation curves on the iterations chosen by ``record`` (see :func:`record_grid`);
    ``X_val``/``y_val`` (and optional weights ``w_val``) are required with ``spec.early_stopping``.
    ``opt_state`` (stacked) continues a previous run's optimizer, as ``partial_fit`` does.
    ``progress(fraction, message)`` is called after each chunk of ``spec.chunk`` epochs.
    ``orders(networks, epochs)``, when given with mini-batches, returns the sample orders of the
    next ``epochs`` epochs of the networks at indices ``networks``, (len(networks), epochs, n)
    integers (e.g. scikit-learn's shuffles, drawn on the host from each network's RandomState);
    it is called once per network and chunk, in epoch order, and a chunk then holds at most
    ``ORDER_ELEMENTS`` indices. Without it the engine draws the permutations from ``keys``
    (:class:`EngineOrders`).
    """
    if spec.early_stopping and X_val is None:
        raise ValueError("early_stopping needs validation data X_val, y_val")
    if X_eval is None and record is not None:
        raise ValueError("recording evaluation curves needs X_eval and y_eval")
    data = _prepare_data(X, y, X_eval, y_eval, X_val, y_val, w_val, rows)
    dtype = data.X.dtype
    hyper = jax.tree_util.tree_map(lambda a: np.asarray(a, dtype), hyper)
    n_nets = keys.shape[0]
    n_rows = data.X.shape[-2] if data.rows is None else data.rows.shape[-1]
    if spec.batch_size is None or spec.batch_size >= n_rows or not spec.shuffle:
        orders = None  # one batch per epoch, or no shuffling: orders do not matter
    elif orders is None:
        orders = EngineOrders(keys, n_rows)
    if orders is not None:
        spec = replace(spec, chunk=max(1, min(_chunk(spec), ORDER_ELEMENTS // (n_nets * n_rows))))
    steps = record_grid(spec.max_iter, record)
    chunk = _chunk(spec)
    total = -(-spec.max_iter // chunk) * chunk
    record_mask = np.zeros(total, bool)
    record_mask[steps - 1] = True

    state = _initial_state(params, opt_state, keys, hyper, data, spec, dtype)
    n_parts = _parallel_parts(n_nets, _step_work(params, data, spec))
    padded = np.arange(-(-n_nets // n_parts) * n_parts)
    parts = np.array_split(np.minimum(padded, n_nets - 1),
                           n_parts)  # equal sizes (the last network repeated): one program
    owned = np.array_split(padded < n_nets, n_parts)  # not a repeat
    axes = data.network_axes()

    cancel = threading.Event()  # set when the caller is interrupted: parts stop between chunks

    def run_part(i: int):
        take = lambda tree: jax.tree_util.tree_map(lambda a: a[parts[i]], tree)  # noqa: E731
        part_data = Data(*(a if ax is None else a[parts[i]] for a, ax in zip(data, axes)))
        report = progress if i == 0 else no_progress
        part_orders = (None if orders is None
                       else _part_orders(orders, parts[i], owned[i], n_rows, spec))
        return _run_chunks(take(state), take(hyper), part_data, record_mask, spec, report, cancel,
                           part_orders)

    if n_parts == 1:
        results = [run_part(0)]
    else:
        pool = ThreadPoolExecutor(n_parts, thread_name_prefix="overfitlab-train")
        try:
            results = [f.result() for f in [pool.submit(run_part, i) for i in range(n_parts)]]
        except BaseException:  # e.g. Ctrl+C in the main thread: let the parts end promptly
            cancel.set()
            raise
        finally:
            pool.shutdown(wait=True)
    final = jax.tree_util.tree_map(lambda *a: np.concatenate(a)[:n_nets], *[r[0] for r in results])
    curves = {name: np.concatenate([r[1][name] for r in results])[:n_nets]
              for name in results[0][1]}
    return _result(final, curves, steps, spec)


class EngineOrders:
    """The engine's own shuffles, ``train``'s ``orders`` when the caller gives none: each epoch,
    ``key, k_shuffle, k_dropout = jax.random.split(key, 3)`` from the network's key, and the
    samples are taken in ``jax.random.permutation(k_shuffle, n)``; the compiled epoch derives the
    same key chain for its dropout masks. Drawn on the host (:func:`threefry.permutations`, the
    same orders bit for bit): in the compiled program XLA's CPU sort made the shuffles 90 % of a
    mini-batch epoch of 5 networks on 10,000 rows (2.45 s of 2.75 s for 80 epochs)."""

    def __init__(self, keys: np.ndarray, n_rows: int):
        self.keys = threefry.key_data(keys).copy()  # each network's key for its next epoch
        self.n_rows = n_rows

    def __call__(self, networks: np.ndarray, epochs: int) -> np.ndarray:
        """The orders (len(networks), epochs, n_rows) of the networks' next ``epochs`` epochs."""
        out = np.empty((len(networks), epochs, self.n_rows), np.int32)
        keys = self.keys[networks]
        for epoch in range(epochs):
            three = threefry.split_each(keys, 3)
            keys = three[:, 0]
            out[:, epoch] = threefry.permutations(three[:, 1], self.n_rows)
        self.keys[networks] = keys
        return out


ORDER_ELEMENTS = 2**24
"""Most sample indices of host-drawn orders (``train``'s ``orders``) held for one chunk: 64 MiB
of int32; the chunk is shortened to stay below it."""


def _part_orders(orders, part: np.ndarray, owned: np.ndarray, n_rows: int, spec: TrainSpec):
    """The sample orders of one part's chunk, (chunk, part size, n_rows) int32, as the compiled
    chunk scans them: ``orders`` drawn for the networks of ``part`` at its ``owned`` positions
    and the epochs left before ``max_iter``; the stored order elsewhere (a repeated network,
    whose results are discarded, and epochs past max_iter, which do not run), so that each
    network's stream is drawn once per epoch it may train."""
    chunk, networks = _chunk(spec), part[owned]

    def draw(t0: int) -> np.ndarray:
        out = np.broadcast_to(np.arange(n_rows, dtype=np.int32),
                              (chunk, owned.size, n_rows)).copy()
        epochs = min(chunk, spec.max_iter - t0)
        if len(networks):
            drawn = np.asarray(orders(networks, epochs), np.int32)  # (networks, epochs, n)
            out[:epochs, owned] = drawn.transpose(1, 0, 2)
        return out

    return draw


PARALLEL_MIN_WORK = 39_000
"""On a CPU, one compiled loop over small networks runs on one core, so a call whose step costs
at least twice this many multiply-adds (rows per step x weights, summed over the networks) is split
into equal parts trained concurrently, one per core. A part below it gains less than its extra
dispatch costs: measured on 64 course networks (10 rows x 61 weights each)."""


def _parallel_parts(n_nets: int, step_work: int) -> int:
    """How many concurrent parts to split ``n_nets`` networks into, each network's step costing
    ``step_work`` multiply-adds (1 on accelerators; never more parts than networks)."""
    if jax.default_backend() != "cpu":
        return 1
    return max(1, min(usable_cores(), n_nets, n_nets * step_work // PARALLEL_MIN_WORK))


def _step_work(params: Params, data: Data, spec: TrainSpec) -> int:
    """Multiply-adds of one network's optimizer step, roughly: rows per step x weights."""
    n = data.X.shape[-2] if data.rows is None else data.rows.shape[-1]
    rows = n if spec.batch_size is None else min(spec.batch_size, n)
    leaves = jax.tree_util.tree_leaves(params)
    return rows * sum(np.size(a) for a in leaves) // len(leaves[0])


def _run_chunks(state: NetState, hyper: Hyper, data: Data, record_mask: np.ndarray,
                spec: TrainSpec, progress: Progress, cancel: threading.Event | None = None,
                orders=None) -> tuple[NetState, dict]:
    """Run the compiled chunk program until max_iter, until every network stopped, or until
    ``cancel`` is set (the caller was interrupted; the result is then discarded).
    ``orders(t0)``, when given, returns the sample orders of the chunk from epoch ``t0``.

    Returns the final state and the per-epoch outputs as host arrays (B, total epochs), NaN
    after the last epoch run.
    """
    device = lambda tree: jax.tree_util.tree_map(to_device, tree)  # noqa: E731
    state, hyper, data = device(state), device(hyper), device(data)
    chunk, total = _chunk(spec), record_mask.size
    pieces = []
    for t0 in range(0, total, chunk):
        record_now = None if record_mask.all() else record_mask[t0:t0 + chunk]
        order = None if orders is None else to_device(orders(t0))
        state, outs = programs.run(_run_chunk_compiled, _run_chunk,
                                   (state, hyper, data, record_now, np.int32(t0), order),
                                   {"spec": spec}, COMPILER_OPTIONS)
        pieces.append(outs)
        done_epochs = min(t0 + chunk, spec.max_iter)
        state.n_iter.block_until_ready()  # dispatch is asynchronous: report finished work
        if cancel is not None and cancel.is_set():
            break
        if spec.tol is not None and bool(np.all(np.asarray(state.done))):
            progress(1.0, f"all networks stopped by iteration {done_epochs}")
            break
        progress(done_epochs / spec.max_iter, f"iteration {done_epochs} of {spec.max_iter}")
    curves = {}
    for name in pieces[0]:
        run = np.concatenate([np.asarray(p[name]) for p in pieces], axis=0).T  # (B, epochs run)
        full = np.full((run.shape[0], total), np.nan, run.dtype)
        full[:, :run.shape[1]] = run
        curves[name] = full
    return jax.tree_util.tree_map(np.asarray, state), curves


def _result(state: NetState, curves: dict, steps: np.ndarray, spec: TrainSpec) -> TrainResult:
    """Assemble the host-side :class:`TrainResult` from the final state and the per-epoch
    outputs (B, total epochs)."""
    per_epoch = lambda name: curves[name][:, :spec.max_iter] if name in curves else None  # noqa: E731
    recorded = lambda name: curves[name][:, steps - 1] if name in curves else None  # noqa: E731
    diverged = state.diverged_at > 0
    return TrainResult(
        params=state.best_params if spec.early_stopping else state.params,
        opt_state=state.opt_state,
        loss_curve=per_epoch("loss"), val_score=per_epoch("val_score"),
        eval_loss=recorded("eval_loss"), train_loss=recorded("train_loss"),
        eval_accuracy=recorded("eval_accuracy"), train_accuracy=recorded("train_accuracy"),
        record_steps=steps, n_iter=state.n_iter, converged=state.done & ~diverged,
        best_iter=state.best_iter, diverged=diverged, diverged_at=state.diverged_at)


def init_many(key, n: int, layer_sizes: tuple[int, ...], activation: str,
              dtype=np.float32) -> Params:
    """``n`` independent Glorot-uniform initialisations stacked along a leading axis (host arrays).

    A pure function of ``key``: the draws come from a NumPy generator seeded with the key's
    bits (see :func:`~overfitlab.engine.mlp.init_mlp`), one network after the other.
    """
    rng = np.random.default_rng(threefry.key_data(key).ravel().tolist())
    return init_stack(rng, n, layer_sizes, activation, dtype)


def train_grid(spec: TrainSpec, key, n_seeds: int, hyper: Hyper, X, y, X_eval=None,
               y_eval=None, record: str | int | None = None, X_val=None, y_val=None,
               progress: Progress = no_progress) -> TrainResult:
    """Train every (seed, configuration) pair in one compiled call.

    ``hyper`` is stacked along a configuration axis C. Seed s draws one initialisation shared by
    all C configurations (so configurations are compared from the same starting weights) and an
    independent shuffling/dropout stream per (s, c). Every array of the result has leading axes
    (n_seeds, C).
    """
    n_configs = jax.tree_util.tree_leaves(hyper)[0].shape[0]
    init_key, run_key = threefry.split(key)
    x_dtype = np.asarray(X).dtype
    dtype = x_dtype if np.issubdtype(x_dtype, np.floating) else np.float32
    params = init_many(init_key, n_seeds, tuple(spec.layer_sizes), spec.activation, dtype)
    params = jax.tree_util.tree_map(lambda a: np.repeat(a, n_configs, axis=0), params)
    hyper = jax.tree_util.tree_map(
        lambda a: np.tile(np.asarray(a), (n_seeds,) + (1,) * (np.ndim(a) - 1)), hyper)
    keys = threefry.split(run_key, n_seeds * n_configs)
    out = train(spec, params, keys, hyper, X, y, X_eval, y_eval, X_val, y_val, record=record,
                progress=progress)
    grid = lambda a: a.reshape((n_seeds, n_configs) + a.shape[1:])  # noqa: E731
    return out._replace(**{name: jax.tree_util.tree_map(grid, getattr(out, name))
                           for name in out._fields if name != "record_steps"})
