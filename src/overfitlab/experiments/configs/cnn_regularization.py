"""Configuration of the cnn-regularization experiment
(:mod:`overfitlab.experiments.cnn_regularization`)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from overfitlab.data.fashion_mnist import DEBIAN_DIRECTORY, default_directory
from overfitlab.experiments.base import Config
from overfitlab.experiments.budget import Footprint, float_arrays
from overfitlab.experiments.configs.images import DATA_ENV, IMAGE_PIXELS, IMAGES
from overfitlab.experiments.params import param, require

REGULARIZERS = ("plain", "dropout", "weight_decay", "augment", "batch_norm", "early_stopping",
                "all")
DATASETS = ("digits", "mnist", "fashion-mnist")
DIGITS_HELD_OUT = 360  # ceil(0.2 * 1797), scikit-learn's train_test_split(test_size=0.2) count
# Digits defaults from runs with --seed 100 (2 seeds; n = 100, 400, 1437; median test accuracy):
# at peak learning rate 3e-3 "all together" reached 86/93/93 % in 300 steps (under-trained), at
# 1e-2 88/95/97 %; weight decay 3 cost 3 points at n = 1437 while 0.3 and 1 stayed within about a
# point of the plain network; dropout 0.5 lost 1-2 points against 0.3; 8 first-layer channels
# instead of 16 made a step about 30 % cheaper (plain network 1.4 points lower at n = 100, equal at
# n = 1437).
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {"n_values": (100, 200, 400, 800, 1437), "held_out": DIGITS_HELD_OUT,
               "steps": 300, "channels": (8, 32), "dense_hidden": 64, "shift": 1},
    "mnist": {"n_values": (100, 300, 1000, 3000, 10000), "held_out": 2000, "steps": 500,
              "channels": (8, 16), "dense_hidden": 64, "shift": 2},
}
DATASET_DEFAULTS["fashion-mnist"] = DATASET_DEFAULTS["mnist"]


@dataclass(frozen=True)
class CNNRegularizationConfig(Config):
    """Data, sizes, network and regularizers (defaults: the full preset).

    Fields left at None take the data set's values in ``DATASET_DEFAULTS`` (digits: sizes 100,
    200, 400, 800, 1437, 360 held-out images, 300 steps, 8 and 32 channels, 64 hidden units,
    1-pixel shifts; MNIST and Fashion-MNIST: sizes 100 to 10,000, 2,000 held-out images, 500
    steps, 8 and 16 channels, 64 hidden units, 2-pixel shifts). ``data_dir`` falls back to
    ``OVERFITLAB_DATA`` and, for Fashion-MNIST, to Debian's ``/usr/share/datasets/fashion-mnist``.
    """

    seeds: int = param(3, "initialisations per size and regularizer, trained at once", low=1,
                       high=64)
    dataset: str = param("digits", "images: the bundled 8x8 digits, or MNIST / Fashion-MNIST "
                         "files from data_dir", choices=DATASETS)
    data_dir: str | None = param(None, f"folder holding the dataset's files (default: "
                                 f"${DATA_ENV}; Fashion-MNIST also {DEBIAN_DIRECTORY})")
    n_values: tuple[int, ...] | None = param(None, "training-set sizes (nested subsets), "
                                             "increasing", low=10, high=100_000,
                                             example="100,400,1437")
    held_out: int | None = param(None, "held-out images (half choose the regularizer, half "
                                 "test)", low=20, high=100_000)
    steps: int | None = param(None, "AdamW steps of every network", low=10, high=100_000)
    batch_size: int = param(32, "images per step, drawn with replacement", low=1, high=1024)
    learning_rate: float = param(1e-2, "peak of the one-cycle cosine schedule", low=0,
                                 low_open=True, high=10)
    channels: tuple[int, ...] | None = param(None, "channels of the two convolutions", low=1,
                                             high=256, example="8,32")
    dense_hidden: int | None = param(None, "hidden dense units", low=1, high=4096)
    dropout: float = param(0.3, "dropout rate of the dropout recipe", low=0, high=1,
                           low_open=True, high_open=True)
    weight_decay: float = param(1.0, "decoupled weight decay of the weight-decay recipe", low=0,
                                low_open=True)
    shift: int | None = param(None, "largest random shift (pixels) of the augment recipe", low=1,
                              high=8)
    validation_fraction: float = param(0.2, "share of the n images the early-stopping recipe "
                                       "holds out", low=0, high=1, low_open=True, high_open=True)
    eval_every: int = param(25, "steps between checkpoints", low=1)
    train_eval_images: int = param(200, "training images the train accuracy is measured on",
                                   low=1, high=100_000)
    curve_n: int | None = param(None, "size shown in the learning-curve figure (none: the "
                                "smallest)", low=10)

    QUICK: ClassVar[dict[str, Any]] = {"seeds": 2, "n_values": (100, 400, 1437), "steps": 200}

    def __post_init__(self) -> None:
        if self.dataset in DATASETS:
            for name, value in DATASET_DEFAULTS[self.dataset].items():
                if getattr(self, name) is None:
                    object.__setattr__(self, name, value)
            if self.data_dir is None and self.dataset != "digits":
                found = os.environ.get(DATA_ENV) or (
                    str(default_directory()) if self.dataset == "fashion-mnist"
                    and default_directory() else None)
                object.__setattr__(self, "data_dir", found)
        if self.curve_n is None and self.n_values:
            object.__setattr__(self, "curve_n", min(self.n_values))
        super().__post_init__()

    def validate(self) -> None:
        where = (f"--set data_dir=/path/to/{self.dataset} or set {DATA_ENV}"
                 + (f" (or install Debian's dataset-fashion-mnist into {DEBIAN_DIRECTORY})"
                    if self.dataset == "fashion-mnist" else ""))
        require(
            (self.dataset == "digits" or bool(self.data_dir),
             f"dataset={self.dataset} needs its files: {where}; nothing is downloaded"),
            (self.dataset == "digits" or os.path.isdir(os.path.expanduser(self.data_dir or "")),
             f"data_dir={self.data_dir!r} is not a directory; point it at the folder holding "
             f"the {self.dataset} files"))
        n = self.n_values
        require(
            (list(n) == sorted(set(n)),
             f"n_values={','.join(map(str, n))} must be increasing training-set sizes; e.g. "
             "--set n_values=100,400,1437"),
            (self.dataset != "digits" or n[-1] <= 1797 - self.held_out,
             f"n_values reach {n[-1]} but the digits leave {1797 - self.held_out} training "
             "images after the held-out ones; lower n_values or held_out"),
            (len(self.channels) == 2,
             f"channels={','.join(map(str, self.channels))} must be two widths, e.g. --set "
             "channels=8,16"),
            (self.eval_every <= self.steps,
             f"eval_every={self.eval_every} must be at most steps={self.steps}"),
            (self.curve_n in n, f"curve_n={self.curve_n} must be one of n_values="
                                f"{','.join(map(str, n))}"),
        )

    def footprint(self) -> Footprint:
        """All (size x regularizer x seed) networks train at once: per network its parameters
        with Adam's moments and gradients, and one batch's activations; plus the images."""
        pixels = IMAGE_PIXELS[self.dataset]
        c1, c2 = (tuple(self.channels) + (1, 1))[:2]
        weights = 9 * c1 + 9 * c1 * c2 + (pixels // 16) * c2 * self.dense_hidden
        activations = self.batch_size * pixels * (c1 + c2 // 4) * 6
        networks = len(self.n_values) * len(REGULARIZERS) * self.seeds
        images = float_arrays((IMAGES[self.dataset], pixels), copies=3)
        return Footprint(float_arrays((networks, 4 * weights + activations)) + images,
                         "--seeds, --set n_values or --set batch_size")
