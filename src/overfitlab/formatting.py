"""Numbers written for people, shared by the terminal, the report and Jupyter.

* integers (and floats that hold an integer) print as integers with thousands separators:
  ``21,386``, not ``2.139e+04``;
* other numbers keep 4 significant digits; where rounding hides a difference from an integer the
  trailing zeros stay (``1.000`` for 1.000000005, so it does not read as exactly 1);
* magnitudes below 0.001 or from 10^15 on use a power of ten: ``8.25 × 10⁻⁶``;
* a 10-90 % band is shown only where its ends differ at that precision (never "1 – 1").
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

DIGITS = 4
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_value(value: Any) -> str:
    """``value`` as a person reads it; text as is, ``None`` (and NaN) as a dash."""
    if isinstance(value, (np.ndarray, np.generic)):
        value = value.item()
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return format_float(value)
    return str(value)


def format_float(x: float, digits: int = DIGITS) -> str:
    """``x`` with ``digits`` significant digits (see the module docstring for the rules)."""
    if math.isnan(x):
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x.is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    if 1e3 <= abs(x) < 1e15:
        return f"{x:,.0f}"
    if abs(x) >= 1e-3:
        text = f"{x:.{digits}g}"
        if "." not in text and float(text) != x:  # 0.99996 -> "1.000", not "1"
            text = f"{x:#.{digits}g}"
        return text
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def format_band(low: Any, high: Any) -> str:
    """``"low – high"``, or ``""`` when there is no band or its ends print alike."""
    if low is None or high is None:
        return ""
    lo, hi = format_value(low), format_value(high)
    return "" if lo == hi else f"{lo} – {hi}"
