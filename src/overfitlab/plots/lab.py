"""Figures of the ensemble, dropout and sample-size experiments."""
from __future__ import annotations

import numpy as np

from overfitlab.stats import band
from overfitlab.plots.style import (TEST_COLOR, TRAIN_COLOR, TRUTH_COLOR, draw_band,
                                    draw_course_data, draw_noise_floor, new_figure)

ENSEMBLE_COLOR = "tab:green"
MEMBER_COLOR = "tab:gray"


# --------------------------------------------------------------------------- ensemble
def ensemble_size_figure(ens_curve, member_mse, noise_var, bagging: bool):
    """Test MSE of the average of the first K members against K; members' median as a band."""
    fig, ax = new_figure()
    k = np.arange(1, ens_curve.shape[1] + 1)
    draw_band(ax, k, ens_curve, ENSEMBLE_COLOR, "average of K networks")
    med, lo, hi = band(np.median(member_mse, axis=1))
    ax.axhline(med, color=MEMBER_COLOR, label="median member (median over ensembles)")
    ax.axhspan(lo, hi, color=MEMBER_COLOR, alpha=0.15, linewidth=0,
               label="median member 10-90 %")
    draw_noise_floor(ax, noise_var)
    ax.set_xscale("log")
    ax.set_xlabel("ensemble size K")
    ax.set_ylabel("test MSE")
    ax.set_title("Bagged ensemble" if bagging else "Ensemble of initialisations")
    ax.legend(fontsize=8)
    return fig


def members_figure(member_mse, ens_mse, noise_var):
    """Histogram of every member's test MSE, with the ensembles' test MSE marked."""
    fig, ax = new_figure()
    ax.hist(member_mse.ravel(), bins=30, color=MEMBER_COLOR, alpha=0.7, label="members")
    for i, value in enumerate(np.sort(ens_mse)):
        ax.axvline(value, color=ENSEMBLE_COLOR, linewidth=1.2,
                   label="ensemble averages" if i == 0 else None)
    ax.axvline(np.median(member_mse), color="k", linestyle="--", label="median member")
    ax.axvline(noise_var, color="0.4", linestyle=":", linewidth=1.5,
               label=f"noise variance {noise_var:g}")
    ax.set_xlabel("test MSE")
    ax.set_ylabel("networks")
    ax.set_title("Members' test error and their averages")
    ax.legend(fontsize=8)
    return fig


def ensemble_fits_figure(data, grid, fits):
    """The members' fits (thin) and their average (bold) over the data."""
    fig, ax = new_figure()
    for i, fit in enumerate(fits):
        ax.plot(grid, fit, color=MEMBER_COLOR, linewidth=0.6, alpha=0.5,
                label="members" if i == 0 else None)
    ax.plot(grid, fits.mean(axis=0), color=ENSEMBLE_COLOR, linewidth=2.5,
            label=f"average of {len(fits)}")
    draw_course_data(ax, data, grid, test_points=False)
    ax.set_ylim(np.min(data.y_train) - 0.5, np.max(data.y_train) + 0.5)
    ax.set_title("Members (thin) and their average (bold)")
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------- dropout
def dropout_rate_figure(rates, train_mse, test_mse, mc_test_mse, noise_var, best_rate,
                        cv_mse, cv_rate):
    """Train/test MSE against the dropout rate (median and band over seeds, axis 0), the
    cross-validated error of the training points (``cv_mse`` (seed, rate)) and its choice."""
    order = np.argsort(rates)
    rates, train_mse, test_mse, mc_test_mse, cv_mse = (
        np.asarray(a)[..., order] for a in (rates, train_mse, test_mse, mc_test_mse, cv_mse))
    fig, ax = new_figure()
    draw_band(ax, rates, train_mse, TRAIN_COLOR, "train MSE")
    draw_band(ax, rates, test_mse, TEST_COLOR, "test MSE")
    draw_band(ax, rates, cv_mse, "tab:olive", "cross-validated MSE (training points)")
    ax.plot(rates, np.nanmedian(mc_test_mse, axis=0), "x", color="tab:purple", markersize=8,
            label="test MSE of the Monte-Carlo average (median)")
    draw_noise_floor(ax, noise_var)
    ax.axvline(best_rate, color="k", linewidth=1, label=f"test-picked rate {best_rate:g}")
    ax.axvline(cv_rate, color="tab:olive", linewidth=1.5, linestyle="--",
               label=f"cross-validated rate {cv_rate:g}")
    ax.set_yscale("log")
    ax.set_xlabel("dropout rate p")
    ax.set_ylabel("mean squared error")
    ax.set_title("Dropout on the hidden units")
    ax.legend(fontsize=8)
    return fig


def dropout_fits_figure(data, grid, rates, fits, mc_samples):
    """Fits for a few rates: the deterministic network and the Monte-Carlo 10-90 % band.

    ``fits``: (R, n_grid) deterministic predictions; ``mc_samples``: (R, T, n_grid).
    """
    fig, axes = new_figure(width=4.0 * len(rates), height=3.6, ncols=len(rates))
    for ax, rate, fit, mc in zip(np.atleast_1d(axes), rates, fits, mc_samples):
        med, lo, hi = band(mc, axis=0)
        ax.fill_between(grid, lo, hi, color="tab:purple", alpha=0.2, linewidth=0,
                        label="thinned networks 10-90 %")
        ax.plot(grid, fit, color="tab:purple", linewidth=2, label="prediction (no dropout)")
        draw_course_data(ax, data, grid, test_points=False)
        ax.set_ylim(np.min(data.y_train) - 0.5, np.max(data.y_train) + 0.5)
        ax.set_title(f"dropout rate {rate:g}")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    return fig


# --------------------------------------------------------------------------- sample size
def sample_size_figure(n_values, train_mse, test_mse, expected_test, noise_var, title):
    """Train and test MSE against n (log-log), median and band over seeds (axis 0)."""
    fig, ax = new_figure()
    draw_band(ax, n_values, train_mse, TRAIN_COLOR, "train MSE")
    draw_band(ax, n_values, test_mse, TEST_COLOR, "test MSE")
    ax.plot(n_values, np.median(expected_test, axis=0), "s", color="tab:orange",
            markersize=5, label="noise variance + squared error to the truth (median)")
    draw_noise_floor(ax, noise_var)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training points n")
    ax.set_ylabel("mean squared error")
    ax.set_title(title, fontsize=10, wrap=True)
    ax.legend(fontsize=8)
    return fig


def sample_size_fits_figure(datasets, grid, fits):
    """One panel per n: the training data (subsampled to 200 points) and the fits' band."""
    fig, axes = new_figure(width=4.0 * len(datasets), height=3.6, ncols=len(datasets))
    for ax, data, fit in zip(np.atleast_1d(axes), datasets, fits):
        step = max(1, len(data.y_train) // 200)
        marker = "o" if len(data.y_train) <= 50 else "."
        label = "training data" + (f" (1 in {step})" if step > 1 else "")
        ax.plot(data.X_train[::step, 0], data.y_train[::step], marker, color=TRAIN_COLOR,
                alpha=0.6, label=label)
        ax.plot(grid, data.truth(grid), "--", color=TRUTH_COLOR, label="truth f(x)")
        draw_band(ax, grid, fit, "tab:green", "fit")
        truth = data.truth(grid)
        ax.set_ylim(truth.min() - 3 * data.noise, truth.max() + 3 * data.noise)
        ax.set_xlabel("x")
        ax.set_title(f"n = {len(data.y_train)}")
    np.atleast_1d(axes)[0].set_ylabel("y")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    return fig
