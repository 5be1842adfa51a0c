"""Figures of the bias-variance experiment.

A *knob* (see :class:`overfitlab.experiments.bias_variance.Knob`) holds, per swept value and
repetition, the expected test MSE and its components. Panels stack the medians over repetitions
(noise, bias^2, data variance, initialisation variance, from the bottom) and draw the median
expected test MSE, measured directly, with its 10-90 % band over repetitions on top.
"""
from __future__ import annotations

import numpy as np

from overfitlab.plots.style import NOISE_COLOR, TRAIN_COLOR, TRUTH_COLOR, new_figure
from overfitlab.stats import band

LAYERS = (("noise", "noise (irreducible)", "0.85"), ("bias2", "bias$^2$", "tab:orange"),
          ("data_variance", "data variance", "tab:blue"),
          ("init_variance", "initialisation variance", "tab:green"))


def _stack_panel(ax, k, noise_var: float, title: str | None = None) -> None:
    """Stacked median components of knob ``k`` and the expected MSE band over repetitions."""
    x = np.asarray(k.values, float)
    layers = [np.full(len(x), noise_var)] + [np.clip(k.median(c), 0, None)
                                             for c, _, _ in LAYERS[1:]]
    ax.stackplot(x, *layers, colors=[c for _, _, c in LAYERS],
                 labels=[label for _, label, _ in LAYERS], alpha=0.75)
    med, lo, hi = band(k.table["expected_mse"])
    ax.fill_between(x, lo, hi, facecolor="none", edgecolor="k", hatch="////", linewidth=0,
                    alpha=0.45, label="expected test MSE 10-90 %")
    ax.plot(x, med, "o-", color="k", markersize=3, linewidth=1.2,
            label="expected test MSE (median)")
    if k.log_x:
        ax.set_xscale("log")
    if all(float(v).is_integer() for v in x):
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.minorticks_off()
    ax.set_xlabel(k.label)
    ax.set_ylim(0, 1.05 * float(np.nanmax(hi)))
    ax.set_title(title or f"against {k.label}", fontsize=10, wrap=True)


def decomposition_figure(knobs, noise_var: float):
    """One stacked panel per knob, a shared legend in the last cell."""
    ncols = 3
    nrows = -(-(len(knobs) + 1) // ncols)
    fig, axes = new_figure(width=12.0, height=3.4 * nrows, ncols=ncols, nrows=nrows)
    axes = np.atleast_1d(axes).ravel()
    for ax, k in zip(axes, knobs):
        _stack_panel(ax, k, noise_var)
    for ax in axes[::ncols]:
        ax.set_ylabel("expected test MSE")
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[len(knobs):]:
        ax.axis("off")
    axes[len(knobs)].legend(handles, labels, loc="center", fontsize=9)
    fig.suptitle("Expected test MSE = noise + bias$^2$ + data variance + initialisation "
                 "variance (medians over repetitions)", fontsize=11)
    return fig


def ensembles_figure(plain, bagged, noise_var: float):
    """Stacked decomposition against the ensemble size, plain ensembles and bagging."""
    fig, axes = new_figure(width=10.0, height=3.8, ncols=2)
    _stack_panel(axes[0], plain, noise_var, "ensembles of initialisations")
    _stack_panel(axes[1], bagged, noise_var,
                 "bagged ensembles (green: initialisation + resampling variance)")
    top = max(ax.get_ylim()[1] for ax in axes)
    for ax in axes:
        ax.set_ylim(0, top)
    axes[0].set_ylabel("expected test MSE")
    axes[0].legend(fontsize=7, loc="upper right")
    return fig


def fits_figure(grid, truth, x, y_sets, preds, k, settings):
    """Fits of one block's data sets at two settings of knob ``k`` (indices ``settings``).

    ``preds`` holds one (D, S, n_grid) array per setting; each data set's fit is its mean over
    initialisations (one colour per data set, its training points in the same colour), the
    thick line the mean over data sets.
    """
    fig, axes = new_figure(width=10.0, height=3.8, ncols=len(settings))
    colors = [f"C{i}" for i in range(10)]
    for ax, p, i in zip(np.atleast_1d(axes), preds, settings):
        per_set = np.nanmean(p, axis=1)  # (D, G)
        for d, fit in enumerate(per_set):
            c = colors[d % len(colors)]
            ax.plot(grid, fit, color=c, linewidth=1, alpha=0.8)
            ax.plot(x, y_sets[d], "o", color=c, markersize=3, alpha=0.6)
        ax.plot(grid, np.nanmean(per_set, axis=0), color=TRAIN_COLOR, linewidth=3,
                label="mean over data sets")
        ax.plot(grid, truth, "--", color=TRUTH_COLOR, label="truth f(x)")
        b, dv, iv = (k.median(c)[i] for c in ("bias2", "data_variance", "init_variance"))
        ax.set_title(f"{k.label} = {k.values[i]:g}: bias$^2$ {b:.4f}, variance "
                     f"{dv + iv:.4f}", fontsize=10)
        ax.set_xlabel("x")
        ax.set_ylim(np.min(y_sets) - 0.3, np.max(y_sets) + 0.3)
    np.atleast_1d(axes)[0].set_ylabel("y")
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="upper center")
    fig.suptitle(f"{len(preds[0])} data sets (one colour each, mean over initialisations): "
                 "lowest-bias and lowest-variance settings", fontsize=11, color=NOISE_COLOR)
    return fig
