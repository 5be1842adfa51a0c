"""The course protocol shared by the experiments on the noisy quadratic.

Defaults reproduce the course: x on a regular grid of [-1, 1], y = x^2 + N(0, 0.2^2),
10 training and 100 test points, one hidden layer of 20 tanh units, full-batch Adam with
learning rate 1e-3, 20000 iterations.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from overfitlab.data.synthetic import TARGETS, RegressionData, noisy_function
from overfitlab.engine.mlp import ACTIVATIONS, forward
from overfitlab.engine.train import TrainSpec
from overfitlab.experiments.base import Config, ConfigError
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
    activation: str = param("tanh", "activation of the hidden units", choices=ACTIVATIONS)
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


def require(*checks: tuple[bool, str]) -> None:
    """Raise ConfigError with the message of the first failed ``(ok, message)`` check."""
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


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


def course_spec(config, max_iter: int | None = None, tol: float | None = None,
                **kw) -> TrainSpec:
    """Adam training of the protocol's 1-h-1 network (``config`` has ``hidden_units``,
    ``activation`` and ``max_iter``): fixed length unless ``tol`` is given; no loss curve
    unless asked (``record_loss_curve=True``)."""
    n_iter = config.max_iter if max_iter is None else max_iter
    return TrainSpec((1, config.hidden_units, 1), config.activation, "adam", n_iter, tol=tol,
                     chunk=min(n_iter, 1000), **{"record_loss_curve": False, **kw})


def predict(params: dict, X: np.ndarray, activation: str, masks=None) -> np.ndarray:
    """Predictions (..., n_points) of networks stacked along any leading axes.

    ``masks`` (optional) holds one (..., h_l) 0/1 array per hidden layer, stacked like
    ``params``.
    """
    lead = params["intercepts"][-1].shape[:-1]
    flat = jax.tree_util.tree_map(lambda a: jnp.reshape(a, (-1,) + a.shape[len(lead):]),
                                  params)
    Xj = jnp.asarray(X)
    if masks is None:
        out = jax.vmap(lambda p: forward(p, Xj, activation))(flat)
    else:
        flat_masks = [jnp.reshape(m, (-1, m.shape[-1])) for m in masks]
        out = jax.vmap(lambda p, m: forward(p, Xj, activation, m))(flat, flat_masks)
    return np.asarray(out[..., 0], np.float64).reshape(lead + (Xj.shape[0],))


def predict_host(params: dict, X: np.ndarray, activation: str, masks=None) -> np.ndarray:
    """Predictions (B, n_points) of B networks stacked along one leading axis, in float64 NumPy.

    Compiles nothing (the eager JAX of :func:`predict` compiles small programs per shape), and
    ``masks`` (optional) holds one (B, h_l) array per hidden layer.
    """
    wide = lambda a: np.asarray(a, np.float64)[:, None, :]  # noqa: E731  (B, 1, h): broadcast over points
    p = {"coefs": [np.asarray(W, np.float64) for W in params["coefs"]],
         "intercepts": [wide(b) for b in params["intercepts"]]}
    m = None if masks is None else [wide(mask) for mask in masks]
    return forward(p, np.asarray(X, np.float64)[None], activation, m, backend="numpy")[..., 0]


def mse(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean squared error over the last axis, in float64."""
    return np.mean((np.asarray(pred, np.float64) - np.asarray(y, np.float64)) ** 2, axis=-1)
