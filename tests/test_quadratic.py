"""Early stopping vs ridge on a quadratic cost: theory module and the es-l2-equivalence experiment.

Tolerances: float64 rounding is eps = 2.2e-16. Gradient descent with |1 - lr mu_j| < 1 is a
contraction, so each step's rounding error is never amplified: after n steps the iterates are
within ~n eps of exact arithmetic (3000 steps: 7e-13), and formulas built on ``eigh`` are within a
few eps times the condition number.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import solve
from sklearn.linear_model import Ridge

from _figure_checks import assert_nothing_cut_off
from overfitlab.experiments.base import ConfigError
from overfitlab.experiments.es_l2_equivalence import EXPERIMENT, EsL2Config, diabetes_data
from overfitlab.experiments.registry import experiments
from overfitlab.theory.quadratic import (
    QuadraticCost, closed_form_iterates, divergence_threshold, early_stopping_filter,
    error_grows, gradient_descent, least_squares_quadratic, nearest_ridge_alpha, random_spd,
    ridge_solution, small_mu_filter,
)


def _random_cost(seed: int, dim: int = 6, condition: float = 100.0) -> QuadraticCost:
    rng = np.random.default_rng(seed)
    return QuadraticCost(random_spd(rng, dim, condition), rng.standard_normal(dim))


@pytest.fixture(scope="module")
def diabetes() -> QuadraticCost:
    return least_squares_quadratic(*diabetes_data())


def test_random_spd_has_requested_spectrum_and_is_reproducible():
    h = random_spd(np.random.default_rng(3), 7, 50.0)
    mu = np.linalg.eigvalsh(h)
    assert np.allclose(h, h.T, rtol=0, atol=1e-15)
    assert mu[-1] == pytest.approx(1.0, rel=1e-13)
    assert mu[0] == pytest.approx(1 / 50.0, rel=1e-12)
    assert np.array_equal(h, random_spd(np.random.default_rng(3), 7, 50.0))


def test_cost_gradient_matches_finite_differences_and_least_squares(diabetes):
    x, y = diabetes_data()
    w = np.random.default_rng(0).standard_normal(x.shape[1])
    mse_half = np.sum((y - x @ w) ** 2) / (2 * len(y))
    assert diabetes.cost(w) == pytest.approx(mse_half, rel=1e-12)
    step = 1e-6
    fd = np.array([(diabetes.cost(w + step * e) - diabetes.cost(w - step * e)) / (2 * step)
                   for e in np.eye(len(w))])
    assert np.allclose(diabetes.gradient(w), fd, rtol=1e-7, atol=1e-9)
    assert np.allclose(diabetes.gradient(diabetes.w_star), 0.0, atol=1e-12)


@pytest.mark.parametrize("rate", [0.01, 1.0, 1.9])  # in units of 1/mu_max; 1.9 oscillates
def test_closed_form_equals_iterates(rate, diabetes):
    for cost in (_random_cost(1), diabetes):
        lr = rate / cost.mu[-1]
        iterates = gradient_descent(cost.hessian, cost.w_star, lr, 3000)[:, 0]
        closed = closed_form_iterates(cost, lr, np.arange(3001))
        gap = np.linalg.norm(iterates - closed, axis=-1).max() / np.linalg.norm(cost.w_star)
        assert gap < 1e-12


def test_gradient_descent_batches_match_single_runs():
    costs = [_random_cost(s) for s in range(3)]
    lrs = np.array([[0.3, 1.0], [0.5, 1.5], [0.1, 0.9]])
    batch = gradient_descent(np.stack([c.hessian for c in costs]),
                             np.stack([c.w_star for c in costs]), lrs, 50, record=[0, 7, 50])
    for s, cost in enumerate(costs):
        for p, lr in enumerate(lrs[s]):
            w = np.zeros(cost.dim)
            for _ in range(50):
                w = w - lr * cost.gradient(w)
            assert np.allclose(batch[2, s, p], w, rtol=1e-13, atol=1e-14)
    assert np.all(batch[0] == 0)


@pytest.mark.parametrize("which", ["random", "diabetes"])
def test_divergence_just_above_two_over_mu_max(which, diabetes):
    cost = _random_cost(2) if which == "random" else diabetes
    critical = 2.0 / cost.mu[-1]
    lrs = critical * np.array([1 - 1e-3, 1 + 1e-3])
    runs = gradient_descent(cost.hessian, cost.w_star, lrs, 20000, record=[0, 10000, 20000])
    err = np.linalg.norm(runs - cost.w_star, axis=-1) / np.linalg.norm(cost.w_star)
    # |1 - lr mu_max| = 1 -/+ 2e-3: after 2e4 steps the top component is scaled by e^-40 / e^+40
    assert err[2, 0] < 1e-8 < 1e8 < err[2, 1]
    assert err[2, 1] > err[1, 1] and err[2, 0] < err[1, 0]
    assert list(error_grows(cost.hessian, cost.w_star, lrs, 20000)) == [False, True]
    measured = divergence_threshold(cost.hessian, cost.w_star, 10000, rtol=1e-10)
    assert measured == pytest.approx(critical, rel=1e-8)


def test_error_grows_from_matrix_powers_agrees_with_the_steps():
    """error_grows (powers of I - lr H) flags the rates whose step-by-step iterates
    (gradient_descent) end farther from w* than half-way, for rates within 2 % of 2 / mu_max on
    either side and far beyond it (overflow), over several problems at once."""
    costs = [_random_cost(s) for s in range(4)]
    hessians, w_stars = np.stack([c.hessian for c in costs]), np.stack([c.w_star for c in costs])
    factors = np.concatenate([np.linspace(0.5, 0.98, 9), np.linspace(1.02, 1.5, 9), [50.0]])
    lrs = np.stack([2.0 / c.mu[-1] * factors for c in costs])
    runs = gradient_descent(hessians, w_stars, lrs, 4000, record=[2000, 4000])
    with np.errstate(over="ignore", invalid="ignore"):
        err = np.linalg.norm(runs - w_stars[:, None, :], axis=-1)
        stepped = ~(err[1] <= err[0])
    grows = error_grows(hessians, w_stars, lrs, 4000)
    np.testing.assert_array_equal(grows, stepped)
    np.testing.assert_array_equal(grows, np.broadcast_to(factors > 1, grows.shape))


def test_ridge_closed_form_matches_solve_and_sklearn(diabetes):
    cost = _random_cost(4)
    for alpha in (1e-3, 0.1, 10.0):
        ref = solve(cost.hessian + alpha * np.eye(cost.dim), cost.hessian @ cost.w_star)
        assert np.allclose(ridge_solution(cost, alpha), ref, rtol=1e-12, atol=1e-13)
    x, y = diabetes_data()
    n = len(y)
    for alpha in (1e-3, 0.1, 10.0):
        # Ridge minimises |y - Xw|^2 + alpha_sk |w|^2 = 2 n (C(w) + alpha/2 |w|^2) - const
        coef = Ridge(alpha=n * alpha, fit_intercept=False).fit(x, y).coef_
        assert np.allclose(ridge_solution(diabetes, alpha), coef, rtol=1e-10, atol=1e-12)
        # ... and without matching the scaling the answer is different
        wrong = Ridge(alpha=alpha * 1000, fit_intercept=False).fit(x, y).coef_
        assert not np.allclose(ridge_solution(diabetes, alpha * 1000), wrong, rtol=1e-3)
    assert np.allclose(ridge_solution(diabetes, 0.0), diabetes.w_star, rtol=1e-12)


def test_small_mu_error_is_second_order():
    cost = _random_cost(5, dim=8, condition=1e3)
    lr = 0.01 / cost.mu[-1]
    steps = np.array([10, 20, 40, 80, 160])
    iterates = gradient_descent(cost.hessian, cost.w_star, lr, int(steps[-1]), record=steps)[:, 0]
    fraction = cost.components(iterates) / cost.components(cost.w_star)
    x = small_mu_filter(cost.mu, lr, steps)
    err = x - fraction
    # 0 <= x - (1 - (1 - x/n)^n) <= (n-1)/(2n) x^2 for 0 <= lr mu <= 1
    bound = (steps[:, None] - 1) / (2 * steps[:, None]) * x**2
    assert np.all(err >= -1e-15) and np.all(err <= bound * (1 + 1e-9) + 1e-15)
    # and the x^2 term is sharp: err / bound = 1 - O(x)
    small = x <= 0.05
    assert np.all(np.abs(err[small] / bound[small] - 1) < x[small])
    assert np.allclose(early_stopping_filter(cost.mu, lr, steps), fraction, rtol=1e-10)


def test_nearest_alpha_is_the_minimum_and_equals_inverse_n_lr_for_small_mu(diabetes):
    cost = _random_cost(6, dim=8, condition=1e3)
    for c in (cost, diabetes):
        lr = 0.001 / c.mu[-1]
        steps = np.array([1, 2, 5, 10])  # n lr mu_max <= 0.01
        w = closed_form_iterates(c, lr, steps)
        alpha = nearest_ridge_alpha(c, w)
        # first-order theory: alpha = 1/(n lr); corrections are O(n lr mu_max) <= 1e-2
        assert np.allclose(alpha * steps * lr, 1.0, atol=1e-2)
        for a, target in zip(alpha, w):
            brute = np.geomspace(a / 10, a * 10, 2001)
            dist = np.linalg.norm(ridge_solution(c, brute) - target, axis=-1)
            best = np.linalg.norm(ridge_solution(c, np.asarray(a)) - target)
            assert best <= dist.min() * (1 + 1e-9)


def test_config_validation_and_presets():
    quick = EsL2Config.preset("quick")
    assert quick.seeds == 5 and quick.n_steps < EsL2Config().n_steps
    with pytest.raises(ConfigError, match="divergence_steps"):
        EsL2Config(divergence_steps=100)
    with pytest.raises(ConfigError, match="plane_lr"):
        EsL2Config(plane_lr=2.5)
    with pytest.raises(ConfigError, match="lr_scale"):
        EsL2Config(lr_scale=0.5)
    assert EsL2Config.parse_assignments(["condition=50", "dim=4"]) == {"condition": 50.0, "dim": 4}


def test_quick_run_end_to_end():
    assert experiments()["es-l2-equivalence"] is EXPERIMENT
    result = EXPERIMENT.run(EsL2Config.preset("quick", seed=1))
    m = result.metrics
    assert result.answer("closed_form_max_error").value < 1e-12
    threshold = result.answer("divergence_threshold").value
    assert threshold == pytest.approx(m["divergence_threshold_theory_diabetes"], rel=1e-7)
    assert m["divergence_threshold_rel_gap_random_max"] < 1e-7
    assert m["run_below_threshold_final_rel_error"] < 1e-6
    assert m["run_above_threshold_final_rel_error"] > 1e6
    product = result.answer("alpha_times_n_lambda")
    assert 0.9 < product.low <= product.value <= product.high < 1.02
    assert result.answer("early_stopping_mostly_affects").value == "w1"
    assert m["plane_w1_fraction_at_stop"] < 0.5 < m["plane_w2_fraction_at_stop"]
    assert 1.9 < m["small_mu_error_slope"] < 2.1
    assert m["small_mu_error_over_x2_max"] <= 0.5
    assert m["ridge_vs_sklearn_max_rel_error"] < 1e-10 and m["ridge_vs_scipy_max_rel_error"] < 1e-12
    assert set(result.figures) == {"plane.png", "alpha_vs_inverse_n_lr.png", "filters.png",
                                   "divergence.png"}
    assert_nothing_cut_off(result.figures)
    assert all(np.isfinite(v) for v in m.values())
    assert result.elapsed_s < 10
    again = EXPERIMENT.run(EsL2Config.preset("quick", seed=1))
    assert again.metrics == m
