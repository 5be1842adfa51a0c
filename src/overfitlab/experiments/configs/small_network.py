"""Configuration of the small-network experiment (:mod:`overfitlab.experiments.small_network`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from overfitlab.errors import ConfigError
from overfitlab.experiments.budget import Footprint
from overfitlab.experiments.configs.course import networks_footprint
from overfitlab.experiments.configs.penalty_sweep import SWEEP_QUICK, PenaltySweepConfig
from overfitlab.experiments.params import param


@dataclass(frozen=True)
class SmallNetworkConfig(PenaltySweepConfig):
    """The weight-penalty sweep's fields, the significance threshold (a fraction of the
    largest unit contribution) and the widths trained without penalty."""

    significance: float = param(0.1, "a unit is significant when its contribution exceeds "
                                "this fraction of the largest one", low=0.0, high=1.0,
                                low_open=True, high_open=True)
    widths: tuple[int, ...] = param((1, 2, 3, 4, 6, 8), "widths of the small networks trained "
                                    "from scratch without penalty", low=1, high=10_000)

    QUICK: ClassVar[dict[str, Any]] = {**SWEEP_QUICK, "widths": (1, 2, 3, 4)}

    def validate(self) -> None:
        super().validate()
        if not all(w < self.hidden_units for w in self.widths):
            raise ConfigError(f"widths must be smaller than hidden_units={self.hidden_units}, "
                              f"got {self.widths}")

    def footprint(self) -> Footprint:
        """The sweeps, plus seeds x widths small networks (padded to hidden_units)."""
        return super().footprint() + networks_footprint(self, self.seeds * len(self.widths))
