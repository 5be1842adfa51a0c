"""Configuration of the double-descent experiment (:mod:`overfitlab.experiments.double_descent`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from overfitlab.data.synthetic import TARGETS
from overfitlab.engine.names import MLP_ACTIVATIONS
from overfitlab.experiments.base import Config
from overfitlab.experiments.budget import Footprint, float_arrays
from overfitlab.experiments.params import param, require


@dataclass(frozen=True)
class DoubleDescentConfig(Config):
    """Random-features sizes, ridge alphas and the trained networks; defaults: the full preset.

    ``seeds`` counts the random-feature draws (each with its own training noise).
    """

    seeds: int = param(20, "random-feature draws, each with its own training noise", low=1,
                       high=10_000)
    n_train: int = param(20, "training points of the main curve", low=2, high=200)
    n_values: tuple[int, ...] = param((10, 40), "other training-set sizes (the peak's shift)",
                                      low=2, high=200)
    noise: float = param(0.2, "standard deviation of the noise on the targets", low=0.0,
                         high=100.0)
    target: str = param("x^2", "the true function f(x)", choices=TARGETS)
    activation: str = param("tanh", "activation of the hidden units", choices=MLP_ACTIVATIONS)
    sharpness: float = param(1.0, "slope scale of the random features", low=0.0, low_open=True,
                             high=1e3)
    max_ratio: float = param(20.0, "largest p / n_train", low=2.0, high=100.0)
    n_sizes: int = param(30, "feature counts p, log-spaced from 1 to max_ratio x n", low=5,
                         high=200)
    alphas: tuple[float, ...] = param((1e-6, 1e-4, 1e-2), "ridge coefficients (the minimum-norm "
                                      "fit, alpha = 0, is always included)", low=0.0,
                                      low_open=True, high=1e6)
    grid_points: int = param(201, "points of the test grid", low=5, high=5000)
    trained_widths: tuple[int, ...] = param((1, 2, 3, 5, 7, 10, 14, 20, 28, 40, 200),
                                            "widths of the fully trained networks", low=1,
                                            high=1000)
    trained_seeds: int = param(5, "initialisations of each trained width", low=1, high=1000)
    max_iter: int = param(10000, "training iterations of the trained networks", low=10,
                          high=200_000)
    learning_rate: float = param(1e-2, "Adam's learning rate for the trained networks", low=0.0,
                                 low_open=True, high=1e3)
    init_scale: float = param(0.5, "factor on the Glorot initial weights of the trained "
                              "networks", low=0.0, low_open=True, high=100.0)

    QUICK: ClassVar[dict[str, Any]] = {
        "seeds": 10, "n_values": (40,), "n_sizes": 20, "alphas": (1e-4, 1e-2),
        "trained_widths": (2, 5, 7, 10, 20, 40, 100), "trained_seeds": 2, "max_iter": 3000}

    def validate(self) -> None:
        require(
            (self.trained_seeds <= self.seeds,
             f"trained_seeds must be in [1, seeds={self.seeds}], got {self.trained_seeds}"),
            (self.seeds * sum(self._sizes(n).sum() for n in self.sizes_n()) <= 5e6,
             "seeds x the random-feature sizes is too much work; lower --seeds, "
             "--set max_ratio=... or --set n_sizes=..."),
        )

    def footprint(self) -> Footprint:
        """The random features of every size and draw on the training and grid points, and
        the trained networks' predictions."""
        points = max(self.sizes_n()) + self.grid_points
        features = self.seeds * sum(int(self._sizes(n).sum()) for n in self.sizes_n())
        return Footprint(float_arrays((features, points), copies=6)
                         + float_arrays((self.trained_seeds * len(self.trained_widths),
                                         max(self.trained_widths), points), copies=6),
                         "--seeds or --set max_ratio")

    def sizes_n(self) -> list[int]:
        """Training-set sizes: ``n_train`` and ``n_values``."""
        return sorted(set(self.n_values) | {self.n_train})

    def _sizes(self, n: int) -> np.ndarray:
        grid = np.round(np.geomspace(1, self.max_ratio * n, self.n_sizes)).astype(int)
        near = np.arange(int(np.floor(0.8 * n)), int(np.ceil(1.25 * n)) + 1)
        return np.unique(np.concatenate([grid, near]))

    def sizes(self, n: int) -> np.ndarray:
        """Random-feature sizes p for n training points (the trained widths included for
        ``n_train``)."""
        extra = np.asarray(self.trained_widths) if n == self.n_train else np.zeros(0, int)
        return np.unique(np.concatenate([self._sizes(n), extra]))
