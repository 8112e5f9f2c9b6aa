"""Cross-validation folds as boolean masks, so folds ``vmap`` like seeds.

Every fold is a full-length ``(n,)`` mask over the same arrays, hence all folds share one shape
and a fold index can be a sweep axis (:func:`jaxrank.sweep.sweep`): the loss is weighted by the
training mask and evaluated on the held-out one.
"""

from __future__ import annotations

import numpy as np

from jaxrank import _checks

__all__ = ["kfold_masks"]


def kfold_masks(n: int, num_folds: int, seed: int) -> np.ndarray:
    """Held-out masks of a seeded K-fold split: shape ``(num_folds, n)``, bool.

    Each sample is held out in exactly one fold; fold sizes differ by at most one. The training
    mask of fold ``k`` is ``~masks[k]``.

    Args:
      n: number of samples.
      num_folds: K >= 2, at most ``n``.
      seed: seed of the permutation (``np.random.default_rng(seed)``).

    Example:
      >>> m = kfold_masks(10, 3, seed=0)
      >>> m.shape, m.sum(axis=1).tolist(), bool(m.sum(axis=0).min() == 1)
      ((3, 10), [4, 3, 3], True)
    """
    _checks.check_positive_int(n, "kfold_masks(n=...)")
    _checks.check_positive_int(num_folds, "kfold_masks(num_folds=...)")
    if not 2 <= num_folds <= n:
        raise ValueError(f"`kfold_masks(num_folds=...)` must lie in [2, n={n}], got {num_folds}")
    _checks.check_seed(seed, "kfold_masks(seed=...)")
    order = np.random.default_rng(seed).permutation(n)
    fold_of = np.empty(n, dtype=np.int64)
    for k, part in enumerate(np.array_split(order, num_folds)):
        fold_of[part] = k
    return fold_of[None, :] == np.arange(num_folds)[:, None]
