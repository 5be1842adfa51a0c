"""Figures of the cnn-regularization experiment: accuracy and train-test gap against the
training-set size, and learning curves at one size, one line (median over seeds, 10-90 % band)
per regularizer."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from overfitlab.plots.style import draw_band, new_figure

# one color per recipe; the plain network black, "all together" dashed
_COLORS = ("black", "tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:red")


def _style(j: int, n_recipes: int) -> dict:
    return {"color": _COLORS[j % len(_COLORS)], "linestyle": "--" if j == n_recipes - 1 else "-"}


def _lines(ax, x, values: np.ndarray, labels: Sequence[str], scale: float = 100.0) -> None:
    """One median line and band per recipe; ``values`` ``(len(x), recipes, seeds)``."""
    for j, label in enumerate(labels):
        med = draw_band(ax, x, scale * values[:, j, :], _style(j, len(labels))["color"], label,
                        axis=1, alpha=0.12)
        ax.lines[-1].set_linestyle(_style(j, len(labels))["linestyle"])
        ax.plot(x, med, "o", color=_style(j, len(labels))["color"], markersize=3)


def size_figure(n_values: Sequence[int], labels: Sequence[str], test: np.ndarray,
                gap: np.ndarray):
    """Test accuracy and train-test gap (percentage points) against the training-set size;
    ``test`` and ``gap`` are ``(sizes, recipes, seeds)``."""
    fig, (ax_acc, ax_gap) = new_figure(11.0, 4.4, ncols=2)
    _lines(ax_acc, n_values, test, labels)
    _lines(ax_gap, n_values, gap, labels)
    ax_gap.axhline(0, color="0.5", linewidth=0.8)
    for ax in (ax_acc, ax_gap):
        ax.set_xscale("log")
        ax.set_xticks(list(n_values), [str(n) for n in n_values])
        ax.minorticks_off()
        ax.set_xlabel("training images n")
    ax_acc.set(ylabel="test accuracy (%)", title="Test accuracy against training-set size")
    ax_gap.set(ylabel="train - test accuracy (points)", title="Train-test gap (overfitting)")
    _legend(ax_acc)
    return fig


def learning_curves_figure(steps: np.ndarray, labels: Sequence[str], train: np.ndarray,
                           test: np.ndarray, early_stops: np.ndarray, n: int):
    """Training (evaluation mode) and test accuracy at each checkpoint for one size; ``train``
    and ``test`` are ``(recipes, seeds, checkpoints)``; ``early_stops`` the checkpoint step
    each seed's early-stopping network kept."""
    fig, (ax_train, ax_test) = new_figure(11.0, 4.4, ncols=2)
    for ax, values in ((ax_train, train), (ax_test, test)):
        _lines(ax, steps, np.moveaxis(values, -1, 0), labels)
        ax.set_xlabel("optimizer step")
    kept = np.unique(early_stops)
    label = "early-stopping checkpoints kept" if len(kept) > 1 else "early-stopping checkpoint kept"
    for k, step in enumerate(kept):
        ax_test.axvline(step, color=_COLORS[5], linewidth=0.8, linestyle=":",
                        label=label if k == 0 else None)
    ax_train.set(ylabel="training accuracy (%)", title=f"Training images (n = {n})")
    ax_test.set(ylabel="test accuracy (%)", title=f"Test images (n = {n})")
    _legend(ax_test)
    return fig


def _legend(ax) -> None:
    """Legend of the median lines only (bands are explained in the titles' convention)."""
    handles, names = ax.get_legend_handles_labels()
    keep = [(h, t.replace(" (median)", "")) for h, t in zip(handles, names)
            if not t.endswith("10-90 %")]
    ax.legend(*zip(*keep), fontsize=8, title="median, 10-90 % band", title_fontsize=8)
