"""A linear autoencoder trained by full-batch Adam in one compiled loop, vmapped over seeds and k.

Model (rows are samples, the data ``X`` of shape (n, d) is centred)::

    code  Z = X W_enc            W_enc: (d, k)
    recon X_hat = Z W_dec        W_dec: (k, d)

and the loss is the mean squared reconstruction norm

    L(W_enc, W_dec) = (1/n) ||X - X W_enc W_dec||_F^2 = (1/n) sum_i ||x_i - x_hat_i||^2.

Theory (Baldi & Hornik 1989). ``X W_enc W_dec`` has rank at most k, so by Eckart-Young no choice
of weights beats the rank-k truncated SVD of X, i.e. PCA with k components, whose error is the
sum of the discarded eigenvalues of the covariance C = X^T X / n. Every local minimum of L is
global, and at a minimum the reconstruction map W_enc W_dec equals the orthogonal projector
V_k V_k^T onto the top-k principal subspace (when lambda_k > lambda_{k+1}); the other critical
points are saddles. The weights themselves are *not* unique: for any invertible k x k matrix M,
(W_enc M, M^{-1} W_dec) gives the same reconstruction. So an autoencoder recovers the principal
*subspace*, spanned by the rows of W_dec (the columns of W_dec^T), but not the principal axes
nor their order, and its weights are generally neither orthonormal nor equal to PCA's. This is
why the experiment compares the decoder's span with PCA's by principal angles, not weights.

Several hidden sizes train in one compiled program: every network has ``max(ks)`` hidden units
and a 0/1 mask switches off units ``j >= k``. A masked unit gets zero gradient, so Adam leaves it
at its initial value (its moments stay 0) and the live units see exactly the k-unit problem.
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from overfitlab.engine import threefry
from overfitlab.engine.mlp import glorot_bound
from overfitlab.engine.train import COMPILER_OPTIONS

# Full float32 products: GPUs may otherwise multiply float32 in TF32 (10-bit mantissa), which
# would blur the gradient and so the recovered subspace; on CPU this changes nothing.
_matmul = partial(jnp.matmul, precision=jax.lax.Precision.HIGHEST)


class AEParams(NamedTuple):
    """Encoder (d, k) and decoder (k, d) weights; leading axes when batched."""

    enc: jax.Array
    dec: jax.Array


class AEFit(NamedTuple):
    """Trained weights and the training loss at every step.

    ``params`` leaves have shape (len(ks), n_seeds, ...) with ``max(ks)`` hidden units of which
    the first k are live; ``loss`` has shape (len(ks), n_seeds, steps), the loss *before* each
    update.
    """

    params: AEParams
    loss: jax.Array


def init_params(key, n_features: int, n_hidden: int, dtype=np.float32) -> AEParams:
    """Glorot-uniform weights, U(-r, r) with r = sqrt(6 / (d + k)), as MLPRegressor draws them.

    Drawn on the host: the values ``jax.random.uniform`` gives under the two keys of
    ``jax.random.split(key)`` (:func:`threefry.uniform`; JAX's threefry sampler took seconds to
    compile inside the training program), cast to ``dtype``."""
    r = glorot_bound(n_features, n_hidden, "identity")
    k_enc, k_dec = threefry.split(threefry.key_data(key))
    return AEParams(enc=threefry.uniform(k_enc, (n_features, n_hidden), -r, r).astype(dtype),
                    dec=threefry.uniform(k_dec, (n_hidden, n_features), -r, r).astype(dtype))


def reconstruct(params: AEParams, X: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """X_hat = ((X W_enc) * mask) W_dec; ``mask`` (k,) switches hidden units off (None: all on)."""
    code = _matmul(X, params.enc)
    if mask is not None:
        code = code * mask
    return _matmul(code, params.dec)


def reconstruction_error(params: AEParams, X: jax.Array,
                         mask: jax.Array | None = None) -> jax.Array:
    """(1/n) ||X - X_hat||_F^2: squared reconstruction norm averaged over samples."""
    residual = X - reconstruct(params, X, mask)
    return jnp.mean(jnp.sum(residual * residual, axis=1))


def unit_masks(ks: Sequence[int]) -> np.ndarray:
    """Masks of shape (len(ks), max(ks)): row i keeps the first ks[i] hidden units."""
    return (np.arange(max(ks))[None, :] < np.asarray(ks)[:, None]).astype(np.float32)


def adam_cosine(learning_rate: float, steps: int,
                final_fraction: float) -> optax.GradientTransformation:
    """Adam whose step size decays from ``learning_rate`` to ``final_fraction`` of it (cosine).

    Large early steps make fast progress; the small late steps let the weights settle well
    below the jitter that Adam (whose steps are about the step size, whatever the gradient)
    keeps at a fixed step size.
    """
    schedule = optax.cosine_decay_schedule(learning_rate, steps, alpha=final_fraction)
    return optax.adam(schedule)


@jax.jit
def second_moment(X: jax.Array) -> jax.Array:
    """C = X^T X / n, the covariance of centred data (the only thing the full-batch loss needs)."""
    return _matmul(X.T, X) / X.shape[0]


def gram_reconstruction_error(params: AEParams, C: jax.Array,
                              mask: jax.Array | None = None) -> jax.Array:
    """The loss of :func:`reconstruction_error` written with C = X^T X / n only.

    With E = W_enc diag(mask) and D = W_dec, expanding the square and using the trace,

        (1/n) ||X - X E D||^2 = tr C - 2 tr(D C E) + sum((E^T C E) * (D D^T)),

    so the loss and its gradient 2 C (E D D^T - D^T), -2 E^T C + 2 (E^T C E) D are those of the
    full batch exactly (up to rounding), at O(d^2 k) instead of O(n d k) operations per step.
    """
    E = params.enc if mask is None else params.enc * mask
    D = params.dec
    CE = _matmul(C, E)
    return jnp.trace(C) - 2.0 * jnp.sum(D.T * CE) + jnp.sum(_matmul(E.T, CE) * _matmul(D, D.T))


def train(X: jax.Array, keys: jax.Array, ks: Sequence[int], steps: int, learning_rate: float,
          final_fraction: float = 1e-3) -> AEFit:
    """Train one autoencoder per (k in ``ks``, key in ``keys``) on ``X`` with full-batch Adam.

    All networks share one compiled ``lax.scan`` over ``steps`` steps, vmapped over the hidden
    sizes (through :func:`unit_masks`) and the initialisation keys. Each step takes the exact
    full-batch gradient, computed from C = X^T X / n (:func:`gram_reconstruction_error`). The
    same key gives the same initial weights for every k (masked units are merely switched off).
    """
    C = second_moment(np.asarray(X, np.float32))
    starts = [init_params(key, C.shape[0], max(ks)) for key in threefry.key_data(keys)]
    start = AEParams(*(np.stack(leaves) for leaves in zip(*starts)))
    return _train(C, start, unit_masks(ks), steps, float(learning_rate), float(final_fraction))


@partial(jax.jit, static_argnames=("steps", "learning_rate", "final_fraction"),
         compiler_options=COMPILER_OPTIONS)
def _train(C, start, masks, steps, learning_rate, final_fraction) -> AEFit:
    optimizer = adam_cosine(learning_rate, steps, final_fraction)
    loss_and_grad = jax.value_and_grad(gram_reconstruction_error)

    def fit_one(mask, params):
        def step(carry, _):
            params, opt_state = carry
            loss, grads = loss_and_grad(params, C, mask)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, _), losses = jax.lax.scan(step, (params, optimizer.init(params)), None,
                                           length=steps)
        return params, losses

    over_seeds = jax.vmap(fit_one, in_axes=(None, 0))
    params, losses = jax.vmap(over_seeds, in_axes=(0, None))(masks, start)
    return AEFit(params, losses)
