"""Multi-layer perceptrons as plain pytrees, defined exactly as scikit-learn's MLPRegressor.

Parameters are a dict ``{"coefs": [W_1, ..., W_L], "intercepts": [b_1, ..., b_L]}`` with
``W_l`` of shape (fan_in, fan_out). The forward pass is

    a_0 = x,   a_l = g(a_{l-1} W_l + b_l)  (hidden layers, activation g),
    f(x) = a_{L-1} W_L + b_L               (linear output for regression).

Initialisation is Glorot-uniform as MLPRegressor does it: W_l and b_l are drawn from
U(-r, r) with r = sqrt(6 / (fan_in + fan_out)), and sqrt(2 / (fan_in + fan_out)) for the
logistic activation, in scikit-learn's order (W_1, b_1, W_2, b_2, ...) from a NumPy generator:
given the same ``RandomState`` the draws are MLPRegressor's own initial weights.
"""
from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from overfitlab.engine.names import MLP_ACTIVATIONS

Params = dict  # {"coefs": list[Array], "intercepts": list[Array]}

# tanh(z) ~ z p(z^2) / q(z^2) with z clamped to [-TANH_CLAMP, TANH_CLAMP]: Eigen's float32
# approximation (its clamp without fused multiply-adds), which XLA's CPU backend also uses. Eigen
# and XLA return z itself for |z| < 4e-4; the ratio's relative error there is 1.3e-7 (one unit in
# the last place), and the branch made a training step of the course networks twice as slow.
TANH_NUMERATOR = (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
                  5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13,
                  -2.76076847742355e-16)
TANH_DENOMINATOR = (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
                    1.19825839466702e-06)
TANH_CLAMP = 7.90531110763549805


def _polynomial(coefficients: Sequence[float], x: jax.Array) -> jax.Array:
    """sum_k c_k x^k by Horner's rule."""
    out = jnp.full_like(x, coefficients[-1])
    for c in coefficients[-2::-1]:
        out = out * x + c
    return out


@jax.custom_jvp
def tanh(z: jax.Array) -> jax.Array:
    """The hyperbolic tangent; in float32 the rational approximation above written as array
    arithmetic, other types ``jnp.tanh``.

    At most 2.6e-7 from the float64 tanh, as XLA's own float32 tanh (they agree to a few units
    in the last place; beyond the clamp this one stays at +-0.99999976, strictly inside (-1, 1)).
    XLA's CPU backend calls its tanh as a vector function, apart from the fused arithmetic
    around it; written out, the whole layer is one loop. 1000 course networks, 2000 full-batch
    Adam steps on 2 AVX2 cores (medians of 5, processes alternating): 0.62-0.72 s with
    ``jnp.tanh``, 0.51-0.58 s with this one; with dropout 0.2, 1.73-1.76 s and 1.64-1.71 s;
    recording the test error (100 points) at every step, 3.4-3.6 s and 2.6-2.7 s. Float64 (the
    estimators' parity with scikit-learn) keeps ``jnp.tanh``.
    """
    if z.dtype != jnp.float32:
        return jnp.tanh(z)
    x = jnp.clip(z, -TANH_CLAMP, TANH_CLAMP)
    x2 = x * x
    return x * _polynomial(TANH_NUMERATOR, x2) / _polynomial(TANH_DENOMINATOR, x2)


@tanh.defjvp
def _tanh_jvp(primals, tangents):
    """d tanh(z) = (1 + t)(1 - t) dz with t = tanh(z), as JAX differentiates ``jnp.tanh``."""
    (z,), (dz,) = primals, tangents
    t = tanh(z)
    return t, (dz + dz * t) * (1 - t)


# One function per name of MLP_ACTIVATIONS (the names configurations offer), in its order.
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "identity": lambda z: z,
    "logistic": jax.nn.sigmoid,
    "tanh": tanh,
    "relu": jax.nn.relu,
}


def expit(z: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + exp(-z)), scipy.special.expit itself (exact in the tails,
    which 1 / (1 + exp(-z)) is not), imported when first used: SciPy costs 0.3 s of start-up."""
    from scipy.special import expit as scipy_expit

    return scipy_expit(z)


# The same functions on NumPy arrays, for float64 prediction outside JAX.
NUMPY_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda z: z,
    "logistic": expit,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
}


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax exp(z - max z) / sum exp(z - max z) over the last axis (a row's classes), as
    scikit-learn computes it."""
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


OUTPUT_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda z: z,
    "logistic": expit,
    "softmax": softmax,
}
"""Output activations on NumPy arrays: the regressor's identity, the classifier's probabilities
(logistic for binary and multilabel targets, softmax for several classes)."""


def check_activation(name: str) -> None:
    """Raise ValueError naming the allowed activations if ``name`` is not one of them."""
    if name not in MLP_ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(MLP_ACTIVATIONS)}, got {name!r}"
        )


def glorot_bound(fan_in: int, fan_out: int, activation: str) -> float:
    """Half-width of MLPRegressor's uniform initialisation for one layer."""
    factor = 2.0 if activation == "logistic" else 6.0
    return (factor / (fan_in + fan_out)) ** 0.5


def init_mlp(rng: np.random.RandomState | np.random.Generator, layer_sizes: Sequence[int],
             activation: str, dtype=np.float32) -> Params:
    """Glorot-uniform weights and biases for layers ``layer_sizes`` = (n_in, h_1, ..., n_out).

    Drawn on the host from ``rng`` in the order of MLPRegressor's ``_init_coef`` (float64
    uniforms, then cast), so ``init_mlp(np.random.RandomState(s), ...)`` equals the initial
    weights of ``MLPRegressor(random_state=s)``. Host draws also spare a compilation: XLA takes
    most of a second to compile JAX's threefry sampler on CPU.
    """
    check_activation(activation)
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        r = glorot_bound(fan_in, fan_out, activation)
        coefs.append(rng.uniform(-r, r, (fan_in, fan_out)).astype(dtype))
        intercepts.append(rng.uniform(-r, r, fan_out).astype(dtype))
    return {"coefs": coefs, "intercepts": intercepts}


def init_stack(rng: np.random.RandomState | np.random.Generator, n: int,
               layer_sizes: Sequence[int], activation: str, dtype=np.float32) -> Params:
    """``n`` initialisations drawn from ``rng`` one network after the other (:func:`init_mlp`;
    with a RandomState, network 0 is MLPRegressor's), stacked on the host along a leading axis."""
    members = [init_mlp(rng, layer_sizes, activation, dtype) for _ in range(n)]
    return jax.tree_util.tree_map(lambda *arrays: np.stack(arrays), *members)


def forward(params: Params, X: jax.Array, activation: str,
            hidden_masks: Sequence[jax.Array] | None = None, backend: str = "jax") -> jax.Array:
    """Network output f(X) of shape (n_samples, n_outputs).

    ``hidden_masks[l]`` (shape (h_l,) or broadcastable to (n_samples, h_l)) multiplies the
    activations of hidden layer l: 0/1 masks switch units off (small networks, pruning) and
    scaled Bernoulli masks implement inverted dropout. ``backend="numpy"`` evaluates the same
    network on NumPy arrays (e.g. in float64, row by row independent of batch order).
    """
    g = (NUMPY_ACTIVATIONS if backend == "numpy" else ACTIVATIONS)[activation]
    affine = _affine if backend == "jax" else lambda a, W, b: a @ W + b
    a = X
    n_hidden = len(params["coefs"]) - 1
    for l in range(n_hidden):
        a = g(affine(a, params["coefs"][l], params["intercepts"][l]))
        if hidden_masks is not None:
            a = a * hidden_masks[l]
    return affine(a, params["coefs"][-1], params["intercepts"][-1])


def _affine(a: jax.Array, W: jax.Array, b: jax.Array) -> jax.Array:
    """a W + b for one network's layer (``a`` (n, fan_in), ``W`` (fan_in, fan_out)); for small
    layers with a fan-in of 1 as the broadcast product a w_1 + b, with a fan-out of 1 as the row
    sums sum_j a_j w_j + b.

    The same numbers up to float rounding, for the engine's speed: vmapped over networks that
    share their inputs (the course's 1-20-1 networks), XLA's CPU backend lays the product X W
    out points first, (n, B, H), and transposes it to (B, n, H) at every step, and it turns the
    weight gradient X^T delta into a transpose and a matrix product. Written element-wise, every
    array stays (B, n, H) and the gradients are sums that XLA fuses with the element-wise work
    around them. Only while n and the layer's sizes are at most ``ELEMENTWISE_MAX_SIZE``: XLA
    splits a sum of more than 32 terms into a tree of partial sums that it does not fuse, and
    wide layers gained nothing. Measured on 2 cores with the engine's compiler options,
    full-batch Adam: 1000 course networks on 10 points, 2000 steps, 1.01 s -> 0.81 s; 35
    networks of 14 units on 20 points, 10000 steps, 0.86 s -> 0.45 s; 5 networks on 100 points,
    element-wise, 0.86 s -> 1.0-1.5 s (hence the limit).
    """
    if W.ndim == 2 and a.ndim == 2 and max(a.shape[0], *W.shape) <= ELEMENTWISE_MAX_SIZE:
        if W.shape[0] == 1:
            return a * W[0] + b
        if W.shape[1] == 1:
            return jnp.sum(a * W[:, 0], axis=-1, keepdims=True) + b
    return a @ W + b


ELEMENTWISE_MAX_SIZE = 32
"""The largest sample count and layer size that :func:`_affine` writes element-wise."""


def forward_stack(params: Params, X: np.ndarray, activation: str,
                  hidden_masks: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Outputs (P, n_samples, n_outputs) of P networks stacked along a leading axis (weights
    (P, fan_in, fan_out), biases (P, fan_out)) on the same inputs X, in NumPy: one batched
    matrix product per layer instead of P. ``hidden_masks[l]`` (optional, (P, h_l)) multiplies
    each network's hidden layer l, as in :func:`forward`."""
    lift = lambda a: a[:, None, :]  # noqa: E731  (P, 1, h): broadcast over the samples
    lifted = {"coefs": params["coefs"], "intercepts": [lift(b) for b in params["intercepts"]]}
    masks = None if hidden_masks is None else [lift(m) for m in hidden_masks]
    return forward(lifted, X, activation, masks, backend="numpy")


def n_parameters(layer_sizes: Sequence[int]) -> int:
    """Number of weights and biases of an MLP with these layer sizes."""
    return sum((i + 1) * o for i, o in zip(layer_sizes[:-1], layer_sizes[1:]))
