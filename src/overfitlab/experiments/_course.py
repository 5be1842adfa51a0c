"""Training and evaluation of the course protocol's networks, shared by the experiments on the
noisy quadratic (the protocol's configuration: :mod:`overfitlab.experiments.configs.course`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from overfitlab.engine.mlp import forward
from overfitlab.engine.train import TrainSpec


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
