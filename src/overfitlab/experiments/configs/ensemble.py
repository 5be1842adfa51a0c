"""Configuration of the ensemble experiment (:mod:`overfitlab.experiments.ensemble`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from overfitlab.experiments.budget import Footprint
from overfitlab.experiments.configs.course import NetworkConfig, networks_footprint
from overfitlab.experiments.params import param

FIT_GRID = 201
"""Points of the [-1, 1] grid on which fitted curves are drawn."""


@dataclass(frozen=True)
class EnsembleConfig(NetworkConfig):
    """``seeds`` independent ensembles of ``members`` networks; defaults are the full preset."""

    seeds: int = param(5, "independent ensembles (repetitions)", low=1)
    members: int = param(50, "networks per ensemble", low=2, high=10_000)
    bagging: bool = param(False, "train each member on a bootstrap resample of the data")

    QUICK: ClassVar[dict] = {"max_iter": 10000, "members": 20, "seeds": 3}

    def footprint(self) -> Footprint:
        """seeds x members networks and their predictions on the fit grid and test set."""
        footprint = networks_footprint(self, self.seeds * self.members, grid_points=FIT_GRID)
        return super().footprint() + Footprint(footprint.bytes, "--seeds or --set members")
