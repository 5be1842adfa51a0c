"""Titles computed from results can be long: they wrap inside the figure instead of being cut."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from overfitlab.plots.autoencoder import embedding_figure  # noqa: E402
from overfitlab.plots.early_stopping import curves_figure  # noqa: E402


def test_a_long_computed_title_wraps_inside_the_figure():
    steps = np.arange(1, 2001)
    curves = np.exp(-steps / 300.0)[None] * np.ones((3, 1)) + 0.01
    title = ("Underfitting, then overfitting: test error lowest at iteration 12410, "
             "220 % higher at the end")  # as experiments._verdicts.curve_story words it
    fig = curves_figure(steps, curves, curves + 0.04, 0.04, 1241, [600, 1200, 1700], title)
    fig.set_dpi(110)  # the report's
    fig.canvas.draw()
    box = fig.axes[0].title.get_window_extent()
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1
    assert fig.axes[0].title.get_text() == title  # wrapped when drawn, not shortened


def test_the_embedding_figure_is_titled_with_the_measured_angle():
    """The title the experiment computes (how far apart the PCA and autoencoder planes are) is
    the figure's, not a panel's title repeated (a loop variable once shadowed it)."""
    z = np.random.default_rng(0).normal(size=(30, 2))
    title = "Held-out digits in 2-D: planes up to 3.1 degrees apart"
    fig = embedding_figure(z, z @ np.array([[1.0, 0.3], [0.2, 1.0]]), np.arange(30) % 10, title)
    assert fig.get_suptitle() == title
    assert [ax.get_title() for ax in fig.axes[:2]] == ["PCA scores (orthonormal axes)",
                                                       "autoencoder code X W_enc (seed 0)"]
