"""Catalogue of small binary classification problems for the optimizer conformance tests.

Each problem makes ``(features (n, d), labels (n,))`` as NumPy arrays from an integer seed and a
floating dtype, so a test can stack several seeds for a ``vmap`` and ask for float32 explicitly.
All problems are linearly separable through the origin, so every perceptron-family method solves
problem (1) of Tyurin (2024) in finitely many steps.

Both problems have the same shapes, ``(50, 5)`` and ``(50,)``: jit caches are keyed on shapes, so
the conformance battery compiles each program once for the whole catalogue instead of once per
problem (the difference between ~20 s and ~40 s on two cores).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from jaxrank.data import planted_margin, worst_case_dataset

__all__ = ["Problem", "PROBLEMS", "PROBLEMS_BY_NAME", "stacked"]

N, D = 50, 5  # the shapes shared by every problem


class Problem(NamedTuple):
    """A named data set ``make(seed, dtype) -> (features, labels)`` and an iteration budget."""

    name: str
    make: Callable[[int, np.dtype], tuple[np.ndarray, np.ndarray]]
    max_iters: int


def _planted(seed: int, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    # Margin 0.05 in d = 5: seed 0 takes LR+GD(γ=1) ~430 steps and the perceptron ~13, so the
    # methods really iterate (margin 0.2 separates after one step).
    return planted_margin(seed, N, D, 0.05, dtype)


def _worst_case(seed: int, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    # Seed 0 is the data set of Thm 5.1 as published (positive sample first); other seeds
    # permute its rows, which changes what the order-dependent perceptron does.
    # Three zero features embed it in R^5 (shared shapes, see above); every method here moves in
    # the span of the rows, so the iterates are those in R^2 padded with zeros.
    features, labels = worst_case_dataset(N, dtype)
    features = np.concatenate([features, np.zeros((N, D - 2), dtype)], axis=1)
    if seed:
        order = np.random.default_rng(seed).permutation(len(labels))
        features, labels = features[order], labels[order]
    return features, labels


PROBLEMS: list[Problem] = [
    Problem("planted_margin(n=50,d=5,margin=0.05)", _planted, 2000),
    Problem("worst_case_dataset(50)+zeros", _worst_case, 2000),
]
PROBLEMS_BY_NAME = {p.name: p for p in PROBLEMS}


def stacked(
    problem: Problem, seeds: Sequence[int], dtype=np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(len(seeds), n, d)`` and labels ``(len(seeds), n)`` for a ``vmap`` over seeds."""
    pairs = [problem.make(s, dtype) for s in seeds]
    return np.stack([a for a, _ in pairs]), np.stack([y for _, y in pairs])
