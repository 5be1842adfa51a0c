"""Early stopping on the course's 10 noisy points of y = x^2, two ways.

The 1-20-1 tanh network is trained for ``max_iter`` full-batch Adam iterations from ``seeds``
initialisations at once, recording train and test MSE after every iteration. Then:

* the course's way: the iteration n* that minimises the (median) test curve is read off, and the
  networks are retrained from the same initial weights for exactly n* iterations. Because the
  test set chose n*, the test error at n* is an optimistic estimate: the test set was peeked at.
* the honest way: a validation split of the training points is held out; training stops when the
  validation R^2 has not improved for ``patience`` iterations and the best-validation weights are
  restored (scikit-learn's ``early_stopping``). The test set is used once, at the end.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import jax
import numpy as np

from overfitlab.engine.train import make_hyper, stack_networks, train_grid
from overfitlab.experiments._course import (NetworkConfig, course_spec, networks_footprint,
                                           predict, require)
from overfitlab.experiments.budget import Footprint
from overfitlab.experiments.params import param
from overfitlab.experiments.base import Answer, Experiment, Progress, Result, band, no_progress


@dataclass(frozen=True)
class EarlyStoppingConfig(NetworkConfig):
    """Course protocol with its L2 penalty (see :class:`NetworkConfig`) plus stopping parameters."""

    tol: float = param(1e-7, "improvement of the validation R^2 that resets the patience "
                       "(and the estimator's tol in the course's refit)", low=0.0, high=1.0)
    validation_fraction: float = param(0.2, "share of the training points held out for "
                                       "validation-based early stopping", low=0.0, high=1.0,
                                       low_open=True, high_open=True)
    patience: int = param(1000, "iterations without validation improvement before stopping",
                          low=1)

    QUICK = {"max_iter": 4000, "seeds": 8, "patience": 300}

    def validate(self) -> None:
        super().validate()
        require(
            (self.n_train >= 3, f"n_train must be >= 3 (a validation split is held out), "
                                f"got {self.n_train}"),
            (round(self.validation_fraction * self.n_train) >= 1,
             "validation_fraction * n_train must give at least 1 point; increase "
             "validation_fraction or n_train"),
        )

    def footprint(self) -> Footprint:
        """Three trainings of ``seeds`` networks; the long one records three curves."""
        return super().footprint() + networks_footprint(
            self, 3 * self.seeds, curve_points=3 * self.max_iter, grid_points=2 * 201)


def _squeeze_config(params):
    """Drop the configuration axis (C = 1) of train_grid's output."""
    return jax.tree_util.tree_map(lambda a: a[:, 0], params)


def _convergence_warning(config: EarlyStoppingConfig, data, max_iter: int) -> str:
    """Fit the course's estimator with ``max_iter``; the ConvergenceWarning text ('' if none)."""
    from sklearn.exceptions import ConvergenceWarning

    from overfitlab.estimators import RegularizedMLPRegressor

    reg = RegularizedMLPRegressor((config.hidden_units,), config.activation,
                                  alpha=config.alpha, learning_rate_init=config.learning_rate,
                                  tol=config.tol, max_iter=max_iter,
                                  random_state=config.seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        reg.fit(data.X_train, data.y_train)
    texts = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    return texts[0] if texts else ""


def run(config: EarlyStoppingConfig, progress: Progress = no_progress) -> Result:
    """Train, locate the best iteration, retrain to it, and compare with validation stopping."""
    start = time.perf_counter()
    data = config.data()
    key = jax.random.PRNGKey(config.seed)
    hyper = stack_networks([make_hyper(config.alpha,
                                     learning_rate=config.learning_rate)])
    S, T = config.seeds, config.max_iter

    progress(0.02, f"training {S} networks x {T} iterations")
    long = train_grid(course_spec(config, T), key, S, hyper, data.X_train, data.y_train,
                      data.X_test, data.y_test, record="every")
    train_curve = np.asarray(long.train_loss[:, 0], np.float64)  # (S, T)
    test_curve = np.asarray(long.eval_loss[:, 0], np.float64)
    steps = long.record_steps

    # The course's early stopping: the minimum of the test curve, then retrain to it.
    best_per_seed = steps[np.argmin(test_curve, axis=1)]
    test_at_best_per_seed = test_curve.min(axis=1)
    median_test = np.median(test_curve, axis=0)
    n_star = int(steps[np.argmin(median_test)])
    progress(0.45, f"retraining to exactly {n_star} iterations")
    refit = train_grid(course_spec(config, n_star), key, S, hyper, data.X_train,
                       data.y_train)
    refit_params = _squeeze_config(refit.params)
    refit_test = np.mean((predict(refit_params, data.X_test, config.activation)
                          - data.y_test[None]) ** 2, axis=1)
    retrain_gap = float(np.max(np.abs(refit_test - test_curve[:, n_star - 1])))

    # The honest way: stop on a validation split of the training data, restore the best weights.
    progress(0.6, "early stopping on a validation split")
    rng = np.random.default_rng(config.seed)
    n_val = max(1, round(config.validation_fraction * config.n_train))
    perm = rng.permutation(config.n_train)
    val_idx, fit_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    hyper_fit = stack_networks([make_hyper(config.alpha,
                                         learning_rate=config.learning_rate)])
    honest = train_grid(
        course_spec(config, T, tol=0.0, n_iter_no_change=config.patience, early_stopping=True),
        key, S, hyper_fit, data.X_train[fit_idx], data.y_train[fit_idx],
        X_val=data.X_train[val_idx], y_val=data.y_train[val_idx])
    honest_params = _squeeze_config(honest.params)
    honest_iter = np.asarray(honest.best_iter[:, 0])
    honest_test = np.mean((predict(honest_params, data.X_test, config.activation)
                           - data.y_test[None]) ** 2, axis=1)

    progress(0.8, f"refitting the course's estimator with max_iter={n_star}")
    warning_text = _convergence_warning(config, data, n_star)

    grid = np.linspace(-1, 1, 201, dtype=np.float32)[:, None]
    long_params = _squeeze_config(long.params)
    fits_long = predict(long_params, grid, config.activation)
    fits_refit = predict(refit_params, grid, config.activation)

    from overfitlab.plots.early_stopping import curves_figure, data_figure, refit_figure

    figures = {
        "data.png": data_figure(data, grid[:, 0], fits_long, T),
        "learning_curves.png": curves_figure(steps, train_curve, test_curve, data.bayes_mse,
                                             n_star, best_per_seed),
        "refit.png": refit_figure(data, grid[:, 0], fits_long, fits_refit, T, n_star),
    }
    off = lambda fits: float(np.median(np.mean((fits - data.truth(grid)) ** 2, axis=-1)))  # noqa: E731
    captions = {
        "data.png": f"The {S} networks after {T} iterations (median and 10-90 % band) against the "
                    f"{config.n_train} noisy training points and x²: look at how closely they "
                    f"follow the noise (median training MSE {np.median(train_curve[:, -1]):.2g}, "
                    f"noise variance {data.bayes_mse:g}).",
        "learning_curves.png": f"Train and test MSE against iteration over {S} initialisations: "
                               f"the median test MSE is lowest at iteration {n_star} "
                               f"({median_test.min():.4f}) and ends at {median_test[-1]:.4f}; "
                               f"the training MSE ends at {np.median(train_curve[:, -1]):.2g} "
                               f"against the dotted noise floor {data.bayes_mse:g}.",
        "refit.png": f"Fits after {T} iterations and after retraining to iteration {n_star}: "
                     f"compare their distance to x² (median squared distance "
                     f"{off(fits_refit):.2g} retrained, {off(fits_long):.2g} after {T}).",
    }

    final_train, final_test = train_curve[:, -1], test_curve[:, -1]
    b = lambda v: band(v)  # noqa: E731
    tr_m, tr_lo, tr_hi = b(final_train)
    te_m, te_lo, te_hi = b(final_test)
    bi_m, bi_lo, bi_hi = b(best_per_seed)
    tb_m, tb_lo, tb_hi = b(test_at_best_per_seed)
    hi_m, hi_lo, hi_hi = b(honest_iter)
    ht_m, ht_lo, ht_hi = b(honest_test)
    rf_m = float(np.median(refit_test))
    gap = float(ht_m - tb_m)
    answers = [
        Answer("bayes_error", "What prediction error can the best model hope for?",
               data.bayes_mse,
               f"The targets carry Gaussian noise of standard deviation {config.noise}, "
               f"independent of x, so even the true function f(x) has an expected squared "
               f"error of {data.bayes_mse:g} (the noise variance). Test MSE below it on new "
               f"data is luck, and training MSE below it is memorised noise."),
        Answer(f"train_mse_{T}", f"Training MSE after {T} iterations?", tr_m,
               f"Median over {S} initialisations {tr_m:.4f}, far below the noise variance "
               f"{data.bayes_mse:g}: with {3 * config.hidden_units + 1} parameters for "
               f"{config.n_train} points the network fits the noise.", tr_lo, tr_hi),
        Answer(f"test_mse_{T}", f"Test MSE after {T} iterations?", te_m,
               f"Median {te_m:.4f} against the best possible {data.bayes_mse:g}: the gap "
               f"between training and test error is overfitting.", te_lo, te_hi),
        Answer("best_iteration", "Which iteration minimises the test error?", bi_m,
               f"Per network, the minimum of the test curve falls at iteration {bi_m:.0f} "
               f"(median; 10-90 % {bi_lo:.0f}-{bi_hi:.0f}); the median curve's minimum is at "
               f"{n_star}. Before it the network underfits, after it it overfits.",
               bi_lo, bi_hi),
        Answer("test_mse_at_best_iteration", "Test MSE at the best iteration?", tb_m,
               f"Median {tb_m:.4f} at each network's own best iteration; retraining from the "
               f"same initial weights for exactly {n_star} iterations gives {rf_m:.4f} "
               f"(identical to the long run at that iteration within {retrain_gap:.1e}: "
               f"training is deterministic given the seed).", tb_lo, tb_hi),
        Answer("convergence_warning", "What does scikit-learn's warning say, and what to do?",
               warning_text or "no warning",
               (f"Refitting with max_iter={n_star} (early stopping by hand) stops the optimizer "
                f"while the training loss still improves by more than tol={config.tol:g}, so "
                "the estimator warns that it has not converged. Here that is the point: "
                "converging means fitting the noise. Keep the warning in mind rather than "
                "raising max_iter: silence it knowingly (warnings.filterwarnings) or let "
                "early_stopping=True choose the stopping point on a validation split.")
               if warning_text else
               (f"Refitting with max_iter={n_star} did not raise a ConvergenceWarning: the "
                f"training loss had already stopped improving by tol={config.tol:g}.")),
        Answer("early_stopping_validation",
               "Which iteration does a validation split pick, and how far is it from the "
               "test-picked one?", hi_m,
               f"Holding out {n_val} of the {config.n_train} training points and stopping when "
               f"validation R^2 has not improved for {config.patience} iterations picks "
               f"iteration {hi_m:.0f} (median) with test MSE {ht_m:.4f}, versus {tb_m:.4f} when "
               f"the test set picks the iteration: a gap of {gap:+.4f}. Choosing the iteration "
               "on the test set peeks at it, so its error is optimistic; the validation split "
               "is honest but trains on fewer points and a tiny validation set is noisy.",
               hi_lo, hi_hi),
    ]
    metrics = {
        "bayes_mse": data.bayes_mse, "train_mse_final": tr_m, "test_mse_final": te_m,
        "best_iteration_median": bi_m, "best_iteration_of_median_curve": n_star,
        "test_mse_at_best_median": tb_m, "refit_test_mse_median": rf_m,
        "refit_vs_curve_max_abs_diff": retrain_gap,
        "validation_best_iteration_median": hi_m, "validation_test_mse_median": ht_m,
        "validation_minus_test_picked_mse": gap,
        "convergence_warning_raised": float(bool(warning_text)),
    }
    arrays = {"iterations": steps, "train_mse": train_curve.astype(np.float32),
              "test_mse": test_curve.astype(np.float32), "best_iteration": best_per_seed,
              "grid": grid[:, 0], "fits_final": fits_long, "fits_refit": fits_refit,
              "X_train": data.X_train[:, 0], "y_train": data.y_train,
              "X_test": data.X_test[:, 0], "y_test": data.y_test}
    progress(1.0, "done")
    return Result("early-stopping", config, metrics, answers, figures, arrays,
                  elapsed_s=time.perf_counter() - start, captions=captions)


EXPERIMENT = Experiment(
    name="early-stopping",
    description="Overfit 20 tanh units on 10 noisy points of x^2; find and refit the best "
                "iteration; compare with validation-based early stopping.",
    config_class=EarlyStoppingConfig, run=run, order=10)
