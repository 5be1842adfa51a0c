"""The chain network: L neurons in a line, one per layer, and its backpropagation by hand.

Notation (the course's). Neurons are numbered 0 .. L-1. Neuron 0 is the input, ``a_0 = x``.
Layers l = 1 .. L-1 each hold one weight ``w_l`` and one bias ``b_l``::

    z_l = w_l a_{l-1} + b_l,        a_l = phi(z_l),

and the last neuron is the output, written ``a_out = a_{L-1}``. The cost on one pair (x, y) is
``C = (a_out - y)^2 / 2``. Arrays ``w`` and ``b`` have shape ``(L-1,)``: entry ``i`` belongs to
layer ``l = i + 1``.

Backpropagation. With the error ``delta_l = dC/dz_l``::

    delta_{L-1} = (a_out - y) * phi'(z_{L-1})                      (output layer)
    delta_l     = delta_{l+1} * w_{l+1} * phi'(z_l),   l = L-2 .. 1 (recurrence)
    dC/dw_l     = delta_l * a_{l-1},       dC/db_l = delta_l.

The course's snippet sets the output error to ``sqrt(2 C) = |a_out - y|``. That drops the sign
of ``a_out - y`` (so gradient descent climbs the cost whenever the output is below the target)
and the factor ``phi'(z_{L-1})`` (so every gradient is too large by ``1 / phi'(z_{L-1})``, at
least 4 for the sigmoid). :func:`backprop` does not reproduce that bug; the tests compare it with
``jax.grad`` and with central finite differences.

The bound (what :func:`gradient_bound` evaluates). Unrolling the recurrence,

    dC/dw_l = a_{l-1} * (a_out - y) * phi'(z_{L-1}) * prod_{k=l+1}^{L-1} w_k phi'(z_{k-1}).

For the sigmoid, ``0 < phi' <= 1/4``. Hence, for every layer l and every parameter value such
that ``|w_k| <= 1`` for all k = l+1 .. L-1 (true for the course's initialisation in [0, 1)),

    |dC/dw_l| <= |a_{l-1}| * (1/4)^(L-1-l) * |delta_{L-1}|
              <= (1/4)^(L-1-l) * |dC/db_{L-1}|                    (since |a_{l-1}| <= 1)
              <= (1/4)^(L-l) * |a_out - y|,

where ``|a_{l-1}| <= 1`` holds because a_0 = x with |x| <= 1 and a_{l-1} in (0, 1) otherwise, and
``dC/db_{L-1} = delta_{L-1}`` is the output layer's error. So the gradient reaching layer l is at
most ``(1/4)^(L-1-l)`` times the output layer's error: it shrinks at least geometrically, by 4
per layer, towards the input. For tanh (``phi' <= 1``) and ReLU (``phi' in {0, 1}``) the same
argument gives only the factor ``prod |w_k| <= 1``: no decay from the activation itself.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

Array = jax.Array

SIGMOID_DERIVATIVE_MAX = 0.25
"""max_z sigma'(z) = sigma(0) (1 - sigma(0)) = 1/4, reached at z = 0."""


class Activation(NamedTuple):
    """An activation ``phi`` and its derivative ``phi'`` (both elementwise)."""

    name: str
    phi: Callable[[Array], Array]
    dphi: Callable[[Array], Array]


def _sigmoid_prime(z: Array) -> Array:
    """sigma'(z) = sigma(z) (1 - sigma(z))."""
    s = jax.nn.sigmoid(z)
    return s * (1.0 - s)


def _tanh_prime(z: Array) -> Array:
    """tanh'(z) = 1 - tanh(z)^2."""
    return 1.0 - jnp.tanh(z) ** 2


def _relu_prime(z: Array) -> Array:
    """relu'(z) = 1 for z > 0 and 0 otherwise (the convention of ``jax.nn.relu``)."""
    return (z > 0).astype(z.dtype)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", jax.nn.sigmoid, _sigmoid_prime),
    "tanh": Activation("tanh", jnp.tanh, _tanh_prime),
    "relu": Activation("relu", jax.nn.relu, _relu_prime),
}


class Forward(NamedTuple):
    """What the forward pass keeps for backpropagation; arrays of shape (L-1,)."""

    z: Array  # z_l, l = 1 .. L-1
    a_in: Array  # a_{l-1}, the input each layer receives
    out: Array  # a_out = a_{L-1} (scalar)


class Gradients(NamedTuple):
    """dC/dw_l, dC/db_l (= delta_l), shape (L-1,), and the cost C."""

    dw: Array
    db: Array
    cost: Array


def init_chain(rng: np.random.Generator, length: int, seeds: int) -> tuple[Array, Array]:
    """The course's initialisation for ``seeds`` chains: w_l, b_l ~ Uniform[0, 1), float32,
    each of shape (seeds, L-1)."""
    w, b = rng.uniform(size=(2, seeds, length - 1)).astype(np.float32)
    return jnp.asarray(w), jnp.asarray(b)


def forward(w: Array, b: Array, x: Array, act: Activation) -> Forward:
    """Run a_0 = x through z_l = w_l a_{l-1} + b_l, a_l = phi(z_l)."""

    def layer(a_prev, wb):
        z = wb[0] * a_prev + wb[1]
        return act.phi(z), (z, a_prev)

    out, (z, a_in) = lax.scan(layer, jnp.asarray(x, w.dtype), (w, b))
    return Forward(z=z, a_in=a_in, out=out)


def cost(w: Array, b: Array, x: Array, y: Array, act: Activation) -> Array:
    """C = (a_out - y)^2 / 2."""
    return 0.5 * (forward(w, b, x, act).out - y) ** 2


def backprop(w: Array, b: Array, x: Array, y: Array, act: Activation) -> Gradients:
    """Gradients of C by the backpropagation recurrence written out by hand.

    The output error is ``delta_{L-1} = (a_out - y) * phi'(z_{L-1})``, *not* the course's
    ``sqrt(2 C)``, which loses the sign of ``a_out - y`` and the factor ``phi'(z_{L-1})``.
    Then ``delta_l = delta_{l+1} w_{l+1} phi'(z_l)`` down to l = 1, and
    ``dC/dw_l = delta_l a_{l-1}``, ``dC/db_l = delta_l``.
    """
    fw = forward(w, b, x, act)
    dphi = act.dphi(fw.z)
    delta_out = (fw.out - y) * dphi[-1]

    def step(delta_next, wd):
        w_next, dphi_l = wd
        delta = delta_next * w_next * dphi_l
        return delta, delta

    _, deltas = lax.scan(step, delta_out, (w[1:], dphi[:-1]), reverse=True)
    delta = jnp.concatenate([deltas, delta_out[None]])
    return Gradients(dw=delta * fw.a_in, db=delta, cost=0.5 * (fw.out - y) ** 2)


def gradient_bound(db_out: np.ndarray, length: int) -> np.ndarray:
    """The sigmoid bound on |dC/dw_l|, l = 1 .. L-1: (1/4)^(L-1-l) |dC/db_{L-1}| (numpy).

    ``db_out`` may have any shape; the result has one more axis, of size L-1 (the layers).
    Valid whenever |w_k| <= 1 for k > l and |a_{l-1}| <= 1 (see the module docstring).
    """
    layers = np.arange(1, length)
    return SIGMOID_DERIVATIVE_MAX ** (length - 1 - layers) * np.abs(np.asarray(db_out))[..., None]


class History(NamedTuple):
    """Per-epoch record of gradient descent on the chain; leading axis = epoch."""

    dw: Array  # dC/dw_l before the update of that epoch, shape (epochs, L-1)
    db: Array  # dC/db_l, shape (epochs, L-1)
    cost: Array  # shape (epochs,)
    w_max: Array  # max_l |w_l|, the premise of the bound, shape (epochs,)
    w_final: Array  # weights after the last update, shape (L-1,)


def train(w: Array, b: Array, x: float, y: float, act: Activation,
          learning_rate: float, epochs: int) -> History:
    """Plain gradient descent w <- w - eta dC/dw (same for b), recording every epoch.

    The recorded gradients are those computed at the start of each epoch (epoch 0 is the
    initialisation).
    """

    def epoch(params, _):
        w, b = params
        g = backprop(w, b, x, y, act)
        record = (g.dw, g.db, g.cost, jnp.max(jnp.abs(w)))
        return (w - learning_rate * g.dw, b - learning_rate * g.db), record

    (w_final, _), (dw, db, c, w_max) = lax.scan(epoch, (w, b), None, length=epochs)
    return History(dw=dw, db=db, cost=c, w_max=w_max, w_final=w_final)


def switch_activation(names: tuple[str, ...], index: Array) -> Activation:
    """The activation ``names[index]`` chosen at run time, so one compiled function (vmapped over
    ``index``) serves several activations."""
    acts = [ACTIVATIONS[n] for n in names]
    return Activation(
        name="|".join(names),
        phi=lambda z: lax.switch(index, [a.phi for a in acts], z),
        dphi=lambda z: lax.switch(index, [a.dphi for a in acts], z),
    )
