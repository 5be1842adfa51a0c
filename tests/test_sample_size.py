"""Tests of the sample-size experiment: its schedule, its data and its answers."""
from __future__ import annotations

import math

import jax
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import PolynomialFeatures

from _figure_checks import assert_nothing_cut_off
from overfitlab.engine.train import make_hyper, stack_networks, train_grid
from overfitlab.experiments.base import ConfigError
from overfitlab.experiments._course import course_spec
from overfitlab.experiments.sample_size import (EXPERIMENT, Regime, SampleSizeConfig,
                                                common_test_set, regime_of, tile, training_set)


@pytest.mark.parametrize("n", [10, 30, 100, 300, 1000, 3000, 10000])
def test_regimes_follow_batch_size_auto(n):
    config = SampleSizeConfig()
    regime = regime_of(config, n)
    if n <= config.batch_size:
        assert regime == Regime(100, None, config.max_iter)
    else:
        steps = regime.epochs * math.ceil(regime.rows / config.batch_size)
        assert regime.rows == 10000 and regime.batch_size == config.batch_size
        assert config.minibatch_steps <= steps < config.minibatch_steps + 50


@pytest.mark.parametrize("n, rows", [(10, 10), (30, 100), (300, 10000), (3000, 10000)])
def test_tiling_gives_every_point_weight_one(n, rows):
    data = training_set(SampleSizeConfig(), n)
    X, y, w = tile(data, rows)
    assert X.shape == (rows, 1) and y.shape == (rows,)
    index = np.arange(rows) % n
    np.testing.assert_array_equal(X[:, 0], data.X_train[index, 0])
    np.testing.assert_allclose(np.bincount(index, weights=w), np.ones(n), rtol=1e-12)


def test_full_batch_on_tiled_rows_equals_training_on_the_points():
    # sum_r w_r e_r^2 / sum_r w_r is the plain mean over the points and sum_r w_r = n, so the
    # tiled run follows the plain run up to float32 summation order.
    config = SampleSizeConfig()
    data = training_set(config, 30)
    spec = course_spec(config, 300)
    runs = []
    for X, y, w in [(data.X_train, data.y_train, np.ones(30)), tile(data, 100)]:
        hyper = stack_networks([make_hyper(config.alpha, sample_weight=w)])
        runs.append(train_grid(spec, jax.random.PRNGKey(0), 2, hyper, X, y).params)
    for a, b in zip(*(jax.tree_util.tree_leaves(r) for r in runs)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_data_sets_are_independent_and_reproducible():
    config = SampleSizeConfig()
    a, b = training_set(config, 100), training_set(config, 100)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert a.X_train.shape == (100, 1)
    test = common_test_set(config)
    assert test.X_test.shape == (config.n_test, 1)
    other = training_set(SampleSizeConfig(seed=1), 100)
    assert not np.allclose(a.y_train, other.y_train)
    # Noise of a training set and of the test set at as many points: uncorrelated draws.
    train = training_set(config, config.n_test)
    r = np.corrcoef(train.y_train - train.truth(train.X_train),
                    test.y_test - test.truth(test.X_test))[0, 1]
    assert abs(r) < 5 / math.sqrt(config.n_test)


def test_config_validation():
    with pytest.raises(ConfigError, match="n_values"):
        SampleSizeConfig(n_values=(100, 10))
    with pytest.raises(ConfigError, match="n_values"):
        SampleSizeConfig(n_values=())
    assert SampleSizeConfig.parse_assignments(["n_values=10,100"]) == {"n_values": (10, 100)}


def test_quick_preset_end_to_end():
    result = EXPERIMENT.run(SampleSizeConfig.preset("quick"))
    config = result.config
    n = np.asarray(config.n_values)
    assert {a.id for a in result.answers} == {"test_mse_at_max_n", "still_overfits"}
    assert result.arrays["train_mse"].shape == (config.seeds, n.size)
    assert set(result.figures) == {"sample_size.png", "fits.png"}
    assert_nothing_cut_off(result.figures)
    test_at_max = result.answer("test_mse_at_max_n")
    assert abs(test_at_max.value - 0.04) <= 0.25 * 0.04
    # Independent reference: the quadratic least-squares fit (the true model class) on the
    # same largest training set has the best achievable test error; the network is close.
    data, test = training_set(config, int(n[-1])), common_test_set(config)
    poly = PolynomialFeatures(2)
    ls = LinearRegression().fit(poly.fit_transform(data.X_train), data.y_train)
    ls_mse = np.mean((ls.predict(poly.transform(test.X_test)) - test.y_test) ** 2)
    assert test_at_max.value == pytest.approx(ls_mse, rel=0.1)
    assert result.answer("still_overfits").value == "no"
    train, test_mse = (np.median(result.arrays[k], axis=0) for k in ("train_mse", "test_mse"))
    assert train[0] < 0.5 * test_mse[0]  # 10 points are memorised...
    assert abs(result.metrics["gap_at_max_n"]) < 0.1 * 0.04  # ...10 000 are not
