"""Figures of the early-stopping / ridge equivalence on a quadratic cost."""
from __future__ import annotations

import numpy as np

from overfitlab.plots.style import TEST_COLOR, TRAIN_COLOR, TRUTH_COLOR, draw_band, new_figure
from overfitlab.theory.quadratic import QuadraticCost

RIDGE_COLOR = "tab:orange"
DIABETES_COLOR = "tab:green"


def plane_figure(cost: QuadraticCost, gd_path: np.ndarray, ridge_path: np.ndarray,
                 stop: int, ridge_at_stop: np.ndarray, lr: float):
    """Cost contours of a 2-D quadratic, its eigenvector axes through ``w*``, the gradient-descent
    path from 0 with the iterate after ``stop`` steps, and the ridge path from ``alpha`` large
    (near 0) to ``alpha = 0`` (``w*``)."""
    fig, ax = new_figure(6.0, 5.0)
    w_star = cost.w_star
    pts = np.vstack([gd_path, ridge_path, [[0.0, 0.0]], w_star[None]])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.2 * (hi - lo).max()
    lo, hi = lo - pad, hi + pad
    g1, g2 = np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200)
    mesh = np.stack(np.meshgrid(g1, g2), axis=-1)
    levels = cost.c0 + np.geomspace(1e-3, 1.0, 9) * float(cost.cost(np.zeros(2)) - cost.c0)
    ax.contour(g1, g2, cost.cost(mesh), levels=levels, colors="0.7", linewidths=0.8)
    span = 2.0 * (hi - lo).max()
    for j, (mu, u, style) in enumerate(zip(cost.mu, cost.basis.T, ("--", ":"))):
        ends = w_star + np.outer([-span, span], u)
        ax.plot(*ends.T, style, color=TRUTH_COLOR, lw=1,
                label=f"eigenvector u{j + 1} = ({u[0]:.2f}, {u[1]:.2f}), mu={mu:.2g}")
    ax.plot(*gd_path.T, ".-", color=TRAIN_COLOR, ms=3, lw=1,
            label=f"gradient descent, lr={lr:g}")
    ax.plot(*gd_path[stop], "o", color=TRAIN_COLOR, ms=8, mfc="none", mew=2,
            label=f"stopped after n={stop} steps")
    ax.plot(*ridge_path.T, "-", color=RIDGE_COLOR, lw=2, label="ridge path, alpha: inf -> 0")
    ax.plot(*ridge_at_stop, "s", color=RIDGE_COLOR, ms=7, mfc="none", mew=2,
            label=f"ridge at alpha=1/(n lr)={1 / (stop * lr):.3g}")
    ax.plot(*w_star, "*", color=TRUTH_COLOR, ms=12, label="w* (minimum)")
    ax.plot(0, 0, "k+", ms=10)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("w1")
    ax.set_ylabel("w2")
    ax.set_aspect("equal")
    ax.set_title("Early stopping vs L2 on a quadratic cost")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def alpha_figure(inv_n_lr: np.ndarray, alpha: np.ndarray, inv_n_lr_diabetes: np.ndarray,
                 alpha_diabetes: np.ndarray, small_mu_edge: float, diabetes_edge: float,
                 title: str):
    """Left: the ridge ``alpha`` nearest to ``w(n)`` against ``1/(n lr)`` (median and 10-90 %
    band over random matrices; the diabetes Hessian) with the line ``alpha = 1/(n lr)``. Right:
    ``alpha n lr``. ``*_edge`` are the ``1/(n lr)`` above which ``n lr mu_max`` is small;
    ``title`` carries the measured median of ``alpha n lr``."""
    fig, (left, right) = new_figure(11.0, 4.2, ncols=2)
    draw_band(left, inv_n_lr, alpha, TRAIN_COLOR, "random SPD H")
    left.plot(inv_n_lr_diabetes, alpha_diabetes, color=DIABETES_COLOR, label="diabetes H")
    ends = np.array([min(inv_n_lr.min(), inv_n_lr_diabetes.min()),
                     max(inv_n_lr.max(), inv_n_lr_diabetes.max())])
    left.plot(ends, ends, "k--", lw=1, label="alpha = 1/(n lr)")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("1 / (n lr)")
    left.set_ylabel("nearest ridge alpha")
    draw_band(right, inv_n_lr, alpha * (1.0 / inv_n_lr), TRAIN_COLOR, "random SPD H")
    right.plot(inv_n_lr_diabetes, alpha_diabetes / inv_n_lr_diabetes, color=DIABETES_COLOR,
               label="diabetes H")
    right.axhline(1.0, color="k", ls="--", lw=1)
    right.set_xscale("log")
    right.set_xlabel("1 / (n lr)")
    right.set_ylabel("alpha * n * lr")
    for ax in (left, right):
        ax.axvspan(small_mu_edge, ends[1], color=TRAIN_COLOR, alpha=0.07,
                   label="n lr mu_max small (random H)")
        ax.axvline(diabetes_edge, color=DIABETES_COLOR, ls=":", lw=1)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return fig


def filters_figure(x: np.ndarray, fraction: np.ndarray, error_x: np.ndarray,
                   small_mu_error: np.ndarray):
    """Left: measured ``w_j(n)/w*_j`` against ``x = n lr mu_j`` with the filters ``1 - e^-x``
    (early stopping for small ``lr mu``), ``x/(1+x)`` (ridge at ``alpha = 1/(n lr)``) and ``x``
    (small-mu approximation). Right: ``small_mu_error = |x - w_j(n)/w*_j|`` at ``error_x``
    with ``x^2/2``."""
    fig, (left, right) = new_figure(11.0, 4.2, ncols=2)
    grid = np.geomspace(x.min(), x.max(), 300)
    left.plot(x, fraction, ".", color=TRAIN_COLOR, ms=2, alpha=0.4, label="measured w_j(n)/w*_j")
    left.plot(grid, -np.expm1(-grid), color=TRUTH_COLOR, lw=1.5, label="1 - exp(-x)")
    left.plot(grid, grid / (1 + grid), color=RIDGE_COLOR, lw=1.5,
              label="ridge mu/(mu+alpha), alpha=1/(n lr)")
    left.plot(grid, grid, color=TEST_COLOR, ls="--", lw=1, label="small-mu: n lr mu")
    left.set_xscale("log")
    left.set_ylim(-0.05, 1.1)
    left.set_xlabel("x = n lr mu_j")
    left.set_ylabel("fraction of w*_j reached")
    left.legend(fontsize=7)
    keep = small_mu_error > 0
    right.loglog(error_x[keep], small_mu_error[keep], ".", color=TRAIN_COLOR, ms=2, alpha=0.4,
                 label="|n lr mu_j - w_j(n)/w*_j|")
    small = grid[grid <= 1]
    right.loglog(small, small**2 / 2, color=TEST_COLOR, lw=1.5, label="x^2 / 2")
    right.set_xlabel("x = n lr mu_j")
    right.set_ylabel("error of the small-mu approximation")
    right.legend(fontsize=7)
    return fig


def divergence_figure(steps: np.ndarray, below: np.ndarray, above: np.ndarray,
                      lr_below: float, lr_above: float, threshold: float, measured: float):
    """Relative error ``|w(n) - w*| / |w*|`` for rates just below and just above ``2/mu_max``
    (``threshold``); ``measured`` is the threshold found from gradient-descent runs."""
    fig, ax = new_figure(6.4, 4.0)
    ax.semilogy(steps, below, color=TRAIN_COLOR, label=f"lr = {lr_below:.5g} (below)")
    ax.semilogy(steps, above, color=TEST_COLOR, label=f"lr = {lr_above:.5g} (above)")
    ax.axhline(1.0, color="0.5", lw=0.8)
    ax.set_xlabel("gradient-descent step n")
    ax.set_ylabel("|w(n) - w*| / |w*|")
    ax.set_title(f"Diabetes H: 2/mu_max = {threshold:.8g}, measured {measured:.8g}", fontsize=10)
    ax.legend(fontsize=8)
    return fig
