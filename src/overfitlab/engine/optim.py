"""Optimizers that reproduce scikit-learn's MLP solvers step for step, as optax transforms.

``sklearn_adam`` differs from ``optax.adam`` in where epsilon enters: scikit-learn folds the bias
corrections into the step size,

    m_t = b1 m + (1 - b1) g,   v_t = b2 v + (1 - b2) g^2,
    eta_t = eta * sqrt(1 - b2^t) / (1 - b1^t),
    update = -eta_t * m_t / (sqrt(v_t) + eps),

whereas optax divides by sqrt(v_t / (1 - b2^t)) + eps. ``sklearn_sgd`` is heavy-ball momentum with
optional Nesterov look-ahead, v <- mu v - eta g, update = mu v - eta g (Nesterov) or v; it equals
``optax.sgd(eta, mu, nesterov)`` but takes eta as a (possibly traced, possibly scheduled) value
per step. Learning rates are passed in at each update so they can be vmapped and scheduled.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class AdamState(NamedTuple):
    count: jax.Array
    mu: object
    nu: object


class SGDState(NamedTuple):
    velocity: object


def adam_init(params) -> AdamState:
    """Zero moments and step count 0."""
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return AdamState(jnp.zeros((), jnp.int32), zeros, zeros)


def adam_update(grads, state: AdamState, learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    """One scikit-learn Adam step: returns (updates, new_state); add updates to params."""
    count = state.count + 1
    mu = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)
    nu = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state.nu, grads)
    t = count.astype(jnp.result_type(float))
    step = learning_rate * jnp.sqrt(1 - b2**t) / (1 - b1**t)
    updates = jax.tree_util.tree_map(lambda m, v: -step * m / (jnp.sqrt(v) + eps), mu, nu)
    return updates, AdamState(count, mu, nu)


def sgd_init(params) -> SGDState:
    """Zero velocity."""
    return SGDState(jax.tree_util.tree_map(jnp.zeros_like, params))


def sgd_update(grads, state: SGDState, learning_rate, momentum=0.9, nesterov=True):
    """One scikit-learn SGD step with (Nesterov) momentum: returns (updates, new_state)."""
    velocity = jax.tree_util.tree_map(
        lambda v, g: momentum * v - learning_rate * g, state.velocity, grads)
    if nesterov:
        updates = jax.tree_util.tree_map(
            lambda v, g: momentum * v - learning_rate * g, velocity, grads)
    else:
        updates = velocity
    return updates, SGDState(velocity)
