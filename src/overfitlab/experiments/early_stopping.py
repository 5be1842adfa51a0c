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

import jax
import numpy as np

from overfitlab.engine import threefry
from overfitlab.engine.train import make_hyper, stack_networks, train_grid
from overfitlab.experiments.configs.early_stopping import EarlyStoppingConfig
from overfitlab.experiments._course import course_spec, predict
from overfitlab.experiments._verdicts import (alive_or_raise, curve_story, diverged_note,
                                              edge_advice, fit_regime, minimum_at_edge, relation,
                                              training_sentence, unstable)
from overfitlab.experiments.base import Answer, Experiment, Progress, Result, no_progress
from overfitlab.progress import scaled
from overfitlab.stats import float_band, integer_band, without_diverged


def _squeeze_config(params):
    """Drop the configuration axis (C = 1) of train_grid's output."""
    return jax.tree_util.tree_map(lambda a: a[:, 0], params)


def _convergence_warning(config: EarlyStoppingConfig, data, max_iter: int) -> str:
    """Fit the course's estimator with ``max_iter``; the ConvergenceWarning text ('' if none).

    A fit whose weights became non-finite is refused by the estimator (as scikit-learn does):
    its message is returned instead."""
    from sklearn.exceptions import ConvergenceWarning

    from overfitlab.estimators import RegularizedMLPRegressor

    reg = RegularizedMLPRegressor((config.hidden_units,), config.activation,
                                  alpha=config.alpha, learning_rate_init=config.learning_rate,
                                  tol=config.tol, max_iter=max_iter,
                                  random_state=config.seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            reg.fit(data.X_train, data.y_train)
        except ValueError as exc:
            return str(exc)
    texts = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    return texts[0] if texts else ""


def _test_mse(params, data, activation: str) -> np.ndarray:
    """Test MSE of networks stacked along the seed axis."""
    return np.mean((predict(params, data.X_test, activation) - data.y_test[None]) ** 2, axis=1)


def run(config: EarlyStoppingConfig, progress: Progress = no_progress) -> Result:
    """Train, locate the best iteration, retrain to it, and compare with validation stopping."""
    start = time.perf_counter()
    data = config.data()
    key = threefry.prng_key(config.seed)
    hyper = stack_networks([make_hyper(config.alpha, learning_rate=config.learning_rate)])
    S, T = config.seeds, config.max_iter

    progress(0.02, f"training {S} networks x {T} iterations")
    long = train_grid(course_spec(config, T), key, S, hyper, data.X_train, data.y_train,
                      data.X_test, data.y_test, record="every",
                      progress=scaled(progress, 0.02, 0.45))
    diverged = long.diverged[:, 0]
    alive = alive_or_raise(diverged, config.learning_rate)
    train_curve = without_diverged(long.train_loss[:, 0], diverged)  # (S, T), NaN rows: diverged
    test_curve = without_diverged(long.eval_loss[:, 0], diverged)
    steps = long.record_steps

    # The course's early stopping: the minimum of the test curve, then retrain to it.
    best_per_seed = np.where(alive, steps[np.argmin(np.nan_to_num(test_curve, nan=np.inf),
                                                    axis=1)], np.nan)
    test_at_best_per_seed = np.nanmin(np.where(alive[:, None], test_curve, np.inf), axis=1)
    test_at_best_per_seed[~alive] = np.nan
    median_test = np.nanmedian(test_curve[alive], axis=0)
    title, i_star, rise = curve_story(median_test, steps)
    n_star = int(steps[i_star])
    progress(0.45, f"retraining to exactly {n_star} iterations")
    refit = train_grid(course_spec(config, n_star), key, S, hyper, data.X_train,
                       data.y_train, progress=scaled(progress, 0.45, 0.55))
    refit_params = _squeeze_config(refit.params)
    refit_test = without_diverged(_test_mse(refit_params, data, config.activation),
                                  refit.diverged[:, 0])
    retrain_gap = float(np.nanmax(np.abs(refit_test - test_curve[:, n_star - 1])))

    # The honest way: stop on a validation split of the training data, restore the best weights.
    progress(0.6, "early stopping on a validation split")
    rng = np.random.default_rng(config.seed)
    n_val = max(1, round(config.validation_fraction * config.n_train))
    perm = rng.permutation(config.n_train)
    val_idx, fit_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    honest = train_grid(
        course_spec(config, T, tol=0.0, n_iter_no_change=config.patience, early_stopping=True),
        key, S, hyper, data.X_train[fit_idx], data.y_train[fit_idx],
        X_val=data.X_train[val_idx], y_val=data.y_train[val_idx],
        progress=scaled(progress, 0.6, 0.8))
    honest_diverged = honest.diverged[:, 0]
    honest_params = _squeeze_config(honest.params)
    honest_iter = without_diverged(honest.best_iter[:, 0], honest_diverged)
    honest_test = without_diverged(_test_mse(honest_params, data, config.activation),
                                   honest_diverged)

    progress(0.8, f"refitting the course's estimator with max_iter={n_star}")
    warning_text = _convergence_warning(config, data, n_star)

    grid = np.linspace(-1, 1, 201, dtype=np.float32)[:, None]
    long_params = _squeeze_config(long.params)
    fits_long = without_diverged(predict(long_params, grid, config.activation), diverged)
    fits_refit = without_diverged(predict(refit_params, grid, config.activation),
                                  refit.diverged[:, 0])

    final_train, final_test = train_curve[:, -1], test_curve[:, -1]
    tr_m, tr_lo, tr_hi = float_band(final_train)
    te_m, te_lo, te_hi = float_band(final_test)
    bi_m, bi_lo, bi_hi = integer_band(best_per_seed)
    tb_m, tb_lo, tb_hi = float_band(test_at_best_per_seed)
    hi_m, hi_lo, hi_hi = integer_band(honest_iter)
    ht_m, ht_lo, ht_hi = float_band(honest_test)
    rf_m = float(np.nanmedian(refit_test))
    gap = float(ht_m - tb_m)
    noise = data.bayes_mse
    regime = fit_regime(tr_m, te_m, noise)
    n_div = int(diverged.sum())
    lost = diverged_note(n_div, S)
    # At the edge when the median curve's minimum, or the median network's, is the first or the
    # last iteration: the best stopping point may lie beyond the iterations tried.
    at_edge = minimum_at_edge(i_star, T) or bi_m in (1, T)
    edge_index = T - 1 if bi_m == T else 0 if bi_m == 1 else i_star
    widen = edge_advice(edge_index, T, "a smaller --set learning_rate",
                        f"--set max_iter={2 * T}")

    from overfitlab.plots.early_stopping import curves_figure, data_figure, refit_figure

    lost_title = f" ({n_div} diverged left out)" if n_div else ""
    growth = unstable(np.nanmedian(train_curve[alive], axis=0))
    if growth:
        title = f"Unstable training: the training error rose {growth:.3g}-fold"
    figures = {
        "data.png": data_figure(data, grid[:, 0], fits_long, T,
                                f"After {T} iterations: "
                                + ("unstable training" if growth else f"the network {regime}")
                                + lost_title),
        "learning_curves.png": curves_figure(steps, train_curve, test_curve, noise, n_star,
                                             best_per_seed[alive], title + lost_title),
        "refit.png": refit_figure(data, grid[:, 0], fits_long, fits_refit, T, n_star),
    }
    off = lambda fits: float(np.nanmedian(np.mean((fits - data.truth(grid)) ** 2, axis=-1)))  # noqa: E731
    captions = {
        "data.png": f"The {int(alive.sum())} networks after {T} iterations (median and 10-90 % "
                    f"band) against the {config.n_train} noisy training points and x²: look at "
                    f"how closely they follow the noise (median training MSE {tr_m:.2g}, noise "
                    f"variance {noise:g}).",
        "learning_curves.png": f"Train and test MSE against iteration over {int(alive.sum())} "
                               f"initialisations: the median test MSE is lowest at iteration "
                               f"{n_star} ({median_test[i_star]:.4f}) and ends at "
                               f"{median_test[-1]:.4f}; the training MSE ends at {tr_m:.2g} "
                               f"against the dotted noise floor {noise:g}.",
        "refit.png": f"Fits after {T} iterations and after retraining to iteration {n_star}: "
                     f"compare their distance to x² (median squared distance "
                     f"{off(fits_refit):.2g} retrained, {off(fits_long):.2g} after {T}).",
    }

    train_text = training_sentence(tr_m, noise, 3 * config.hidden_units + 1, config.n_train)
    if growth:
        test_text = (f"training is unstable (see the training MSE), so the gap to the training "
                     f"error ({te_m - tr_m:.4g}) says nothing about over- or underfitting.")
    elif regime == "overfits":
        test_text = (f"the test error exceeds the training error by {te_m - tr_m:.4f}: the "
                     f"network overfits.")
    elif regime == "underfits":
        test_text = "both errors are high: the network underfits."
    else:
        test_text = f"the test error is {relation(te_m, noise)} the best possible."
    shaky = (f" Training is unstable: the median training error rose to {growth:.3g} times its "
             f"first value; lower the learning rate (now {config.learning_rate:g})."
             if growth else "")
    if at_edge or growth:
        story = ""
    elif rise > 0.05:
        story = (f" Before it the test error falls (underfitting), after it the test error "
                 f"rises by {100 * rise:.0f} % (overfitting).")
    else:
        story = f" After it the test error rises by only {100 * rise:.1f} %."
    answers = [
        Answer("bayes_error", "What prediction error can the best model hope for?", noise,
               f"The targets carry Gaussian noise of standard deviation {config.noise}, "
               f"independent of x, so even the true function f(x) has an expected squared "
               f"error of {noise:g} (the noise variance). Test MSE below it on new "
               f"data is luck, and training MSE below it is memorised noise."),
        Answer(f"train_mse_{T}", f"Training MSE after {T} iterations?", tr_m,
               f"Median over {int(alive.sum())} initialisations {tr_m:.4f}, {train_text}{shaky}"
               f"{lost}",
               tr_lo, tr_hi),
        Answer(f"test_mse_{T}", f"Test MSE after {T} iterations?", te_m,
               f"Median {te_m:.4f} against the best possible {noise:g}; {test_text}{lost}",
               te_lo, te_hi),
        Answer("best_iteration", "Which iteration minimises the test error?", bi_m,
               f"Per network, the minimum of the test curve falls at iteration {bi_m} "
               f"(median; 10-90 % {bi_lo}-{bi_hi}); the median curve's minimum is at "
               f"{n_star}.{story}{shaky}{widen}{lost}", bi_lo, bi_hi, at_edge=at_edge),
        Answer("test_mse_at_best_iteration", "Test MSE at the best iteration?", tb_m,
               f"Median {tb_m:.4f} at each network's own best iteration; retraining from the "
               f"same initial weights for exactly {n_star} iterations gives {rf_m:.4f} "
               f"(identical to the long run at that iteration within {retrain_gap:.1e}: "
               f"training is deterministic given the seed). The test set chose the iteration, "
               f"so this error is optimistic.", tb_lo, tb_hi),
        Answer("convergence_warning", "What does scikit-learn's warning say, and what to do?",
               warning_text or "no warning",
               (f"Refitting with max_iter={n_star} (early stopping by hand) stops the optimizer "
                f"while the training loss still improves by more than tol={config.tol:g}, so "
                "the estimator warns that it has not converged. Here that is the point: "
                "converging means fitting the noise. Keep the warning in mind rather than "
                "raising max_iter: silence it knowingly (warnings.filterwarnings) or let "
                "early_stopping=True choose the stopping point on a validation split.")
               if warning_text.startswith("Stochastic Optimizer") else
               (f"Refitting with max_iter={n_star} failed: {warning_text}") if warning_text else
               (f"Refitting with max_iter={n_star} did not raise a ConvergenceWarning: the "
                f"training loss had already stopped improving by tol={config.tol:g}.")),
        Answer("early_stopping_validation",
               "Which iteration does a validation split pick, and how far is it from the "
               "test-picked one?", hi_m,
               f"Holding out {n_val} of the {config.n_train} training points and stopping when "
               f"validation R^2 has not improved for {config.patience} iterations picks "
               f"iteration {hi_m} (median) with test MSE {ht_m:.4f}, versus {tb_m:.4f} when "
               f"the test set picks the iteration: a gap of {gap:+.4f}. Choosing the iteration "
               "on the test set peeks at it, so its error is optimistic; the validation split "
               "is honest but trains on fewer points and a tiny validation set is noisy."
               + diverged_note(int(honest_diverged.sum()), S), hi_lo, hi_hi),
    ]
    metrics = {
        "bayes_mse": noise, "train_mse_final": tr_m, "test_mse_final": te_m,
        "best_iteration_median": bi_m, "best_iteration_of_median_curve": n_star,
        "best_iteration_at_edge": int(at_edge),
        "test_mse_at_best_median": tb_m, "refit_test_mse_median": rf_m,
        "refit_vs_curve_max_abs_diff": retrain_gap,
        "validation_best_iteration_median": hi_m, "validation_test_mse_median": ht_m,
        "validation_minus_test_picked_mse": gap,
        "convergence_warning_raised": int(bool(warning_text)),
        "diverged": n_div, "diverged_refit": int(refit.diverged.sum()),
        "diverged_validation": int(honest_diverged.sum()),
    }
    arrays = {"iterations": steps, "train_mse": train_curve.astype(np.float32),
              "test_mse": test_curve.astype(np.float32), "best_iteration": best_per_seed,
              "diverged": diverged, "grid": grid[:, 0], "fits_final": fits_long,
              "fits_refit": fits_refit, "X_train": data.X_train[:, 0], "y_train": data.y_train,
              "X_test": data.X_test[:, 0], "y_test": data.y_test}
    progress(1.0, "done")
    return Result("early-stopping", config, metrics, answers, figures, arrays,
                  elapsed_s=time.perf_counter() - start, captions=captions)


EXPERIMENT = Experiment(
    name="early-stopping",
    description="Overfit 20 tanh units on 10 noisy points of x^2; find and refit the best "
                "iteration; compare with validation-based early stopping.",
    config_class=EarlyStoppingConfig, run=run, order=10)
