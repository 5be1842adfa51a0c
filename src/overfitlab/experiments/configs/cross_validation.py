"""The cross-validation fields of the experiments that choose a coefficient on the training
points (the folds themselves: :mod:`overfitlab.experiments._cv`)."""
from __future__ import annotations

from dataclasses import dataclass

from overfitlab.experiments.configs.course import CourseConfig
from overfitlab.experiments.params import param, require


@dataclass(frozen=True)
class CrossValidation(CourseConfig):
    """The cross-validation fields of the experiments that choose a coefficient."""

    cv_folds: int = param(5, "folds of the shuffled cross-validation that chooses the "
                          "coefficient on the training points", low=2, high=1000)
    cv_seeds: int = param(5, "initialisations averaged per candidate in the "
                          "cross-validation", low=1, high=1000)

    def validate(self) -> None:
        super().validate()
        require(
            (self.cv_folds <= self.n_train,
             f"cv_folds={self.cv_folds} cannot exceed n_train={self.n_train} (each fold holds "
             "out at least one point)"),
            (self.cv_seeds <= self.seeds,
             f"cv_seeds={self.cv_seeds} cannot exceed seeds={self.seeds}"))
