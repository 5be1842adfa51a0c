"""Summaries over seeds used by every layer: the median and the 10-90 % band.

All functions ignore NaN, which is how diverged networks (see :mod:`overfitlab.engine.train`) are
left out of medians and bands.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def band(values: Any, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and 10-90 % percentiles of ``values`` along ``axis``, ignoring NaN.

    Same numbers as ``np.nanpercentile`` (linear interpolation), vectorised by sorting
    (``nanpercentile`` loops in Python over columns); all-NaN columns give NaN.
    """
    v = np.sort(np.moveaxis(np.asarray(values, dtype=float), axis, 0), axis=0)  # NaN last
    count = np.sum(~np.isnan(v), axis=0)
    last = np.maximum(count - 1, 0)
    out = []
    for q in (0.5, 0.1, 0.9):
        pos = q * last
        below = np.floor(pos).astype(int)
        above = np.minimum(below + 1, last)
        lo = np.take_along_axis(v, below[None], axis=0)[0]
        hi = np.take_along_axis(v, above[None], axis=0)[0]
        out.append(np.where(count > 0, lo + (pos - below) * (hi - lo), np.nan))
    return out[0], out[1], out[2]


def float_band(values: Any) -> tuple[float, float, float]:
    """:func:`band` of a 1-D array as plain floats (median, 10 %, 90 %)."""
    med, lo, hi = band(values)
    return float(med), float(lo), float(hi)


def integer_band(values: Any) -> tuple[int | None, int | None, int | None]:
    """Median and 10-90 % percentiles of integer quantities (iterations, counts, units) as ints.

    Percentiles by the nearest rank, so each is a value that was observed (the median of an even
    number of seeds is the lower middle one); NaN entries are ignored; all-NaN gives Nones.
    """
    v = np.asarray(values, dtype=float).ravel()
    v = np.sort(v[~np.isnan(v)])
    if v.size == 0:
        return None, None, None
    pick = lambda q: int(round(v[int(np.floor(q * (v.size - 1)))]))  # noqa: E731
    return pick(0.5), pick(0.1), pick(0.9)


def geometric_band(values: Any) -> tuple[float, float, float]:
    """Median and 10-90 % percentiles of positive ``values`` computed on a log scale (NaN
    ignored)."""
    v = np.asarray(values, dtype=float)
    lo, med, hi = np.exp(np.nanpercentile(np.log(v), [10, 50, 90]))
    return float(med), float(lo), float(hi)


def without_diverged(values: Any, diverged: Any) -> np.ndarray:
    """``values`` (leading axes those of ``diverged``) as float with diverged networks set to NaN,
    which every median and band here ignores."""
    values = np.array(values, dtype=float)
    values[np.asarray(diverged, bool)] = np.nan
    return values
