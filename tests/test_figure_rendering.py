"""Figures to PNG: one drawing per figure, the pixels ``Figure.savefig`` paints."""
import io

import numpy as np
from PIL import Image

from overfitlab.experiments.results_io import render_pngs
from overfitlab.plots.style import draw_band, new_figure


def _figure():
    """A constrained-layout figure with what the experiments draw: log axes over many decades,
    bands, a legend, an image with a colour bar, titles."""
    rng = np.random.default_rng(0)
    fig, (left, right) = new_figure(ncols=2)
    alphas = np.logspace(-12, 2, 15)
    draw_band(left, alphas, rng.lognormal(size=(5, 15)), "tab:red", "test MSE")
    left.set(xscale="log", yscale="log", xlabel="alpha", title="a sweep")
    left.legend()
    image = right.imshow(rng.normal(size=(8, 8)))
    fig.colorbar(image, ax=right)
    right.set_title("filters")
    return fig


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def test_rendered_png_has_the_pixels_and_metadata_savefig_gives():
    expected = io.BytesIO()
    _figure().savefig(expected, format="png", dpi=90)
    png = render_pngs({"f.png": _figure()}, dpi=90)["f.png"]
    assert np.array_equal(_pixels(png), _pixels(expected.getvalue()))
    ours, theirs = Image.open(io.BytesIO(png)).info, Image.open(expected).info
    assert ours["Software"] == theirs["Software"]
    assert np.allclose(ours["dpi"], theirs["dpi"])


def test_rendering_leaves_the_figure_as_it_was():
    fig = _figure()
    canvas, dpi = fig.canvas, fig.dpi
    render_pngs({"f.png": fig}, dpi=2 * dpi)
    assert fig.canvas is canvas and fig.dpi == dpi
