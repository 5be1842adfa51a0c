"""Configuration of the weight-penalty experiment (:mod:`overfitlab.experiments.weight_penalty`)."""
from __future__ import annotations

from dataclasses import dataclass

from overfitlab.experiments.configs.penalty_sweep import PenaltySweepConfig


@dataclass(frozen=True)
class WeightPenaltyConfig(PenaltySweepConfig):
    """Course protocol, the L2 sweep and the L1 sweep (see :class:`PenaltySweepConfig`)."""
