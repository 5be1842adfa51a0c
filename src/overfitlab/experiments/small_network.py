"""small-network: how many hidden units does the best L2-regularized network really use?

The best L2 networks come from the weight-penalty sweep (:mod:`._sweeps`, memoised: in one
report the sweep is trained once). For hidden unit j of a 1-H-1 network, f(x) = b + sum_j
v_j g(w_j . x + c_j) with g = tanh, its *contribution* is

    s_j = |v_j| * ||w_j||,

an upper bound on |d/dx of v_j g(w_j . x + c_j)| (|g'| <= 1), so on inputs of [-1, 1] the unit's
term varies by at most 2 s_j. A unit with small s_j is nearly constant on the data, and a
constant is what the output bias already provides. A unit is called *significant* when
s_j > ``significance`` * max_k s_k. Removing a unit replaces its term by its mean over the
training inputs, folded into the output bias (exact for a constant unit).

Then:

* magnitude pruning: units removed in increasing order of s_j, every level evaluated in one
  vectorized call with 0/1 unit masks (no retraining);
* networks of ``widths`` units (and of the significant count) trained from scratch *without*
  penalty, all in one compiled call: each is the H-unit network with the surplus units masked
  off and zero weights, initialised Glorot-uniform for its own width, which (Adam being
  elementwise and masked units receiving zero gradients) trains exactly as a genuine
  1-width-1 network.
"""
from __future__ import annotations

import time

import jax
import numpy as np

from overfitlab.engine import threefry
from overfitlab.engine.mlp import NUMPY_ACTIVATIONS, n_parameters
from overfitlab.engine.train import init_many, make_hyper
from overfitlab.experiments.configs.small_network import SmallNetworkConfig
from overfitlab.experiments._sweeps import (SweepSetup, best_index, mse, predict, sweep_spec,
                                             sweeps_of)
from overfitlab.experiments._cv import cv_choice, fold_masks, held_out_mse, train_with_folds
from overfitlab.experiments._verdicts import (CLOSE, alive_or_raise, diverged_note, edge_advice,
                                              minimum_at_edge)
from overfitlab.progress import scaled
from overfitlab.stats import float_band, integer_band, without_diverged
from overfitlab.experiments.base import Answer, Experiment, Progress, Result, no_progress


def unit_contributions(params: dict) -> np.ndarray:
    """s_j = |v_j| ||w_j|| for each hidden unit of stacked one-hidden-layer networks: (..., H)."""
    w_in, w_out = params["coefs"]
    return np.abs(w_out[..., 0]) * np.linalg.norm(w_in, axis=-2)


def pruned_params(params: dict, keep: np.ndarray, X_fit: np.ndarray,
                  activation: str) -> dict:
    """Networks with the units where ``keep`` (..., H) is 0 removed.

    Each removed unit's term v_j g(w_j . x + c_j) is replaced by its mean over ``X_fit``, added
    to the output bias; ``params`` must broadcast against ``keep``'s leading axes. Returns the
    parameters with the adjusted output bias (apply ``keep`` as the hidden-unit mask).
    """
    (w_in, w_out), (b_in, b_out) = params["coefs"], params["intercepts"]
    hidden = NUMPY_ACTIVATIONS[activation](X_fit @ w_in + b_in[..., None, :])  # (..., n, H)
    mean_term = hidden.mean(axis=-2) * w_out[..., 0]  # (..., H)
    shift = np.sum((1.0 - keep) * mean_term, axis=-1, keepdims=True)
    lead = keep.shape[:-1]
    return {"coefs": [np.broadcast_to(w_in, lead + w_in.shape[-2:]),
                      np.broadcast_to(w_out, lead + w_out.shape[-2:])],
            "intercepts": [np.broadcast_to(b_in, lead + b_in.shape[-1:]), b_out + shift]}


def pruning_curve(params: dict, X_fit, X_eval, y_eval, activation: str) -> np.ndarray:
    """Test MSE (S, H) of S networks keeping their k = 1..H largest-contribution units."""
    s = unit_contributions(params)  # (S, H)
    S, H = s.shape
    rank = np.argsort(np.argsort(-s, axis=1), axis=1)  # 0 = largest contribution
    keep = (rank[:, None, :] < np.arange(1, H + 1)[None, :, None]).astype(np.float32)
    levels = jax.tree_util.tree_map(lambda a: a[:, None], params)  # (S, 1, ...)
    pruned = pruned_params(levels, keep, X_fit, activation)
    return mse(predict(pruned, X_eval, activation, masks=[keep]), y_eval)


def masked_small_networks(key: jax.Array, seeds: int, widths, hidden: int,
                          activation: str) -> tuple[dict, np.ndarray]:
    """Initial weights (len(widths) * seeds stacked, width-major) and unit masks of networks
    with ``widths`` active units inside an H-unit network; inactive units have zero weights."""
    coefs_in, coefs_out, b_in, b_out, masks = [], [], [], [], []
    for width in widths:
        p = jax.tree_util.tree_map(np.asarray, init_many(threefry.fold_in(key, width), seeds,
                                                         (1, width, 1), activation))
        pad = ((0, 0), (0, 0), (0, hidden - width))
        coefs_in.append(np.pad(p["coefs"][0], pad))
        coefs_out.append(np.pad(p["coefs"][1], ((0, 0), (0, hidden - width), (0, 0))))
        b_in.append(np.pad(p["intercepts"][0], pad[1:]))
        b_out.append(p["intercepts"][1])
        masks.append(np.repeat((np.arange(hidden) < width)[None], seeds, 0).astype(np.float32))
    params = {"coefs": [np.concatenate(coefs_in), np.concatenate(coefs_out)],
              "intercepts": [np.concatenate(b_in), np.concatenate(b_out)]}
    return params, np.concatenate(masks)


def train_small_networks(setup: SweepSetup, widths, progress: Progress = no_progress):
    """Networks of these widths trained without penalty, on all training points and on the
    cross-validation folds (:mod:`._cv`), in one call. A width is a unit mask on the
    hidden_units-wide network (the same mask for every seed), so all widths share one program.

    Returns train and test MSE, each (S, W), the held-out MSE of the folds (cv_seeds, W,
    cv_folds) and the diverged marks (S, W); diverged networks' errors are NaN.
    """
    data = setup.data()
    key = threefry.fold_in(threefry.prng_key(setup.seed), 1)
    S, W = setup.seeds, len(widths)
    params, masks = masked_small_networks(key, S, widths, setup.hidden_units, setup.activation)
    by_seed = lambda a: np.swapaxes(a.reshape((W, S) + a.shape[1:]), 0, 1)  # noqa: E731
    inits, unit_masks = jax.tree_util.tree_map(by_seed, params), by_seed(masks)  # (S, W, ...)
    configs = [make_hyper(alpha=0.0, learning_rate=setup.learning_rate,
                          unit_masks=(unit_masks[0, w],)) for w in range(W)]
    run = train_with_folds(sweep_spec(setup), inits, configs, setup.cv_seeds,
                           fold_masks(setup.n_train, setup.cv_folds, setup.seed),
                           data.X_train, data.y_train, key, progress)
    train_mse, test_mse = (without_diverged(
        mse(predict(run.params, X, setup.activation, masks=[unit_masks]), y), run.diverged)
        for X, y in ((data.X_train, data.y_train), (data.X_test, data.y_test)))
    fold_masks_units = np.broadcast_to(unit_masks[:1, :, None], run.cv_diverged.shape
                                       + unit_masks.shape[-1:])
    fold_pred = predict(run.cv_params, data.X_train, setup.activation,
                        masks=[fold_masks_units])
    cv_mse = without_diverged(held_out_mse(fold_pred, data.y_train, run.masks),
                              run.cv_diverged)
    return train_mse, test_mse, cv_mse, run.diverged


def run(config: SmallNetworkConfig, progress: Progress = no_progress) -> Result:
    """Inspect the best L2 network, count its significant units, prune it, train small ones."""
    start = time.perf_counter()
    setup = config.setup()
    data = setup.data()
    S, H = config.seeds, config.hidden_units
    progress(0.02, "the weight-penalty sweep (reused if already trained in this process)")
    l2 = sweeps_of(config, scaled(progress, 0.02, 0.4)).l2
    ib = best_index(l2.test_mse, first=1)
    alpha_star = float(l2.values[ib])
    alive = alive_or_raise(l2.diverged[:, ib], config.learning_rate)
    best = jax.tree_util.tree_map(lambda a: a[alive], l2.params_at(ib))
    large_test = l2.test_mse[:, ib]
    S_alive = int(alive.sum())

    s = unit_contributions(best)  # (S_alive, H)
    normalized = np.sort(s / s.max(axis=1, keepdims=True), axis=1)[:, ::-1]
    counts = np.sum(normalized > config.significance, axis=1)
    k, c_lo, c_hi = integer_band(counts)
    w_in, w_out = (np.abs(W).reshape(S_alive, H) for W in best["coefs"])
    sig_in = np.sum(w_in > config.significance * w_in.max(axis=1, keepdims=True), axis=1)
    sig_out = np.sum(w_out > config.significance * w_out.max(axis=1, keepdims=True), axis=1)

    progress(0.4, "magnitude pruning")
    pruned = pruning_curve(best, data.X_train, data.X_test, data.y_test, config.activation)

    widths = tuple(sorted(set(config.widths) | {k}))
    progress(0.5, f"training networks of {', '.join(map(str, widths))} units without penalty")
    small_train, small_test_all, width_cv, small_diverged = train_small_networks(
        setup, widths, scaled(progress, 0.5, 0.9))
    all_widths = np.array([*widths, H])
    width_mse = np.concatenate([small_test_all, l2.test_mse[:, :1]], axis=1)  # H: alpha = 0
    small_test = small_test_all[:, widths.index(k)]
    sm_tr = float(np.nanmedian(small_train[:, widths.index(k)]))
    lg_tr = float(np.nanmedian(l2.train_mse[:, ib]))

    # The width chosen by cross-validation on the training points, against the test-picked one.
    iw_cv, cv_curve = cv_choice(width_cv)
    iw_test = int(np.nanargmin(np.nanmedian(small_test_all, axis=0)))
    width_cv_choice, width_test_choice = widths[iw_cv], widths[iw_test]
    cvw_m, cvw_lo, cvw_hi = float_band(small_test_all[:, iw_cv])
    optw_m, optw_lo, optw_hi = float_band(small_test_all[:, iw_cv] - small_test_all[:, iw_test])
    width_widen = edge_advice(
        iw_cv, len(widths), "--set widths=... (1 is the smallest width)",
        f"--set widths={','.join(map(str, widths))},{2 * widths[-1]} (with --set hidden_units "
        f"above {2 * widths[-1]})")
    n_div = int(l2.diverged[:, ib].sum() + small_diverged.sum())
    lost = diverged_note(n_div, l2.diverged[:, ib].size + small_diverged.size)

    sm_m, sm_lo, sm_hi = float_band(small_test)
    lg_m, lg_lo, lg_hi = float_band(large_test)
    pr_m, _, _ = float_band(pruned[:, k - 1])
    un_m, _, _ = float_band(l2.test_mse[:, 0])
    small_params, large_params = n_parameters((1, k, 1)), n_parameters((1, H, 1))
    next_share = float(np.median(normalized[:, k])) if k < H else 0.0
    pruning_effect = ("the other units hardly matter" if abs(pr_m - lg_m) <= CLOSE * lg_m
                      else "the other units do matter")
    if sm_m <= 1.05 * lg_m:
        verdict = ("The small network behaves like the regularized one at a fraction of the "
                   "parameters: the units it lacks were unused.")
    else:
        verdict = (f"Removing units is not the whole effect of the penalty: besides switching "
                   f"units off, L2 keeps the remaining weights small, whereas the unpenalized "
                   f"small network fits the noise harder (training MSE {sm_tr:.4f} against "
                   f"{lg_tr:.4f} for the regularized network).")
    rep = int(np.argsort(large_test[alive])[S_alive // 2])  # the median-error seed
    order = np.argsort(-s[rep])

    from overfitlab.plots import penalty as plots

    figures = {
        "weight_magnitudes.png": plots.weight_magnitude_figure(
            w_in[rep, order], w_out[rep, order], normalized, config.significance,
            int(counts[rep])),
        "small_networks.png": plots.width_figure(np.arange(1, H + 1), pruned, all_widths,
                                                 width_mse, large_test, k, data.bayes_mse,
                                                 np.nanmean(width_cv, axis=2), widths,
                                                 width_cv_choice),
    }
    captions = {
        "weight_magnitudes.png": f"Left: the hidden and output weights of the median-error seed's "
                                 f"best L2 network, units sorted by contribution; right: every "
                                 f"seed's contributions relative to its largest. Look at the drop "
                                 f"after unit {k}: the next unit carries {next_share:.2g} of the "
                                 f"largest contribution (median), below the dashed threshold "
                                 f"{config.significance:g}."
                                 if next_share < config.significance else
                                 f"Left: the hidden and output weights of the median-error "
                                 f"seed's best L2 network, units sorted by contribution; right: "
                                 f"every seed's contributions relative to its largest, against "
                                 f"the dashed threshold {config.significance:g}.",
        "small_networks.png": f"Test MSE against the number of hidden units: the best L2 network "
                              f"pruned to its largest units (green) and networks of that width "
                              f"trained without penalty (purple); at {k} units they reach "
                              f"{float(np.median(pruned[:, k - 1])):.4f} and "
                              f"{float(np.median(small_test)):.4f}, against "
                              f"{float(np.median(large_test)):.4f} for all {H} (dashed).",
    }
    answers = [
        Answer("significant_hidden_units",
               f"How many of the {H} hidden units of the best L2 network (alpha = "
               f"{alpha_star:.3g}) are significantly different from 0?", k,
               f"Criterion: unit j counts when |v_j| ||w_j|| (output weight times input weight "
               f"norm, a bound on how much the unit can change f over the input range) exceeds "
               f"{config.significance:g} times the largest unit's; below that the unit is "
               f"nearly constant on [-1, 1] and the output bias can absorb it. Median over "
               f"{S_alive} seeds: {k} units (10-90 % {c_lo}-{c_hi}); the next unit "
               f"carries a median {next_share:.2g} of the largest contribution. Counting single "
               f"coefficients the same way: {np.median(sig_in):.0f} hidden and "
               f"{np.median(sig_out):.0f} output weights. Pruning the best networks to their "
               f"{k} largest units without retraining gives test MSE {pr_m:.4f}, against "
               f"{lg_m:.4f} with all {H}: {pruning_effect}.{lost}", c_lo, c_hi),
        Answer("small_network_test_mse",
               f"Test MSE of a {k}-unit network trained without penalty?", sm_m,
               f"Median {sm_m:.4f} (10-90 % {sm_lo:.4f}-{sm_hi:.4f}) over {S} "
               f"initialisations, with {small_params} parameters instead of {large_params}, "
               f"against {lg_m:.4f} for the {H}-unit network at the best alpha and {un_m:.4f} "
               f"for the {H}-unit network without penalty. {verdict}", sm_lo, sm_hi),
        Answer("large_network_test_mse",
               f"Test MSE of the {H}-unit network at the best alpha?", lg_m,
               f"Median {lg_m:.4f} (10-90 % {lg_lo:.4f}-{lg_hi:.4f}) at alpha = "
               f"{alpha_star:.3g}, with {large_params} parameters, against {sm_m:.4f} for "
               f"{small_params} parameters in the small network (noise floor "
               f"{data.bayes_mse:g}). Alpha was chosen on the test set, which favours the "
               f"large network (weight-penalty's selection_optimism measures by how much).",
               lg_lo, lg_hi),
        Answer("cv_width", "Which width does cross-validation on the training points choose?",
               width_cv_choice,
               f"Among widths {', '.join(map(str, widths))} trained without penalty, "
               f"{config.cv_folds}-fold shuffled cross-validation of the {config.n_train} "
               f"training points has its lowest held-out MSE, {float(np.nanmin(cv_curve)):.4f}, "
               f"at {width_cv_choice} units; the test set alone would pick {width_test_choice}. "
               f"Test MSE at the cross-validated width: {cvw_m:.4f} (10-90 % {cvw_lo:.4f}-"
               f"{cvw_hi:.4f}).{width_widen}", at_edge=minimum_at_edge(iw_cv, len(widths))),
        Answer("selection_optimism",
               "How optimistic is the test error of the test-picked width?", optw_m,
               f"Per initialisation, test MSE at the cross-validated width ({width_cv_choice}) "
               f"minus test MSE at the test-picked width ({width_test_choice}): median "
               f"{optw_m:+.4f} (10-90 % {optw_lo:+.4f} to {optw_hi:+.4f}).", optw_lo, optw_hi),
    ]
    metrics = {
        "bayes_mse": data.bayes_mse, "best_alpha": alpha_star,
        "significant_hidden_units": k, "significant_units_p10": c_lo,
        "significant_units_p90": c_hi,
        "significant_hidden_weights": int(np.median(sig_in)),
        "significant_output_weights": int(np.median(sig_out)),
        "cv_width": width_cv_choice, "test_mse_at_cv_width": cvw_m,
        "test_picked_width": width_test_choice, "selection_optimism": optw_m,
        "diverged": n_div,
        "next_unit_relative_contribution": next_share,
        "pruned_test_mse": pr_m, "small_network_test_mse": sm_m,
        "large_network_test_mse": lg_m, "unregularized_test_mse": un_m,
        "small_network_train_mse": sm_tr, "large_network_train_mse": lg_tr,
        "small_network_parameters": small_params,
        "large_network_parameters": large_params,
    }
    arrays = {"contributions": s, "normalized_sorted": normalized, "significant_counts": counts,
              "pruned_test_mse": pruned, "widths": all_widths, "width_test_mse": width_mse,
              "width_cv_mse": width_cv,
              "large_test_mse": large_test}
    progress(1.0, "done")
    return Result("small-network", config, metrics, answers, figures, arrays,
                  elapsed_s=time.perf_counter() - start, captions=captions)


EXPERIMENT = Experiment(
    name="small-network",
    description="Count the significant hidden units of the best L2 network, prune it, and "
                "train a network of that width without penalty.",
    config_class=SmallNetworkConfig, run=run, order=30,
    reuses=("weight-penalty",))  # its penalty sweep (memoised in _sweeps.py)
