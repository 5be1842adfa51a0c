"""Fashion-MNIST (Zalando's 28x28 grey images of clothing, 60,000 training and 10,000 test) from
local IDX files; never downloads.

The files have MNIST's names and format (see :mod:`overfitlab.data.mnist`). Debian's
``dataset-fashion-mnist`` package installs them in ``/usr/share/datasets/fashion-mnist``, the
default here when no directory is given; a directory (``--data-dir``, ``OVERFITLAB_DATA``) is
searched itself and in its ``fashion-mnist`` / ``fashion_mnist`` sub-folders.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from overfitlab.data.mnist import load_idx_dataset

DEBIAN_DIRECTORY = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
           "sneaker", "bag", "ankle boot")
SUBFOLDERS = ("fashion-mnist", "fashion_mnist", "Fashion-MNIST")


def default_directory() -> Path | None:
    """Debian's installation folder when it exists, else None."""
    return DEBIAN_DIRECTORY if DEBIAN_DIRECTORY.is_dir() else None


def load_fashion_mnist(directory: str | Path | None = None) -> tuple[
        np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(x_train, y_train, x_test, y_test)`` as :func:`overfitlab.data.mnist.load_mnist`
    returns them, from ``directory`` or, when None, :data:`DEBIAN_DIRECTORY`."""
    return load_idx_dataset(DEBIAN_DIRECTORY if directory is None else directory,
                            "Fashion-MNIST", SUBFOLDERS)
