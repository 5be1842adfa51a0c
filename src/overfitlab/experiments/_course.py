"""The course protocol shared by the experiments on the noisy quadratic.

Defaults reproduce the course: x on a regular grid of [-1, 1], y = x^2 + N(0, 0.2^2),
10 training and 100 test points, one hidden layer of 20 tanh units, full-batch Adam with
learning rate 1e-3, 20000 iterations.
"""
from __future__ import annotations

from dataclasses import dataclass

from overfitlab.data.synthetic import TARGETS, RegressionData, noisy_function
from overfitlab.engine.mlp import ACTIVATIONS
from overfitlab.experiments.base import Config, ConfigError


@dataclass(frozen=True)
class CourseConfig(Config):
    """Data and network fields of the course protocol, validated once for every experiment."""

    n_train: int = 10
    n_test: int = 100
    noise: float = 0.2
    target: str = "x^2"
    hidden_units: int = 20
    activation: str = "tanh"
    learning_rate: float = 1e-3
    max_iter: int = 20000

    def validate(self) -> None:
        """Check the protocol fields; subclasses call ``super().validate()`` then their own."""
        require(
            (self.n_train >= 2, f"n_train must be >= 2, got {self.n_train}"),
            (self.n_test >= 1, f"n_test must be >= 1, got {self.n_test}"),
            (self.noise >= 0, f"noise must be >= 0, got {self.noise}"),
            (self.target in TARGETS,
             f"target must be one of {', '.join(TARGETS)}, got {self.target!r}"),
            (self.hidden_units >= 1, f"hidden_units must be >= 1, got {self.hidden_units}"),
            (self.activation in ACTIVATIONS,
             f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"),
            (self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}"),
            (10 <= self.max_iter <= 200_000,
             f"max_iter must be in [10, 200000], got {self.max_iter}"),
        )

    def data(self) -> RegressionData:
        """The course data set drawn from this configuration's seed."""
        return noisy_function(self.n_train, self.n_test, self.noise, self.target, self.seed)


def require(*checks: tuple[bool, str]) -> None:
    """Raise ConfigError with the message of the first failed ``(ok, message)`` check."""
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
