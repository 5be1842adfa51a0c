"""Configuration of the early-stopping experiment (:mod:`overfitlab.experiments.early_stopping`)."""
from __future__ import annotations

from dataclasses import dataclass

from overfitlab.experiments.budget import Footprint
from overfitlab.experiments.configs.course import NetworkConfig, networks_footprint
from overfitlab.experiments.params import param, require


@dataclass(frozen=True)
class EarlyStoppingConfig(NetworkConfig):
    """Course protocol with its L2 penalty (see :class:`NetworkConfig`) plus stopping parameters."""

    tol: float = param(1e-7, "improvement of the validation R^2 that resets the patience "
                       "(and the estimator's tol in the course's refit)", low=0.0, high=1.0)
    validation_fraction: float = param(0.2, "share of the training points held out for "
                                       "validation-based early stopping", low=0.0, high=1.0,
                                       low_open=True, high_open=True)
    patience: int = param(1000, "iterations without validation improvement before stopping",
                          low=1)

    QUICK = {"max_iter": 4000, "seeds": 8, "patience": 300}

    def validate(self) -> None:
        super().validate()
        require(
            (self.n_train >= 3, f"n_train must be >= 3 (a validation split is held out), "
                                f"got {self.n_train}"),
            (round(self.validation_fraction * self.n_train) >= 1,
             "validation_fraction * n_train must give at least 1 point; increase "
             "validation_fraction or n_train"),
        )

    def footprint(self) -> Footprint:
        """Three trainings of ``seeds`` networks; the long one records three curves."""
        return super().footprint() + networks_footprint(
            self, 3 * self.seeds, curve_points=3 * self.max_iter, grid_points=2 * 201)
