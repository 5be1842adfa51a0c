"""Figures of the early-stopping experiment."""
from __future__ import annotations

import numpy as np

from overfitlab.plots.style import (NOISE_COLOR, TEST_COLOR, TRAIN_COLOR, draw_band,
                                    draw_course_data, draw_noise_floor, new_figure)


def data_figure(data, grid, fits, n_iter, title):
    """Training/test data, the truth, and the fits after ``n_iter`` iterations (band); the
    ``title`` states what the measured errors say (computed by the experiment)."""
    fig, ax = new_figure()
    draw_course_data(ax, data, grid)
    draw_band(ax, grid, fits, "tab:green", f"fit after {n_iter} iterations")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def curves_figure(steps, train_curve, test_curve, noise_var, n_star, best_per_seed, title):
    """Train and test MSE against iteration (log x), median and 10-90 % band over seeds; the
    ``title`` says what the measured curve does (computed by the experiment)."""
    fig, ax = new_figure()
    draw_band(ax, steps, train_curve, TRAIN_COLOR, "train MSE")
    draw_band(ax, steps, test_curve, TEST_COLOR, "test MSE")
    draw_noise_floor(ax, noise_var)
    ax.axvline(n_star, color="k", linewidth=1, label=f"best iteration {n_star}")
    ax.axvspan(np.percentile(best_per_seed, 10), np.percentile(best_per_seed, 90),
               color=NOISE_COLOR, alpha=0.12, label="best iteration, 10-90 % over seeds")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("mean squared error")
    ax.set_title(title, fontsize=10, wrap=True)
    ax.legend(fontsize=8)
    return fig


def refit_figure(data, grid, fits_long, fits_refit, n_iter, n_star):
    """The network retrained to the best iteration against the overfit one."""
    fig, ax = new_figure()
    draw_course_data(ax, data, grid)
    draw_band(ax, grid, fits_long, "tab:gray", f"{n_iter} iterations")
    draw_band(ax, grid, fits_refit, "tab:green", f"retrained to {n_star} iterations")
    ax.set_title("Early stopping: retrained to the best iteration")
    ax.legend(fontsize=8)
    return fig
