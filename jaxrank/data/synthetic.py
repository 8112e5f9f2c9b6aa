"""Synthetic binary classification data (NumPy, seeded, never downloaded).

Labels are in {-1, +1} and carry the features' dtype, so ``labels * (features @ w)`` never mixes
dtypes. Random generators draw from one ``np.random.default_rng(seed)``.

References:
  A. Tyurin, "From Logistic Regression to the Perceptron Algorithm: Exploring Gradient Descent
  with Large Step Sizes", arXiv:2412.08424 (AAAI-25).
  T. M. Cover, "Geometrical and statistical properties of systems of linear inequalities",
  IEEE Trans. Electron. Comput. 14 (1965).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from jaxrank._checks import (  # noqa: F401  (float_dtype, check_seed re-exported)
    check_positive,
    check_positive_int,
    check_seed,
    float_dtype,
)

__all__ = [
    "thm41_dataset",
    "worst_case_dataset",
    "gaussian_random_labels",
    "planted_margin",
    "subsample_class",
]

# `planted_margin` refuses margins whose rejection-sampling acceptance rate is below this.
MIN_ACCEPTANCE = 1e-4
# Rows drawn per rejection batch are capped at about this many floats.
_BATCH_FLOATS = 1 << 22


def thm41_dataset(dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """The two-sample data set of Tyurin (2024), Thm 4.1 ("the loss is unreliable").

    a_1 = (1, -1) with y_1 = +1 and a_2 = (-1, -4) with y_2 = -1.

    Args:
      dtype: floating dtype of both outputs.

    Returns:
      ``(features (2, 2), labels (2,))``.

    References: Tyurin (2024), Thm 4.1 (LR+GD: f(θ_1) → ∞ while θ_2 separates).
    """
    dt = float_dtype(dtype, "thm41_dataset(dtype=...)")
    features = np.array([[1.0, -1.0], [-1.0, -4.0]], dtype=dt)
    labels = np.array([1.0, -1.0], dtype=dt)
    return features, labels


def worst_case_dataset(n: int, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """The worst case of Tyurin (2024), Thm 5.1: one positive sample against n - 1 negatives.

    Row 0 is (0.5, -1) with label +1; rows 1..n-1 are (-0.5, -1) with label -1. The positive
    sample comes first: iteration counts of the classical perceptron depend on the order.
    Margin μ = 0.5 (direction (1, 0)), R² = 1.25.

    Args:
      n: number of samples, n >= 2.
      dtype: floating dtype of both outputs.

    Returns:
      ``(features (n, 2), labels (n,))``.

    References: Tyurin (2024), Thm 5.1 and Table 1 (first block, n = 1000).
    """
    check_positive_int(n, "worst_case_dataset(n=...)")
    if n < 2:
        raise ValueError(f"`worst_case_dataset(n=...)` must be >= 2, got {n}")
    dt = float_dtype(dtype, "worst_case_dataset(dtype=...)")
    features = np.tile(np.array([-0.5, -1.0], dtype=dt), (n, 1))
    features[0, 0] = 0.5
    labels = np.full(n, -1.0, dtype=dt)
    labels[0] = 1.0
    return features, labels


def gaussian_random_labels(
    seed: int, n: int, d: int, dtype=np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian rows with labels independent of them (Cover's regime).

    a_i ~ N(0, I_d / d), so ‖a_i‖ ≈ 1, and y_i uniform on {-1, +1}. For large d the data are
    homogeneously linearly separable with high probability when n < 2d (probability 1/2 at
    n = 2d), with a tiny margin: the "CIFAR-like" hard case of the perceptron experiments.

    Args:
      seed: seed of the one ``np.random.default_rng`` used.
      n: number of samples.
      d: dimension.
      dtype: floating dtype of both outputs.

    Returns:
      ``(features (n, d), labels (n,))``.

    References: Cover (1965); the synthetic hard case of the Tyurin (2024) reproduction.
    """
    check_seed(seed, "gaussian_random_labels(seed=...)")
    check_positive_int(n, "gaussian_random_labels(n=...)")
    check_positive_int(d, "gaussian_random_labels(d=...)")
    dt = float_dtype(dtype, "gaussian_random_labels(dtype=...)")
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((n, d)) / math.sqrt(d)
    labels = 2.0 * rng.integers(0, 2, size=n) - 1.0
    return features.astype(dt), labels.astype(dt)


def planted_margin(
    seed: int,
    n: int,
    d: int,
    margin: float,
    dtype=np.float64,
    *,
    return_direction: bool = False,
):
    """Separable Gaussian data with margin at least ``margin`` along a planted direction w*.

    w* is a random unit vector; rows a_i ~ N(0, I_d / d) are redrawn (in vectorised batches)
    until |a_iᵀw*| >= margin, and y_i = sign(a_iᵀw*). Since a_iᵀw* ~ N(0, 1/d), a row is accepted
    with probability p = erfc(margin·√(d/2)); margins with p < 1e-4 are refused. The guarantee
    min_i y_i a_iᵀw* >= margin holds for the returned (rounded) arrays, in float64 arithmetic.

    Args:
      seed: seed of the one ``np.random.default_rng`` used.
      n: number of samples.
      d: dimension.
      margin: γ > 0, the margin of the data w.r.t. the unit vector w*.
      dtype: floating dtype of the outputs.
      return_direction: also return w*.

    Returns:
      ``(features (n, d), labels (n,))``, or ``(features, labels, w_star (d,))`` when
      ``return_direction``.

    References: the separable synthetic cases of the Tyurin (2024) reproduction (Novikoff
    bounds R²/μ² with μ >= margin).
    """
    check_seed(seed, "planted_margin(seed=...)")
    check_positive_int(n, "planted_margin(n=...)")
    check_positive_int(d, "planted_margin(d=...)")
    check_positive(margin, "planted_margin(margin=...)")
    dt = float_dtype(dtype, "planted_margin(dtype=...)")
    margin = float(margin)
    accept = math.erfc(margin * math.sqrt(d / 2.0))
    if accept < MIN_ACCEPTANCE:
        raise ValueError(
            f"`planted_margin(margin=...)` is too large for d={d}: a row is accepted with "
            f"probability {accept:.2e} < {MIN_ACCEPTANCE:g} (a·w* ~ N(0, 1/d)); "
            f"got margin={margin}"
        )
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d)
    w_star = (w / np.linalg.norm(w)).astype(dt)
    w64 = w_star.astype(np.float64)
    features = np.empty((n, d), dtype=dt)
    filled = 0
    while filled < n:
        need = n - filled
        rows = max(need, min(math.ceil(1.2 * need / accept) + 16, _BATCH_FLOATS // d))
        batch = (rng.standard_normal((rows, d)) / math.sqrt(d)).astype(dt)
        keep = batch[np.abs(batch.astype(np.float64) @ w64) >= margin][:need]
        features[filled : filled + len(keep)] = keep
        filled += len(keep)
    labels = np.sign(features.astype(np.float64) @ w64).astype(dt)
    if return_direction:
        return features, labels, w_star
    return features, labels


def subsample_class(
    features: np.ndarray, labels: np.ndarray, label: int, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Imbalanced variant of a data set: keep a random fraction of one class, all other rows.

    Keeps ``max(1, round(fraction * count))`` of the rows with ``labels == label`` (chosen
    without replacement by ``np.random.default_rng(seed)``) and every other row, in the
    original row order.

    Args:
      features: (n, ...) array.
      labels: (n,) array.
      label: the class to subsample; must occur in ``labels``.
      fraction: kept share of that class, in (0, 1].
      seed: seed of the generator.

    Returns:
      ``(features (m, ...), labels (m,))``, same dtypes as the inputs.

    References: the imbalanced data of Tyurin (2024), Fig 7 and Table 1 (ratio [UNVERIFIED]).
    """
    features, labels = np.asarray(features), np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(
            f"`subsample_class(labels=...)` must have rank 1, got shape {labels.shape}"
        )
    if features.ndim < 1 or features.shape[0] != labels.shape[0]:
        raise ValueError(
            "`subsample_class(features=...)` and `subsample_class(labels=...)` must have the "
            f"same number of rows, got {features.shape} and {labels.shape}"
        )
    if isinstance(label, bool) or not isinstance(label, numbers.Integral):
        raise TypeError(f"`subsample_class(label=...)` must be an int, got {label!r}")
    check_seed(seed, "subsample_class(seed=...)")
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
        raise TypeError(f"`subsample_class(fraction=...)` must be a float, got {fraction!r}")
    if not 0 < fraction <= 1:
        raise ValueError(f"`subsample_class(fraction=...)` must lie in (0, 1], got {fraction}")
    rows = np.flatnonzero(labels == label)
    if rows.size == 0:
        present = np.unique(labels)[:10].tolist()
        raise ValueError(
            f"`subsample_class(label=...)` must occur in labels {present}, got {label}"
        )
    k = max(1, round(fraction * rows.size))
    rng = np.random.default_rng(seed)
    mask = labels != label
    mask[rng.choice(rows, size=k, replace=False)] = True
    return features[mask], labels[mask]
