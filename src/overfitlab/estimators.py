"""scikit-learn compatible regularized MLP on the JAX engine.

:class:`RegularizedMLPRegressor` takes MLPRegressor's parameters with the same defaults and
meaning (loss, L2 penalty, initialisation and Adam/SGD steps are scikit-learn's, see
:mod:`overfitlab.engine.train`), plus

* ``l1``: L1 coefficient, applied by a proximal step so weights become exactly 0;
* ``dropout``: inverted-dropout rate on hidden units during training;
* ``n_networks``: an ensemble of networks from independent initialisations, trained in one
  vectorized call; ``predict`` averages them.

``fit(X, y, eval_set=(X_eval, y_eval))`` also records ``eval_loss_curve_``, the mean squared
error on the evaluation set after every iteration (what the course builds with ``partial_fit``).

Randomness follows scikit-learn's order: ``random_state`` first draws the initial weights (member
0 gets exactly MLPRegressor's), then the early-stopping split, then the PRNG keys of the JAX
engine's shuffling and dropout. Full-batch training (up to 200 samples with the default
``batch_size``) therefore retraces MLPRegressor's fit for the same ``random_state``.
"""
from __future__ import annotations

import warnings
from numbers import Integral, Real

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from overfitlab.engine.mlp import forward, init_stack
from overfitlab.engine.train import (TrainSpec, host_keys, make_hyper, stack_networks,
                                     to_device, train)

_CONSTRAINTS = {k: v for k, v in MLPRegressor._parameter_constraints.items()
                if k not in ("max_fun", "loss")}


def _check_finite(out) -> None:
    """Refuse non-finite weights as scikit-learn does; warn about networks whose loss exploded."""
    if not all(np.isfinite(a).all() for a in jax.tree_util.tree_leaves(out.params)):
        raise ValueError(
            "Solver produced non-finite parameter weights. The input data may contain large "
            "values and need to be preprocessed (or lower learning_rate_init).")
    if out.diverged.any():
        first = int(out.diverged_at[out.diverged].min())
        warnings.warn(
            f"{int(out.diverged.sum())} of {out.diverged.size} networks diverged (training loss "
            f"exploded) from iteration {first}: lower learning_rate_init.", ConvergenceWarning)


class RegularizedMLPRegressor(RegressorMixin, BaseEstimator):
    """Multi-layer perceptron regressor with L2, L1, dropout and ensembling.

    Parameters are those of :class:`sklearn.neural_network.MLPRegressor` (same defaults; the
    ``lbfgs`` solver is not offered), plus ``l1`` (float >= 0), ``dropout`` (rate in [0, 1))
    and ``n_networks`` (int >= 1).

    Attributes
    ----------
    coefs_, intercepts_ : lists of arrays; with ``n_networks > 1`` each has a leading member
        axis.
    loss_curve_ : list of float, the training objective at each iteration (mean over members).
    eval_loss_curve_ : list of float, MSE on ``eval_set`` after each iteration (if given).
    validation_scores_, best_validation_score_ : with ``early_stopping``, R^2 on the validation
        split at each iteration, and its best value (whose weights are kept).
    n_iter_ : int, iterations run; ``t_``: samples seen; ``n_features_in_``, ``n_outputs_``.
    """

    _parameter_constraints = {
        **_CONSTRAINTS,
        "solver": [StrOptions({"sgd", "adam"})],
        "l1": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "n_networks": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, l1=0.0,
                 dropout=0.0, n_networks=1):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.l1 = l1
        self.dropout = dropout
        self.n_networks = n_networks

    # ----------------------------------------------------------------- helpers
    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if any(int(h) <= 0 for h in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return tuple(int(h) for h in sizes)

    def _layer_sizes(self, n_features: int) -> tuple[int, ...]:
        return (n_features, *self._hidden_sizes(), self.n_outputs_)

    def _spec(self, n_features: int, n_samples: int, max_iter: int, tol) -> TrainSpec:
        batch = None if self.batch_size == "auto" and n_samples <= 200 else (
            200 if self.batch_size == "auto" else int(self.batch_size))
        if batch is not None and self.batch_size != "auto" and not 1 <= batch <= n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                          "It is going to be clipped")
            batch = int(np.clip(batch, 1, n_samples))
        n_no_change = self.n_iter_no_change
        return TrainSpec(
            layer_sizes=self._layer_sizes(n_features),
            activation=self.activation, solver=self.solver, max_iter=max_iter,
            batch_size=batch, shuffle=self.shuffle, tol=tol,
            n_iter_no_change=n_no_change if np.isfinite(n_no_change) else 2**31 - 1,
            early_stopping=self.early_stopping and tol is not None,
            lr_schedule=self.learning_rate, power_t=self.power_t, momentum=self.momentum,
            nesterovs_momentum=self.nesterovs_momentum, beta_1=self.beta_1,
            beta_2=self.beta_2, epsilon=self.epsilon, use_dropout=self.dropout > 0,
            use_l1=self.l1 > 0, chunk=min(max_iter, 1000), record_train=False)

    def _dtype(self):
        return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32

    def _stack(self, arrays):
        """Engine arrays (leading member axis) as the public attribute layout."""
        arrays = [np.asarray(a) for a in arrays]
        return [a[0] for a in arrays] if self.n_networks == 1 else arrays

    def _params(self):
        """Public coefs_/intercepts_ back to the engine's stacked pytree."""
        lift = (lambda a: to_device(np.asarray(a)[None])) if self.n_networks == 1 else to_device
        return {"coefs": [lift(W) for W in self.coefs_],
                "intercepts": [lift(b) for b in self.intercepts_]}

    # --------------------------------------------------------------------- fit
    def fit(self, X, y, sample_weight=None, eval_set=None):
        """Fit to (X, y); ``eval_set=(X_eval, y_eval)`` records ``eval_loss_curve_``."""
        self._validate_params()
        incremental = self.warm_start and hasattr(self, "coefs_")
        return self._fit(X, y, sample_weight, eval_set, incremental=incremental,
                         max_iter=self.max_iter, tol=self.tol, keep_optimizer=False)

    def partial_fit(self, X, y, sample_weight=None):
        """One iteration (epoch) over (X, y), continuing the optimizer's state."""
        if self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not hasattr(self, "coefs_"):
            self._validate_params()
        return self._fit(X, y, sample_weight, None, incremental=hasattr(self, "coefs_"),
                         max_iter=1, tol=None, keep_optimizer=True)

    def _fit(self, X, y, sample_weight, eval_set, incremental, max_iter, tol, keep_optimizer):
        X, y = validate_data(self, X, y, reset=not incremental, multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32))
        dtype = self._dtype()
        y2 = y.reshape(len(y), -1)
        if incremental and y2.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y2.shape[1]} outputs, but the network was fitted "
                             f"with {self.n_outputs_}")
        self.n_outputs_ = y2.shape[1]
        weights = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if not weights.sum() > 0:
            raise ValueError("sample_weight sums to 0: give at least one sample a positive "
                             "weight")
        rng = check_random_state(self.random_state) if not incremental else self._rng
        k = self.n_networks
        if incremental:
            params = self._params()
        else:  # scikit-learn's draws: member 0 starts where MLPRegressor(random_state) does
            params = init_stack(rng, k, self._layer_sizes(X.shape[1]), self.activation, dtype)

        X_val = y_val = w_val = None
        if self.early_stopping and tol is not None:
            X, X_val, y2, y_val, weights, w_val = train_test_split(
                X, y2, weights, random_state=rng, test_size=self.validation_fraction)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
        spec = self._spec(X.shape[1], X.shape[0], max_iter, tol)
        opt_state = self._opt_state if (keep_optimizer and incremental) else None
        if sample_weight is None:  # unit weights: the engine skips their arithmetic
            weights = w_val = None
        hyper = stack_networks([make_hyper(
            self.alpha, self.l1, self.learning_rate_init, self.dropout, sample_weight=weights,
            dtype=dtype)] * k)
        X_eval, y_eval = (None, None) if eval_set is None else eval_set
        if eval_set is not None:
            X_eval = validate_data(self, X_eval, reset=False, dtype=(np.float64, np.float32))
            y_eval = np.asarray(y_eval, dtype=np.float64).reshape(len(X_eval), -1)
        keys = host_keys(rng, k)  # shuffling and dropout streams
        out = train(spec, params, keys, hyper, X.astype(dtype), y2.astype(dtype),
                    X_eval, y_eval, X_val, y_val, w_val,
                    record="every" if eval_set is not None else None, opt_state=opt_state)
        _check_finite(out)

        self._rng = rng
        self._opt_state = jax.tree_util.tree_map(np.asarray, out.opt_state)
        self.coefs_ = self._stack(out.params["coefs"])
        self.intercepts_ = self._stack(out.params["intercepts"])
        n_run = int(np.asarray(out.n_iter).max())
        curve = np.nanmean(np.asarray(out.loss_curve, dtype=np.float64)[:, :n_run], axis=0)
        previous = list(getattr(self, "loss_curve_", [])) if incremental else []
        self.loss_curve_ = previous + curve.tolist()
        self.loss_ = self.loss_curve_[-1]
        self.best_loss_ = None if self.early_stopping else float(np.min(self.loss_curve_))
        self.n_iter_ = (getattr(self, "n_iter_", 0) if incremental else 0) + n_run
        self.t_ = (getattr(self, "t_", 0) if incremental else 0) + n_run * X.shape[0]
        self.n_layers_ = len(spec.layer_sizes)
        self.out_activation_ = "identity"
        if eval_set is not None:
            self.eval_loss_curve_ = np.nanmean(
                np.asarray(out.eval_loss, np.float64)[:, :n_run], axis=0).tolist()
        if X_val is not None:
            scores = np.nanmean(np.asarray(out.val_score, np.float64)[:, :n_run], axis=0)
            self.validation_scores_ = scores.tolist()
            self.best_validation_score_ = float(np.nanmax(scores))
        else:
            self.validation_scores_ = self.best_validation_score_ = None
        if self.verbose:
            for i, loss in enumerate(curve, start=self.n_iter_ - n_run + 1):
                print(f"Iteration {i}, loss = {loss:.8f}")
        if tol is not None and not bool(np.asarray(out.converged).all()):
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({max_iter}) reached and the "
                "optimization hasn't converged yet.", ConvergenceWarning)
        return self

    # ----------------------------------------------------------------- predict
    def predict(self, X):
        """Mean prediction of the member networks (dropout off)."""
        check_is_fitted(self, "coefs_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        X = np.asarray(X, dtype=np.float64)
        members = [self.coefs_] if self.n_networks == 1 else [
            [W[i] for W in self.coefs_] for i in range(self.n_networks)]
        biases = [self.intercepts_] if self.n_networks == 1 else [
            [b[i] for b in self.intercepts_] for i in range(self.n_networks)]
        pred = np.mean([forward({"coefs": [np.asarray(W, np.float64) for W in Ws],
                                 "intercepts": [np.asarray(b, np.float64) for b in bs]},
                                X, self.activation, backend="numpy")
                        for Ws, bs in zip(members, biases)], axis=0)
        return pred.ravel() if pred.shape[1] == 1 else pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
