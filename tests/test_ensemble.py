"""Tests of the ensemble experiment, bagging weights and the estimator's ``n_networks``."""
from __future__ import annotations

import warnings

import jax
import numpy as np
import pytest
from scipy import stats

from _figure_checks import assert_nothing_cut_off
from overfitlab.data.synthetic import noisy_function
from overfitlab.engine.train import TrainSpec, init_many, train
from overfitlab.estimators import RegularizedMLPRegressor
from overfitlab.experiments.base import ConfigError
from overfitlab.experiments.ensemble import (EXPERIMENT, EnsembleConfig, ambiguity,
                                             bootstrap_counts, network_hypers, running_means)


def _numpy_forward(coefs, intercepts, X):
    """Independent float64 reference of a one-hidden-layer tanh network."""
    h = np.tanh(X @ np.asarray(coefs[0], np.float64) + np.asarray(intercepts[0], np.float64))
    return (h @ np.asarray(coefs[1], np.float64) + np.asarray(intercepts[1], np.float64))[:, 0]


def test_running_means_and_ambiguity_decomposition():
    rng = np.random.default_rng(0)
    preds = rng.normal(size=(3, 7, 11))
    y = rng.normal(size=11)
    means = running_means(preds)
    for k in range(1, 8):
        np.testing.assert_allclose(means[:, k - 1], preds[:, :k].mean(axis=1), rtol=1e-12)
    # Krogh-Vedelsby: MSE of the average = mean member MSE - ambiguity, exactly.
    member = np.mean((preds - y) ** 2, axis=-1).mean(axis=1)
    average = np.mean((preds.mean(axis=1) - y) ** 2, axis=-1)
    np.testing.assert_allclose(average, member - ambiguity(preds), rtol=1e-12)


def test_bootstrap_counts_are_resamples():
    n, rows = 10, 20000
    counts = bootstrap_counts(np.random.default_rng(1), rows, n)
    assert counts.shape == (rows, n) and np.all(counts.sum(axis=1) == n)
    # A given point is left out of a resample with probability (1 - 1/n)^n; the number of
    # rows leaving out point 0 is binomial, so a two-sided test at 1e-6 cannot fail by chance.
    absent = int(np.sum(counts[:, 0] == 0))
    assert stats.binomtest(absent, rows, (1 - 1 / n) ** n).pvalue > 1e-6


def test_bootstrap_weights_equal_training_on_duplicated_rows():
    # Weighted loss sum_i c_i e_i^2 / sum_i c_i (and the L2 term / sum c_i) is the plain loss on
    # the resample with duplicated rows, so both runs follow the same trajectory up to float32
    # summation order.
    data = noisy_function(seed=3)
    config = EnsembleConfig.preset("quick")
    counts = bootstrap_counts(np.random.default_rng(2), 1, 10)
    rows = np.repeat(np.arange(10), counts[0])
    spec = TrainSpec((1, 20, 1), "tanh", "adam", 300, tol=None, chunk=300)
    params = init_many(jax.random.PRNGKey(0), 1, spec.layer_sizes, "tanh")
    keys = jax.random.split(jax.random.PRNGKey(1), 1)
    weighted = train(spec, params, keys, network_hypers(config, 1, counts.astype(float)),
                     data.X_train, data.y_train)
    duplicated = train(spec, params, keys, network_hypers(config, 1),
                       data.X_train[rows], data.y_train[rows])
    for a, b in zip(jax.tree_util.tree_leaves(weighted.params),
                    jax.tree_util.tree_leaves(duplicated.params)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def _fit(n_networks, **kw):
    data = noisy_function(seed=0)
    reg = RegularizedMLPRegressor((20,), "tanh", max_iter=300, random_state=7,
                                  n_networks=n_networks, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reg.fit(data.X_train, data.y_train), data


def test_estimator_ensemble_of_one_is_its_first_member():
    single, data = _fit(1)
    ensemble, _ = _fit(4)
    assert single.coefs_[0].shape == (1, 20) and ensemble.coefs_[0].shape == (4, 1, 20)
    # Same random_state: the first member starts from the single network's weights and key.
    for W1, Wk in zip(single.coefs_ + single.intercepts_,
                      ensemble.coefs_ + ensemble.intercepts_):
        np.testing.assert_allclose(W1, Wk[0], rtol=1e-5, atol=1e-6)
    members = [_numpy_forward([W[i] for W in ensemble.coefs_],
                              [b[i] for b in ensemble.intercepts_], data.X_test)
               for i in range(4)]
    assert np.std(members, axis=0).max() > 1e-3  # different initialisations, different fits
    # float32 inputs are predicted in float32, as scikit-learn does (the reference is float64)
    np.testing.assert_allclose(ensemble.predict(data.X_test), np.mean(members, axis=0),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(single.predict(data.X_test),
                               _numpy_forward(single.coefs_, single.intercepts_, data.X_test),
                               rtol=1e-5, atol=1e-6)


def test_config_validation():
    with pytest.raises(ConfigError, match="members"):
        EnsembleConfig(members=1)
    with pytest.raises(ConfigError, match="activation"):
        EnsembleConfig(activation="softplus")
    assert EnsembleConfig.parse_assignments(["bagging=true"]) == {"bagging": True}


def test_quick_preset_end_to_end():
    plain = EXPERIMENT.run(EnsembleConfig.preset("quick"))
    ids = {a.id for a in plain.answers}
    assert ids == {"ensemble_test_mse", "member_test_mse_median", "ensemble_gain"}
    S, M = plain.config.seeds, plain.config.members
    assert plain.arrays["ensemble_mse_by_k"].shape == (S, M)
    assert set(plain.figures) == {"ensemble_size.png", "members.png", "fits.png"}
    assert_nothing_cut_off(plain.figures)
    curve = plain.arrays["ensemble_mse_by_k"]
    members = plain.arrays["member_test_mse"]
    np.testing.assert_allclose(curve[:, 0], members[:, 0], rtol=1e-6)  # K = 1 is member 1
    assert np.all(curve[:, -1] <= members.mean(axis=1) * (1 + 1e-6))
    assert 0.02 < plain.answer("ensemble_test_mse").value < 0.2

    bagged = EXPERIMENT.run(EnsembleConfig.preset("quick", bagging=True))
    gain = bagged.answer("ensemble_gain")
    # Bootstrap resamples make members disagree: the average clearly beats the median member.
    assert gain.value > 1.05 and gain.low <= gain.value <= gain.high
    w = bagged.arrays["sample_weights"]
    assert np.all(w.sum(axis=-1) == 10) and np.any(w == 0)
