"""cnn: a convolutional network against a fully connected one on the same images and budget.

The course replaces the weighted sum of a neuron by a convolution: one small kernel slides over the
whole image, so a layer needs ``kh kw C_in C_out`` weights however large the image is. This
experiment trains the Keras "simple MNIST convnet" (digits and CIFAR-10 by default), a small
VGG-style convnet with batch normalisation, its compact variant (MNIST by default) or LeNet-5 on
scikit-learn's 8x8 digits (default), MNIST or CIFAR-10 read from local files, then trains a fully
connected network on the same data with the same optimizer, schedule and number of epochs, and
compares parameters and accuracy. A CNN run is costly, so a single seed is the default
(``seeds=1``); more seeds give the 10-90 % band of every seed-dependent answer.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from overfitlab.data.cifar10 import CLASSES as CIFAR_CLASSES
from overfitlab.data.cifar10 import load_cifar10
from overfitlab.data.digits import load_digits
from overfitlab.data.mnist import load_mnist
from overfitlab.engine import cnn, threefry
from overfitlab.engine.cnn_train import Fit, TrainSettings, evaluate, fit
from overfitlab.experiments.configs.cnn import CNNConfig
from overfitlab.experiments.base import Answer, Experiment, Progress, Result, band, no_progress
from overfitlab.plots import cnn as plots

ARCHITECTURE_NAMES = {"simple": "simple convnet", "lenet5": "LeNet-5",
                      "vgg": "VGG-style convnet", "compact": "compact convnet"}
TRAIN_ACCURACY_IMAGES = 10_000  # training accuracy is measured on at most this many images


@dataclass
class ImageData:
    """Standardised train/test images (NHWC) and labels, plus how the test set was obtained."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    held_out: bool
    note: str


def holdout_split(labels: np.ndarray, fraction: float,
                  how: str = "stratified") -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` with ``round(fraction n)`` test images.

    ``"stratified"`` draws them per class in proportion from a fixed generator (the split does
    not depend on the seed); ``"last"`` takes the end of the file, the convention of MNIST's
    50,000/10,000 train/validation split (mnist.pkl.gz).
    """
    n_test = round(fraction * len(labels))
    if how == "last":
        return np.arange(len(labels) - n_test), np.arange(len(labels) - n_test, len(labels))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(labels))
    # Rank each image within its class, then take the lowest relative ranks: stratified.
    rank = np.empty(len(labels))
    for c in np.unique(labels):
        members = order[labels[order] == c]
        rank[members] = (np.arange(len(members)) + 0.5) / len(members)
    test = np.sort(np.argsort(rank, kind="stable")[:n_test])
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test


def load_data(config: CNNConfig) -> ImageData:
    """Load the configured dataset, hold out a test set if it has none, standardise per channel
    with the training mean and standard deviation."""
    if config.dataset == "digits":
        x, y = load_digits()
        x_test = y_test = None
        names = tuple(str(d) for d in range(10))
        source = "scikit-learn's bundled 8x8 digits"
    else:
        loader = load_mnist if config.dataset == "mnist" else load_cifar10
        x, y, x_test, y_test = loader(config.data_dir)
        names = tuple(str(d) for d in range(10)) if config.dataset == "mnist" else CIFAR_CLASSES
        source = f"{config.dataset} from {config.data_dir}"
    held_out = x_test is None
    if held_out:
        train, test = holdout_split(y, config.holdout_fraction, config.holdout)
        x, y, x_test, y_test = x[train], y[train], x[test], y[test]
        how = ("a fixed stratified random sample" if config.holdout == "stratified"
               else "the last ones in the file")
        note = (f"No official test split for {source}: {len(test)} of its {len(train) + len(test)}"
                f" training images ({config.holdout_fraction:.1%}, {how}) were held out as the "
                "test set and never trained on.")
    else:
        note = f"Tested on the official test split of {source} ({len(x_test)} images)."
    mean = x.mean(axis=(0, 1, 2))
    std = x.std(axis=(0, 1, 2))
    standardise = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    return ImageData(standardise(x), y, standardise(x_test), y_test, names, held_out, note)


def _share(progress: Progress, lo: float, hi: float) -> Progress:
    """Map a sub-task's progress in [0, 1] onto [lo, hi] of the whole run."""
    return lambda fraction, message: progress(lo + (hi - lo) * fraction, message)


def _seed_key(config: CNNConfig, index: int) -> np.ndarray:
    return threefry.fold_in(threefry.prng_key(config.seed), index)


def _train_subset(n: int) -> np.ndarray:
    return np.random.default_rng(1).permutation(n)[: min(n, TRAIN_ACCURACY_IMAGES)]


def _dense_equivalent(model: cnn.Model, image_shape: tuple[int, ...]) -> int:
    """Parameters a dense layer would need to map the image to the first conv layer's output."""
    first = cnn.output_shape(model[:1], image_shape)
    n_in, n_out = int(np.prod(image_shape)), int(np.prod(first))
    return n_in * n_out + n_out


def run(config: CNNConfig, progress: Progress = no_progress) -> Result:
    """Train the CNN and the MLP baseline on ``config.seeds`` seeds; measure, plot, answer."""
    start = time.perf_counter()
    progress(0.0, f"loading {config.dataset}")
    data = load_data(config)
    shape = data.x_train.shape[1:]
    n_classes = len(data.class_names)
    model = cnn.build(config.architecture, n_classes, shape, config.padding, config.width,
                      config.dropout, config.dense_hidden, config.batch_norm)
    baseline = cnn.mlp(n_classes, config.mlp_hidden, config.dropout)
    settings = TrainSettings(epochs=config.epochs, batch_size=config.batch_size,
                             learning_rate=config.learning_rate,
                             weight_decay=config.weight_decay,
                             augment_shift=config.shift if config.augment else 0,
                             label_smoothing=config.label_smoothing)
    subset = _train_subset(len(data.x_train))

    cnn_fits: list[Fit] = []
    mlp_fits: list[Fit] = []
    per_seed: dict[str, list[float]] = {k: [] for k in (
        "test_accuracy", "train_accuracy", "test_loss", "mlp_test_accuracy",
        "mlp_train_accuracy", "train_seconds", "mlp_train_seconds", "images_per_second")}
    predictions = None
    share = 1.0 / config.seeds
    for s in range(config.seeds):
        key_cnn, key_mlp = threefry.split(_seed_key(config, s))
        tag = f" seed {s + 1}/{config.seeds}" if config.seeds > 1 else ""

        f_cnn = fit(model, key_cnn, data.x_train, data.y_train, data.x_test, data.y_test,
                    settings, _share(progress, (s + 0.0) * share, (s + 0.8) * share),
                    label="CNN" + tag)
        f_mlp = fit(baseline, key_mlp, data.x_train, data.y_train, data.x_test, data.y_test,
                    settings, _share(progress, (s + 0.8) * share, (s + 1.0) * share),
                    label="MLP" + tag)
        test_loss, test_acc, pred = evaluate(model, f_cnn.params, data.x_test, data.y_test)
        _, train_acc, _ = evaluate(model, f_cnn.params, data.x_train[subset],
                                   data.y_train[subset])
        _, mlp_test_acc, _ = evaluate(baseline, f_mlp.params, data.x_test, data.y_test)
        _, mlp_train_acc, _ = evaluate(baseline, f_mlp.params, data.x_train[subset],
                                       data.y_train[subset])
        predictions = pred if predictions is None else predictions
        cnn_fits.append(f_cnn)
        mlp_fits.append(f_mlp)
        for name, value in (("test_accuracy", test_acc), ("train_accuracy", train_acc),
                            ("test_loss", test_loss), ("mlp_test_accuracy", mlp_test_acc),
                            ("mlp_train_accuracy", mlp_train_acc),
                            ("train_seconds", f_cnn.train_seconds),
                            ("mlp_train_seconds", f_mlp.train_seconds),
                            ("images_per_second", f_cnn.images_per_second)):
            per_seed[name].append(value)

    stats = {k: band(v) for k, v in per_seed.items()}
    med = {k: float(v[0]) for k, v in stats.items()}
    p_cnn = cnn.count_parameters(cnn_fits[0].params)
    p_mlp = cnn.count_parameters(mlp_fits[0].params)
    dense_first = _dense_equivalent(model, shape)
    metrics = {
        **med,
        "parameters_cnn": p_cnn,
        "parameters_mlp": p_mlp,
        "parameters_first_layer": cnn.count_parameters(cnn_fits[0].params[:1]),
        "dense_equivalent_first_layer": dense_first,
        "epochs": config.epochs,
        "steps": cnn_fits[0].steps,
        "n_train": len(data.x_train),
        "n_test": len(data.x_test),
        "n_train_evaluated": len(subset),
        "test_held_out_from_train": float(data.held_out),
        "seeds": config.seeds,
    }
    notes = [data.note,
             f"The CNN trains {config.seeds} seed(s) (seeds=1 by default: one run is costly); "
             "add --seeds N for a 10-90 % band.",
             f"train_accuracy is measured in evaluation mode on {len(subset)} training images.",
             "Timings are wall-clock seconds of the training steps, including the first step's "
             "compilation, on whatever else shares the machine."]
    figures = _figures(config, data, model, cnn_fits[0], mlp_fits[0], predictions)
    captions = _captions(config, data, metrics, predictions)
    arrays = {
        "cnn_" + k: v for k, v in cnn_fits[0].history.items()} | {
        "mlp_" + k: v for k, v in mlp_fits[0].history.items()} | {
        "test_predictions": predictions.astype(np.int32),
        "test_labels": data.y_test.astype(np.int32),
        "confusion": _confusion(data.y_test, predictions, n_classes),
        "first_layer_filters": np.asarray(cnn_fits[0].params[0]["w"]),
        "test_accuracy_per_seed": np.asarray(per_seed["test_accuracy"]),
        "mlp_test_accuracy_per_seed": np.asarray(per_seed["mlp_test_accuracy"]),
    }
    answers = _answers(config, data, stats, metrics)
    return Result("cnn", config, metrics, answers, figures, arrays, notes,
                  time.perf_counter() - start, captions=captions)


def _confusion(true: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    counts = np.zeros((k, k), np.int64)
    np.add.at(counts, (true, predicted), 1)
    return counts


def _figures(config: CNNConfig, data: ImageData, model: cnn.Model, f_cnn: Fit, f_mlp: Fit,
             predictions: np.ndarray) -> dict[str, Any]:
    k = len(data.class_names)
    outputs = cnn.layer_outputs(model, f_cnn.params, data.x_test[:1])
    relus = [(i, out) for i, (layer, out) in enumerate(zip(model, outputs))
             if isinstance(layer, cnn.Activation) and np.ndim(out) == 4]
    wrong = np.flatnonzero(predictions != data.y_test)[:16]
    return {
        "learning_curves.png": plots.learning_curves(
            {f"CNN ({config.architecture})": f_cnn.history, "MLP": f_mlp.history}),
        "confusion_matrix.png": plots.confusion_matrix(
            _confusion(data.y_test, predictions, k), data.class_names),
        "filters.png": plots.filters(np.asarray(f_cnn.params[0]["w"])),
        "feature_maps.png": plots.feature_maps(
            data.x_test[0], [np.asarray(out)[0] for _, out in relus],
            [f"conv{n + 1}" for n in range(len(relus))]),
        "misclassified.png": plots.misclassified(
            data.x_test[wrong], data.y_test[wrong], predictions[wrong], data.class_names),
    }


def _captions(config: CNNConfig, data: ImageData, metrics: dict[str, float],
              predictions: np.ndarray) -> dict[str, str]:
    """What to look at in each figure of :func:`_figures`, with the measured numbers."""
    names = data.class_names
    confusion = _confusion(data.y_test, predictions, len(names))
    np.fill_diagonal(confusion, 0)
    wrong = int(confusion.sum())
    worst = _most_frequent_confusion(confusion, names) if wrong else ""
    return {
        "learning_curves.png": f"Loss and accuracy per epoch of the CNN and the fully connected "
                               f"network, training batches and test set: they end at "
                               f"{metrics['test_accuracy']:.2%} and "
                               f"{metrics['mlp_test_accuracy']:.2%} test accuracy.",
        "confusion_matrix.png": f"True against predicted class on the {len(data.y_test):,} test "
                                f"images: look off the diagonal for the {wrong} mistakes{worst}.",
        "filters.png": "The first convolution's kernels after training (red positive, blue "
                       "negative): each is a small pattern the layer matches at every position.",
        "feature_maps.png": "One test image and the first channels of each convolution's output "
                            "after ReLU: bright where that channel's filter responds.",
        "misclassified.png": (f"The first {min(wrong, 16)} of the {wrong} misclassified test "
                              f"images, titled true -> predicted." if wrong else
                              "No test image is misclassified: the figure is empty."),
    }


def _most_frequent_confusion(confusion: np.ndarray, names: tuple[str, ...]) -> str:
    """The commonest off-diagonal cell of ``confusion`` (diagonal zeroed, at least one mistake),
    saying so when several cells share the largest count."""
    true, said = np.unravel_index(np.argmax(confusion), confusion.shape)
    count = int(confusion[true, said])
    times = f"{count} time{'s' if count > 1 else ''}"
    tied = int((confusion == count).sum())
    if tied > 1:
        return (f"; {tied} confusions tie as the most frequent ({times} each), such as "
                f"{names[true]} taken for {names[said]}")
    return f"; the most frequent is {names[true]} taken for {names[said]} ({times})"


def _answers(config: CNNConfig, data: ImageData, stats: dict[str, tuple],
             metrics: dict[str, float]) -> list[Answer]:
    def spread(name: str) -> dict[str, float | None]:
        if config.seeds == 1:
            return {"low": None, "high": None}
        return {"low": float(stats[name][1]), "high": float(stats[name][2])}

    acc, mlp_acc = metrics["test_accuracy"], metrics["mlp_test_accuracy"]
    p_cnn, p_mlp = metrics["parameters_cnn"], metrics["parameters_mlp"]
    where = ("held out from the training split (no official test files)" if data.held_out
             else "of the official test split")
    arch = ARCHITECTURE_NAMES[config.architecture]
    hidden = "-".join(str(h) for h in config.mlp_hidden)
    if acc > mlp_acc:
        verdict = (f"the fully connected network misclassifies "
                   f"{(1 - mlp_acc) / (1 - acc):.1f} times "
                   "as many test images, with" if acc < 1 else
                   "the CNN makes no test error at all, the fully connected network does, with")
        why = ("sharing one small kernel over all positions builds in that a stroke means the "
               "same thing anywhere in the image.")
    else:
        verdict = "on this budget the fully connected network is as good or better, with"
        why = ("weight sharing pays off on larger images and longer training; try dataset=mnist "
               "or more epochs.")
    return [
        Answer("test_accuracy", f"What fraction of unseen {config.dataset} images does the CNN "
               "classify correctly?", acc,
               f"The {arch} ({p_cnn:,} parameters) labels {acc:.2%} of the {len(data.y_test):,} "
               f"test images {where} correctly after {config.epochs} epochs.",
               **spread("test_accuracy")),
        Answer("train_accuracy", "How well does it fit its own training images?",
               metrics["train_accuracy"],
               f"{metrics['train_accuracy']:.2%} of {metrics['n_train_evaluated']:,} "
               f"training images, against {acc:.2%} on test images: a gap of "
               f"{100 * (metrics['train_accuracy'] - acc):+.2f} percentage points, the measure of "
               f"overfitting that dropout ({config.dropout:g}), weight decay "
               f"({config.weight_decay:g}), "
               + (f"label smoothing ({config.label_smoothing:g}), " if config.label_smoothing
                  else "") + "and weight sharing keep in check.",
               **spread("train_accuracy")),
        Answer("parameters_cnn", "How many trainable parameters does the CNN have?", p_cnn,
               f"Each convolution needs only kernel height x width x input channels x filters "
               f"weights plus a bias per filter, whatever the image size. A dense layer producing "
               f"the same first feature maps from the pixels would need "
               f"{metrics['dense_equivalent_first_layer']:,} parameters instead of "
               f"{metrics['parameters_first_layer']:,} for the first convolution."),
        Answer("parameters_mlp", "How many parameters does the fully connected baseline have?",
               p_mlp,
               f"A {hidden}-unit hidden layer on the {int(np.prod(data.x_train.shape[1:]))} "
               f"flattened pixels gives {p_mlp:,} parameters, {p_mlp / p_cnn:.2f} times the CNN's "
               f"{p_cnn:,}."),
        Answer("mlp_test_accuracy", "What does the fully connected network reach with the same "
               "data, optimizer and epochs?", mlp_acc,
               f"{mlp_acc:.2%} against the CNN's {acc:.2%}: {verdict} {p_mlp / p_cnn:.2f} times "
               f"the CNN's parameters; {why}",
               **spread("mlp_test_accuracy")),
        Answer("epochs", "How many passes over the training data did each network get?",
               config.epochs,
               f"{config.epochs} epochs of {len(data.y_train) // config.batch_size} mini-batches "
               f"of {config.batch_size} (the last partial batch is dropped), Adam with weight "
               f"decay under a one-cycle cosine schedule peaking at {config.learning_rate:g}"
               + (f", on targets with {config.label_smoothing:g} of their probability spread "
                  "over all classes (label smoothing)." if config.label_smoothing else ".")),
        Answer("train_seconds", "How long did the CNN train?", metrics["train_seconds"],
               f"{metrics['train_seconds']:.1f} s of wall-clock training "
               f"({metrics['images_per_second']:,.0f} images per second, compilation included, "
               f"evaluation excluded) on {jax.default_backend().upper()}; the MLP took "
               f"{metrics['mlp_train_seconds']:.1f} s.", **spread("train_seconds")),
    ]


EXPERIMENT = Experiment(
    name="cnn",
    description="A convolutional network vs a fully connected one: parameters and accuracy "
                "(digits, MNIST or CIFAR-10).",
    config_class=CNNConfig,
    run=run,
    order=85,
)
