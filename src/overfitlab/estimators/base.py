"""What every overfitlab MLP estimator shares: parameters, the engine call, stopping, curves.

``RegularizedMLPBase`` holds ``MLPRegressor``/``MLPClassifier``'s parameters with the same
defaults and meaning (the ``lbfgs`` solver is not offered), plus

* ``l1``: L1 coefficient, applied by a proximal step so weights become exactly 0;
* ``dropout``: inverted-dropout rate on hidden units during training;
* ``n_networks``: an ensemble of networks from independent initialisations, trained in one
  vectorized call; predictions average the members' outputs (values, or probabilities).

The loss, L2 penalty, initialisation and Adam/SGD steps are scikit-learn's (see
:mod:`overfitlab.engine.train`). A subclass says what its targets are: how ``y`` is validated
and encoded as a 2-D float array, which loss and output activation train it, and how outputs
become predictions.

**Randomness** follows scikit-learn's order: ``random_state`` first draws the initial weights
(member 0 gets exactly scikit-learn's), then the early-stopping split (stratified for a
single-output classifier, as scikit-learn does), then member 0's shuffle of the rows before each
epoch (:mod:`overfitlab.estimators.shuffles`). Other members shuffle from their own RandomStates
and the dropout masks come from JAX PRNG keys, all seeded from a hash of ``random_state``'s state
that draws nothing from it. Training, full batch or in mini-batches, therefore retraces
scikit-learn's fit for the same ``random_state`` (where the same stopping rule applies, below).

**Floating point.** The parameters take the input's dtype (float32 in, float32 ``coefs_``;
anything else is converted to float64, as scikit-learn does), and predictions are computed in
NumPy in the dtype of the inputs and parameters. Training computes in float64 only when JAX's
``jax_enable_x64`` is on; otherwise it computes in float32 and stores the result in the input's
dtype (float64 inputs give float64 parameters rounded from a float32 computation).

**Iterations and continuation** (scikit-learn's meaning unless said):

* ``fit`` runs up to ``max_iter`` iterations; ``n_iter_`` counts this fit's iterations, also
  with ``warm_start`` (which continues from the previous weights with a fresh optimizer and
  appends to ``loss_curve_``; ``t_`` keeps counting samples). A ``ConvergenceWarning`` says when
  a network ran ``max_iter`` iterations without meeting the tol rule.
* ``partial_fit`` runs one iteration continuing the optimizer's state and learning rate; unlike
  scikit-learn 1.9 (where ``n_iter_`` is 1 after every call) ``n_iter_`` counts the calls since
  the last ``fit``, which is what a learning-curve loop wants.
* ``_no_improvement_count`` and ``best_loss_``/``best_validation_score_`` mean what they mean in
  scikit-learn wherever its stopping rule is used (full-batch training without dropout, or early
  stopping): the count of consecutive iterations without an improvement by more than ``tol``.
  With dropout or mini-batches the engine judges a noise-free objective over doubling windows
  instead (see the engine's docstring) and ``_no_improvement_count`` is None.
* Differences that only a change in the engine could remove: a ``warm_start`` fit restarts the
  tol rule's patience (scikit-learn carries ``best_loss_`` and the count over from the previous
  fit), restores the best weights *of that fit* with early stopping, and with the
  ``invscaling`` schedule decays the learning rate from the samples of that fit only; after a
  fit under the doubling-window rule, ``partial_fit`` with the ``adaptive`` schedule continues
  from ``learning_rate_init`` (the engine does not return the rate it ended with).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import jax
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network._multilayer_perceptron import BaseMultilayerPerceptron
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from overfitlab.compilation_cache import enable_compilation_cache
from overfitlab.engine.mlp import OUTPUT_ACTIVATIONS, forward_stack, init_stack
from overfitlab.engine.train import (TrainSpec, derived_stream, host_keys, make_hyper,
                                     stack_networks, train)
from overfitlab.estimators.shuffles import EpochOrders, seeded_streams

FORWARD_ELEMENTS = 2**23
"""Hidden activations per batched forward pass of prediction (64 MiB in float64)."""

PARAMETER_CONSTRAINTS = {
    **{k: v for k, v in BaseMultilayerPerceptron._parameter_constraints.items()
       if k not in ("max_fun", "loss")},
    "solver": [StrOptions({"sgd", "adam"})],
    "l1": [Interval(Real, 0, None, closed="left")],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "n_networks": [Interval(Integral, 1, None, closed="left")],
}
"""scikit-learn's MLP parameter constraints (without ``lbfgs``, ``max_fun`` and ``loss``) plus
ours."""


def store_params(estimator, params: dict) -> None:
    """Set every ``__init__`` argument (``locals()`` of the ``__init__``) as an attribute of the
    same name, unchanged: scikit-learn's convention, written once."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def stochastic_solver(estimator) -> bool:
    """``partial_fit`` exists for the stochastic solvers (all of ours), as in scikit-learn."""
    return estimator.solver in ("sgd", "adam")


def compute_dtype(input_dtype) -> np.dtype:
    """The dtype the engine computes in: the input's when JAX's x64 mode is on, else float32."""
    return np.dtype(input_dtype) if jax.config.jax_enable_x64 else np.dtype(np.float32)


def run_engine(spec: TrainSpec, params, keys, hyper, X, Y, check=True, **kwargs):
    """One call of :func:`overfitlab.engine.train.train`. With ``check``, refuses non-finite
    weights as scikit-learn does and warns about networks whose loss exploded (a search turns
    ``check`` off and scores such networks NaN instead). The first call of a process turns on
    the persistent compilation cache, so a new kernel skips compiling shapes it has seen."""
    enable_compilation_cache()
    out = train(spec, params, keys, hyper, X, Y, **kwargs)
    if not check:
        return out
    if not all(np.isfinite(a).all() for a in jax.tree_util.tree_leaves(out.params)):
        raise ValueError(
            "Solver produced non-finite parameter weights. The input data may contain large "
            "values and need to be preprocessed (or lower learning_rate_init).")
    if out.diverged.any():
        first = int(out.diverged_at[out.diverged].min())
        warnings.warn(
            f"{int(out.diverged.sum())} of {out.diverged.size} networks diverged (training loss "
            f"exploded) from iteration {first}: lower learning_rate_init.", ConvergenceWarning)
    return out


def member_mean(curves: np.ndarray) -> np.ndarray:
    """Mean over the member axis (0) of curves that are NaN where a member had stopped; NaN where
    every member is NaN (without numpy's empty-slice warning)."""
    curves = np.asarray(curves, np.float64)
    counts = np.sum(~np.isnan(curves), axis=0)
    sums = np.nansum(curves, axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def replay_patience(metric: np.ndarray, tol: float, n_iter_no_change: float, best, count,
                    lr, adaptive: bool):
    """scikit-learn's ``_update_no_improvement_count`` and ``trigger_stopping`` over a tracked
    metric (higher is better: minus the training loss, or the validation score), in the metric's
    own dtype so that every comparison is the engine's: a count of iterations without
    ``metric > best + tol``; past ``n_iter_no_change`` the ``adaptive`` schedule divides the
    learning rate by 5 and resets the count (or stops once it is <= 1e-6), others stop.

    Returns (best, count, lr) after the last value.
    """
    dt = metric.dtype.type
    best, lr = dt(best), dt(lr)
    for m in metric:
        count = count + 1 if m < best + dt(tol) else 0
        best = max(best, m) if not np.isnan(m) else best
        if count > n_iter_no_change and adaptive and lr > dt(1e-6):
            lr, count = lr / dt(5.0), 0
    return best, count, lr


@dataclass
class EngineOptimizer:
    """What ``partial_fit`` continues from: the engine's optimizer state (Adam moments and step
    count, or SGD velocity; leading member axis) and the learning rate the next iteration starts
    from (scikit-learn's ``_optimizer.learning_rate`` for SGD, after its schedule; the base rate
    ``learning_rate_init`` for Adam, whose bias correction the engine applies itself)."""

    state: object
    learning_rate: float | np.ndarray


class RegularizedMLPBase(BaseEstimator):
    """Shared parameters, training and prediction of the regularized MLP estimators.

    Subclasses define ``_loss`` (the engine's loss name) and the target hooks
    :meth:`_validate_input`, :meth:`_out_activation`, :meth:`_encode_targets` and
    :meth:`_stratify`.
    """

    _parameter_constraints = PARAMETER_CONSTRAINTS
    _loss = "squared_error"

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, l1=0.0,
                 dropout=0.0, n_networks=1):
        store_params(self, locals())

    # ----------------------------------------------------------- target hooks
    def _validate_input(self, X, y, incremental: bool, reset: bool):
        """Validated X and the targets as a 2-D array (one column per network output)."""
        raise NotImplementedError

    def _out_activation(self) -> str:
        raise NotImplementedError

    def _encode_targets(self, y) -> np.ndarray:
        """Targets of an evaluation set as the 2-D array the network is trained on."""
        raise NotImplementedError

    def _stratify(self, Y: np.ndarray):
        """The labels the early-stopping split is stratified on (None: not stratified)."""
        return None

    # ----------------------------------------------------------- layout
    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if any(int(h) <= 0 for h in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return tuple(int(h) for h in sizes)

    def _layer_sizes(self, n_features: int) -> tuple[int, ...]:
        return (n_features, *self._hidden_sizes(), self.n_outputs_)

    def _set_output_meta(self, Y: np.ndarray) -> None:
        """Output size, output activation and layer count of a first fit on targets ``Y``."""
        self.n_outputs_ = Y.shape[1]
        self.out_activation_ = self._out_activation()
        self.n_layers_ = len(self._hidden_sizes()) + 2

    def _batch_size(self, n_samples: int) -> int | None:
        """scikit-learn's batch size for ``n_samples`` rows (None: one full batch)."""
        if self.batch_size == "auto":
            return None if n_samples <= 200 else 200
        batch = int(self.batch_size)
        if not 1 <= batch <= n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                          "It is going to be clipped")
            batch = int(np.clip(batch, 1, n_samples))
        return None if batch == n_samples else batch

    def _spec(self, n_features: int, batch_size: int | None, max_iter: int, tol) -> TrainSpec:
        """The engine's spec for a fit of ``max_iter`` iterations (``tol`` None: no stopping
        rule). A tolerance rule that cannot stop anything within ``max_iter`` iterations
        (``n_iter_no_change >= max_iter``, no validation score to track) is left out: with
        mini-batches its bookkeeping would cost a full-data objective every epoch, for
        nothing."""
        n_no_change = self.n_iter_no_change
        if not self.early_stopping and n_no_change >= max_iter:
            tol = None
        return TrainSpec(
            layer_sizes=self._layer_sizes(n_features),
            activation=self.activation, solver=self.solver, max_iter=max_iter,
            loss=self._loss, out_activation=self.out_activation_,
            batch_size=batch_size, shuffle=self.shuffle, tol=tol,
            n_iter_no_change=n_no_change if np.isfinite(n_no_change) else 2**31 - 1,
            early_stopping=self.early_stopping and tol is not None,
            lr_schedule=self.learning_rate, power_t=self.power_t, momentum=self.momentum,
            nesterovs_momentum=self.nesterovs_momentum, beta_1=self.beta_1,
            beta_2=self.beta_2, epsilon=self.epsilon, use_dropout=self.dropout > 0,
            use_l1=self.l1 > 0, chunk=min(max_iter, 1000), record_train=False)

    def _validation_split(self, rng, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row indices (fit, validation) of scikit-learn's early-stopping split of ``Y``'s rows:
        the same ``train_test_split`` draw from ``rng``, so the same rows."""
        fit_idx, val_idx = train_test_split(
            np.arange(len(Y)), random_state=rng, test_size=self.validation_fraction,
            stratify=self._stratify(Y))
        if len(val_idx) < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        return fit_idx, val_idx

    def _public(self, arrays, dtype) -> list[np.ndarray]:
        """Engine arrays (leading member axis) as the public layout: plain for one member."""
        arrays = [np.asarray(a, dtype) for a in arrays]
        return [a[0] for a in arrays] if arrays[0].shape[0] == 1 else arrays

    def _engine_params(self, dtype) -> dict:
        """Public ``coefs_``/``intercepts_`` as the engine's stacked pytree in ``dtype``."""
        single = np.ndim(self.coefs_[0]) == 2
        lift = lambda a: np.asarray(a, dtype)[None] if single else np.asarray(a, dtype)  # noqa: E731
        return {"coefs": [lift(W) for W in self.coefs_],
                "intercepts": [lift(b) for b in self.intercepts_]}

    def _with_params(self, params: dict, dtype) -> "RegularizedMLPBase":
        """A shallow copy of this (prepared) estimator holding the engine ``params`` (leading
        member axis) as its fitted weights: used to score networks trained elsewhere."""
        view = self.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view.coefs_ = self._public(params["coefs"], dtype)
        view.intercepts_ = self._public(params["intercepts"], dtype)
        return view

    # -------------------------------------------------------------------- fit
    def fit(self, X, y, sample_weight=None, eval_set=None):
        """Fit to (X, y); ``eval_set=(X_eval, y_eval)`` records the evaluation curves
        (``eval_loss_curve_``, and ``eval_accuracy_curve_`` for a classifier) after every
        iteration, without any ``partial_fit`` loop."""
        self._validate_params()
        return self._fit(X, y, sample_weight, eval_set, incremental=False)

    def _partial_fit(self, X, y, sample_weight):
        """One iteration (epoch) over (X, y), continuing the optimizer's state."""
        if self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not hasattr(self, "coefs_"):
            self._validate_params()
        return self._fit(X, y, sample_weight, None, incremental=True)

    def _fit(self, X, y, sample_weight, eval_set, incremental: bool):
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        if first_pass:
            self._set_output_meta(Y)
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs, but the network was fitted with "
                             f"{self.n_outputs_}")
        weights = validated_weights(sample_weight, X)
        dtype = compute_dtype(X.dtype)
        rng = (self._rng if incremental and hasattr(self, "_rng")
               else check_random_state(self.random_state))
        if first_pass:  # scikit-learn's draws: member 0 starts where scikit-learn's does
            params = init_stack(rng, self.n_networks, self._layer_sizes(X.shape[1]),
                                self.activation, dtype)
            self._param_dtype = X.dtype
            self._reset_history()
        else:
            params = self._engine_params(dtype)
            self._param_dtype = np.asarray(self.coefs_[0]).dtype
        n_members = jax.tree_util.tree_leaves(params)[0].shape[0]

        val = {}
        if self.early_stopping and not incremental:
            fit_idx, val_idx = self._validation_split(rng, Y)
            val = dict(X_val=X[val_idx], y_val=Y[val_idx].astype(dtype),
                       w_val=None if weights is None else weights[val_idx])
            X, Y = X[fit_idx], Y[fit_idx]
            weights = None if weights is None else weights[fit_idx]
        max_iter, tol = (1, None) if incremental else (self.max_iter, self.tol)
        spec = self._spec(X.shape[1], self._batch_size(X.shape[0]), max_iter, tol)
        optimizer = getattr(self, "_optimizer", None) if incremental else None
        lr = (np.broadcast_to(self.learning_rate_init, n_members) if optimizer is None
              else np.broadcast_to(optimizer.learning_rate, n_members))
        hyper = stack_networks([
            make_hyper(self.alpha, self.l1, lr[i], self.dropout, sample_weight=weights,
                       dtype=dtype) for i in range(n_members)])
        evals = {}
        if eval_set is not None:
            X_eval, y_eval = eval_set
            evals = dict(X_eval=validate_data(self, X_eval, reset=False,
                                              dtype=(np.float64, np.float32)),
                         y_eval=self._encode_targets(y_eval).astype(dtype), record="every")
        spare = derived_stream(rng)
        keys = host_keys(spare, n_members)  # dropout streams
        # member 0 shuffles from rng itself, as scikit-learn does; the others from their own
        streams = [rng] + seeded_streams(spare, n_members - 1)
        orders = EpochOrders(streams, [X.shape[0]] * n_members, X.shape[0])
        out = run_engine(spec, params, keys, hyper, X.astype(dtype), Y.astype(dtype),
                         opt_state=None if optimizer is None else optimizer.state,
                         orders=orders, **val, **evals)
        self._rng = rng
        self._record(out, spec, X.shape[0], incremental, lr, one_batch=spec.batch_size is None)
        return self

    def _reset_history(self) -> None:
        """The bookkeeping of a first fit (scikit-learn's ``_initialize``)."""
        self.n_iter_, self.t_, self.loss_curve_ = 0, 0, []
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = None
        self.best_loss_ = None if self.early_stopping else np.inf
        self._patience = None

    def _record(self, out, spec: TrainSpec, n_fit: int, incremental: bool, lr_start,
                one_batch: bool) -> None:
        """Store the weights, curves and stopping bookkeeping of one engine run."""
        dtype = self._param_dtype
        self.coefs_ = self._public(out.params["coefs"], dtype)
        self.intercepts_ = self._public(out.params["intercepts"], dtype)
        n_run = int(np.asarray(out.n_iter).max())
        losses = np.asarray(out.loss_curve)[:, :n_run]
        curve = member_mean(losses)
        self.loss_curve_ = list(self.loss_curve_) + curve.tolist()
        self.loss_ = self.loss_curve_[-1]
        self.n_iter_ = self.n_iter_ + n_run if incremental else n_run
        self.t_ += n_run * n_fit
        if spec.early_stopping:
            metric = np.asarray(out.val_score)[:, :n_run]
            # scikit-learn scores non-finite predictions as NaN
            run_scores = member_mean(np.where(np.isfinite(metric), metric, np.nan))
            self.validation_scores_ = list(self.validation_scores_ or []) + run_scores.tolist()
            self.best_validation_score_ = (float(np.nanmax(run_scores))
                                           if np.isfinite(run_scores).any() else np.nan)
        else:
            self.best_loss_ = float(np.nanmin(self.loss_curve_))
            metric = -losses
        for name in ("loss", "accuracy"):
            recorded = getattr(out, f"eval_{name}")
            if recorded is not None:
                setattr(self, f"eval_{name}_curve_", member_mean(recorded[:, :n_run]).tolist())
        self._track_patience(out, metric, incremental, lr_start, one_batch)
        self._optimizer = EngineOptimizer(jax.tree_util.tree_map(np.asarray, out.opt_state),
                                          self._final_rates(out, lr_start))
        if self.verbose:
            for j, loss in enumerate(curve):
                print(f"Iteration {self.n_iter_ - n_run + j + 1}, loss = {loss:.8f}")
                if spec.early_stopping:
                    print(f"Validation score: {run_scores[j]:f}")
        if not incremental and np.any((np.asarray(out.n_iter) == spec.max_iter)
                                      & ~np.asarray(out.converged)):
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({spec.max_iter}) reached and the "
                "optimization hasn't converged yet.", ConvergenceWarning)

    def _track_patience(self, out, metric: np.ndarray, incremental: bool, lr_start,
                        one_batch: bool) -> None:
        """``_no_improvement_count`` (and the adaptive schedule's rate) by scikit-learn's rule:
        replayed on the values the engine judged in a fit (its decisions, from a fresh count),
        decided here for ``partial_fit`` (one iteration per engine call, the count carried)."""
        n_members = metric.shape[0]
        windows = not self.early_stopping and (self.dropout > 0 or not one_batch)
        if windows and not incremental:  # the engine's doubling-window rule, not scikit-learn's
            self._patience = None
            self._no_improvement_count = None
            self._adaptive_rates = None
            return
        carried = getattr(self, "_patience", None) if incremental else None
        carried = carried if carried is not None else (
            np.full(n_members, -np.inf), np.zeros(n_members, int))
        adaptive = self.solver == "sgd" and self.learning_rate == "adaptive"
        states = [replay_patience(metric[i, :int(out.n_iter[i])], self.tol,
                                  self.n_iter_no_change, carried[0][i], int(carried[1][i]),
                                  lr_start[i], adaptive) for i in range(n_members)]
        best, count, rates = (np.array(v) for v in zip(*states))
        self._patience = (best.astype(np.float64), count.astype(int))
        self._no_improvement_count = int(count[0]) if n_members == 1 else count.astype(int)
        self._adaptive_rates = rates.astype(np.float64)

    def _final_rates(self, out, lr_start):
        """The learning rate the next iteration starts from, per member (scikit-learn's
        schedules: invscaling from all samples seen, adaptive after its reductions)."""
        n_members = len(lr_start)
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            rates = np.full(n_members, self.learning_rate_init / (self.t_ + 1) ** self.power_t)
        elif (self.solver == "sgd" and self.learning_rate == "adaptive"
              and self._adaptive_rates is not None):
            rates = self._adaptive_rates
        else:
            rates = np.asarray(lr_start, np.float64)
        return float(rates[0]) if n_members == 1 else rates

    # ---------------------------------------------------------------- predict
    def _output(self, X) -> np.ndarray:
        """Mean output activation of the member networks (dropout off), (n_samples, n_outputs),
        computed in NumPy in the dtype of X and the parameters."""
        check_is_fitted(self, "coefs_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self._mean_outputs(self._engine_params(None), X, n_members=None)[0]

    def _mean_outputs(self, params: dict, X: np.ndarray, n_members: int | None) -> np.ndarray:
        """Output activations of stacked networks ``params`` (leading axis) on validated X,
        averaged over consecutive groups of ``n_members`` (None: all of them):
        (groups, n_samples, n_outputs). The networks go through batched forward passes of at
        most ``FORWARD_ELEMENTS`` hidden activations each (at least one network)."""
        # weights set by hand (as scikit-learn's tests do) may come without out_activation_
        activate = OUTPUT_ACTIVATIONS[getattr(self, "out_activation_", None)
                                      or self._out_activation()]
        coefs = params["coefs"]
        n = len(coefs[0])
        n_members = n_members or n
        step = max(1, FORWARD_ELEMENTS // (X.shape[0] * max(np.shape(W)[-1] for W in coefs)))
        sums = np.zeros((n // n_members, X.shape[0], np.shape(coefs[-1])[-1]),
                        np.result_type(X, *coefs))
        for start in range(0, n, step):
            part = {k: [a[start:start + step] for a in v] for k, v in params.items()}
            out = activate(forward_stack(part, X, self.activation))
            np.add.at(sums, np.arange(start, start + len(out)) // n_members, out)
        return sums / n_members


def validated_weights(sample_weight, X) -> np.ndarray | None:
    """Validated sample weights, or None for unit weights (the engine then skips them)."""
    if sample_weight is None:
        return None
    weights = _check_sample_weight(sample_weight, X, dtype=np.float64)
    if not weights.sum() > 0:
        raise ValueError("sample_weight sums to 0: give at least one sample a positive weight")
    return weights
