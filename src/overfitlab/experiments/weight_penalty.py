"""weight-penalty: L2 (ridge) and L1 (LASSO) penalties on the course's 1-20-1 tanh network.

Two sweeps, trained together in one compiled call over (seed, coefficient) (see
:mod:`._sweeps`):

* L2: alpha = 0 and ``n_alphas`` values log-uniform in [alpha_min, alpha_max]. The objective is
  scikit-learn's, J = 1/(2n) sum (y - f)^2 + alpha/(2n) sum W^2, so the backward pass only gains
  dJ/dW += alpha W / n: each step shrinks the weights (weight decay). The best alpha minimises
  the median test MSE over seeds; each seed's own minimiser gives the 10-90 % band.
* L1: ``n_l1`` values log-uniform in [l1_min, l1_max], no L2 (alpha = 0); the penalty
  l1/n sum |W| is applied by soft-thresholding after each Adam step, so weights reach exactly 0.

The experiment also checks the weight-decay form of the L2 gradient on the trained networks:
one plain gradient step (SGD, no momentum, learning rate 1) with and without alpha differs, for
every weight, by exactly -alpha W / n and not at all for the biases.
"""
from __future__ import annotations

import time

import jax
import numpy as np

from overfitlab.engine import threefry
from overfitlab.engine.train import TrainSpec, make_hyper, stack_networks, train
from overfitlab.experiments.configs.weight_penalty import WeightPenaltyConfig
from overfitlab.experiments._sweeps import SweepSetup, best_index, per_seed_best, predict, sweeps_of
from overfitlab.stats import float_band, geometric_band, integer_band, without_diverged
from overfitlab.experiments._cv import cv_choice
from overfitlab.experiments._verdicts import (CLOSE, alive_or_raise, diverged_note, edge_advice,
                                              fit_regime, minimum_at_edge)
from overfitlab.experiments.base import Answer, Experiment, Progress, Result, no_progress
from overfitlab.progress import scaled


def weight_decay_check(setup: SweepSetup, params: dict, alpha: float, X, y) -> tuple[float, float]:
    """Compare one engine gradient step with and without the L2 term, on stacked ``params``.

    With SGD (no momentum) at learning rate 1 an update is minus the gradient, so
    W(alpha) - W(0) = -alpha W / n for every weight matrix and b(alpha) - b(0) = 0. Returns the
    largest deviation from that, relative to max |alpha W / n|, and the largest bias difference.
    """
    n_nets = params["intercepts"][0].shape[0]
    spec = TrainSpec((1, setup.hidden_units, 1), setup.activation, "sgd", max_iter=1, tol=None,
                     momentum=0.0, nesterovs_momentum=False, chunk=1)
    hyper = stack_networks([make_hyper(alpha=a, learning_rate=1.0)
                          for a in (alpha, 0.0) for _ in range(n_nets)])
    twice = jax.tree_util.tree_map(lambda a: np.concatenate([a, a]), params)
    keys = threefry.split(threefry.prng_key(0), 2 * n_nets)
    out = train(spec, twice, keys, hyper, X, y)
    stepped = jax.tree_util.tree_map(np.asarray, out.params)
    decay = [alpha * W.astype(np.float64) / len(X) for W in params["coefs"]]
    diffs = [W[:n_nets].astype(np.float64) - W[n_nets:] for W in stepped["coefs"]]
    scale = max(float(np.max(np.abs(d))) for d in decay)
    err = max(float(np.max(np.abs(d + e))) for d, e in zip(diffs, decay)) / scale
    bias = max(float(np.max(np.abs(b[:n_nets] - b[n_nets:]))) for b in stepped["intercepts"])
    return err, bias


def _spread(name: str, seeds: int, med: float, lo: float, hi: float) -> str:
    """One sentence on how much each initialisation's own best coefficient varies."""
    if lo == hi:
        return (f"All {seeds} initialisations have their own minimum at the same grid value "
                f"{name} = {med:.3g}.")
    return (f"Each initialisation's own best {name} differs: median {med:.3g}, 10-90 % "
            f"{lo:.3g}-{hi:.3g}.")


def run(config: WeightPenaltyConfig, progress: Progress = no_progress) -> Result:
    """Sweep alpha and l1, pick the best of each, and compare the weights they produce."""
    start = time.perf_counter()
    setup = config.setup()
    data = setup.data()
    S, noise = config.seeds, data.bayes_mse
    progress(0.02, f"training ({S} + {config.cv_seeds} x {config.cv_folds} folds) seeds x "
                   f"({config.n_alphas + 1} alphas + {config.n_l1} l1) networks x "
                   f"{config.max_iter} iterations")
    sweeps = sweeps_of(config, scaled(progress, 0.02, 0.9))
    l2, l1 = sweeps.l2, sweeps.l1
    all_diverged = np.concatenate([l2.diverged.ravel(), l1.diverged.ravel()])
    alive_or_raise(all_diverged, config.learning_rate)
    n_div = int(all_diverged.sum())
    lost = diverged_note(n_div, all_diverged.size)
    progress(0.9, "analysis and figures")

    # L2: the test-picked alpha (the course's way; index 0 is alpha = 0, the reference) and the
    # cross-validated one (training points only).
    alphas = l2.values
    ib = best_index(l2.test_mse, first=1)
    alpha_star = float(alphas[ib])
    seed_best = per_seed_best(alphas, l2.test_mse, first=1)
    ba_med, ba_lo, ba_hi = geometric_band(seed_best)
    te_m, te_lo, te_hi = float_band(l2.test_mse[:, ib])
    tr_m, _, _ = float_band(l2.train_mse[:, ib])
    un_te, un_te_lo, un_te_hi = float_band(l2.test_mse[:, 0])
    un_tr, _, _ = float_band(l2.train_mse[:, 0])
    small_te, _, _ = float_band(l2.test_mse[:, 1])
    big_te, _, _ = float_band(l2.test_mse[:, -1])
    gain = float(np.nanmedian(l2.test_mse[:, 0] - l2.test_mse[:, ib]))
    alpha_edge = minimum_at_edge(ib - 1, len(alphas) - 1)
    alpha_widen = edge_advice(ib - 1, len(alphas) - 1,
                              f"--set alpha_min={config.alpha_min / 100:g}",
                              f"--set alpha_max={config.alpha_max * 100:g}")
    ic, cv_curve_l2 = cv_choice(l2.cv_mse[:, 1:])
    ic += 1
    alpha_cv = float(alphas[ic])
    cv_te_m, cv_te_lo, cv_te_hi = float_band(l2.test_mse[:, ic])
    opt_m, opt_lo, opt_hi = float_band(l2.test_mse[:, ic] - l2.test_mse[:, ib])
    cv_edge = minimum_at_edge(ic - 1, len(alphas) - 1)
    cv_widen = edge_advice(ic - 1, len(alphas) - 1,
                           f"--set alpha_min={config.alpha_min / 100:g}",
                           f"--set alpha_max={config.alpha_max * 100:g}")

    # L1: best coefficient (test-picked and cross-validated) and exact zeros.
    l1_values = l1.values
    jb = best_index(l1.test_mse)
    l1_star = float(l1_values[jb])
    l1_seed_best = per_seed_best(l1_values, l1.test_mse)
    bl_med, bl_lo, bl_hi = geometric_band(l1_seed_best)
    zeros = without_diverged(np.sum(l1.weights() == 0, axis=-1), l1.diverged)  # (S, C)
    n_weights = l1.weights().shape[-1]
    z_max, z_max_lo, z_max_hi = integer_band(zeros[:, -1])
    z_best, _, _ = integer_band(zeros[:, jb])
    l1_te, l1_te_lo, l1_te_hi = float_band(l1.test_mse[:, jb])
    l1_max_te, _, _ = float_band(l1.test_mse[:, -1])
    l1_edge = minimum_at_edge(jb, len(l1_values))
    l1_widen = edge_advice(jb, len(l1_values), f"--set l1_min={config.l1_min / 100:g}",
                           f"--set l1_max={config.l1_max * 100:g}")
    jc, cv_curve_l1 = cv_choice(l1.cv_mse)
    l1_cv = float(l1_values[jc])
    cv_l1_te, _, _ = float_band(l1.test_mse[:, jc])
    l1_cv_widen = edge_advice(jc, len(l1_values), f"--set l1_min={config.l1_min / 100:g}",
                              f"--set l1_max={config.l1_max * 100:g}")

    w_l2 = l2.weights()[:, ib]  # (S, n_weights)
    w_l1 = l1.weights()[:, jb]
    w_un = l2.weights()[:, 0]
    l2_zeros = int(np.sum(w_l2 == 0))
    med_abs = {k: float(np.median(np.abs(w))) for k, w in
               (("none", w_un), ("l2", w_l2), ("l1", w_l1))}

    decay_err, bias_diff = weight_decay_check(setup, l2.params_at(ib), alpha_star,
                                              data.X_train, data.y_train)

    grid = np.linspace(-1, 1, 201, dtype=np.float32)[:, None]
    fit_indices = {"smallest": 1, "best": ib, "largest": len(alphas) - 1}
    fits = {f"{name}: alpha = {alphas[i]:.3g}":
            without_diverged(predict(l2.params_at(i), grid, config.activation), l2.diverged[:, i])
            for name, i in fit_indices.items()}
    big_fit = np.nanmedian(list(fits.values())[-1], axis=0)
    flatness = float(np.std(big_fit) / np.std(data.truth(grid[:, 0])))

    from overfitlab.plots import penalty as plots

    low_regime = fit_regime(float(np.nanmedian(l2.train_mse[:, 1])), small_te, noise)
    high_regime = fit_regime(float(np.nanmedian(l2.train_mse[:, -1])), big_te, noise)
    sweep_title = (f"Smallest alpha: {low_regime}; largest alpha: {high_regime}"
                   + (f" ({n_div} diverged left out)" if n_div else ""))
    figures = {
        "l2_sweep.png": plots.l2_sweep_figure(
            alphas[1:], l2.train_mse[:, 1:], l2.test_mse[:, 1:], l2.test_mse[:, 0], noise,
            alpha_star, seed_best, sweep_title, np.nanmean(l2.cv_mse[:, 1:], axis=2), alpha_cv),
        "l2_fits.png": plots.fits_figure(data, grid[:, 0], fits),
        "l1_sweep.png": plots.l1_sweep_figure(l1_values, l1.train_mse, l1.test_mse, zeros,
                                              n_weights, l2.test_mse[:, 0], noise, l1_star,
                                              np.nanmean(l1.cv_mse, axis=2), l1_cv),
        "weight_histograms.png": plots.weight_histogram_figure(
            {"no penalty": w_un, f"L2, alpha = {alpha_star:.3g}": w_l2,
             f"L1, l1 = {l1_star:.3g}": w_l1},
            f"Weights at the best coefficients: {l2_zeros} exactly 0 with L2, "
            f"{int(np.sum(w_l1 == 0))} with L1 (all {S} seeds)"),
    }
    captions = {
        "l2_sweep.png": f"Train and test MSE against alpha over {S} initialisations (left) and the "
                        f"test error near its minimum with the cross-validated error of the "
                        f"training points (right): the median test MSE is lowest at alpha = "
                        f"{alpha_star:.3g} ({te_m:.4f}, {un_te:.4f} without penalty), the "
                        f"cross-validation chooses alpha = {alpha_cv:.3g} without seeing the "
                        f"test set.",
        "l2_fits.png": "The fitted curves (median and 10-90 % band) at the smallest, the best "
                       "and the largest alpha: compare how closely each follows the training "
                       f"points and x² (test MSE {small_te:.4f} at alpha = {alphas[1]:.3g}, "
                       f"{te_m:.4f} at {alpha_star:.3g}, {big_te:.4f} at {alphas[-1]:.3g}).",
        "l1_sweep.png": f"The L1 sweep: errors against l1 (left, centre), lowest median test MSE "
                        f"{l1_te:.4f} at l1 = {l1_star:.3g} (cross-validation: {l1_cv:.3g}), and "
                        f"the number of weights that are exactly 0 (right), {z_best} of "
                        f"{n_weights} there.",
        "weight_histograms.png": f"Weight magnitudes on a log scale, all {S} seeds: median |w| "
                                 f"{med_abs['none']:.2g} without penalty, {med_abs['l2']:.2g} "
                                 f"with L2 ({l2_zeros} exactly 0) and {med_abs['l1']:.2g} with "
                                 f"L1, whose exact zeros stand in the black bar at the left.",
    }

    n = config.n_train
    small_effect = ("changes little" if abs(small_te - un_te) <= CLOSE * un_te
                    else "already changes the test error")
    big_effect = (f"flattens the fit to a near-constant (its spread over x is "
                  f"{100 * flatness:.0f} % of x²'s)" if flatness < 0.2 else
                  f"{'raises' if big_te > te_m else 'keeps'} the test error")
    train_effect = (f"The training MSE rises from {un_tr:.2g} to {tr_m:.2g}: the penalty keeps "
                    f"the network from fitting the noise." if tr_m > un_tr * (1 + CLOSE) else
                    f"The training MSE barely changes ({un_tr:.2g} without penalty, {tr_m:.2g} "
                    f"with it).")
    l2_zero_text = (f"The best L2 networks have no exactly-zero weight in any of the {S} seeds: "
                    "L2 shrinks weights but does not zero them." if l2_zeros == 0 else
                    f"The best L2 networks have {l2_zeros} exactly-zero weights over {S} seeds.")
    answers = [
        Answer("best_alpha", "Which L2 coefficient alpha gives the lowest test error?",
               alpha_star,
               f"Over {len(alphas) - 1} values of alpha from {config.alpha_min:g} to "
               f"{config.alpha_max:g}, the median test MSE over {S} initialisations is lowest "
               f"at alpha = {alpha_star:.3g}. {_spread('alpha', S, ba_med, ba_lo, ba_hi)} The "
               f"smallest alpha {small_effect} (test MSE {small_te:.4f} at alpha = "
               f"{config.alpha_min:g}, {un_te:.4f} without penalty); the largest "
               f"{big_effect} (test MSE {big_te:.4f} at alpha = {config.alpha_max:g}). The "
               f"test set chose this alpha: see cv_alpha for the honest choice.{alpha_widen}"
               f"{lost}", ba_lo, ba_hi, at_edge=alpha_edge),
        Answer("test_mse_at_best_alpha", "Test MSE at the best alpha?", te_m,
               f"Median {te_m:.4f} (10-90 % {te_lo:.4f}-{te_hi:.4f}) at alpha = "
               f"{alpha_star:.3g}, against {un_te:.4f} ({un_te_lo:.4f}-{un_te_hi:.4f}) without "
               f"penalty (median gain per initialisation {gain:.4f}) and the noise floor "
               f"{noise:g}. {train_effect} Alpha was chosen on the test set, so this error is "
               f"optimistic (see selection_optimism).", te_lo, te_hi),
        Answer("cv_alpha", "Which alpha does cross-validation on the training points choose?",
               alpha_cv,
               f"{config.cv_folds}-fold shuffled cross-validation of the {n} training points "
               f"({config.cv_seeds} initialisations per alpha) has its lowest held-out MSE, "
               f"{float(np.nanmin(cv_curve_l2)):.4f}, at alpha = {alpha_cv:.3g}; the test set "
               f"alone would pick {alpha_star:.3g}. The test set played no part in this "
               f"choice.{cv_widen}", at_edge=cv_edge),
        Answer("test_mse_at_cv_alpha", "Test MSE at the cross-validated alpha?", cv_te_m,
               f"Median {cv_te_m:.4f} (10-90 % {cv_te_lo:.4f}-{cv_te_hi:.4f}) at alpha = "
               f"{alpha_cv:.3g}: an honest estimate of the error of the whole procedure, "
               f"against {te_m:.4f} at the test-picked alpha and {un_te:.4f} without penalty.",
               cv_te_lo, cv_te_hi),
        Answer("selection_optimism",
               "How optimistic is the test error of the test-picked alpha?", opt_m,
               f"Per initialisation, the test MSE at the cross-validated alpha minus the test "
               f"MSE at the test-picked alpha: median {opt_m:+.4f} (10-90 % {opt_lo:+.4f} to "
               f"{opt_hi:+.4f}). "
               + ("Picking alpha on the test set made its error look better than what an honest "
                  "choice achieves." if opt_m > 0 else
                  "Here the honest choice does as well as the test-picked one."),
               opt_lo, opt_hi),
        Answer("best_l1", "Which L1 coefficient gives the lowest test error?", l1_star,
               f"Over {len(l1_values)} values from {config.l1_min:g} to {config.l1_max:g} "
               f"(no L2), the median test MSE is lowest at l1 = {l1_star:.3g}: {l1_te:.4f} "
               f"(10-90 % {l1_te_lo:.4f}-{l1_te_hi:.4f}), where a median {z_best} of the "
               f"{n_weights} weights are exactly 0. "
               f"{_spread('l1', S, bl_med, bl_lo, bl_hi)}{l1_widen}", bl_lo, bl_hi,
               at_edge=l1_edge),
        Answer("cv_l1", "Which L1 coefficient does cross-validation choose?", l1_cv,
               f"The lowest held-out MSE of the same cross-validation, "
               f"{float(np.nanmin(cv_curve_l1)):.4f}, is at l1 = {l1_cv:.3g}, whose test MSE is "
               f"{cv_l1_te:.4f} (test-picked: {l1_star:.3g}, {l1_te:.4f}).{l1_cv_widen}",
               at_edge=minimum_at_edge(jc, len(l1_values))),
        Answer("l1_exact_zeros",
               f"How many weights are exactly 0 at the strongest L1 tried (l1 = "
               f"{config.l1_max:g})?", z_max,
               f"A median {z_max} of {n_weights} weights (10-90 % {z_max_lo}-{z_max_hi}) are "
               f"exactly 0.0, because after each Adam step the proximal step sets every weight "
               f"with |w| <= lr * l1 / n = {config.learning_rate * config.l1_max / n:.2g} to "
               f"zero. Test MSE there: {l1_max_te:.4f}. {l2_zero_text}", z_max_lo, z_max_hi),
        Answer("ridge_lasso_idea", "What is the idea of ridge and LASSO regularization?",
               "Both add to the fitting error a penalty on the size of the coefficients, "
               "trading a little bias for much less variance: ridge penalizes the sum of "
               "squares, which shrinks every coefficient in proportion to its size, while "
               "LASSO penalizes the sum of absolute values, which pulls every coefficient "
               "towards 0 by the same amount and so sets the least useful ones exactly to 0. "
               "The coefficient (alpha, l1) sets the trade-off and is chosen on held-out data.",
               f"Measured here: the median |w| is {med_abs['none']:.2g} without penalty, "
               f"{med_abs['l2']:.2g} with L2 at alpha = {alpha_star:.3g} ({l2_zeros} weights "
               f"exactly 0 over all seeds) and {med_abs['l1']:.2g} with L1 at l1 = "
               f"{l1_star:.3g} ({z_best} of {n_weights} weights exactly 0, median over seeds); "
               f"the weight histograms show it."),
        Answer("backprop_with_l2",
               "How does backpropagation change with the L2 term?",
               "The backward pass of the data term is unchanged; each weight matrix's gradient "
               "gains alpha * W / n (biases are not penalized), so every update also shrinks "
               "the weights towards 0: plain gradient descent becomes "
               "W <- (1 - lr * alpha / n) W - lr * dE/dW, i.e. weight decay.",
               f"Checked on the {S} trained networks at alpha = {alpha_star:.3g}: one gradient "
               f"step with the penalty minus one without equals -alpha * W / n for every "
               f"weight to a relative {decay_err:.1e} (float32 rounding), and the biases "
               f"differ by {bias_diff:.1e}. The tests also compare with jax.grad of the "
               f"objective and with scikit-learn's MLPRegressor step from the same weights."),
    ]
    metrics = {
        "bayes_mse": noise, "best_alpha": alpha_star,
        "best_alpha_seed_median": ba_med, "best_alpha_p10": ba_lo, "best_alpha_p90": ba_hi,
        "best_alpha_at_edge": int(alpha_edge),
        "test_mse_at_best_alpha": te_m, "train_mse_at_best_alpha": tr_m,
        "test_mse_unregularized": un_te, "train_mse_unregularized": un_tr,
        "test_mse_at_alpha_max": big_te, "test_mse_gain_median": gain,
        "cv_alpha": alpha_cv, "test_mse_at_cv_alpha": cv_te_m, "selection_optimism": opt_m,
        "best_l1": l1_star, "test_mse_at_best_l1": l1_te, "test_mse_at_l1_max": l1_max_te,
        "cv_l1": l1_cv, "test_mse_at_cv_l1": cv_l1_te,
        "l1_exact_zeros": z_max, "exact_zeros_at_best_l1": z_best,
        "exact_zeros_at_best_alpha": l2_zeros, "n_weights": n_weights,
        "weight_decay_relative_error": decay_err, "weight_decay_bias_difference": bias_diff,
        "diverged": n_div,
    }
    arrays = {"alphas": alphas, "l2_train_mse": l2.train_mse, "l2_test_mse": l2.test_mse,
              "l2_cv_mse": l2.cv_mse, "best_alpha_per_seed": seed_best, "l1_values": l1_values,
              "l1_train_mse": l1.train_mse, "l1_test_mse": l1.test_mse, "l1_cv_mse": l1.cv_mse,
              "l1_exact_zeros": zeros, "weights_best_l2": w_l2, "weights_best_l1": w_l1,
              "grid": grid[:, 0],
              **{f"fit_{k}": fits[name] for k, name in zip(fit_indices, fits)}}
    progress(1.0, "done")
    return Result("weight-penalty", config, metrics, answers, figures, arrays,
                  elapsed_s=time.perf_counter() - start, captions=captions)


EXPERIMENT = Experiment(
    name="weight-penalty",
    description="Sweep the L2 (alpha) and L1 penalties of the 1-20-1 network: best "
                "coefficients, test error, exact zeros, weight decay in backpropagation.",
    config_class=WeightPenaltyConfig, run=run, order=20)
