"""MNIST (and MNIST-format sets) from a local directory of the standard IDX files (gzip-compressed
or raw); never downloads.

IDX format (big-endian): two zero bytes, a type code (0x08 unsigned byte, 0x09 signed byte,
0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions d, then d uint32
sizes, then the values in C order. MNIST images are ``idx3`` (N, 28, 28) uint8, labels ``idx1``.
Files are recognised by content: a gzip stream (magic 1f 8b) is decompressed whatever its name.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from overfitlab.errors import ConfigError

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Decode the bytes of one IDX file into an array of its stored type and shape."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ConfigError(
            f"{name} is not an IDX file (magic bytes {data[:4].hex(' ') or 'missing'}, expected "
            "00 00 <type> <ndim>); replace it with the original MNIST file")
    ndim = data[3]
    header = 4 + 4 * ndim
    dtype = np.dtype(_IDX_TYPES[data[2]])
    sizes = np.frombuffer(data[4:header], ">u4") if len(data) >= header else ()
    shape = tuple(int(s) for s in sizes)
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) < header or len(data) != expected:
        raise ConfigError(
            f"{name} is truncated or padded ({len(data)} bytes, header says {expected}); "
            "replace it with the original MNIST file")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, decompressing it first if it is gzip (whatever its extension)."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ConfigError(f"{path} is a damaged gzip file ({err}); replace it") from None
    return parse_idx(raw, str(path))


def _find(directory: Path, stem: str) -> Path | None:
    """The file for ``stem`` in ``directory``: raw or .gz, with '-idx' or the '.idx' spelling."""
    for base in (stem, stem.replace("-idx", ".idx")):
        for name in (base, base + ".gz"):
            if (directory / name).is_file():
                return directory / name
    return None


def idx_directory(directory: str | Path, name: str = "MNIST",
                  subfolders: tuple[str, ...] = ("mnist", "MNIST")) -> Path:
    """``directory`` itself or one of its ``subfolders``, whichever holds the training files
    of the IDX data set ``name`` (named in error messages)."""
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise ConfigError(f"{name} directory {root} does not exist; set data_dir (or "
                          "OVERFITLAB_DATA) to the folder holding train-images-idx3-ubyte[.gz]")
    for candidate in (root, *(root / sub for sub in subfolders)):
        if _find(candidate, FILES["train_images"]) and _find(candidate, FILES["train_labels"]):
            return candidate
    raise ConfigError(f"no {name} training files in {root}: expected {FILES['train_images']}"
                      f"[.gz] and {FILES['train_labels']}[.gz]; copy them there (nothing is "
                      "downloaded)")


def _pair(directory: Path, images_key: str, labels_key: str,
          name: str) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(_find(directory, FILES[images_key]))
    labels = read_idx(_find(directory, FILES[labels_key]))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ConfigError(f"{name} files in {directory} do not match: images {images.shape}, "
                          f"labels {labels.shape}; expected (N, 28, 28) and (N,)")
    return (images.astype(np.float32) / 255.0)[..., None], labels.astype(np.int32)


def load_idx_dataset(directory: str | Path, name: str = "MNIST",
                     subfolders: tuple[str, ...] = ("mnist", "MNIST")):
    """``(x_train, y_train, x_test, y_test)`` of an MNIST-format data set (MNIST itself,
    Fashion-MNIST): images (N, 28, 28, 1) float32 in [0, 1] and int32 labels.

    The test pair is ``None, None`` when the t10k files are absent (callers then hold out part of
    the training split); one t10k file without the other is an error.
    """
    folder = idx_directory(directory, name, subfolders)
    x_train, y_train = _pair(folder, "train_images", "train_labels", name)
    has_images = _find(folder, FILES["test_images"]) is not None
    has_labels = _find(folder, FILES["test_labels"]) is not None
    if has_images != has_labels:
        missing = FILES["test_labels"] if has_images else FILES["test_images"]
        raise ConfigError(f"{folder} has only half of the {name} test split: {missing}[.gz] is "
                          "missing; add it or remove the other t10k file")
    if not has_images:
        return x_train, y_train, None, None
    x_test, y_test = _pair(folder, "test_images", "test_labels", name)
    return x_train, y_train, x_test, y_test


def load_mnist(directory: str | Path) -> tuple[np.ndarray, np.ndarray,
                                              np.ndarray | None, np.ndarray | None]:
    """MNIST from ``directory`` (or its ``mnist`` sub-folder): see :func:`load_idx_dataset`."""
    return load_idx_dataset(directory)
