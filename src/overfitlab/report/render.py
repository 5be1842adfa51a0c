"""One self-contained HTML report: a section per experiment, figures embedded as base64 PNG.

The sections are :mod:`overfitlab.experiments.display`'s (the same as Jupyter's rich display);
this module adds the page around them: header, navigation and the click-to-enlarge viewer.
"""
from __future__ import annotations

from pathlib import Path

import jinja2

from overfitlab.experiments.display import Section, environment, section
from overfitlab.experiments.results_io import versions, write_atomic
from overfitlab.formatting import format_value

__all__ = ["Section", "format_value", "render", "section", "write_report"]


def render(sections: list[Section], preset: str) -> str:
    """The report's HTML text; its versions are those the sections were computed with."""
    env = environment(jinja2.PackageLoader("overfitlab", "report/templates"))
    total = sum(s.payload["elapsed_s"] for s in sections)
    computed_with = sections[0].payload["versions"] if sections else versions()
    return env.get_template("report.html.j2").render(sections=sections, preset=preset,
                                                     versions=computed_with, total_s=total)


def write_report(sections: list[Section], preset: str, out_dir: Path) -> Path:
    """Write ``out_dir/report.html`` atomically (temporary file, then rename)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_atomic(out_dir / "report.html", render(sections, preset).encode("utf-8"))
