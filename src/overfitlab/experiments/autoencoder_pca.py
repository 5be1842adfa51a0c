"""A linear autoencoder finds the principal subspace, not the principal axes.

A linear autoencoder with k hidden units (x -> x W_enc W_dec, no biases, data centred) minimises
the mean squared reconstruction error (1/n) ||X - X W_enc W_dec||_F^2. Baldi & Hornik (1989):
every minimiser makes W_enc W_dec the orthogonal projector onto the top-k principal subspace, so
its error equals PCA's, the sum of the discarded eigenvalues of C = X^T X / n (Eckart-Young: no
rank-k map does better). The minimiser is not unique: (W_enc M, M^{-1} W_dec) for any invertible
k x k matrix M reconstructs identically, so the weights need not match PCA's components and two
seeds give different weights. What is unique is the decoder's span, which is why we compare it
with PCA's by principal angles (scipy.linalg.subspace_angles), not weights.

Data: scikit-learn's bundled 8 x 8 digits, pixels scaled to [0, 1], split into train and
held-out test sets (split drawn from ``seed``), both centred by the training mean. For every k in
``ks`` and ``seeds`` initialisations, an autoencoder is trained by full-batch Adam (cosine-decayed
step) in one compiled loop (:mod:`overfitlab.engine.autoencoder`). Reported per k, median and
10-90 % band over seeds: the principal angles between the decoder's span and scikit-learn's PCA
subspace, and the train and test reconstruction errors of both. Answers:

* ``max_principal_angle_deg``: the largest principal angle over all k (degrees, near 0);
* ``reconstruction_error_ratio``: the largest training error ratio autoencoder / PCA over all k
  (>= 1 by Eckart-Young, near 1 when trained).
"""
from __future__ import annotations

import time
from typing import NamedTuple

import jax
import numpy as np
from scipy.linalg import subspace_angles
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from overfitlab.engine import threefry
from overfitlab.engine.autoencoder import train
from overfitlab.experiments.configs.autoencoder_pca import EMBEDDING_K, AutoencoderPCAConfig
from overfitlab.experiments.base import (
    Answer,
    Experiment,
    Progress,
    Result,
    band,
    no_progress,
)
from overfitlab.plots.autoencoder import (
    convergence_figure,
    embedding_figure,
    reconstruction_figure,
)

_LOSS_POINTS = 80  # log-spaced steps of the training loss kept for the figure and arrays.npz


class DigitsSplit(NamedTuple):
    """Centred train/test pixels (float64, in [0, 1] before centring), labels, training mean."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray


def load_split(test_fraction: float, seed: int) -> DigitsSplit:
    """The bundled digits, pixels / 16, shuffled by ``seed``, centred by the training mean."""
    digits = load_digits()
    X = digits.data / 16.0
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(test_fraction * len(X)))
    test, tr = order[:n_test], order[n_test:]
    mean = X[tr].mean(axis=0)
    return DigitsSplit(X[tr] - mean, X[test] - mean, digits.target[tr], digits.target[test], mean)


def mean_squared_norm(residual: np.ndarray) -> float:
    """(1/n) sum_i ||r_i||^2, the reconstruction error used throughout."""
    return float(np.mean(np.sum(residual * residual, axis=1)))


def pca_reconstruction(pca: PCA, X: np.ndarray) -> np.ndarray:
    """Projection of X on the fitted principal subspace (mean added back)."""
    return pca.inverse_transform(pca.transform(X))


def principal_angles_deg(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Principal angles (degrees, largest first) between the column spaces of A and B."""
    return np.degrees(subspace_angles(np.asarray(A, float), np.asarray(B, float)))


def autoencoder_weights(params, k_index: int, seed_index: int, k: int):
    """Float64 (W_enc (d, k), W_dec (k, d)) of one trained network, live units only."""
    enc = np.asarray(params.enc[k_index, seed_index, :, :k], float)
    dec = np.asarray(params.dec[k_index, seed_index, :k, :], float)
    return enc, dec


class KComparison(NamedTuple):
    """Autoencoders with k units (all seeds) against PCA with k components."""

    pca: PCA
    pca_train: float  # PCA's training error = sum of the discarded eigenvalues
    pca_test: float
    angles: np.ndarray  # (seeds, k) principal angles in degrees, largest first
    train_ratio: np.ndarray  # (seeds,) autoencoder / PCA training error
    test_ratio: np.ndarray  # (seeds,) the same on the held-out digits


def compare_with_pca(data: DigitsSplit, params, k_index: int, k: int) -> KComparison:
    """Angles and error ratios of every seed's k-unit network (float64 evaluation)."""
    pca = PCA(n_components=k).fit(data.X_train)
    pca_train = mean_squared_norm(data.X_train - pca_reconstruction(pca, data.X_train))
    pca_test = mean_squared_norm(data.X_test - pca_reconstruction(pca, data.X_test))
    angles, train_ratio, test_ratio = [], [], []
    for s in range(params.dec.shape[1]):
        enc, dec = autoencoder_weights(params, k_index, s, k)
        angles.append(principal_angles_deg(dec.T, pca.components_.T))
        train_ratio.append(mean_squared_norm(data.X_train - data.X_train @ enc @ dec) / pca_train)
        test_ratio.append(mean_squared_norm(data.X_test - data.X_test @ enc @ dec) / pca_test)
    return KComparison(pca, pca_train, pca_test, np.array(angles), np.array(train_ratio),
                       np.array(test_ratio))


def _k_metrics(k: int, c: KComparison) -> dict[str, float]:
    med, lo, hi = band(c.angles[:, 0])
    return {
        f"max_angle_deg_k{k}": float(med), f"max_angle_deg_k{k}_p10": float(lo),
        f"max_angle_deg_k{k}_p90": float(hi),
        f"pca_train_error_k{k}": c.pca_train, f"pca_test_error_k{k}": c.pca_test,
        f"ae_train_error_k{k}": float(np.median(c.train_ratio) * c.pca_train),
        f"ae_test_error_k{k}": float(np.median(c.test_ratio) * c.pca_test),
        f"train_error_ratio_k{k}": float(np.median(c.train_ratio)),
        f"test_error_ratio_k{k}": float(np.median(c.test_ratio)),
    }


def _log_grid(steps: int) -> np.ndarray:
    """About ``_LOSS_POINTS`` step indices, log-spaced from 0 to steps - 1."""
    return np.unique(np.geomspace(1, steps, _LOSS_POINTS).astype(int)) - 1


def _shown_indices(labels: np.ndarray, n_shown: int) -> np.ndarray:
    """Index of the first test digit of each class 0 .. n_shown - 1."""
    return np.array([int(np.flatnonzero(labels == c)[0]) for c in range(n_shown)])


def run(config: AutoencoderPCAConfig, progress: Progress = no_progress) -> Result:
    """Train the autoencoders, compare them with PCA, answer, draw."""
    start = time.perf_counter()
    ks = tuple(config.ks)
    data = load_split(config.test_fraction, config.seed)
    progress(0.05, f"training {len(ks) * config.seeds} linear autoencoders")
    keys = threefry.split(threefry.prng_key(config.seed), config.seeds)
    fit = jax.device_get(train(data.X_train, keys, ks, config.steps, config.learning_rate,
                               config.final_lr_fraction))
    progress(0.7, "PCA and principal angles")
    comparisons = [compare_with_pca(data, fit.params, i, k) for i, k in enumerate(ks)]

    X_train, X_test = data.X_train, data.X_test
    metrics: dict[str, float] = {
        "n_train": len(X_train), "n_test": len(X_test),
        "total_variance": float(np.sum(X_train * X_train) / len(X_train)),
    }
    for k, c in zip(ks, comparisons):
        metrics.update(_k_metrics(k, c))
    shown = X_test[_shown_indices(data.y_test, config.n_shown)]
    rows = [("original", shown + data.mean)]
    for i, (k, c) in enumerate(zip(ks, comparisons)):
        enc, dec = autoencoder_weights(fit.params, i, 0, k)
        rows += [(f"PCA k={k}", pca_reconstruction(c.pca, shown) + data.mean),
                 (f"AE k={k}", shown @ enc @ dec + data.mean)]
    i2 = ks.index(EMBEDDING_K)
    pca2, (enc2, _) = comparisons[i2].pca, autoencoder_weights(fit.params, i2, 0, EMBEDDING_K)
    z_pca, z_ae = pca2.transform(X_test), X_test @ enc2
    # the AE code is PCA's code times a 2 x 2 mixing matrix (fitted on the training digits)
    mixing = np.linalg.lstsq(pca2.transform(X_train), X_train @ enc2, rcond=None)[0]
    metrics["embedding_mixing_condition_k2"] = float(np.linalg.cond(mixing))

    max_angle = np.array([c.angles[:, 0] for c in comparisons])  # (len(ks), seeds)
    train_ratio = np.array([c.train_ratio for c in comparisons])
    pca_errors = np.array([c.pca_train for c in comparisons])
    grid = _log_grid(config.steps)
    loss = np.asarray(fit.loss, float)[:, :, grid]
    arrays = {f"principal_angles_deg_k{k}": c.angles for k, c in zip(ks, comparisons)}
    arrays.update({
        "ks": np.array(ks), "loss_steps": grid + 1, "train_loss": loss,
        "pca_train_errors": pca_errors, "max_angle_deg": max_angle,
        "train_error_ratio": train_ratio,
        "test_error_ratio": np.array([c.test_ratio for c in comparisons]),
        "embedding_pca": z_pca, "embedding_ae": z_ae, "embedding_labels": data.y_test,
    })

    progress(0.85, "figures")
    # float32 resolution of the training loss: the rounding of tr C in the Gram-form loss
    floor = np.finfo(np.float32).eps * metrics["total_variance"]
    figures = {
        "reconstructions.png": reconstruction_figure(rows),
        "embeddings.png": embedding_figure(
            z_pca, z_ae, data.y_test,
            "Held-out digits in 2-D: the same plane, linearly mixed"
            if float(np.max(max_angle[list(ks).index(EMBEDDING_K)])) < 1.0 else
            f"Held-out digits in 2-D: planes up to "
            f"{float(np.max(max_angle[list(ks).index(EMBEDDING_K)])):.2g} degrees apart"),
        "convergence.png": convergence_figure(grid + 1, loss, pca_errors, ks, floor, max_angle),
    }
    captions = {
        "reconstructions.png": f"Held-out digits (top row) rebuilt from k = "
                               f"{', '.join(map(str, ks))} PCA components and by autoencoders "
                               f"with as many hidden units: compare the PCA and AE rows of each "
                               f"k with each other, and across k.",
        "embeddings.png": f"The held-out digits' 2-D codes from PCA and from the autoencoder, "
                          f"coloured by digit: compare the clusters (the autoencoder's code is "
                          f"PCA's times a 2 x 2 matrix of condition number "
                          f"{metrics['embedding_mixing_condition_k2']:.3g}).",
        "convergence.png": f"Left: the autoencoders' excess training error over PCA's against "
                           f"the Adam step, down to the float32 resolution (dotted); right: the "
                           f"largest angle between the decoder's span and PCA's subspace, "
                           f"median {float(np.median(max_angle)):.2g} degrees over k and seeds.",
    }
    answers = _answers(config, metrics, max_angle.max(axis=0), train_ratio.max(axis=0))
    notes = [
        f"Digits split by seed {config.seed}: {len(X_train)} train, {len(X_test)} held out; "
        "both centred by the training mean; PCA fitted on the training digits.",
        "Each Adam step uses the exact full-batch gradient, computed from C = X^T X / n.",
    ]
    progress(1.0, "done")
    return Result("autoencoder-pca", config, metrics, answers, figures, arrays, notes,
                  time.perf_counter() - start, captions=captions)


def _per_k(metrics: dict[str, float], ks: tuple[int, ...], name: str, fmt: str,
           offset: float = 0.0) -> str:
    """``"k=2: v2, k=5: v5"`` for the metric ``name_k{k}`` minus ``offset``."""
    return ", ".join(f"k={k}: {metrics[f'{name}_k{k}'] - offset:{fmt}}" for k in ks)


def _answers(config: AutoencoderPCAConfig, metrics: dict[str, float],
             worst_angle: np.ndarray, worst_ratio: np.ndarray) -> list[Answer]:
    ks = tuple(config.ks)
    angle, angle_lo, angle_hi = (float(v) for v in band(worst_angle))
    ratio, ratio_lo, ratio_hi = (float(v) for v in band(worst_ratio))
    return [
        Answer(
            "max_principal_angle_deg",
            "Does a linear autoencoder find the same subspace as PCA? (largest principal angle "
            "between its decoder's span and the top-k PCA subspace, worst k, degrees)",
            angle,
            f"After {config.steps} full-batch Adam steps the largest principal angle between "
            f"the decoder's span and PCA's subspace is {angle:.2g} degrees (worst k, median "
            f"over {config.seeds} seeds, 10-90 %: {angle_lo:.2g} to {angle_hi:.2g}; median per "
            f"k: {_per_k(metrics, ks, 'max_angle_deg', '.2g')}), so the autoencoder has found "
            "the principal subspace. Its weights are another matter: the "
            "2-D code is PCA's code times a 2 x 2 matrix of condition number "
            f"{metrics['embedding_mixing_condition_k2']:.3g} (seed 0), a stretched and sheared "
            "version rather than a rotation, because any invertible mixing of the hidden units "
            "reconstructs equally well. Angles, not weights, are the right comparison.",
            angle_lo, angle_hi,
        ),
        Answer(
            "reconstruction_error_ratio",
            "How does the autoencoder's training reconstruction error compare with PCA's? "
            "(ratio autoencoder / PCA, worst k)",
            ratio,
            f"The ratio is 1 + {ratio - 1:.2g} (worst k, median over seeds; ratio - 1 per k: "
            f"{_per_k(metrics, ks, 'train_error_ratio', '.2g', 1.0)}). It cannot go below 1: the "
            "autoencoder's reconstruction has rank at most k, and PCA's error (the sum of the "
            f"discarded eigenvalues, {_per_k(metrics, ks, 'pca_train_error', '.4g')}, of a total "
            f"variance of {metrics['total_variance']:.4g}) is the smallest any rank-k map can "
            "reach (Eckart-Young). On the held-out digits ratio - 1 is "
            f"{_per_k(metrics, ks, 'test_error_ratio', '.2g', 1.0)}: the two models generalise "
            "identically because they project on the same subspace.",
            ratio_lo, ratio_hi,
        ),
    ]


EXPERIMENT = Experiment(
    name="autoencoder-pca",
    description="A linear autoencoder on the digits recovers PCA's subspace (angles, errors).",
    config_class=AutoencoderPCAConfig,
    run=run,
    order=95,
)
