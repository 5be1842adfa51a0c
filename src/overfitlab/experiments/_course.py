"""Training and evaluation of the course protocol's networks, shared by the experiments on the
noisy quadratic (the protocol's configuration: :mod:`overfitlab.experiments.configs.course`).
"""
from __future__ import annotations

import numpy as np

from overfitlab.engine.mlp import forward_stack
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
    """Predictions (..., n_points) of networks stacked along any leading axes, in float64
    NumPy.

    ``masks`` (optional) holds one (..., h_l) array per hidden layer, stacked like ``params``
    (0/1 to switch units off). NumPy rather than eager JAX: eager JAX compiles a small program
    for every new shape (about 0.1 s each, tens of them per experiment), while these products
    (networks x points x units) take milliseconds.
    """
    lead = params["intercepts"][-1].shape[:-1]
    flat = lambda a: np.asarray(a, np.float64).reshape((-1,) + a.shape[len(lead):])  # noqa: E731
    p = {name: [flat(a) for a in arrays] for name, arrays in params.items()}
    m = None if masks is None else [flat(mask) for mask in masks]
    out = forward_stack(p, np.asarray(X, np.float64), activation, m)
    return out[..., 0].reshape(lead + (np.shape(X)[0],))


def mse(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean squared error over the last axis, in float64."""
    return np.mean((np.asarray(pred, np.float64) - np.asarray(y, np.float64)) ** 2, axis=-1)
