"""Configuration of the autoencoder-vs-PCA experiment
(:mod:`overfitlab.experiments.autoencoder_pca`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from overfitlab.errors import ConfigError
from overfitlab.experiments.base import Config
from overfitlab.experiments.budget import Footprint, float_arrays
from overfitlab.experiments.params import param

N_PIXELS = 64
EMBEDDING_K = 2  # the hidden size whose codes are drawn as 2-D embeddings


@dataclass(frozen=True)
class AutoencoderPCAConfig(Config):
    """Parameters of the autoencoder-vs-PCA experiment (defaults: the full preset)."""

    ks: tuple[int, ...] = param((2, 5, 10), "hidden units (= PCA components) compared",
                                low=1, high=N_PIXELS - 1)
    steps: int = param(3000, "full-batch Adam steps", low=1, high=1_000_000)
    learning_rate: float = param(0.01, "initial Adam step size", low=0.0, low_open=True,
                                 high=1e3)
    final_lr_fraction: float = param(1e-3, "the cosine decay ends at this fraction of "
                                     "learning_rate", low=0.0, high=1.0, low_open=True)
    test_fraction: float = param(0.2, "share of the 1797 digits held out", low=0.05, high=0.5)
    n_shown: int = param(8, "digits in the reconstruction figure (one per class)", low=1,
                         high=10)

    QUICK: ClassVar[dict] = {"seeds": 5, "steps": 600, "learning_rate": 0.02}

    def validate(self) -> None:
        if len(set(self.ks)) != len(self.ks):
            raise ConfigError(f"ks must not repeat a size, got {self.ks}")
        if EMBEDDING_K not in self.ks:
            raise ConfigError(f"ks must include {EMBEDDING_K} (drawn as the 2-D embedding), "
                              f"got {self.ks}; e.g. --set ks=2,5,10")

    def footprint(self) -> Footprint:
        """seeds x ks autoencoders of the digits, their codes and reconstructions."""
        return Footprint(float_arrays((self.seeds, len(self.ks), 1797, 2 * N_PIXELS), copies=4),
                         "--seeds")
