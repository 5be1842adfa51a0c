"""Results built by hand, with real matplotlib figures, for the report and display tests.

They cover what the renderer must handle without running an experiment: a multi-panel figure
(1650 px wide at the report's 110 dpi), a single panel and a small one; counts, tiny and
near-integer floats, a band that varies and one that does not, a long text answer, an answer at
the edge of its grid, and a deterministic configuration (no seeds).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np

from overfitlab.experiments.base import Answer, Config, Result


@dataclass(frozen=True)
class SweepConfig(Config):
    n_alphas: int = 5


@dataclass(frozen=True)
class FilterConfig(Config):
    USES_SEEDS: ClassVar[bool] = False
    size: int = 3


LONG_TEXT = ("Both add to the fitting error a penalty on the size of the coefficients, trading a "
             "little bias for much less variance; ridge shrinks every coefficient in proportion "
             "to its size, LASSO sets the least useful ones exactly to zero.")


def _panels(n: int, width: float, height: float):
    fig, axes = plt.subplots(1, n, figsize=(width, height), layout="constrained")
    for i, ax in enumerate(np.atleast_1d(axes)):
        x = np.linspace(0, 1, 50)
        ax.plot(x, x ** (i + 1), label=f"panel {i + 1}")
        ax.legend()
    return fig


def sweep_result() -> Result:
    """A seeded experiment with three figures and every kind of answer value."""
    config = SweepConfig(seed=3, seeds=20)
    answers = [
        Answer("best_alpha", "Which alpha is best?", 0.03981, "Lowest median test error.",
               low=0.03981, high=0.03981, at_edge=True),
        Answer("parameters", "How many parameters?", 21386, "Counted layer by layer."),
        Answer("ratio", "Ratio of the errors?", 1.000000005, "Equal up to rounding.",
               low=1.0000000001, high=1.00000001),
        Answer("tiny_effect", "How much high-frequency energy is left?", 8.25e-06,
               "Almost none after the blur."),
        Answer("best_iteration", "Which iteration?", 1243.0, "Median over seeds.",
               low=599.0, high=1720.0),
        Answer("ridge_lasso_idea", "What is the idea of ridge and LASSO?", LONG_TEXT,
               "Measured here: the weights shrink under L2 and vanish under L1."),
    ]
    figures = {"l1_sweep.png": _panels(3, 15.0, 4.2), "curves.png": _panels(1, 6.4, 4.0),
               "small.png": _panels(1, 3.9, 1.85)}
    captions = {"l1_sweep.png": "Errors and exact zeros against l1: look at the minimum.",
                "curves.png": "Train and test error against iteration: the gap widens.",
                "small.png": "A small figure that must still open large on click."}
    return Result("synthetic-sweep", config, {"n_networks": 1000, "test_mse": 0.0412}, answers,
                  figures, {"x": np.arange(10_000.0)}, ["a note"], 1.234, captions=captions)


def filter_result() -> Result:
    """A deterministic experiment (no seeds) with one figure."""
    answers = [Answer("gain", "Gain of the kernel of ones?", 8.982, "Nine neighbours summed.")]
    return Result("synthetic-filter", FilterConfig(), {"gain": 8.982}, answers,
                  {"filters.png": _panels(2, 11.0, 4.0)}, {}, [], 0.5,
                  captions={"filters.png": "The photograph through each kernel."})
