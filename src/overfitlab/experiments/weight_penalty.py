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
from dataclasses import dataclass

import jax
import numpy as np

from overfitlab.engine.train import TrainSpec, make_hyper, stack_networks, train
from overfitlab.experiments._sweeps import (
    PenaltySweepConfig, SweepSetup, best_index, per_seed_best,
    predict,
)
from overfitlab.stats import float_band, geometric_band
from overfitlab.experiments.base import Answer, Experiment, Progress, Result, no_progress


@dataclass(frozen=True)
class WeightPenaltyConfig(PenaltySweepConfig):
    """Course protocol, the L2 sweep and the L1 sweep (see :class:`PenaltySweepConfig`)."""


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
    keys = jax.random.split(jax.random.PRNGKey(0), 2 * n_nets)
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
    S = config.seeds
    progress(0.02, f"training {S} seeds x ({config.n_alphas + 1} alphas + {config.n_l1} l1) "
                   f"networks x {config.max_iter} iterations")
    sweeps = config.sweeps()
    l2, l1 = sweeps.l2, sweeps.l1
    progress(0.9, "analysis and figures")

    # L2: best alpha (index 0 is alpha = 0, the unregularized reference).
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
    gain = float(np.median(l2.test_mse[:, 0] - l2.test_mse[:, ib]))
    inside = 1 < ib < len(alphas) - 1
    where = "inside" if inside else "at an end of"

    # L1: best coefficient and exact zeros.
    l1_values = l1.values
    jb = best_index(l1.test_mse)
    l1_star = float(l1_values[jb])
    l1_seed_best = per_seed_best(l1_values, l1.test_mse)
    bl_med, bl_lo, bl_hi = geometric_band(l1_seed_best)
    zeros = np.sum(l1.weights() == 0, axis=-1)  # (S, C)
    n_weights = l1.weights().shape[-1]
    z_max, z_max_lo, z_max_hi = float_band(zeros[:, -1])
    z_best, _, _ = float_band(zeros[:, jb])
    l1_te, l1_te_lo, l1_te_hi = float_band(l1.test_mse[:, jb])
    l1_max_te, _, _ = float_band(l1.test_mse[:, -1])
    w_l2 = l2.weights()[:, ib]  # (S, n_weights)
    w_l1 = l1.weights()[:, jb]
    w_un = l2.weights()[:, 0]
    l2_zeros = int(np.sum(w_l2 == 0))
    med_abs = {k: float(np.median(np.abs(w))) for k, w in
               (("none", w_un), ("l2", w_l2), ("l1", w_l1))}

    decay_err, bias_diff = weight_decay_check(setup, l2.params_at(ib), alpha_star,
                                              data.X_train, data.y_train)

    grid = np.linspace(-1, 1, 201, dtype=np.float32)[:, None]
    fit_indices = {"too little": 1, "best": ib, "too much": len(alphas) - 1}
    fits = {f"{name}: alpha = {alphas[i]:.3g}": predict(l2.params_at(i), grid, config.activation)
            for name, i in fit_indices.items()}

    from overfitlab.plots import penalty as plots

    figures = {
        "l2_sweep.png": plots.l2_sweep_figure(alphas[1:], l2.train_mse[:, 1:], l2.test_mse[:, 1:],
                                              l2.test_mse[:, 0], data.bayes_mse, alpha_star,
                                              seed_best),
        "l2_fits.png": plots.fits_figure(data, grid[:, 0], fits),
        "l1_sweep.png": plots.l1_sweep_figure(l1_values, l1.train_mse, l1.test_mse, zeros,
                                              n_weights, l2.test_mse[:, 0], data.bayes_mse,
                                              l1_star),
        "weight_histograms.png": plots.weight_histogram_figure(
            {"no penalty": w_un, f"L2, alpha = {alpha_star:.3g}": w_l2,
             f"L1, l1 = {l1_star:.3g}": w_l1}),
    }
    captions = {
        "l2_sweep.png": f"Train and test MSE against alpha over {S} initialisations (left) and the "
                        f"test error near its minimum (right): the median test MSE is lowest at "
                        f"alpha = {alpha_star:.3g} ({te_m:.4f}, {un_te:.4f} without penalty) and "
                        f"{big_te:.4f} at the largest alpha, {alphas[-1]:.3g}.",
        "l2_fits.png": "The fitted curves (median and 10-90 % band) with too little, the best and "
                       "too much L2 penalty: compare how closely each follows the training points "
                       f"and x² (test MSE {small_te:.4f} at alpha = {alphas[1]:.3g}, {te_m:.4f} "
                       f"at {alpha_star:.3g}, {big_te:.4f} at {alphas[-1]:.3g}).",
        "l1_sweep.png": f"The L1 sweep: errors against l1 (left, centre), lowest median test MSE "
                        f"{l1_te:.4f} at l1 = {l1_star:.3g}, and the number of weights that are "
                        f"exactly 0 (right), {z_best:.0f} of {n_weights} there.",
        "weight_histograms.png": f"Weight magnitudes on a log scale, all {S} seeds: median |w| "
                                 f"{med_abs['none']:.2g} without penalty, {med_abs['l2']:.2g} "
                                 f"with L2 ({l2_zeros} exactly 0) and {med_abs['l1']:.2g} with "
                                 f"L1, whose exact zeros stand in the black bar at the left.",
    }

    n = config.n_train
    answers = [
        Answer("best_alpha", "Which L2 coefficient alpha gives the lowest test error?",
               alpha_star,
               f"Over {len(alphas) - 1} values of alpha from {config.alpha_min:g} to "
               f"{config.alpha_max:g}, the median test MSE over {S} initialisations is lowest "
               f"at alpha = {alpha_star:.3g} ({where} the range). "
               f"{_spread('alpha', S, ba_med, ba_lo, ba_hi)} Too small an alpha changes "
               f"little (test MSE {small_te:.4f} at alpha = {config.alpha_min:g}, "
               f"{un_te:.4f} without penalty); too large an alpha flattens the fit to a "
               f"constant (test MSE {big_te:.4f} at alpha = {config.alpha_max:g}).",
               ba_lo, ba_hi),
        Answer("test_mse_at_best_alpha", "Test MSE at the best alpha?", te_m,
               f"Median {te_m:.4f} (10-90 % {te_lo:.4f}-{te_hi:.4f}) at alpha = "
               f"{alpha_star:.3g}, against {un_te:.4f} ({un_te_lo:.4f}-{un_te_hi:.4f}) without "
               f"penalty (median gain per initialisation {gain:.4f}) and the noise floor "
               f"{data.bayes_mse:g}. The training MSE rises from {un_tr:.2g} to {tr_m:.2g}: the "
               f"penalty stops the network from fitting the noise. Alpha was chosen on the test "
               f"set, so this error is slightly optimistic.", te_lo, te_hi),
        Answer("best_l1", "Which L1 coefficient gives the lowest test error?", l1_star,
               f"Over {len(l1_values)} values from {config.l1_min:g} to {config.l1_max:g} "
               f"(no L2), the median test MSE is lowest at l1 = {l1_star:.3g}: {l1_te:.4f} "
               f"(10-90 % {l1_te_lo:.4f}-{l1_te_hi:.4f}), where a median {z_best:.0f} of the "
               f"{n_weights} weights are exactly 0. "
               f"{_spread('l1', S, bl_med, bl_lo, bl_hi)}", bl_lo, bl_hi),
        Answer("l1_exact_zeros",
               f"How many weights are exactly 0 at the strongest L1 tried (l1 = "
               f"{config.l1_max:g})?", z_max,
               f"A median {z_max:.0f} of {n_weights} weights (10-90 % {z_max_lo:.0f}-"
               f"{z_max_hi:.0f}) are exactly 0.0, because after each Adam step the proximal "
               f"step sets every weight with |w| <= lr * l1 / n = "
               f"{config.learning_rate * config.l1_max / n:.2g} to zero. Test MSE there: "
               f"{l1_max_te:.4f}. The best L2 networks have {l2_zeros} exactly-zero weights in "
               f"all {S} seeds: L2 shrinks weights but never zeroes them.", z_max_lo, z_max_hi),
        Answer("ridge_lasso_idea", "What is the idea of ridge and LASSO regularization?",
               "Both add to the fitting error a penalty on the size of the coefficients, "
               "trading a little bias for much less variance: ridge penalizes the sum of "
               "squares, which shrinks every coefficient in proportion to its size, while "
               "LASSO penalizes the sum of absolute values, which pulls every coefficient "
               "towards 0 by the same amount and so sets the least useful ones exactly to 0. "
               "The coefficient (alpha, l1) sets the trade-off and is chosen on held-out data.",
               f"Measured here: the median |w| is {med_abs['none']:.2g} without penalty, "
               f"{med_abs['l2']:.2g} with L2 at alpha = {alpha_star:.3g} (no weight exactly 0) "
               f"and {med_abs['l1']:.2g} with L1 at l1 = {l1_star:.3g} ({z_best:.0f} of "
               f"{n_weights} weights exactly 0, median over seeds); see weight_histograms.png."),
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
        "bayes_mse": data.bayes_mse, "best_alpha": alpha_star,
        "best_alpha_seed_median": ba_med, "best_alpha_p10": ba_lo, "best_alpha_p90": ba_hi,
        "best_alpha_inside_range": float(inside),
        "test_mse_at_best_alpha": te_m, "train_mse_at_best_alpha": tr_m,
        "test_mse_unregularized": un_te, "train_mse_unregularized": un_tr,
        "test_mse_at_alpha_max": big_te, "test_mse_gain_median": gain,
        "best_l1": l1_star, "test_mse_at_best_l1": l1_te, "test_mse_at_l1_max": l1_max_te,
        "l1_exact_zeros": z_max, "exact_zeros_at_best_l1": z_best,
        "exact_zeros_at_best_alpha": float(l2_zeros), "n_weights": float(n_weights),
        "weight_decay_relative_error": decay_err, "weight_decay_bias_difference": bias_diff,
    }
    arrays = {"alphas": alphas, "l2_train_mse": l2.train_mse, "l2_test_mse": l2.test_mse,
              "best_alpha_per_seed": seed_best, "l1_values": l1_values,
              "l1_train_mse": l1.train_mse, "l1_test_mse": l1.test_mse, "l1_exact_zeros": zeros,
              "weights_best_l2": w_l2, "weights_best_l1": w_l1, "grid": grid[:, 0],
              **{f"fit_{k.replace(' ', '_')}": fits[name]
                 for k, name in zip(fit_indices, fits)}}
    progress(1.0, "done")
    return Result("weight-penalty", config, metrics, answers, figures, arrays,
                  elapsed_s=time.perf_counter() - start, captions=captions)


EXPERIMENT = Experiment(
    name="weight-penalty",
    description="Sweep the L2 (alpha) and L1 penalties of the 1-20-1 network: best "
                "coefficients, test error, exact zeros, weight decay in backpropagation.",
    config_class=WeightPenaltyConfig, run=run, order=20)
