"""Regularizers, defined as in scikit-learn's MLP (penalties on weight matrices, not biases).

For a batch of m samples:

* L2:  R_2(W) = alpha / (2 m) * sum_l ||W_l||_F^2, whose gradient alpha W_l / m is weight decay.
* L1:  R_1(W) = l1 / m * sum_l sum_ij |W_l,ij|, applied by its proximal operator after each
  optimizer step (proximal gradient): W <- sign(W) * max(|W| - eta * l1 / m, 0), with eta the
  base learning rate. Unlike a subgradient step this sets weights exactly to zero.
* Dropout (inverted): hidden unit j is kept with probability 1 - p and its activation is scaled
  by 1 / (1 - p), so E[mask] = 1 and no rescaling is needed at prediction time.
"""
from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp

from overfitlab.engine import threefry
from overfitlab.engine.mlp import Params


def l2_penalty(params: Params, alpha: jax.Array, n_samples: jax.Array) -> jax.Array:
    """alpha / (2 n) * sum of squared weights (biases excluded)."""
    squares = sum(jnp.sum(W * W) for W in params["coefs"])
    return 0.5 * alpha * squares / n_samples


def l1_penalty(params: Params, l1: jax.Array, n_samples: jax.Array) -> jax.Array:
    """l1 / n * sum of absolute weights (biases excluded); reported, minimised by ``prox_l1``."""
    return l1 * sum(jnp.sum(jnp.abs(W)) for W in params["coefs"]) / n_samples


def soft_threshold(w: jax.Array, threshold: jax.Array) -> jax.Array:
    """Proximal operator of threshold * |w|: sign(w) * max(|w| - threshold, 0)."""
    return jnp.sign(w) * jnp.maximum(jnp.abs(w) - threshold, 0.0)


def prox_l1(params: Params, threshold: jax.Array) -> Params:
    """Soft-threshold every weight matrix by ``threshold`` (= learning rate * l1 / n)."""
    return {
        "coefs": [soft_threshold(W, threshold) for W in params["coefs"]],
        "intercepts": params["intercepts"],
    }


def dropout_masks(key: jax.Array, rate: jax.Array, n_samples: int,
                  hidden_sizes: Sequence[int], dtype=jnp.float32) -> list[jax.Array]:
    """Inverted-dropout masks, one (n_samples, h_l) array per hidden layer.

    Each entry is 1 / (1 - rate) with probability 1 - rate and 0 otherwise, so its mean is 1.
    ``rate`` may be a traced scalar (vmapped sweeps); rate = 0 gives masks of ones.
    """
    keep = 1.0 - rate
    keys = jax.random.split(key, len(hidden_sizes))
    return [
        threefry.bernoulli(k, keep, (n_samples, h)).astype(dtype) / keep
        for k, h in zip(keys, hidden_sizes)
    ]
