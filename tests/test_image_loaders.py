"""MNIST IDX and CIFAR-10 pickle loaders on small files the tests write themselves."""
from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from overfitlab.data.cifar10 import TEST_BATCH, TRAIN_BATCHES, load_cifar10, read_batch
from overfitlab.data.mnist import load_mnist, parse_idx, read_idx
from overfitlab.experiments.base import ConfigError
from overfitlab.experiments.cnn import EXPERIMENT, CNNConfig


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """Encode ``array`` as IDX: 0, 0, type, ndim, big-endian uint32 sizes, big-endian values."""
    dtypes = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtypes[type_code]).tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)


def write_mnist(folder: Path, n: int, compress: bool, test: bool = False, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", images, compress)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", labels, compress)
    if test:
        write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", images[:3], compress)
        write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", labels[:3], compress)
    return images, labels


# ---------------------------------------------------------------- IDX / MNIST

@pytest.mark.parametrize("compress", [True, False])
def test_mnist_loader_reads_gz_and_raw_idx(tmp_path, compress):
    images, labels = write_mnist(tmp_path, 7, compress)
    x, y, x_test, y_test = load_mnist(tmp_path)
    assert x.shape == (7, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0], images / 255.0, rtol=1e-7)
    np.testing.assert_array_equal(y, labels)
    assert x_test is None and y_test is None


def test_mnist_loader_uses_official_test_files_and_subfolder(tmp_path):
    images, labels = write_mnist(tmp_path / "mnist", 5, compress=True, test=True)
    x, y, x_test, y_test = load_mnist(tmp_path)  # finds the mnist/ sub-folder
    assert len(x) == 5 and x_test.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(y_test, labels[:3])


def test_mnist_dot_idx_spelling_is_accepted(tmp_path):
    images, labels = write_mnist(tmp_path, 4, compress=False)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (tmp_path / name).rename(tmp_path / name.replace("-idx", ".idx"))
    np.testing.assert_array_equal(load_mnist(tmp_path)[1], labels)


@pytest.mark.parametrize("type_code,dtype",
                         [(0x08, np.uint8), (0x0C, np.int32), (0x0D, np.float32)])
def test_parse_idx_round_trips_types_and_shapes(type_code, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype is np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    out = parse_idx(idx_bytes(array, type_code))
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("compress", [True, False])
def test_corrupt_magic_is_a_clear_config_error(tmp_path, compress):
    write_mnist(tmp_path, 3, compress)
    name = "train-images-idx3-ubyte" + (".gz" if compress else "")
    data = idx_bytes(np.zeros((3, 28, 28), np.uint8))
    bad = b"\x12\x34" + data[2:]
    (tmp_path / name).write_bytes(gzip.compress(bad) if compress else bad)
    with pytest.raises(ConfigError, match=r"not an IDX file \(magic bytes 12 34 08 03") as err:
        load_mnist(tmp_path)
    assert "\n" not in str(err.value) and name in str(err.value)


def test_truncated_idx_and_damaged_gzip_are_config_errors(tmp_path):
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(idx_bytes(np.arange(10, dtype=np.uint8))[:-3])
    with pytest.raises(ConfigError, match="truncated"):
        read_idx(path)
    path.write_bytes(gzip.compress(b"0123456789")[:8])
    with pytest.raises(ConfigError, match="damaged gzip"):
        read_idx(path)


def test_missing_directory_files_and_half_test_split(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="no MNIST training files"):
        load_mnist(tmp_path)
    write_mnist(tmp_path, 3, compress=False)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8), False)
    with pytest.raises(ConfigError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)


def test_mismatched_image_and_label_counts(tmp_path):
    write_mnist(tmp_path, 4, compress=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8), False)
    with pytest.raises(ConfigError, match="do not match"):
        load_mnist(tmp_path)


# ---------------------------------------------------------------- CIFAR-10

def write_cifar(folder: Path, per_batch: int = 2, test: bool = True) -> np.ndarray:
    """Write the six pickles; returns the raw (N, 3072) training rows in file order."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    names = list(TRAIN_BATCHES) + ([TEST_BATCH] if test else [])
    for i, name in enumerate(names):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        batch = {b"batch_label": name.encode(), b"data": data,
                 b"labels": [(i + k) % 10 for k in range(per_batch)]}
        with (folder / name).open("wb") as f:
            pickle.dump(batch, f)
        if name != TEST_BATCH:
            rows.append(data)
    return np.concatenate(rows)


def test_cifar_loader_reads_channel_planes_into_nhwc(tmp_path):
    rows = write_cifar(tmp_path / "cifar-10-batches-py")
    x, y, x_test, y_test = load_cifar10(tmp_path)
    assert x.shape == (10, 32, 32, 3) and x_test.shape == (2, 32, 32, 3)
    n, i, j = 7, 5, 30
    for c in range(3):  # red plane, then green, then blue, each row-major 32x32
        assert x[n, i, j, c] == pytest.approx(rows[n, c * 1024 + i * 32 + j] / 255.0)
    np.testing.assert_array_equal(y[:4], [0, 1, 1, 2])
    np.testing.assert_array_equal(y_test, [5, 6])


def test_cifar_without_test_batch_and_with_missing_batches(tmp_path):
    write_cifar(tmp_path, test=False)
    assert load_cifar10(tmp_path)[2] is None
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(ConfigError, match="data_batch_3"):
        load_cifar10(tmp_path)


def test_cifar_pickle_with_foreign_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must not run",))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}))
    with pytest.raises(ConfigError, match="refusing to load builtins.print"):
        read_batch(path)
    path.write_bytes(b"not a pickle")
    with pytest.raises(ConfigError, match="not a CIFAR-10 python batch"):
        read_batch(path)


# ---------------------------------------------------------------- experiment on local files

def test_experiment_on_idx_files_holds_out_and_says_so(tmp_path, monkeypatch):
    write_mnist(tmp_path, 120, compress=True)
    monkeypatch.setenv("OVERFITLAB_DATA", str(tmp_path))
    config = CNNConfig.preset("quick", dataset="mnist", epochs=1, batch_size=32,
                              holdout_fraction=0.25, mlp_hidden=(16,))
    assert config.data_dir == str(tmp_path)
    result = EXPERIMENT.run(config)
    assert result.metrics["test_held_out_from_train"] == 1.0
    assert result.metrics["n_test"] == 30 and result.metrics["n_train"] == 90
    assert result.metrics["parameters_cnn"] == 680_202  # the compact net of the MNIST preset
    assert any("held out" in note and "30 of its 120" in note for note in result.notes)
    assert "held out from the training split" in result.answer("test_accuracy").explanation
    assert "0.1 of their probability spread" in result.answer("epochs").explanation
