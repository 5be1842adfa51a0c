"""small-network: unit contributions, pruning with bias folding, masked small networks against
genuine small networks, and the quick preset end to end."""
from __future__ import annotations

import jax
import numpy as np
import pytest

from _figure_checks import assert_nothing_cut_off
from overfitlab.engine.mlp import NUMPY_ACTIVATIONS, forward, init_mlp
from overfitlab.engine.train import TrainSpec, init_many, make_hyper, stack_networks, train
from overfitlab.experiments._course import mse, predict
from overfitlab.experiments.base import ConfigError
from overfitlab.experiments.small_network import (EXPERIMENT, SmallNetworkConfig,
                                                  masked_small_networks, pruned_params,
                                                  pruning_curve, train_small_networks,
                                                  unit_contributions)

H = 6


def _net(seed: int, hidden: int = H) -> dict:
    return init_mlp(np.random.RandomState(seed), (1, hidden, 1), "tanh", np.float64)


def test_contribution_bounds_the_slope_of_each_unit():
    """|d/dx v_j tanh(w_j x + c_j)| <= |v_j| |w_j| = s_j (|tanh'| <= 1), with equality where
    w_j x + c_j = 0; checked on a fine grid (central differences, step 1e-4)."""
    params = _net(0)
    s = unit_contributions(params)
    (w, v), (c, _) = params["coefs"], params["intercepts"]
    reach = np.max(np.abs(c / w[0])) + 1.0  # the grid covers every zero crossing -c_j / w_j
    x = np.linspace(-reach, reach, 60001)
    terms = v[:, 0] * np.tanh(x[:, None] * w[0] + c)
    slope = np.abs(np.diff(terms, axis=0)) / (x[1] - x[0])
    assert np.all(slope.max(axis=0) <= s * (1 + 1e-6))
    assert np.all(slope.max(axis=0) >= s * 0.99)  # the bound is reached (zero crossing)


def test_removing_a_constant_unit_changes_nothing_and_folding_keeps_the_mean():
    params = _net(1)
    params["coefs"][0][0, 2] = 0.0  # unit 2 is now constant: tanh(c_2)
    X = np.linspace(-1, 1, 25, dtype=np.float32)[:, None]
    keep = np.ones(H, np.float32)
    keep[2] = 0.0
    pruned = pruned_params(params, keep, X, "tanh")
    full = np.asarray(forward(params, X, "tanh"))
    cut = np.asarray(forward(pruned, X, "tanh", [keep]))
    np.testing.assert_allclose(cut, full, atol=1e-6)
    # Removing a varying unit keeps the mean prediction over the fitting inputs.
    keep[0] = 0.0
    pruned = pruned_params(params, keep, X, "tanh")
    cut = np.asarray(forward(pruned, X, "tanh", [keep]))
    assert not np.allclose(cut, full, atol=1e-3)
    assert cut.mean() == pytest.approx(full.mean(), abs=1e-5)


def test_pruning_curve_matches_a_loop_over_units():
    """The vectorized curve equals removing units one by one by hand (numpy, float64)."""
    stacked = jax.tree_util.tree_map(np.asarray, init_many(jax.random.PRNGKey(3), 3,
                                                           (1, H, 1), "tanh"))
    X = np.linspace(-1, 1, 10, dtype=np.float32)[:, None]
    Xe = np.linspace(-1, 1, 31, dtype=np.float32)[:, None]
    ye = Xe[:, 0] ** 2
    curve = pruning_curve(stacked, X, Xe, ye, "tanh")
    assert curve.shape == (3, H)
    g = NUMPY_ACTIVATIONS["tanh"]
    for s in range(3):
        (w, v), (c, b) = [[np.float64(a[s]) for a in group] for group in
                          (stacked["coefs"], stacked["intercepts"])]
        order = np.argsort(-np.abs(v[:, 0]) * np.abs(w[0]))
        for k in range(1, H + 1):
            kept, dropped = order[:k], order[k:]
            bias = b[0] + np.sum(v[dropped, 0] * g(X @ w[:, dropped] + c[dropped]).mean(0))
            pred = g(Xe @ w[:, kept] + c[kept]) @ v[kept, 0] + bias
            assert curve[s, k - 1] == pytest.approx(np.mean((pred - ye) ** 2), rel=1e-4)
    full = mse(predict(stacked, Xe, "tanh"), ye)
    np.testing.assert_allclose(curve[:, -1], full, rtol=1e-5)  # nothing removed


def test_masked_small_network_trains_like_a_genuine_small_network(course_data):
    """Width-k units inside a 20-unit network (others masked, zero weights) follow the same
    Adam trajectory as a 1-k-1 network: masked units get zero gradients and Adam is
    elementwise; only float32 summation order may differ (rtol 1e-4 after 400 steps)."""
    config = SmallNetworkConfig.preset("quick", max_iter=400, seeds=2)
    setup = config.setup()
    widths = (2, 3)
    _, test_mse, _, _ = train_small_networks(setup, widths)
    key = jax.random.fold_in(jax.random.PRNGKey(setup.seed), 1)
    init, masks = masked_small_networks(key, setup.seeds, widths, setup.hidden_units, "tanh")
    assert np.all(init["coefs"][0][:, 0][masks == 0] == 0) and np.all(masks.sum(1) == [2, 2, 3, 3])
    for i, k in enumerate(widths):
        params = init_many(jax.random.fold_in(key, k), setup.seeds, (1, k, 1), "tanh")
        spec = TrainSpec((1, k, 1), "tanh", max_iter=setup.max_iter, tol=None,
                         chunk=setup.max_iter)
        hyper = stack_networks([make_hyper(alpha=0.0)] * setup.seeds)
        out = train(spec, params, jax.random.split(key, setup.seeds), hyper,
                    course_data.X_train, course_data.y_train)
        ref = mse(predict(out.params, course_data.X_test, "tanh"), course_data.y_test)
        np.testing.assert_allclose(test_mse[:, i], ref, rtol=1e-4)


def test_config_validation():
    with pytest.raises(ConfigError, match="widths"):
        SmallNetworkConfig(widths=(0, 3))
    with pytest.raises(ConfigError, match="widths"):
        SmallNetworkConfig(widths=(20,))
    with pytest.raises(ConfigError, match="significance"):
        SmallNetworkConfig(significance=1.5)
    assert SmallNetworkConfig.parse_assignments(["widths=1,5"]) == {"widths": (1, 5)}


def test_quick_preset_end_to_end():
    config = SmallNetworkConfig.preset("quick")
    result = EXPERIMENT.run(config)
    m = result.metrics
    k = result.answer("significant_hidden_units")
    assert 1 <= k.value < config.hidden_units
    assert k.low <= k.value <= k.high
    small, large = result.answer("small_network_test_mse"), result.answer("large_network_test_mse")
    for a in (small, large):
        assert a.low <= a.value <= a.high
        assert 0.02 < a.value < 0.2
    assert large.value < m["unregularized_test_mse"]
    # The insignificant units hardly matter: pruning them (no retraining) costs < 10 %.
    assert m["pruned_test_mse"] < 1.1 * large.value
    assert m["small_network_parameters"] == 3 * k.value + 1 < m["large_network_parameters"]
    curve = result.arrays["pruned_test_mse"]
    assert curve.shape == (config.seeds, config.hidden_units)
    assert set(result.figures) == {"weight_magnitudes.png", "small_networks.png"}
    assert_nothing_cut_off(result.figures)
    assert all(np.isfinite(v) for v in m.values())
    # The width chosen on the training folds, and how optimistic the test-picked one was.
    cv = result.answer("cv_width")
    assert cv.value in result.arrays["widths"]
    assert result.arrays["width_cv_mse"].shape[::2] == (config.cv_seeds, config.cv_folds)
    optimism = result.answer("selection_optimism")
    assert optimism.low <= optimism.value <= optimism.high
    if m["cv_width"] == m["test_picked_width"]:
        assert m["selection_optimism"] == 0


def test_small_network_reuses_the_weight_penalty_sweep():
    """Both experiments build the same setup and values, so the memoised sweep is shared
    (trained once per process), and its arrays cannot be modified by either."""
    from overfitlab.experiments._sweeps import sweeps_of
    from overfitlab.experiments.weight_penalty import WeightPenaltyConfig

    small, penalty = SmallNetworkConfig.preset("quick"), WeightPenaltyConfig.preset("quick")
    assert small.setup() == penalty.setup()
    sweeps = sweeps_of(small)
    assert sweeps is sweeps_of(penalty)
    with pytest.raises(ValueError):
        sweeps.l2.test_mse[0, 0] = 0.0
