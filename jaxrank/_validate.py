"""Validation where training runs: concrete checks before tracing, and a checked mode under jit.

Argument checks in :mod:`jaxrank._checks` read values only when they are concrete; inside
``jit``/``vmap``/``scan`` the values are tracers and the checks are skipped. Two mechanisms close
that gap without touching any compiled program:

* **Before tracing.** :func:`jaxrank.optim.run`, :func:`~jaxrank.optim.run_until` and
  :func:`jaxrank.sweep.sweep` validate concrete data and hyperparameters before they trace.
  ``sweep`` first calls ``fn(*args, **point)`` once per grid point in *validation mode*: the
  hyperparameters are concrete Python scalars, so a factory's checks fire (a negative step size
  raises the factory's own message), and the first ``run``/``run_until`` reached validates its
  concrete data (``solver.init`` and ``solver.validate``) and then stops that call with
  :class:`StopValidation` before anything is compiled. The compiled sweep is the one it was.
* **Checked mode, for users' own jitted loops.** :func:`checked` wraps a function with
  ``jax.experimental.checkify``; while it traces, the value checks that are skipped on tracers
  (label conventions, ranges, finiteness) become ``checkify.check`` assertions, and the wrapped
  function raises the same message as a direct call (a ``JaxRuntimeError`` carrying it) when a
  check fails at run time. Outside :func:`checked`, nothing is added to any program.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from typing import Any

import jax

__all__ = ["checked", "StopValidation", "validating", "checked_mode"]

_VALIDATING: contextvars.ContextVar[bool] = contextvars.ContextVar("jaxrank_validating",
                                                                  default=False)
_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("jaxrank_checked", default=False)


class StopValidation(Exception):  # noqa: N818  (a control-flow signal, not an error)
    """Raised by ``run``/``run_until`` in validation mode once the concrete checks passed."""


@contextlib.contextmanager
def validating() -> Iterator[None]:
    """Validation mode: ``run``/``run_until`` check their inputs and raise StopValidation."""
    token = _VALIDATING.set(True)
    try:
        yield
    finally:
        _VALIDATING.reset(token)


def is_validating() -> bool:
    return _VALIDATING.get()


def checked_mode() -> bool:
    """True while :func:`checked` traces: checks on tracers become ``checkify.check``."""
    return _CHECKED.get()


@contextlib.contextmanager
def _checked() -> Iterator[None]:
    token = _CHECKED.set(True)
    try:
        yield
    finally:
        _CHECKED.reset(token)


def traced_check(ok: Any, message: str, got: Any = None) -> None:
    """In checked mode, assert ``ok`` (a traced bool) at run time with ``message``.

    ``got`` (a traced scalar, e.g. the first offending value) is appended as ``", got value
    ..."``. Outside checked mode this does nothing (a plain ``jit`` program is never changed).
    """
    if not checked_mode():
        return
    from jax.experimental import checkify

    text = message.replace("{", "{{").replace("}", "}}")
    if got is None:
        checkify.check(ok, text)
    else:
        checkify.check(ok, text + ", got value {got}", got=got)


def unjitted(f: Callable[..., Any]) -> Callable[..., Any]:
    """The Python function under a ``jax.jit`` wrapper, to trace inline in checked mode.

    A jitted helper traced while :func:`checked` is active would cache a program holding
    ``checkify.check``; calling the undecorated function inside the outer checkified trace keeps
    that program out of the helper's cache.
    """
    return getattr(f, "__wrapped__", f)


def checked(fn: Callable[..., Any], *, jit: bool = True) -> Callable[..., Any]:
    """``fn`` with its argument checks enforced on traced values (``jax.experimental.checkify``).

    Use it for your own jitted loops: ``step = checked(train_step)`` compiles ``train_step``
    once (with ``jit=True``) with the checks that jaxrank skips on tracers turned into run-time
    assertions, and calling ``step(...)`` raises the same message as a direct call would
    (wrapped in JAX's ``JaxRuntimeError``) when, e.g., a loss expecting labels in {0, 1} gets
    -1. The result of a passing call is the result of ``fn``.

    jaxrank's own compiled loops (:func:`~jaxrank.optim.run`, :func:`~jaxrank.optim.run_until`,
    :func:`~jaxrank.models.factored_output.scan_updates`) are traced inline here, so their
    compilation caches never hold a checked program. Another ``jax.jit``-decorated function
    called inside ``fn`` is traced with the checks and JAX caches that program: call it outside
    checked mode with other shapes, or wrap the outermost function only.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxrank.losses.anyloss import binary_cross_entropy
      >>> bce = checked(lambda z, y: binary_cross_entropy(z, y).mean())
      >>> round(float(bce(jnp.zeros(2), jnp.array([0, 1]))), 4)
      0.6931
      >>> try:
      ...     bce(jnp.zeros(2), jnp.array([-1, 1]))
      ... except Exception as e:
      ...     print("must take values in {0, 1}" in str(e))
      True
    """
    if not callable(fn):
        raise TypeError(f"`checked(fn=...)` must be callable, got {type(fn)}")
    from jax.experimental import checkify

    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        with _checked():
            return fn(*args, **kwargs)

    functionalized = checkify.checkify(inner, errors=checkify.user_checks)
    if jit:
        functionalized = jax.jit(functionalized)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        err, out = functionalized(*args, **kwargs)
        err.throw()
        return out

    return wrapper
