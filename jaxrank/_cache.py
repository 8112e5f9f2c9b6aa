"""The value-keyed cache used by the solver factories and by every module that passes functions
to ``jax.jit`` as static arguments.

:func:`cached_factory` makes a factory return the *same* object for the same concrete
hyperparameters (so repeated calls reuse one compilation); :class:`_Static` wraps a function so
that ``jit`` hashes and compares it by value (:func:`_hyper_key`), not by identity. This module
sits below :mod:`jaxrank.optim` and :mod:`jaxrank.models` (both import it); the names stay
importable from :mod:`jaxrank.optim._base`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import numbers
import types
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jaxrank import _checks

__all__ = ["cached_factory"]

# Arrays up to this many elements get a value key (larger: none; the factory or closure is then
# keyed by identity). Up to 64 elements the key holds the bytes; above, a 128-bit BLAKE2b digest
# of them, so a metric like B = AᵀA (200 × 200: 40,000 elements, 0.1 ms to hash) passed again
# with equal values reuses the solver and its compilation (session 12: gn's p = 4 figure
# recompiled its solvers on every rerun). 2^20 float64 elements hash in about 2 ms; a data set
# (Fashion-MNIST: 47M) is not hashed at each call. As with any closure that jit traces, a NumPy
# array changed in place after it was passed to a factory is not seen by the solver built from it.
DIGEST_MAX_SIZE = 1 << 20


def _hyper_key(value: Any) -> Any:
    """A hashable key for a concrete hyperparameter, or raise TypeError when there is none.

    Python floats are keyed by their bits (``float.hex``), so ``nan`` hits the cache and ``-0.0``
    and ``0.0`` stay apart; NumPy/JAX scalars and concrete arrays up to :data:`DIGEST_MAX_SIZE`
    elements by dtype, shape and bytes (a digest of them above 64 elements);
    Python functions (losses, schedules, oracles, lambdas) by *value*: their code object, the
    module they were defined in, their defaults and the keys of the values their closure
    captured (so ``lambda x: x**2`` written twice at one place, or ``optax.sgd(0.1)`` built
    twice, give equal keys, while closures over different constants do not); frozen dataclasses
    by class and field values; ``functools.partial``
    / ``jax.tree_util.Partial`` by function and bound arguments; bound methods by their object's
    identity and function; any other callable by identity, holding a reference so that an id is
    never reused by another object while its entry lives.
    """
    return _key(value, 0)


def _key(value: Any, depth: int) -> Any:
    if depth > 8:  # deep or self-referential closures: give up (the caller falls back)
        raise TypeError("too deep")
    if value is None or isinstance(value, (bool, str)):
        return (type(value).__name__, value)
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        if not _checks.is_concrete(value):
            raise TypeError("traced")
        size = np.size(value)
        if size > DIGEST_MAX_SIZE:  # before any host copy: a data set has no value key
            raise TypeError("large array")
        arr = np.asarray(value)
        weak = bool(getattr(value, "weak_type", False))
        if size > 64:  # a metric or a problem matrix: keyed by a digest of its bytes
            digest = hashlib.blake2b(np.ascontiguousarray(arr).tobytes(), digest_size=16)
            return ("array-digest", str(arr.dtype), arr.shape, weak, digest.digest())
        return ("array", str(arr.dtype), arr.shape, weak, arr.tobytes())
    if isinstance(value, float):
        return ("float", value.hex())
    if isinstance(value, numbers.Number):
        return (type(value).__name__, value)
    if isinstance(value, (tuple, list)):
        kind = type(value)  # a NamedTuple by its class (two classes may share a name)
        kind = kind.__name__ if kind in (tuple, list) else _Identity(kind)
        return (kind, tuple(_key(v, depth + 1) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(k), _key(v, depth + 1)) for k, v in value.items())))
    if isinstance(value, types.FunctionType):
        cells = value.__closure__ or ()
        return ("function", _Identity(value.__code__), _Identity(value.__globals__),
                _key(value.__defaults__, depth + 1), _key(value.__kwdefaults__, depth + 1),
                tuple(_key(c.cell_contents, depth + 1) for c in cells))
    if isinstance(value, functools.partial):
        return ("partial", type(value), _key(value.func, depth + 1),
                _key(value.args, depth + 1), _key(value.keywords, depth + 1))
    if (dataclasses.is_dataclass(value) and not isinstance(value, type)
            and type(value).__dataclass_params__.frozen):
        # a frozen dataclass (an experiment Config, say) by its class and field values
        return ("dataclass", _Identity(type(value)),
                tuple((f.name, _key(getattr(value, f.name), depth + 1))
                      for f in dataclasses.fields(value)))
    if isinstance(value, types.MethodType):
        return ("method", _Identity(value.__self__), _key(value.__func__, depth + 1))
    if callable(value):
        return ("callable", _Identity(value))
    raise TypeError(f"unhashable {type(value)}")


class _Static:
    """A function as a static argument of ``jax.jit``, hashed and compared by value.

    ``jit`` caches a compilation per static argument; functions compare by identity, so a lambda
    written in a loop or a factory's fresh closure would recompile on every call. Wrapped, two
    functions with equal :func:`_hyper_key` (same code, equal captured values) share one
    compilation; a function without a value key (it captures a large array, a tracer, an
    arbitrary object) keeps its identity.
    """

    __slots__ = ("fn", "key")

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn
        try:
            self.key = _hyper_key(fn)
        except Exception:  # no value key (an empty closure cell, an unreadable array, ...)
            self.key = ("callable", _Identity(fn))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Static) and other.key == self.key


def _static(fn: Callable[..., Any] | None) -> _Static | None:
    return None if fn is None else _Static(fn)


class _Identity:
    """Hash/compare an object by identity while keeping it alive (its id cannot be reused)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any):
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.obj is self.obj


def cached_factory(factory: Callable[..., Any]) -> Callable[..., Any]:
    """Memoize a solver factory on its concrete hyperparameters.

    ``run``/``run_until`` compile once per ``update`` function object, and a factory builds new
    closures on each call, so without this ``run(lr_gd(1.0), ...)`` twice compiles twice. With
    it, a factory called again with equal concrete hyperparameters (same Python type and value, or
    the same small concrete array) returns the identical ``Solver``, and ``run``/``run_until``
    reuse their compilation. Traced hyperparameters (inside ``vmap``/``jit``), large arrays and
    other unhashable values bypass the cache. A cached entry was built by a call that passed the
    factory's argument checks; a bad value is never cached, so it raises on every call.

    Example:
      >>> from jaxrank.optim import Solver
      >>> @cached_factory
      ... def sgd_like(learning_rate):
      ...     return Solver(lambda p: None, lambda p, s: (p - learning_rate, s))
      >>> sgd_like(0.1) is sgd_like(0.1), sgd_like(0.1) is sgd_like(0.2)
      (True, False)
    """
    cache: dict[Any, Any] = {}

    @functools.wraps(factory)
    def wrapper(*args, **kwargs):
        try:
            key = (
                tuple(_hyper_key(a) for a in args),
                tuple(sorted((k, _hyper_key(v)) for k, v in kwargs.items())),
            )
        except Exception:  # no value key (an empty closure cell, an unreadable array, ...)
            return factory(*args, **kwargs)
        hit = cache.get(key)
        if hit is None:
            hit = factory(*args, **kwargs)
            if len(cache) < 4096:
                cache[key] = hit
        return hit

    wrapper.cache_clear = cache.clear  # type: ignore[attr-defined]
    return wrapper
