"""The bias-variance decomposition against closed forms, and the bias-variance experiment."""
from __future__ import annotations

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

from _figure_checks import assert_nothing_cut_off
from overfitlab.cli import app
from overfitlab.engine.train import TrainSpec, init_many, make_hyper, seed_keys, train
from overfitlab.experiments._course import predict
from overfitlab.experiments.base import ConfigError
from overfitlab.experiments.bias_variance import EXPERIMENT, BiasVarianceConfig
from overfitlab.theory.bias_variance import decompose
from overfitlab.theory.random_features import fit_output

NOISE = 0.2


# ------------------------------------------------------------------ the decomposition itself
@pytest.mark.parametrize("D,S", [(5, 4), (1, 4), (5, 1), (2, 2)])
def test_components_add_up_to_the_measured_error(D, S):
    rng = np.random.default_rng(0)
    preds = rng.normal(size=(3, D, S, 50)) * rng.uniform(0.1, 2, size=(3, 1, 1, 50))
    truth = rng.normal(size=50)
    bv = decompose(preds, truth, NOISE ** 2)
    direct = NOISE ** 2 + np.mean((preds - truth) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(bv.expected_mse, direct, rtol=1e-13)
    np.testing.assert_allclose(bv.total, direct, rtol=1e-13)
    # What cannot be separated is NaN: one data set has no data variance, one
    # initialisation no initialisation variance.
    assert np.isnan(bv.data_variance).all() == (D == 1)
    assert np.isnan(bv.init_variance).all() == (S == 1)


def test_a_data_set_with_a_diverged_network_is_left_out():
    rng = np.random.default_rng(1)
    preds, truth = rng.normal(size=(4, 3, 20)), np.zeros(20)
    spoiled = preds.copy()
    spoiled[2, 1, 5] = np.nan
    bv, kept = decompose(spoiled, truth, 0.0), decompose(np.delete(preds, 2, axis=0), truth, 0.0)
    for field in ("bias2", "data_variance", "init_variance", "expected_mse"):
        np.testing.assert_allclose(getattr(bv, field), getattr(kept, field), rtol=1e-14)
    assert int(bv.n_data_sets) == 3


def test_estimates_are_unbiased():
    # f_ds(x) = m(x) + a_d(x) + b_ds(x), a ~ N(0, va), b ~ N(0, vb) independent: bias^2 =
    # mean (m - f)^2, data variance va, initialisation variance vb. Averaged over 4000 blocks of
    # D = 3, S = 2 the estimates must match them within 5 standard errors (the plug-in
    # variances would be off by (D-1)/D and (S-1)/S, i.e. 14 and 25 standard errors here).
    rng = np.random.default_rng(2)
    n, blocks, D, S = 8, 4000, 3, 2
    m, truth = rng.normal(size=n), rng.normal(size=n)
    va, vb = 0.3, 0.5
    preds = (m + np.sqrt(va) * rng.normal(size=(blocks, D, 1, n))
             + np.sqrt(vb) * rng.normal(size=(blocks, D, S, n)))
    bv = decompose(preds, truth, 0.0)
    for est, exact in ((bv.bias2, np.mean((m - truth) ** 2)), (bv.data_variance, va),
                       (bv.init_variance, vb)):
        se = est.std(ddof=1) / np.sqrt(blocks)
        assert abs(est.mean() - exact) < 5 * se, (est.mean(), exact, se)


# ------------------------------------------------------------------ closed forms
def _linear_smoother_closed_form(L, f_train, f_grid, noise_var):
    """Predictions g = L y with y = f + eps, Cov(eps) = noise_var I: E[g] = L f, so
    bias^2 = mean_x (L f - f)^2, and Var[g(x)] = noise_var * sum_i L_xi^2."""
    return (np.mean((L @ f_train - f_grid) ** 2),
            noise_var * np.mean(np.sum(L ** 2, axis=1)))


def _check_against_closed_form(preds, L, f_train, f_grid):
    """Data variance and bias^2 of ``preds`` (D, S, G) against the smoother L's closed form,
    within 5 standard errors of their Monte-Carlo estimates."""
    bias2, var = _linear_smoother_closed_form(L, f_train, f_grid, NOISE ** 2)
    D = preds.shape[0]
    bv = decompose(preds, f_grid, NOISE ** 2)
    # Sample variance of D Gaussian draws: relative standard error sqrt(2 / (D - 1)) (for the
    # grid average at most that of one point).
    assert abs(bv.data_variance - var) < 5 * np.sqrt(2 / (D - 1)) * var
    # bias^2 estimate: (fbar - f)^2 - var/D has standard error about
    # sqrt(mean_x 4 b(x)^2 v(x) / D) + v/D for bias b(x) and variance v(x) per point.
    b = L @ f_train - f_grid
    v = NOISE ** 2 * np.sum(L ** 2, axis=1)
    se = np.sqrt(np.mean(4 * b ** 2 * v) / D) + np.mean(v) / D
    assert abs(bv.bias2 - bias2) < 5 * se
    return bv


def test_ridge_on_fixed_features_matches_its_closed_form():
    rng = np.random.default_rng(3)
    n, p, D, alpha = 10, 6, 4000, 0.5
    x, grid = np.linspace(-1, 1, n), np.linspace(-1, 1, 101)
    w, b = rng.normal(0, 2, p), rng.normal(0, 1, p)
    Phi, Psi = np.tanh(np.outer(x, w) + b), np.tanh(np.outer(grid, w) + b)
    y = x ** 2 + NOISE * rng.normal(size=(D, n))
    a = fit_output(np.broadcast_to(Phi, (D, n, p)), y, (alpha,))[:, 0]  # (D, p)
    preds = np.repeat((a @ Psi.T)[:, None], 2, axis=1)  # a deterministic fit: S = 2 equal copies
    L = Psi @ np.linalg.solve(Phi.T @ Phi + alpha * np.eye(p), Phi.T)
    bv = _check_against_closed_form(preds, L, x ** 2, grid ** 2)
    assert bv.init_variance == 0.0  # identical "initialisations" of a closed-form fit


def test_identity_activation_trains_to_least_squares_and_matches_its_closed_form():
    # A 1-4-1 network with the identity activation is the linear function a x + c: trained
    # without penalty it converges to the least-squares line of its own data set. The engine
    # trains D x S of them at once, each on its own noise draw. (Full-batch SGD with momentum
    # converges to float32 precision here; Adam at a constant rate keeps jittering by ~1e-3
    # along the rescaling symmetry of the two layers.)
    rng = np.random.default_rng(4)
    n, D, S = 10, 150, 2
    x, grid = np.linspace(-1, 1, n), np.linspace(-1, 1, 101)
    y = x ** 2 + NOISE * rng.normal(size=(D, n))
    spec = TrainSpec((1, 4, 1), "identity", "sgd", 3000, tol=None, record_loss_curve=False)
    params = init_many(jax.random.PRNGKey(0), D * S, spec.layer_sizes, "identity")
    hyper = jax.tree_util.tree_map(lambda a: np.broadcast_to(a, (D * S,)).copy(),
                                   make_hyper(0.0, learning_rate=0.05))
    Y = np.repeat(y, S, axis=0)[..., None].astype(np.float32)
    out = train(spec, params, seed_keys(0, D * S), hyper, x[:, None].astype(np.float32), Y)
    preds = predict(out.params, grid[:, None], "identity").reshape(D, S, -1)
    Phi, Psi = np.stack([np.ones(n), x], 1), np.stack([np.ones_like(grid), grid], 1)
    L = Psi @ np.linalg.solve(Phi.T @ Phi, Phi.T)
    np.testing.assert_allclose(preds, np.repeat((y @ L.T)[:, None], S, axis=1), atol=1e-5)
    bv = _check_against_closed_form(preds, L, x ** 2, grid ** 2)
    assert bv.init_variance < 1e-7  # converged: the initialisation no longer matters


# ------------------------------------------------------------------ the experiment
SMALL = {"max_iter": 1000, "checkpoints": (200, 500)}


@pytest.fixture(scope="module")
def quick():
    return EXPERIMENT.run(BiasVarianceConfig.preset("quick", **SMALL))


def test_quick_run_answers(quick):
    ids = [a.id for a in quick.answers]
    assert ids == ["noise_floor", "decomposition_residual", "ensemble_removes_init_variance_only",
                   "l2_trades_variance_for_bias", "early_stopping_controls_variance",
                   "more_data_reduces_variance"]
    assert quick.answer("noise_floor").value == pytest.approx(0.04)
    assert quick.answer("decomposition_residual").value < 1e-12
    stop = quick.answer("early_stopping_controls_variance")
    assert isinstance(stop.value, int) and stop.value in (200, 500, 1000)
    assert isinstance(stop.low, int) and stop.low <= stop.high
    l2 = quick.answer("l2_trades_variance_for_bias")
    assert l2.value in quick.config.alpha_values() and l2.low <= l2.value <= l2.high
    # The L2 sweep reaches alpha = 10, where the network is nearly a constant: bias^2 near
    # Var(x^2 on [-1, 1]) = 4/45, and less variance than without penalty.
    alpha_bias = quick.arrays["alpha_bias2"]
    assert np.median(alpha_bias[:, -1]) > 0.05 > np.median(alpha_bias[:, 0])
    variance = quick.arrays["alpha_data_variance"] + quick.arrays["alpha_init_variance"]
    assert np.all(variance[:, -1] < variance[:, 0])
    more = quick.answer("more_data_reduces_variance")
    assert 0 < more.value < 1 and "n = 10 to 40" in more.explanation
    share = quick.answer("ensemble_removes_init_variance_only")
    assert 0 < share.low <= share.value <= share.high < 1
    assert quick.metrics["diverged"] == 0 and isinstance(quick.metrics["n_networks"], int)
    assert set(quick.figures) == {"decomposition.png", "ensembles.png", "fits.png"}
    assert_nothing_cut_off(quick.figures)


def test_ensembles_change_only_the_initialisation_variance(quick):
    # Ensembles of K are groups of the same M members: the grand mean and the per-data-set means
    # are the same, so bias^2 and data variance differ only through the initialisation-variance
    # corrections, |change| <= (iv_1 + K iv_K) / M exactly (see theory.bias_variance).
    M = quick.config.members
    sizes = quick.arrays["ensemble_values"]
    iv = quick.arrays["ensemble_init_variance"]
    for name in ("ensemble_data_variance", "ensemble_bias2"):
        table = quick.arrays[name]
        for j, k in enumerate(sizes):
            bound = (iv[:, 0] + k * iv[:, j]) / M
            assert np.all(np.abs(table[:, j] - table[:, 0]) <= bound + 1e-12), name
    # Averaging K independent initialisations divides their variance by K: median over
    # repetitions within a factor 3 of iv_1 / K (3 repetitions of 4 data sets; loose on purpose).
    ratio = np.median(iv[:, -1]) * sizes[-1] / np.median(iv[:, 0])
    assert 1 / 3 < ratio < 3


def test_config_validation_names_the_field():
    for bad, field in (({"data_sets": 1}, "data_sets"), ({"inits": 1}, "inits"),
                       ({"widths": (0, 3)}, "widths"), ({"checkpoints": (7, 13)}, "checkpoints"),
                       ({"dropout_rates": (1.0,)}, "dropout_rates"),
                       ({"members": 3}, "members"), ({"seeds": 1}, "seeds")):
        with pytest.raises(ConfigError, match=field):
            BiasVarianceConfig.preset("quick", **bad)
    assert BiasVarianceConfig.preset("quick").ensemble_sizes() == [1, 2, 3]
    assert BiasVarianceConfig().ensemble_sizes() == [1, 2, 4]


def test_cli_rejects_bad_settings_in_one_line(tmp_path):
    result = CliRunner().invoke(app, ["run", "bias-variance", "--quick", "--set", "data_sets=1",
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "data_sets" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
