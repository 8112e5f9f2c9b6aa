"""Named tolerance tiers. Every tolerance in the suite is one of these, or carries
a one-line reason where it is defined."""

from typing import NamedTuple


class Tol(NamedTuple):
    rtol: float
    atol: float

    def kw(self) -> dict:
        return {"rtol": self.rtol, "atol": self.atol}


# Algebraic equalities (same maths written two ways).
IDENTITY = Tol(rtol=1e-10, atol=1e-12)
IDENTITY_F32 = Tol(rtol=1e-5, atol=1e-6)
# Finite differences, iterative solves.
NUMERICAL = Tol(rtol=1e-6, atol=1e-8)
# Fixed-budget optimization against a known optimum (optax alias_test uses 3e-2).
CONVERGENCE = Tol(rtol=3e-2, atol=3e-2)


def assert_trees_close(actual, desired, tol: Tol = IDENTITY) -> None:
    """The one tree comparison of the suite: same structure (node types included), same leaf
    shapes, every leaf within ``tol`` (NaNs must match NaNs). Wraps ``chex.assert_trees_all_close``.
    """
    import chex  # local import: the tiers above stay importable without chex

    chex.assert_trees_all_close(actual, desired, rtol=tol.rtol, atol=tol.atol)
