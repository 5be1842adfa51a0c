import warnings

import numpy as np
import pytest

from overfitlab.data.synthetic import noisy_function


def test_course_protocol_grid_and_noise():
    d = noisy_function(n_train=10, n_test=100, noise=0.2, seed=3)
    np.testing.assert_allclose(d.X_train[:, 0], np.linspace(-1, 1, 10), rtol=1e-6)
    assert d.X_test.shape == (100, 1) and d.y_test.shape == (100,)
    assert d.bayes_mse == pytest.approx(0.04)


def test_noise_statistics_large_sample():
    """Residuals y - f(x) have mean 0 and sd 0.2 (5 standard errors on 100k points)."""
    d = noisy_function(n_train=100_000, n_test=10, noise=0.2, seed=1, dtype=np.float64)
    r = d.y_train - d.truth(d.X_train)
    assert abs(r.mean()) < 5 * 0.2 / np.sqrt(r.size)
    assert abs(r.std() - 0.2) < 5 * 0.2 / np.sqrt(2 * r.size)


def test_seeded_and_configurable():
    a, b = noisy_function(seed=7), noisy_function(seed=7)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.y_train, noisy_function(seed=8).y_train)
    s = noisy_function(target="sin", noise=0.0)
    np.testing.assert_allclose(s.y_train, np.sin(np.pi * s.X_train[:, 0]), atol=1e-6)


@pytest.mark.parametrize("kw", [dict(n_train=0), dict(noise=-1), dict(target="nope")])
def test_bad_arguments(kw):
    with pytest.raises(ValueError):
        noisy_function(**kw)


def test_band_equals_nanpercentile():
    from overfitlab.experiments.base import band

    rng = np.random.default_rng(0)
    v = rng.normal(size=(17, 40))
    v[rng.random(v.shape) < 0.2] = np.nan
    v[:, 3] = np.nan
    med, lo, hi = band(v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-NaN column
        ref = np.nanpercentile(v, [50, 10, 90], axis=0)
    np.testing.assert_allclose(np.stack([med, lo, hi]), ref, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(band(v.T, axis=1)[0], med, equal_nan=True)
