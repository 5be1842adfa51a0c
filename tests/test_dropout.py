"""Tests of inverted dropout, Monte-Carlo dropout prediction and the dropout experiment."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from _figure_checks import assert_nothing_cut_off
from overfitlab.data.synthetic import noisy_function
from overfitlab.engine.mlp import forward, init_mlp
from overfitlab.engine.regularizers import dropout_masks
from overfitlab.engine.train import TrainSpec, init_many, make_hyper, stack_networks, train
from overfitlab.estimators import RegularizedMLPRegressor
from overfitlab.experiments.base import ConfigError
from overfitlab.experiments.dropout import EXPERIMENT, DropoutConfig, mc_dropout_predict

N_MASKS = 20000


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.6])
def test_inverted_dropout_preserves_the_expectation(rate):
    a = np.random.default_rng(0).normal(size=20).astype(np.float32)  # unmasked activations
    (mask,) = dropout_masks(jax.random.PRNGKey(1), jnp.float32(rate), N_MASKS, (20,))
    mask = np.asarray(mask, np.float64)
    # Each entry is 0 or 1/(1-p): mean 1, standard deviation sqrt(p/(1-p)).
    kept = mask[mask != 0]
    np.testing.assert_allclose(kept, 1 / np.float32(1 - rate), rtol=1e-6)
    masked_mean = (a * mask).mean(axis=0)
    tol = 5 * np.abs(a) * np.sqrt(rate / (1 - rate) / N_MASKS)  # 5 sigma of the CLT
    assert np.all(np.abs(masked_mean - a) <= tol)
    dropped = int(np.sum(mask == 0))
    assert stats.binomtest(dropped, mask.size, rate).pvalue > 1e-6


def _train(use_dropout, rate, n_iter=200):
    data = noisy_function(seed=1)
    spec = TrainSpec((1, 20, 1), "tanh", "adam", n_iter, tol=None, chunk=n_iter,
                     use_dropout=use_dropout)
    params = init_many(jax.random.PRNGKey(0), 2, spec.layer_sizes, "tanh")
    hyper = stack_networks([make_hyper(dropout=rate)] * 2)
    keys = jax.random.split(jax.random.PRNGKey(5), 2)
    return train(spec, params, keys, hyper, data.X_train, data.y_train).params


def test_rate_zero_equals_no_dropout_exactly():
    with_masks = _train(True, 0.0)
    without = _train(False, 0.0)
    for a, b in zip(jax.tree_util.tree_leaves(with_masks), jax.tree_util.tree_leaves(without)):
        np.testing.assert_array_equal(a, b)
    dropped = _train(True, 0.3)
    assert not np.allclose(dropped["coefs"][0], without["coefs"][0])


def test_mc_dropout_mean_is_the_deterministic_prediction():
    # One hidden layer, linear output: E over masks of the thinned output is exactly f(x).
    params = init_mlp(np.random.RandomState(2), (1, 20, 1), "tanh")
    X = jnp.linspace(-1, 1, 7)[:, None]
    full = np.asarray(forward(params, X, "tanh")[:, 0], np.float64)
    stacked = jax.tree_util.tree_map(lambda a: a[None], params)
    zero = mc_dropout_predict(stacked, X, jnp.zeros(1), jax.random.PRNGKey(3), 5, "tanh")[0]
    # Masks of ones: the same network, up to float32 rounding of the vmapped products.
    np.testing.assert_allclose(np.asarray(zero), np.broadcast_to(full, (5, 7)), rtol=1e-6,
                               atol=1e-7)
    T = 4000
    samples = np.asarray(mc_dropout_predict(stacked, X, jnp.full(1, 0.4), jax.random.PRNGKey(4),
                                            T, "tanh")[0], np.float64)
    assert samples.shape == (T, 7) and samples.std(axis=0).min() > 0
    tol = 5 * samples.std(axis=0, ddof=1) / np.sqrt(T)
    assert np.all(np.abs(samples.mean(axis=0) - full) <= tol)


def _numpy_forward(reg, X):
    h = np.tanh(X @ reg.coefs_[0].astype(np.float64) + reg.intercepts_[0])
    return (h @ reg.coefs_[1].astype(np.float64) + reg.intercepts_[1])[:, 0]


def test_estimator_dropout_is_deterministic():
    data = noisy_function(seed=0)
    make = lambda p: RegularizedMLPRegressor((20,), "tanh", max_iter=300, tol=0.0,  # noqa: E731
                                             n_iter_no_change=10**6, dropout=p,
                                             random_state=3)
    with pytest.warns(Warning):  # ConvergenceWarning: fixed length on purpose
        first = make(0.3).fit(data.X_train, data.y_train)
    with pytest.warns(Warning):
        second = make(0.3).fit(data.X_train, data.y_train)
    with pytest.warns(Warning):
        plain = make(0.0).fit(data.X_train, data.y_train)
    for a, b in zip(first.coefs_ + first.intercepts_, second.coefs_ + second.intercepts_):
        np.testing.assert_array_equal(a, b)
    p1, p2 = first.predict(data.X_test), first.predict(data.X_test)
    np.testing.assert_array_equal(p1, p2)  # no masks at prediction
    # float32 inputs are predicted in float32, as scikit-learn does (the reference is float64)
    np.testing.assert_allclose(p1, _numpy_forward(first, data.X_test), rtol=1e-5, atol=1e-6)
    assert np.abs(p1 - plain.predict(data.X_test)).max() > 1e-3  # dropout changed training


def test_config_validation():
    with pytest.raises(ConfigError, match="rates"):
        DropoutConfig(rates=(0.0, 1.0))
    with pytest.raises(ConfigError, match="rates"):
        DropoutConfig(rates=(0.0, 0.2, 0.2))
    with pytest.raises(ConfigError, match="baseline"):
        DropoutConfig(rates=(0.2, 0.4))
    assert DropoutConfig.parse_assignments(["rates=0,0.5"]) == {"rates": (0.0, 0.5)}


def test_quick_preset_end_to_end():
    result = EXPERIMENT.run(DropoutConfig.preset("quick"))
    config = result.config
    assert {a.id for a in result.answers} == {"best_dropout_rate", "test_mse_at_best_dropout",
                                              "cv_dropout_rate", "selection_optimism",
                                              "dropout_vs_ensemble"}
    assert result.answer("cv_dropout_rate").value in config.rates
    # Per seed, the test error at the CV choice cannot beat the test-picked rate's own minimum
    # over rates by more than seed-to-seed variation; its median difference is in the band.
    optimism = result.answer("selection_optimism")
    assert optimism.low <= optimism.value <= optimism.high
    curve = result.arrays["test_mse"]
    assert curve.shape == (config.seeds, len(config.rates)) and np.all(np.isfinite(curve))
    assert set(result.figures) == {"dropout_rate.png", "fits.png"}
    assert_nothing_cut_off(result.figures)
    best = result.answer("best_dropout_rate").value
    assert best in config.rates
    at_best = result.answer("test_mse_at_best_dropout").value
    assert at_best == pytest.approx(np.median(curve[:, config.rates.index(best)]))
    assert at_best <= np.median(curve, axis=0).min() + 1e-12
    assert 0.02 < at_best < 0.2
    # Training error grows with the rate: dropout stops the network from fitting the noise.
    train_curve = np.median(result.arrays["train_mse"], axis=0)
    assert train_curve[-1] > train_curve[0]
    # The Monte-Carlo mean agrees with the deterministic prediction within sampling error.
    assert result.metrics["mc_gap_over_standard_error_max"] < 5
    assert "2^20" in result.answer("dropout_vs_ensemble").explanation
