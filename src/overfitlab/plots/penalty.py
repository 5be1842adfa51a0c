"""Figures of the weight-penalty and small-network experiments.

Curves are medians over seeds with their 10-90 % band (``style.draw_band``); MSE axes are
logarithmic and carry the noise variance, the error no model can beat.
"""
from __future__ import annotations

import numpy as np

from overfitlab.plots.style import (NOISE_COLOR, TEST_COLOR, TRAIN_COLOR, draw_band,
                                    draw_course_data, draw_noise_floor, new_figure)

FIT_COLORS = ("tab:orange", "tab:green", "tab:purple")
HIST_COLORS = ("tab:gray", "tab:blue", "tab:red")
CV_COLOR = "tab:purple"


def _mark_best(ax, value: float, per_seed: np.ndarray, name: str) -> None:
    """Vertical line at the chosen value and the 10-90 % span of the per-seed optima."""
    lo, hi = np.exp(np.percentile(np.log(per_seed), [10, 90]))
    ax.axvline(value, color="k", linewidth=1, label=f"best {name} = {value:.3g}")
    ax.axvspan(lo, hi, color=NOISE_COLOR, alpha=0.12,
               label=f"best {name} per seed, 10-90 %")


def _mse_axes(ax, xlabel: str) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mean squared error")


def _train_test_panel(ax, values, train_mse, test_mse, unregularized_test, noise_var, name):
    """Train and test MSE bands against the coefficient, alpha = 0 as a dashed line."""
    draw_band(ax, values, train_mse, TRAIN_COLOR, "train MSE")
    draw_band(ax, values, test_mse, TEST_COLOR, "test MSE")
    ax.axhline(np.median(unregularized_test), color=TEST_COLOR, linestyle="--", linewidth=1,
               label="test MSE without penalty (median)")
    draw_noise_floor(ax, noise_var)
    _mse_axes(ax, name)


def _test_zoom_panel(ax, values, test_mse, unregularized_test, noise_var, name, best,
                     cv_mse=None, cv_best=None):
    """The test MSE alone on a linear axis, cut above 1.5 x the unregularized error, beside the
    cross-validated error of the training points (``cv_mse`` (seed, value), mean over folds)
    and its choice ``cv_best``."""
    draw_band(ax, values, test_mse, TEST_COLOR, "test MSE")
    top = np.nanmedian(unregularized_test)
    ax.axhline(top, color=TEST_COLOR, linestyle="--", linewidth=1,
               label="without penalty (median)")
    draw_noise_floor(ax, noise_var)
    ax.axvline(best, color="k", linewidth=1, label=f"test-picked {name} = {best:.3g}")
    bottom = 0.9 * noise_var
    if cv_mse is not None:
        cv_median = draw_band(ax, values, cv_mse, CV_COLOR,
                              "cross-validated MSE (training points)")
        ax.axvline(cv_best, color=CV_COLOR, linewidth=1.5, linestyle="--",
                   label=f"cross-validated {name} = {cv_best:.3g}")
        bottom = min(bottom, 0.9 * float(np.nanmin(cv_median)))
    ax.set_ylim(bottom, 1.5 * top)
    ax.set_xscale("log")
    ax.set_xlabel(name)
    ax.set_ylabel("test MSE")
    ax.set_title("Test error near its minimum", fontsize=10)
    # below the axes: inside, its eight entries covered the curves where they rise
    ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.16))


def l2_sweep_figure(alphas, train_mse, test_mse, unregularized_test, noise_var, best_alpha,
                    best_per_seed, title, cv_mse, cv_alpha):
    """Left: train and test MSE (seed, alpha) against alpha, log axes, under ``title`` (what the
    two ends of the sweep do, computed by the experiment). Right: test MSE zoomed, with the
    cross-validated error and choice."""
    fig, (ax, az) = new_figure(11.0, 5.4, ncols=2)
    _train_test_panel(ax, alphas, train_mse, test_mse, unregularized_test, noise_var,
                      "L2 coefficient alpha")
    _mark_best(ax, best_alpha, best_per_seed, "alpha")
    ax.set_title(title, fontsize=10, wrap=True)
    ax.legend(fontsize=7)
    _test_zoom_panel(az, alphas, test_mse, unregularized_test, noise_var, "alpha", best_alpha,
                     cv_mse, cv_alpha)
    fig.suptitle("L2 penalty (weight decay)")
    return fig


def fits_figure(data, grid, fits: dict[str, np.ndarray]):
    """One panel per fit (name -> predictions (seed, grid point)), over the data and truth."""
    fig, axes = new_figure(4.0 * len(fits), 3.6, ncols=len(fits))
    for ax, (name, pred), color in zip(np.atleast_1d(axes), fits.items(), FIT_COLORS):
        draw_course_data(ax, data, grid)
        draw_band(ax, grid, pred, color, "fit")
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle("Fits at the smallest, the best and the largest L2 penalty")
    return fig


def l1_sweep_figure(l1_values, train_mse, test_mse, zeros, n_weights, unregularized_test,
                    noise_var, best_l1, cv_mse, cv_l1):
    """Train/test MSE against l1, the test MSE zoomed (with the cross-validated error), and the
    exactly-zero weights."""
    fig, (ax, at, az) = new_figure(15.0, 5.2, ncols=3)
    _train_test_panel(ax, l1_values, train_mse, test_mse, unregularized_test, noise_var,
                      "L1 coefficient l1")
    ax.axvline(best_l1, color="k", linewidth=1, label=f"best l1 = {best_l1:.3g}")
    ax.set_title("Error", fontsize=10)
    ax.legend(fontsize=7)
    _test_zoom_panel(at, l1_values, test_mse, unregularized_test, noise_var, "l1", best_l1,
                     cv_mse, cv_l1)
    draw_band(az, l1_values, zeros, "tab:green", "exactly-zero weights")
    az.axhline(n_weights, color=NOISE_COLOR, linestyle=":", label=f"all {n_weights} weights")
    az.axvline(best_l1, color="k", linewidth=1)
    az.set_xscale("log")
    az.set_xlabel("L1 coefficient l1")
    az.set_ylabel("weights equal to 0.0")
    az.set_title("Exact zeros", fontsize=10)
    az.legend(fontsize=7)
    fig.suptitle("L1 penalty (proximal soft-threshold step)")
    return fig


def weight_histogram_figure(weights: dict[str, np.ndarray], title: str):
    """Histograms of log10 |w| of all weights (pooled over seeds) per setting.

    ``weights`` maps a label to an array (seed, weight). Exactly-zero weights have no
    logarithm: they are counted in a separate black bar left of the axis break. ``title``
    states the measured counts (computed by the experiment).
    """
    fig, axes = new_figure(4.0 * len(weights), 3.6, ncols=len(weights))
    pooled = np.concatenate([np.ravel(w) for w in weights.values()])
    logs = np.log10(np.abs(pooled[pooled != 0]))
    lo, hi = np.floor(logs.min()), np.ceil(logs.max())
    edges = np.linspace(lo, hi, 41)
    zero_at = lo - 0.1 * (hi - lo)
    for ax, (name, w), color in zip(np.atleast_1d(axes), weights.items(), HIST_COLORS):
        w = np.ravel(w)
        ax.hist(np.log10(np.abs(w[w != 0])), bins=edges, color=color, alpha=0.8,
                label="nonzero weights")
        n_zero = int(np.sum(w == 0))
        ax.bar(zero_at, n_zero, width=(edges[1] - edges[0]) * 2, color="k",
               label=f"exactly 0: {n_zero}")
        ax.set_title(f"{name}\n{n_zero} of {w.size} weights exactly 0", fontsize=9)
        ax.set_xlabel("log10 |weight|  (black bar: w = 0.0)")
        ax.set_ylabel("count (all seeds)")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    return fig


def weight_magnitude_figure(w_in, w_out, normalized, significance, n_significant):
    """Left: |hidden| and |output| weights of one network, units sorted by contribution.

    Right: every seed's contributions |w_out| ||w_in|| divided by its largest, sorted (median
    and band), with the significance threshold.
    """
    fig, (ax, ac) = new_figure(11.0, 4.2, ncols=2)
    units = np.arange(1, len(w_out) + 1)
    ax.bar(units - 0.2, np.abs(w_in), width=0.4, color="tab:blue",
           label="|hidden weight| ||w_in||")
    ax.bar(units + 0.2, np.abs(w_out), width=0.4, color="tab:orange",
           label="|output weight| |w_out|")
    ax.axvline(n_significant + 0.5, color="k", linewidth=1,
               label=f"{n_significant} significant units")
    ax.set_yscale("log")
    ax.set_xlabel("hidden unit (sorted by contribution)")
    ax.set_ylabel("weight magnitude")
    ax.set_title("Best L2 network (median-error seed)")
    ax.legend(fontsize=7)
    draw_band(ac, units, normalized, "tab:green", "contribution / largest")
    ac.axhline(significance, color="k", linestyle="--", linewidth=1,
               label=f"threshold {significance:g}")
    ac.set_yscale("log")
    ac.set_xlabel("rank of the unit")
    ac.set_ylabel("|w_out| ||w_in|| / max")
    ac.set_title("Unit contributions, all seeds")
    ac.legend(fontsize=7)
    return fig


def width_figure(kept, pruned_mse, widths, small_mse, large_mse, chosen, noise_var, cv_mse,
                 cv_widths, cv_width):
    """Test MSE against the number of hidden units: magnitude-pruned regularized networks
    (no retraining) and networks of that width trained without penalty; the large regularized
    network as a horizontal line; the cross-validated error of the small networks (``cv_mse``
    (seed, width) on ``cv_widths``) and its choice."""
    fig, ax = new_figure(7.0, 4.4)
    draw_band(ax, kept, pruned_mse, "tab:green", "pruned best-L2 network")
    draw_band(ax, widths, small_mse, "tab:brown", "small network, no penalty")
    draw_band(ax, cv_widths, cv_mse, CV_COLOR, "small network, cross-validated (training "
              "points)")
    ax.axvline(cv_width, color=CV_COLOR, linestyle="--", linewidth=1.5,
               label=f"cross-validated width {cv_width}")
    ax.axhline(np.median(large_mse), color=TEST_COLOR, linestyle="--", linewidth=1,
               label=f"{kept[-1]}-unit network with best L2 (median)")
    ax.axvline(chosen, color="k", linewidth=1, label=f"{chosen} significant units")
    draw_noise_floor(ax, noise_var)
    ax.set_yscale("log")
    ax.set_xlabel("hidden units")
    ax.set_ylabel("test MSE")
    ax.set_title("Small networks: pruning and training from scratch")
    ax.legend(fontsize=7)
    return fig
