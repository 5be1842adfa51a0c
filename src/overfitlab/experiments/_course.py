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


@dataclass(frozen=True)
class NetworkConfig(CourseConfig):
    """The course protocol with scikit-learn's default L2 penalty."""

    alpha: float = 1e-4

    def validate(self) -> None:
        super().validate()
        require((self.alpha >= 0, f"alpha must be >= 0, got {self.alpha}"))


def course_spec(config, max_iter: int | None = None, tol: float | None = None,
                **kw) -> TrainSpec:
    """Adam training of the protocol's 1-h-1 network (``config`` has ``hidden_units``,
    ``activation`` and ``max_iter``): fixed length unless ``tol`` is given."""
    n_iter = config.max_iter if max_iter is None else max_iter
    return TrainSpec((1, config.hidden_units, 1), config.activation, "adam", n_iter, tol=tol,
                     chunk=min(n_iter, 1000), **kw)


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
