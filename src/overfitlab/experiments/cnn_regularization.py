"""cnn-regularization: what dropout, weight decay, data augmentation, batch normalisation and early
stopping do for a convolutional network that overfits a small training set.

A small CNN (conv 3x3, max-pool, conv 3x3, max-pool, dense, output; "same" padding) is trained on
nested random subsets of ``n`` images of one data set (scikit-learn's 8x8 digits by default, from
100 images to all 1,437 training images; MNIST or Fashion-MNIST from local files), once plainly
and once with each regularizer:

* ``dropout``: inverted dropout of rate ``dropout`` on the flattened features and the hidden units;
* ``weight_decay``: decoupled weight decay ``w <- w - eta_t lambda w`` on kernels (AdamW);
* ``augment``: each training image shifted by a random whole number of pixels in
  ``[-shift, shift]`` along each axis, at every step;
* ``batch_norm``: batch normalisation before every ReLU;
* ``early_stopping``: a fifth (``validation_fraction``) of the ``n`` images is held out of
  training as a validation set, and the checkpoint with the lowest validation loss is kept;
* ``all``: everything at once.

Every network gets the same budget: ``steps`` AdamW steps on batches of ``batch_size`` images
drawn with replacement from its training set, under a one-cycle cosine learning-rate schedule. For
a given seed every network starts from the same initial weights and draws from the same random
stream, and the subsets are nested (the ``n`` images are the first ``n`` of one random order of
the pool), so comparisons between regularizers and sizes are paired. All
(size x regularizer x seed) networks train at once, vectorized in one compiled step
(:mod:`overfitlab.engine.cnn_many`).

The held-out images are split in two halves (stratified, fixed): a *choice* half, on which the
best regularizer is chosen, and a *test* half, on which every reported accuracy is measured
(nothing reported as a test accuracy chose anything). The train-test gap is the accuracy on (up
to ``train_eval_images`` of) the network's own training images, in evaluation mode, minus the
test accuracy.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from overfitlab.data.digits import load_digits
from overfitlab.data.fashion_mnist import load_fashion_mnist
from overfitlab.data.mnist import load_mnist
from overfitlab.engine import cnn
from overfitlab.engine.cnn_many import ManySettings, Recipe, Subsets, train_many
from overfitlab.engine.train import DIVERGENCE_FACTOR
from overfitlab.errors import ConfigError, DivergedError
from overfitlab.experiments.configs.cnn_regularization import (REGULARIZERS,
                                                               CNNRegularizationConfig)
from overfitlab.experiments.base import Answer, Experiment, Result
from overfitlab.experiments._verdicts import alive_or_raise, diverged_note
from overfitlab.experiments.cnn import holdout_split
from overfitlab.progress import Progress, no_progress, scaled
from overfitlab.stats import band, float_band

LABELS = {"plain": "none", "dropout": "dropout", "weight_decay": "weight decay",
          "augment": "random shifts", "batch_norm": "batch norm",
          "early_stopping": "early stopping", "all": "all together"}
N_CLASSES = 10  # digits, MNIST and Fashion-MNIST
CHANCE_MARGIN = 0.05
"""Below chance + 5 accuracy points at every size and recipe, no network learned."""
CLOSED_GAP = 0.02
"""The train-test gap "closes" when its median falls to 2 accuracy points or less."""


@dataclass
class HeldOutData:
    """Standardised images: the pool training subsets are drawn from, and the two held-out
    halves (choice, test)."""

    x_pool: np.ndarray
    y_pool: np.ndarray
    x_choice: np.ndarray
    y_choice: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    note: str


def load_data(config: CNNRegularizationConfig) -> HeldOutData:
    """The pool and the held-out halves: ``held_out`` images (stratified, fixed) from the
    official test split where there is one, else from the training split (and kept out of the
    pool); standardised with the pool's mean and standard deviation."""
    if config.dataset == "digits":
        x, y = load_digits()
        x_test = y_test = None
        source = "scikit-learn's bundled 8x8 digits"
    else:
        loader = load_mnist if config.dataset == "mnist" else load_fashion_mnist
        x, y, x_test, y_test = loader(config.data_dir)
        source = f"{config.dataset} from {config.data_dir}"
    if x_test is None:
        if config.held_out > len(y) // 2:
            raise ConfigError(f"held_out={config.held_out} is more than half of the "
                              f"{len(y)} images of {source}; lower it")
        pool, held = holdout_split(y, config.held_out / len(y))
        x_held, y_held = x[held], y[held]
        x, y = x[pool], y[pool]
        note = (f"{source} has no official test split: {len(held)} of its images (stratified, "
                f"fixed) were held out; training sets are drawn from the other {len(y)}.")
    else:
        if config.held_out > len(y_test):
            raise ConfigError(f"held_out={config.held_out} exceeds the {len(y_test)} test "
                              f"images of {source}; lower it")
        held = holdout_split(y_test, config.held_out / len(y_test))[1]
        x_held, y_held = x_test[held], y_test[held]
        note = (f"Held-out images: {len(held)} of the {len(y_test)} official test images of "
                f"{source} (stratified, fixed); training sets are drawn from its {len(y)} "
                "training images.")
    if config.n_values[-1] > len(y):
        raise ConfigError(f"n_values reach {config.n_values[-1]} but {source} leaves only "
                          f"{len(y)} training images; lower n_values")
    choice, test = holdout_split(y_held, 0.5)
    mean, std = float(x.mean()), float(x.std())
    standardise = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    return HeldOutData(standardise(x), y, standardise(x_held[choice]), y_held[choice],
                       standardise(x_held[test]), y_held[test], note)


def build_model(image_shape: tuple[int, ...], channels: tuple[int, ...], dense_hidden: int,
                dropout: float, n_classes: int = N_CLASSES) -> cnn.Model:
    """conv 3x3 "same" - BN - ReLU - max-pool 2 - conv 3x3 "valid" - BN - ReLU - [max-pool 2 when
    the maps are at least 8 wide] - flatten - dropout - dense - BN - ReLU - dropout - dense
    ``n_classes``. On 8x8 digits: 8 -> 4 -> 2, 2 x 2 x c2 features; on 28x28: 28 -> 14 -> 12 ->
    6. Each network's recipe switches the BatchNorm layers and sets the dropout rate
    (:mod:`overfitlab.engine.cnn_many`)."""
    c1, c2 = channels
    head = (cnn.Conv(c1, 3, "same"), cnn.BatchNorm(), cnn.Activation("relu"), cnn.Pool("max", 2),
            cnn.Conv(c2, 3, "valid"), cnn.BatchNorm(), cnn.Activation("relu"))
    if cnn.output_shape(head, image_shape)[0] >= 8:
        head += (cnn.Pool("max", 2),)
    return head + (cnn.Flatten(), cnn.Dropout(dropout), cnn.Dense(dense_hidden),
                   cnn.BatchNorm(), cnn.Activation("relu"), cnn.Dropout(dropout),
                   cnn.Dense(n_classes))


def recipe_of(name: str, config: CNNRegularizationConfig) -> dict[str, Any]:
    """The regularization settings of one named recipe."""
    on = {"dropout": name in ("dropout", "all"), "weight_decay": name in ("weight_decay", "all"),
          "augment": name in ("augment", "all"), "batch_norm": name in ("batch_norm", "all"),
          "early_stopping": name in ("early_stopping", "all")}
    return {"dropout": config.dropout if on["dropout"] else 0.0,
            "weight_decay": config.weight_decay if on["weight_decay"] else 0.0,
            "augment": on["augment"], "batch_norm": on["batch_norm"],
            "early_stopping": on["early_stopping"]}


def stack_recipes(rows: list[dict[str, Any]]) -> Recipe:
    """The engine's per-network arrays from one :func:`recipe_of` dict per network."""
    return Recipe(*(np.asarray([r[field] for r in rows], dtype) for field, dtype in (
        ("dropout", np.float32), ("weight_decay", np.float32), ("augment", bool),
        ("batch_norm", bool))))


def network_seed(config: CNNRegularizationConfig, s: int) -> int:
    """The integer that draws seed ``s``'s initial weights and random stream."""
    return int(np.random.SeedSequence([config.seed, s]).generate_state(1)[0])


def networks(config: CNNRegularizationConfig, pool_size: int) -> tuple[Subsets, Recipe,
                                                                        np.ndarray]:
    """Subsets, recipes and seeds of the (size, regularizer, seed) networks, in that
    (C-order) arrangement. Seed ``s`` orders the pool once at random; size ``n`` trains on the
    first ``n`` images of that order (the first ``n - v`` with early stopping, validating on the
    next ``v = max(1, round(validation_fraction n))``)."""
    orders = [np.random.default_rng([config.seed, s, 1]).permutation(pool_size)
              for s in range(config.seeds)]
    width = config.n_values[-1]
    widest_validation = max(1, round(config.validation_fraction * width))
    train, n_train, validation, n_validation, recipes, seeds = [], [], [], [], [], []
    for n in config.n_values:
        for name in REGULARIZERS:
            recipe = recipe_of(name, config)
            v = max(1, round(config.validation_fraction * n)) if recipe["early_stopping"] else 0
            for s, order in enumerate(orders):
                train.append(order[:width])
                n_train.append(n - v)
                validation.append(np.pad(order[n - v:n], (0, widest_validation - v)))
                n_validation.append(v)
                recipes.append(recipe)
                seeds.append(network_seed(config, s))
    recipe = stack_recipes(recipes)
    subsets = Subsets(np.stack(train).astype(np.int32), np.asarray(n_train, np.int32),
                      np.stack(validation).astype(np.int32), np.asarray(n_validation, np.int32))
    return subsets, recipe, np.asarray(seeds, np.uint32)


def run(config: CNNRegularizationConfig, progress: Progress = no_progress) -> Result:
    """Train every (size, regularizer, seed) network at once; measure, plot, answer."""
    start = time.perf_counter()
    progress(0.0, f"loading {config.dataset}")
    data = load_data(config)
    model = build_model(data.x_pool.shape[1:], config.channels, config.dense_hidden,
                        config.dropout)
    subsets, recipe, seeds = networks(config, len(data.y_pool))
    N, R, S = len(config.n_values), len(REGULARIZERS), config.seeds
    c = config.n_values.index(config.curve_n)
    settings = ManySettings(steps=config.steps, batch_size=config.batch_size,
                            learning_rate=config.learning_rate, shift=config.shift,
                            eval_every=config.eval_every,
                            train_eval_images=config.train_eval_images)
    fit = train_many(model, seeds, data.x_pool, data.y_pool, subsets, recipe, settings,
                     {"test": (data.x_test, data.y_test),
                      "choice": (data.x_choice, data.y_choice)},
                     scaled(progress, 0.02, 0.95),
                     followed=np.arange(N * R * S) // (R * S) == c)  # the learning curves' size
    progress(0.95, "figures")
    grid = lambda a: np.asarray(a).reshape(N, R, S, *np.shape(a)[1:])  # noqa: E731
    diverged = diverged_networks(fit.final["test_loss"], N_CLASSES)
    alive_or_raise(diverged, config.learning_rate, "CNNs")
    left_out = lambda a: np.where(diverged, np.nan, a)  # noqa: E731
    test, choice = grid(left_out(fit.final["test_accuracy"])), grid(
        left_out(fit.final["choice_accuracy"]))
    gap = grid(left_out(fit.final["train_accuracy"])) - test
    require_learning(test, config)
    curves = {name: grid(fit.history[name])[c] for name in ("test_accuracy", "train_accuracy")}
    kept_step = grid(fit.history["step"][fit.kept])  # (size, recipe, seed)
    kept_early = kept_step[c, REGULARIZERS.index("early_stopping")]

    from overfitlab.plots.cnn_regularization import learning_curves_figure, size_figure

    labels = [LABELS[r] for r in REGULARIZERS]
    figures = {
        "accuracy_vs_size.png": size_figure(config.n_values, labels, test, gap),
        "learning_curves.png": learning_curves_figure(
            fit.history["step"], labels, curves["train_accuracy"], curves["test_accuracy"],
            kept_early, config.curve_n),
    }
    answers, summary = _answers(config, test, choice, gap)
    note = diverged_note(int(diverged.sum()), diverged.size)
    if note:
        answers = [replace(a, explanation=a.explanation + note) for a in answers]
    captions = _captions(config, test, gap, kept_early)
    parameters = cnn.n_parameters(model, data.x_pool.shape[1:])
    images = len(seeds) * config.steps * config.batch_size
    metrics = {
        **summary,
        "networks": len(seeds), "diverged": int(diverged.sum()), "parameters": parameters,
        "parameters_without_batch_norm": parameters - 2 * (sum(config.channels)
                                                           + config.dense_hidden),
        "train_seconds": fit.seconds, "images_per_second": images / fit.seconds,
        "n_pool": len(data.y_pool), "n_test": len(data.y_test), "n_choice": len(data.y_choice),
    }
    for i, n in enumerate(config.n_values):
        for j, r in enumerate(REGULARIZERS):
            metrics[f"test_accuracy_{r}_n{n}"] = _median(test[i, j])
            metrics[f"gap_{r}_n{n}"] = _median(gap[i, j])
    arrays = {"n_values": np.asarray(config.n_values), "regularizers": np.asarray(REGULARIZERS),
              "test_accuracy": test, "choice_accuracy": choice, "gap": gap,
              "curve_steps": fit.history["step"], "curve_test_accuracy": curves["test_accuracy"],
              "curve_train_accuracy": curves["train_accuracy"], "kept_step": kept_step}
    notes = [
        data.note,
        f"The held-out images are split in halves: {len(data.y_choice)} choose the best "
        f"regularizer, {len(data.y_test)} measure every reported test accuracy.",
        f"{len(seeds)} networks ({N} sizes x {R} recipes x {S} seeds) of {parameters:,} "
        f"parameters ({metrics['parameters_without_batch_norm']:,} without batch norm) trained "
        f"at once: {config.steps} AdamW steps of {config.batch_size} images each, peak learning "
        f"rate {config.learning_rate:g}; {fit.seconds:.1f} s of training "
        f"({metrics['images_per_second']:,.0f} images per second) on this machine.",
        f"Recipes: dropout {config.dropout:g}; weight decay {config.weight_decay:g} (decoupled, "
        f"kernels only); random shifts of up to {config.shift} pixel(s); batch norm before "
        f"every ReLU; early stopping on {config.validation_fraction:.0%} of the n images, "
        f"evaluated every {config.eval_every} steps; 'all together' combines them.",
        f"Training accuracy is measured in evaluation mode on up to {config.train_eval_images} "
        "of each network's own training images.",
    ]
    progress(1.0, "done")
    return Result("cnn-regularization", config, metrics, answers, figures, arrays, notes,
                  time.perf_counter() - start, captions=captions)


def _median(values: Any) -> float:
    """Median ignoring NaN (diverged networks); NaN, without a warning, when all are NaN."""
    return float(band(np.ravel(values))[0])


def _ranked(accuracies: Any) -> float:
    """Median accuracy for ranking recipes: -inf where every network diverged (ranks last)."""
    value = _median(accuracies)
    return value if np.isfinite(value) else -np.inf


def diverged_networks(test_loss: np.ndarray, n_classes: int) -> np.ndarray:
    """Networks whose test log-loss is non-finite or above ``DIVERGENCE_FACTOR`` times that of
    the constant uniform prediction, log(n_classes): the engine's rule for the MLP."""
    loss = np.asarray(test_loss, float)
    return ~np.isfinite(loss) | (loss > DIVERGENCE_FACTOR * np.log(n_classes))


def require_learning(test: np.ndarray, config: CNNRegularizationConfig) -> None:
    """DivergedError when no (size, recipe) reaches a median test accuracy of
    ``CHANCE_MARGIN`` above chance: there is then nothing to compare."""
    chance = 1 / N_CLASSES
    best = float(np.nanmax(band(test, axis=-1)[0]))
    if best < chance + CHANCE_MARGIN:
        raise DivergedError(
            f"no network learned: the best median test accuracy is {best:.1%}, chance is "
            f"{chance:.0%}; lower the learning rate (now {config.learning_rate:g}, e.g. --set "
            f"learning_rate={config.learning_rate / 10:g}) or train longer (--set steps=...)")


def _captions(config: CNNRegularizationConfig, test: np.ndarray, gap: np.ndarray,
              kept_early: np.ndarray) -> dict[str, str]:
    """What to look at in each figure, with the numbers that show it."""
    plain = REGULARIZERS.index("plain")
    bands = "" if config.seeds == 1 else f", bands 10-90 % over {config.seeds} seeds"
    return {
        "accuracy_vs_size.png":
            f"Test accuracy (left) and train-test gap (right) against the training-set size, "
            f"one line per regularizer{bands}: the plain network goes from "
            f"{_median(test[0, plain]):.1%} at n = {config.n_values[0]} to "
            f"{_median(test[-1, plain]):.1%} at n = {config.n_values[-1]}, and its gap from "
            f"{100 * _median(gap[0, plain]):.1f} to {100 * _median(gap[-1, plain]):.1f} "
            f"points; look at how far the lines spread at small n and how they meet at large n.",
        "learning_curves.png":
            f"Training (left, evaluation mode) and test accuracy (right) at each checkpoint of "
            f"the {config.steps} steps at n = {config.curve_n}, one line per regularizer: look "
            f"at where the test curves flatten while the training curves keep rising; "
            f"{_kept_lines(kept_early)}.",
    }


def _kept_lines(kept_early: np.ndarray) -> str:
    """What the learning-curve figure's dotted lines show: one per distinct checkpoint step
    that a seed's early-stopping network kept."""
    steps = np.unique(kept_early).astype(int)
    if len(steps) == 1:
        return f"the dotted line marks the checkpoint early stopping kept (step {steps[0]})"
    return (f"the dotted lines mark the checkpoints that the {len(kept_early)} seeds' "
            f"early-stopping networks kept (steps {', '.join(map(str, steps))})")


def _answers(config: CNNRegularizationConfig, test: np.ndarray, choice: np.ndarray,
             gap: np.ndarray) -> tuple[list[Answer], dict[str, float]]:
    """The four answers from the (size, regularizer, seed) accuracies and gaps."""
    plain = REGULARIZERS.index("plain")
    others = [j for j in range(len(REGULARIZERS)) if j != plain]
    n_small, n_full = config.n_values[0], config.n_values[-1]

    def best_at(i: int) -> int:
        """The regularizer of highest median accuracy on the choice half at size index i."""
        return max(others, key=lambda j: _ranked(choice[i, j]))

    def gain(i: int, j: int) -> tuple[float, float | None, float | None]:
        """Median and 10-90 % band over seeds (no band for one seed) of the paired
        test-accuracy gain over plain."""
        med, lo, hi = float_band(test[i, j] - test[i, plain])
        return (med, lo, hi) if config.seeds > 1 else (med, None, None)

    small, full = best_at(0), best_at(-1)
    g_small, g_full = gain(0, small), gain(-1, full)
    g_small_at_full = gain(-1, small)
    acc = lambda i, j: _median(test[i, j])  # noqa: E731
    name = lambda j: LABELS[REGULARIZERS[j]]  # noqa: E731
    ranking = sorted(others, key=lambda j: -_ranked(choice[0, j]))
    gap_small, gap_full = (_median(gap[i, plain]) for i in (0, -1))
    closes = gap_full <= CLOSED_GAP
    narrowest = min(others, key=lambda j: _median(gap[-1, j]))
    helps = lambda g: "raises" if g[0] > 0 else "does not raise"  # noqa: E731
    points = lambda g: (f"{100 * g[0]:+.1f} points" + (  # noqa: E731
        f" (10-90 % over {config.seeds} seeds {100 * g[1]:+.1f} to {100 * g[2]:+.1f})"
        if g[1] is not None else " (one seed)"))
    answers = [
        Answer("best_regularizer_small_n",
               f"Which regularizer helps most with only n = {n_small} training images?",
               REGULARIZERS[small],
               f"{name(small).capitalize()}, chosen on the choice half of the held-out images: "
               f"median accuracy {_median(choice[0, small]):.1%} against "
               f"{_median(choice[0, plain]):.1%} without regularization"
               + ("" if _median(choice[0, small]) > _median(choice[0, plain]) else
                  " (no regularizer beats the plain network there; this one does least harm)")
               + "; the ranking there is "
               + ", ".join(f"{name(j)} {_median(choice[0, j]):.1%}" for j in ranking)
               + f". On the test half it reaches {acc(0, small):.1%} against "
               f"{acc(0, plain):.1%}."),
        Answer("gain_at_small_n",
               f"How much test accuracy (fraction) does it add at n = {n_small}?", g_small[0],
               f"{name(small).capitalize()} {helps(g_small)} the test accuracy at n = {n_small}: "
               f"{points(g_small)}, from {acc(0, plain):.1%} to {acc(0, small):.1%}.",
               g_small[1], g_small[2]),
        Answer("gain_at_full_n",
               f"And with all n = {n_full} training images (the best regularizer there)?",
               g_full[0],
               f"At n = {n_full} the best regularizer on the choice half is {name(full)}: "
               f"{points(g_full)} over the plain network's {acc(-1, plain):.1%}. "
               f"{name(small).capitalize()}, the best at n = {n_small}, gives "
               f"{points(g_small_at_full)} there, against {points(g_small)} at n = {n_small}: "
               + ("regularization matters less with more data."
                  if abs(g_small_at_full[0]) < abs(g_small[0])
                  else "its effect did not shrink with more data."),
               g_full[1], g_full[2]),
        Answer("gap_closes_with_data",
               "Does the train-test gap of the unregularized network close with more data?",
               "yes" if closes else "no",
               f"{'Yes' if closes else 'No'}: the plain network's training accuracy exceeds its "
               f"test accuracy by {100 * gap_small:.1f} points at n = {n_small} and "
               f"{100 * gap_full:.1f} points at n = {n_full} ("
               + ("it narrows" if gap_full < gap_small else "it does not narrow")
               + f"; 'closes' means {100 * CLOSED_GAP:g} points or less). At n = {n_full} "
               f"{name(narrowest)} leaves the smallest gap, "
               f"{100 * _median(gap[-1, narrowest]):.1f} points."),
    ]
    summary = {"gain_at_small_n": g_small[0], "gain_at_full_n": g_full[0],
               "gap_plain_small_n": gap_small, "gap_plain_full_n": gap_full,
               "test_accuracy_plain_small_n": acc(0, plain),
               "test_accuracy_plain_full_n": acc(-1, plain)}
    return answers, summary


EXPERIMENT = Experiment(
    name="cnn-regularization",
    description="A CNN on 100 to 1,437 digits (or MNIST, Fashion-MNIST subsets): what dropout, "
                "weight decay, shifts, batch norm and early stopping add at each size.",
    config_class=CNNRegularizationConfig,
    run=run,
    order=87,
)
