"""Figures of a sweep: each numeric answer against the grid.

For every answer whose value is a number:

* ``<answer>.png``: the answer against the first grid key that varies (x axis), one line per
  value of the second (colours), one panel per combination of any further keys; hollow markers
  flag optima at an end of the searched range (``at_edge``), where the true optimum may lie
  further out;
* ``<answer>_heatmap.png``: when exactly two keys vary, the answer over both as a heatmap,
  values written in the cells (``*`` marks ``at_edge``).

The shaded band is the answer's own 10-90 % band over the seeds trained inside each point. A
``seed`` grid key (``--grid seed=0,1,2,3``: new data and initialisations per value) is treated as
replicates when another key varies: the figures then show the median over the seed values, the
band their 10-90 % spread, and a marker flags ``at_edge`` when at least half of them are.

Axes are logarithmic where the values are positive and spaced (or spread) geometrically. Failed
points leave gaps (or are left out of the replicates).
"""
from __future__ import annotations

import itertools
import math
import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.colors import LogNorm, Normalize

from overfitlab.plots.style import new_figure
from overfitlab.stats import band
from overfitlab.sweep.grid import Axis, SweepPlan, format_grid_value, format_values

MAX_PANELS = 9
"""Beyond this many combinations of the third and further keys, no line figure is drawn."""

EDGE_LABEL = "optimum at an end of the searched range"
REPLICATE_KEY = "seed"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numeric_answers(plan: SweepPlan, records: dict[str, dict]) -> dict[str, str]:
    """{answer id: question} of the answers that are numbers in at least one done point, in
    the order the experiment lists them."""
    found: dict[str, str] = {}
    for point in plan.points:
        for answer in records.get(point.key, {}).get("answers", []):
            if _is_number(answer["value"]) and math.isfinite(answer["value"]):
                found.setdefault(answer["id"], answer["question"])
    return found


def _wide_range(values: Any) -> bool:
    """True when the finite ``values`` are positive and span a factor of 10 or more (a log
    scale shows them better)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return bool(v.size >= 2 and v.min() > 0 and v.max() / v.min() >= 10)


def _geometric_grid(values: Any) -> bool:
    """True when positive grid ``values`` span a factor of 10 or are spaced more evenly on a
    log scale than on a linear one (10, 20, 40, 80)."""
    v = np.unique(np.asarray(values, dtype=float))  # sorted, distinct
    if _wide_range(v):
        return True
    if v.size < 3 or v[0] <= 0:
        return False
    spread = lambda d: np.std(d) / np.mean(d)  # noqa: E731 - relative spread of the gaps
    return bool(spread(np.diff(np.log(v))) < spread(np.diff(v)))


def _title(text: str, width_in: float) -> str:
    """``text`` wrapped to lines that fit a figure ``width_in`` inches wide at font size 9."""
    return textwrap.fill(text, width=max(30, int(width_in * 13)))


@dataclass(frozen=True)
class _Layout:
    """Which grid keys the figures put where."""

    varying: tuple[Axis, ...]  # shown: x, then hue, then panels
    fixed: dict[str, Any]  # single-valued keys
    replicates: Axis | None  # the seed key, summarised over

    @classmethod
    def of(cls, plan: SweepPlan) -> "_Layout":
        varying = tuple(a for a in plan.axes if len(a.values) > 1)
        replicates = next((a for a in varying if a.key == REPLICATE_KEY), None)
        if replicates is not None and len(varying) > 1:
            varying = tuple(a for a in varying if a is not replicates)
        else:
            replicates = None
        varying = varying or plan.axes[:1]
        fixed = {a.key: a.values[0] for a in plan.axes
                 if a not in varying and a is not replicates}
        return cls(varying, fixed, replicates)

    def note(self, banded: bool) -> str:
        """What a figure's values (and, if ``banded``, its shaded band) are, for its title."""
        if self.replicates is not None:
            n = len(self.replicates.values)
            text = (f"Median over the {n} values of {REPLICATE_KEY} (new data and "
                    f"initialisations each)")
            return text + ("; shaded: their 10-90 % spread." if banded else ".")
        if banded:
            return "Value at each grid point; shaded: its 10-90 % band over the point's seeds."
        return "Value at each grid point."


def _answers(plan: SweepPlan, records: dict[str, dict], answer_id: str) -> dict[tuple, dict]:
    """{sorted grid values: the answer} of the done points where ``answer_id`` is a number."""
    out = {}
    for point in plan.points:
        for answer in records.get(point.key, {}).get("answers", []):
            if answer["id"] == answer_id and _is_number(answer["value"]):
                out[tuple(sorted(point.values.items()))] = answer
    return out


def _series(layout: _Layout, answers: dict[tuple, dict], fixed: dict[str, Any],
            x_axis: Axis) -> dict[str, np.ndarray]:
    """Value, band and at_edge of an answer along ``x_axis`` with the other keys ``fixed``
    (summarised over the replicates, if any)."""
    n = len(x_axis.values)
    out = {name: np.full(n, np.nan) for name in ("value", "low", "high")}
    out["edge"] = np.zeros(n, bool)
    seeds = layout.replicates.values if layout.replicates else (None,)
    for i, x in enumerate(x_axis.values):
        found = []
        for seed in seeds:
            values = {**fixed, x_axis.key: x, **({REPLICATE_KEY: seed} if layout.replicates
                                                 else {})}
            answer = answers.get(tuple(sorted(values.items())))
            if answer is not None:
                found.append(answer)
        if not found:
            continue
        if layout.replicates is None:
            answer = found[0]
            out["value"][i] = answer["value"]
            for name in ("low", "high"):
                out[name][i] = answer[name] if _is_number(answer[name]) else np.nan
            out["edge"][i] = bool(answer["at_edge"])
        else:
            med, lo, hi = band([a["value"] for a in found])
            out["value"][i], out["low"][i], out["high"][i] = med, lo, hi
            out["edge"][i] = 2 * sum(bool(a["at_edge"]) for a in found) >= len(found)
    return out


def _x_positions(axis: Axis) -> tuple[np.ndarray, bool, bool]:
    """Positions of ``axis``'s values on the x axis, whether numeric, whether log."""
    if all(_is_number(v) for v in axis.values):
        x = np.asarray(axis.values, dtype=float)
        return x, True, _geometric_grid(x)
    return np.arange(len(axis.values), dtype=float), False, False


def lines_figure(plan: SweepPlan, records: dict[str, dict], answer_id: str, question: str):
    """The answer against the first varying key, a line per value of the second, a panel per
    combination of the others (None when that is more than :data:`MAX_PANELS` panels)."""
    import matplotlib

    layout = _Layout.of(plan)
    x_axis = layout.varying[0]
    hue = layout.varying[1] if len(layout.varying) > 1 else None
    panel_axes = layout.varying[2:]
    panels = list(itertools.product(*(a.values for a in panel_axes)))
    if len(panels) > MAX_PANELS:
        return None
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = new_figure(5.6 * ncols, 3.8 * nrows, ncols=ncols, nrows=nrows)
    axes = np.atleast_1d(axes).ravel()
    x, numeric, log_x = _x_positions(x_axis)
    hue_values = hue.values if hue else (None,)
    colors = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.85, len(hue_values)))
    answers = _answers(plan, records, answer_id)
    all_values, banded = [], False
    for ax, panel in zip(axes, panels):
        panel_fixed = {**layout.fixed, **dict(zip((a.key for a in panel_axes), panel))}
        for color, h in zip(colors, hue_values):
            series = _series(layout, answers, {**panel_fixed, **({hue.key: h} if hue else {})},
                             x_axis)
            all_values.extend(series["value"][np.isfinite(series["value"])])
            label = f"{hue.key} = {format_grid_value(h)}" if hue else answer_id
            ax.plot(x, series["value"], "o-", color=color, label=label)
            ax.fill_between(x, series["low"], series["high"], color=color, alpha=0.18,
                            linewidth=0)
            banded |= bool(np.isfinite(series["low"]).any())
            edge = series["edge"]
            if edge.any():
                ax.plot(x[edge], series["value"][edge], "o", markersize=11, markerfacecolor="none",
                        markeredgecolor="black", label=EDGE_LABEL)
        if panel_axes:
            ax.set_title(format_values(dict(zip((a.key for a in panel_axes), panel))),
                         fontsize=10)
        ax.set_xlabel(x_axis.key)
        ax.set_ylabel(answer_id)
        if log_x:
            ax.set_xscale("log")
        ax.set_xticks(x, [format_grid_value(v) for v in x_axis.values])
        if numeric:
            ax.minorticks_off()
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        ax.legend(unique.values(), unique.keys(), fontsize=8)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if _wide_range(all_values):
        for ax in axes[:len(panels)]:
            ax.set_yscale("log")
    fig.suptitle(_title(f"{question} {layout.note(banded)}", 5.6 * ncols), fontsize=9)
    return fig


def heatmap_figure(plan: SweepPlan, records: dict[str, dict], answer_id: str, question: str):
    """The answer over the two varying keys (None unless exactly two keys vary, replicates
    aside)."""
    layout = _Layout.of(plan)
    if len(layout.varying) != 2:
        return None
    x_axis, y_axis = layout.varying
    answers = _answers(plan, records, answer_id)
    grid = np.full((len(y_axis.values), len(x_axis.values)), np.nan)
    edge = np.zeros(grid.shape, bool)
    for j, y in enumerate(y_axis.values):
        series = _series(layout, answers, {**layout.fixed, y_axis.key: y}, x_axis)
        grid[j], edge[j] = series["value"], series["edge"]
    finite = grid[np.isfinite(grid)]
    if finite.size == 0:
        return None
    scale = LogNorm if _wide_range(finite) else Normalize
    norm = scale(finite.min(), finite.max())
    width = max(5.0, 1.2 * len(x_axis.values) + 2.5)
    fig, ax = new_figure(width, 0.7 * len(y_axis.values) + 2.4)
    image = ax.imshow(grid, cmap="viridis", norm=norm, aspect="auto", origin="lower")
    for (j, i), value in np.ndenumerate(grid):
        if np.isfinite(value):
            light = norm(value) < 0.6
            ax.text(i, j, f"{value:.3g}{'*' if edge[j, i] else ''}", ha="center", va="center",
                    fontsize=9, color="white" if light else "black")
    ax.set_xticks(range(len(x_axis.values)), [format_grid_value(v) for v in x_axis.values])
    ax.set_yticks(range(len(y_axis.values)), [format_grid_value(v) for v in y_axis.values])
    ax.set_xlabel(x_axis.key)
    ax.set_ylabel(y_axis.key)
    fig.colorbar(image, ax=ax, label=answer_id)
    edges = f" * {EDGE_LABEL}." if edge.any() else ""
    ax.set_title(_title(f"{question} {layout.note(False)}{edges}", width), fontsize=9)
    return fig


def sweep_figures(plan: SweepPlan, records: dict[str, dict]) -> dict[str, Any]:
    """{file name: Figure} for every numeric answer (lines, and a heatmap over two keys)."""
    figures = {}
    for answer_id, question in numeric_answers(plan, records).items():
        for suffix, build in (("", lines_figure), ("_heatmap", heatmap_figure)):
            fig = build(plan, records, answer_id, question)
            if fig is not None:
                figures[f"{answer_id}{suffix}.png"] = fig
    return figures
