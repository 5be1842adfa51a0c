"""Tests of the chain network's hand-written backpropagation, the sigmoid bound and the
vanishing-gradient experiment."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _figure_checks import assert_nothing_cut_off
from overfitlab.experiments.base import ConfigError
from overfitlab.experiments.vanishing_gradient import (
    EXPERIMENT,
    VanishingGradientConfig,
    _init_std,
    _max_sigmoid_derivative,
    _safe_norm,
)
from overfitlab.theory.chain import (
    ACTIVATIONS,
    backprop,
    cost,
    gradient_bound,
    init_chain,
    switch_activation,
    train,
)

X, Y = 0.5, float(np.sin(0.5))
_backprop = jax.jit(backprop, static_argnums=4)


def _params(seed: int, length: int, low: float = 0.0, high: float = 1.0):
    rng = np.random.default_rng([seed, length])
    w, b = rng.uniform(low, high, size=(2, length - 1)).astype(np.float32)
    return jnp.asarray(w), jnp.asarray(b)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("length", [3, 10, 20])
def test_backprop_matches_autodiff_float32(name, length):
    # Both compute the same products in float32, possibly in another order: a few ulps per
    # layer, so rtol 1e-5 holds up to L = 20. Positive draws keep every ReLU unit active and
    # the draws in [-1, 1) exercise negative pre-activations (dead ReLU units give exact zeros).
    act = ACTIVATIONS[name]
    for low in (0.0, -1.0):
        w, b = _params(length, length, low=low)
        g = _backprop(w, b, X, Y, act)
        gw, gb = jax.grad(cost, argnums=(0, 1))(w, b, X, Y, act)
        np.testing.assert_allclose(g.dw, gw, rtol=1e-5, atol=0)
        np.testing.assert_allclose(g.db, gb, rtol=1e-5, atol=0)
        np.testing.assert_allclose(g.cost, cost(w, b, X, Y, act), rtol=1e-6)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_backprop_matches_central_differences_float64(name):
    # Central differences with h = 1e-6: truncation ~ h^2 |C'''| ~ 1e-12, round-off
    # ~ eps C / h ~ 1e-12; the smallest gradient (layer 1, L = 6) is ~ 1e-6, so rtol 1e-5
    # with atol 1e-10 leaves a wide margin while still resolving every component.
    act = ACTIVATIONS[name]
    length, h = 6, 1e-6
    rng = np.random.default_rng(7)
    with jax.enable_x64(True):
        w = jnp.asarray(rng.uniform(-1, 1, length - 1))
        b = jnp.asarray(rng.uniform(-1, 1, length - 1))
        g = backprop(w, b, X, Y, act)
        assert g.dw.dtype == jnp.float64
        c = jax.jit(cost, static_argnums=4)
        for params, analytic, which in ((w, g.dw, 0), (b, g.db, 1)):
            numeric = np.empty(length - 1)
            for i in range(length - 1):
                e = jnp.zeros(length - 1).at[i].set(h)
                args_p = (params + e, b) if which == 0 else (w, params + e)
                args_m = (params - e, b) if which == 0 else (w, params - e)
                numeric[i] = (c(*args_p, X, Y, act) - c(*args_m, X, Y, act)) / (2 * h)
            np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-10)


def test_output_error_keeps_sign_and_derivative():
    # The course's sqrt(2C) = |a_out - y| would be positive whatever the side of the target
    # and lack sigma'(z_out) <= 1/4; the correct error is (a_out - y) sigma'(z_out).
    act = ACTIVATIONS["sigmoid"]
    w, b = _params(0, 4)
    for y in (0.0, 1.0):  # the output lies in (0, 1): above 0 and below 1
        g = backprop(w, b, X, y, act)
        course = np.sqrt(2 * float(g.cost))
        assert np.sign(g.db[-1]) == np.sign(0.5 - y)
        assert abs(float(g.db[-1])) <= course / 4


def test_gradient_descent_lowers_the_cost():
    # A wrong sign (the course's bug whenever a_out < y) would raise the cost.
    for y in (0.05, 0.999):
        for name in ("sigmoid", "tanh"):
            w, b = _params(1, 5)
            hist = train(w, b, X, y, ACTIVATIONS[name], 0.1, 200)
            assert np.all(np.diff(np.asarray(hist.cost)) <= 1e-7)
            assert hist.cost[-1] < hist.cost[0]


@settings(max_examples=40, deadline=None)
@given(
    length=st.sampled_from([3, 5, 10, 20]),
    seed=st.integers(0, 2**31 - 1),
    x=st.floats(-1, 1),
    y=st.floats(-2, 2),
    bias_scale=st.floats(0, 4),
)
def test_sigmoid_bound_holds_on_every_layer(length, seed, x, y, bias_scale):
    # Premise of the bound: every |w| <= 1 and |x| <= 1. Weights drawn in [-1, 1], biases in
    # [-s, s]. Float32 rounding of a product of <= 2L factors stays far below rtol 1e-5.
    rng = np.random.default_rng(seed)
    w = jnp.asarray(rng.uniform(-1, 1, length - 1).astype(np.float32))
    b = jnp.asarray((bias_scale * rng.uniform(-1, 1, length - 1)).astype(np.float32))
    g = _backprop(w, b, x, y, ACTIVATIONS["sigmoid"])
    dw = np.abs(np.asarray(g.dw, dtype=float))
    bound = gradient_bound(g.db[-1], length)
    assert np.all(dw <= bound * (1 + 1e-5) + 1e-37)
    # the chained form: (1/4)^(L-l) |a_out - y|, with |a_out - y| = sqrt(2 C)
    layers = np.arange(1, length)
    loose = 0.25 ** (length - layers) * np.sqrt(2 * float(g.cost))
    assert np.all(dw <= loose * (1 + 1e-5) + 1e-37)


def test_max_sigmoid_derivative_is_a_quarter_at_zero():
    d_max, z_at = _max_sigmoid_derivative()
    assert d_max == 0.25 and z_at == 0.0
    dphi = ACTIVATIONS["sigmoid"].dphi
    z = jnp.linspace(-8.0, 8.0, 16_001)
    values = np.asarray(dphi(z))
    assert values.max() <= 0.25 and abs(float(z[np.argmax(values)])) < 1e-3
    assert float(dphi(jnp.float32(0.0))) == 0.25
    assert float(jax.grad(jax.nn.sigmoid)(0.0)) == 0.25  # independent: autodiff of sigmoid
    assert float(dphi(jnp.float32(0.1))) < 0.25


def test_relu_chain_with_positive_preactivations_has_no_decay():
    relu, sigmoid = ACTIVATIONS["relu"], ACTIVATIONS["sigmoid"]
    length = 12
    ones = jnp.ones(length - 1)
    _, b = _params(3, length, low=0.1)  # positive biases, unit weights: all z_l > 0
    g = _backprop(ones, b, X, Y, relu)
    db = np.asarray(g.db)
    assert np.all(db != 0)
    np.testing.assert_allclose(db, db[-1], rtol=1e-6)  # the same error at every layer
    # with weights in (0, 1] the per-layer factor is exactly w_(l+1): nothing from relu'
    w, _ = _params(4, length, low=0.1)
    g = _backprop(w, b, X, Y, relu)
    np.testing.assert_allclose(g.db[:-1] / g.db[1:], w[1:], rtol=1e-6)
    # the sigmoid, same unit weights, decays by more than 4 per layer
    s = np.abs(np.asarray(_backprop(ones, b, X, Y, sigmoid).db))
    assert np.all(s[:-1] / s[1:] <= 0.25)


def test_switch_activation_matches_static_one():
    w, b = _params(5, 6, low=-1.0)
    for i, name in enumerate(("sigmoid", "tanh", "relu")):
        act = switch_activation(("sigmoid", "tanh", "relu"), jnp.int32(i))
        np.testing.assert_array_equal(_backprop(w, b, X, Y, ACTIVATIONS[name]).dw,
                                      backprop(w, b, X, Y, act).dw)


def test_init_chain_and_mlp_scales():
    w, b = init_chain(np.random.default_rng(0), 7, seeds=50)
    assert w.shape == b.shape == (50, 6) and w.dtype == jnp.float32
    assert float(w.min()) >= 0 and float(w.max()) < 1
    stds = _init_std(depth=3, width=64)
    np.testing.assert_allclose(stds[:, 0], [1.0, np.sqrt(1 / 64), np.sqrt(2 / 64)])
    np.testing.assert_allclose(stds[1, -1], np.sqrt(2 / 65))  # Glorot, output fan_out = 1
    g = np.random.default_rng(1).standard_normal((8, 8)).astype(np.float32)
    np.testing.assert_allclose(_safe_norm(jnp.asarray(g)), np.linalg.norm(g), rtol=1e-6)
    assert np.isfinite(float(_safe_norm(jnp.asarray(g) * 1e30)))


def test_config_validation():
    with pytest.raises(ConfigError, match="lengths"):
        VanishingGradientConfig(lengths=(5, 20))
    with pytest.raises(ConfigError, match="x="):
        VanishingGradientConfig(x=1.5)
    assert VanishingGradientConfig.preset("quick").epochs == 100
    assert VanishingGradientConfig.parse_assignments(["lengths=4,10"]) == {"lengths": (4, 10)}


def test_quick_run_end_to_end():
    config = VanishingGradientConfig.preset("quick", seeds=6)
    result = EXPERIMENT.run(config)
    answers = {a.id: a for a in result.answers}
    assert set(answers) == {
        "max_sigmoid_derivative", "gradient_decay_per_layer", "relu_no_vanishing",
        "first_to_last_gradient_ratio_sigmoid_L10", "first_to_last_gradient_ratio_relu_L10",
    }
    assert answers["max_sigmoid_derivative"].value == 0.25
    decay = answers["gradient_decay_per_layer"]
    assert 0 < decay.value < 0.25 and decay.low <= decay.value <= decay.high
    sig = answers["first_to_last_gradient_ratio_sigmoid_L10"].value
    relu = answers["first_to_last_gradient_ratio_relu_L10"].value
    assert 0 < sig < 1e-3 * relu  # sigmoid: ~0.1^8; ReLU: product of 8 weights in [0, 1)
    assert answers["relu_no_vanishing"].value > decay.value
    assert result.metrics["relu_L10_activation_factor"] == pytest.approx(1.0, rel=1e-6)
    assert result.metrics["sigmoid_bound_violations"] == 0
    assert result.metrics["sigmoid_bound_checks"] > 0
    assert all(isinstance(v, (int, float)) and np.isfinite(v) for v in result.metrics.values())
    assert set(result.figures) == {"chain_gradients.png", "chain_profile.png", "mlp_init.png"}
    assert_nothing_cut_off(result.figures)
    assert result.arrays["grad_w_sigmoid_L20"].shape == (6, 100, 19)
    for a in result.answers:
        assert a.explanation and a.question
