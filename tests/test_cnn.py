"""CNN engine and experiment: layers against SciPy / lax references, parameter counts against
closed forms, gradients against finite differences, an end-to-end quick run, reproducibility."""
from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree
from scipy.signal import correlate2d

from _figure_checks import assert_nothing_cut_off
from overfitlab.engine import cnn
from overfitlab.engine.cnn_train import TrainSettings, cross_entropy, fit, random_shift
from overfitlab.experiments.base import ConfigError
from overfitlab.experiments.cnn import (EXPERIMENT, CNNConfig, _most_frequent_confusion,
                                       holdout_split, load_data)


def _conv_params(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out + c_out


def _dense_params(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


# ---------------------------------------------------------------- layers

@pytest.mark.parametrize("padding,kernel", [("valid", 3), ("same", 3), ("valid", 5), ("same", 5)])
def test_conv_matches_scipy_correlate2d(padding, kernel):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 6, 3)).astype(np.float32)
    w = rng.normal(size=(kernel, kernel, 3, 4)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    got = np.asarray(cnn.conv2d(jnp.asarray(x), jnp.asarray(w), jnp.asarray(b), padding))
    want = np.stack([
        np.stack([sum(correlate2d(x[n, :, :, c].astype(float), w[:, :, c, o], mode=padding)
                      for c in range(3)) + b[o] for o in range(4)], axis=-1)
        for n in range(2)])
    assert got.shape == want.shape
    # float32 sums of <= 75 products of O(1) numbers: error ~ 75 * 6e-8 * |terms| << 1e-4
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_conv_valid_matches_explicit_loop():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 4, 5, 2)).astype(np.float32)
    w = rng.normal(size=(2, 3, 2, 3)).astype(np.float32)
    got = np.asarray(cnn.conv2d(jnp.asarray(x), jnp.asarray(w), jnp.zeros(3), "valid"))
    want = np.zeros((1, 3, 3, 3))
    for i, j, o in itertools.product(range(3), range(3), range(3)):
        want[0, i, j, o] = np.sum(x[0, i:i + 2, j:j + 3, :] * w[:, :, :, o])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 8, 8, 3), (1, 7, 9, 2), (3, 5, 4, 1)])
def test_pools_match_reduce_window(shape):
    x = jax.random.normal(jax.random.PRNGKey(0), shape)
    window = (1, 2, 2, 1)
    ref_max = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, window, "VALID")
    ref_sum = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, window, "VALID")
    np.testing.assert_array_equal(cnn.max_pool(x, 2), ref_max)  # max is exact
    np.testing.assert_allclose(cnn.avg_pool(x, 2), ref_sum / 4, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape,size", [((2, 8, 8, 3), 2), ((1, 7, 9, 2), 2), ((2, 9, 7, 1), 3)])
def test_max_pool_gradient_matches_reduce_window(shape, size):
    """Our custom backward pass against XLA's select-and-scatter (the gradient of
    reduce_window), compiled: each window's upstream gradient lands on its maximum, and cropped
    rows and columns get none."""
    x = jax.random.normal(jax.random.PRNGKey(0), shape)
    g = jax.random.normal(jax.random.PRNGKey(1), cnn.max_pool(x, size).shape)
    window = (1, size, size, 1)
    ref = jax.jit(jax.vjp(lambda a: jax.lax.reduce_window(a, -jnp.inf, jax.lax.max, window,
                                                          window, "VALID"), x)[1])(g)[0]
    ours = jax.jit(jax.vjp(lambda a: cnn.max_pool(a, size), x)[1])(g)[0]
    np.testing.assert_array_equal(ours, ref)
    assert np.count_nonzero(ours) == g.size  # one winner per window (no ties in random data)


def test_max_pool_ties_go_to_the_first_maximum_and_nan_propagates():
    """A window of equal entries sends its gradient to its first entry (row-major), as argmax
    would; a NaN input makes its window's output NaN in training too (divergence shows)."""
    x = jnp.zeros((1, 4, 4, 1)).at[0, 2, 3, 0].set(jnp.nan)
    out, pullback = jax.vjp(lambda b: cnn.max_pool(b, 2), x)
    assert np.isnan(out[0, 1, 1, 0]) and np.isfinite(np.ravel(out)[:3]).all()
    dx = np.asarray(pullback(jnp.ones((1, 2, 2, 1)))[0])[0, :, :, 0]
    first = np.zeros((4, 4))
    first[::2, ::2] = 1  # the NaN never wins a comparison: its window's first entry does
    np.testing.assert_array_equal(dx, first)


def test_pool_too_small_map_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot pool a 1x1 map"):
        cnn.max_pool(jnp.ones((1, 1, 1, 1)), 2)


def test_dropout_keeps_expectation_and_drops_at_rate():
    x = jnp.ones((200_000,))
    y = np.asarray(cnn.dropout(x, 0.3, jax.random.PRNGKey(0), train=True))
    dropped = np.mean(y == 0)
    # binomial: sd of the dropped fraction = sqrt(0.3 * 0.7 / n) ~ 1e-3; allow 5 sd
    assert abs(dropped - 0.3) < 5e-3
    np.testing.assert_allclose(y[y > 0], 1 / 0.7, rtol=1e-6)
    np.testing.assert_array_equal(cnn.dropout(x, 0.3, None, train=False), x)


def test_random_shift_is_a_translation_within_bounds():
    x = jax.random.normal(jax.random.PRNGKey(0), (6, 5, 5, 1))
    shift = 1
    y = np.asarray(jax.jit(random_shift, static_argnums=1)(x, shift, jax.random.PRNGKey(3)))
    padded = np.pad(np.asarray(x), ((0, 0), (shift, shift), (shift, shift), (0, 0)), mode="edge")
    offsets = list(itertools.product(range(2 * shift + 1), repeat=2))
    for n in range(len(x)):
        assert any(np.array_equal(y[n], padded[n, i:i + 5, j:j + 5]) for i, j in offsets)
    assert not all(np.array_equal(y[n], x[n]) for n in range(len(x)))


def test_batch_norm_normalises_each_channel_in_training():
    """Training mode: per channel, the output has mean beta and variance gamma^2 var/(var+eps)."""
    layer = cnn.BatchNorm(epsilon=1e-5)
    x = 3.0 + 2.0 * jax.random.normal(jax.random.PRNGKey(0), (16, 5, 5, 3))
    p = {"scale": jnp.array([1.0, 2.0, 0.5]), "bias": jnp.array([0.0, -1.0, 4.0]),
         "mean": jnp.zeros(3), "var": jnp.ones(3)}
    y = np.asarray(cnn.apply_layer(layer, p, x, train=True), np.float64)
    var = np.asarray(x, np.float64).reshape(-1, 3).var(axis=0)
    np.testing.assert_allclose(y.reshape(-1, 3).mean(axis=0), p["bias"], atol=1e-5)
    np.testing.assert_allclose(y.reshape(-1, 3).var(axis=0),
                               np.asarray(p["scale"]) ** 2 * var / (var + 1e-5), rtol=1e-4)
    # evaluation mode uses the running statistics instead: here mean 0 and variance 1
    eval_y = np.asarray(cnn.apply_layer(layer, p, x))
    np.testing.assert_allclose(eval_y, (np.asarray(x) / np.sqrt(1 + 1e-5)) * np.asarray(p["scale"])
                               + np.asarray(p["bias"]), rtol=1e-5, atol=1e-5)


def test_running_statistics_follow_the_momentum_rule():
    """r <- m r + (1 - m) r_B after each training step; other layers are left untouched."""
    model = (cnn.Conv(4, 3, "same"), cnn.BatchNorm(momentum=0.8), cnn.Activation("relu"))
    params = cnn.init(model, jax.random.PRNGKey(0), (6, 6, 2))
    x = jax.random.normal(jax.random.PRNGKey(1), (8, 6, 6, 2)) + 1.5
    _, moments = cnn.apply_train(model, params, x, None)
    updated = cnn.update_running_stats(model, params, moments)
    h = np.asarray(cnn.conv2d(x, params[0]["w"], params[0]["b"], "same"), np.float64)
    batch_mean, batch_var = h.reshape(-1, 4).mean(axis=0), h.reshape(-1, 4).var(axis=0)
    np.testing.assert_allclose(updated[1]["mean"], 0.2 * batch_mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(updated[1]["var"], 0.8 + 0.2 * batch_var, rtol=1e-4)
    assert updated[0] is params[0] and moments[0] is None
    # running statistics are state, not parameters: 2 C trainable scalars per BatchNorm
    assert cnn.count_parameters(params) == cnn.n_parameters(model, (6, 6, 2)) == \
        _conv_params(3, 2, 4) + 2 * 4


# ---------------------------------------------------------------- architectures

def test_simple_convnet_parameter_count_on_mnist_is_34826():
    model = cnn.build("simple", 10, (28, 28, 1))
    params = cnn.init(model, jax.random.PRNGKey(0), (28, 28, 1))
    # 28 -> conv3 26 -> pool 13 -> conv3 11 -> pool 5 (floor): 5 * 5 * 64 features
    closed = _conv_params(3, 1, 32) + _conv_params(3, 32, 64) + _dense_params(5 * 5 * 64, 10)
    assert closed == 34_826
    assert cnn.count_parameters(params) == closed


@pytest.mark.parametrize("hidden", [1, 128, 256])
def test_dense_hidden_parameter_count_in_closed_form(hidden):
    model = cnn.build("simple", 10, (28, 28, 1), dense_hidden=hidden)
    params = cnn.init(model, jax.random.PRNGKey(0), (28, 28, 1))
    closed = (_conv_params(3, 1, 32) + _conv_params(3, 32, 64) + _dense_params(5 * 5 * 64, hidden)
              + _dense_params(hidden, 10))
    assert cnn.count_parameters(params) == cnn.n_parameters(model, (28, 28, 1)) == closed
    assert cnn.output_shape(model, (28, 28, 1)) == (10,)
    # the hidden layer is dense -> relu, each dense input behind a dropout
    assert model[-5:] == (cnn.Dropout(0.5), cnn.Dense(hidden), cnn.Activation("relu"),
                          cnn.Dropout(0.5), cnn.Dense(10))
    plain = cnn.build("simple", 10, (28, 28, 1))
    assert cnn.build("simple", 10, (28, 28, 1), dense_hidden=0) == plain
    with pytest.raises(ValueError, match="dense_hidden"):
        cnn.build("lenet5", 10, (28, 28, 1), dense_hidden=hidden)


def test_batch_norm_architecture_adds_two_parameters_per_channel():
    model = cnn.build("simple", 10, (28, 28, 1), dense_hidden=128, batch_norm=True)
    closed = (_conv_params(3, 1, 32) + _conv_params(3, 32, 64) + _dense_params(5 * 5 * 64, 128)
              + _dense_params(128, 10) + 2 * (32 + 64 + 128))
    assert cnn.n_parameters(model, (28, 28, 1)) == closed
    assert model[:3] == (cnn.Conv(32, 3, "valid"), cnn.BatchNorm(), cnn.Activation("relu"))
    with pytest.raises(ValueError, match="batch_norm"):
        cnn.build("lenet5", 10, (28, 28, 1), batch_norm=True)


@pytest.mark.parametrize("architecture,channels,features,closed_count", [
    # 28 -> conv3 26 -> pool 13 -> conv3 11 -> conv3 9 -> pool 4: 4 * 4 * 64 features
    ("vgg", (32, 64, 64), 4 * 4 * 64, 587_018),
    # 28 -> conv3 26 -> pool 13 -> conv3 11 -> pool 5 -> conv3 3: 3 * 3 * 128 features
    ("compact", (16, 64, 128), 3 * 3 * 128, 680_202),
])
def test_normalised_three_convolution_parameter_counts_on_mnist(architecture, channels, features,
                                                                 closed_count):
    model = cnn.build(architecture, 10, (28, 28, 1))
    c1, c2, c3 = channels
    closed = (_conv_params(3, 1, c1) + _conv_params(3, c1, c2) + _conv_params(3, c2, c3)
              + _dense_params(features, 512) + _dense_params(512, 10)
              + 2 * (c1 + c2 + c3 + 512))  # batch-norm scales and shifts
    assert closed == closed_count
    assert cnn.n_parameters(model, (28, 28, 1)) == closed
    assert cnn.build(architecture, 10, (8, 8, 1))[0] == cnn.Conv(c1, 3, "same")  # pools fit 8x8


def test_lenet5_parameter_count_on_mnist_is_61706():
    model = cnn.build("lenet5", 10, (28, 28, 1))
    # 28 -> conv5 same 28 -> pool 14 -> conv5 valid 10 -> pool 5: 5 * 5 * 16 features
    closed = (_conv_params(5, 1, 6) + _conv_params(5, 6, 16) + _dense_params(400, 120)
              + _dense_params(120, 84) + _dense_params(84, 10))
    assert closed == 61_706
    assert cnn.n_parameters(model, (28, 28, 1)) == closed


@pytest.mark.parametrize("architecture,shape,closed", [
    # 8x8 digits need 'same' convolutions: 8 -> 8 -> 4 -> 4 -> 2
    ("simple", (8, 8, 1),
     _conv_params(3, 1, 32) + _conv_params(3, 32, 64) + _dense_params(2 * 2 * 64, 10)),
    # CIFAR-10, valid: 32 -> 30 -> 15 -> 13 -> 6
    ("simple", (32, 32, 3),
     _conv_params(3, 3, 32) + _conv_params(3, 32, 64) + _dense_params(6 * 6 * 64, 10)),
    ("lenet5", (8, 8, 1),
     _conv_params(5, 1, 6) + _conv_params(5, 6, 16) + _dense_params(2 * 2 * 16, 120)
     + _dense_params(120, 84) + _dense_params(84, 10)),
])
def test_parameter_counts_with_auto_padding(architecture, shape, closed):
    model = cnn.build(architecture, 10, shape)
    assert cnn.n_parameters(model, shape) == closed
    assert cnn.output_shape(model, shape) == (10,)


def test_mlp_parameter_count():
    assert cnn.n_parameters(cnn.mlp(10, (256, 32)), (8, 8, 1)) == (
        _dense_params(64, 256) + _dense_params(256, 32) + _dense_params(32, 10))


def test_glorot_bounds():
    params = cnn.init(cnn.simple_convnet(), jax.random.PRNGKey(0), (28, 28, 1))
    w = np.asarray(params[3]["w"])  # 3x3x32 -> 64: fans 288 and 576
    bound = np.sqrt(6 / (288 + 576))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert not np.any(np.asarray(params[3]["b"]))


def test_gradient_matches_finite_differences():
    # the second convolution has more than SMALL_CHANNELS inputs: XLA's convolution, which JAX
    # differentiates; the first, the shifted-product form with its custom gradient
    model = (cnn.Conv(6, 3, "same"), cnn.BatchNorm(), cnn.Activation("relu"), cnn.Pool("max", 2),
             cnn.Conv(2, 2, "valid"), cnn.Activation("tanh"), cnn.Pool("avg", 2),
             cnn.Flatten(), cnn.Dropout(0.3), cnn.Dense(4))
    with jax.enable_x64(True):
        params = cnn.init(model, jax.random.PRNGKey(0), (6, 6, 2))
        params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)
        x = jax.random.normal(jax.random.PRNGKey(1), (3, 6, 6, 2), jnp.float64)
        y = jnp.array([0, 3, 1])
        key = jax.random.PRNGKey(2)  # fixed dropout mask: the loss is a function of params

        def loss(p):
            return cross_entropy(cnn.apply(model, p, x, key, train=True), y)

        grads = jax.jit(jax.grad(loss))(params)
        flat, unravel = ravel_pytree(params)
        g_flat, _ = ravel_pytree(grads)
        eps = 1e-6
        central = jax.vmap(
            lambda e: (loss(unravel(flat + e)) - loss(unravel(flat - e))) / (2 * eps))
        numeric = np.asarray(jax.jit(central)(eps * jnp.eye(flat.size, dtype=jnp.float64)))
    # central differences: truncation O(eps^2 f''') ~ 1e-12, rounding ~ 1e-16 / eps ~ 1e-10
    np.testing.assert_allclose(np.asarray(g_flat), numeric, rtol=1e-5, atol=1e-8)
    assert np.abs(numeric).max() > 1e-3  # the check is not vacuous


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_smoothed_cross_entropy_and_its_gradient_match_their_closed_forms(eps):
    """Against NumPy, float64: the loss ``-(1/B) sum_n sum_k t_nk log p_nk`` with
    ``t = (1 - eps) onehot(y) + eps / K``, and its gradient ``(p - t) / B`` with respect to the
    logits; eps = 0 is optax's integer-label cross-entropy."""
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(7, 5))
    labels = rng.integers(0, 5, 7)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    targets = (1 - eps) * np.eye(5)[labels] + eps / 5
    with jax.enable_x64(True):
        loss, grad = jax.value_and_grad(cross_entropy)(jnp.asarray(logits), jnp.asarray(labels),
                                                        eps)
        plain = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    np.testing.assert_allclose(float(loss), -(targets * log_p).sum(1).mean(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grad), (np.exp(log_p) - targets) / 7, atol=1e-15)
    assert (float(loss) == pytest.approx(float(plain), rel=1e-12)) == (eps == 0)


def test_label_smoothing_caps_the_confidence_training_reaches():
    """The smoothed loss is smallest at ``p = t``, so the trained network's probability of its
    predicted class tends to ``1 - eps + eps / K`` (0.82 for eps = 0.2, K = 10) rather than 1,
    while the history's training loss stays the plain cross-entropy (no ``eps`` floor)."""
    data = load_data(CNNConfig())
    model = cnn.build("simple", 10, (8, 8, 1), dropout_rate=0.0)
    confidence, losses = {}, {}
    for eps in (0.0, 0.2):
        fitted = fit(model, jax.random.PRNGKey(0), data.x_train, data.y_train, data.x_test,
                     data.y_test, TrainSettings(epochs=6, batch_size=64, label_smoothing=eps))
        p = jax.nn.softmax(cnn.apply(model, fitted.params, jnp.asarray(data.x_train)))
        confidence[eps] = float(np.asarray(p).max(1).mean())
        losses[eps] = fitted.history["train_loss"][-1]
    # measured: 0.954 and 0.747 after six epochs (the smoothed fit approaches 0.82 from below)
    assert confidence[0.0] > 0.9 and 0.65 < confidence[0.2] < 0.85
    # the smoothed loss is at least the entropy of its targets, H(t) = -0.82 log 0.82 - 0.18 log
    # 0.02 = 0.867 nats for eps = 0.2; the recorded plain loss of the smoothed fit is 0.32
    assert losses[0.2] < 0.6


@pytest.mark.parametrize("c_in", [1, 3, 6])  # <= SMALL_CHANNELS: shifted products; 6: XLA's
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_convolution_forms_and_their_gradients_match_xla(c_in, padding):
    """conv2d (few channels: shifted products with a custom gradient) and its patch form
    against XLA's convolution differentiated by JAX, in float64: equal to rounding."""
    assert (c_in <= cnn.SMALL_CHANNELS) == (c_in < 6)
    with jax.enable_x64(True):
        rng = np.random.default_rng(c_in)
        x = jnp.asarray(rng.normal(size=(3, 7, 6, c_in)))
        w = jnp.asarray(rng.normal(size=(3, 2, c_in, 4)))
        b = jnp.asarray(rng.normal(size=4))

        def xla(x, w, b):
            return jax.lax.conv_general_dilated(x, w, (1, 1), padding.upper(),
                                                dimension_numbers=("NHWC", "HWIO", "NHWC")) + b

        g = jnp.asarray(rng.normal(size=xla(x, w, b).shape))
        want = jax.vjp(xla, x, w, b)
        for patches in (False, True):
            got = jax.jit(lambda x, w, b, patches=patches: jax.vjp(
                lambda *a: cnn.conv2d(*a, padding, patches=patches), x, w, b))(x, w, b)
            np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
            for ours, theirs in zip(got[1](g), want[1](g)):
                np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("n_networks", [None, 1, 4])
def test_batch_norm_gradient_in_closed_form_matches_autodiff(n_networks):
    """normalize_batch's custom gradient against JAX differentiating the moments, float64, for
    one network and under jax.vmap over 1 and 4 networks (as cnn_many runs it): the moments and
    sums stay per network."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        lead = () if n_networks is None else (n_networks,)
        x = jnp.asarray(1.0 + 2.0 * rng.normal(size=(*lead, 5, 4, 3, 6)))
        scale = jnp.asarray(rng.normal(size=(*lead, 6)))
        bias = jnp.asarray(rng.normal(size=(*lead, 6)))
        g = jnp.asarray(rng.normal(size=x.shape))

        def by_autodiff(x, scale, bias):
            return cnn.normalize(x, *cnn.batch_moments(x), {"scale": scale, "bias": bias}, 1e-5)

        def closed_form(x, scale, bias):
            return cnn.normalize_batch(x, scale, bias, 1e-5)

        def vjp(f):
            def one(x, scale, bias, g):
                y, back = jax.vjp(f, x, scale, bias)
                return y, back(g)
            return jax.jit(one if n_networks is None else jax.vmap(one))(x, scale, bias, g)

        (y, ours), (y_ref, theirs) = vjp(closed_form), vjp(by_autodiff)
        np.testing.assert_allclose(y, y_ref, rtol=1e-13, atol=1e-13)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-10 * np.abs(b).max())


# ---------------------------------------------------------------- config and data

def test_config_defaults_resolve_per_dataset(tmp_path, monkeypatch):
    monkeypatch.delenv("OVERFITLAB_DATA", raising=False)
    full = CNNConfig.preset("full")
    assert (full.dataset, full.epochs, full.batch_size, full.seeds) == ("digits", 30, 64, 1)
    assert CNNConfig.preset("quick").epochs < full.epochs
    monkeypatch.setenv("OVERFITLAB_DATA", str(tmp_path))
    mnist = CNNConfig(dataset="mnist")
    assert (mnist.epochs, mnist.batch_size, mnist.data_dir) == (2, 32, str(tmp_path))
    assert (mnist.architecture, mnist.augment, mnist.shift, mnist.label_smoothing) == (
        "compact", True, 1, 0.1)
    assert full.label_smoothing == 0.0
    assert (full.architecture, full.dense_hidden, full.batch_norm, full.augment, full.shift) == (
        "simple", 0, False, False, 2)  # digits: the plain Keras net
    assert CNNConfig(dataset="mnist", dropout=0.0, epochs=1).to_dict()["dropout"] == 0.0
    assert all(v is not None for v in mnist.to_dict().values())


@pytest.mark.parametrize("overrides,match", [
    ({"dataset": "svhn"}, "dataset="),
    ({"dataset": "mnist"}, "data_dir"),
    ({"dataset": "cifar10", "data_dir": "/nonexistent/cifar"}, "not a directory"),
    ({"architecture": "resnet"}, "architecture="),
    ({"dropout": 1.0}, "dropout"),
    ({"holdout_fraction": 0.0}, "holdout_fraction"),
    ({"holdout": "first"}, "holdout="),
    ({"mlp_hidden": ()}, "mlp_hidden"),
    ({"architecture": "lenet5", "dense_hidden": 64}, "dense_hidden"),
    ({"dense_hidden": -1}, "dense_hidden"),
    ({"architecture": "vgg", "batch_norm": True}, "batch_norm"),
])
def test_config_errors_name_the_field(overrides, match, monkeypatch):
    monkeypatch.delenv("OVERFITLAB_DATA", raising=False)
    with pytest.raises(ConfigError, match=match):
        CNNConfig.preset("full", **overrides)


def test_holdout_split_is_stratified_disjoint_and_fixed():
    labels = np.repeat(np.arange(10), [30, 40, 50, 60, 70, 80, 90, 100, 110, 120])
    train, test = holdout_split(labels, 0.2)
    assert len(test) == round(0.2 * len(labels))
    assert np.intersect1d(train, test).size == 0 and len(train) + len(test) == len(labels)
    counts = np.bincount(labels[test], minlength=10)
    np.testing.assert_allclose(counts, 0.2 * np.bincount(labels), atol=1)
    np.testing.assert_array_equal(test, holdout_split(labels, 0.2)[1])
    train, test = holdout_split(labels, 0.2, "last")
    np.testing.assert_array_equal(test, np.arange(len(labels) - 150, len(labels)))
    np.testing.assert_array_equal(train, np.arange(len(labels) - 150))


def test_digits_data_is_standardised_and_held_out():
    data = load_data(CNNConfig())
    assert data.held_out and "held out" in data.note
    assert data.x_train.shape[1:] == (8, 8, 1) and len(data.x_test) == round(1797 / 6)
    assert abs(data.x_train.mean()) < 1e-5 and abs(data.x_train.std() - 1) < 1e-4


# ---------------------------------------------------------------- training

def test_same_seed_same_result_and_other_seed_differs():
    data = load_data(CNNConfig())
    model = cnn.build("simple", 10, (8, 8, 1))
    settings = TrainSettings(epochs=2, batch_size=64, augment_shift=1)
    args = (data.x_train, data.y_train, data.x_test, data.y_test, settings)
    a = fit(model, jax.random.PRNGKey(5), *args)
    b = fit(model, jax.random.PRNGKey(5), *args)
    c = fit(model, jax.random.PRNGKey(6), *args)
    for k in ("train_loss", "test_loss", "test_accuracy"):
        np.testing.assert_array_equal(a.history[k], b.history[k])
    assert a.history["train_loss"][-1] != c.history["train_loss"][-1]


def test_vgg_with_batch_norm_learns_digits_and_updates_running_statistics():
    """Two epochs of the VGG-style net on the 8x8 digits ('same' padding is picked): well above
    chance (10 %) at evaluation, which uses the running statistics the steps maintained. The
    biases of the layers that feed a BatchNorm stay at their initial 0 (their gradient is zero
    in exact arithmetic; computed, Adam amplified its rounding noise into a drift), while the
    output layer, which feeds none, learns its bias."""
    data = load_data(CNNConfig())
    model = cnn.build("vgg", 10, (8, 8, 1))
    assert model[0] == cnn.Conv(32, 3, "same")
    fit_ = fit(model, jax.random.PRNGKey(0), data.x_train, data.y_train, data.x_test,
               data.y_test, TrainSettings(epochs=2, batch_size=32))
    assert fit_.history["test_accuracy"][-1] > 0.8
    norm = fit_.params[1]  # the first BatchNorm: running statistics moved away from N(0, 1)
    assert np.abs(np.asarray(norm["mean"])).max() > 0.01
    assert np.abs(np.asarray(norm["var"]) - 1).max() > 0.01
    feeding = [i for i in range(len(model)) if cnn.feeds_batch_norm(model, i)]
    assert feeding == [0, 4, 7, 13]  # three convolutions and the hidden dense layer
    for i in feeding:
        assert np.abs(np.asarray(fit_.params[i]["b"])).max() == 0
    assert np.abs(np.asarray(fit_.params[-1]["b"])).max() > 1e-3


def test_quick_preset_end_to_end():
    messages = []
    result = EXPERIMENT.run(CNNConfig.preset("quick"), lambda f, m: messages.append((f, m)))
    m = result.metrics
    assert m["test_accuracy"] > 0.9 and m["mlp_test_accuracy"] > 0.8
    assert m["parameters_cnn"] == 21_386
    assert m["parameters_mlp"] == _dense_params(64, 256) + _dense_params(256, 10)
    assert m["test_held_out_from_train"] == 1.0 and m["n_test"] == 300
    assert m["epochs"] == CNNConfig.QUICK["epochs"] and m["train_seconds"] > 0
    ids = {a.id for a in result.answers}
    assert {"test_accuracy", "train_accuracy", "parameters_cnn", "parameters_mlp",
            "mlp_test_accuracy", "epochs", "train_seconds"} <= ids
    assert result.answer("test_accuracy").value == m["test_accuracy"]
    assert f"{m['test_accuracy']:.2%}" in result.answer("test_accuracy").explanation
    assert set(result.figures) == {"learning_curves.png", "confusion_matrix.png", "filters.png",
                                   "feature_maps.png", "misclassified.png"}
    assert_nothing_cut_off(result.figures)
    assert result.arrays["confusion"].sum() == 300
    assert np.trace(result.arrays["confusion"]) == round(m["test_accuracy"] * 300)
    assert any("held out" in note for note in result.notes)
    fractions = [f for f, _ in messages]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert all("loss" in msg and "acc" in msg for _, msg in messages[1:])


def test_the_confusion_caption_names_a_tie_as_a_tie():
    """The confusion-matrix caption calls a cell "the most frequent" only when it is alone at the
    top, and counts "1 time" in the singular."""
    names = ("a", "b", "c")
    single = np.array([[0, 3, 0], [1, 0, 0], [0, 0, 0]])
    assert _most_frequent_confusion(single, names) == (
        "; the most frequent is a taken for b (3 times)")
    tie = np.array([[0, 1, 0], [0, 0, 0], [0, 1, 0]])
    assert _most_frequent_confusion(tie, names) == (
        "; 2 confusions tie as the most frequent (1 time each), such as a taken for b")


def test_relu_after_a_convolution_is_applied_after_the_max_pooling():
    """The reordering is exact: outputs and gradients equal the declared order's, computed layer
    by layer, also where pooling windows are all negative or tie at zero (so ReLU's gradient
    decides); only a ReLU straight after a convolution and before a max-pooling moves."""
    assert cnn.execution_order(cnn.simple_convnet()) == [0, 2, 1, 3, 5, 4, 6, 7, 8]
    compact = cnn.compact_convnet()  # batch norm between each convolution and its ReLU
    assert cnn.execution_order(compact) == list(range(len(compact)))
    model = (cnn.Conv(3, 2), cnn.Activation("relu"), cnn.Pool("max", 2), cnn.Flatten(),
             cnn.Dense(2))
    with jax.enable_x64(True):
        params = jax.tree_util.tree_map(lambda p: jnp.asarray(p, jnp.float64),
                                        cnn.init(model, jax.random.PRNGKey(0), (5, 5, 1)))
        x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 5, 5, 1)))
        x = x.at[0].set(-jnp.abs(x[0])).at[1].set(0.0)  # all-negative and all-zero images
        params[0]["w"] = params[0]["w"].at[..., 0].set(jnp.abs(params[0]["w"][..., 0]))

        def declared(p):
            h = x
            for layer, q in zip(model, p):
                h = cnn.apply_layer(layer, q, h)
            return jnp.sum(h ** 2)

        def reordered(p):
            return jnp.sum(cnn.apply(model, p, x) ** 2)

        assert cnn.execution_order(model) == [0, 2, 1, 3, 4]
        np.testing.assert_array_equal(reordered(params), declared(params))
        for ours, theirs in zip(jax.tree_util.tree_leaves(jax.grad(reordered)(params)),
                                jax.tree_util.tree_leaves(jax.grad(declared)(params))):
            np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)


def test_training_compiles_one_step_program_per_network():
    """fit's first step gets committed arrays like every later one: one compiled train step,
    not two (fresh arrays from the initialisation would make the second step compile again)."""
    from overfitlab.engine.cnn_train import train_step

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6, 6, 1)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    model = cnn.build("simple", 3, (6, 6, 1), "same", width=1, dropout_rate=0.0)  # 6x6: unique
    before = train_step._cache_size()
    fit(model, jax.random.key(0), x, y, x[:10], y[:10], TrainSettings(epochs=2, batch_size=8))
    assert train_step._cache_size() - before == 1
