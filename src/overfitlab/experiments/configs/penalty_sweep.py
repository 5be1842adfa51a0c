"""The configuration of the penalty sweeps shared by the weight-penalty and small-network
experiments (the sweeps themselves: :mod:`overfitlab.experiments._sweeps`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from overfitlab.data.synthetic import RegressionData, noisy_function
from overfitlab.experiments.budget import Footprint
from overfitlab.experiments.configs.course import networks_footprint
from overfitlab.experiments.configs.cross_validation import CrossValidation
from overfitlab.experiments.params import param, require

SWEEP_QUICK: dict[str, Any] = {"seeds": 6, "max_iter": 6000, "n_alphas": 16, "n_l1": 7,
                                "cv_seeds": 2}
"""Quick-preset overrides of the shared sweep fields (identical in both experiments, so the
quick report also trains the L2 sweep once)."""


@dataclass(frozen=True)
class PenaltySweepConfig(CrossValidation):
    """The course protocol plus the sweeps (defaults: the full preset).

    The L2 sweep is ``alpha = 0`` (the unregularized reference) followed by ``n_alphas`` values
    log-uniform in ``[alpha_min, alpha_max]``; the L1 sweep is ``n_l1`` values log-uniform in
    ``[l1_min, l1_max]`` (without L2).
    """

    alpha_min: float = param(1e-5, "smallest L2 coefficient of the sweep", low=0.0,
                             low_open=True, high=1e6)
    alpha_max: float = param(10.0, "largest L2 coefficient of the sweep", low=0.0,
                             low_open=True, high=1e6)
    n_alphas: int = param(31, "L2 coefficients, log-uniform in [alpha_min, alpha_max]", low=3,
                          high=1000)
    l1_min: float = param(1e-2, "smallest L1 coefficient of the sweep", low=0.0, low_open=True,
                          high=1e6)
    l1_max: float = param(10.0, "largest L1 coefficient of the sweep", low=0.0, low_open=True,
                          high=1e6)
    n_l1: int = param(10, "L1 coefficients, log-uniform in [l1_min, l1_max]", low=3, high=1000)

    QUICK: ClassVar[dict[str, Any]] = SWEEP_QUICK

    def validate(self) -> None:
        super().validate()
        require(
            (self.hidden_units >= 2, f"hidden_units must be >= 2, got {self.hidden_units}"),
            (self.alpha_min < self.alpha_max,
             f"need alpha_min < alpha_max, got alpha_min={self.alpha_min}, "
             f"alpha_max={self.alpha_max}"),
            (self.l1_min < self.l1_max,
             f"need l1_min < l1_max, got l1_min={self.l1_min}, l1_max={self.l1_max}"),
        )

    def footprint(self) -> Footprint:
        """Both sweeps and their cross-validation trained at once: (seeds + cv_seeds x
        cv_folds) x (n_alphas + 1 + n_l1) networks."""
        return super().footprint() + networks_footprint(
            self, (self.seeds + self.cv_seeds * self.cv_folds) * (self.n_alphas + 1 + self.n_l1),
            grid_points=3 * 201)

    def setup(self) -> SweepSetup:
        """The hashable training setup shared by every sweep of this configuration."""
        return SweepSetup(self.seed, self.seeds, self.n_train, self.n_test, self.noise,
                          self.target, self.hidden_units, self.activation, self.learning_rate,
                          self.max_iter, self.cv_folds, self.cv_seeds)

    def alphas(self) -> tuple[float, ...]:
        """The L2 sweep: 0, then ``n_alphas`` log-uniform values."""
        grid = np.geomspace(self.alpha_min, self.alpha_max, self.n_alphas)
        return (0.0, *(float(a) for a in grid))

    def l1s(self) -> tuple[float, ...]:
        """The L1 sweep: ``n_l1`` log-uniform values."""
        return tuple(float(v) for v in np.geomspace(self.l1_min, self.l1_max, self.n_l1))


@dataclass(frozen=True)
class SweepSetup:
    """Everything but the swept values that fixes a sweep's result."""

    seed: int
    seeds: int
    n_train: int
    n_test: int
    noise: float
    target: str
    hidden_units: int
    activation: str
    learning_rate: float
    max_iter: int
    cv_folds: int
    cv_seeds: int

    def data(self) -> RegressionData:
        """The course data set of this seed."""
        return noisy_function(self.n_train, self.n_test, self.noise, self.target, self.seed)
