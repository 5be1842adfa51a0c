"""Configuration of the bias-variance experiment (:mod:`overfitlab.experiments.bias_variance`)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from overfitlab.experiments.budget import Footprint
from overfitlab.experiments.configs.course import NetworkConfig, networks_footprint
from overfitlab.experiments.params import param, require

MAX_NETWORKS = 20_000
"""Refuse configurations that would train more networks than this in all."""


@dataclass(frozen=True)
class BiasVarianceConfig(NetworkConfig):
    """Data sets, initialisations and the swept knobs; defaults are the full preset.

    ``seeds`` is the number of repetitions (independent blocks of ``data_sets`` data sets).
    """

    seeds: int = param(4, "repetitions: independent blocks of data_sets data sets (the band)",
                       low=2, high=1000)
    data_sets: int = param(5, "independent noise draws of the training set per repetition",
                           low=2, high=1000)
    inits: int = param(2, "initialisations per data set", low=2, high=1000)
    members: int = param(8, "networks per data set for the ensembles and bagging", low=4,
                         high=100)
    max_iter: int = param(4000, "training iterations (full-batch epochs)", low=10,
                          high=200_000)
    checkpoints: tuple[int, ...] = param((100, 200, 500, 1000, 2000),
                                         "iterations at which predictions are read (early "
                                         "stopping)", low=1, high=200_000)
    alphas: tuple[float, ...] = param((1e-3, 1e-2, 1e-1, 1.0, 10.0), "L2 coefficients swept",
                                      low=0.0, high=1e6)
    widths: tuple[int, ...] = param((1, 2, 5, 10), "hidden widths swept", low=1, high=10_000)
    dropout_rates: tuple[float, ...] = param((0.1, 0.2, 0.4), "dropout rates swept", low=0.0,
                                             high=1.0, high_open=True)
    n_values: tuple[int, ...] = param((20, 40), "training-set sizes swept", low=2, high=1000)
    grid_points: int = param(201, "points of the grid on which f is known", low=5, high=5000)

    QUICK: ClassVar[dict[str, Any]] = {
        "seeds": 3, "data_sets": 4, "inits": 2, "members": 6, "max_iter": 2000,
        "checkpoints": (100, 200, 500, 1000), "alphas": (1e-2, 1.0, 10.0),
        "widths": (1, 3), "dropout_rates": (0.2,), "n_values": (40,)}

    def validate(self) -> None:
        super().validate()
        require(
            (self.seeds >= 2, f"seeds (repetitions) must be >= 2 for a band, got {self.seeds}"),
            (all(w <= self.hidden_units for w in self.widths),
             f"widths={self.widths} must be in [1, hidden_units={self.hidden_units}]; e.g. "
             "--set widths=1,3,10"),
            (all(c <= self.max_iter for c in self.checkpoints),
             f"checkpoints={self.checkpoints} must be in [1, max_iter={self.max_iter}]"),
            (self.max_iter // self.segment() <= 200,
             f"checkpoints={self.checkpoints} and max_iter={self.max_iter} are trained in "
             f"segments of their greatest common divisor {self.segment()}, which makes "
             f"{self.max_iter // self.segment()} segments (at most 200): use round numbers, "
             "e.g. multiples of 100"),
            (self.n_networks() <= MAX_NETWORKS,
             f"this configuration trains {self.n_networks()} networks (at most "
             f"{MAX_NETWORKS}); lower --seeds or --set data_sets/inits/members=..."),
        )

    def footprint(self) -> Footprint:
        """Every network, its predictions on the grid at every checkpoint, and the data."""
        return super().footprint() + networks_footprint(
            self, self.n_networks(),
            grid_points=self.grid_points * (len(self.checkpoints) + 1) + max(self.n_values))

    # The swept values, each with the base setting's value added.
    def alpha_values(self) -> list[float]:
        return sorted(set(self.alphas) | {self.alpha})

    def width_values(self) -> list[int]:
        return sorted(set(self.widths) | {self.hidden_units})

    def rate_values(self) -> list[float]:
        return sorted(set(self.dropout_rates) | {0.0})

    def n_train_values(self) -> list[int]:
        return sorted(set(self.n_values) | {self.n_train})

    def iterations(self) -> list[int]:
        return sorted(set(self.checkpoints) | {self.max_iter})

    def ensemble_sizes(self) -> list[int]:
        """K dividing ``members`` with at least two ensembles of K."""
        return [k for k in range(1, self.members // 2 + 1) if self.members % k == 0]

    def segment(self) -> int:
        """Length of the training segments: the gcd of the checkpoints and max_iter."""
        return math.gcd(*self.checkpoints, self.max_iter)

    def n_networks(self) -> int:
        per_value = self.seeds * self.data_sets * self.inits
        swept = (len(self.alpha_values()) + len(self.width_values()) + len(self.rate_values())
                 + len(self.n_train_values()) - 4)
        return 2 * self.seeds * self.data_sets * self.members + swept * per_value
