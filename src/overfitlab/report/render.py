"""One self-contained HTML report: a section per experiment, figures embedded as base64 PNG."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from overfitlab.experiments.base import Result
from overfitlab.experiments.results_io import result_payload, versions, write_atomic


@dataclass
class Section:
    """One experiment as the report shows it."""

    name: str
    description: str
    payload: dict[str, Any]  # the results.json document
    images: dict[str, str]  # figure name -> base64 PNG


def format_value(value: Any) -> str:
    """Numbers with 4 significant digits, text as is (the template escapes), None as a dash."""
    if isinstance(value, (np.ndarray, np.generic)):
        value = value.item()
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:.4g}"
    return str(value)


def section(result: Result, description: str, pngs: dict[str, bytes]) -> Section:
    """A report section from a Result and its rendered figures."""
    images = {name: base64.b64encode(png).decode("ascii") for name, png in pngs.items()}
    return Section(result.experiment, description, result_payload(result), images)


def render(sections: list[Section], preset: str) -> str:
    """The report's HTML text."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("overfitlab", "report/templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    env.filters["fmt"] = format_value
    template = env.get_template("report.html.j2")
    total = sum(s.payload["elapsed_s"] for s in sections)
    return template.render(sections=sections, preset=preset, versions=versions(),
                           total_s=total)


def write_report(sections: list[Section], preset: str, out_dir: Path) -> Path:
    """Write ``out_dir/report.html`` atomically (temporary file, then rename)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_atomic(out_dir / "report.html", render(sections, preset).encode("utf-8"))
