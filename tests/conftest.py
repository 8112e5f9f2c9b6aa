"""Numerics policy for the whole suite (STYLE.md §12).

float64 is on so identities can be checked to 1e-10; rank promotion raises so the `(n,)` vs
`(n, 1)` broadcasting bug of logistic regression fails loudly. float32 behaviour is tested with
explicit float32 inputs.
"""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


import gzip  # noqa: E402
import struct  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def write_idx(path, arr) -> None:
    """Write a uint8 array in the IDX format (gzip), as the Debian Fashion-MNIST files are."""
    arr = np.asarray(arr, np.uint8)
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.tobytes())


@pytest.fixture(scope="session")
def fake_fashion_mnist(tmp_path_factory):
    """A tiny generated Fashion-MNIST (200 train / 50 test images) in the real file format.

    Tests never read /usr/share/datasets: CI may lack the Debian package. The class signal is
    a brightness offset so that pairs are separable.
    """
    root = tmp_path_factory.mktemp("fashion-mnist")
    rng = np.random.default_rng(0)
    for split, n in (("train", 400), ("t10k", 100)):
        labels = np.tile(np.arange(10, dtype=np.uint8), n // 10)
        images = rng.integers(0, 60, size=(n, 28, 28)) + 20 * labels[:, None, None]
        write_idx(root / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


@pytest.fixture(scope="session")
def smoke_records(fake_fashion_mnist, tmp_path_factory):
    """Every figure of every experiment, run once in SMOKE mode: {(slug, fig_id): record}."""
    from experiments import _harness

    out = tmp_path_factory.mktemp("smoke")
    old = os.environ.get("JAXRANK_FASHION_MNIST_DIR")
    os.environ["JAXRANK_FASHION_MNIST_DIR"] = str(fake_fashion_mnist)
    os.environ.setdefault("JAXRANK_PROGRESS", "0")
    try:
        records = {}
        for slug, paper in _harness.discover().items():
            for fig_id in paper.figures:
                records[(slug, fig_id)] = _harness.run_figure(
                    paper, fig_id, smoke=True, out_dir=out / slug
                )
    finally:
        if old is None:
            os.environ.pop("JAXRANK_FASHION_MNIST_DIR", None)
        else:
            os.environ["JAXRANK_FASHION_MNIST_DIR"] = old
        jax.config.update("jax_enable_x64", True)  # experiments may set their own precision
    return out, records
