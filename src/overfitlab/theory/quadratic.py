"""Early stopping versus L2 (ridge) on a quadratic cost, in float64 NumPy.

Near a minimum the cost is ``C(w) = C0 + 1/2 (w - w*)^T H (w - w*)`` with a symmetric positive
definite Hessian ``H = U diag(mu) U^T``. Gradient descent from ``w = 0`` with rate ``lr``,
``w <- w - lr H (w - w*)``, acts on each eigen-component ``w_j = u_j^T w`` separately:

    w_j(n) = (1 - (1 - lr mu_j)^n) w*_j                        (early-stopping filter)

which converges iff ``|1 - lr mu_j| < 1`` for every j, i.e. ``lr < 2 / mu_max``. For
``n lr mu_j << 1`` the filter is ``n lr mu_j`` to first order. The ridge minimiser of
``C(w) + alpha/2 |w|^2`` is

    w_j(alpha) = mu_j / (mu_j + alpha) w*_j                    (ridge filter)

which is ``mu_j / alpha`` for ``mu_j << alpha``: stopping after n steps acts like
``alpha ~ 1 / (n lr)``. Batched functions take a leading batch shape ``...`` (one problem per
entry) and broadcast learning rates against it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar


@dataclass
class QuadraticCost:
    """``C(w) = c0 + 1/2 (w - w*)^T H (w - w*)`` with its eigen-decomposition.

    ``mu`` holds the eigenvalues of ``hessian`` in ascending order and the columns of ``basis``
    the matching unit eigenvectors ``u_j``; ``w_star`` is the minimiser.
    """

    hessian: np.ndarray
    w_star: np.ndarray
    c0: float = 0.0
    mu: np.ndarray = field(init=False)
    basis: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.hessian = np.asarray(self.hessian, dtype=np.float64)
        self.w_star = np.asarray(self.w_star, dtype=np.float64)
        d = self.w_star.shape[-1]
        if self.hessian.shape != (d, d):
            raise ValueError(f"hessian must be ({d}, {d}) to match w_star, "
                             f"got {self.hessian.shape}")
        if not np.allclose(self.hessian, self.hessian.T, rtol=1e-12, atol=0.0):
            raise ValueError("hessian must be symmetric")
        self.mu, self.basis = np.linalg.eigh(self.hessian)
        if self.mu[0] <= 0:
            raise ValueError("hessian must be positive definite; "
                             f"smallest eigenvalue {self.mu[0]:g}")

    @property
    def dim(self) -> int:
        return self.w_star.shape[-1]

    @property
    def condition(self) -> float:
        """``mu_max / mu_min``."""
        return float(self.mu[-1] / self.mu[0])

    def cost(self, w: np.ndarray) -> np.ndarray:
        """``C(w)`` for points ``w`` of shape ``(..., d)``."""
        e = np.asarray(w) - self.w_star
        return self.c0 + 0.5 * np.einsum("...i,ij,...j->...", e, self.hessian, e)

    def gradient(self, w: np.ndarray) -> np.ndarray:
        """``grad C(w) = H (w - w*)`` for points of shape ``(..., d)``."""
        return (np.asarray(w) - self.w_star) @ self.hessian

    def components(self, w: np.ndarray) -> np.ndarray:
        """Eigen-coordinates ``U^T w`` of points of shape ``(..., d)``."""
        return np.asarray(w) @ self.basis


def random_spd(rng: np.random.Generator, dim: int, condition: float) -> np.ndarray:
    """A random SPD matrix ``Q diag(mu) Q^T`` with ``mu_max = 1`` and ``mu_min = 1 / condition``.

    ``Q`` is Haar-distributed (QR of a Gaussian matrix with the signs of R's diagonal folded into
    Q); the ``dim - 2`` inner eigenvalues are log-uniform between the two ends.
    """
    if dim < 2 or condition < 1:
        raise ValueError(f"need dim >= 2 and condition >= 1, got {dim}, {condition}")
    inner = np.exp(rng.uniform(-np.log(condition), 0.0, size=dim - 2))
    mu = np.concatenate(([1.0, 1.0 / condition], inner))
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.sign(np.diag(r))
    h = (q * mu) @ q.T
    return 0.5 * (h + h.T)


def least_squares_quadratic(x: np.ndarray, y: np.ndarray) -> QuadraticCost:
    """The mean-squared-error cost ``C(w) = |y - X w|^2 / (2 n)`` written as a quadratic.

    ``H = X^T X / n``, ``w* = H^{-1} X^T y / n`` (ordinary least squares) and ``C0 = C(w*)``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    h = x.T @ x / n
    w_star = np.linalg.solve(h, x.T @ y / n)
    residual = y - x @ w_star
    return QuadraticCost(0.5 * (h + h.T), w_star, float(residual @ residual / (2 * n)))


def early_stopping_filter(mu: np.ndarray, lr: float, n: np.ndarray) -> np.ndarray:
    """``1 - (1 - lr mu)^n``: the fraction of ``w*_j`` reached after ``n`` steps from 0.

    ``n`` (integers, any shape) broadcasts against ``mu`` as ``n[..., None]``.
    """
    n = np.asarray(n, dtype=np.int64)[..., None]
    return 1.0 - np.power(1.0 - lr * np.asarray(mu), n)


def small_mu_filter(mu: np.ndarray, lr: float, n: np.ndarray) -> np.ndarray:
    """``n lr mu``: the first-order early-stopping filter, valid for ``n lr mu << 1``.

    For ``0 <= lr mu <= 1``: ``0 <= n lr mu - (1 - (1 - lr mu)^n) <= (n lr mu)^2 / 2``.
    """
    return np.asarray(n, dtype=np.float64)[..., None] * lr * np.asarray(mu)


def ridge_filter(mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``mu / (mu + alpha)``: the fraction of ``w*_j`` kept by ridge; ``alpha`` broadcasts as
    ``alpha[..., None]``."""
    return np.asarray(mu) / (np.asarray(mu) + np.asarray(alpha, dtype=np.float64)[..., None])


def closed_form_iterates(cost: QuadraticCost, lr: float, steps: np.ndarray) -> np.ndarray:
    """Gradient-descent iterates from 0 at ``steps``, from the eigen-decomposition, shape
    ``(len(steps), d)``: ``w(n) = U diag(1 - (1 - lr mu)^n) U^T w*``."""
    c_star = cost.components(cost.w_star)
    return (early_stopping_filter(cost.mu, lr, steps) * c_star) @ cost.basis.T


def ridge_solution(cost: QuadraticCost, alpha: np.ndarray) -> np.ndarray:
    """Minimisers of ``C(w) + alpha/2 |w|^2``, shape ``alpha.shape + (d,)``:
    ``w(alpha) = U diag(mu / (mu + alpha)) U^T w*``."""
    c_star = cost.components(cost.w_star)
    return (ridge_filter(cost.mu, alpha) * c_star) @ cost.basis.T


def gradient_descent(
    hessian: np.ndarray,
    w_star: np.ndarray,
    lr: np.ndarray | float,
    n_steps: int,
    record: np.ndarray | None = None,
) -> np.ndarray:
    """Run ``w <- w - lr H (w - w*)`` from ``w = 0`` for several rates at once; recorded iterates.

    ``hessian`` has shape ``(..., d, d)`` and ``w_star`` ``(..., d)`` (one problem per batch
    entry); ``lr`` has shape ``(..., P)`` (``P`` rates per problem, broadcast against the batch;
    a scalar means ``P = 1``). Returns ``w`` at the steps in ``record`` (default: every step
    ``0..n_steps``), shape ``(len(record),) + batch + (P, d)``. Overflow in diverging runs
    yields inf/nan silently.
    """
    hessian = np.asarray(hessian, dtype=np.float64)
    w_star = np.asarray(w_star, dtype=np.float64)[..., None, :]
    lr = np.atleast_1d(np.asarray(lr, dtype=np.float64))[..., None]
    record = np.arange(n_steps + 1) if record is None else np.asarray(record, dtype=np.int64)
    if record.size and (record.min() < 0 or record.max() > n_steps):
        raise ValueError(f"record steps must lie in [0, {n_steps}]")
    shape = np.broadcast_shapes(w_star.shape[:-2], hessian.shape[:-2], lr.shape[:-2])
    w = np.zeros(shape + lr.shape[-2:-1] + w_star.shape[-1:])
    out = np.empty((record.size,) + w.shape)
    wanted: dict[int, list[int]] = {}
    for i, s in enumerate(record.tolist()):
        wanted.setdefault(s, []).append(i)
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(n_steps + 1):
            for i in wanted.get(step, ()):
                out[i] = w
            if step < n_steps:
                w = w - lr * ((w - w_star) @ hessian)
    return out


def error_grows(
    hessian: np.ndarray, w_star: np.ndarray, lr: np.ndarray, n_steps: int
) -> np.ndarray:
    """True where gradient descent diverges: ``|w(N) - w*| > |w(N/2) - w*|`` (or overflows).

    Shapes as in :func:`gradient_descent`; returns one flag per rate, shape ``batch + (P,)``.

    Below ``2 / mu_max`` every eigen-component of the error shrinks at each step, so the test is
    False; above it the top component grows like ``|1 - lr mu_max|^n`` and, once the slow
    components have died out (``N >> mu_max / mu_min``), dominates the error, so the test is True.

    The iterates are those of :func:`gradient_descent`, computed from the iteration matrix: the
    error ``e(n) = w(n) - w*`` from ``w(0) = 0`` is ``e(n) = (I - lr H)^n (-w*)``, and
    ``(I - lr H)^(N/2)`` takes about ``2 log2 N`` matrix products (``np.linalg.matrix_power``)
    instead of ``N`` steps: the same linear map, rounded in another order (the divergence stage
    of es-l2-equivalence: 3.0 s -> 0.1 s).
    """
    half = n_steps // 2
    hessian = np.asarray(hessian, dtype=np.float64)
    w_star = np.asarray(w_star, dtype=np.float64)
    lr = np.atleast_1d(np.asarray(lr, dtype=np.float64))
    step = np.eye(hessian.shape[-1]) - lr[..., None, None] * hessian[..., None, :, :]
    with np.errstate(over="ignore", invalid="ignore"):
        power = np.linalg.matrix_power(step, half)  # (..., P, d, d)
        err_half = power @ -w_star[..., None, :, None]
        err_full = power @ err_half
        err = [np.linalg.norm(e[..., 0], axis=-1) for e in (err_half, err_full)]
        return ~(err[1] <= err[0]) | ~np.isfinite(err[0])


def divergence_threshold(
    hessians: np.ndarray,
    w_stars: np.ndarray,
    n_steps: int,
    rtol: float = 1e-10,
    candidates: int = 33,
    max_rounds: int = 30,
) -> np.ndarray:
    """Measure the largest convergent learning rate of each problem by multisection on ``lr``.

    Works from runs of gradient descent only (:func:`error_grows`), never from the eigenvalues.
    The first bracket uses bounds on ``mu_max``: ``trace(H)/d <= mu_max <= max_i sum_j |H_ij|``
    (Gershgorin), so ``lr = 1/max_i sum_j |H_ij|`` converges and ``lr = 4 d / trace(H)``
    diverges. Each round runs ``candidates`` rates evenly spread over the bracket at once and
    keeps the interval between the last converging and the first diverging one, until its
    relative width is below ``rtol``. Returns the bracket midpoints, shape ``hessians.shape[:-2]``.
    """
    hessians = np.asarray(hessians, dtype=np.float64)
    w_stars = np.asarray(w_stars, dtype=np.float64)
    d = hessians.shape[-1]
    lo = 1.0 / np.abs(hessians).sum(axis=-1).max(axis=-1)
    hi = 4.0 * d / np.trace(hessians, axis1=-2, axis2=-1)
    frac = np.linspace(0.0, 1.0, candidates)
    for _ in range(max_rounds):
        if np.all(hi - lo <= rtol * hi):
            break
        grid = lo[..., None] + (hi - lo)[..., None] * frac
        grows = error_grows(hessians, w_stars, grid, n_steps)
        if np.any(grows[..., 0]) or not np.all(grows[..., -1]):
            raise RuntimeError("divergence bracket lost: increase n_steps")
        first = np.argmax(grows, axis=-1)[..., None]
        lo = np.take_along_axis(grid, first - 1, axis=-1)[..., 0]
        hi = np.take_along_axis(grid, first, axis=-1)[..., 0]
    return 0.5 * (lo + hi)


def nearest_ridge_alpha(
    cost: QuadraticCost, w: np.ndarray, grid_points: int = 241, decades: float = 6.0
) -> np.ndarray:
    """For each point ``w`` (shape ``(m, d)``) the ``alpha`` minimising ``|w_ridge(alpha) - w|``.

    A log-spaced grid from ``mu_min 10^-decades`` to ``mu_max 10^decades`` locates the best
    grid point; a bounded scalar minimisation in ``log alpha`` between its neighbours refines it.
    Distances are taken in eigen-coordinates (an orthogonal change of basis keeps them).
    """
    c_star = cost.components(cost.w_star)
    target = cost.components(np.atleast_2d(w))
    log_grid = np.linspace(np.log(cost.mu[0]) - decades * np.log(10),
                           np.log(cost.mu[-1]) + decades * np.log(10), grid_points)

    def distance2(log_alpha: np.ndarray, row: np.ndarray) -> np.ndarray:
        diff = ridge_filter(cost.mu, np.exp(log_alpha)) * c_star - row
        return np.sum(diff * diff, axis=-1)

    alphas = np.empty(target.shape[0])
    for i, row in enumerate(target):
        k = int(np.argmin(distance2(log_grid, row)))
        lo, hi = log_grid[max(k - 1, 0)], log_grid[min(k + 1, grid_points - 1)]
        best = minimize_scalar(lambda a: float(distance2(np.asarray(a), row)), bounds=(lo, hi),
                               method="bounded", options={"xatol": 1e-12})
        alphas[i] = np.exp(best.x)
    return alphas
