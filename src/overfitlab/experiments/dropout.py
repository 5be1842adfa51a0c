"""dropout: inverted dropout on the 20 hidden units, rate swept from 0 to 0.6.

During training each hidden activation is multiplied by m_j / (1 - p), m_j ~ Bernoulli(1 - p)
drawn afresh for every sample and step, so every step trains one of the 2^h "thinned"
sub-networks, all sharing the same weights. At prediction no unit is dropped and, thanks to the
1 / (1 - p) rescaling during training, no rescaling is needed (the inverted form of the
weight-scaling rule). One compiled call trains ``seeds`` initialisations x every rate (each seed
starts all rates from the same weights).

Monte-Carlo dropout keeps the masks on at prediction: the average of ``mc_samples`` thinned
networks estimates the ensemble mean over sub-networks, and their spread gives a band. With one
hidden layer and a linear output the network is linear in the masks, so

    E_m[f_m(x)] = sum_j W2_j E[m_j / (1 - p)] tanh(z_j(x)) + b2 = f(x):

the deterministic prediction *is* the probability-weighted arithmetic mean of all 2^h
sub-networks, and the Monte-Carlo average only differs from it by sampling error. With more
hidden layers the rule is an approximation (for a softmax output, of the normalised geometric
mean of the sub-networks).
"""
from __future__ import annotations

import time

import jax
import numpy as np

from overfitlab.engine import threefry
from overfitlab.engine.mlp import forward
from overfitlab.engine.regularizers import dropout_masks
from overfitlab.engine.train import init_many, make_hyper
from overfitlab.experiments.configs.dropout import DropoutConfig
from overfitlab.experiments._cv import cv_choice, fold_masks, held_out_mse, train_with_folds
from overfitlab.experiments._verdicts import (CLOSE, alive_or_raise, diverged_note, edge_advice,
                                              minimum_at_edge)
from overfitlab.experiments.base import Answer, Experiment, Progress, Result, no_progress
from overfitlab.progress import scaled
from overfitlab.stats import float_band, without_diverged
from overfitlab.experiments._course import course_spec, mse, predict


def mc_dropout_predict(params, X, rates, key: jax.Array, n_samples: int,
                       activation: str) -> jax.Array:
    """Predictions of ``n_samples`` thinned copies of each of B stacked networks.

    ``params`` have a leading network axis B and ``rates`` is (B,); returns
    (B, n_samples, n_points). Every copy draws fresh inverted-dropout masks (per point and
    hidden unit) with :func:`dropout_masks`, exactly as in training.
    """
    hidden = tuple(W.shape[-1] for W in params["coefs"][:-1])
    n = X.shape[0]

    def one_network(p, rate, k):
        masks = dropout_masks(k, rate, n_samples * n, hidden, X.dtype)
        masks = [m.reshape(n_samples, n, -1) for m in masks]
        return forward(p, X[None], activation, masks)[..., 0]

    keys = jax.random.split(key, rates.shape[0])
    return jax.vmap(one_network)(params, rates, keys)


_mc_dropout_predict = jax.jit(mc_dropout_predict, static_argnames=("n_samples", "activation"))


def run(config: DropoutConfig, progress: Progress = no_progress) -> Result:
    """Train every (seed, rate) pair, score deterministic and Monte-Carlo predictions."""
    start = time.perf_counter()
    data = config.data()
    rates = np.asarray(config.rates, np.float64)
    S, R, T = config.seeds, len(rates), config.mc_samples
    key_train, key_mc = threefry.split(threefry.prng_key(config.seed))
    configs = [make_hyper(config.alpha, learning_rate=config.learning_rate, dropout=r)
               for r in rates]
    progress(0.02, f"training ({S} + {config.cv_seeds} x {config.cv_folds} folds) seeds x {R} "
                   f"dropout rates x {config.max_iter} iterations")
    init_key, run_key = threefry.split(key_train)
    inits = init_many(init_key, S, (1, config.hidden_units, 1), config.activation)
    inits = jax.tree_util.tree_map(lambda a: np.repeat(a[:, None], R, axis=1), inits)
    run = train_with_folds(course_spec(config, use_dropout=True), inits, configs,
                           config.cv_seeds, fold_masks(config.n_train, config.cv_folds,
                                                       config.seed),
                           data.X_train, data.y_train, run_key, scaled(progress, 0.02, 0.85))
    alive_or_raise(run.diverged, config.learning_rate)
    n_div = int(run.diverged.sum())
    cv_mse = without_diverged(held_out_mse(predict(run.cv_params, data.X_train,
                                                   config.activation), data.y_train, run.masks),
                              run.cv_diverged)
    progress(0.85, "Monte-Carlo dropout predictions")
    train_mse = without_diverged(mse(predict(run.params, data.X_train, config.activation),
                                     data.y_train), run.diverged)
    test_pred = predict(run.params, data.X_test, config.activation)  # (S, R, n)
    test_mse = without_diverged(mse(test_pred, data.y_test), run.diverged)  # (S, R)
    flat = jax.tree_util.tree_map(lambda a: a.reshape((S * R,) + a.shape[2:]), run.params)
    mc = _mc_dropout_predict(flat, data.X_test, np.tile(rates.astype(np.float32), S), key_mc,
                             n_samples=T, activation=config.activation)
    mc_test = np.asarray(mc, np.float64).reshape(S, R, T, -1)  # (S, R, T, n_test)
    mc_test_mse = without_diverged(mse(mc_test.mean(axis=2), data.y_test), run.diverged)
    # Monte-Carlo mean vs deterministic prediction, in units of its standard error.
    mc_gap = np.sqrt(np.mean((mc_test.mean(axis=2) - test_pred) ** 2, axis=-1))  # (S, R)
    mc_se = np.sqrt(np.mean(mc_test.var(axis=2, ddof=1), axis=-1) / T)
    mc_spread = np.sqrt(np.mean(mc_test.var(axis=2), axis=-1))  # thinned networks' sd

    med_test = np.nanmedian(test_mse, axis=0)
    best = int(np.nanargmin(med_test))
    best_rate = float(rates[best])
    order = np.argsort(rates)
    per_seed_best = np.where(np.isnan(test_mse).all(axis=1), np.nan,
                             rates[np.argmin(np.nan_to_num(test_mse, nan=np.inf), axis=1)])
    b_m, b_lo, b_hi = float_band(per_seed_best)
    t_m, t_lo, t_hi = float_band(test_mse[:, best])
    zero = int(np.argmin(rates))
    t0 = float(med_test[zero])
    top = int(np.argmax(rates))
    tr_best, tr_zero, tr_top = np.nanmedian(train_mse, axis=0)[[best, zero, top]]
    best_edge = minimum_at_edge(int(np.flatnonzero(order == best)[0]), R)
    rate_widen = edge_advice(int(np.flatnonzero(order == best)[0]), R, "--set rates=...",
                             f"--set rates={','.join(f'{r:g}' for r in rates)},"
                             f"{min(0.9, rates.max() + 0.1):g}")
    # The rate chosen by cross-validation on the training points, against the test-picked one.
    ic, cv_curve = cv_choice(cv_mse)
    cv_rate = float(rates[ic])
    cv_t_m, cv_t_lo, cv_t_hi = float_band(test_mse[:, ic])
    opt_m, opt_lo, opt_hi = float_band(test_mse[:, ic] - test_mse[:, best])
    cv_widen = edge_advice(int(np.flatnonzero(order == ic)[0]), R, "--set rates=...",
                           f"--set rates={','.join(f'{r:g}' for r in rates)},"
                           f"{min(0.9, rates.max() + 0.1):g}")
    lost = diverged_note(n_div, run.diverged.size)
    # Monte-Carlo comparison at the best rate > 0 (at rate 0 every thinned network is the same).
    mc_i = int(np.nanargmin(np.where(rates > 0, med_test, np.inf)))
    mc_rate = float(rates[mc_i])
    mc_mse, det_mse = float(np.nanmedian(mc_test_mse[:, mc_i])), float(med_test[mc_i])
    gap_mc = float(np.nanmedian(mc_gap[:, mc_i]))
    se_mc = float(np.nanmedian(mc_se[:, mc_i]))
    spread_mc = float(np.nanmedian(mc_spread[:, mc_i]))
    within = gap_mc <= 3 * se_mc
    h = config.hidden_units

    from overfitlab.plots.lab import dropout_fits_figure, dropout_rate_figure

    shown = sorted({zero, best, R - 1})
    grid = data.X_test[:, 0]  # a regular grid of [-1, 1]: the fits are drawn on it
    figures = {
        "dropout_rate.png": dropout_rate_figure(rates, train_mse, test_mse, mc_test_mse,
                                                data.bayes_mse, best_rate,
                                                np.nanmean(cv_mse, axis=2), cv_rate),
        "fits.png": dropout_fits_figure(data, grid, rates[shown], test_pred[0, shown],
                                        mc_test[0, shown]),
    }
    captions = {
        "dropout_rate.png": f"Train and test MSE against the dropout rate over {S} "
                            f"initialisations: the median test MSE is lowest at p = "
                            f"{best_rate:g} ({med_test[best]:.4f}, {t0:.4f} without dropout), "
                            f"and the training MSE rises with p from {tr_zero:.4f} to "
                            f"{tr_top:.4f}." if tr_top > tr_zero else
                            f"Train and test MSE against the dropout rate over {S} "
                            f"initialisations: the median test MSE is lowest at p = "
                            f"{best_rate:g} ({med_test[best]:.4f}, {t0:.4f} without dropout).",
        "fits.png": "The first seed's prediction at dropout rates "
                    f"{', '.join(f'{r:g}' for r in rates[shown])} (bold) inside the 10-90 % band "
                    f"of {T} sampled thinned networks: compare the band's width and the curve's "
                    f"wiggles from rate to rate.",
    }
    if tr_top > tr_zero * (1 + CLOSE):
        train_story = (f"Dropout keeps the network from fitting the noise: the training MSE "
                       f"rises from {tr_zero:.4f} at p = 0 to {tr_best:.4f} at p = "
                       f"{best_rate:g} and {tr_top:.4f} at p = {rates[top]:g}.")
    else:
        train_story = (f"The training MSE hardly changes with the rate ({tr_zero:.4f} at p = 0, "
                       f"{tr_top:.4f} at p = {rates[top]:g}).")
    if med_test[top] > med_test[best] * (1 + CLOSE) and top != best:
        train_story += (f" Too much dropout underfits: test MSE {med_test[top]:.4f} at p = "
                        f"{rates[top]:g}.")
    answers = [
        Answer("best_dropout_rate", "Which dropout rate gives the lowest test error?", best_rate,
               f"Among rates {', '.join(f'{r:g}' for r in rates)}, the median test MSE over "
               f"{S} initialisations is lowest at p = {best_rate:g} ({med_test[best]:.4f}, "
               f"against {t0:.4f} without dropout). Each seed's own best rate lies between "
               f"{b_lo:g} and {b_hi:g} (10-90 %). {train_story} The test set chose this rate: "
               f"see cv_dropout_rate for the honest choice.{rate_widen}{lost}",
               b_lo, b_hi, at_edge=best_edge),
        Answer("test_mse_at_best_dropout", f"Test MSE at dropout rate {best_rate:g}?",
               float(t_m),
               f"Median {t_m:.4f} (10-90 % {t_lo:.4f}-{t_hi:.4f}) at p = {best_rate:g}, versus "
               f"{t0:.4f} at p = 0 and the noise variance {data.bayes_mse:g}. The test set "
               f"chose the rate, so this error is optimistic (see selection_optimism).",
               t_lo, t_hi),
        Answer("cv_dropout_rate",
               "Which dropout rate does cross-validation on the training points choose?",
               cv_rate,
               f"{config.cv_folds}-fold shuffled cross-validation of the {config.n_train} "
               f"training points ({config.cv_seeds} initialisations per rate) has its lowest "
               f"held-out MSE, {float(np.nanmin(cv_curve)):.4f}, at p = {cv_rate:g} (the test "
               f"set alone would pick {best_rate:g}); test MSE there {cv_t_m:.4f} (10-90 % "
               f"{cv_t_lo:.4f}-{cv_t_hi:.4f}).{cv_widen}",
               at_edge=minimum_at_edge(int(np.flatnonzero(order == ic)[0]), R)),
        Answer("selection_optimism", "How optimistic is the test error of the test-picked rate?",
               opt_m,
               f"Per initialisation, test MSE at the cross-validated rate minus test MSE at the "
               f"test-picked rate: median {opt_m:+.4f} (10-90 % {opt_lo:+.4f} to "
               f"{opt_hi:+.4f}).", opt_lo, opt_hi),
        Answer("dropout_vs_ensemble", "Why does dropout approximate an ensemble?",
               f"{2 ** h} weight-sharing sub-networks",
               f"With {h} hidden units, each training step samples one of 2^{h} = {2 ** h:,} "
               f"thinned sub-networks (a subset of units kept) and takes a gradient step on it; "
               f"all of them share one set of weights, so training is a cheap bagging-like "
               f"procedure over an exponentially large ensemble whose members cannot overfit "
               f"on their own (each unit must be useful without the others). Predicting with the "
               f"full network, the 1/(1-p) scaling of training makes each unit's expected "
               f"contribution equal to its full one: this is the weight-scaling rule, which in "
               f"general approximates the (normalised geometric) mean of the sub-networks. For "
               f"this one-hidden-layer, linear-output network it is exact for the arithmetic "
               f"mean, and we measure it: at p = {mc_rate:g} the average of {T} sampled "
               f"sub-networks differs from the deterministic prediction by {gap_mc:.4f} RMS, "
               + (f"within 3 Monte-Carlo standard errors ({se_mc:.4f})" if within else
                  f"more than 3 Monte-Carlo standard errors ({se_mc:.4f})")
               + f" (single sub-networks scatter by {spread_mc:.4f}), and the test MSE is "
               f"{mc_mse:.4f} for the Monte-Carlo average against {det_mse:.4f} deterministic"
               + (": one forward pass gives the ensemble's prediction." if within else ".")
               + " The regularisation itself is measured above: "
               f"test MSE {t0:.4f} without dropout, {med_test[best]:.4f} at p = {best_rate:g}."),
    ]
    metrics = {
        "bayes_mse": data.bayes_mse, "best_dropout_rate": best_rate,
        "best_dropout_rate_at_edge": int(best_edge), "cv_dropout_rate": cv_rate,
        "test_mse_at_cv_dropout": cv_t_m, "selection_optimism": opt_m, "diverged": n_div,
        "test_mse_at_best_dropout": float(t_m), "test_mse_no_dropout": t0,
        "train_mse_at_best_dropout": float(tr_best), "train_mse_no_dropout": float(tr_zero),
        "mc_rate": mc_rate, "mc_test_mse": mc_mse, "deterministic_test_mse_at_mc_rate": det_mse,
        "mc_vs_deterministic_rms": gap_mc, "mc_standard_error": se_mc, "mc_spread": spread_mc,
        "mc_gap_over_standard_error_max": float(np.max(
            np.where(mc_se > 0, mc_gap / np.where(mc_se > 0, mc_se, 1.0), 0.0))),
    }
    metrics.update({f"test_mse_rate_{r:g}": float(v) for r, v in zip(rates, med_test)})
    arrays = {"rates": rates, "train_mse": train_mse.astype(np.float32),
              "test_mse": test_mse.astype(np.float32),
              "mc_test_mse": mc_test_mse.astype(np.float32), "cv_mse": cv_mse, "X_test": grid,
              "test_predictions": test_pred.astype(np.float32)}
    notes = [f"{S} initialisations x {R} rates in one compiled call; each seed starts every "
             f"rate from the same weights. Monte-Carlo dropout: {T} mask draws per network."]
    progress(1.0, "done")
    return Result("dropout", config, metrics, answers, figures, arrays, notes,
                  elapsed_s=time.perf_counter() - start, captions=captions)


EXPERIMENT = Experiment(
    name="dropout",
    description="Inverted dropout on the hidden units, rate 0 to 0.6: test MSE against rate, "
                "and Monte-Carlo averages of the thinned networks.",
    config_class=DropoutConfig, run=run, order=50)
