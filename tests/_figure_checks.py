"""What a reader of a rendered figure relies on: no text cut off at the figure's edge.

Constrained layout makes room for labels and titles, but a label longer than its axes is tall
(or a title wider than its panel) still runs past the edge, and the PNG shows it cut: the
double-descent figure's y label once lost its first and last words. These checks draw a figure
as the report does (Agg, 110 dpi) and compare what each axes occupies with everything it draws
around it (tick labels, axis labels, title, legend), and the figure's own texts and legends,
with the figure's box.
"""
from overfitlab.experiments.results_io import drawn_on_agg

REPORT_DPI = 110
TOLERANCE_PX = 1.0
"""Extents are computed from font metrics in floating point: a pixel of slack, no more."""


def texts_cut_off(fig, dpi: int = REPORT_DPI) -> list[str]:
    """Descriptions of the parts of ``fig`` that reach past its edge once drawn at ``dpi``
    (empty when everything fits). The figure keeps its own canvas and dpi."""
    with drawn_on_agg(fig, dpi) as agg:
        renderer = agg.get_renderer()
        parts = [(f"axes {i} (title {ax.get_title()!r}, y label {ax.get_ylabel()!r})",
                  ax.get_tightbbox(renderer)) for i, ax in enumerate(fig.axes)
                 if ax.get_visible()]
        texts = [*fig.texts, *[t for t in (fig._suptitle, fig._supxlabel, fig._supylabel) if t]]
        parts += [(f"text {t.get_text()!r}", t.get_window_extent(renderer)) for t in texts]
        parts += [("figure legend", legend.get_window_extent(renderer))
                  for legend in fig.legends]
        edge = fig.bbox.frozen()
    return [f"{name} spans {tuple(round(v) for v in box.extents)} in a figure of "
            f"{round(edge.width)} x {round(edge.height)} px"
            for name, box in parts
            if box is not None and (box.x0 < edge.x0 - TOLERANCE_PX
                                    or box.y0 < edge.y0 - TOLERANCE_PX
                                    or box.x1 > edge.x1 + TOLERANCE_PX
                                    or box.y1 > edge.y1 + TOLERANCE_PX)]


def assert_nothing_cut_off(figures: dict) -> None:
    """Every figure of ``figures`` ({file name: Figure}) shows all of its text."""
    cut = {name: parts for name, fig in figures.items() if (parts := texts_cut_off(fig))}
    assert not cut, f"text cut off at the figure's edge: {cut}"
