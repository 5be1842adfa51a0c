"""The course protocol shared by the experiments on the noisy quadratic: its configuration.

Defaults reproduce the course: x on a regular grid of [-1, 1], y = x^2 + N(0, 0.2^2),
10 training and 100 test points, one hidden layer of 20 tanh units, full-batch Adam with
learning rate 1e-3, 20000 iterations.
"""
from __future__ import annotations

from dataclasses import dataclass

from overfitlab.data.synthetic import TARGETS, RegressionData, noisy_function
from overfitlab.engine.names import MLP_ACTIVATIONS
from overfitlab.experiments.base import Config
from overfitlab.experiments.budget import Footprint, float_arrays
from overfitlab.experiments.params import param


@dataclass(frozen=True)
class CourseConfig(Config):
    """Data and network fields of the course protocol, validated once for every experiment."""

    n_train: int = param(10, "training points, on a regular grid of [-1, 1]", low=2,
                         high=100_000)
    n_test: int = param(100, "test points, on a regular grid of [-1, 1]", low=1, high=1_000_000)
    noise: float = param(0.2, "standard deviation of the Gaussian noise on the targets",
                         low=0.0, high=100.0)
    target: str = param("x^2", "the true function f(x)", choices=TARGETS)
    hidden_units: int = param(20, "units of the hidden layer", low=1, high=10_000)
    activation: str = param("tanh", "activation of the hidden units", choices=MLP_ACTIVATIONS)
    learning_rate: float = param(1e-3, "Adam's learning rate", low=0.0, low_open=True,
                                 high=1e3)
    max_iter: int = param(20000, "training iterations (full-batch epochs)", low=10,
                          high=200_000)

    def footprint(self) -> Footprint:
        """The course data and one network's arrays (subclasses add their networks)."""
        return Footprint(float_arrays((self.n_train,), (self.n_test,), copies=8),
                         "--set n_test or --set n_train")

    def data(self) -> RegressionData:
        """The course data set drawn from this configuration's seed."""
        return noisy_function(self.n_train, self.n_test, self.noise, self.target, self.seed)


@dataclass(frozen=True)
class NetworkConfig(CourseConfig):
    """The course protocol with scikit-learn's default L2 penalty."""

    alpha: float = param(1e-4, "L2 penalty coefficient (scikit-learn's alpha)", low=0.0,
                         high=1e6)


def networks_footprint(config: CourseConfig, networks: int, curve_points: int = 0,
                       grid_points: int = 0) -> Footprint:
    """Memory of ``networks`` course networks trained together: weights with Adam's moments and
    their host copies, ``curve_points`` recorded values per network (host copies and float64
    analysis included) and predictions on ``grid_points`` points plus the data."""
    n_params = 3 * config.hidden_units + 1
    points = grid_points + config.n_test + config.n_train
    return Footprint(float_arrays((networks, n_params), copies=12)
                     + float_arrays((networks, curve_points), copies=6)
                     + float_arrays((networks, points), copies=4),
                     "--seeds" + (" or --set max_iter" if curve_points else ""))
