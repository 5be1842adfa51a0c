"""Shared figure conventions: sizes, the seed band, the noise floor.

Figures are plain ``matplotlib.figure.Figure`` objects, not pyplot figures: they need no
backend, leave no global state behind, and display inline in notebooks all the same.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from overfitlab.stats import band

TRAIN_COLOR = "tab:blue"
TEST_COLOR = "tab:red"
TRUTH_COLOR = "black"
NOISE_COLOR = "0.4"


def new_figure(width: float = 6.4, height: float = 4.0, ncols: int = 1, nrows: int = 1):
    """A figure with a grid of axes (squeezed), using constrained layout."""
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols)
    return fig, axes


def draw_band(ax, x, values, color, label, axis: int = 0, alpha: float = 0.2):
    """Draw the median of ``values`` over seeds (``axis``) and its 10-90 % band."""
    med, lo, hi = band(values, axis=axis)
    ax.plot(x, med, color=color, label=f"{label} (median)")
    ax.fill_between(x, lo, hi, color=color, alpha=alpha, linewidth=0, label=f"{label} 10-90 %")
    return med


def draw_course_data(ax, data, grid, test_points: bool = True) -> None:
    """The truth f(x) on ``grid``, the training points and (optionally) the test points."""
    ax.plot(grid, data.truth(grid), "--", color=TRUTH_COLOR, label="truth f(x)")
    if test_points:
        ax.plot(data.X_test[:, 0], data.y_test, ".", color=TEST_COLOR, alpha=0.4,
                label="test data")
    ax.plot(data.X_train[:, 0], data.y_train, "o", color=TRAIN_COLOR, label="training data")
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def draw_noise_floor(ax, variance: float, label: str | None = None):
    """Horizontal line at the irreducible error (noise variance)."""
    ax.axhline(variance, color=NOISE_COLOR, linestyle=":", linewidth=1.5,
               label=label or f"noise variance {variance:g} (irreducible)")


def log_ticks_ok(values) -> bool:
    """True when all values are positive, so a log axis can show them."""
    v = np.asarray(values, dtype=float)
    return bool(np.all(v[np.isfinite(v)] > 0))
