"""A Result as people see it: one HTML section (answers, text answers, figures, metrics).

The same section is a chapter of the one-file report (:mod:`overfitlab.report.render`) and the
rich display of a :class:`~overfitlab.experiments.base.Result` in Jupyter. Figures are PNGs
embedded as base64; a figure at least ``WIDE_PX`` pixels wide (the multi-panel ones) spans the
full width of the section, the others share a row two by two.
"""
from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any

import jinja2

from overfitlab.errors import ConfigError
from overfitlab.experiments.base import Result
from overfitlab.experiments.results_io import figure_pngs, result_payload
from overfitlab.formatting import format_band, format_value

WIDE_PX = 900
"""PNGs at least this wide span the section: single panels are 6.4 in x 110 dpi = 704 px."""

TEXT_ANSWER_CHARS = 40
"""Text values longer than this are set as paragraphs below the table, not in its value column."""

JUPYTER_DPI = 90
"""Figures in Jupyter are rendered a little smaller than in the report (110 dpi)."""


@dataclass
class Figure:
    """One embedded figure with its caption and pixel size."""

    name: str
    caption: str
    base64_png: str
    width: int
    height: int

    @property
    def wide(self) -> bool:
        return self.width >= WIDE_PX


@dataclass
class Section:
    """One experiment as the report and Jupyter show it."""

    name: str
    description: str
    payload: dict[str, Any]  # the results.json document
    figures: list[Figure]
    uses_seeds: bool

    @property
    def table_answers(self) -> list[dict[str, Any]]:
        return [a for a in self.payload["answers"] if not is_text_answer(a)]

    @property
    def text_answers(self) -> list[dict[str, Any]]:
        return [a for a in self.payload["answers"] if is_text_answer(a)]


def is_text_answer(answer: dict[str, Any]) -> bool:
    """True for answers whose value is a sentence rather than a number or a short word."""
    value = answer["value"]
    return isinstance(value, str) and len(value) > TEXT_ANSWER_CHARS


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, read from the PNG's IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG image")
    return struct.unpack(">II", png[16:24])


def section(result: Result, description: str, pngs: dict[str, bytes]) -> Section:
    """A section from a Result and its rendered figures (in the Result's figure order)."""
    figures = []
    for name, png in pngs.items():
        width, height = png_size(png)
        caption = result.captions.get(name) or f"Figure {len(figures) + 1} of {result.experiment}."
        figures.append(Figure(name, caption, base64.b64encode(png).decode("ascii"), width,
                              height))
    return Section(result.experiment, description, result_payload(result), figures,
                   result.config.USES_SEEDS)


def environment(*loaders: jinja2.BaseLoader) -> jinja2.Environment:
    """A Jinja environment that finds the section template (and any ``loaders`` first)."""
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([*loaders,
                                    jinja2.PackageLoader("overfitlab", "experiments/templates")]),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    env.filters["fmt"] = format_value
    env.filters["band"] = format_band
    return env


def result_html(result: Result) -> str:
    """The section of ``result`` as a standalone HTML fragment (styles included)."""
    from overfitlab.experiments.registry import get

    try:
        description = get(result.experiment).description
    except ConfigError:  # a Result built outside the registry
        description = ""
    s = section(result, description, figure_pngs(result, dpi=JUPYTER_DPI))
    return environment().get_template("fragment.html.j2").render(s=s, preset=None)
