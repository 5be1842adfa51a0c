"""Figures of the cnn experiment: learning curves, confusion matrix, filters, feature maps and
misclassified images."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from overfitlab.plots.style import TEST_COLOR, TRAIN_COLOR, new_figure


def _grid(n: int, max_cols: int = 8) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def _show_image(ax, image: np.ndarray, cmap: str = "gray") -> None:
    """Draw an (H, W, C) image: gray when C == 1, RGB rescaled to [0, 1] when C == 3."""
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap=cmap)
    else:
        lo, hi = image.min(), image.max()
        ax.imshow((image - lo) / (hi - lo + 1e-12))
    ax.set_xticks([])
    ax.set_yticks([])


def learning_curves(histories: dict[str, dict[str, np.ndarray]]):
    """Loss and accuracy against epochs, per model: training batches (dropout on, averaged
    between progress reports, several points per epoch) and the test set after each epoch."""
    fig, (ax_loss, ax_acc) = new_figure(10.0, 4.0, ncols=2)
    styles = ["-", "--", ":"]
    for (name, h), style in zip(histories.items(), styles):
        epochs = np.arange(1, len(h["test_loss"]) + 1)
        for ax, key in ((ax_loss, "loss"), (ax_acc, "accuracy")):
            ax.plot(h["step_epoch"], h[f"step_{key}"], style, color=TRAIN_COLOR,
                    label=f"{name} train batches")
            ax.plot(epochs, h[f"test_{key}"], style, color=TEST_COLOR, marker="o",
                    markersize=4, label=f"{name} test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Loss", yscale="log")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    ax_acc.legend(fontsize=8)
    return fig


def confusion_matrix(counts: np.ndarray, class_names: Sequence[str]):
    """Counts of (true class, predicted class) on the test set, diagonal = correct."""
    k = len(class_names)
    fig, ax = new_figure(5.5, 5.0)
    ax.imshow(np.log1p(counts), cmap="Blues")
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                color = "white" if counts[i, j] > counts.max() / 3 else "black"
                ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=7,
                        color=color)
    ax.set_xticks(range(k), class_names, rotation=45 if k and len(class_names[0]) > 2 else 0)
    ax.set_yticks(range(k), class_names)
    ax.set(xlabel="predicted", ylabel="true",
           title=f"Confusion matrix ({int(np.trace(counts))}/{int(counts.sum())} correct)")
    return fig


def filters(kernels: np.ndarray):
    """First-layer kernels ``(kh, kw, C_in, C_out)``: one tile per output channel."""
    n = kernels.shape[-1]
    rows, cols = _grid(n)
    fig, axes = new_figure(1.1 * cols, 1.1 * rows + 0.4, ncols=cols, nrows=rows)
    axes = np.atleast_1d(axes).ravel()
    scale = np.abs(kernels).max()
    for i, ax in enumerate(axes):
        if i < n and kernels.shape[2] == 1:
            ax.imshow(kernels[:, :, 0, i], cmap="RdBu_r", vmin=-scale, vmax=scale)
        elif i < n:
            _show_image(ax, kernels[:, :, :, i])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.axis("on" if i < n else "off")
    fig.suptitle(f"First-layer filters ({kernels.shape[0]}x{kernels.shape[1]}, red > 0 > blue)")
    return fig


def feature_maps(image: np.ndarray, maps: Sequence[np.ndarray], names: Sequence[str],
                 per_layer: int = 8):
    """One image and the first ``per_layer`` channels of each given activation ``(H, W, C)``."""
    rows = len(maps)
    fig, axes = new_figure(1.3 * (per_layer + 1), 1.4 * rows + 0.4, ncols=per_layer + 1,
                           nrows=rows)
    axes = np.atleast_2d(axes)
    for r, (fmap, name) in enumerate(zip(maps, names)):
        if r == 0:
            _show_image(axes[r, 0], image)
            axes[r, 0].set_title("input", fontsize=8)
        else:
            axes[r, 0].axis("off")
        for c in range(per_layer):
            ax = axes[r, c + 1]
            if c < fmap.shape[-1]:
                ax.imshow(fmap[..., c], cmap="viridis")
                ax.set_title(f"{name} #{c}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Feature maps of one test image (after ReLU)")
    return fig


def misclassified(images: np.ndarray, true: np.ndarray, predicted: np.ndarray,
                  class_names: Sequence[str]):
    """Test images the network gets wrong, titled 'true -> predicted'."""
    n = max(len(images), 1)
    rows, cols = _grid(n)
    # at least as wide as the title, which a grid of one or two images would clip
    fig, axes = new_figure(max(1.3 * cols, 3.8), 1.45 * rows + 0.4, ncols=cols, nrows=rows)
    axes = np.atleast_1d(axes).ravel()
    for i, ax in enumerate(axes):
        if i < len(images):
            _show_image(ax, images[i])
            ax.set_title(f"{class_names[true[i]]} -> {class_names[predicted[i]]}", fontsize=8,
                         color=TEST_COLOR)
        else:
            ax.axis("off")
    fig.suptitle(f"Misclassified test images (first {len(images)})" if len(images)
                 else "No misclassified test images")
    return fig
