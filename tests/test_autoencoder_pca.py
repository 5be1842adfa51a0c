"""Linear autoencoder vs PCA on the digits, checked against numpy's eigh and SciPy.

References are independent of the code under test: the principal subspace and the discarded
variance come from ``numpy.linalg.eigh`` of C = X^T X / n, the angles from
``scipy.linalg.subspace_angles``. The trained networks are those of the quick preset (the same
compiled program the end-to-end run reuses).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.linalg import subspace_angles

from _figure_checks import assert_nothing_cut_off
from overfitlab.engine.autoencoder import (
    gram_reconstruction_error,
    init_params,
    reconstruction_error,
    second_moment,
    train,
    unit_masks,
)
from overfitlab.experiments.autoencoder_pca import (
    EXPERIMENT,
    AutoencoderPCAConfig,
    autoencoder_weights,
    load_split,
    mean_squared_norm,
    pca_reconstruction,
    run,
)
from overfitlab.experiments.base import ConfigError

QUICK = AutoencoderPCAConfig.preset("quick")


@pytest.fixture(scope="module")
def data():
    return load_split(QUICK.test_fraction, QUICK.seed)


@pytest.fixture(scope="module")
def eig(data):
    """Eigenvalues (descending) and eigenvectors of the training covariance, float64."""
    C = data.X_train.T @ data.X_train / len(data.X_train)
    values, vectors = np.linalg.eigh(C)
    return values[::-1], vectors[:, ::-1]


@pytest.fixture(scope="module")
def fit(data):
    keys = jax.random.split(jax.random.PRNGKey(QUICK.seed), QUICK.seeds)
    return jax.device_get(train(data.X_train, keys, QUICK.ks, QUICK.steps, QUICK.learning_rate,
                                QUICK.final_lr_fraction))


@pytest.fixture(scope="module")
def quick_result():
    return run(QUICK)


def _ae_errors(fit, data, i, k):
    """Float64 training errors of every seed's network with k hidden units."""
    out = []
    for s in range(QUICK.seeds):
        enc, dec = autoencoder_weights(fit.params, i, s, k)
        out.append(mean_squared_norm(data.X_train - data.X_train @ enc @ dec))
    return np.array(out)


def test_pca_error_is_sum_of_discarded_eigenvalues(data, eig):
    """scikit-learn's PCA error (1/n)||X - X V V^T||^2 = sum_{j>k} lambda_j of C = X^T X / n.

    Both sides are float64 sums of ~64 positive terms of order 1: rtol 1e-10 is far above
    rounding (~1e-14) and far below any modelling error.
    """
    from sklearn.decomposition import PCA

    values, _ = eig
    for k in (1, 2, 5, 10, 30):
        pca = PCA(n_components=k).fit(data.X_train)
        error = mean_squared_norm(data.X_train - pca_reconstruction(pca, data.X_train))
        assert error == pytest.approx(values[k:].sum(), rel=1e-10)


def test_gram_loss_and_gradient_equal_the_full_batch_ones(data):
    """The training objective in terms of C equals (1/n)||X - X E D||^2 and so does its gradient.

    Checked in float64 (local x64 context) so the tolerance can be 1e-9: the identity is exact.
    """
    with jax.enable_x64(True):
        X = jnp.asarray(data.X_train)
        C = second_moment(X)
        base = init_params(jax.random.PRNGKey(3), 64, 6, dtype=jnp.float64)
        mask = unit_masks((4, 6))[0]
        for m in (None, mask):
            direct = jax.value_and_grad(reconstruction_error)(base, X, m)
            gram = jax.value_and_grad(gram_reconstruction_error)(base, C, m)
            for a, b in zip(jax.tree_util.tree_leaves(direct), jax.tree_util.tree_leaves(gram)):
                np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-9, atol=1e-12)


def test_masked_units_stay_at_init_and_training_is_reproducible(data, fit):
    keys = jax.random.split(jax.random.PRNGKey(QUICK.seed), QUICK.seeds)
    k_max = max(QUICK.ks)
    for i, k in enumerate(QUICK.ks):
        for s in range(QUICK.seeds):
            start = init_params(keys[s], 64, k_max)
            np.testing.assert_array_equal(fit.params.enc[i, s, :, k:],
                                          np.asarray(start.enc)[:, k:])
            np.testing.assert_array_equal(fit.params.dec[i, s, k:], np.asarray(start.dec)[k:])
    again = train(data.X_train, keys, QUICK.ks, QUICK.steps, QUICK.learning_rate,
                  QUICK.final_lr_fraction)
    np.testing.assert_array_equal(np.asarray(again.params.dec), fit.params.dec)


def test_decoder_span_is_the_principal_subspace(fit, eig):
    """Every seed's decoder span is within 1 degree of the top-k eigenvectors of C.

    1 degree is the target the experiment promises; the quick preset reaches ~0.1 degree at
    worst, and a network stuck at a saddle (a wrong eigenvector in the span) is ~90 degrees off.
    """
    _, vectors = eig
    for i, k in enumerate(QUICK.ks):
        for s in range(QUICK.seeds):
            _, dec = autoencoder_weights(fit.params, i, s, k)
            angle = math.degrees(subspace_angles(dec.T, vectors[:, :k]).max())
            assert angle < 1.0, (k, s, angle)


def test_eckart_young_and_the_eigengap_bound(data, fit, eig):
    """No rank-k map beats PCA, and the excess error bounds the angles.

    The autoencoder's error is a float64 evaluation of a rank-k map, so it may undercut the sum
    of the discarded eigenvalues only by rounding: 1e-12 relative. Conversely, for a decoder
    span S with principal angles theta_i to the top-k subspace, expanding tr(P_S C) in the
    eigenbasis gives (lambda_k - lambda_{k+1}) sum sin^2 theta_i <= L(P_S) - L_PCA <= L_AE - L_PCA
    (the AE reconstructs inside S, and projecting onto S is the best way to do so). The quick
    preset's error must also be within 0.1 % of PCA's ("a few %" with a wide margin).
    """
    values, vectors = eig
    for i, k in enumerate(QUICK.ks):
        optimum = values[k:].sum()
        errors = _ae_errors(fit, data, i, k)
        assert np.all(errors >= optimum * (1 - 1e-12)), (k, errors / optimum - 1)
        assert np.all(errors <= optimum * 1.001), (k, errors / optimum - 1)
        gap = values[k - 1] - values[k]
        for s in range(QUICK.seeds):
            _, dec = autoencoder_weights(fit.params, i, s, k)
            sin2 = np.sum(np.sin(subspace_angles(dec.T, vectors[:, :k])) ** 2)
            assert gap * sin2 <= errors[s] - optimum + 1e-12 * optimum, (k, s)


def test_quick_run_end_to_end(quick_result, fit, data):
    result = quick_result
    assert (EXPERIMENT.name, EXPERIMENT.order, EXPERIMENT.run) == ("autoencoder-pca", 95, run)
    assert set(result.figures) == {"reconstructions.png", "embeddings.png", "convergence.png"}
    assert_nothing_cut_off(result.figures)
    assert all(math.isfinite(v) for v in result.metrics.values())
    angle = result.answer("max_principal_angle_deg")
    ratio = result.answer("reconstruction_error_ratio")
    for answer in (angle, ratio):
        assert answer.low <= answer.value <= answer.high
    assert f"{angle.value:.2g} degrees" in angle.explanation
    assert f"1 + {ratio.value - 1:.2g}" in ratio.explanation
    assert 0 <= angle.value < 1.0
    assert 1 - 1e-12 <= ratio.value < 1.001
    # the answer is the median over seeds of the worst k, recomputed from the trained weights
    worst = np.max([_ae_errors(fit, data, i, k) / result.metrics[f"pca_train_error_k{k}"]
                    for i, k in enumerate(QUICK.ks)], axis=0)
    assert ratio.value == pytest.approx(np.median(worst), rel=1e-12)
    for k in QUICK.ks:
        assert result.metrics[f"test_error_ratio_k{k}"] == pytest.approx(1.0, abs=1e-3)
        assert result.arrays[f"principal_angles_deg_k{k}"].shape == (QUICK.seeds, k)
    assert result.arrays["embedding_ae"].shape == (result.metrics["n_test"], 2)
    assert result.metrics["embedding_mixing_condition_k2"] >= 1.0
    assert result.elapsed_s > 0


def test_config_validation():
    assert AutoencoderPCAConfig.parse_assignments(["ks=2,5"]) == {"ks": (2, 5)}
    for bad in ({"ks": (5, 10)}, {"ks": (2, 64)}, {"ks": (2, 2)}, {"steps": 0},
                {"learning_rate": 0.0}, {"test_fraction": 0.9}, {"n_shown": 11}):
        with pytest.raises(ConfigError):
            AutoencoderPCAConfig.preset("quick", **bad)


def test_seeds_agree_on_the_span_not_on_the_weights(fit):
    """Different initialisations end at different weights (the minimiser is not unique) whose
    spans nevertheless coincide: weights differ by > 10 %, spans by < 1 degree."""
    i, k = 1, QUICK.ks[1]
    _, dec0 = autoencoder_weights(fit.params, i, 0, k)
    _, dec1 = autoencoder_weights(fit.params, i, 1, k)
    assert np.linalg.norm(dec0 - dec1) > 0.1 * np.linalg.norm(dec0)
    assert math.degrees(subspace_angles(dec0.T, dec1.T).max()) < 1.0
