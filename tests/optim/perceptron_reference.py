"""Independent NumPy reference for the golden iteration counts of tests/optim/test_perceptron.py.

Plain float64 NumPy, written from the paper's update rules (Tyurin 2024, §3, §5, §6), sharing no
code with ``jaxrank``: the Thm 5.1 worst-case data set is rebuilt here, σ is
``scipy.special.expit``, and each method is a direct loop. Run it to regenerate the pinned
numbers::

    python -m tests.optim.perceptron_reference

which prints ``GOLDEN_GROWTH`` (LR+GD γ = 100, LR+GD γ = 10, Batch Perceptron on the worst case
for n = 10, 100, 300, 2000) and ``GOLDEN_OTHER`` (Normalized Batch Perceptron, Perceptron at
n = 1000; Normalized LR+GD γ = 1, 0.1 at n = 10, 2000). The worst case is two-dimensional with
n − 1 identical rows, so every count is exact (no chaotic large-step regime). The test suite
re-runs the cheap entries (n ≤ 300) against the pins.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit


def worst_case(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Thm 5.1: (0.5, −1) with label +1 first, then n − 1 copies of (−0.5, −1) with label −1."""
    a = np.empty((n, 2))
    a[:, 0], a[:, 1] = -0.5, -1.0
    a[0, 0] = 0.5
    y = -np.ones(n)
    y[0] = 1.0
    return a, y


def count(method: str, a: np.ndarray, y: np.ndarray, gamma: float = 1.0,
          max_iters: int = 20_000) -> int:
    """First t ≥ 0 with y_i a_iᵀθ_t > 0 for all i (θ_0 = 0, tested before step t); −1 if none."""
    n, d = a.shape
    z = y[:, None] * a  # rows y_i a_i
    theta = np.zeros(d)
    for t in range(max_iters + 1):
        m = z @ theta
        if np.all(m > 0):
            return t
        if method == "lr_gd":  # θ ← θ + (γ/n) Σ σ(−m_i) y_i a_i
            theta = theta + gamma / n * (expit(-m) @ z)
        elif method == "normalized_lr_gd":  # θ ← θ + γ Σ σ(−m_i) y_i a_i / Σ σ(−m_i)
            w = expit(-m)
            theta = theta + gamma * (w @ z) / w.sum()
        elif method == "batch_perceptron":  # first step σ(0) = 1/2 for all, then mistakes / n
            w = np.full(n, 0.5) if t == 0 else (m <= 0).astype(float)
            theta = theta + (w @ z) / n
        elif method == "normalized_batch_perceptron":
            s = m <= 0
            theta = theta + z[s].sum(axis=0) / s.sum()
        elif method == "perceptron":  # the first mistaken sample
            theta = theta + z[int(np.argmax(m <= 0))]
        else:
            raise ValueError(f"unknown method {method!r}")
    return -1


def golden_growth(ns=(10, 100, 300, 2000)) -> dict[int, tuple[int, int, int]]:
    out = {}
    for n in ns:
        a, y = worst_case(n)
        out[n] = (count("lr_gd", a, y, 100.0), count("lr_gd", a, y, 10.0),
                  count("batch_perceptron", a, y))
    return out


def golden_other() -> dict[str, object]:
    a, y = worst_case(1000)
    out: dict[str, object] = {
        "normalized_batch_perceptron/1000": count("normalized_batch_perceptron", a, y),
        "perceptron/1000": count("perceptron", a, y),
    }
    for n in (10, 2000):
        a, y = worst_case(n)
        out[f"normalized_lr_gd/{n}"] = (count("normalized_lr_gd", a, y, 1.0),
                                        count("normalized_lr_gd", a, y, 0.1))
    return out


if __name__ == "__main__":
    print("GOLDEN_GROWTH =", golden_growth())
    print("GOLDEN_OTHER =", golden_other())
