"""Many small CNNs at once (engine.cnn_many) and the cnn-regularization experiment, on small
synthetic images: recipes against the single-network layers, vectorized training against
training each network alone, early stopping, weight decay, the answers against the arrays."""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from _figure_checks import assert_nothing_cut_off
from overfitlab.data.fashion_mnist import load_fashion_mnist
from overfitlab.engine import cnn, cnn_many
from overfitlab.engine.cnn_many import (ManySettings, Recipe, Subsets, _optimizer, evaluate,
                                        forward, init_many, train_many)
from overfitlab.errors import ConfigError, DivergedError
from overfitlab.experiments import cnn_regularization as exp
from overfitlab.experiments.configs import cnn_regularization as configs
from overfitlab.experiments.cnn_regularization import (REGULARIZERS, CNNRegularizationConfig,
                                                       build_model, networks)
from test_image_loaders import write_idx

N_CLASSES = 4


def blobs(n: int, size: int = 8, seed: int = 0, noise: float = 0.3):
    """Images with a bright 2x2 blob in one of four corners-ish places (the class) plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, n).astype(np.int32)
    x = noise * rng.normal(size=(n, size, size, 1)).astype(np.float32)
    corners = [(1, 1), (1, size - 3), (size - 3, 1), (size - 3, size - 3)]
    for i, c in enumerate(y):
        r, s = corners[c]
        x[i, r:r + 2, s:s + 2, 0] += 2.0
    return x, y


def template() -> cnn.Model:
    return build_model((8, 8, 1), (4, 6), 8, 0.5, n_classes=N_CLASSES)


def recipes(*names: str) -> Recipe:
    config = CNNRegularizationConfig.preset("quick", dropout=0.5, weight_decay=0.5)
    return exp.stack_recipes([exp.recipe_of(name, config) for name in names])


def one(recipe: Recipe, k: int) -> Recipe:
    return Recipe(*(np.asarray(getattr(recipe, f)[k]) for f in (
        "dropout", "weight_decay", "augment", "batch_norm")))


# ---------------------------------------------------------------- recipes and layers

def test_recipe_switches_reproduce_the_single_network_layers():
    """All off: the template is the plain network (BatchNorm passes through, no dropout); batch
    norm on, dropout 0: the template in cnn.apply's training mode with its Dropout layers at 0."""
    model = template()
    params = cnn.init(model, jax.random.PRNGKey(0), (8, 8, 1))
    x, _ = blobs(16)
    off, bn = one(recipes("plain"), 0), one(recipes("batch_norm"), 0)

    plain = tuple(layer for layer in model if not isinstance(layer, (cnn.BatchNorm, cnn.Dropout)))
    plain_params = [p for layer, p in zip(model, params)
                    if not isinstance(layer, (cnn.BatchNorm, cnn.Dropout))]
    run = jax.jit(forward, static_argnames=("model", "train"))
    for train in (False, True):
        got, _ = run(model, params, x, off, jax.random.PRNGKey(1), train=train)
        np.testing.assert_allclose(got, jax.jit(cnn.apply, static_argnums=0)(
            plain, plain_params, x), rtol=1e-5, atol=1e-6)

    no_dropout = tuple(cnn.Dropout(0.0) if isinstance(layer, cnn.Dropout) else layer
                       for layer in model)
    got, moments = run(model, params, x, bn, jax.random.PRNGKey(1), train=True)
    want, want_moments = jax.jit(cnn.apply_train, static_argnums=0)(no_dropout, params, x,
                                                                    jax.random.PRNGKey(1))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert [m is None for m in moments] == [m is None for m in want_moments]


def test_dropout_rate_is_per_network_and_inverted():
    """A traced rate drops that fraction of units and scales survivors by 1 / (1 - rate)."""
    x = jnp.ones((4000, 25))
    rates = jnp.array([0.0, 0.25, 0.5])
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    y = np.asarray(jax.vmap(lambda r, k: cnn.dropout(x, r, k, True))(rates, keys))
    for out, rate in zip(y, np.asarray(rates)):
        # binomial: sd of the dropped fraction sqrt(r (1 - r) / 1e5) < 1.6e-3; allow 5 sd
        assert abs(np.mean(out == 0) - rate) < 8e-3
        np.testing.assert_allclose(out[out > 0], 1 / (1 - rate), rtol=1e-6)


def test_masks_drawn_before_the_step_are_the_ones_the_network_would_draw():
    """The training step reads keep masks drawn in their own program (cnn_many._dropout_masks):
    each network's logits with them equal, bit for bit, those that drawing from its own step key
    gives, for rates 0, 0.5 and 0.3."""
    model, (x, _) = template(), blobs(16, seed=2)
    seeds, t = np.array([5, 6, 7], np.uint32), 11
    params = init_many(model, seeds, (8, 8, 1))
    recipe = Recipe(np.array([0.0, 0.5, 0.3], np.float32), np.zeros(3, np.float32),
                    np.zeros(3, bool), np.array([False, True, False]))
    masks = cnn_many._dropout_masks(seeds, recipe.dropout, t, model=model, image_shape=(8, 8, 1),
                                    batch_size=16)
    for k in range(3):
        pick = partial(jax.tree_util.tree_map, lambda a: a[k])
        drawn, _ = forward(model, pick(params), jnp.asarray(x), pick(recipe),
                           cnn_many._step_keys(seeds[k], t)[2], train=True)
        given, _ = forward(model, pick(params), jnp.asarray(x), pick(recipe), train=True,
                           masks=pick(masks))
        np.testing.assert_array_equal(np.asarray(given), np.asarray(drawn))
    assert not np.asarray(masks[min(masks)][1]).all()  # rate 0.5 drops units


def test_weight_decay_is_decoupled_and_on_kernels_only():
    """With zero gradients AdamW moves only kernels, by -eta_t lambda w (the first step's eta_t is
    the schedule's start eta / 25)."""
    settings = ManySettings(steps=100, learning_rate=1e-2)
    params = cnn.init(template(), jax.random.PRNGKey(0), (8, 8, 1))
    optimizer = _optimizer(settings, 0.5)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    updates, _ = jax.jit(optimizer.update)(zeros, jax.jit(optimizer.init)(params), params)
    for p, u in zip(params, updates):
        for name, value in p.items():
            want = -(1e-2 / 25) * 0.5 * value if value.ndim > 1 else 0 * value
            np.testing.assert_allclose(u[name], want, rtol=1e-5, atol=1e-9)


# ---------------------------------------------------------------- vectorized training

def small_problem(dtype=np.float32) -> dict:
    """Three networks on blob images: plain; everything with early stopping; shifts + batch
    norm; 60 steps of 16 images, checkpoints every 10; images of ``dtype``."""
    x, y = blobs(300, seed=1)
    x_test, y_test = blobs(100, seed=2)
    order = np.random.default_rng(0).permutation(300)
    train = np.stack([order] * 3).astype(np.int32)
    n_train = np.array([200, 160, 200], np.int32)
    validation = np.stack([order[200:240]] * 3).astype(np.int32)
    subsets = Subsets(train, n_train, validation, np.array([0, 40, 0], np.int32))
    recipe = recipes("plain", "all", "plain")
    recipe = Recipe(recipe.dropout, recipe.weight_decay, np.array([False, True, True]),
                    np.array([False, True, True]))
    settings = ManySettings(steps=60, batch_size=16, learning_rate=1e-2, eval_every=10,
                            train_eval_images=100)
    return dict(x=x.astype(dtype), y=y, x_test=x_test.astype(dtype), y_test=y_test,
                subsets=subsets, recipe=recipe, settings=settings,
                seeds=np.array([3, 3, 4], np.uint32))


def train_problem(r: dict, k: slice = slice(None), followed: np.ndarray | None = None):
    """train_many on the networks ``k`` of a :func:`small_problem`, following ``followed``."""
    subsets = Subsets(*(a[k] for a in (r["subsets"].train, r["subsets"].n_train,
                                         r["subsets"].validation, r["subsets"].n_validation)))
    recipe = Recipe(*(np.asarray(getattr(r["recipe"], f))[k] for f in (
        "dropout", "weight_decay", "augment", "batch_norm")))
    return train_many(template(), r["seeds"][k], r["x"], r["y"], subsets, recipe,
                      r["settings"], {"test": (r["x_test"], r["y_test"])}, followed=followed)


@pytest.fixture(scope="module")
def small_run():
    r = small_problem()
    return dict(r, fit=train_problem(r))


def test_networks_learn_the_synthetic_classes(small_run):
    fit = small_run["fit"]
    assert fit.history["step"].tolist() == [10, 20, 30, 40, 50, 60]
    assert fit.history["test_accuracy"].shape == (3, 6)
    # blobs 2 units bright over noise 0.3: separable; chance is 25 %; "all" (dropout 0.5, decay,
    # shifts, 40 fewer images, a checkpoint chosen on 40 images) learns more slowly
    assert fit.final["test_accuracy"][0] > 0.9 and fit.final["test_accuracy"][2] > 0.9
    assert fit.final["test_accuracy"][1] > 0.6
    assert fit.history["train_accuracy"][0, -1] >= 0.9
    assert np.isnan(fit.history["validation_loss"][[0, 2]]).all()


def test_vectorized_training_equals_training_each_network_alone():
    """vmap over networks changes nothing but the speed: each network trained alone (same seed,
    data, recipe) retraces the same checkpoints. In float64 they agreed to 1.1e-15 (measured;
    float32: 5.8e-7); before the biases feeding batch norm were held (see
    test_gradients_under_vmap_equal_one_networks), rounding noise made the batch-norm networks
    differ by 1.4e-10 in float64 and 5 % in float32. A wrong row, seed or recipe differs by far
    more: the other networks are >= 5 % away."""
    with jax.enable_x64(True):
        r = small_problem(np.float64)
        together = train_problem(r)
        assert together.params[0]["w"].dtype == np.float64
        ours = together.history["test_loss"]
        for k in range(3):
            alone = train_problem(r, slice(k, k + 1))
            np.testing.assert_allclose(alone.history["test_loss"][0], ours[k], rtol=1e-11)
            for other in set(range(3)) - {k}:
                assert np.max(np.abs(alone.history["test_loss"][0] / ours[other] - 1)) > 0.05
            assert alone.kept[0] == together.kept[k]


def test_networks_not_followed_are_measured_once_on_the_parameters_kept():
    """A network that is not followed is measured at each checkpoint on its validation images
    only (network 1, early stopping: it keeps the same checkpoint) and otherwise once, at the
    end: its other history is NaN and its final measures equal those of a run that follows every
    network. float64: the two runs train identically and their evaluations differ only in how
    many networks one compiled program holds (rounding of order 1e-15)."""
    with jax.enable_x64(True):
        r = small_problem(np.float64)
        every = train_problem(r)
        some = train_problem(r, followed=np.array([True, False, False]))
    assert some.kept.tolist() == every.kept.tolist()
    for name, values in every.history.items():
        if name != "step":
            np.testing.assert_allclose(some.history[name][0], values[0], rtol=1e-12)
            np.testing.assert_allclose(some.final[name], every.final[name], rtol=1e-12)
    np.testing.assert_allclose(some.history["validation_loss"][1],
                               every.history["validation_loss"][1], rtol=1e-12)
    for name in ("test_loss", "test_accuracy", "train_accuracy"):
        assert np.isnan(some.history[name][1:]).all()
    assert np.isfinite(some.final["test_loss"]).all()


def test_gradients_under_vmap_equal_one_networks():
    """float64: the training-loss gradient of each of 1 and of 4 vmapped networks (batch norm
    on and off alternately) equals that network's gradient computed alone, every array to 1e-10
    of its largest entry; the biases that feed a normalising BatchNorm get exactly 0 (their
    gradient in exact arithmetic; computed, it is rounding noise that Adam amplifies into steps of
    the learning rate) and stay at 0 in training, while without batch norm they learn."""
    model = template()
    feeds_norm = [i for i in range(len(model) - 1) if isinstance(model[i + 1], cnn.BatchNorm)]
    with jax.enable_x64(True):
        x, y = blobs(16, seed=1)
        x = jnp.asarray(x, jnp.float64)

        def gradient(p, rec):
            def loss(p):
                logits, _ = forward(model, p, x, rec, jax.random.PRNGKey(1), train=True)
                return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
            return jax.grad(loss)(p)

        compile_ = partial(jax.jit, compiler_options=cnn_many.COMPILER_OPTIONS)
        single, together = compile_(gradient), compile_(jax.vmap(gradient))
        for n in (1, 4):
            params = init_many(model, np.arange(n), (8, 8, 1), np.float64)
            on = np.arange(n) % 2 == 0
            recipe = Recipe(np.zeros(n), np.zeros(n), np.zeros(n, bool), on)
            batched = together(params, recipe)
            for k in range(n):
                pick = partial(jax.tree_util.tree_map, lambda a: a[k])
                alone = single(pick(params), pick(recipe))
                for a, b in zip(jax.tree_util.tree_leaves(alone),
                                jax.tree_util.tree_leaves(pick(batched))):
                    np.testing.assert_allclose(b, a, rtol=0, atol=1e-10 * np.abs(a).max())
                for i in feeds_norm:
                    assert (np.abs(alone[i]["b"]).max() == 0) == on[k]


def test_biases_feeding_batch_norm_stay_at_zero(small_run):
    """Network 0 (batch norm off) trains the biases of the layers that feed BatchNorm layers;
    networks 1 and 2 (on) keep them at their initial 0 (before the fix they wandered by ~0.05)."""
    model, params = template(), small_run["fit"].params
    for i in (i for i in range(len(model) - 1) if isinstance(model[i + 1], cnn.BatchNorm)):
        bias = np.asarray(params[i]["b"])
        assert np.abs(bias[0]).max() > 1e-3 and not bias[1:].any()


def test_early_stopping_keeps_the_checkpoint_of_lowest_validation_loss(small_run):
    r, fit = small_run, small_run["fit"]
    val = fit.history["validation_loss"][1]
    assert fit.kept[1] == np.argmin(val) and fit.final["validation_loss"][1] == val.min()
    assert fit.kept[0] == fit.kept[2] == len(fit.history["step"]) - 1
    # the parameters returned are the kept checkpoint's: re-evaluating them gives its numbers
    weights = np.zeros((3, 1, 40), np.float32)
    weights[1] = 1.0
    loss, _ = evaluate(template(), fit.params, jax.device_put(r["recipe"]), jnp.asarray(r["x"]),
                       jnp.asarray(r["y"]), r["subsets"].validation, weights)
    np.testing.assert_allclose(loss[1, 0], val.min(), rtol=1e-5)


def test_evaluation_in_chunks_equals_one_pass(small_run, monkeypatch):
    """Evaluating 50 images per network in 8 equal chunks (7 wide, the last one padded with
    weight 0) gives the losses and accuracies of one pass: the per-chunk float32 sums, added
    in float64, differ only by rounding (1e-5 relative)."""
    r, model = small_run, template()
    index = r["subsets"].train[:, :50]
    weights = np.ones((3, 2, 50), np.float32)
    weights[:, 1, ::2] = 0.0  # a second weighting: every other image
    args = (model, r["fit"].params, jax.device_put(r["recipe"]), jnp.asarray(r["x"]),
            jnp.asarray(r["y"]), index, weights)
    whole = evaluate(*args)
    monkeypatch.setattr(cnn_many, "EVAL_FLOATS", 3 * 7 * cnn.largest_activation(model, (8, 8, 1)))
    chunked = evaluate(*args)
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(b, a, rtol=1e-5)


def test_initialisation_is_a_function_of_the_seed():
    model = template()
    a, b = init_many(model, np.array([7, 7, 8]), (8, 8, 1)), init_many(model, np.array([7]),
                                                                       (8, 8, 1))
    np.testing.assert_array_equal(a[0]["w"][0], a[0]["w"][1])
    np.testing.assert_array_equal(a[0]["w"][0], b[0]["w"][0])
    assert not np.array_equal(a[0]["w"][0], a[0]["w"][2])


# ---------------------------------------------------------------- the experiment

def test_networks_are_nested_paired_and_hold_out_validation():
    config = CNNRegularizationConfig.preset("quick", n_values=(20, 50), seeds=2)
    subsets, recipe, seeds = networks(config, 400)
    R = len(REGULARIZERS)
    assert len(seeds) == 2 * R * 2
    es = REGULARIZERS.index("early_stopping")
    for i, n in enumerate(config.n_values):
        for j, name in enumerate(REGULARIZERS):
            for s in range(2):
                k = (i * R + j) * 2 + s
                rows = subsets.train[k, :subsets.n_train[k]]
                assert seeds[k] == seeds[s]  # same start and random stream for every (n, recipe)
                if name in ("early_stopping", "all"):
                    v = round(config.validation_fraction * n)
                    assert subsets.n_validation[k] == v and len(rows) == n - v
                    assert not set(rows) & set(subsets.validation[k, :v])
                else:
                    assert subsets.n_validation[k] == 0 and len(rows) == n
                # nested: the first n of one order per seed
                k0 = (0 * R + es) * 2 + s
                np.testing.assert_array_equal(subsets.train[k, :20], subsets.train[k0, :20])
                assert recipe.batch_norm[k] == (name in ("batch_norm", "all"))
                assert (recipe.dropout[k] > 0) == (name in ("dropout", "all"))


@pytest.fixture(scope="module")
def digits_result():
    config = CNNRegularizationConfig.preset("quick", n_values=(60, 200), seeds=2, steps=60,
                                            eval_every=20, train_eval_images=100)
    messages = []
    result = exp.run(config, lambda f, m: messages.append((f, m)))
    return result, messages


def test_answers_are_computed_from_the_arrays(digits_result):
    result, messages = digits_result
    test, choice, gap = (result.arrays[k] for k in ("test_accuracy", "choice_accuracy", "gap"))
    assert test.shape == choice.shape == gap.shape == (2, len(REGULARIZERS), 2)
    plain = REGULARIZERS.index("plain")
    others = [j for j in range(len(REGULARIZERS)) if j != plain]
    best = max(others, key=lambda j: np.median(choice[0, j]))
    assert result.answer("best_regularizer_small_n").value == REGULARIZERS[best]
    gain = result.answer("gain_at_small_n")
    assert gain.value == pytest.approx(np.median(test[0, best] - test[0, plain]))
    assert gain.low <= gain.value <= gain.high
    full = max(others, key=lambda j: np.median(choice[-1, j]))
    assert result.answer("gain_at_full_n").value == pytest.approx(
        np.median(test[-1, full] - test[-1, plain]))
    closes = result.answer("gap_closes_with_data")
    gap_full = np.median(gap[-1, plain])
    assert closes.value == ("yes" if gap_full <= exp.CLOSED_GAP else "no")
    assert f"{100 * gap_full:.1f} points at n = 200" in closes.explanation
    assert result.metrics["networks"] == 2 * len(REGULARIZERS) * 2
    assert result.metrics["n_test"] + result.metrics["n_choice"] == configs.DIGITS_HELD_OUT
    assert result.metrics["n_pool"] == 1797 - configs.DIGITS_HELD_OUT == 1437
    assert set(result.figures) == {"accuracy_vs_size.png", "learning_curves.png"}
    assert_nothing_cut_off(result.figures)
    assert result.arrays["curve_test_accuracy"].shape == (len(REGULARIZERS), 2, 3)
    kept = result.arrays["kept_step"][0, REGULARIZERS.index("early_stopping")]  # n = 60
    caption = result.captions["learning_curves.png"]
    steps = sorted({int(k) for k in kept})
    assert (f"(steps {', '.join(map(str, steps))})" in caption if len(steps) > 1
            else f"(step {steps[0]})" in caption)
    fractions = [f for f, _ in messages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@pytest.mark.parametrize("kept, label", [([50, 50, 50], "early-stopping checkpoint kept"),
                                         ([225, 50, 100], "early-stopping checkpoints kept")])
def test_learning_curve_figure_marks_each_kept_checkpoint(kept, label):
    """One dotted line per distinct step the seeds' early-stopping networks kept, and a legend
    entry in the number the lines have."""
    from overfitlab.plots.cnn_regularization import learning_curves_figure

    steps, recipes, seeds = np.arange(25, 301, 25), len(REGULARIZERS), len(kept)
    curves = np.full((recipes, seeds, len(steps)), 50.0)
    fig = learning_curves_figure(steps, list(REGULARIZERS), curves, curves, np.array(kept), 100)
    ax_test = fig.axes[1]
    dotted = [line.get_xdata()[0] for line in ax_test.get_lines() if line.get_linestyle() == ":"]
    assert sorted(dotted) == sorted(set(kept))
    assert [t.get_text() for t in ax_test.get_legend().get_texts()][-1] == label


def fashion_files(folder, n_train: int = 240, n_test: int = 80, learnable: bool = True):
    """MNIST-format files of 28x28 blob images (10 classes: a bright square per class), or with
    ``learnable=False`` of noise alone, where the labels say nothing about the images."""
    for name, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        rng = np.random.default_rng(seed)
        labels = np.arange(n) % 10
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(labels if learnable else ()):
            r, s = 2 + 8 * (c // 4), 2 + 8 * (c % 4)
            images[i, r:r + 5, s:s + 5] = 250
        write_idx(folder / f"{name}-images-idx3-ubyte", images, False)
        write_idx(folder / f"{name}-labels-idx1-ubyte", labels.astype(np.uint8), True)


def test_fashion_mnist_from_a_directory_and_the_debian_default(tmp_path, monkeypatch):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    fashion_files(folder)
    x, y, x_test, y_test = load_fashion_mnist(tmp_path)  # found in the sub-folder
    assert x.shape == (240, 28, 28, 1) and x_test.shape == (80, 28, 28, 1)
    monkeypatch.delenv("OVERFITLAB_DATA", raising=False)
    monkeypatch.setattr(configs, "default_directory", lambda: folder)
    config = CNNRegularizationConfig.preset("quick", dataset="fashion-mnist", n_values=(40, 100),
                                            held_out=40, seeds=1, steps=20, eval_every=10)
    assert config.data_dir == str(folder)
    result = exp.run(config)
    assert result.metrics["n_pool"] == 240 and result.metrics["n_test"] == 20
    assert "official test images" in result.notes[0]
    monkeypatch.setattr(configs, "default_directory", lambda: None)
    with pytest.raises(ConfigError, match="dataset-fashion-mnist"):
        CNNRegularizationConfig(dataset="fashion-mnist")


@pytest.mark.parametrize("overrides,match", [
    ({"dataset": "cifar"}, "dataset="),
    ({"dataset": "mnist"}, "data_dir"),
    ({"n_values": (100, 50)}, "increasing"),
    ({"n_values": (5, 50)}, r"n_values must be in \[10, "),
    ({"n_values": (100, 1500)}, "1437 training images"),
    ({"dropout": 0.0}, "dropout"),
    ({"weight_decay": -1.0}, "weight_decay"),
    ({"channels": (8,)}, "channels"),
    ({"curve_n": 7}, "curve_n"),
    ({"eval_every": 0}, "eval_every"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
])
def test_config_errors_name_the_field(overrides, match, monkeypatch):
    monkeypatch.delenv("OVERFITLAB_DATA", raising=False)
    with pytest.raises(ConfigError, match=match):
        CNNRegularizationConfig.preset("full", **overrides)


def test_mnist_sizes_beyond_the_pool_are_a_config_error(tmp_path):
    fashion_files(tmp_path, n_train=60, n_test=40)
    config = CNNRegularizationConfig.preset("quick", dataset="mnist", data_dir=str(tmp_path),
                                            n_values=(20, 100), held_out=20)
    with pytest.raises(ConfigError, match="leaves only 60"):
        exp.run(config)


def test_cli_bad_sizes_and_missing_files_exit_2_with_one_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from overfitlab.cli import app

    monkeypatch.delenv("OVERFITLAB_DATA", raising=False)
    monkeypatch.setattr(configs, "default_directory", lambda: None)
    runner = CliRunner()
    for args in (["--set", "n_values=100,5000"], ["--set", "dataset=fashion-mnist"],
                 ["--set", "dataset=mnist", "--data-dir", str(tmp_path / "nowhere")]):
        result = runner.invoke(app, ["run", "cnn-regularization", "--out", str(tmp_path / "out"),
                                     *args])
        assert result.exit_code == 2, result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_diverged_networks_follow_the_engine_rule():
    """Non-finite, or more than DIVERGENCE_FACTOR x log(10) (the uniform prediction's loss)."""
    from overfitlab.engine.train import DIVERGENCE_FACTOR
    from overfitlab.experiments.cnn_regularization import diverged_networks

    bound = DIVERGENCE_FACTOR * np.log(10)
    loss = np.array([0.3, np.nan, np.inf, bound * 0.99, bound * 1.01])
    assert diverged_networks(loss, 10).tolist() == [False, True, True, False, True]


def test_a_run_where_nothing_learns_is_refused_not_explained(tmp_path, monkeypatch):
    """Labels independent of the images: every recipe's test accuracy is chance, 10 % (on 1,000
    balanced test images its standard deviation is at most 0.95 points, so the refusal threshold,
    chance + 5 points, is 5.3 deviations away for each of the 7 recipes): one clear error, no
    answers that rank regularizers by noise."""
    fashion_files(tmp_path, n_train=200, n_test=2000, learnable=False)
    monkeypatch.delenv("OVERFITLAB_DATA", raising=False)
    config = CNNRegularizationConfig.preset("quick", dataset="fashion-mnist",
                                            data_dir=str(tmp_path), n_values=(100,), curve_n=100,
                                            held_out=2000, steps=50, eval_every=25, seeds=1)
    with pytest.raises(DivergedError, match="no network learned"):
        exp.run(config)
