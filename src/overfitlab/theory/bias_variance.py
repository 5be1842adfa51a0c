"""The bias-variance decomposition of the expected test error, with the variance split in two.

A model is trained on data set d (one noise draw of the training targets) from initialisation s
(independent of d), giving the prediction f_ds(x). On a new point y = f(x) + eps,
Var(eps) = sigma^2, its expected squared error averaged over data sets, initialisations and the
test inputs x is

    E_x E_{d,s} E_eps[(y - f_ds(x))^2] = sigma^2 + E_x [bias^2(x) + Var_{d,s} f_ds(x)],
    bias(x) = E_{d,s} f_ds(x) - f(x),

and by the law of total variance the variance splits into the part that comes from the data and
the part that comes from the initialisation:

    Var_{d,s} f_ds(x) = Var_d(E_s[f_ds(x) | d])  +  E_d[Var_s(f_ds(x) | d)]
                      = data variance            +  initialisation variance.

Averaging K initialisations on the same data divides the initialisation variance by K and leaves
the bias and the data variance alone; only new data (or bootstrap resamples of it) can touch the
data variance.

**Estimates** from a (D, S) table of predictions (D data sets x S initialisations each), with
m_d = mean_s f_ds, fbar = mean_d m_d and the sample variances v_d = var_s(f_ds) (ddof 1),
u = var_d(m_d) (ddof 1), are unbiased:

    init variance  = mean_d v_d
    data variance  = u - init variance / S                 (E[u] = data var + init var / S)
    bias^2         = (fbar - f)^2 - data variance / D - init variance / (D S)

and sigma^2 + bias^2 + data variance + init variance equals the directly measured
sigma^2 + mean_{d,s} (f_ds - f)^2 *exactly* (algebraically; in floating point to rounding). With
D = 1 the data variance cannot be told from the bias (it is NaN and the bias^2 entry holds both);
with S = 1 the initialisation variance cannot be told from the data variance (NaN; the data
variance entry holds both). Unbiased estimates of small components can come out slightly
negative.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BiasVariance:
    """Components of the expected test MSE (averaged over the grid, or per point).

    Arrays have the leading (batch) shape of the predictions given to :func:`decompose` (plus the
    grid axis with ``pointwise=True``). ``expected_mse`` is measured directly, not summed.
    """

    noise: float
    bias2: np.ndarray
    data_variance: np.ndarray
    init_variance: np.ndarray
    expected_mse: np.ndarray
    n_data_sets: np.ndarray  # data sets used (those without a non-finite prediction)
    n_inits: int

    @property
    def variance(self) -> np.ndarray:
        """Total variance Var_{d,s} f = data variance + initialisation variance (a NaN
        component, which could not be separated, counts as 0: the other one holds it)."""
        return np.nan_to_num(self.data_variance) + np.nan_to_num(self.init_variance)

    @property
    def total(self) -> np.ndarray:
        """noise + bias^2 + variance: equal to ``expected_mse`` up to rounding."""
        return self.noise + self.bias2 + self.variance


def decompose(preds, truth, noise_var: float, pointwise: bool = False) -> BiasVariance:
    """Decompose predictions ``preds`` (..., D, S, n_grid) of models trained on D data sets x S
    initialisations, against the noise-free ``truth`` f(x) (n_grid,) and the noise variance.

    Computed in float64. A data set with any non-finite prediction (a diverged network) is left
    out of its batch entry; an entry with no data set left is NaN. With ``pointwise`` the
    components are returned per grid point, otherwise averaged over the grid.
    """
    f = np.asarray(preds, np.float64)
    if f.ndim < 3:
        raise ValueError(f"preds must have shape (..., D, S, n_grid), got {f.shape}")
    S = f.shape[-2]
    truth = np.asarray(truth, np.float64)
    valid = np.all(np.isfinite(f), axis=(-2, -1))  # (..., D)
    f = np.where(valid[..., None, None], f, 0.0)
    n_used = valid.sum(axis=-1)  # (...,)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_set = lambda a: np.sum(np.where(valid[..., None], a, 0.0), axis=-2) / n_used[..., None]  # noqa: E731
        m = f.mean(axis=-2)  # (..., D, n) mean over initialisations
        fbar = per_set(m)
        squared_error = per_set(np.mean((f - truth) ** 2, axis=-2))
        between = per_set((m - fbar[..., None, :]) ** 2)  # plug-in variance of m_d over d
        Dn = n_used[..., None].astype(np.float64)
        init = per_set(f.var(axis=-2, ddof=1)) if S > 1 else np.full_like(fbar, np.nan)
        init_known = np.nan_to_num(init) if S > 1 else 0.0
        data = np.where(Dn > 1, between * Dn / (Dn - 1) - init_known / S, np.nan)
        bias2 = (fbar - truth) ** 2 - np.nan_to_num(data) / Dn - init_known / (Dn * S)
        bias2 = np.where(Dn > 0, bias2, np.nan)
    parts = [bias2, data, init, noise_var + squared_error]
    if not pointwise:
        parts = [np.mean(p, axis=-1) for p in parts]
    return BiasVariance(float(noise_var), *parts, n_data_sets=n_used, n_inits=S)
