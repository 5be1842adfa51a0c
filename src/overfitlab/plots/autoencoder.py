"""Figures of the autoencoder-pca experiment: reconstructions, 2-D embeddings, convergence."""
from __future__ import annotations

import numpy as np

from overfitlab.stats import band
from overfitlab.plots.style import NOISE_COLOR, draw_band, new_figure

IMAGE_SIDE = 8


def reconstruction_figure(rows: list[tuple[str, np.ndarray]]):
    """A grid of 8 x 8 digits: one row per (label, images (n, 64)), one column per digit.

    Pixels are on the [0, 1] scale (reconstructions may stray slightly outside it); all panels
    share that gray scale so rows compare directly.
    """
    n_cols = len(rows[0][1])
    fig, axes = new_figure(width=0.9 * n_cols + 1.0, height=0.9 * len(rows) + 0.4,
                           ncols=n_cols, nrows=len(rows))
    axes = np.asarray(axes).reshape(len(rows), n_cols)
    for r, (label, images) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.imshow(images[c].reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray_r", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("Held-out digits: PCA and autoencoder reconstructions (k components / units)",
                 fontsize=10)
    return fig


def embedding_figure(z_pca: np.ndarray, z_ae: np.ndarray, labels: np.ndarray, title: str):
    """Side-by-side scatter of the 2-D PCA scores and 2-D autoencoder codes, coloured by digit;
    ``title`` states the measured largest principal angle between their planes."""
    fig, axes = new_figure(width=10.0, height=4.4, ncols=2)
    for ax, z, panel in ((axes[0], z_pca, "PCA scores (orthonormal axes)"),
                         (axes[1], z_ae, "autoencoder code X W_enc (seed 0)")):
        points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5,
                            s=8, alpha=0.8)
        ax.set_title(panel, fontsize=10, wrap=True)
        ax.set_xlabel("unit 1")
        ax.set_ylabel("unit 2")
    fig.colorbar(points, ax=axes, ticks=range(10), label="digit")
    fig.suptitle(title, fontsize=10)
    return fig


def convergence_figure(steps: np.ndarray, loss: np.ndarray, pca_errors: np.ndarray,
                       ks: tuple[int, ...], floor: float, max_angle: np.ndarray):
    """Left: training error / PCA error - 1 against Adam step (median, 10-90 % over seeds),
    clipped at the float32 resolution of the loss. Right: largest principal angle per k.

    ``loss`` has shape (len(ks), seeds, len(steps)); ``max_angle`` (len(ks), seeds), degrees.
    """
    fig, (left, right) = new_figure(width=10.0, height=4.0, ncols=2)
    resolution = floor / pca_errors.min()  # the coarsest relative resolution over k
    for i, k in enumerate(ks):
        excess = np.maximum(loss[i] / pca_errors[i] - 1.0, resolution)
        draw_band(left, steps, excess, f"C{i}", f"k={k}")
    left.axhline(resolution, color=NOISE_COLOR, linestyle=":",
                 label="float32 resolution")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("full-batch Adam step")
    left.set_ylabel("train error / PCA error - 1")
    left.set_title("Excess reconstruction error", fontsize=10)
    left.legend(fontsize=7)

    med, lo, hi = band(max_angle, axis=1)
    x = np.arange(len(ks))
    right.bar(x, med, color=[f"C{i}" for i in range(len(ks))])
    right.errorbar(x, med, yerr=[med - lo, hi - med], fmt="none", ecolor="black", capsize=4)
    right.set_xticks(x, [f"k={k}" for k in ks])
    right.set_ylabel("largest principal angle (degrees)")
    right.set_title("Decoder span vs PCA subspace (median, 10-90 %)", fontsize=10)
    return fig
