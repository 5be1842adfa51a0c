"""Figures of the double-descent experiment: error against size p / n (log axes), median and
10-90 % band over seeds, the threshold p = n marked."""
from __future__ import annotations

import numpy as np

from overfitlab.plots.style import (TEST_COLOR, TRAIN_COLOR, TRUTH_COLOR, draw_band,
                                    draw_noise_floor, new_figure)

TRAINED_COLOR = "tab:purple"
RIDGE_COLORS = ("tab:orange", "tab:olive", "tab:brown", "tab:cyan")
ZERO_FLOOR = 1e-30
"""Train MSE below this (zero to float precision) is drawn at it on the log axis."""
TEST_TOP = 100.0
"""Test-MSE axes stop here (the peak's band reaches far higher; the answers give its size)."""


def _cut(ax) -> str:
    """Cut the y axis at TEST_TOP if the data go above; the note for the label."""
    if ax.get_ylim()[1] > TEST_TOP:
        ax.set_ylim(top=TEST_TOP)
        return f" (axis cut at {TEST_TOP:g})"
    return ""


def _threshold(ax) -> None:
    ax.axvline(1.0, color="k", linewidth=0.8, linestyle="--", label="p = n")
    ax.set_xscale("log")
    ax.set_yscale("log")


def curves_figure(c, widths, t_train, t_test, noise_var):
    """Test (top) and train (bottom) MSE against p / n: random features (minimum norm, ridge
    medians) and the trained network."""
    fig, (top, bottom) = new_figure(width=8.0, height=7.5, nrows=2)
    r = c.sizes / c.n
    rw = np.asarray(widths) / c.n
    draw_band(top, r, c.test[:, 0], TEST_COLOR, "random features, minimum norm")
    for k, a in enumerate(c.alphas[1:], start=1):
        top.plot(r, np.median(c.test[:, k], axis=0), color=RIDGE_COLORS[(k - 1) % 4],
                 linewidth=1.2, label=f"random features, ridge alpha = {a:g} (median)")
    draw_band(top, rw, t_test, TRAINED_COLOR, "trained network")
    draw_noise_floor(top, noise_var)
    _threshold(top)
    top.set_ylabel("test MSE" + _cut(top))
    top.set_title(f"Double descent: n = {c.n} training points", fontsize=11)
    top.legend(fontsize=7)
    draw_band(bottom, r, np.maximum(c.train[:, 0], ZERO_FLOOR), TRAIN_COLOR,
              "random features, minimum norm")
    draw_band(bottom, rw, np.maximum(t_train, ZERO_FLOOR), TRAINED_COLOR, "trained network")
    draw_noise_floor(bottom, noise_var)
    _threshold(bottom)
    bottom.set_xlabel("hidden units per training point, p / n")
    bottom.set_ylabel(f"train MSE (0 drawn at {ZERO_FLOOR:g})")
    bottom.legend(fontsize=7)
    return fig


def shift_figure(curves, noise_var):
    """Median minimum-norm test MSE against p (left) and p / n (right) for each n."""
    fig, axes = new_figure(width=11.0, height=4.0, ncols=2)
    for k, c in enumerate(curves):
        color = f"C{k}"
        for ax, x in zip(axes, (c.sizes, c.sizes / c.n)):
            draw_band(ax, x, c.test[:, 0], color, f"n = {c.n}", alpha=0.12)
    for ax, label in zip(axes, ("hidden units p", "p / n")):
        draw_noise_floor(ax, noise_var)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("test MSE" + _cut(ax))
    axes[1].axvline(1.0, color="k", linewidth=0.8, linestyle="--")
    axes[0].set_title("The peak sits at p = n ...", fontsize=10)
    axes[1].set_title("... so it moves with the number of training points", fontsize=10)
    axes[1].legend(fontsize=7)
    fig.suptitle("Minimum-norm random features: median test MSE and 10-90 % band over seeds",
                 fontsize=10)
    return fig


def fits_figure(grid, truth, x, y, fits, n, seed):
    """One seed's minimum-norm fits (alpha = 0) for a few sizes ({p: (alpha, n_grid)})."""
    fig, axes = new_figure(width=4.0 * len(fits), height=3.6, ncols=len(fits))
    lo, hi = np.min(y) - 0.5, np.max(y) + 0.5
    for ax, (p, f) in zip(np.atleast_1d(axes), fits.items()):
        fit = f[0]
        ax.plot(grid, truth, "--", color=TRUTH_COLOR, label="truth f(x)")
        ax.plot(grid, np.clip(fit, lo, hi), color=TEST_COLOR, label="minimum-norm fit")
        ax.plot(x, y, "o", color=TRAIN_COLOR, label="training data")
        ax.set_ylim(lo, hi)
        ax.set_xlabel("x")
        clipped = " (clipped)" if np.any((fit < lo) | (fit > hi)) else ""
        ax.set_title(f"p = {p} (p/n = {p / n:.2g}){clipped}, max |f| = "
                     f"{np.max(np.abs(fit)):.3g}", fontsize=9)
    np.atleast_1d(axes)[0].set_ylabel("y")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.suptitle(f"Minimum-norm fits below, at and far above the threshold p = n = {n} (seed "
                 f"{seed}: the median test error at p = n)", fontsize=10)
    return fig
