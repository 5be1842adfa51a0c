"""The sweep's HTML page: one self-contained file in the report's style (figures inlined, the
report's page and section styles and its click-to-enlarge viewer)."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jinja2

from overfitlab.experiments.display import environment
from overfitlab.experiments.results_io import versions, write_atomic
from overfitlab.sweep.grid import SweepPlan, format_grid_value


def render_page(plan: SweepPlan, rows: list[dict[str, Any]], answers: dict[str, str],
                pngs: dict[str, bytes], command: str, description: str) -> str:
    """The page's HTML: the grid, the figures, one table row per point, the failures.

    ``rows`` are the table's rows, ``answers`` the numeric answers {id: question} shown as
    columns, ``pngs`` the rendered figures, ``command`` the command line that reproduces it.
    """
    env = environment(jinja2.PackageLoader("overfitlab", "sweep/templates"),
                      jinja2.PackageLoader("overfitlab", "report/templates"))
    env.filters["grid"] = format_grid_value
    count = {s: sum(r["status"] == s for r in rows) for s in ("ok", "failed", "pending")}
    compute = sum(r["elapsed_s"] or 0.0 for r in rows)
    workers = sorted({r["worker"] for r in rows if r["worker"]})
    images = {name: base64.b64encode(png).decode("ascii") for name, png in pngs.items()}
    return env.get_template("sweep.html.j2").render(
        plan=plan, rows=rows, answers=answers, images=images, command=command,
        description=description, count=count, compute_s=compute, workers=workers,
        versions=versions())


def write_page(text: str, directory: Path) -> Path:
    """Write ``directory/sweep.html`` atomically."""
    return write_atomic(Path(directory) / "sweep.html", text.encode("utf-8"))
