"""Random-features regression against NumPy, and the double-descent experiment."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from _figure_checks import assert_nothing_cut_off
from overfitlab.experiments.base import ConfigError
from overfitlab.experiments.double_descent import (COMPILE_S, EXPERIMENT, PEAK_FACTOR,
                                                   DoubleDescentConfig, buckets, peak)
from overfitlab.theory.random_features import draw_features, features, fit_output, rcond

EPS = np.finfo(np.float64).eps


def _problem(n=20, seeds=30, p=20, seed=0):
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1, n)
    y = x ** 2 + 0.2 * rng.normal(size=(seeds, n))
    w, b = draw_features(rng, seeds, p, (n - 1) / 2)
    return features(x, w, b), y


@pytest.mark.parametrize("p", [5, 19, 20, 21, 40, 400])
def test_minimum_norm_fit_equals_numpy_pinv(p):
    Phi, y = _problem(p=p)
    a = fit_output(Phi, y)[:, 0]
    ref = np.stack([np.linalg.pinv(P, rcond=rcond(*P.shape)) @ t for P, t in zip(Phi, y)])
    err = np.linalg.norm(a - ref, axis=1) / np.linalg.norm(ref, axis=1)
    assert err.max() < 1e-6


def test_ridge_fit_solves_the_normal_equations():
    Phi, y = _problem(p=30, seeds=5)
    alphas = (1e-4, 1e-1, 10.0)
    a = fit_output(Phi, y, alphas)
    for k, alpha in enumerate(alphas):
        for P, t, got in zip(Phi, y, a[:, k]):
            ref = np.linalg.solve(P.T @ P + alpha * np.eye(P.shape[1]), P.T @ t)
            np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("p", [20, 21, 40, 400])
def test_interpolates_to_float_precision_from_p_equal_n(p):
    # For p >= n (full row rank) the fit is exact up to rounding: the residual of an SVD solve is
    # at most a modest multiple of eps * cond(Phi) * |y| (measured: below 0.3).
    Phi, y = _problem(p=p, seeds=50)
    a = fit_output(Phi, y)[:, 0]
    residual = np.linalg.norm(np.einsum("snp,sp->sn", Phi, a) - y, axis=1)
    s = np.linalg.svd(Phi, compute_uv=False)
    cond = s[:, 0] / s[:, -1]  # min(n, p) = n singular values
    assert np.all(residual <= 10 * EPS * cond * np.linalg.norm(y, axis=1))


def test_peak_detection():
    assert peak(np.array([3.0, 2.0, 1.0, 5.0, 1.5, 1.2]))[0] == 3
    idx, height = peak(np.array([3.0, 2.0, 1.0, 5.0, 1.5, 1.2]))
    assert height == pytest.approx(min(5.0 / 1.0, 5.0 / 1.2))
    assert peak(np.array([3.0, 2.0, 1.0, 1.1, 1.2]))[1] < 1  # a U curve has no peak



def test_buckets_minimise_the_cost_model():
    widths = [40, 1, 2, 5, 200, 7, 3]
    assert buckets(widths, unit_cost=0.0) == [[1, 2, 3, 5, 7, 40, 200]]  # padding is free
    assert buckets(widths, unit_cost=1e3) == [[w] for w in sorted(widths)]  # padding is dear
    w = sorted(widths)
    cost = lambda groups, u: sum(COMPILE_S + u * len(g) * g[-1] for g in groups)  # noqa: E731
    for u in (1e-3, 1e-2, 1e-1):
        every = [[w[a:b] for a, b in zip((0,) + cuts, cuts + (len(w),))]
                 for k in range(len(w)) for cuts in itertools.combinations(range(1, len(w)), k)]
        assert cost(buckets(widths, u), u) == pytest.approx(min(cost(g, u) for g in every))


@pytest.fixture(scope="module")
def quick():
    return EXPERIMENT.run(DoubleDescentConfig.preset("quick", max_iter=1000,
                                                     trained_widths=(2, 7, 20, 60)))


def test_seeded_quick_run_peaks_at_the_threshold(quick):
    n = quick.config.n_train
    threshold = quick.answer("interpolation_threshold")
    # Seed 0: the median curve peaks at p = 21 for n = 20 and at 40 for n = 40 (each seed's own
    # peak lies within 19-22); the peak sits at the threshold, within 10 % of n.
    assert isinstance(threshold.value, int) and abs(threshold.value - n) <= 0.1 * n
    assert threshold.low <= threshold.value <= threshold.high
    assert abs(quick.metrics["n=40_peak_size"] - 40) <= 4
    assert quick.metrics["peak_height"] > 10 * PEAK_FACTOR
    peak_mse = quick.answer("peak_test_mse")
    far = quick.answer("test_mse_far_overparameterized")
    assert peak_mse.value > 10 * far.value and 0.04 < far.value < 0.2


def test_train_error_is_zero_from_the_threshold_on(quick):
    n = quick.config.n_train
    sizes, train = quick.arrays[f"n{n}_sizes"], quick.arrays[f"n{n}_train_mse"][:, 0]
    # Every p >= n interpolates to rounding (median over seeds; a seed whose feature matrix has
    # a condition number near 1/eps can be left with a residual), p < n leaves noise unfitted.
    assert np.all(np.median(train[:, sizes >= n], axis=0) < 1e-20)
    assert np.all(np.median(train[:, sizes < 0.8 * n], axis=0) > 1e-3)


def test_ridge_removes_the_peak_and_the_trained_network_is_reported(quick):
    l2 = quick.answer("l2_removes_peak")
    assert l2.value in quick.config.alphas
    trained = quick.answer("trained_network_shows_peak")
    shows = quick.metrics["trained_peak_height"] >= PEAK_FACTOR
    assert trained.value == ("yes" if shows else "no")
    assert "train MSE" in trained.explanation
    assert quick.arrays["trained_test_mse"].shape == (2, 4)
    assert set(quick.figures) == {"double_descent.png", "shift.png", "fits.png"}
    assert_nothing_cut_off(quick.figures)


def test_config_validation_names_the_field():
    for bad, field in (({"alphas": (0.0,)}, "alphas"), ({"trained_seeds": 50}, "trained_seeds"),
                       ({"sharpness": 0}, "sharpness"), ({"n_values": (1,)}, "n_values"),
                       ({"max_ratio": 1}, "max_ratio")):
        with pytest.raises(ConfigError, match=field):
            DoubleDescentConfig.preset("quick", **bad)
