"""Optimizers: one module per method family, all following the :class:`Solver` contract."""

from jaxrank.optim import margin, perceptron
from jaxrank.optim._base import OptaxSolverState, Solver, from_optax, run
from jaxrank.optim.margin import MarginCertificate, hard_margin

__all__ = [
    "Solver",
    "run",
    "from_optax",
    "OptaxSolverState",
    "perceptron",
    "margin",
    "hard_margin",
    "MarginCertificate",
]
