"""Random-features regression: a frozen random hidden layer, a linear output fitted in closed form.

With p hidden units of fixed random weights w_j and biases b_j (activation g, tanh by default),
the model is

    f(x) = sum_j a_j phi_j(x),    phi_j(x) = g(w_j x + b_j),

linear in the output weights a. On n training points, Phi is the n x p matrix phi_j(x_i) and
the output layer minimises the network's objective (scikit-learn's L2 convention)

    1/(2n) ||y - Phi a||^2 + alpha/(2n) ||a||^2.

For alpha > 0 the minimiser is the ridge solution a = (Phi^T Phi + alpha I)^-1 Phi^T y. For
alpha = 0 and p > n infinitely many a fit the data exactly; the limit alpha -> 0 picks the one of
minimum norm, a = Phi^+ y (the Moore-Penrose pseudo-inverse). Both come from one thin SVD
Phi = U diag(s) V^T:

    a = V diag(s / (s^2 + alpha)) U^T y,

with the singular values below a relative cut-off treated as exact zeros when alpha = 0 (NumPy's
``pinv`` convention). Near p = n the smallest non-zero singular value of the square-ish Phi is
close to 0, so 1/s is huge: the interpolating fit follows the noise with wild excursions between
the points, and the test error peaks (the interpolation threshold of double descent). A small
alpha caps 1/s at 1/(2 sqrt(alpha)) and removes the peak.
"""
from __future__ import annotations

from functools import cache

import numpy as np
from threadpoolctl import ThreadpoolController

from overfitlab.engine.mlp import NUMPY_ACTIVATIONS

def draw_features(rng: np.random.Generator, n_sets: int, p: int,
                  slope_sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Input weights and biases (n_sets, p) of ``n_sets`` random layers of p units.

    Unit j is a smooth step centred at c_j ~ U(-1, 1) (the input range) with slope
    w_j ~ N(0, slope_sd^2): b_j = -w_j c_j. The distribution is the same for every p, so wider
    layers add features of the same kind. Its transition, about 2 / |w_j| wide, should be
    comparable to the spacing of the training inputs: much smoother features are nearly
    collinear on the training points, Phi loses numerical rank, and the interpolation threshold
    moves from p = n to wherever the rank finally reaches n.
    """
    w = rng.normal(0.0, slope_sd, (n_sets, p))
    return w, -w * rng.uniform(-1.0, 1.0, (n_sets, p))


def features(x: np.ndarray, weights: np.ndarray, biases: np.ndarray,
             activation: str = "tanh") -> np.ndarray:
    """phi_j(x_i) = g(w_j x_i + b_j): inputs x (n,), weights and biases (..., p) -> (..., n, p),
    in float64."""
    x = np.asarray(x, np.float64).reshape(-1)
    return NUMPY_ACTIVATIONS[activation](x[:, None] * weights[..., None, :]
                                         + biases[..., None, :])


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()  # scanning the loaded libraries takes ~10 ms: do it once


def one_blas_thread():
    """Context in which BLAS/LAPACK use one thread: these matrices are small, and threads only
    contend (on a busy 2-core machine a batch of 40 x 800 SVDs ran 25x slower with two)."""
    return _blas().limit(limits=1, user_api="blas")


def rcond(n: int, p: int) -> float:
    """Relative cut-off for singular values treated as zero: NumPy's default for ``pinv`` and
    ``lstsq``, max(n, p) times the float64 machine epsilon."""
    return max(n, p) * np.finfo(np.float64).eps


def fit_output(Phi: np.ndarray, y: np.ndarray, alphas=(0.0,)) -> np.ndarray:
    """Output weights (..., len(alphas), p) minimising the objective above for each alpha, for a
    stack of design matrices Phi (..., n, p) and targets y (..., n).

    One batched thin SVD serves every alpha; alpha = 0 gives the minimum-norm least-squares
    solution Phi^+ y (singular values below :func:`rcond` * s_max dropped).
    """
    Phi = np.asarray(Phi, np.float64)
    with one_blas_thread():
        if Phi.shape[-1] > Phi.shape[-2]:  # wide: LAPACK is faster on the tall transpose
            V, s, Ut = np.linalg.svd(np.swapaxes(Phi, -1, -2), full_matrices=False)
            U, Vt = np.swapaxes(Ut, -1, -2), np.swapaxes(V, -1, -2)
        else:
            U, s, Vt = np.linalg.svd(Phi, full_matrices=False)
    Uty = np.einsum("...nk,...n->...k", U, np.asarray(y, np.float64))  # (..., k)
    alphas = np.asarray(alphas, np.float64)
    keep = s > rcond(*Phi.shape[-2:]) * s[..., :1]
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.where(keep, 1.0 / s, 0.0)  # (..., k)
        ridge = s[..., None, :] / (s[..., None, :] ** 2 + alphas[:, None])  # (..., A, k)
    gains = np.where(alphas[:, None] == 0.0, inverse[..., None, :], ridge)
    return (gains * Uty[..., None, :]) @ Vt
