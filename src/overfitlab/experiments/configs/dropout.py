"""Configuration of the dropout experiment (:mod:`overfitlab.experiments.dropout`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from overfitlab.experiments.budget import Footprint, float_arrays
from overfitlab.experiments.configs.course import NetworkConfig, networks_footprint
from overfitlab.experiments.configs.cross_validation import CrossValidation
from overfitlab.experiments.params import param, require


@dataclass(frozen=True)
class DropoutConfig(NetworkConfig, CrossValidation):
    """Dropout rates to sweep and the Monte-Carlo sample count; defaults are the full preset."""

    seeds: int = param(10, "initialisations trained at once", low=1)
    rates: tuple[float, ...] = param((0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
                                     "dropout rates swept (0 is the baseline)", low=0.0,
                                     high=1.0, high_open=True)
    mc_samples: int = param(100, "Monte-Carlo dropout samples per prediction", low=1,
                            high=10_000)

    QUICK: ClassVar[dict] = {"max_iter": 10000, "seeds": 4, "rates": (0.0, 0.1, 0.2, 0.4),
                             "mc_samples": 50, "cv_seeds": 2}

    def validate(self) -> None:
        super().validate()
        r = self.rates
        require((0.0 in r and max(r) > 0, f"rates={r} must include 0 (the baseline) and a "
                 "rate > 0; e.g. --set rates=0,0.2,0.5"),
                (len(set(r)) == len(r), f"rates={r} has repeated values; list each rate once"))

    def footprint(self) -> Footprint:
        """(seeds + cv_seeds x cv_folds) x rates networks, and mc_samples dropout predictions of
        each main network on the test set."""
        nets = (self.seeds + self.cv_seeds * self.cv_folds) * len(self.rates)
        return super().footprint() + networks_footprint(self, nets, grid_points=201) + Footprint(
            float_arrays((nets, self.mc_samples, self.n_test + 201), copies=3),
            "--seeds or --set mc_samples")
