"""Figures of gradient magnitudes through depth: the chain network and wide deep MLPs.

All curves are medians over seeds with their 10-90 % band; exact zeros (dead ReLU units) are
left out (set to NaN) because a log axis cannot show them.
"""
from __future__ import annotations

import warnings

import matplotlib as mpl
import numpy as np

from overfitlab.plots.style import draw_band, new_figure

ACTIVATION_COLORS = {"sigmoid": "tab:blue", "tanh": "tab:orange", "relu": "tab:green"}
INIT_LABELS = {"naive": "naive N(0, 1)", "glorot": "Glorot", "he": "He"}
INIT_COLORS = {"naive": "tab:red", "glorot": "tab:purple", "he": "tab:green"}


def _band(ax, x, values, color, label, alpha=0.2):
    """Median and 10-90 % band over seeds of positive values (zeros cannot show on log axes)."""
    v = np.asarray(values, dtype=float)
    draw_band(ax, x, np.where(np.isfinite(v) & (v > 0), v, np.nan), color, label, alpha=alpha)


def chain_gradient_figure(grads: dict, bound_layer1: dict, lengths, activations):
    """Semilog |dC/dw_l| against epoch, one curve per layer (colour = layer, dark = input side).

    ``grads[(activation, L)]`` has shape (seed, epoch, L-1). Rows: activations; columns:
    lengths. In the sigmoid row the dashed black line is the bound on layer 1,
    (1/4)^(L-2) |dC/db_(L-1)| (median over seeds, drawn while every |w| <= 1).
    """
    fig, axes = new_figure(4.2 * len(lengths), 3.2 * len(activations),
                           ncols=len(lengths), nrows=len(activations))
    axes = np.asarray(axes).reshape(len(activations), len(lengths))
    cmap = mpl.colormaps["viridis"]
    for r, act in enumerate(activations):
        for c, length in enumerate(lengths):
            ax = axes[r, c]
            g = grads[(act, length)]
            epochs = np.arange(g.shape[1])
            for layer in range(length - 1):
                color = cmap(layer / max(length - 2, 1))
                _band(ax, epochs, g[:, :, layer], color, f"layer {layer + 1}", alpha=0.08)
            if act == "sigmoid":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    ax.plot(epochs, np.nanmedian(bound_layer1[length], axis=0), "k--", lw=1.2,
                            label="bound on layer 1: (1/4)^(L-2) |dC/db_(L-1)|")
                ax.legend(handles=ax.get_lines()[-1:], fontsize=7, loc="lower right")
            ax.set_yscale("log")
            ax.set_title(f"{act}, L = {length}", fontsize=10)
            ax.set_xlabel("epoch")
            ax.set_ylabel("|dC/dw_l|")
            norm = mpl.colors.Normalize(1, length - 1)
            if c == len(lengths) - 1:
                fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="layer l")
    fig.suptitle("Gradient per layer during training (median over seeds, 10-90 % band)")
    return fig


def chain_profile_figure(profiles: dict, lengths, activations, derivative_max: float):
    """|dC/dw_l| / |dC/db_(L-1)| against layer at initialisation, with the sigmoid bound.

    ``profiles[(activation, L)]`` has shape (seed, L-1). The black dashed line is
    (derivative_max)^(L-1-l): every sigmoid chain with weights in [0, 1] lies below it.
    """
    fig, axes = new_figure(4.2 * len(lengths), 3.6, ncols=len(lengths))
    for ax, length in zip(np.atleast_1d(axes), lengths):
        layers = np.arange(1, length)
        for act in activations:
            _band(ax, layers, profiles[(act, length)], ACTIVATION_COLORS[act], act)
        ax.plot(layers, derivative_max ** (length - 1 - layers), "k--", lw=1.2,
                label="sigmoid bound (1/4)^(L-1-l)")
        ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
        ax.set_yscale("log")
        ax.set_xlabel("layer l (1 = next to the input)")
        ax.set_ylabel("|dC/dw_l| / |dC/db_(L-1)|")
        ax.set_title(f"L = {length}, at initialisation", fontsize=10)
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Chain network: gradient relative to the output error")
    return fig


def mlp_init_figure(norms: dict, activations, inits, width: int):
    """Semilog ||dLoss/dW_l||_F against hidden layer for each activation and initialisation.

    ``norms[(activation, init)]`` has shape (seed, layer).
    """
    fig, axes = new_figure(4.2 * len(activations), 3.6, ncols=len(activations))
    for ax, act in zip(np.atleast_1d(axes), activations):
        for init in inits:
            values = norms[(act, init)]
            _band(ax, np.arange(1, values.shape[1] + 1), values, INIT_COLORS[init],
                  INIT_LABELS[init])
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
        ax.set_xlabel("hidden layer l (1 = next to the input)")
        ax.set_ylabel("||dLoss/dW_l||")
        ax.set_title(act, fontsize=10)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.suptitle(f"Deep MLP ({width} units per layer) at initialisation: gradient norm per layer")
    return fig
