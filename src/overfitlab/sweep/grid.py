"""Grid axes, the cartesian product of them, and the key that identifies a point.

An axis is written ``key=item,item,...`` where ``key`` is a field of the experiment's Config (any
``--set`` key) and each item is a value as ``--set`` takes it, or one of two ranges:

* ``linspace(a,b,n)``: ``n`` values evenly spaced from ``a`` to ``b`` (both included);
* ``logspace(a,b,n)``: ``n`` values from ``a`` to ``b`` evenly spaced on a log scale (both
  included, ``0 < a``; NumPy's ``geomspace``: the ends are values, not exponents).

Items mix freely: ``alpha=0,logspace(1e-4,1,5)``. Tuple-valued fields take parenthesised items,
``hidden=(20,20),(40,)``. Range values are rounded to 12 significant digits, so
``linspace(10,80,8)`` gives the integers 10, 20, ..., 80.

The plan is the product of the axes (the last axis varies fastest). Each point's Config is the
base Config with the point's values replaced and validated again; the point's key is a hash of
that resolved Config and the package version, so a point is recognised as done whatever grid it
came from, and rerun when overfitlab changes.
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from overfitlab.errors import ConfigError
from overfitlab.experiments.base import Config

MAX_POINTS = 100
"""A grid with more points than this runs only with ``--yes`` (a guard against typos such as
``logspace(1e-4,1,900)``)."""

_RANGE = re.compile(r"^(linspace|logspace)\((.*)\)$")


@dataclass(frozen=True)
class Axis:
    """One ``--grid`` option: a Config field and its typed values, in the order given."""

    key: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Point:
    """One grid point: its values on the axes, its resolved Config and its key."""

    key: str
    values: dict[str, Any]
    config: Config

    def label(self) -> str:
        """``key=value, key=value`` of the grid values."""
        return format_values(self.values)


@dataclass(frozen=True)
class SweepPlan:
    """Every point of a sweep of one experiment, in grid order."""

    experiment: str
    axes: tuple[Axis, ...]
    points: tuple[Point, ...]
    version: str

    @property
    def keys(self) -> tuple[str, ...]:
        """The axis names, in the order of the ``--grid`` options."""
        return tuple(a.key for a in self.axes)


def format_grid_value(value: Any) -> str:
    """A grid value as the user would type it (tuples parenthesised, floats in ``g`` form)."""
    if isinstance(value, tuple):
        return "(" + ",".join(format_grid_value(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_values(values: dict[str, Any]) -> str:
    """``key=value, key=value`` in the order of ``values``."""
    return ", ".join(f"{k}={format_grid_value(v)}" for k, v in values.items())


def split_items(text: str) -> list[str]:
    """Split ``text`` at the commas that are not inside parentheses."""
    items, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise ConfigError(f"unbalanced parentheses in {text!r}")
        current.append(char)
    if depth != 0:
        raise ConfigError(f"unbalanced parentheses in {text!r}")
    items.append("".join(current).strip())
    return items


def expand_range(item: str) -> list[str] | None:
    """The values of ``linspace(a,b,n)`` / ``logspace(a,b,n)`` as text, or None for a literal."""
    match = _RANGE.match(item.replace(" ", ""))
    if match is None:
        return None
    name, args = match.groups()
    usage = f"{name}(a,b,n) with numbers a, b and a count n >= 1"
    try:
        a, b, n = (float(x) for x in args.split(","))
    except ValueError:
        raise ConfigError(f"{item!r}: expected {usage}") from None
    if not (math.isfinite(a) and math.isfinite(b) and n.is_integer() and n >= 1):
        raise ConfigError(f"{item!r}: expected {usage}")
    if name == "logspace" and not (a > 0 and b > 0):
        raise ConfigError(f"{item!r}: logspace needs positive ends (values, not exponents)")
    space = np.geomspace if name == "logspace" else np.linspace
    return [f"{v:.12g}" for v in space(a, b, int(n))]


def parse_axis(text: str, config_class: type[Config]) -> Axis:
    """One ``key=item,item,...`` option as an :class:`Axis` of typed values."""
    if "=" not in text:
        raise ConfigError(f"--grid expects key=v1,v2,..., got {text!r}")
    key, raw = (s.strip() for s in text.split("=", 1))
    names = [f.name for f in dataclasses.fields(config_class)]
    if key not in names:
        close = difflib.get_close_matches(key, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"unknown parameter {key!r} in --grid; {hint}"
                          f"known parameters: {', '.join(sorted(names))}")
    texts: list[str] = []
    for item in split_items(raw):
        if not item:
            raise ConfigError(f"--grid {key}= has an empty value in {raw!r}; "
                              f"give values like {key}=v1,v2")
        texts.extend(expand_range(item) or [item])
    values: list[Any] = []
    for item in texts:
        try:
            value = config_class.parse_assignments([f"{key}={item}"])[key]
        except ConfigError as exc:
            raise ConfigError(f"bad value in --grid {key}: {exc}") from None
        if value in values:
            raise ConfigError(f"--grid {key} repeats the value {format_grid_value(value)}")
        values.append(value)
    return Axis(key, tuple(values))


def point_key(experiment: str, config: Config, version: str) -> str:
    """The identity of a point: a hash of the experiment, its resolved Config and the version."""
    text = json.dumps({"experiment": experiment, "config": config.to_dict(),
                       "overfitlab": version}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_sweep(experiment: str, base: Config, grids: list[str], version: str,
               max_points: int = MAX_POINTS, allow_more: bool = False) -> SweepPlan:
    """Parse the ``--grid`` options and resolve every point's Config against ``base``.

    Raises :class:`ConfigError` (one line, before any work) for an empty grid, an unknown key, a
    bad or repeated value, a key given twice, too many points without ``allow_more``, or a point
    whose Config does not validate.
    """
    if not grids:
        raise ConfigError("no --grid given; sweep at least one parameter, e.g. "
                          "--grid n_train=10,20,40")
    axes = tuple(parse_axis(g, type(base)) for g in grids)
    seen = [a.key for a in axes]
    repeated = sorted({k for k in seen if seen.count(k) > 1})
    if repeated:
        raise ConfigError(f"--grid {repeated[0]} is given twice; list all its values in one "
                          f"--grid option")
    count = math.prod(len(a.values) for a in axes)
    if count > max_points and not allow_more:
        raise ConfigError(f"the grid has {count} points, more than {max_points}; add --yes to "
                          f"run them all, or use fewer values")
    points = []
    for combo in itertools.product(*(a.values for a in axes)):
        values = dict(zip(seen, combo))
        try:
            config = dataclasses.replace(base, **values)
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"grid point {format_values(values)}: {exc}") from None
        points.append(Point(point_key(experiment, config, version), values, config))
    return SweepPlan(experiment, axes, tuple(points), version)
