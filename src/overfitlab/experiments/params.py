"""Self-describing configuration fields: meaning, range and choices next to the default.

An experiment's Config declares each field with :func:`param`::

    n_train: int = param(10, "training points on the regular grid of [-1, 1]", low=2)

The metadata serves three readers at once: :func:`check_fields` validates every value against it
(one :class:`ConfigError` naming the field and a valid example), ``overfitlab params NAME`` lists
it (:func:`describe`), and the documentation shows it. Checks that tie several fields together
stay in the Config's ``validate`` (written with :func:`require`).
"""
from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from typing import Any, Iterable

from overfitlab.errors import ConfigError


@dataclass(frozen=True)
class ParamInfo:
    """What a field means and which values it takes (``low``/``high`` bound numbers, or every
    element of a tuple; ``choices`` lists the allowed values)."""

    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself excluded (e.g. learning_rate > 0)
    high_open: bool = False
    choices: tuple | None = None
    example: Any = None  # a valid value to suggest where the default is None (dataset-dependent)

    def range_text(self) -> str:
        """The allowed values in words, e.g. ``>= 2``, ``in (0, 1)``, ``one of tanh, relu``."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices if c is not None)
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.low_open else '['}{_num(self.low)}, {_num(self.high)}"
                    f"{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_num(self.high)}"
        return "any"

    def admits(self, value: Any) -> bool:
        """Whether a scalar value lies in the range and among the choices."""
        if self.choices is not None:
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open
                                      else value > self.high):
            return False
        return True


def _num(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def param(default: Any, help: str, *, low: float | None = None, high: float | None = None,
          low_open: bool = False, high_open: bool = False,
          choices: Iterable | None = None, example: Any = None) -> Any:
    """A dataclass field with ``default`` and its :class:`ParamInfo` as metadata (``example``:
    the value error messages suggest when ``default`` is None)."""
    info = ParamInfo(help, low, high, low_open, high_open,
                     None if choices is None else tuple(choices), example)
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple for sequence defaults (configs are frozen)")
    return dataclasses.field(default=default, metadata={"param": info})


def info(field: dataclasses.Field) -> ParamInfo | None:
    """The :class:`ParamInfo` of a dataclass field (None for a field declared without it)."""
    return field.metadata.get("param")


def check_fields(config: Any) -> None:
    """Raise ConfigError for the first field whose value is outside its declared range."""
    for field in dataclasses.fields(config):
        meta = info(field)
        if meta is None:
            continue
        value = getattr(config, field.name)
        values = value if isinstance(value, tuple) else (value,)
        if isinstance(value, tuple) and not value:
            raise ConfigError(f"{field.name} must list at least one value; e.g. "
                              f"--set {field.name}={example(field)}")
        for v in values:
            if not meta.admits(v):
                raise ConfigError(f"{field.name}={_plain(value)}: {field.name} must be "
                                  f"{meta.range_text()}; e.g. --set {field.name}="
                                  f"{example(field)}")


def require(*checks: tuple[bool, str]) -> None:
    """Raise ConfigError with the message of the first failed ``(ok, message)`` check (the
    checks of a Config's ``validate`` that tie several fields together)."""
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def _plain(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def example(field: dataclasses.Field) -> str:
    """A valid value of ``field`` as ``--set`` takes it (its default, its declared example, a
    choice, its lower bound, or VALUE)."""
    if field.default is not None:
        return _plain(field.default)
    meta = info(field)
    if meta.example is not None:
        return _plain(meta.example)
    if meta.choices:
        return str(next(c for c in meta.choices if c is not None))
    return _num(meta.low) if meta.low is not None and not meta.low_open else "VALUE"


def suggest(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known name, or '' when none is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class ParamRow:
    """One line of ``overfitlab params NAME``."""

    name: str
    type: str
    full: str
    quick: str
    range: str
    help: str


def describe(config_class: type) -> list[ParamRow]:
    """Every field of ``config_class`` with its type, full and quick values, range and meaning."""
    import typing

    hints = typing.get_type_hints(config_class)
    quick = getattr(config_class, "QUICK", {})
    rows = []
    for field in dataclasses.fields(config_class):
        meta = info(field) or ParamInfo("(not documented)")
        kind = getattr(hints[field.name], "__name__", str(hints[field.name]))
        full = _plain(field.default)
        rows.append(ParamRow(field.name, kind.replace("typing.", ""), full,
                             _plain(quick[field.name]) if field.name in quick else full,
                             meta.range_text(), meta.help))
    return rows
