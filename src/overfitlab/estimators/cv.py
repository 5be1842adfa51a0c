"""Cross-validated regularized MLPs: every fold x grid point x seed in one engine call.

``RegularizedMLPRegressorCV`` and ``RegularizedMLPClassifierCV`` (named after
``RidgeCV`` and ``LogisticRegressionCV``) take the base estimator's parameters plus a grid of
coefficients (``alphas``, and optionally ``l1s`` and ``dropouts``), choose the grid point with the
best mean cross-validated score, and refit it on all the data, like ``GridSearchCV`` with
``refit=True``. What differs is how: a fold is the list of its training rows (the engine's
``rows``, gathered inside the compiled program, so the data are not copied per network), and the
F folds x G grid points x S seeds (x ``n_networks`` members) are B = F G S ``n_networks`` networks
with their own rows and coefficients, trained side by side in **one** compiled, vectorized engine
call, where ``GridSearchCV`` makes F G separate fits. Each network trains on its fold's rows alone,
in full batch or in mini-batches (taken in the order scikit-learn's shuffles give, see Seeds).
Folds of different sizes are padded to the largest with rows of sample weight 0, which the
objective sum_i s_i l_i / sum_i s_i (+ penalties / sum_i s_i) ignores (they come last in every
epoch's order, so the mini-batches are the fold's own). (Training every network on all the
rows with the held-out ones weighted 0, the previous form, took 1.7x as long for the course
network: more rows, and the weights' arithmetic.)

**Why the folds are shuffled.** scikit-learn's ``KFold``, and ``cv=int`` in ``GridSearchCV`` or
``cross_val_score`` for a regressor, cut the rows *in order*. The course's inputs are a sorted
regular grid of [-1, 1], so ``KFold(3)`` holds out the left, middle and right thirds of the
interval: every fold asks the network to *extrapolate* a parabola to a third of the interval it
never saw. The scores measure extrapolation (R^2 from -2.7 to -11.8 on the course's 10 points),
and the search favours the strongest penalty, whose flattest fit extrapolates least badly. These
estimators therefore turn an integer ``cv`` into a *shuffled* ``KFold`` (``StratifiedKFold``
for single-output classification targets) seeded by ``random_state``; give ``cv=KFold(k)``
yourself to see the unshuffled answer. Any scikit-learn splitter or iterable of (train, test)
index pairs is accepted.

**Seeds.** Seed s of ``n_seeds`` is one initialisation, shared by every fold and grid point (so
grid points are compared from the same starting weights); the score of a grid point on a fold is
the mean of its S seeds' scores. Seed 0 draws exactly the initial weights of the base estimator
with the same ``random_state``, and its networks shuffle their rows before each epoch as that
fold's own fit would (after its validation split with ``early_stopping``): each fold's seed-0
network is the one ``GridSearchCV(base_estimator(random_state=r), cv=same folds)`` fits, where
the same stopping rule applies (full-batch training, or ``n_iter_no_change >= max_iter``; see
:mod:`overfitlab.estimators.base`). The other seeds draw their initial weights after seed 0's
and shuffle from their own RandomStates.

**Scores** are computed by ``scoring`` (default: the estimator's ``score``, R^2 or accuracy) on
each fold's held-out rows only, from networks whose training never weighed those rows. With the
default, a fold's networks predict in one batched forward pass and the metric is applied to those
predictions; any other scorer is called once per grid point and seed with a fitted estimator.
``cv_results_`` has ``GridSearchCV``'s layout and key order; ``mean_fit_time`` is the one engine
call's time divided evenly among the F G fits it replaces (``std_fit_time`` is 0), and a fold's
scoring time is likewise shared evenly among its grid points.
"""
from __future__ import annotations

import copy
import time
import warnings
from numbers import Integral

import jax
import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone, is_classifier
from sklearn.metrics import accuracy_score, check_scoring, get_scorer_names, r2_score
from sklearn.model_selection import KFold, ParameterGrid, StratifiedKFold, check_cv
from sklearn.utils import _safe_indexing, check_random_state, indexable
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from overfitlab.engine.mlp import init_stack
from overfitlab.engine.train import (derived_stream, host_keys, make_hyper, padded_rows,
                                     stack_networks)
from overfitlab.estimators.base import (PARAMETER_CONSTRAINTS, compute_dtype, run_engine,
                                        store_params, validated_weights)
from overfitlab.estimators.classifier import RegularizedMLPClassifier
from overfitlab.estimators.regressor import RegularizedMLPRegressor
from overfitlab.estimators.shuffles import EpochOrders, seeded_streams

GRID = {"alpha": "alphas", "l1": "l1s", "dropout": "dropouts"}
"""Base-estimator parameter -> the CV estimator's grid of its values."""

DEFAULT_ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


class RegularizedMLPCVBase(BaseEstimator):
    """Shared parameters and fitting of the cross-validated estimators (see the module
    docstring). Subclasses name their ``_estimator_class``."""

    _estimator_class = RegularizedMLPRegressor
    _parameter_constraints = {
        **{k: v for k, v in PARAMETER_CONSTRAINTS.items() if k not in (*GRID, "warm_start")},
        "alphas": ["array-like"],
        "l1s": ["array-like", None],
        "dropouts": ["array-like", None],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "n_seeds": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, alphas=DEFAULT_ALPHAS,
                 l1s=None, dropouts=None, cv=5, scoring=None, n_seeds=1, solver="adam",
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4,
                 verbose=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, n_networks=1):
        store_params(self, locals())

    # --------------------------------------------------------------- set-up
    def _base_estimator(self):
        """The unfitted base estimator with this estimator's shared parameters."""
        names = set(self._estimator_class._get_param_names()) & set(self.get_params(deep=False))
        return self._estimator_class(**{name: getattr(self, name) for name in names})

    def _candidates(self, base) -> list[dict]:
        """The grid in ``GridSearchCV``'s order (``ParameterGrid``: sorted names, the last
        varying fastest), every value checked as the base estimator checks it."""
        grid = {}
        for param, grid_name in GRID.items():
            values = getattr(self, grid_name)
            if values is None:
                continue
            values = list(np.ravel(np.asarray(values, dtype=object)))
            if not values:
                raise ValueError(f"{grid_name} is empty: give at least one value")
            grid[param] = values
        candidates = list(ParameterGrid(grid))
        for params in candidates:
            clone(base).set_params(**params)._validate_params()
        return candidates

    def _splits(self, X, y) -> list[tuple[np.ndarray, np.ndarray]]:
        """(train, test) row indices: an int ``cv`` is a shuffled (stratified) KFold."""
        cv = self.cv
        if isinstance(cv, Integral):
            stratify = is_classifier(self) and type_of_target(y) in ("binary", "multiclass")
            cv = (StratifiedKFold if stratify else KFold)(
                cv, shuffle=True, random_state=self.random_state)
        else:
            cv = check_cv(cv, y, classifier=is_classifier(self))
        return [(np.asarray(train), np.asarray(test)) for train, test in cv.split(X, y)]

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, sample_weight=None):
        """Score every grid point by cross-validation (one engine call), then refit the best on
        all of (X, y). ``sample_weight`` weighs the training rows of every fit (the held-out
        scores are unweighted, as in ``GridSearchCV``)."""
        self._validate_params()
        X, y, sample_weight = indexable(X, y, sample_weight)
        base = self._base_estimator()
        candidates = self._candidates(base)
        Xv, Y = base._validate_input(X, y, incremental=False, reset=True)
        base._set_output_meta(Y)
        weights = validated_weights(sample_weight, Xv)
        splits = self._splits(Xv, y)
        start = time.perf_counter()
        trained = self._train(base, Xv, Y, weights, splits, candidates)
        fit_time = time.perf_counter() - start
        scorer = check_scoring(base, scoring=self.scoring)
        scores, score_times = self._score(base, X, Xv, y, trained, splits, candidates, scorer)
        self.cv_results_ = _results(candidates, scores, fit_time, score_times)
        self.n_splits_ = len(splits)
        self.scorer_ = scorer
        self.best_index_ = int(self.cv_results_["rank_test_score"].argmin())
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        self.best_params_ = candidates[self.best_index_]
        self.alpha_, self.l1_, self.dropout_ = (
            self.best_params_.get(name, base.get_params()[name]) for name in GRID)
        self.best_estimator_ = clone(base).set_params(**self.best_params_).fit(
            X, y, sample_weight=sample_weight)
        for name in ("n_features_in_", "feature_names_in_", "classes_", "n_iter_"):
            if hasattr(self.best_estimator_, name):
                setattr(self, name, getattr(self.best_estimator_, name))
        return self

    def _train(self, base, X, Y, weights, splits, candidates):
        """Every fold x candidate x seed x member network in one engine call; returns the
        engine's result (leading network axis in that order)."""
        dtype = compute_dtype(X.dtype)
        n_seeds, n_members, n_folds = self.n_seeds, self.n_networks, len(splits)
        rng = check_random_state(self.random_state)
        layers = base._layer_sizes(X.shape[1])
        inits = [init_stack(rng, 1, layers, self.activation, dtype)]
        after_init = copy.deepcopy(rng)  # where a fold's own fit goes on drawing from
        if n_seeds * n_members > 1:
            inits.append(init_stack(rng, n_seeds * n_members - 1, layers, self.activation, dtype))
        inits = jax.tree_util.tree_map(lambda *a: np.concatenate(a), *inits)
        fit_rows, val_masks, fold_streams = [], [], []
        for train_idx, _ in splits:
            rows, stream = train_idx, copy.deepcopy(after_init)
            if self.early_stopping:  # as the fold's own fit would draw it, after its weights
                f, v = base._validation_split(stream, Y[train_idx])
                rows = train_idx[f]
                val_masks.append(_mask(len(X), train_idx[v], weights))
            fit_rows.append(rows)
            fold_streams.append(stream)
        rows, fit_weights = padded_rows(fit_rows, weights)
        per_fold = len(candidates) * n_seeds * n_members  # networks per fold
        per_fit = n_seeds * n_members  # networks per (fold, candidate)
        hyper = stack_networks([
            make_hyper(p["alpha"], p.get("l1", 0.0), self.learning_rate_init,
                       p.get("dropout", 0.0), sample_weight=w, dtype=dtype)
            for w in fit_weights for p in candidates for _ in range(per_fit)])
        n_nets = n_folds * per_fold
        params = {k: [np.tile(a, (n_nets // per_fit,) + (1,) * (a.ndim - 1)) for a in v]
                  for k, v in inits.items()}
        spec = base._spec(X.shape[1], _fold_batch_size(base, fit_rows), self.max_iter,
                          self.tol)
        val = {}
        if self.early_stopping:
            val = dict(X_val=X.astype(dtype), y_val=Y.astype(dtype),
                       w_val=np.repeat(np.stack(val_masks), per_fold, axis=0))
        spare = derived_stream(rng)
        keys = host_keys(spare, n_nets)  # dropout streams
        # The first seed's first member shuffles as its fold's own fit would; the others from
        # their own RandomStates.
        own = seeded_streams(spare, n_nets)
        streams = [copy.deepcopy(fold_streams[i // per_fold]) if i % per_fit == 0 else own[i]
                   for i in range(n_nets)]
        orders = EpochOrders(streams, [len(fit_rows[i // per_fold]) for i in range(n_nets)],
                             rows.shape[1])
        return run_engine(spec, params, keys, hyper, X.astype(dtype), Y.astype(dtype),
                          check=False, rows=np.repeat(rows, per_fold, axis=0), orders=orders,
                          **val)

    def _score(self, base, X, Xv, y, trained, splits, candidates, scorer):
        """Scores (folds, candidates, seeds) on each fold's held-out rows, and the scoring time
        (candidates, folds: each fold's time shared evenly among its candidates). A network
        that diverged (its loss exploded, see the engine) scores NaN, as a failed fit does in
        ``GridSearchCV``; so does the seed average it is part of.

        With the default ``scoring`` (the estimator's own ``score``), a fold's networks predict
        together in one batched forward pass, and R^2 or accuracy is computed from those
        predictions as ``score`` would (scikit-learn's metric on them); another scorer gets one
        fitted estimator per network group, as ``GridSearchCV`` would pass it."""
        n_fits, n_members = len(candidates) * self.n_seeds, self.n_networks
        failed = trained.diverged.reshape(len(splits), n_fits, n_members).any(axis=2)
        for v in trained.params.values():
            for a in v:
                finite = np.isfinite(a.reshape(len(splits), n_fits, n_members, -1))
                failed |= ~finite.all(axis=(2, 3))
        scores = np.full((len(splits), n_fits), np.nan)
        times = np.zeros((len(candidates), len(splits)))
        for f, (_, test_idx) in enumerate(splits):
            fold = slice(f * n_fits * n_members, (f + 1) * n_fits * n_members)
            params = {k: [np.asarray(a[fold], Xv.dtype) for a in v]
                      for k, v in trained.params.items()}
            y_test = _safe_indexing(y, test_idx)
            ok = np.flatnonzero(~failed[f])  # the failed networks are not evaluated
            start = time.perf_counter()
            if self.scoring is None and len(ok):
                networks = (ok[:, None] * n_members + np.arange(n_members)).ravel()
                outputs = base._mean_outputs({k: [a[networks] for a in v]
                                              for k, v in params.items()},
                                             Xv[test_idx], n_members)
                scores[f, ok] = _own_scores(base, y_test, outputs)
            elif self.scoring is not None:
                X_test = _safe_indexing(X, test_idx)
                for i in ok:
                    group = slice(i * n_members, (i + 1) * n_members)
                    members = {k: [a[group] for a in v] for k, v in params.items()}
                    scores[f, i] = scorer(base._with_params(members, Xv.dtype).set_params(
                        **candidates[i // self.n_seeds]), X_test, y_test)
            times[:, f] = (time.perf_counter() - start) / len(candidates)
        if np.isnan(scores).any():
            warnings.warn(f"{int(np.isnan(scores).sum())} of {scores.size} cross-validation "
                          "fits diverged (their training loss exploded) or scored NaN: they "
                          "rank last; lower learning_rate_init.", UserWarning)
        return scores.reshape(len(splits), len(candidates), self.n_seeds), times

    # ------------------------------------------------------------- predict
    def predict(self, X):
        """The refitted best estimator's prediction."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        base_tags = self._estimator_class().__sklearn_tags__()
        tags.target_tags = base_tags.target_tags
        tags.classifier_tags = base_tags.classifier_tags
        return tags


def _own_scores(base, y_test, outputs: np.ndarray) -> np.ndarray:
    """``base.score`` of each mean output activation in ``outputs`` (groups, n_test, n_outputs)
    against ``y_test``: scikit-learn's metric of the mixin's ``score`` (accuracy, R^2) on what
    ``predict`` returns. R^2 takes one call for all groups, one column per group and output
    (``multioutput="raw_values"``), then the mean over a group's outputs, as
    ``multioutput="uniform_average"`` does."""
    if is_classifier(base):
        return np.array([accuracy_score(y_test, base._predictions(out)) for out in outputs])
    n_groups, n_test, n_outputs = outputs.shape
    y_columns = np.tile(np.asarray(y_test).reshape(n_test, -1), (1, n_groups))
    predictions = outputs.transpose(1, 0, 2).reshape(n_test, -1)
    raw = r2_score(y_columns, predictions, multioutput="raw_values")
    return raw.reshape(n_groups, n_outputs).mean(axis=1)


def _mask(n: int, rows: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """0/1 weights selecting ``rows`` of ``n``, times the sample weights if any."""
    mask = np.zeros(n)
    mask[rows] = 1.0
    return mask if weights is None else mask * weights


def _fold_batch_size(base, fit_rows) -> int | None:
    """One full batch when the base estimator would train every fold in one batch (then each
    network is exactly its fold's fit), else its batch size for the largest fold."""
    sizes = [base._batch_size(len(r)) for r in fit_rows]
    return None if all(b is None for b in sizes) else max(b for b in sizes if b is not None)


def _results(candidates: list[dict], scores: np.ndarray, fit_time: float,
             score_times: np.ndarray) -> dict:
    """``GridSearchCV``'s ``cv_results_`` (same keys in the same order) from the scores
    (folds, candidates, seeds), averaged over seeds."""
    n_folds, n_candidates = scores.shape[:2]
    split_scores = scores.mean(axis=2).T  # (candidates, folds)
    results = {
        "mean_fit_time": np.full(n_candidates, fit_time / (n_folds * n_candidates)),
        "std_fit_time": np.zeros(n_candidates),
        "mean_score_time": score_times.mean(axis=1),
        "std_score_time": score_times.std(axis=1),
    }
    for name in candidates[0]:
        values = np.array([c[name] for c in candidates])
        results[f"param_{name}"] = np.ma.MaskedArray(
            values, mask=np.zeros(n_candidates, bool),
            dtype=values.dtype if values.dtype.kind != "U" else object)
    results["params"] = candidates
    for f in range(n_folds):
        results[f"split{f}_test_score"] = split_scores[:, f]
    means = split_scores.mean(axis=1)
    results["mean_test_score"] = means
    results["std_test_score"] = split_scores.std(axis=1)
    if np.isnan(means).all():
        ranks = np.ones(n_candidates, np.int32)
    else:  # failed (NaN) candidates rank last, as in GridSearchCV
        filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
        ranks = rankdata(-filled, method="min").astype(np.int32)
    results["rank_test_score"] = ranks
    return results


class RegularizedMLPRegressorCV(RegressorMixin, RegularizedMLPCVBase):
    """``RegularizedMLPRegressor`` with alpha (and optionally l1 and the dropout rate)
    chosen by shuffled K-fold cross-validation, all folds in one vectorized engine call.

    Parameters are the regressor's (without ``alpha``, ``l1``, ``dropout`` and ``warm_start``)
    plus ``alphas`` (default 1e-5 .. 10, one per decade), ``l1s`` and ``dropouts`` (None: not
    searched, 0), ``cv`` (int: *shuffled* ``KFold`` seeded by ``random_state``, see below; or any
    splitter or iterable of splits), ``scoring`` (None: R^2; any scikit-learn scorer name or
    callable) and ``n_seeds`` (initialisations whose scores are averaged per grid point).

    Plain ``KFold`` does not shuffle: on sorted inputs such as the course's x (a regular grid of
    [-1, 1]) every fold holds out a contiguous stretch of the interval, so every score measures
    extrapolation and the search prefers whatever extrapolates gently (the largest alpha). That
    is why an integer ``cv`` shuffles here (see :mod:`overfitlab.estimators.cv`).

    Attributes
    ----------
    alpha_, l1_, dropout_ : the chosen coefficients (0 where not searched).
    best_params_, best_score_, best_index_ : the chosen grid point, its mean CV score, its index.
    best_estimator_ : a ``RegularizedMLPRegressor`` with those coefficients, fitted on all
        the data (it predicts for this estimator).
    cv_results_ : dict in ``GridSearchCV``'s layout (``params``, ``param_*``,
        ``split{k}_test_score``, ``mean_test_score``, ``std_test_score``, ``rank_test_score``,
        ``mean_fit_time``, ...).
    n_splits_, scorer_, n_features_in_ : as in ``GridSearchCV``; ``n_iter_``: the refit's.
    """

    _estimator_class = RegularizedMLPRegressor


class RegularizedMLPClassifierCV(ClassifierMixin, RegularizedMLPCVBase):
    """``RegularizedMLPClassifier`` with alpha (and optionally l1 and the dropout rate)
    chosen by shuffled, stratified K-fold cross-validation, all folds in one engine call.

    Parameters are the classifier's (without ``alpha``, ``l1``, ``dropout`` and
    ``warm_start``) plus ``alphas``, ``l1s``, ``dropouts``, ``cv`` (int: *shuffled*
    ``StratifiedKFold`` seeded by ``random_state``, ``KFold`` for multilabel targets; or any
    splitter or iterable of splits), ``scoring`` (None: accuracy) and ``n_seeds``.

    Unshuffled folds fail whenever the rows are ordered (by input, by class, by time of
    collection): each fold then tests on a region or a class mix its training never saw, which
    is why an integer ``cv`` shuffles here (see :mod:`overfitlab.estimators.cv`). Every network
    has an output for every class of ``y``, also when a fold's training rows lack one.

    Attributes are those of ``RegularizedMLPRegressorCV``, plus ``classes_``.
    """

    _estimator_class = RegularizedMLPClassifier

    def predict_proba(self, X):
        """The refitted best estimator's class probabilities."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(X)

    def predict_log_proba(self, X):
        """The refitted best estimator's log-probabilities."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_log_proba(X)
