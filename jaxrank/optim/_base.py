"""The solver contract shared by every method in :mod:`jaxrank.optim`, and the loop helpers.

A method that is not a plain gradient-to-update map is a :class:`Solver`: a NamedTuple of two
pure functions,

* ``init(params, *args) -> state``
* ``update(params, state, *args, *step) -> (params, state)``

where ``args`` are the data/oracles fixed for the whole run (features, labels, ...), ``step`` the
per-step inputs (a minibatch or the loss revealed at round t, and/or a PRNG key; see
:func:`run`), and ``state`` is a NamedTuple of arrays (a step counter plus diagnostics).
Hyperparameters live in the factory's closure and may be traced arrays, so sweeps ``vmap`` the
factory itself.

:func:`run` drives any solver for a fixed number of steps with one jitted ``lax.scan``;
:func:`run_until` iterates until a predicate holds (one jitted ``lax.while_loop``).
:func:`from_optax` adapts an ``optax.GradientTransformation`` plus a loss into a ``Solver`` so
baselines such as SGD or Adam go through the same loops. :func:`cached_factory` makes a factory
return the *same* ``Solver`` object for the same concrete hyperparameters, so that repeated
calls reuse one compilation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrank import _checks, _validate
from jaxrank._cache import (  # noqa: F401  (re-exported)
    _hyper_key,
    _Identity,
    _key,
    _Static,
    _static,
    cached_factory,
)
from jaxrank._solver import Solver

__all__ = [
    "Solver",
    "run",
    "run_until",
    "step_inputs",
    "cached_factory",
    "from_optax",
    "OptaxSolverState",
]

Params = Any
State = Any
Record = Callable[..., Any]


def _all_concrete(*trees: Any) -> bool:
    return all(_checks.is_concrete(leaf) for leaf in jax.tree.leaves(trees))


def _validate_inputs(solver: Solver, params: Any, args: tuple, step: tuple) -> None:
    """``solver.validate`` on concrete inputs (skipped when any is traced)."""
    if solver.validate is not None and _all_concrete(params, args, step):
        solver.validate(params, *args, *step)


def _first_step(xs: Any, key: Any, step0: int) -> tuple:
    """The per-step inputs of the first step (``xs[0]``, ``fold_in(key, step0)``)."""
    x0 = None if xs is None else jax.tree.map(lambda v: v[0], xs)
    return step_inputs(x0, key, jnp.asarray(step0, jnp.int32))


# The factory cache (cached_factory, _Static, _hyper_key) lives in jaxrank._cache.


# --------------------------------------------------------------------------- loops


def step_inputs(xs: Any, key: jax.Array | None, t: jax.Array) -> tuple[Any, ...]:
    """The per-step trailing arguments of ``update``/``record`` at step ``t``.

    ``(xs_t,)`` when ``xs`` is given (``xs_t`` is its slice ``t`` along the leading axis, already
    sliced by the scan), then ``(key_t,)`` with ``key_t = jax.random.fold_in(key, t)`` when
    ``key`` is given. :func:`run` and :func:`run_until` use the same keys, so a fixed-length and a
    stopping run of a stochastic method see the same randomness.
    """
    out: tuple[Any, ...] = () if xs is None else (xs,)
    if key is not None:
        out = out + (jax.random.fold_in(key, t),)
    return out


@functools.partial(jax.jit, static_argnames=("update", "num_steps", "record", "has_xs"))
def _scan(update, params, state, args, xs, key, num_steps, record, has_xs, t0):
    def body(carry, x_t):
        p, s, t = carry
        extra = step_inputs(x_t if has_xs else None, key, t)
        out = None if record is None else record(p, s, *args, *extra)
        p, s = update(p, s, *args, *extra)
        return (p, s, t + 1), out

    (params, state, _), traj = jax.lax.scan(
        body, (params, state, t0), xs if has_xs else None, length=num_steps
    )
    return params, state, traj


class _Guarded(NamedTuple):
    """The state of a guarded run: the solver's state, the first non-finite step, the step."""

    state: Any
    first: jax.Array
    t: jax.Array


def _tree_finite(tree: Any) -> jax.Array:
    ok = jnp.bool_(True)
    for leaf in jax.tree.leaves(tree):
        if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
            ok = ok & jnp.all(jnp.isfinite(leaf))
    return ok


@functools.lru_cache(maxsize=256)
def _guard_update(update: Callable[..., Any]) -> Callable[..., Any]:
    """``update`` that also records the first step whose new iterate is not finite."""

    def guarded(p, gs, *rest):
        p, s = update(p, gs.state, *rest)
        first = jnp.where((gs.first < 0) & ~_tree_finite(p), gs.t, gs.first)
        return p, _Guarded(s, first.astype(jnp.int32), gs.t + 1)

    return guarded


@functools.lru_cache(maxsize=256)
def _guard_record(record: Record) -> Record:
    return lambda p, gs, *rest: record(p, gs.state, *rest)


_DIVERGENCE = (None, "raise", "warn")


def _check_key(key: Any, where: str) -> None:
    """``key`` must be one PRNG key: a typed ``jax.random.key`` scalar or a raw ``uint32[2]``."""
    if key is None:
        return
    ok = isinstance(key, jax.Array) and (
        (jnp.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ())
        or (key.dtype == jnp.uint32 and key.shape == (2,))
    )
    if not ok:
        if hasattr(key, "dtype") and hasattr(key, "shape"):
            shown = f"{type(key).__name__} of shape {tuple(key.shape)} and dtype {key.dtype}"
        else:
            shown = repr(key)
        raise TypeError(f"`{where}` must be one jax.random.key(...), got {shown}")


def run(
    solver: Solver,
    params: Params,
    num_steps: int | None,
    *args: Any,
    xs: Any = None,
    key: jax.Array | None = None,
    record: Record | None = None,
    state: State | None = None,
    step0: int = 0,
    on_divergence: str | None = None,
) -> tuple[Params, State, Any]:
    r"""Run ``solver`` for ``num_steps`` updates on one jitted ``lax.scan``.

    .. math::
        (x_{t+1}, s_{t+1}) = \mathrm{update}(x_t, s_t, \ldots, \xi_t, k_t), \quad
        s_0 = \mathrm{init}(x_0, \ldots)

    Args:
      solver: a :class:`Solver`.
      params: the starting point :math:`x_0` (any pytree of arrays).
      num_steps: number of updates :math:`T` (a static Python int); may be ``None`` when ``xs``
        is given (then :math:`T` is its leading dimension).
      *args: data passed to ``init`` and to every ``update`` unchanged (arrays or pytrees of
        arrays: they are jit arguments; functions belong in the factory's closure).
      xs: optional per-step inputs :math:`\xi_t` (a pytree whose leaves have leading axis
        :math:`T`: the loss revealed at round t, a minibatch index, ...); ``update`` then receives
        ``xs[t]`` after ``*args``.
      key: optional PRNG key; ``update`` then receives ``k_t = fold_in(key, t)`` as its last
        argument (no Python loop, no pre-split array of keys).
      record: optional ``record(params, state, *args, *step) -> pytree``, seeing exactly what
        ``update`` sees and evaluated on the iterate *entering* each step, so
        ``trajectory[t] = record(x_t, s_t, ...)`` for ``t = 0, ..., T-1``. Compared by value
        (code and captured values), so a lambda written inline does not recompile.
      state: optional solver state to continue from (the ``state_T`` of an earlier call) instead
        of ``init(params, *args)``: a run resumes where it stopped.
      step0: the index of the first step (default 0); with ``key``, step ``t`` receives
        ``fold_in(key, step0 + t)``, so resuming with ``step0`` = the steps already done gives,
        bit for bit, the run that was never interrupted. A traced scalar: changing it does not
        recompile.
      on_divergence: ``None`` (default: the loop as it is), ``"raise"`` or ``"warn"``: the
        loop also tracks the first step ``t`` whose new iterate :math:`x_{t+1}` has a NaN or
        inf entry, and raises ``FloatingPointError`` (or warns with ``RuntimeWarning``) naming
        it. The iterates are those of the unguarded loop (a separate, cached compilation).

    Returns:
      ``(params_T, state_T, trajectory)``; ``trajectory`` is ``None`` when ``record`` is None,
      else the pytree of stacked records with leading axis ``T``.

    ``init`` runs outside the compiled loop, so on concrete inputs its eager argument checks
    (labels, NaNs) fire with clear messages, and so does ``solver.validate`` (e.g. the loss of
    :func:`from_optax` evaluated once on the first step's inputs); inside ``vmap``/``jit``
    everything is traced (use :func:`jaxrank.sweep.sweep`, which validates every grid point
    first, or :func:`jaxrank.checked` for your own jitted loop).
    Repeated calls with equal ``solver.update``, ``num_steps`` and ``record`` reuse one
    compilation; functions are compared by value (same code object, equal captured values, see
    :func:`_hyper_key`), so a solver or a ``record`` lambda rebuilt on every call does not
    recompile (arrays up to 2^20 elements are compared by a digest of their bytes), while one
    capturing a larger array (a data set) or an arbitrary object is compared by identity.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import perceptron, run
      >>> A = jnp.array([[1.0, 0.5], [-1.0, -0.2]]); y = jnp.array([1.0, -1.0])
      >>> theta, state, traj = run(perceptron.lr_gd(10.0), jnp.zeros(2), 5, A, y)
      >>> # an online method: round t reveals the target c_t
      >>> sgd = Solver(lambda x: None, lambda x, s, c: (x - 0.5 * (x - c), s))
      >>> x, _, traj = run(sgd, 0.0, None, xs=jnp.ones(4), record=lambda x, s, c: (x - c) ** 2)
      >>> traj.tolist()
      [1.0, 0.25, 0.0625, 0.015625]
      >>> # resume: two halves are the whole run
      >>> x2, s2, _ = run(sgd, 0.0, None, xs=jnp.ones(2))
      >>> float(run(sgd, x2, None, xs=jnp.ones(2), state=s2, step0=2)[0]) == float(x)
      True
    """
    if not isinstance(solver, Solver):
        raise TypeError(f"`run(solver=...)` must be a jaxrank.optim.Solver, got {type(solver)}")
    if isinstance(step0, bool) or not isinstance(step0, (int, np.integer)) or step0 < 0:
        raise ValueError(f"`run(step0=...)` must be a non-negative int, got {step0!r}")
    has_xs = xs is not None
    if has_xs:
        leaves = jax.tree.leaves(xs)
        if not leaves or any(jnp.ndim(v) == 0 for v in leaves):
            raise ValueError("`run(xs=...)` must be a pytree of arrays with a leading time axis")
        lengths = {int(jnp.shape(v)[0]) for v in leaves}
        if len(lengths) != 1:
            raise ValueError(f"`run(xs=...)` leaves must share one leading length, got {lengths}")
        (length,) = lengths
        if num_steps is None:
            num_steps = length
        elif num_steps != length:
            raise ValueError(
                f"`run(num_steps=...)` must equal the leading length of `xs` ({length}), "
                f"got {num_steps}"
            )
    elif num_steps is None:
        raise TypeError("`run(num_steps=...)` must be a positive int when `xs` is None, got None")
    _checks.check_positive_int(num_steps, "run(num_steps=...)")
    _check_key(key, "run(key=...)")
    if on_divergence not in _DIVERGENCE:
        raise ValueError(f"`run(on_divergence=...)` must be one of {_DIVERGENCE}, "
                         f"got {on_divergence!r}")
    if solver.validate is not None:
        _validate_inputs(solver, params, tuple(args), _first_step(xs, key, step0))
    if state is None:
        state = solver.init(params, *args)
    if _validate.is_validating():
        raise _validate.StopValidation
    t0 = jnp.asarray(step0, jnp.int32)
    scan = _validate.unjitted(_scan) if _validate.checked_mode() else _scan
    if on_divergence is None:
        return scan(_static(solver.update), params, state, tuple(args), xs, key, num_steps,
                    _static(record), has_xs, t0)
    guarded = _Guarded(state, jnp.full((), -1, jnp.int32), t0)
    params, guarded, traj = scan(_static(_guard_update(solver.update)), params, guarded,
                                 tuple(args), xs, key, num_steps,
                                 None if record is None else _static(_guard_record(record)),
                                 has_xs, t0)
    _report_divergence(guarded.first, on_divergence, "run")
    return params, guarded.state, traj


def _report_divergence(first: jax.Array, how: str, where: str) -> None:
    if not _checks.is_concrete(first) or int(first) < 0:
        return
    msg = (f"`{where}(on_divergence={how!r})`: the iterate became non-finite (NaN or inf) at "
           f"step {int(first)} (the update of step {int(first)} returned it); the step size may "
           "exceed the stability limit (e.g. 2/L for gradient steps)")
    if how == "raise":
        raise FloatingPointError(msg)
    import warnings

    warnings.warn(msg, RuntimeWarning, stacklevel=3)


@functools.partial(jax.jit, static_argnames=("update", "done", "max_steps"))
def _until(update, done, params, state, args, key, max_steps):
    # The flag is carried, so `done` is evaluated once per iterate (not again after the loop).
    def cond(carry):
        t, _, _, finished = carry
        return (t < max_steps) & ~finished

    def body(carry):
        t, p, s, _ = carry
        p, s = update(p, s, *args, *step_inputs(None, key, t))
        return t + 1, p, s, jnp.asarray(done(p, s, *args), bool)

    t0 = jnp.zeros((), jnp.int32)
    carry = (t0, params, state, jnp.asarray(done(params, state, *args), bool))
    t, params, state, finished = jax.lax.while_loop(cond, body, carry)
    return params, state, jnp.where(finished, t, -1).astype(jnp.int32)


def run_until(
    solver: Solver,
    params: Params,
    done: Callable[..., jax.Array],
    *args: Any,
    max_steps: int,
    key: jax.Array | None = None,
) -> tuple[Params, State, jax.Array]:
    r"""Iterate ``solver`` until ``done`` holds, on one jitted ``lax.while_loop``.

    Returns the first :math:`t \ge 0` with ``done(x_t, s_t, *args)`` true (tested *before* the
    update of step :math:`t`, so a method done after two updates returns 2), or ``-1`` when no
    :math:`t \le` ``max_steps`` satisfies it, together with the final iterate and state.

    Args:
      solver: a :class:`Solver`.
      params: the starting point :math:`x_0`.
      done: ``done(params, state, *args) -> bool scalar``; a stable function object (define it at
        module level) so repeated calls reuse one compilation.
      *args: data and oracles, as in :func:`run`.
      max_steps: the iteration cap (static int).
      key: optional PRNG key; ``update`` receives ``fold_in(key, t)`` last, as in :func:`run`,
        so the first ``t`` steps of ``run_until`` and ``run`` with the same key coincide.
        (There is no ``xs``: the number of steps is not known in advance; index data by the
        state's step counter instead.)

    Returns:
      ``(params, state, steps)`` with ``steps`` an int32 scalar (``-1``: cap reached). vmap it
      over hyperparameters by building the solver inside the mapped function.

    Example:
      >>> import jax.numpy as jnp
      >>> halve = Solver(lambda x: None, lambda x, s: (x / 2, s))
      >>> run_until(halve, jnp.float32(1.0), lambda x, s: x < 0.1, max_steps=100)[2]
      Array(4, dtype=int32)
    """
    if not isinstance(solver, Solver):
        raise TypeError(
            f"`run_until(solver=...)` must be a jaxrank.optim.Solver, got {type(solver)}"
        )
    if not callable(done):
        raise TypeError(f"`run_until(done=...)` must be callable, got {type(done)}")
    _checks.check_positive_int(max_steps, "run_until(max_steps=...)")
    _check_key(key, "run_until(key=...)")
    if solver.validate is not None:
        _validate_inputs(solver, params, tuple(args), _first_step(None, key, 0))
    state = solver.init(params, *args)
    if _validate.is_validating():
        raise _validate.StopValidation
    until = _validate.unjitted(_until) if _validate.checked_mode() else _until
    return until(_static(solver.update), _static(done), params, state, tuple(args), key,
                 max_steps)


# --------------------------------------------------------------------------- optax


class OptaxSolverState(NamedTuple):
    """State of :func:`from_optax`: step counter, the optax state, and the last loss value."""

    count: jax.Array
    opt_state: Any
    loss: jax.Array


def _strong_types(tree: Any) -> Any:
    """Leaves with their weak type dropped (same dtype and values).

    Some optax states start with weak-typed scalars (``optax.lbfgs``'s line-search info) that the
    first ``update`` returns strongly typed; without this the second jitted call recompiles.
    """
    return jax.tree.map(
        lambda v: jnp.asarray(v, dtype=jnp.result_type(v)) if getattr(v, "weak_type", False)
        else v, tree)


@cached_factory
def from_optax(
    optimizer: optax.GradientTransformation, loss_fn: Callable[..., jax.Array]
) -> Solver:
    """Wrap an optax optimizer and a scalar loss ``loss_fn(params, *args)`` as a :class:`Solver`.

    ``update`` takes one step ``x_{t+1} = x_t + u_t`` with ``u_t`` the optax update of
    ``∇ loss_fn(x_t, *args)``; ``state.loss`` is ``loss_fn(x_t, *args)`` at the iterate the step
    started from (``nan`` after ``init``). Per-step inputs of :func:`run` (``xs``, ``key``) are
    passed on to ``loss_fn`` after ``*args``, so minibatch SGD is
    ``run(from_optax(optax.sgd(lr), loss), params, None, data, xs=batch_indices)``.

    Before a :func:`run`/:func:`run_until` loop is traced, ``loss_fn`` is evaluated once
    (eagerly, result discarded) on the first step's concrete inputs, so a loss that checks its
    arguments (e.g. AnyLoss labels in {0, 1}) raises there instead of training on bad data.

    optax's extra arguments are passed to ``optimizer.update``: ``value`` (the loss at
    :math:`x_t`), ``grad`` and ``value_fn`` (``x ↦ loss_fn(x, *args)``), so
    line-search optimizers such as ``optax.lbfgs()`` run as they are; a plain transformation
    ignores them (``optax.with_extra_args_support``).

    Example:
      >>> import optax, jax.numpy as jnp
      >>> solver = from_optax(optax.sgd(0.1), lambda x: jnp.sum(x**2))
      >>> x, state, _ = run(solver, jnp.ones(3), 10)
      >>> x, _, _ = run(from_optax(optax.lbfgs(), lambda x: jnp.sum((x - 1.0) ** 2)),
      ...               jnp.zeros(3), 5)
      >>> bool(jnp.allclose(x, 1.0))
      True
    """
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "`from_optax(optimizer=...)` must be an optax.GradientTransformation, "
            f"got {type(optimizer)}"
        )
    if not callable(loss_fn):
        raise TypeError(f"`from_optax(loss_fn=...)` must be callable, got {type(loss_fn)}")
    tx = optax.with_extra_args_support(optimizer)

    def init(params, *args):
        dtype = jnp.result_type(*jax.tree.leaves(params))
        return OptaxSolverState(
            count=jnp.zeros((), jnp.int32),
            opt_state=_strong_types(tx.init(params)),
            loss=jnp.full((), jnp.nan, dtype),
        )

    def update(params, state, *args):
        loss, grads = jax.value_and_grad(loss_fn)(params, *args)
        updates, opt_state = tx.update(grads, state.opt_state, params, value=loss, grad=grads,
                                       value_fn=lambda p: loss_fn(p, *args))
        params = optax.apply_updates(params, updates)
        return params, OptaxSolverState(state.count + 1, opt_state, loss.astype(state.loss.dtype))

    def validate(params, *args):
        # The loss once on the first step's concrete inputs: its eager checks (label
        # conventions, shapes) raise their own message before the loop is traced.
        jax.tree.map(jnp.shape, loss_fn(params, *args))

    return Solver(init, update, validate)
