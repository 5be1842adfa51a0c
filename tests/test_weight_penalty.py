"""weight-penalty: L2 as weight decay (jax.grad, scikit-learn), the L1 proximal step (SciPy),
the estimator's l1, the shared sweep, and the quick preset end to end."""
from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from sklearn.neural_network import MLPRegressor

from _sklearn_reference import sklearn_init

from _figure_checks import assert_nothing_cut_off
from overfitlab import RegularizedMLPRegressor
from overfitlab.engine.regularizers import prox_l1, soft_threshold
from overfitlab.engine.train import TrainSpec, _objective, make_hyper, stack_networks, train_grid
from overfitlab.experiments.base import ConfigError
from overfitlab.experiments.weight_penalty import (EXPERIMENT, WeightPenaltyConfig,
                                                   weight_decay_check)

HIDDEN = 20


def _sklearn_from(coefs, intercepts, X, y, **kw) -> MLPRegressor:
    """MLPRegressor fitted with ``kw`` starting from the given weights (fresh optimizer).

    A one-iteration fit creates every fitted attribute; the weights are then replaced and
    ``warm_start`` makes the second fit continue from them.
    """
    sk = MLPRegressor(hidden_layer_sizes=(HIDDEN,), activation="tanh", warm_start=True,
                      random_state=0, shuffle=False, tol=0.0, n_iter_no_change=10**6,
                      **{**kw, "max_iter": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk.fit(X, y)
        sk.coefs_ = [np.array(c, np.float64) for c in coefs]
        sk.intercepts_ = [np.array(b, np.float64) for b in intercepts]
        sk.set_params(max_iter=kw.get("max_iter", 1)).fit(X, y)
    return sk


def test_l2_gradient_is_alpha_w_over_n_on_the_course_network(course_data):
    """jax.grad of the engine's objective, with alpha minus without, is alpha W / n.

    In float64 the two gradients share the data term bit for bit up to summation order, so
    the difference matches to ~1e-15 relative; 1e-12 leaves room."""
    with jax.enable_x64(True):
        coefs, intercepts = sklearn_init(5, (1, HIDDEN, 1))
        params = {"coefs": [jnp.asarray(c) for c in coefs],
                  "intercepts": [jnp.asarray(b) for b in intercepts]}
        X = jnp.asarray(course_data.X_train, jnp.float64)
        y = jnp.asarray(course_data.y_train, jnp.float64)[:, None]
        n = X.shape[0]
        spec = TrainSpec((1, HIDDEN, 1), "tanh")

        def grad(alpha):
            hyper = make_hyper(alpha=alpha, dtype=jnp.float64)
            return jax.grad(lambda p: _objective(p, X, y, hyper.sample_weight, hyper, None,
                                                 spec)[0])(params)

        alpha = 0.37
        g1, g0 = grad(alpha), grad(0.0)
        for W, a, b in zip(params["coefs"], g1["coefs"], g0["coefs"]):
            np.testing.assert_allclose(a - b, alpha * W / n, rtol=1e-12, atol=1e-15)
        for a, b in zip(g1["intercepts"], g0["intercepts"]):
            np.testing.assert_array_equal(a, b)


def test_weight_decay_step_matches_sklearn(course_data):
    """One plain gradient step (SGD, momentum 0, lr 1) from shared weights: scikit-learn's
    step with alpha minus its step without is -alpha W / n, and the experiment's check on the
    engine finds the same to float32 precision (relative error ~ eps32 |W| / (alpha |W| / n))."""
    X = course_data.X_train.astype(np.float64)
    y = course_data.y_train.astype(np.float64)
    n, alpha = len(X), 0.5
    coefs, intercepts = sklearn_init(7, (1, HIDDEN, 1))
    kw = dict(solver="sgd", momentum=0.0, nesterovs_momentum=False, learning_rate_init=1.0,
              batch_size=n)
    with_l2 = _sklearn_from(coefs, intercepts, X, y, alpha=alpha, **kw)
    without = _sklearn_from(coefs, intercepts, X, y, alpha=0.0, **kw)
    for W, a, b in zip(coefs, with_l2.coefs_, without.coefs_):
        np.testing.assert_allclose(a - b, -alpha * W / n, rtol=1e-10, atol=1e-14)
    for a, b in zip(with_l2.intercepts_, without.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)

    setup = WeightPenaltyConfig.preset("quick").setup()
    params = {"coefs": [np.asarray(c, np.float32)[None] for c in coefs],
              "intercepts": [np.asarray(b, np.float32)[None] for b in intercepts]}
    err, bias = weight_decay_check(setup, params, alpha, course_data.X_train,
                                   course_data.y_train)
    assert err < 1e-4
    assert bias == 0.0


@pytest.mark.parametrize("alpha", [0.0, 0.05])
def test_estimator_with_l1_zero_is_sklearns_network(course_data, alpha):
    """RegularizedMLPRegressor(l1=0) continues from shared weights exactly as MLPRegressor
    with the same alpha: 25 Adam iterations agree to 1e-9 relative in float64."""
    X = course_data.X_train.astype(np.float64)
    y = course_data.y_train.astype(np.float64)
    coefs, intercepts = sklearn_init(11, (1, HIDDEN, 1))
    kw = dict(alpha=alpha, max_iter=25)
    sk = _sklearn_from(coefs, intercepts, X, y, **kw)
    with jax.enable_x64(True), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = RegularizedMLPRegressor((HIDDEN,), "tanh", l1=0.0, warm_start=True,
                                       random_state=0, shuffle=False, tol=0.0,
                                       n_iter_no_change=10**6, max_iter=1).fit(X, y)
        ours.coefs_ = [np.array(c) for c in coefs]
        ours.intercepts_ = [np.array(b) for b in intercepts]
        ours.set_params(**kw).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, sk.coefs_ + sk.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_estimator_l1_gives_exact_zeros(course_data):
    """A strong l1 zeroes weights exactly (0.0, not merely small); biases are not penalized."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = RegularizedMLPRegressor((HIDDEN,), "tanh", l1=5.0, max_iter=3000,
                                      random_state=0).fit(course_data.X_train,
                                                          course_data.y_train)
    weights = np.concatenate([np.ravel(W) for W in reg.coefs_])
    assert np.sum(weights == 0.0) > 0
    assert np.sum(weights == 0.0) > np.sum(np.concatenate(reg.intercepts_) == 0.0)
    assert np.all(np.isfinite(reg.predict(course_data.X_test)))


@pytest.mark.parametrize("seed", range(5))
def test_soft_threshold_is_the_l1_proximal_operator(seed):
    """soft_threshold(w, t) = argmin_z (z - w)^2 / 2 + t |z|, checked by SciPy's bounded
    scalar minimiser (xatol 1e-10; the objective is 1-strongly convex so the minimiser is
    accurate to ~1e-8 in float64), and zeros appear exactly where |w| <= t."""
    rng = np.random.default_rng(seed)
    w = rng.normal(scale=2.0, size=12)
    t = float(rng.uniform(0.1, 1.5))
    ref = [minimize_scalar(lambda z, wi=wi: 0.5 * (z - wi) ** 2 + t * abs(z),
                           bounds=(-10, 10), method="bounded",
                           options={"xatol": 1e-10}).x for wi in w]
    with jax.enable_x64(True):
        out = np.asarray(soft_threshold(jnp.asarray(w), t))
        params = prox_l1({"coefs": [jnp.asarray(w).reshape(3, 4)],
                          "intercepts": [jnp.asarray(w[:4])]}, t)
    np.testing.assert_allclose(out, ref, atol=1e-7)
    assert np.sum(out == 0.0) == np.sum(np.abs(w) <= t)
    np.testing.assert_array_equal(np.asarray(params["coefs"][0]).ravel(), out)
    np.testing.assert_array_equal(params["intercepts"][0], w[:4])


def test_l1_step_with_zero_coefficient_is_the_plain_network(course_data):
    """The shared sweep compiles the L1 step for the L2 networks too: with l1 = 0 the
    soft-threshold is the identity, so training is bit-for-bit the plain program's."""
    hyper = stack_networks([make_hyper(alpha=a) for a in (0.0, 0.1)])
    runs = [train_grid(TrainSpec((1, HIDDEN, 1), "tanh", max_iter=300, tol=None, chunk=300,
                                 use_l1=use_l1), jax.random.PRNGKey(2), 2, hyper,
                       course_data.X_train, course_data.y_train) for use_l1 in (False, True)]
    for a, b in zip(jax.tree_util.tree_leaves(runs[0].params),
                    jax.tree_util.tree_leaves(runs[1].params)):
        np.testing.assert_array_equal(a, b)


def test_config_validation():
    with pytest.raises(ConfigError, match="alpha_min"):
        WeightPenaltyConfig(alpha_min=1.0, alpha_max=0.1)
    with pytest.raises(ConfigError, match="n_l1"):
        WeightPenaltyConfig(n_l1=2)
    assert WeightPenaltyConfig.parse_assignments(["n_alphas=40"]) == {"n_alphas": 40}
    full = WeightPenaltyConfig.preset("full")
    assert full.n_alphas >= 30 and full.alpha_min <= 1e-5 and full.alpha_max >= 10
    assert full.seeds == 20 and full.max_iter == 20000


def test_quick_preset_end_to_end():
    config = WeightPenaltyConfig.preset("quick")
    result = EXPERIMENT.run(config)
    m = result.metrics
    alphas = config.alphas()
    best = result.answer("best_alpha")
    assert alphas[1] < best.value < alphas[-1]  # strictly inside the swept range
    assert best.low <= best.high
    te = result.answer("test_mse_at_best_alpha")
    assert te.low <= te.value <= te.high
    assert te.value < m["test_mse_unregularized"]  # the penalty helps
    assert 0.02 < te.value < 0.08  # near the noise variance 0.04, not a constant fit
    assert m["test_mse_at_alpha_max"] > 2 * te.value  # too much penalty underfits
    assert m["train_mse_unregularized"] < 0.04 < m["test_mse_unregularized"]  # overfits
    assert config.l1s()[0] <= result.answer("best_l1").value <= config.l1s()[-1]
    zeros = result.answer("l1_exact_zeros")
    assert 0 < zeros.value <= m["n_weights"]
    assert m["exact_zeros_at_best_alpha"] == 0  # L2 never zeroes a weight
    assert m["weight_decay_relative_error"] < 1e-3
    assert m["weight_decay_bias_difference"] == 0.0
    for text_id in ("ridge_lasso_idea", "backprop_with_l2"):
        assert len(result.answer(text_id).value) > 100
    assert set(result.figures) == {"l2_sweep.png", "l2_fits.png", "l1_sweep.png",
                                   "weight_histograms.png"}
    assert_nothing_cut_off(result.figures)
    assert result.arrays["l2_test_mse"].shape == (config.seeds, config.n_alphas + 1)
    assert all(np.isfinite(v) for v in m.values())
    # Cross-validation on the training points chooses alpha and l1. The test-picked alpha
    # minimises the median test error over the grid, so the CV choice's median test error
    # cannot be lower: that difference is the optimism of picking on the test set.
    assert alphas[1] <= result.answer("cv_alpha").value <= alphas[-1]
    assert result.arrays["l2_cv_mse"].shape == (config.cv_seeds, config.n_alphas + 1,
                                                config.cv_folds)
    assert m["test_mse_at_cv_alpha"] >= m["test_mse_at_best_alpha"]
    assert m["diverged"] == 0 and not best.at_edge


def test_cross_validation_never_sees_the_test_set():
    """The course's data draws the training targets before the test targets, so a different
    test set leaves the training points, and hence every fold's held-out error and the CV
    choice, exactly the same; the test errors change."""
    from overfitlab.experiments._sweeps import penalty_sweeps

    runs = [WeightPenaltyConfig.preset("quick", max_iter=300, seeds=2, cv_seeds=1, n_alphas=3,
                                       n_l1=3, n_test=n_test) for n_test in (100, 37)]
    a, b = (penalty_sweeps(c.setup(), c.alphas(), c.l1s()) for c in runs)
    np.testing.assert_array_equal(a.l2.cv_mse, b.l2.cv_mse)
    np.testing.assert_array_equal(a.l1.cv_mse, b.l1.cv_mse)
    assert not np.array_equal(a.l2.test_mse, b.l2.test_mse)


def test_fold_masks_are_shuffled_kfold():
    """Every point is held out exactly once; folds are not contiguous intervals of the sorted x
    (unshuffled KFold would hold out whole intervals and measure extrapolation)."""
    from overfitlab.experiments._cv import fold_masks

    masks = fold_masks(10, 5, seed=0)
    held = 1 - masks
    np.testing.assert_array_equal(held.sum(axis=0), np.ones(10))
    np.testing.assert_array_equal(held.sum(axis=1), np.full(5, 2))
    contiguous = [np.ptp(np.flatnonzero(h)) == 1 for h in held]
    assert not all(contiguous)


def test_fold_networks_are_networks_trained_on_their_folds_points_alone():
    """train_with_folds: a fold network (12 points in 5 folds: 9 or 10 training points, the
    smaller folds padded with rows of weight 0) ends where a network trained from the same
    initial weights on the fold's points alone ends, and a network on all the points where
    one trained on all of them does (float32 rounding: the same sums, another order)."""
    from overfitlab.engine.mlp import init_stack
    from overfitlab.engine.train import train
    from overfitlab.experiments._cv import fold_masks, train_with_folds

    rng = np.random.RandomState(0)
    X, y = rng.uniform(-1, 1, (12, 1)), rng.normal(size=12)
    spec = TrainSpec((1, 6, 1), "tanh", max_iter=300, tol=None)
    configs = [make_hyper(alpha=a, learning_rate=0.01) for a in (1e-4, 0.1)]
    inits = init_stack(np.random.RandomState(1), 2, (1, 6, 1), "tanh")  # seeds S = 2
    inits = jax.tree_util.tree_map(lambda a: np.repeat(a[:, None], 2, axis=1), inits)
    masks = fold_masks(12, 5, seed=0)
    assert sorted(masks.sum(axis=1)) == [9, 9, 10, 10, 10]
    run = train_with_folds(spec, inits, configs, 1, masks, X, y, jax.random.PRNGKey(0))
    keys = np.zeros((1, 2), np.uint32)
    for s, c in [(0, 0), (1, 1)]:
        start = jax.tree_util.tree_map(lambda a: a[s, c][None], inits)
        alone = train(spec, start, keys, stack_networks([configs[c]]), X, y).params
        for a, b in zip(jax.tree_util.tree_leaves(alone),
                        jax.tree_util.tree_leaves(run.params)):
            np.testing.assert_allclose(b[s, c], a[0], rtol=1e-4, atol=1e-6)
    for c, k in [(0, 0), (1, 3), (0, 4)]:
        start = jax.tree_util.tree_map(lambda a: a[0, c][None], inits)
        keep = masks[k] == 1
        alone = train(spec, start, keys, stack_networks([configs[c]]), X[keep], y[keep]).params
        for a, b in zip(jax.tree_util.tree_leaves(alone),
                        jax.tree_util.tree_leaves(run.cv_params)):
            np.testing.assert_allclose(b[0, c, k], a[0], rtol=1e-4, atol=1e-6)
