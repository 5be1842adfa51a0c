"""Figures of the convolution experiment: filtered images, blur spectrum, Laplacian on edges."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from overfitlab.plots.style import TEST_COLOR, TRAIN_COLOR, log_ticks_ok, new_figure


@dataclass
class Panel:
    """One image of the filter gallery: a title, the pixels and ``imshow`` keyword arguments."""

    title: str
    image: np.ndarray
    style: dict[str, Any] = field(default_factory=dict)


def gallery_figure(panels: list[Panel], ncols: int = 4):
    """The panels side by side on a grid, without axes ticks."""
    nrows = math.ceil(len(panels) / ncols)
    height, width = panels[0].image.shape[:2]
    cell = 2.4
    fig, axes = new_figure(width=cell * ncols, height=cell * nrows * height / width + 0.3 * nrows,
                           ncols=ncols, nrows=nrows)
    axes = np.atleast_1d(axes).ravel()
    for ax, panel in zip(axes, panels):
        style = {"cmap": "gray", "vmin": 0.0, "vmax": 1.0} if panel.image.ndim == 2 else {}
        style.update(panel.style)
        ax.imshow(panel.image, interpolation="nearest", **style)
        ax.set_title(panel.title, fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    return fig


def blur_spectrum_figure(sizes, fractions, original: float, cutoff: float, title: str):
    """High-frequency energy share of the box-blurred image against the kernel size (log y);
    ``title`` says what the measured shares do (computed by the experiment)."""
    fig, ax = new_figure(5.6, 3.8)
    ax.plot(sizes, fractions, "o-", color=TRAIN_COLOR, label="box-blurred (normalized kernel)")
    if log_ticks_ok(fractions):
        ax.set_yscale("log")
    ax.axhline(original, color=TEST_COLOR, linestyle="--", linewidth=1,
               label=f"original gray image ({original:.2g})")
    ax.set_xlabel("box kernel size k (k x k)")
    ax.set_ylabel(f"share of energy above {cutoff:g} cycles/pixel")
    ax.set_title(title, fontsize=10, wrap=True)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return fig


def concentration_figure(pixel_share, energy_share, edge_fraction: float, edge_share: float,
                         title: str):
    """Cumulative share of Laplacian energy against the share of pixels, strongest Sobel first;
    ``title`` is the measured verdict."""
    fig, ax = new_figure(4.8, 4.0)
    ax.plot(pixel_share, energy_share, color=TRAIN_COLOR,
            label="pixels sorted by Sobel magnitude")
    ax.plot([0, 1], [0, 1], color="0.5", linestyle=":", label="no concentration")
    ax.plot([edge_fraction], [edge_share], "o", color=TEST_COLOR,
            label=f"top {edge_fraction:.0%} edges hold {edge_share:.0%}")
    ax.set_xlabel("share of pixels (strongest Sobel edges first)")
    ax.set_ylabel("cumulative share of Laplacian energy")
    ax.set_title(title)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, alpha=0.3)
    return fig
