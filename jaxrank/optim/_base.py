"""The solver contract shared by every method in :mod:`jaxrank.optim`, and the one loop helper.

A method that is not a plain gradient-to-update map is a :class:`Solver`: a NamedTuple of two
pure functions,

* ``init(params, *args) -> state``
* ``update(params, state, *args) -> (params, state)``

where ``args`` are the data/oracles (features, labels, ...) and ``state`` is a NamedTuple of
arrays (a step counter plus diagnostics). Hyperparameters live in the factory's closure and may be
traced arrays, so sweeps ``vmap`` the factory itself.

:func:`run` drives any solver for a fixed number of steps with one jitted ``lax.scan``.
:func:`from_optax` adapts an ``optax.GradientTransformation`` plus a loss into a ``Solver`` so
baselines such as SGD or Adam go through the same loop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxrank import _checks

__all__ = ["Solver", "run", "from_optax", "OptaxSolverState"]

Params = Any
State = Any
Record = Callable[[Params, State], Any]


class Solver(NamedTuple):
    """A pair of pure functions ``init(params, *args)`` and ``update(params, state, *args)``."""

    init: Callable[..., State]
    update: Callable[..., tuple[Params, State]]


@functools.partial(jax.jit, static_argnames=("update", "num_steps", "record"))
def _scan(update, params, state, args, num_steps, record):
    def body(carry, _):
        p, s = carry
        out = None if record is None else record(p, s)
        p, s = update(p, s, *args)
        return (p, s), out

    (params, state), traj = jax.lax.scan(body, (params, state), None, length=num_steps)
    return params, state, traj


def run(
    solver: Solver,
    params: Params,
    num_steps: int,
    *args: Any,
    record: Record | None = None,
) -> tuple[Params, State, Any]:
    r"""Run ``solver`` for ``num_steps`` updates on one jitted ``lax.scan``.

    .. math::
        (x_{t+1}, s_{t+1}) = \mathrm{update}(x_t, s_t, \ldots), \quad
        s_0 = \mathrm{init}(x_0, \ldots)

    Args:
      solver: a :class:`Solver`.
      params: the starting point :math:`x_0` (any pytree of arrays).
      num_steps: number of updates :math:`T` (a static Python int).
      *args: data and oracles passed to ``init`` and ``update`` unchanged.
      record: optional ``record(params, state) -> pytree``, evaluated on the iterate *entering*
        each step, so ``trajectory[t] = record(x_t, s_t)`` for ``t = 0, ..., T-1``. Must be a
        stable function object (define it once) or each call recompiles.

    Returns:
      ``(params_T, state_T, trajectory)``; ``trajectory`` is ``None`` when ``record`` is None,
      else the pytree of stacked records with leading axis ``T``.

    ``init`` runs outside the compiled loop, so on concrete inputs its eager argument checks
    (labels, NaNs) fire with clear messages; inside ``vmap``/``jit`` everything is traced.
    Repeated calls with the same ``solver`` object, ``num_steps`` and ``record`` reuse one
    compilation.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxrank.optim import perceptron, run
      >>> A = jnp.array([[1.0, 0.5], [-1.0, -0.2]]); y = jnp.array([1.0, -1.0])
      >>> theta, state, traj = run(perceptron.lr_gd(10.0), jnp.zeros(2), 5, A, y)
    """
    _checks.check_positive_int(num_steps, "run(num_steps=...)")
    if not isinstance(solver, Solver):
        raise TypeError(f"`run(solver=...)` must be a jaxrank.optim.Solver, got {type(solver)}")
    state = solver.init(params, *args)
    return _scan(solver.update, params, state, tuple(args), num_steps, record)


class OptaxSolverState(NamedTuple):
    """State of :func:`from_optax`: step counter, the optax state, and the last loss value."""

    count: jax.Array
    opt_state: Any
    loss: jax.Array


def from_optax(
    optimizer: optax.GradientTransformation, loss_fn: Callable[..., jax.Array]
) -> Solver:
    """Wrap an optax optimizer and a scalar loss ``loss_fn(params, *args)`` as a :class:`Solver`.

    ``update`` takes one step ``x_{t+1} = x_t + u_t`` with ``u_t`` the optax update of
    ``∇ loss_fn(x_t, *args)``; ``state.loss`` is ``loss_fn(x_t, *args)`` at the iterate the step
    started from (``nan`` after ``init``).

    Example:
      >>> import optax, jax.numpy as jnp
      >>> solver = from_optax(optax.sgd(0.1), lambda x: jnp.sum(x**2))
      >>> x, state, _ = run(solver, jnp.ones(3), 10)
    """
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "`from_optax(optimizer=...)` must be an optax.GradientTransformation, "
            f"got {type(optimizer)}"
        )
    if not callable(loss_fn):
        raise TypeError(f"`from_optax(loss_fn=...)` must be callable, got {type(loss_fn)}")

    def init(params, *args):
        dtype = jnp.result_type(*jax.tree.leaves(params))
        return OptaxSolverState(
            count=jnp.zeros((), jnp.int32),
            opt_state=optimizer.init(params),
            loss=jnp.full((), jnp.nan, dtype),
        )

    def update(params, state, *args):
        loss, grads = jax.value_and_grad(loss_fn)(params, *args)
        updates, opt_state = optimizer.update(grads, state.opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, OptaxSolverState(state.count + 1, opt_state, loss.astype(state.loss.dtype))

    return Solver(init, update)
