"""The JAX engine against finite differences, closed forms and scikit-learn (float64)."""
import warnings

import jax
from jax.flatten_util import ravel_pytree
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.neural_network import MLPRegressor

from _sklearn_reference import sklearn_init

from overfitlab.engine import threefry
from overfitlab.engine.mlp import forward, init_mlp, init_stack, n_parameters
from overfitlab.engine.mlp import tanh as mlp_tanh
from overfitlab.engine.regularizers import dropout_masks, prox_l1, soft_threshold
from overfitlab.engine.train import (TrainSpec, _objective, constant_loss, make_hyper,
                                     record_grid, stack_networks, train, train_grid)


def run_parity(X, y, sk_kwargs, spec_kwargs, seed=3, hidden=(20,), activation="tanh"):
    """Run MLPRegressor and our engine from the same initial weights, in float64."""
    layers = (X.shape[1], *hidden, 1)
    coefs, intercepts = sklearn_init(seed, layers, activation)
    sk = MLPRegressor(hidden_layer_sizes=hidden, activation=activation, random_state=seed,
                      **sk_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk.fit(X, y)
    params = {"coefs": [jnp.asarray(c)[None] for c in coefs],
              "intercepts": [jnp.asarray(b)[None] for b in intercepts]}
    spec = TrainSpec(layers, activation, **spec_kwargs)
    hyper = stack_networks([make_hyper(sk.alpha,
                                       learning_rate=sk.learning_rate_init, dtype=jnp.float64)])
    out = train(spec, params, jax.random.split(jax.random.PRNGKey(0), 1), hyper, X, y)
    return sk, out


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def test_parity_with_sklearn_adam_200_iterations(x64, course_data):
    """Same initial weights, full-batch Adam: trajectories agree to 1e-6 relative (float64)."""
    X = course_data.X_train.astype(np.float64)
    y = course_data.y_train.astype(np.float64)
    sk, out = run_parity(X, y, dict(max_iter=200, tol=0.0, n_iter_no_change=10**6),
                         dict(solver="adam", max_iter=200, tol=None))
    assert out.loss_curve.dtype == jnp.float64
    assert rel_err(out.loss_curve[0], sk.loss_curve_) < 1e-6
    for ours, theirs in zip(out.params["coefs"] + out.params["intercepts"],
                            sk.coefs_ + sk.intercepts_):
        assert rel_err(ours[0], theirs) < 1e-6


def test_parity_with_sklearn_minibatch_sgd_and_l2(x64):
    """Mini-batches (unshuffled, ragged last batch), Nesterov SGD and a strong L2 penalty."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(45, 3))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=45)
    kw = dict(solver="sgd", alpha=0.3, batch_size=16, shuffle=False, max_iter=60,
              learning_rate_init=0.05, tol=0.0, n_iter_no_change=10**6)
    sk, out = run_parity(X, y, kw, dict(solver="sgd", max_iter=60, batch_size=16,
                                        shuffle=False, tol=None),
                         hidden=(7, 5), activation="relu")
    assert rel_err(out.loss_curve[0], sk.loss_curve_) < 1e-6
    assert rel_err(out.params["coefs"][0][0], sk.coefs_[0]) < 1e-6


def test_tol_stopping_matches_sklearn_iteration_count(x64, course_data):
    """scikit-learn's no-improvement rule stops at the same iteration."""
    X = course_data.X_train.astype(np.float64)
    y = course_data.y_train.astype(np.float64)
    sk, out = run_parity(X, y, dict(max_iter=5000, tol=1e-4, learning_rate_init=0.01),
                         dict(solver="adam", max_iter=5000, tol=1e-4))
    assert sk.n_iter_ < 5000  # the rule fired
    assert int(out.n_iter[0]) == sk.n_iter_
    assert bool(out.converged[0])


@pytest.mark.parametrize("sizes, activation", [((2, 6, 4, 1), "logistic"),
                                               ((1, 5, 3), "tanh")])
def test_loss_gradient_matches_finite_differences(x64, sizes, activation):
    """Autodiff gradient of the penalised objective vs central differences (float64), through
    the element-wise layers of a fan-in or fan-out of 1 and the matrix-product ones."""
    params = init_mlp(np.random.RandomState(0), sizes, activation, jnp.float64)
    X = jax.random.normal(jax.random.PRNGKey(1), (9, sizes[0]), jnp.float64)
    y = jax.random.normal(jax.random.PRNGKey(2), (9, sizes[-1]), jnp.float64)
    hyper = make_hyper(alpha=0.7, dtype=jnp.float64)
    spec = TrainSpec(sizes, activation)
    f = lambda p: _objective(p, X, y, None, hyper, None, spec)[0]  # noqa: E731
    grads = jax.grad(f)(params)
    flat, unravel = ravel_pytree(params)
    g_flat = ravel_pytree(grads)[0]
    h = 1e-6
    for i in range(0, flat.size, 3):
        e = jnp.zeros_like(flat).at[i].set(h)
        fd = (f(unravel(flat + e)) - f(unravel(flat - e))) / (2 * h)
        assert abs(float(fd) - float(g_flat[i])) < 1e-7 * max(1.0, abs(float(fd)))


@pytest.mark.parametrize("sizes", [(1, 7, 1), (1, 7, 3), (3, 7, 1), (1, 1), (2, 3)])
def test_forward_pass_equals_the_matrix_products(x64, sizes):
    """The JAX forward pass (element-wise where a layer has a fan-in or fan-out of 1) computes
    a_{l-1} W_l + b_l as NumPy's matrix products do, to float64 rounding."""
    rng = np.random.RandomState(3)
    params = init_mlp(rng, sizes, "tanh", np.float64)
    X = rng.normal(size=(11, sizes[0]))
    masks = [rng.binomial(1, 0.7, (11, h)).astype(np.float64) for h in sizes[1:-1]]
    np.testing.assert_allclose(np.asarray(forward(params, jnp.asarray(X), "tanh", masks)),
                               forward(params, X, "tanh", masks, backend="numpy"),
                               rtol=1e-13, atol=1e-14)


def test_float32_tanh_is_as_accurate_as_xla_and_stays_inside_minus_one_one(x64):
    """The engine's float32 tanh (a rational approximation written as array arithmetic) is
    within 2.7e-7 of the float64 tanh on [-20, 20] and at tiny arguments, as XLA's own tanh is
    (2.6e-7 here: both round to float32, whose spacing below 1 is 6e-8, and approximate), is odd,
    and stays strictly inside (-1, 1), so that 1 - tanh^2 stays positive; its derivative is
    (1 + t)(1 - t) to float32 rounding; float64 arguments get jnp.tanh itself."""
    z = np.concatenate([np.linspace(-20, 20, 400_001), np.geomspace(1e-30, 1e-2, 1_000),
                        [0.0, np.inf]]).astype(np.float32)
    t = np.asarray(jax.jit(mlp_tanh)(z))
    exact = np.tanh(z.astype(np.float64))
    assert np.abs(t - exact).max() <= 2.7e-7
    assert np.abs(np.asarray(jax.jit(jnp.tanh)(z)) - exact).max() <= 2.7e-7
    np.testing.assert_array_equal(np.asarray(jax.jit(mlp_tanh)(-z)), -t)
    assert np.abs(t).max() < 1.0
    slope = np.asarray(jax.jit(jax.vmap(jax.grad(mlp_tanh)))(z[:-1]))
    np.testing.assert_allclose(slope, 1 - exact[:-1] ** 2, atol=6e-7)
    assert slope.min() > 0
    wide = jnp.linspace(-5, 5, 101, dtype=jnp.float64)
    np.testing.assert_array_equal(np.asarray(mlp_tanh(wide)), np.asarray(jnp.tanh(wide)))


def test_l2_gradient_is_weight_decay(x64):
    """d/dW of alpha/(2n) ||W||^2 is alpha W / n on weights and nothing on biases."""
    params = init_mlp(np.random.RandomState(0), (1, 5, 1), "tanh", jnp.float64)
    X = jnp.linspace(-1, 1, 8)[:, None]
    y = X**2
    spec = TrainSpec((1, 5, 1), "tanh")
    g = lambda a: jax.grad(lambda p: _objective(  # noqa: E731
        p, X, y, jnp.ones(8), make_hyper(alpha=a, dtype=jnp.float64), None, spec)[0])(params)
    g0, g1 = g(0.0), g(2.0)
    for W, a, b in zip(params["coefs"], g1["coefs"], g0["coefs"]):
        np.testing.assert_allclose(a - b, 2.0 * W / 8, atol=1e-12)
    for a, b in zip(g1["intercepts"], g0["intercepts"]):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_soft_threshold_closed_form():
    w = jnp.array([-3.0, -0.5, 0.0, 0.2, 1.0, 4.0])
    np.testing.assert_allclose(soft_threshold(w, 0.5), [-2.5, 0.0, 0.0, 0.0, 0.5, 3.5])
    p = prox_l1({"coefs": [w[None]], "intercepts": [jnp.array([0.1])]}, 10.0)
    assert float(jnp.abs(p["coefs"][0]).sum()) == 0.0
    assert float(p["intercepts"][0][0]) == pytest.approx(0.1)  # biases untouched


def test_l1_training_reaches_exact_zeros(course_data):
    spec = TrainSpec((1, 20, 1), "tanh", max_iter=2000, tol=None, use_l1=True)
    hyper = stack_networks([make_hyper(alpha=0.0, l1=l1) for l1 in (0.0, 0.5)])
    out = train_grid(spec, jax.random.PRNGKey(0), 2, hyper, course_data.X_train,
                     course_data.y_train)
    zeros = [int(sum(jnp.sum(W[:, c] == 0) for W in out.params["coefs"])) for c in range(2)]
    assert zeros[0] == 0
    assert zeros[1] > 0


def test_dropout_masks_preserve_expectation():
    """Inverted dropout: E[mask] = 1; mean of 200k draws within 5 standard errors."""
    rate = 0.3
    (m,) = dropout_masks(jax.random.PRNGKey(0), jnp.float32(rate), 2000, (100,))
    values = np.asarray(m)
    np.testing.assert_allclose(np.unique(values), [0.0, 1 / 0.7], rtol=1e-6)
    se = np.sqrt(rate / (1 - rate) / values.size)  # sd of mask = sqrt(p/(1-p))
    assert abs(values.mean() - 1.0) < 5 * se


def test_unit_mask_removes_units(course_data):
    """A network with units switched off equals the smaller network it contains."""
    params = init_mlp(np.random.RandomState(0), (1, 6, 1), "tanh")
    mask = jnp.array([1, 0, 1, 0, 0, 1.0])
    keep = np.flatnonzero(mask)
    small = {"coefs": [params["coefs"][0][:, keep], params["coefs"][1][keep]],
             "intercepts": [params["intercepts"][0][keep], params["intercepts"][1]]}
    X = course_data.X_test
    np.testing.assert_allclose(forward(params, X, "tanh", [mask]), forward(small, X, "tanh"),
                               rtol=1e-6)
    assert n_parameters((1, 3, 1)) == 10


def test_grid_configs_share_initialisation_and_are_reproducible(course_data):
    spec = TrainSpec((1, 8, 1), "tanh", max_iter=50, tol=None)
    hyper = stack_networks([make_hyper(alpha=a) for a in (0.0, 1.0)])
    run = lambda: train_grid(spec, jax.random.PRNGKey(4), 3, hyper,  # noqa: E731
                             course_data.X_train, course_data.y_train, course_data.X_test,
                             course_data.y_test, record=10)
    a, b = run(), run()
    np.testing.assert_array_equal(a.eval_loss, b.eval_loss)
    assert a.eval_loss.shape == (3, 2, a.record_steps.size)
    # Same seed, different alpha: same starting loss data term, different trajectories.
    assert not np.allclose(a.loss_curve[:, 0, -1], a.loss_curve[:, 1, -1])
    assert np.all(np.diff(a.record_steps) > 0) and a.record_steps[-1] == 50


def test_record_grid():
    assert list(record_grid(5, "every")) == [1, 2, 3, 4, 5]
    grid = record_grid(20000, 300)
    assert grid[0] == 1 and grid[-1] == 20000 and 200 < grid.size <= 300
    with pytest.raises(ValueError):
        record_grid(10, 1)


def test_early_stopping_restores_best_validation_weights(course_data):
    """With early_stopping, the returned weights are those of the best validation R^2."""
    X, y = course_data.X_train, course_data.y_train
    X_val, y_val = course_data.X_test[::10], course_data.y_test[::10]
    spec = TrainSpec((1, 20, 1), "tanh", max_iter=3000, tol=0.0, n_iter_no_change=200,
                     early_stopping=True)
    hyper = stack_networks([make_hyper()])
    out = train_grid(spec, jax.random.PRNGKey(0), 2, hyper, X, y, X_val=X_val, y_val=y_val)
    scores = np.asarray(out.val_score[:, 0])
    for s in range(2):
        best = int(out.best_iter[s, 0])
        assert best == int(np.nanargmax(scores[s])) + 1
        p = jax.tree_util.tree_map(lambda a: a[s, 0], out.params)
        pred = forward(p, jnp.asarray(X_val), "tanh")[:, 0]
        r2 = 1 - np.sum((pred - y_val) ** 2) / np.sum((y_val - y_val.mean()) ** 2)
        assert r2 == pytest.approx(np.nanmax(scores[s]), abs=1e-5)


def test_minibatch_with_zero_weight_batch_stays_finite_and_skips_it(course_data):
    """Zero-weight samples only (e.g. bootstrap leftovers) must not turn weights into NaN."""
    X, y = course_data.X_train, course_data.y_train
    w = np.zeros(10, np.float32)
    w[[0, 1, 2]] = 1.0  # with unshuffled batches of 2, batches 2..5 carry no weight
    spec = TrainSpec((1, 5, 1), "tanh", max_iter=20, batch_size=2, shuffle=False, tol=None)
    hyper = stack_networks([make_hyper(sample_weight=w)])
    out = train_grid(spec, jax.random.PRNGKey(0), 1, hyper, X, y)
    assert np.all(np.isfinite(np.asarray(out.loss_curve)))
    # Equivalent to training on the weighted samples alone with the same batching.
    hyper3 = stack_networks([make_hyper()])
    ref = train_grid(spec, jax.random.PRNGKey(0), 1, hyper3, X[:3], y[:3])
    for a, b in zip(out.params["coefs"], ref.params["coefs"]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("n_classes", [3, 2])
def test_log_loss_parity_with_mlpclassifier(x64, n_classes):
    """Softmax (3 classes) and logistic (binary) log-loss: scikit-learn's loss curve and weights
    from the same initial weights, float64, to 1e-9 relative (rounding only)."""
    from sklearn.datasets import load_iris
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import LabelBinarizer

    X, y = load_iris(return_X_y=True)
    X, y = X[y < n_classes], y[y < n_classes]
    sk = MLPClassifier((7,), "tanh", max_iter=80, tol=0.0, n_iter_no_change=10**6,
                       random_state=5, alpha=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk.fit(X, y)
    Y = LabelBinarizer().fit_transform(y).astype(np.float64)
    layers = (4, 7, Y.shape[1])
    coefs, intercepts = sklearn_init(5, layers)
    params = {"coefs": [c[None] for c in coefs], "intercepts": [b[None] for b in intercepts]}
    assert sk.out_activation_ == ("softmax" if n_classes > 2 else "logistic")
    spec = TrainSpec(layers, "tanh", "adam", 80, loss="log_loss",
                     out_activation=sk.out_activation_, tol=None)
    hyper = stack_networks([make_hyper(0.01, dtype=np.float64)])
    out = train(spec, params, np.zeros((1, 2), np.uint32), hyper, X, Y)
    assert rel_err(out.loss_curve[0], sk.loss_curve_) < 1e-9
    for ours, theirs in zip(out.params["coefs"] + out.params["intercepts"],
                            sk.coefs_ + sk.intercepts_):
        assert rel_err(ours[0], theirs) < 1e-9


def test_per_network_targets_equal_separate_runs(course_data):
    """y with a leading network axis trains each network on its own targets, exactly as if
    trained alone (bias-variance draws one noise sample per network)."""
    rng = np.random.default_rng(0)
    X = course_data.X_train
    Y = (X[:, 0] ** 2 + 0.2 * rng.normal(size=(3, 10))).astype(np.float32)
    spec = TrainSpec((1, 8, 1), "tanh", max_iter=200, tol=None)
    params = init_stack(np.random.RandomState(0), 3, spec.layer_sizes, "tanh")
    keys = np.zeros((3, 2), np.uint32)
    together = train(spec, params, keys, stack_networks([make_hyper()] * 3), X, Y[:, :, None])
    for b in range(3):
        alone = train(spec, jax.tree_util.tree_map(lambda a: a[b:b + 1], params), keys[b:b + 1],
                      stack_networks([make_hyper()]), X, Y[b])
        np.testing.assert_allclose(together.loss_curve[b], alone.loss_curve[0], rtol=1e-5)


@pytest.mark.parametrize("batch_size", [None, 4])
def test_rows_train_each_network_on_its_own_rows(course_data, batch_size):
    """``rows`` (B, m) make network b train on X[rows[b]] exactly as if given those rows as its
    data (full batch, and mini-batches drawn from the same key); shared rows (m,) apply to all.
    Cross-validation trains every fold's networks on their fold's rows this way."""
    X, y = course_data.X_train, course_data.y_train
    rows = np.array([[0, 2, 3, 5, 7, 9], [1, 2, 4, 6, 8, 9], [0, 1, 2, 3, 4, 5]])
    spec = TrainSpec((1, 8, 1), "tanh", max_iter=60, tol=None, batch_size=batch_size)
    params = init_stack(np.random.RandomState(0), 3, spec.layer_sizes, "tanh")
    keys = np.arange(6, dtype=np.uint32).reshape(3, 2)
    hyper = stack_networks([make_hyper(learning_rate=1e-2)] * 3)
    together = train(spec, params, keys, hyper, X, y, rows=rows)
    shared = train(spec, params, keys, hyper, X, y, rows=rows[0])
    for b in range(3):
        take = lambda tree: jax.tree_util.tree_map(lambda a: a[b:b + 1], tree)  # noqa: E731
        alone = train(spec, take(params), keys[b:b + 1], take(hyper), X[rows[b]], y[rows[b]])
        np.testing.assert_allclose(together.loss_curve[b], alone.loss_curve[0], rtol=1e-5)
        first = train(spec, take(params), keys[b:b + 1], take(hyper), X[rows[0]], y[rows[0]])
        np.testing.assert_allclose(shared.loss_curve[b], first.loss_curve[0], rtol=1e-5)
    assert not np.allclose(together.loss_curve[0], together.loss_curve[1], rtol=1e-2)


def test_unit_weights_equal_no_weights(course_data):
    """Omitting sample weights (the engine skips their arithmetic) equals weights of one."""
    spec = TrainSpec((1, 8, 1), "tanh", max_iter=100, tol=None)
    runs = [train_grid(spec, jax.random.PRNGKey(1), 2, stack_networks([make_hyper(
        sample_weight=w)]), course_data.X_train, course_data.y_train)
        for w in (None, np.ones(10))]
    np.testing.assert_allclose(runs[0].loss_curve, runs[1].loss_curve, rtol=1e-5)


@pytest.mark.parametrize("lr, expect", [(1e-3, False), (100.0, True)])
def test_divergence_is_detected(course_data, lr, expect):
    """Adam at lr = 100 blows the loss up by orders of magnitude; at lr = 1e-3 it never does.

    A diverged network's final objective exceeds DIVERGENCE_FACTOR x its reference; its mark
    carries the iteration it has stayed diverged from."""
    spec = TrainSpec((1, 20, 1), "tanh", max_iter=2000, tol=None)
    out = train_grid(spec, jax.random.PRNGKey(0), 8, stack_networks([make_hyper(
        learning_rate=lr)]), course_data.X_train, course_data.y_train)
    assert out.diverged.any() == expect
    assert np.all((out.diverged_at > 0) == out.diverged)
    assert np.all(out.diverged_at <= 2000)
    if expect:
        final = out.loss_curve[..., -1][out.diverged]
        assert np.all(final > 100 * constant_loss(course_data.y_train[:, None], None, spec))


def test_non_finite_loss_stops_a_network_and_marks_it():
    """A NaN objective (here: an infinite input, whose gradient inf * 0 poisons the weights after
    the first step) can never recover: with tol set the network stops at the iteration it is
    marked diverged from, the other one trains on."""
    X = np.linspace(-1, 1, 10)[:, None].astype(np.float32)
    y = X[:, 0] ** 2
    Xs = np.stack([X, X])
    Xs[1, 0, 0] = np.inf
    spec = TrainSpec((1, 5, 1), "tanh", max_iter=300, tol=1e-4)
    params = init_stack(np.random.RandomState(0), 2, spec.layer_sizes, "tanh")
    out = train(spec, params, np.zeros((2, 2), np.uint32), stack_networks([make_hyper()] * 2),
                Xs, np.stack([y, y])[..., None])
    assert list(out.diverged) == [False, True]
    assert out.n_iter[1] == out.diverged_at[1] <= 2 and not out.converged[1]
    assert out.n_iter[0] > 2


def test_progress_is_reported_between_chunks(course_data):
    calls = []
    spec = TrainSpec((1, 5, 1), "tanh", max_iter=1000, tol=None, chunk=250)
    train_grid(spec, jax.random.PRNGKey(0), 2, stack_networks([make_hyper()]),
               course_data.X_train, course_data.y_train,
               progress=lambda f, m: calls.append((f, m)))
    assert [f for f, _ in calls] == [0.25, 0.5, 0.75, 1.0]
    assert calls[-1][1] == "iteration 1000 of 1000"


def test_networks_are_split_by_the_work_of_a_step(monkeypatch):
    """Concurrent parts (one per core; 4 cores here) follow a step's multiply-adds, rows per
    step x weights: 127 course networks (10 rows x 61 weights) stay one part and 128 make two,
    as measured; two digits networks (mini-batches of 200 rows x 2,410 weights) already make
    two; never more parts than networks or cores."""
    import overfitlab.cores
    import overfitlab.engine.train as engine

    monkeypatch.setattr(overfitlab.cores.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3},
                        raising=False)
    assert [engine._parallel_parts(n, 10 * 61) for n in (127, 128, 400, 10**6)] == [1, 2, 4, 4]
    assert [engine._parallel_parts(n, 200 * 2410) for n in (1, 2, 3)] == [1, 2, 3]
    params = init_stack(np.random.RandomState(0), 3, (64, 32, 10), "relu")
    X, y = np.zeros((1437, 64)), np.zeros((1437, 10))
    step = lambda spec, rows=None: engine._step_work(  # noqa: E731
        params, engine._prepare_data(X, y, None, None, None, None, None, rows), spec)
    assert step(TrainSpec((64, 32, 10), "relu", batch_size=200)) == 200 * 2410
    assert step(TrainSpec((64, 32, 10), "relu", batch_size=200), np.zeros((3, 90))) == 90 * 2410
    assert step(TrainSpec((64, 32, 10), "relu")) == 1437 * 2410


def test_parallel_parts_equal_one_part(course_data, monkeypatch):
    """Splitting many networks into concurrent parts (one per core) gives the same networks, up
    to float32 rounding (another batch size changes XLA's vector split of the same sums: weights
    of order 1 agree to ~1e-9 absolute after 50 steps)."""
    import overfitlab.engine.train as engine

    spec = TrainSpec((1, 5, 1), "tanh", max_iter=50, tol=1e-4, n_iter_no_change=3)
    hyper = stack_networks([make_hyper(alpha=a) for a in np.geomspace(1e-4, 1.0, 7)])
    run = lambda: train_grid(spec, jax.random.PRNGKey(0), 19, hyper,  # noqa: E731
                             course_data.X_train, course_data.y_train)
    monkeypatch.setattr(engine, "_parallel_parts", lambda *_: 3)  # 133 networks in 3 parts
    split = run()
    monkeypatch.setattr(engine, "_parallel_parts", lambda *_: 1)
    whole = run()
    np.testing.assert_array_equal(split.n_iter, whole.n_iter)
    for a, b in zip(jax.tree_util.tree_leaves(split.params),
                    jax.tree_util.tree_leaves(whole.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_engine_shuffles_follow_jax_random_from_each_networks_key():
    """Without ``orders`` the engine shuffles network i's epoch with
    ``jax.random.permutation(k, n)``, where ``key, k, k_dropout = jax.random.split(key, 3)``
    each epoch from its key: the same training as those orders given by hand, dropout masks
    included (their keys come from the same chain, inside the program)."""
    rng = np.random.RandomState(0)
    X, y = rng.uniform(-1, 1, (30, 2)), rng.normal(size=30)
    spec = TrainSpec((2, 4, 1), "tanh", max_iter=5, tol=None, batch_size=8, chunk=3,
                     use_dropout=True)
    params = init_stack(np.random.RandomState(1), 3, (2, 4, 1), "tanh")
    hyper = stack_networks([make_hyper(alpha=1e-3, dropout=0.2, learning_rate=0.05)] * 3)
    keys = threefry.split(threefry.prng_key(4), 3)
    chain = [jnp.asarray(k) for k in keys]

    def jax_orders(networks, epochs):
        out = []
        for i in networks:
            drawn = []
            for _ in range(epochs):
                chain[i], k_shuffle, _ = jax.random.split(chain[i], 3)
                drawn.append(jax.random.permutation(k_shuffle, 30))
            out.append(drawn)
        return np.asarray(out)

    own = train(spec, params, keys, hyper, X, y)
    given = train(spec, params, keys, hyper, X, y, orders=jax_orders)
    for a, b in zip(jax.tree_util.tree_leaves(own.params), jax.tree_util.tree_leaves(given.params)):
        np.testing.assert_array_equal(a, b)


def test_host_orders_are_drawn_once_per_network_whatever_the_parts(monkeypatch):
    """Mini-batches taken in host-drawn ``orders`` (scikit-learn's shuffles in the estimators):
    every network asks for its orders once per chunk, also when the last network is repeated to
    pad a part; three networks in two parts, or one, or in chunks shortened by ORDER_ELEMENTS,
    train the same networks; and the orders are followed (reversed ones train other networks)."""
    import overfitlab.engine.train as engine

    rng = np.random.RandomState(0)
    X, y = rng.uniform(-1, 1, (30, 2)), rng.normal(size=30)
    spec = TrainSpec((2, 4, 1), "tanh", max_iter=7, tol=None, batch_size=8, chunk=4)
    params = init_stack(np.random.RandomState(1), 3, (2, 4, 1), "tanh")
    hyper = stack_networks([make_hyper(alpha=a, learning_rate=0.05) for a in (1e-4, 1e-2, 1.0)])
    keys = np.zeros((3, 2), np.uint32)

    def run(parts, reverse=False):
        calls, drawn = [], np.zeros(3, int)  # epochs drawn so far, per network

        def orders(networks, epochs):
            calls.append((tuple(int(i) for i in networks), epochs))
            base = np.arange(30)[::-1] if reverse else np.arange(30)
            out = np.stack([[np.roll(base, i + 5 * (drawn[i] + e)) for e in range(epochs)]
                            for i in networks])
            drawn[networks] += epochs
            return out

        monkeypatch.setattr(engine, "_parallel_parts", lambda *_: parts)
        out = train(spec, params, keys, hyper, X, y, orders=orders)
        return out, sorted(calls)

    split, split_calls = run(2)
    whole, whole_calls = run(1)
    assert split_calls == [((0, 1), 3), ((0, 1), 4), ((2,), 3), ((2,), 4)]  # chunks of 4, 3
    assert whole_calls == [((0, 1, 2), 3), ((0, 1, 2), 4)]
    monkeypatch.setattr(engine, "ORDER_ELEMENTS", 3 * 30 * 2)  # two epochs per chunk
    short, short_calls = run(1)
    assert [epochs for _, epochs in short_calls] == [1, 2, 2, 2]
    reversed_, _ = run(1, reverse=True)
    for a, b, c, d in zip(*(jax.tree_util.tree_leaves(r.params)
                            for r in (split, whole, short, reversed_))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(c, b, rtol=1e-5, atol=1e-7)
        assert np.abs(d - b).max() > 1e-3
