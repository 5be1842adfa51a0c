"""Configuration of the vanishing-gradient experiment
(:mod:`overfitlab.experiments.vanishing_gradient`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from overfitlab.errors import ConfigError
from overfitlab.experiments.base import Config
from overfitlab.experiments.budget import Footprint, float_arrays
from overfitlab.experiments.params import param

ANSWER_LENGTH = 10  # the chain length the answers are about


@dataclass(frozen=True)
class VanishingGradientConfig(Config):
    """Defaults are the full preset; ``QUICK`` shortens training."""

    lengths: tuple[int, ...] = param((5, 10, 20), "lengths of the chain networks (neurons)",
                                     low=3, high=40)
    epochs: int = param(1000, "gradient-descent epochs of the chains", low=1, high=1_000_000)
    learning_rate: float = param(1e-2, "gradient-descent rate of the chains", low=0.0,
                                 low_open=True, high=1e3)
    x: float = param(0.5, "the chain's input", low=-1.0, high=1.0)
    mlp_depth: int = param(20, "hidden layers of the deep MLP at initialisation", low=2, high=40)
    mlp_width: int = param(64, "units per hidden layer of the deep MLP", low=1, high=4096)
    mlp_batch: int = param(256, "inputs through the deep MLP", low=1, high=100_000)

    QUICK: ClassVar[dict] = {"epochs": 100, "mlp_batch": 128}

    def validate(self) -> None:
        if ANSWER_LENGTH not in self.lengths:
            raise ConfigError(
                f"lengths={self.lengths} must include {ANSWER_LENGTH} (the answers are about the "
                f"chain of {ANSWER_LENGTH} neurons); e.g. --set lengths=5,10,20"
            )

    def footprint(self) -> Footprint:
        """Per-epoch gradients of every chain and seed, and the deep MLP's activations."""
        return Footprint(
            float_arrays((self.seeds, len(self.lengths), self.epochs, max(self.lengths)),
                         copies=6)
            + float_arrays((self.seeds, self.mlp_depth, self.mlp_batch, self.mlp_width),
                           copies=6), "--seeds or --set epochs")
