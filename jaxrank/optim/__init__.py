"""Optimizers: one module per method family, all following the :class:`Solver` contract."""

from jaxrank.optim import bilevel, gn_newton, margin, omd, perceptron
from jaxrank.optim._base import (
    OptaxSolverState,
    Solver,
    cached_factory,
    from_optax,
    run,
    run_until,
    step_inputs,
)
from jaxrank.optim._pytree import flat_params
from jaxrank.optim.margin import MarginCertificate, hard_margin

__all__ = [
    "Solver",
    "run",
    "run_until",
    "step_inputs",
    "cached_factory",
    "from_optax",
    "OptaxSolverState",
    "flat_params",
    "perceptron",
    "gn_newton",
    "omd",
    "bilevel",
    "margin",
    "hard_margin",
    "MarginCertificate",
]
