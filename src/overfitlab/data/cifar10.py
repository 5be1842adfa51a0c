"""CIFAR-10 from a local directory in its standard python-pickle format; never downloads.

The "python version" of CIFAR-10 is five training batches ``data_batch_1`` .. ``data_batch_5``
and ``test_batch``, each a pickled dict with ``b"data"`` (10000 x 3072 uint8: the 1024 red, then
1024 green, then 1024 blue pixels of a 32x32 image, row-major) and ``b"labels"`` (10000 ints
0..9). Pickles can run code when loaded, so the unpickler here only resolves the few numpy
names that array pickles need and refuses everything else.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from overfitlab.errors import ConfigError

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck")
_NUMPY_NAMES = {"_reconstruct", "ndarray", "dtype", "scalar", "_frombuffer"}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that only builds plain containers and numpy arrays."""

    def find_class(self, module: str, name: str):
        if module.split(".")[0] == "numpy" and name in _NUMPY_NAMES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def cifar10_directory(directory: str | Path) -> Path:
    """``directory`` or its ``cifar-10-batches-py`` / ``cifar10`` sub-folder holding the batches."""
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise ConfigError(f"CIFAR-10 directory {root} does not exist; set data_dir (or "
                          "OVERFITLAB_DATA) to the folder holding data_batch_1..5")
    for candidate in (root, root / "cifar-10-batches-py", root / "cifar10"):
        if all((candidate / name).is_file() for name in TRAIN_BATCHES):
            return candidate
    missing = [n for n in TRAIN_BATCHES if not (root / n).is_file()]
    raise ConfigError(f"CIFAR-10 files missing in {root}: {', '.join(missing)}; copy the python "
                      "version (cifar-10-batches-py) there (nothing is downloaded)")


def read_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch as images ``(N, 32, 32, 3)`` uint8 and labels int32."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int32)
        images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"{path} is not a CIFAR-10 python batch ({err}); replace it with the "
                          "original file") from None
    if len(images) != len(labels):
        raise ConfigError(f"{path} has {len(images)} images but {len(labels)} labels; replace it")
    return images, labels


def _stack(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    parts = [read_batch(p) for p in paths]
    images = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
    return images, np.concatenate([p[1] for p in parts])


def load_cifar10(directory: str | Path) -> tuple[np.ndarray, np.ndarray,
                                                np.ndarray | None, np.ndarray | None]:
    """``(x_train, y_train, x_test, y_test)``: images (N, 32, 32, 3) float32 in [0, 1], labels
    int32; the test pair is ``None, None`` when ``test_batch`` is absent."""
    folder = cifar10_directory(directory)
    x_train, y_train = _stack([folder / name for name in TRAIN_BATCHES])
    if not (folder / TEST_BATCH).is_file():
        return x_train, y_train, None, None
    x_test, y_test = _stack([folder / TEST_BATCH])
    return x_train, y_train, x_test, y_test
