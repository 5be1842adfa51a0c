"""Configuration of the sample-size experiment (:mod:`overfitlab.experiments.sample_size`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from overfitlab.experiments.budget import Footprint
from overfitlab.experiments.configs.course import NetworkConfig, networks_footprint
from overfitlab.experiments.configs.ensemble import FIT_GRID
from overfitlab.experiments.params import param, require


@dataclass(frozen=True)
class SampleSizeConfig(NetworkConfig):
    """Training-set sizes and the mini-batch budget; defaults are the full preset.

    ``n_values`` replaces the protocol's ``n_train`` (unused here); ``max_iter`` is the number
    of full-batch iterations for n <= ``batch_size``.
    """

    seeds: int = param(5, "initialisations trained at once per training-set size", low=1)
    n_test: int = param(1000, "test points, on a regular grid of [-1, 1]", low=1,
                        high=1_000_000)
    n_values: tuple[int, ...] = param((10, 30, 100, 300, 1000, 3000, 10000),
                                      "training-set sizes, increasing", low=2, high=100_000)
    batch_size: int = param(200, "mini-batch size for sets larger than it (full batch below)",
                            low=1)
    minibatch_steps: int = param(4000, "optimizer steps for mini-batch training", low=10,
                                 high=200_000)

    QUICK: ClassVar[dict] = {"n_values": (10, 100, 1000, 10000), "seeds": 3, "max_iter": 5000,
                             "minibatch_steps": 3000}

    def validate(self) -> None:
        super().validate()
        n = self.n_values
        require((list(n) == sorted(set(n)), f"n_values={n} must be increasing sizes; "
                 "e.g. --set n_values=10,100,1000,10000"))

    def footprint(self) -> Footprint:
        """seeds networks per size; their predictions on the largest training set."""
        return super().footprint() + networks_footprint(
            self, self.seeds * len(self.n_values), grid_points=FIT_GRID + max(self.n_values))
