"""Pytree parameters for solvers written on flat vectors (Newton-type methods).

A Newton step needs a vector space: a Hessian is an ``(n, n)`` matrix and a metric too.
:func:`flat_params` lets a factory written for a flat ``x`` of shape ``(n,)`` take any pytree of
floating arrays: the solver flattens ``x`` with :func:`jax.flatten_util.ravel_pytree` at entry,
runs the flat method on ``v = ravel(x)`` with the objective ``v ↦ fun(unravel(v), *args)``, and
returns the iterate as the original pytree. A single array goes straight to the flat method
(same computation, same argument checks as before).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxrank.optim._base import Solver

__all__ = ["flat_params"]


def _is_array(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray, np.generic, float, int, complex))


def flat_params(factory: Callable[..., Solver]) -> Callable[..., Solver]:
    """Make ``factory(fun, **hyper) -> Solver`` (``fun(x, *args)``, ``x`` flat) accept pytrees.

    For a pytree ``x`` (a dict, tuple, list, NamedTuple of arrays) ``init``/``update`` run the
    flat method on ``ravel_pytree(x)[0]``; the iterate comes back as the same pytree, the state
    holds flat vectors (gradients are ``(n,)``), and a user-given Hessian ``hessian(v, *args)``
    or ``metric`` acts on the flattened vector ``v``. Iterates equal those of the flat problem.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxrank.optim import gn_newton, run
      >>> f = lambda p: jnp.sum((p["w"] - 1.0) ** 2) + (p["b"] + 2.0) ** 2
      >>> p, s, _ = run(gn_newton.grad_reg_newton(f), {"w": jnp.zeros(2), "b": jnp.zeros(())}, 30)
      >>> [round(float(v), 4) for v in (p["b"], *p["w"])]
      [-2.0, 1.0, 1.0]
    """

    @functools.wraps(factory)
    def wrapper(fun, *hyper_args, **hyper):
        base = factory(fun, *hyper_args, **hyper)  # argument checks, the flat solver

        def flat(params):
            v, unravel = ravel_pytree(params)

            def flat_fun(w, *args):
                return fun(unravel(w), *args)

            return v, unravel, factory(flat_fun, *hyper_args, **hyper)

        def init(params, *args):
            if _is_array(params):
                return base.init(params, *args)
            v, _, solver = flat(params)
            # The flat solver is rebuilt around a fresh closure (over ``unravel``) on every call,
            # so a compiled init would compile again each time: its op-by-op init runs instead.
            return getattr(solver.init, "eager", solver.init)(v, *args)

        if hasattr(base.init, "eager"):  # the op-by-op reference init (gn_newton's solvers)

            def eager(params, *args):
                if _is_array(params):
                    return base.init.eager(params, *args)
                v, _, solver = flat(params)
                return solver.init.eager(v, *args)

            init.eager = eager

        def update(params, state, *args):
            if _is_array(params):
                return base.update(params, state, *args)
            v, unravel, solver = flat(params)
            v, state = solver.update(v, state, *args)
            return unravel(v), state

        return Solver(init, update)

    return wrapper
