"""The training behind one playground request: all seeds and ensemble members, vectorized.

A request trains B = seeds x ensemble networks of one architecture on one data set, each from
its own Glorot initialisation and with its own dropout stream, by full-batch Adam for a fixed
number of iterations (or until early stopping ends them all). Repetition s is an ensemble of the
members e = 1..E, whose prediction is the average

    f_s(x) = 1/E * sum_e f_{s,e}(x),

and every plotted quantity is a median with a 10-90 % band over the S repetitions.

Random draws. Repetition s is what ``RegularizedMLPRegressor(n_networks=E,
random_state=seed + s)`` draws (see :func:`draws`), so the "copy as Python" export
(:mod:`overfitlab.app.export`) retrains the same networks with the estimator.

Compilation. The continuous controls (alpha, l1, learning rate, dropout rate, the seed) enter the
compiled program as traced values, and the data (noise level, target) as array values, so moving
those sliders reuses the compiled code. A program is compiled once per *shape*: the
:class:`~overfitlab.engine.train.TrainSpec` (layer sizes, activation, iterations, early stopping
and its patience, whether L1 / dropout are on at all) and the array shapes (training and
validation sizes, number of networks). ``jax.jit`` keeps one compiled program per shape in its
cache. A compiled training loop runs on one core, so the networks are split into ``PARTS``
equal parts trained concurrently (in a pool of one thread per core, shared by concurrent
requests).

Curves. The engine records, per network, the test and training MSE on ``RECORD_POINTS``
log-spaced iterations. With E > 1 the curves are those of the average member (the mean of the
members' MSE); the ensemble's own error, which is lower by the members' disagreement, is known
only for the final weights and reported in the metrics (``test_mse_end``). A network ended by
early stopping keeps its weights, so its curve is carried forward at its last recorded value
until the last network stops; the curves end there.
"""
from __future__ import annotations

import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.model_selection import train_test_split

from overfitlab.app.schemas import (Band, Curves, Data, Decomposition, Fit, Metrics, Stat,
                                    TrainRequest, TrainResponse, Units)
from overfitlab.data.synthetic import TARGETS, noisy_function
from overfitlab.engine.mlp import forward, init_stack
from overfitlab.engine.train import (COMPILER_OPTIONS, TrainSpec, derived_stream, host_keys,
                                     make_hyper, record_grid, train)
from overfitlab.stats import band, without_diverged
from overfitlab.theory.bias_variance import decompose

RECORD_POINTS = 240  # log-spaced iterations at which the MSE curves are recorded
N_TEST = 100
GRID = np.linspace(-1.0, 1.0, 161, dtype=np.float32)  # where the fitted curve is drawn
ES_TOL = 1e-7  # improvement of the validation R^2 that resets the patience counter
CHUNK = 500  # iterations per compiled scan (early stopping is checked between chunks)

# Networks are trained in this many concurrent parts (XLA runs one compiled loop on one core).
PARTS = max(1, min(2, os.cpu_count() or 1))
_POOL = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="playground-train")
_seen_shapes: set[tuple] = set()


def spec_for(req: TrainRequest) -> TrainSpec:
    """The static part of a request: everything that fixes the compiled program."""
    return TrainSpec(layer_sizes=req.layer_sizes, activation=req.activation, solver="adam",
                     max_iter=req.iterations, batch_size=None,
                     tol=ES_TOL if req.early_stopping else None,
                     n_iter_no_change=req.patience, early_stopping=req.early_stopping,
                     use_dropout=req.dropout > 0, use_l1=req.l1 > 0,
                     chunk=min(CHUNK, req.iterations))


def draws(req: TrainRequest, spec: TrainSpec):
    """Initial weights, PRNG keys and early-stopping split, drawn as the estimator draws them.

    Repetition s draws from ``RandomState(seed + s)`` exactly what ``RegularizedMLPRegressor(
    n_networks=E, random_state=seed + s).fit`` draws: the E members' Glorot initialisations, then
    (early stopping) the validation split of scikit-learn's ``train_test_split`` with
    ceil(validation_fraction * n_train) points, then the E members' PRNG keys (dropout) from the
    stream derived from that state (:func:`~overfitlab.engine.train.derived_stream`). So
    without early stopping every repetition is that estimator's fit. With early stopping all
    repetitions hold out repetition 0's split (one split to draw on the data plot); repetition 0
    is then the estimator's fit, the others differ from it by their split only.

    Returns the stacked parameters and keys (network axis first, repetition-major) and the
    training and validation indices (``None`` without early stopping).
    """
    params, keys, split = [], [], (None, None)
    for s in range(req.seeds):
        rng = np.random.RandomState(req.seed + s)
        params.append(init_stack(rng, req.ensemble, spec.layer_sizes, spec.activation))
        if req.early_stopping:
            fit_val = train_test_split(np.arange(req.n_train), random_state=rng,
                                       test_size=req.validation_fraction)
            split = fit_val if s == 0 else split
        keys.append(host_keys(derived_stream(rng), req.ensemble))
    return (jax.tree_util.tree_map(lambda *a: np.concatenate(a), *params), np.concatenate(keys),
            *split)


@partial(jax.jit, static_argnames=("activation",), compiler_options=COMPILER_OPTIONS)
def _summarize(params, activation: str, X, X_test, grid):
    """Predictions and weight summaries of trained networks (leading axis: network)."""
    predict = jax.vmap(lambda p, Z: forward(p, Z, activation)[:, 0], in_axes=(0, None))
    coefs = params["coefs"]
    w_in, w_out = coefs[0], coefs[1]  # (B, 1, H), (B, H, k): the first hidden layer's weights
    return {
        "grid_pred": predict(params, grid[:, None]),
        "test_pred": predict(params, X_test), "train_pred": predict(params, X),
        "unit_norm": jnp.sqrt(jnp.sum(w_in**2, axis=1) + jnp.sum(w_out**2, axis=2)),
        "unit_off": jnp.all(w_out == 0, axis=2).sum(axis=1),
        "zeros": sum(jnp.sum(W == 0, axis=tuple(range(1, W.ndim))) for W in coefs),
    }


def _train_and_predict(spec: TrainSpec, params, keys, alpha, l1, learning_rate, dropout,
                       X, y, X_val, y_val, X_test, y_test, grid):
    """Train the networks of ``params`` (leading axis); predictions and weight summaries."""
    n_nets = keys.shape[0]
    one = make_hyper(alpha, l1, learning_rate, dropout)
    hyper = jax.tree_util.tree_map(lambda a: np.broadcast_to(a, (n_nets,) + a.shape), one)
    val = (X_val, y_val) if spec.early_stopping else (None, None)
    out = train(spec, params, keys, hyper, X, y, X_test, y_test, *val, record=RECORD_POINTS)
    return {"test_mse": out.eval_loss, "train_mse": out.train_loss, "n_iter": out.n_iter,
            "best_iter": out.best_iter, "diverged": out.diverged,
            **_summarize(out.params, spec.activation, X, X_test, grid)}


def _train_in_parts(spec: TrainSpec, params, keys, args: tuple) -> dict[str, np.ndarray]:
    """Train ``n_nets`` networks as PARTS equal parts running concurrently, one per core.

    Every part has the same size (the last network is repeated to fill the last part, and the
    copies are dropped), so one compiled program serves all parts. Networks are independent,
    so the split changes nothing but the wall time (and float rounding in the last bits).
    """
    n_nets = len(keys)
    n_parts = min(PARTS, n_nets)
    size = -(-n_nets // n_parts)
    fill = np.minimum(np.arange(size * n_parts), n_nets - 1)
    parts = [fill[i * size:(i + 1) * size] for i in range(n_parts)]

    def run_part(idx):
        part = jax.tree_util.tree_map(lambda a: a[idx], params)
        # Per-network targets (several data sets) are the 3-D arrays: (network, point, 1).
        part_args = tuple(a[idx] if isinstance(a, np.ndarray) and a.ndim == 3 else a
                          for a in args)
        return jax.tree_util.tree_map(np.asarray,
                                      _train_and_predict(spec, part, keys[idx], *part_args))

    outs = list(_POOL.map(run_part, parts))
    return {k: np.concatenate([o[k] for o in outs])[:n_nets] for k in outs[0]}


def data_set_targets(req: TrainRequest, y_train: np.ndarray) -> np.ndarray:
    """(datasets, n) training targets: the page's, then independent noise draws on the same x
    (data set d > 0 from the seed sequence (seed, d))."""
    others = [noisy_function(n_train=req.n_train, n_test=1, noise=req.noise, target=req.target,
                             seed=int(np.random.SeedSequence([req.seed, d]).generate_state(1)[0])
                             ).y_train for d in range(1, req.datasets)]
    return np.stack([y_train, *others]).astype(np.float32)


def _decomposition(grid_pred: np.ndarray, req: TrainRequest) -> Decomposition | None:
    """Noise + bias^2 + data and initialisation variance of the repetitions' fits on the grid
    (rows data-set-major), with several data sets; None with one."""
    if req.datasets == 1:
        return None
    truth = TARGETS[req.target](GRID.astype(np.float64))
    parts = decompose(grid_pred.reshape(req.datasets, req.seeds, -1), truth, req.noise ** 2)
    number = lambda v: None if not np.isfinite(v) else float(v)  # noqa: E731
    return Decomposition(noise=req.noise ** 2, bias2=number(parts.bias2),
                         data_variance=number(parts.data_variance),
                         init_variance=number(parts.init_variance),
                         expected_mse=float(parts.expected_mse))


def _clean(values: np.ndarray) -> list[float | None]:
    """JSON-safe list: NaN (undefined, e.g. after a network stopped) becomes None."""
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, float).ravel()]


def _band(values: np.ndarray) -> Band:
    """Median and 10-90 % band along axis 0, silent on all-NaN columns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med, lo, hi = band(values, axis=0)
    return Band(median=_clean(med), low=_clean(lo), high=_clean(hi))


def _stat(values: np.ndarray) -> Stat:
    b = _band(np.asarray(values, float)[:, None])
    return Stat(median=b.median[0], low=b.low[0], high=b.high[0])


def _carry_forward(curves: np.ndarray) -> np.ndarray:
    """(B, R) curves with each NaN replaced by the last finite value before it on its row."""
    idx = np.where(np.isnan(curves), 0, np.arange(curves.shape[1]))
    np.maximum.accumulate(idx, axis=1, out=idx)
    return curves[np.arange(curves.shape[0])[:, None], idx]


def _per_repetition(a: np.ndarray, n_seeds: int, ensemble: int) -> np.ndarray:
    """(B, ...) -> (S, ...): average over each repetition's ensemble members (NaN-aware)."""
    a = np.asarray(a, float).reshape((n_seeds, ensemble) + a.shape[1:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=1)


def run(req: TrainRequest) -> TrainResponse:
    """Train, evaluate and summarise one request (see the module docstring)."""
    start = time.perf_counter()
    data = noisy_function(n_train=req.n_train, n_test=N_TEST, noise=req.noise,
                          target=req.target, seed=req.seed)
    X_train, y_train = data.X_train, data.y_train
    if req.x_train is not None:  # the user's own points
        X_train = np.asarray(req.x_train, np.float32)[:, None]
        y_train = np.asarray(req.y_train, np.float32)
    spec = spec_for(req)
    params, keys, fit, val = draws(req, spec)
    D, S, E = req.datasets, req.seeds, req.ensemble
    targets = data_set_targets(req, y_train)  # (D, n): data set 0 is the one drawn on the page
    if D > 1:  # every data set is trained from every seed's initialisation
        params = jax.tree_util.tree_map(lambda a: np.concatenate([a] * D), params)
        keys = np.concatenate([keys] * D)
        targets = np.repeat(targets, S * E, axis=0)[..., None]  # per network: (B, n, 1)
    else:
        targets = y_train
    is_val = np.zeros(req.n_train, bool)
    if val is None:
        X_fit, y_fit = X_val, y_val = X_train, targets
    else:
        is_val[val] = True
        X_fit, X_val = X_train[fit], X_train[val]
        y_fit, y_val = targets[..., fit, :] if D > 1 else targets[fit], \
            targets[..., val, :] if D > 1 else targets[val]
    shape = (spec, req.networks, X_fit.shape, X_val.shape)
    compiled = shape not in _seen_shapes
    out = _train_in_parts(spec, params, keys,
                          (req.alpha, req.l1, req.learning_rate, req.dropout, X_fit, y_fit,
                           X_val, y_val, data.X_test, data.y_test, GRID))
    _seen_shapes.add(shape)
    S = D * S  # repetitions: every (data set, seed) pair
    diverged = out["diverged"].astype(bool)
    for name in ("test_mse", "train_mse", "grid_pred", "test_pred", "train_pred", "unit_norm",
                 "zeros", "unit_off", "n_iter", "best_iter"):  # left out of every band
        out[name] = without_diverged(out[name], diverged)

    steps = record_grid(req.iterations, RECORD_POINTS)
    ran = steps <= np.nanmax(np.append(out["n_iter"], 1))
    steps = steps[ran]
    test_curve, train_curve = (_band(_per_repetition(_carry_forward(out[k][:, ran]), S, E))
                               for k in ("test_mse", "train_mse"))
    median_test = np.array([np.inf if v is None else v for v in test_curve.median])
    best = int(np.argmin(median_test))

    def ensemble_mse(pred, target):
        if np.ndim(target) == 3:  # per-network targets: one row per repetition
            target = target[::E, :, 0]
        return np.mean((_per_repetition(pred, S, E) - target) ** 2, axis=1)

    es = req.early_stopping
    test_end = ensemble_mse(out["test_pred"], data.y_test)
    metrics = Metrics(
        best_iteration=int(steps[best]),
        test_mse_best=Stat(median=test_curve.median[best], low=test_curve.low[best],
                           high=test_curve.high[best]),
        test_mse_end=_stat(test_end), test_mse_end_per_seed=_clean(test_end),
        train_mse_end=_stat(ensemble_mse(out["train_pred"], y_fit)),
        noise_variance=data.bayes_mse,
        parameters=req.parameters, total_parameters=req.parameters * E,
        weights=sum(i * o for i, o in zip(req.layer_sizes[:-1], req.layer_sizes[1:], strict=True)),
        zero_weights=_stat(out["zeros"]), dead_units=_stat(out["unit_off"]),
        stopped_at=_stat(out["n_iter"]) if es else None,
        restored_from=_stat(out["best_iter"]) if es else None,
        diverged=int(diverged.sum()), networks=int(diverged.size),
    )
    return TrainResponse(
        config=req,
        data=Data(x_train=_clean(X_train), y_train=_clean(y_train),
                  is_validation=is_val.tolist(), x_test=_clean(data.X_test),
                  y_test=_clean(data.y_test)),
        fit=Fit(x=_clean(GRID), truth=_clean(TARGETS[req.target](GRID.astype(float))),
                prediction=_band(_per_repetition(out["grid_pred"], S, E))),
        curves=Curves(iterations=steps.tolist(), train_mse=train_curve, test_mse=test_curve),
        units=Units(magnitude=_band(-np.sort(-out["unit_norm"], axis=1))),
        metrics=metrics, compiled=compiled,
        decomposition=_decomposition(_per_repetition(out["grid_pred"], S, E), req),
        elapsed_ms=1000.0 * (time.perf_counter() - start))
