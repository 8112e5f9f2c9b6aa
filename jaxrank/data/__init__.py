"""Data for the experiments: seeded synthetic generators and loaders for locally shipped sets.

Everything returns NumPy arrays and nothing is downloaded; ``python -m jaxrank.data`` reports
which data sets are installed.
"""

from jaxrank.data.images import (
    FASHION_MNIST_DIR,
    DataNotFoundError,
    binary_pair,
    load_digits,
    load_fashion_mnist,
    load_mnist_5k,
    read_idx,
)
from jaxrank.data.splits import kfold_masks
from jaxrank.data.synthetic import (
    gaussian_random_labels,
    planted_margin,
    subsample_class,
    thm41_dataset,
    worst_case_dataset,
)

__all__ = [
    "FASHION_MNIST_DIR",
    "DataNotFoundError",
    "binary_pair",
    "gaussian_random_labels",
    "kfold_masks",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist_5k",
    "planted_margin",
    "read_idx",
    "subsample_class",
    "thm41_dataset",
    "worst_case_dataset",
]
from jaxrank.data import sentiment, text  # noqa: E402, F401  (bo_rep: VADER; zloss: KJV, Zipf)
