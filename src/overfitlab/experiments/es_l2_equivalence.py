"""es-l2-equivalence: early stopping acts like an L2 penalty, checked on quadratic costs.

On ``C(w) = C0 + 1/2 (w - w*)^T H (w - w*)`` gradient descent from 0 has the closed form
``w_j(n) = (1 - (1 - lr mu_j)^n) w*_j`` in the eigenbasis of H (see
:mod:`overfitlab.theory.quadratic`). This experiment checks it against the iterates, measures the
divergence threshold ``2/mu_max`` by multisection on the rate, checks the small-mu approximation
``n lr mu_j`` and the ridge solution ``mu_j/(mu_j + alpha) w*_j`` (against SciPy and
scikit-learn), fits for each n the ridge ``alpha`` nearest to ``w(n)`` and compares it with
``1/(n lr)``, and draws the 2-D picture of the course. Hessians: ``seeds`` random SPD matrices
and ``X^T X / n`` of scikit-learn's diabetes data, standardized.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from overfitlab.experiments.configs.es_l2_equivalence import EsL2Config
from overfitlab.experiments.base import Answer, Experiment, Progress, Result, band, no_progress
from overfitlab.plots import quadratic as plots
from overfitlab.theory.quadratic import (
    QuadraticCost, closed_form_iterates, divergence_threshold, gradient_descent,
    least_squares_quadratic, nearest_ridge_alpha, random_spd, ridge_solution,
)

PLANE_W_STAR = np.array([1.0, 1.0])
"""Minimum of the 2-D illustration; its Hessian is ``diag(plane_mu_low, 1)``."""

RIDGE_ALPHAS = np.geomspace(1e-4, 1e2, 13)
"""Penalties at which the ridge closed form is checked against SciPy and scikit-learn."""


def diabetes_data() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled diabetes data, every column and the target standardized."""
    x, y = load_diabetes(return_X_y=True, scaled=False)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x, (y - y.mean()) / y.std()


def random_costs(config: EsL2Config) -> list[QuadraticCost]:
    """One quadratic per seed: a random SPD Hessian and ``w* ~ N(0, I)``."""
    children = np.random.SeedSequence(config.seed).spawn(config.seeds)
    costs = []
    for child in children:
        rng = np.random.default_rng(child)
        h = random_spd(rng, config.dim, config.condition)
        costs.append(QuadraticCost(h, rng.standard_normal(config.dim)))
    return costs


@dataclass
class _Problem:
    """A quadratic, the rate used on it and its gradient-descent iterates ``(n_steps + 1, d)``."""

    cost: QuadraticCost
    lr: float
    iterates: np.ndarray


def _problems(config: EsL2Config) -> tuple[list[_Problem], _Problem, np.ndarray, np.ndarray]:
    """Random problems (run as one batch), the diabetes problem and the diabetes data (X, y);
    ``lr = lr_scale / mu_max`` on each."""
    costs = random_costs(config)
    lrs = np.array([config.lr_scale / c.mu[-1] for c in costs])
    iterates = gradient_descent(np.stack([c.hessian for c in costs]),
                                np.stack([c.w_star for c in costs]), lrs[:, None],
                                config.n_steps)[:, :, 0]
    random = [_Problem(c, lr, iterates[:, s]) for s, (c, lr) in enumerate(zip(costs, lrs))]
    x, y = diabetes_data()
    cost = least_squares_quadratic(x, y)
    lr = config.lr_scale / cost.mu[-1]
    diabetes = _Problem(cost, lr, gradient_descent(cost.hessian, cost.w_star, lr,
                                                   config.n_steps)[:, 0])
    return random, diabetes, x, y


def _closed_form_error(p: _Problem) -> float:
    """``max_n |w_GD(n) - w_closed(n)| / |w*|`` over all recorded steps ``0..N``."""
    closed = closed_form_iterates(p.cost, p.lr, np.arange(p.iterates.shape[0]))
    return float(np.linalg.norm(p.iterates - closed, axis=-1).max()
                 / np.linalg.norm(p.cost.w_star))


def _fractions(p: _Problem, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n``, ``x = n lr mu_j`` and the measured ``w_j(n)/w*_j``, flattened over steps and the
    components whose ``|w*_j|`` is not tiny."""
    c_star = p.cost.components(p.cost.w_star)
    keep = np.abs(c_star) > 1e-3 * np.linalg.norm(c_star)
    x = steps[:, None] * p.lr * p.cost.mu[keep]
    fraction = p.cost.components(p.iterates[steps])[:, keep] / c_star[keep]
    return np.broadcast_to(steps[:, None], x.shape).ravel(), x.ravel(), fraction.ravel()


def _small_mu_stage(problems: list[_Problem], steps: np.ndarray, limit: float):
    """Error of ``w_j(n) ~ n lr mu_j w*_j``: its log-log slope against ``x = n lr mu_j`` and its
    ratio to ``x^2`` for ``1e-3 <= x <= limit``. Returns the metrics and ``(n, x, fraction)``."""
    n, x, fraction = (np.concatenate(parts) for parts in zip(*(_fractions(p, steps)
                                                              for p in problems)))
    err = x - fraction
    # exact for n = 1; from n >= 10 the error is (n-1)/(2n) x^2 + O(x^3), within 10 % of x^2/2
    small = (x >= 1e-3) & (x <= limit) & (n >= 10)
    ratio = err[small] / x[small] ** 2
    metrics = {
        "small_mu_error_slope": float(np.polyfit(np.log(x[small]), np.log(err[small]), 1)[0]),
        "small_mu_error_over_x2_min": float(ratio.min()),
        "small_mu_error_over_x2_max": float(ratio.max()),
    }
    return metrics, (n, x, fraction)


def _ridge_stage(costs: list[QuadraticCost], x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Largest relative gaps: closed-form ridge vs ``scipy.linalg.solve((H + alpha I), H w*)`` on
    the random problems, and vs scikit-learn ``Ridge`` on the diabetes data. ``Ridge`` minimises
    ``|y - X w|^2 + alpha_sk |w|^2``, i.e. ``2n`` times ``C(w) + alpha/2 |w|^2`` up to a
    constant: alpha_sk = n alpha."""
    solve_gap = 0.0
    for cost in costs:
        for alpha in RIDGE_ALPHAS:
            ref = solve(cost.hessian + alpha * np.eye(cost.dim), cost.hessian @ cost.w_star,
                        assume_a="pos")
            gap = np.linalg.norm(ridge_solution(cost, alpha) - ref) / np.linalg.norm(ref)
            solve_gap = max(solve_gap, float(gap))
    diabetes = least_squares_quadratic(x, y)
    sk_gap = 0.0
    for alpha in RIDGE_ALPHAS:
        coef = Ridge(alpha=alpha * x.shape[0], fit_intercept=False).fit(x, y).coef_
        gap = np.linalg.norm(ridge_solution(diabetes, alpha) - coef) / np.linalg.norm(coef)
        sk_gap = max(sk_gap, float(gap))
    return {"ridge_vs_scipy_max_rel_error": solve_gap, "ridge_vs_sklearn_max_rel_error": sk_gap}


def _fit_steps(n_steps: int, points: int) -> np.ndarray:
    """Distinct log-spaced iteration counts from 1 to ``n_steps``."""
    return np.unique(np.geomspace(1, n_steps, points).round().astype(np.int64))


def _alpha_stage(random: list[_Problem], diabetes: _Problem, steps: np.ndarray,
                 config: EsL2Config):
    """The ridge alpha nearest to ``w(n)`` for each n in ``steps``; ``alpha n lr`` summarised over
    the iterations with ``n lr mu_max <= small_mu_limit`` (median per seed, then median and
    10-90 % band over seeds) and over all n. Returns the metrics and the fitted alphas."""
    alpha = np.stack([nearest_ridge_alpha(p.cost, p.iterates[steps]) for p in random])
    alpha_db = nearest_ridge_alpha(diabetes.cost, diabetes.iterates[steps])
    prod = alpha * steps * np.array([p.lr for p in random])[:, None]
    in_range = steps * config.lr_scale <= config.small_mu_limit  # n lr mu_max small
    med, lo, hi = band(np.median(prod[:, in_range], axis=1))
    all_med, all_lo, all_hi = band(prod.ravel())
    metrics = {
        "alpha_times_n_lr_median": float(med),
        "alpha_times_n_lr_p10": float(lo),
        "alpha_times_n_lr_p90": float(hi),
        "alpha_times_n_lr_diabetes": float(np.median((alpha_db * steps * diabetes.lr)[in_range])),
        "alpha_times_n_lr_all_n_median": float(all_med),
        "alpha_times_n_lr_all_n_p10": float(all_lo),
        "alpha_times_n_lr_all_n_p90": float(all_hi),
        "small_mu_range_iterations": int(in_range.sum()),
    }
    return metrics, alpha, alpha_db


def _divergence_stage(random: list[_Problem], diabetes: _Problem, config: EsL2Config):
    """Measured divergence thresholds against ``2/mu_max``, and two diabetes runs at
    ``(1 -/+ divergence_margin) 2/mu_max``. Returns metrics, the runs' relative errors
    ``(steps + 1, 2)``, their rates and the thresholds (measured, theory) of the random problems."""
    measured = divergence_threshold(np.stack([p.cost.hessian for p in random]),
                                    np.stack([p.cost.w_star for p in random]),
                                    config.divergence_steps, config.divergence_rtol)
    theory = np.array([2.0 / p.cost.mu[-1] for p in random])
    gap = np.abs(measured / theory - 1)
    cost = diabetes.cost
    measured_db = float(divergence_threshold(cost.hessian, cost.w_star, config.divergence_steps,
                                             config.divergence_rtol))
    theory_db = 2.0 / cost.mu[-1]
    lr_pair = theory_db * (1 + config.divergence_margin * np.array([-1.0, 1.0]))
    runs = gradient_descent(cost.hessian, cost.w_star, lr_pair, config.divergence_steps)
    errors = np.linalg.norm(runs - cost.w_star, axis=-1) / np.linalg.norm(cost.w_star)
    metrics = {
        "divergence_threshold_theory_diabetes": float(theory_db),
        "divergence_threshold_measured_diabetes": measured_db,
        "divergence_threshold_rel_gap_diabetes": float(abs(measured_db / theory_db - 1)),
        "divergence_threshold_rel_gap_random_median": float(np.median(gap)),
        "divergence_threshold_rel_gap_random_max": float(gap.max()),
        "run_below_threshold_final_rel_error": float(errors[-1, 0]),
        "run_above_threshold_final_rel_error": float(errors[-1, 1]),
    }
    return metrics, errors, lr_pair, np.stack([measured, theory])


def _plane(config: EsL2Config) -> dict:
    """The 2-D illustration: H = diag(plane_mu_low, 1), gradient descent and the ridge path."""
    cost = QuadraticCost(np.diag([config.plane_mu_low, 1.0]), PLANE_W_STAR)
    lr = config.plane_lr
    slowest = abs(1 - lr * cost.mu).max()
    n_path = max(config.plane_stop, int(np.ceil(np.log(1e-3) / np.log(slowest))))
    path = gradient_descent(cost.hessian, cost.w_star, lr, n_path)[:, 0]
    stopped = path[config.plane_stop]
    fraction = stopped / cost.w_star
    return {
        "cost": cost, "lr": lr, "path": path, "stopped": stopped, "fraction": fraction,
        "ridge_path": ridge_solution(cost, np.concatenate((np.geomspace(1e3, 1e-3, 200), [0.0]))),
        "ridge_at_stop": ridge_solution(cost, np.asarray(1.0 / (config.plane_stop * lr))),
        "fit_alpha": float(nearest_ridge_alpha(cost, stopped[None])[0]),
        # |cosine| between each eigenvector (ascending mu) and its nearest coordinate axis
        "alignment": np.abs(cost.basis).max(axis=0),
        # the coordinate still farthest from its optimum, and the axis of the low-curvature u
        "most_affected": ("w1", "w2")[int(np.argmax(np.abs(1.0 - fraction)))],
        "low_mu_axis": ("w1", "w2")[int(np.argmax(np.abs(cost.basis[:, 0])))],
    }


def run(config: EsL2Config, progress: Progress = no_progress) -> Result:
    """Run every check of the experiment; see the module docstring."""
    start = time.perf_counter()
    progress(0.0, "gradient descent on random and diabetes quadratics")
    random, diabetes, x_db, y_db = _problems(config)
    cf_err = np.array([_closed_form_error(p) for p in random])
    cf_err_db = _closed_form_error(diabetes)
    metrics: dict[str, float] = {
        "closed_form_max_rel_error": float(max(cf_err.max(), cf_err_db)),
        "closed_form_rel_error_median": float(np.median(cf_err)),
        "closed_form_rel_error_diabetes": cf_err_db,
        "diabetes_condition": diabetes.cost.condition,
    }

    progress(0.2, "small-mu approximation; ridge vs SciPy and scikit-learn")
    steps = _fit_steps(config.n_steps, config.fit_points)
    small_mu, (n_all, x_all, frac_all) = _small_mu_stage(random + [diabetes], steps,
                                                         config.small_mu_limit)
    metrics |= small_mu | _ridge_stage([p.cost for p in random], x_db, y_db)

    progress(0.35, "nearest ridge alpha for each n")
    alpha_metrics, alpha, alpha_db = _alpha_stage(random, diabetes, steps, config)
    metrics |= alpha_metrics

    progress(0.45, "divergence threshold by multisection")
    div_metrics, div_err, lr_pair, thresholds = _divergence_stage(random, diabetes, config)
    metrics |= div_metrics

    progress(0.9, "2-D illustration and figures")
    plane = _plane(config)
    metrics |= {
        "plane_w1_fraction_at_stop": float(plane["fraction"][0]),
        "plane_w2_fraction_at_stop": float(plane["fraction"][1]),
        "plane_nearest_alpha_times_n_lr": plane["fit_alpha"] * config.plane_stop * plane["lr"],
    }
    sm_err = x_all - frac_all
    figures = {
        "plane.png": plots.plane_figure(plane["cost"], plane["path"], plane["ridge_path"],
                                        config.plane_stop, plane["ridge_at_stop"], plane["lr"]),
        "alpha_vs_inverse_n_lr.png": plots.alpha_figure(
            # random Hessians have mu_max = 1, so their lr is lr_scale for every seed
            1.0 / (steps * config.lr_scale), alpha, 1.0 / (steps * diabetes.lr), alpha_db,
            small_mu_edge=1.0 / config.small_mu_limit,
            diabetes_edge=diabetes.cost.mu[-1] / config.small_mu_limit,
            title=f"Early stopping after n steps ~ ridge: alpha * n * lr = "
                  f"{metrics['alpha_times_n_lr_median']:.3f} (median) where n lr mu_max is small"),
        "filters.png": plots.filters_figure(x_all, frac_all, x_all[n_all >= 2],
                                            np.abs(sm_err[n_all >= 2])),
        "divergence.png": plots.divergence_figure(
            np.arange(config.divergence_steps + 1), div_err[:, 0], div_err[:, 1], lr_pair[0],
            lr_pair[1], metrics["divergence_threshold_theory_diabetes"],
            metrics["divergence_threshold_measured_diabetes"]),
    }
    captions = {
        "plane.png": f"Gradient descent from 0 and the ridge path on a 2-D quadratic cost: after "
                     f"{config.plane_stop} steps w1 has reached {plane['fraction'][0]:.0%} of "
                     f"its optimum and w2 {plane['fraction'][1]:.0%}: {plane['most_affected']} "
                     f"lags behind; the ridge solution for alpha = 1/(n lr) (square) lies "
                     f"{np.linalg.norm(plane['ridge_at_stop'] - plane['stopped']):.2g} from "
                     f"the stopped iterate (circle), |w*| being "
                     f"{np.linalg.norm(plane['cost'].w_star):.2g}.",
        "alpha_vs_inverse_n_lr.png": f"The ridge alpha nearest to n gradient-descent steps, "
                                     f"against 1/(n lr) (left) and their product alpha n lr "
                                     f"(right): in the shaded range, where n lr mu_max is small, "
                                     f"the product has median "
                                     f"{metrics['alpha_times_n_lr_median']:.3f} (1 on the "
                                     f"dashed line).",
        "filters.png": "Left: the fraction of each eigen-component reached after n steps against "
                       "x = n lr mu, with the early-stopping filter 1 - exp(-x) and ridge's "
                       "x/(1+x); right: the error of the small-mu approximation against x²/2 "
                       f"(largest measured {float(np.max(np.abs(sm_err[n_all >= 2]))):.2g}).",
        "divergence.png": f"Relative error along gradient descent on the diabetes Hessian for "
                          f"learning rates just below ({lr_pair[0]:.5g}) and just above "
                          f"({lr_pair[1]:.5g}) 2/mu_max: the first ends at "
                          f"{metrics['run_below_threshold_final_rel_error']:.2g}, the second at "
                          f"{metrics['run_above_threshold_final_rel_error']:.2g}.",
    }
    arrays = {
        "fit_steps": steps, "alpha_random": alpha, "alpha_diabetes": alpha_db,
        "lr_random": np.array([p.lr for p in random]), "lr_diabetes": np.array(diabetes.lr),
        "closed_form_rel_error_random": cf_err,
        "divergence_threshold_measured_theory_random": thresholds,
        "divergence_rel_error_below_above": div_err,
        "small_mu_n": n_all, "small_mu_x": x_all, "small_mu_fraction": frac_all,
        "plane_gd_path": plane["path"], "plane_ridge_path": plane["ridge_path"],
    }
    notes = [
        f"lr = {config.lr_scale} / mu_max for the closed-form, small-mu and alpha checks.",
        "alpha multiplies |w|^2 / 2 added to C(w) = |y - Xw|^2 / (2n); scikit-learn's Ridge "
        "alpha is n times larger (it penalises the summed, not averaged, squared error).",
        "Divergence threshold measured from gradient-descent runs only (error grows between "
        "N/2 and N steps), by multisection from a Gershgorin / trace bracket.",
        "Diabetes data: scikit-learn's bundled set, columns and target standardized.",
    ]
    progress(1.0, "done")
    return Result("es-l2-equivalence", config, metrics, _answers(config, metrics, plane),
                  figures, arrays, notes, time.perf_counter() - start, captions=captions)


def _answers(config: EsL2Config, m: dict, plane: dict) -> list[Answer]:
    """The course questions answered from the measured metrics."""
    frac1, frac2 = plane["fraction"]
    most, low_mu_axis = plane["most_affected"], plane["low_mu_axis"]
    return [
        Answer(
            "closed_form_max_error",
            "Does w_j(n) = (1 - (1 - lr mu_j)^n) w*_j reproduce the gradient-descent iterates?",
            m["closed_form_max_rel_error"],
            f"Largest |w_GD(n) - w_closed(n)| / |w*| over {config.n_steps} steps, {config.seeds} "
            f"random SPD Hessians (condition {config.condition:g}) and the diabetes Hessian "
            f"(condition {m['diabetes_condition']:.0f}): {m['closed_form_max_rel_error']:.2g} "
            f"(median {m['closed_form_rel_error_median']:.2g}). Each step adds a rounding error "
            "of relative size ~eps = 2.2e-16 and the contraction I - lr H never amplifies it, so "
            f"after {config.n_steps} steps the gap stays below eps x {config.n_steps} = "
            f"{2.2e-16 * config.n_steps:.1g}: the formula is exact up to rounding.",
        ),
        Answer(
            "divergence_threshold",
            "Above which learning rate does gradient descent diverge, measured vs 2/mu_max?",
            m["divergence_threshold_measured_diabetes"],
            f"Diabetes Hessian: 2/mu_max = {m['divergence_threshold_theory_diabetes']:.10g}; "
            "multisection on gradient-descent runs finds "
            f"{m['divergence_threshold_measured_diabetes']:.10g} (relative gap "
            f"{m['divergence_threshold_rel_gap_diabetes']:.1g}); random Hessians: median gap "
            f"{m['divergence_threshold_rel_gap_random_median']:.1g}, worst "
            f"{m['divergence_threshold_rel_gap_random_max']:.1g}. A run "
            f"{config.divergence_margin:.0%} below ends at relative error "
            f"{m['run_below_threshold_final_rel_error']:.2g} after {config.divergence_steps} "
            f"steps, one {config.divergence_margin:.0%} above at "
            f"{m['run_above_threshold_final_rel_error']:.2g}: each step multiplies the top "
            "eigen-component of w - w* by 1 - lr mu_max, whose size crosses 1 at 2/mu_max.",
        ),
        Answer(
            "alpha_times_n_lambda",
            "Which ridge alpha is nearest to the early-stopped w(n)? (alpha * n * lr)",
            m["alpha_times_n_lr_median"],
            f"Over the {m['small_mu_range_iterations']} iterations with n lr mu_max <= "
            f"{config.small_mu_limit:g} (where w_j(n) ~ n lr mu_j w*_j for every j) the fitted "
            f"alpha times n lr has median {m['alpha_times_n_lr_median']:.3f} across seeds "
            f"(10-90 %: {m['alpha_times_n_lr_p10']:.3f}-{m['alpha_times_n_lr_p90']:.3f}; diabetes "
            f"{m['alpha_times_n_lr_diabetes']:.3f}): stopping after n steps is ridge with "
            f"alpha ~ 1/(n lr). Over all n up to {config.n_steps} the product stays of order 1 "
            f"(10-90 %: {m['alpha_times_n_lr_all_n_p10']:.2f}-"
            f"{m['alpha_times_n_lr_all_n_p90']:.2f}) but not exactly 1: the filters "
            "1-(1-lr mu)^n and mu/(mu+alpha) differ in shape once n lr mu_j is not small.",
            low=m["alpha_times_n_lr_p10"], high=m["alpha_times_n_lr_p90"],
        ),
        Answer(
            "early_stopping_mostly_affects",
            "Does early stopping mostly affect w1 or w2 in the 2-D figure?",
            most,
            f"The figure's H = diag({config.plane_mu_low:g}, 1): its eigenvectors are the axes "
            f"(|cosine| with the axes {plane['alignment'][0]:.3f}, {plane['alignment'][1]:.3f}), "
            f"the low-curvature one along {low_mu_axis}. After {config.plane_stop} steps at "
            f"lr = {config.plane_lr:g}, w1 has reached {frac1:.1%} of w1* and w2 {frac2:.1%} of "
            f"w2*, so {most} is the coordinate still far from its optimum. Each eigen-component "
            f"moves at its own rate lr mu_j: the high-curvature one converges in a few steps, the "
            f"low-curvature one ({low_mu_axis}) is held near 0, as ridge shrinks the directions of "
            "small mu (nearest ridge alpha times n lr: "
            f"{m['plane_nearest_alpha_times_n_lr']:.2f}).",
        ),
    ]


EXPERIMENT = Experiment(
    name="es-l2-equivalence",
    description="Early stopping acts like L2: gradient descent vs ridge on quadratic costs.",
    config_class=EsL2Config,
    run=run,
    order=70,
)
