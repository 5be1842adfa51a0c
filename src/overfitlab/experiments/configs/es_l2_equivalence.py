"""Configuration of the early-stopping / L2 equivalence experiment
(:mod:`overfitlab.experiments.es_l2_equivalence`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from overfitlab.experiments.base import Config
from overfitlab.experiments.budget import Footprint, float_arrays
from overfitlab.experiments.params import param, require


@dataclass(frozen=True)
class EsL2Config(Config):
    """Parameters; defaults are the full preset.

    ``lr_scale``: gradient-descent rate in units of ``1/mu_max`` (``lr = lr_scale / mu_max``).
    ``small_mu_limit``: iterations with ``n lr mu_max <= small_mu_limit`` form the range where
    the small-mu approximation holds for every component. ``divergence_steps`` must exceed
    ``10 * condition`` so that slow components have died out before the growth test.
    """

    dim: int = param(10, "dimension of the quadratic cost", low=2, high=2000)
    condition: float = param(1000.0, "condition number mu_max / mu_min of its Hessian", low=1.0,
                             low_open=True, high=1e8)
    lr_scale: float = param(0.01, "gradient-descent rate in units of 1/mu_max", low=0.0,
                            low_open=True)
    n_steps: int = param(20000, "gradient-descent steps", low=10, high=10_000_000)
    fit_points: int = param(60, "iterations at which the equivalent ridge alpha is fitted",
                            low=5, high=10_000)
    small_mu_limit: float = param(0.1, "n lr mu_max below which the small-mu approximation is "
                                  "tested", low=0.0, high=1.0, low_open=True, high_open=True)
    divergence_steps: int = param(10000, "steps of the divergence-threshold test", low=5000,
                                  high=10_000_000)
    divergence_rtol: float = param(1e-10, "relative precision of the measured threshold",
                                   low=0.0, high=1e-3, low_open=True, high_open=True)
    divergence_margin: float = param(0.01, "relative bracket around 2/mu_max searched",
                                     low=0.0, high=0.5, low_open=True, high_open=True)
    plane_mu_low: float = param(0.1, "smaller curvature of the 2-D illustration", low=0.0,
                                high=1.0, low_open=True, high_open=True)
    plane_lr: float = param(0.5, "gradient-descent rate of the 2-D illustration", low=0.0,
                            high=2.0, low_open=True, high_open=True)
    plane_stop: int = param(5, "early-stopping step marked in the 2-D illustration", low=1)

    QUICK: ClassVar[dict] = {
        "seeds": 5, "dim": 6, "condition": 100.0, "n_steps": 2000, "fit_points": 25,
        "divergence_steps": 5000, "divergence_rtol": 1e-8,
    }

    def validate(self) -> None:
        require(
            (self.lr_scale <= self.small_mu_limit,
             f"lr_scale must be in (0, small_mu_limit={self.small_mu_limit}] so that some "
             f"iterations have n*lr*mu_max <= small_mu_limit, got {self.lr_scale}"),
            (self.divergence_steps >= 10 * self.condition,
             f"divergence_steps must be >= 10 * condition = {10 * self.condition:g}, got "
             f"{self.divergence_steps}"),
        )

    def footprint(self) -> Footprint:
        """Float64 gradient-descent paths of every seed's cost."""
        return Footprint(float_arrays((self.seeds, self.n_steps + self.divergence_steps,
                                       self.dim), copies=4), "--seeds or --set n_steps")
