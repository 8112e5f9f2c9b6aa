"""Eager argument checks with messages that quote the call.

Every helper takes the call-site name (``"lr_gd(learning_rate=...)"``) and raises ``ValueError`` for
bad values/shapes or ``TypeError`` for bad dtypes. Value checks are skipped on tracers, so the same
factory works inside ``jit`` and ``vmap`` sweeps; shape and dtype checks run at trace time. Under
:func:`jaxrank._validate.checked` (checkify) the value checks on tracers become run-time
assertions with the same messages.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrank import _validate

__all__ = [
    "is_concrete",
    "check_positive",
    "check_nonnegative",
    "check_positive_int",
    "check_in_range",
    "check_one_of",
    "check_rank",
    "check_same_leading_dim",
    "check_floating",
    "check_finite",
    "check_binary_labels",
    "check_classification_data",
    "check_seed",
    "float_dtype",
    "renamed",
]


def renamed(**old_to_new: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: a call passing a keyword by its old name raises a TypeError naming the new one.

    The library's hyperparameters follow one naming scheme (README, "Names"); the entry points
    whose keywords were renamed keep this guard so an old call fails loudly, e.g. ``lr_gd(
    step_size=0.1)`` raises "`lr_gd(step_size=...)` was renamed `learning_rate`". The cost is one
    set test on the keyword names of each call.

    Example:
      >>> @renamed(lr="learning_rate")
      ... def sgd(learning_rate):
      ...     return learning_rate
      >>> sgd(lr=0.1)
      Traceback (most recent call last):
      ...
      TypeError: `sgd(lr=...)` was renamed `learning_rate`: call `sgd(learning_rate=...)`
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        name = fn.__name__
        old_names = frozenset(old_to_new)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if kwargs and not old_names.isdisjoint(kwargs):
                old = next(k for k in old_to_new if k in kwargs)
                new = old_to_new[old]
                raise TypeError(f"`{name}({old}=...)` was renamed `{new}`: "
                                f"call `{name}({new}=...)`")
            return fn(*args, **kwargs)

        return wrapper

    return decorate


def is_concrete(x: Any) -> bool:
    """True when ``x`` holds a concrete value (not a tracer inside jit/vmap/grad)."""
    return not isinstance(x, jax.core.Tracer)


def _scalar(x: Any) -> float | None:
    """A concrete scalar as a Python float, or None when ``x`` is traced or not scalar."""
    if not is_concrete(x):
        return None
    arr = np.asarray(x)
    if arr.ndim != 0:
        return None
    return float(arr)


def _first_bad(x: Any, bad: Any) -> Any:
    """The first entry of traced ``x`` where ``bad`` holds (for checked-mode messages)."""
    flat, mask = jnp.ravel(x), jnp.ravel(bad)
    return flat[jnp.argmax(mask)] if flat.size else jnp.zeros((), flat.dtype)


def _traced(x: Any, bad_fn: Any, message: str) -> None:
    """Checked mode (:func:`jaxrank._validate.checked`) only: assert ``not any(bad_fn(x))``."""
    if _validate.checked_mode() and jnp.size(x):
        bad = bad_fn(jnp.asarray(x))
        _validate.traced_check(~jnp.any(bad), message, got=_first_bad(x, bad))


def _concrete_array(x: Any) -> np.ndarray | None:
    if not is_concrete(x):
        return None
    return np.asarray(x)


def check_positive(value: Any, where: str, *, allow_inf: bool = False) -> None:
    """``value`` (scalar or array) must be > 0 and finite; skipped for tracers."""
    arr = _concrete_array(value)
    if arr is None:
        _traced(value, lambda v: jnp.isnan(v) | (v <= 0) | (~allow_inf & jnp.isinf(v)),
                f"`{where}` must be a positive finite number")
        return
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"`{where}` must be a real number, got {value!r}")
    if np.any(np.isnan(arr)) or np.any(arr <= 0) or (not allow_inf and np.any(np.isinf(arr))):
        shown = arr.item() if arr.ndim == 0 else arr
        raise ValueError(f"`{where}` must be a positive finite number, got {shown}")


def check_nonnegative(value: Any, where: str) -> None:
    """``value`` must be >= 0 and finite; skipped for tracers."""
    arr = _concrete_array(value)
    if arr is None:
        _traced(value, lambda v: ~jnp.isfinite(v) | (v < 0),
                f"`{where}` must be a non-negative finite number")
        return
    if np.any(~np.isfinite(arr)) or np.any(arr < 0):
        shown = arr.item() if arr.ndim == 0 else arr
        raise ValueError(f"`{where}` must be a non-negative finite number, got {shown}")


def check_positive_int(value: Any, where: str) -> None:
    """``value`` must be a Python/NumPy integer >= 1 (never a tracer: it is static)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{where}` must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"`{where}` must be a positive int, got {value}")


def check_in_range(value: Any, lo: float, hi: float, where: str) -> None:
    """``lo <= value <= hi`` for a concrete scalar; skipped for tracers."""
    v = _scalar(value)
    if v is None:
        if not is_concrete(value) and jnp.ndim(value) == 0:
            _traced(value, lambda x: ~((x >= lo) & (x <= hi)),
                    f"`{where}` must lie in [{lo}, {hi}]")
        return
    if not (lo <= v <= hi):
        raise ValueError(f"`{where}` must lie in [{lo}, {hi}], got {v}")


def check_one_of(value: Any, choices: Sequence[Any], where: str) -> None:
    if value not in choices:
        raise ValueError(f"`{where}` must be one of {tuple(choices)}, got {value!r}")


def check_rank(x: Any, rank: int, where: str) -> None:
    """``x`` must have ``rank`` dimensions (checked at trace time)."""
    ndim = jnp.ndim(x)
    if ndim != rank:
        raise ValueError(
            f"`{where}` must have rank {rank}, got shape {tuple(jnp.shape(x))} (rank {ndim})"
        )


def check_same_leading_dim(a: Any, b: Any, where_a: str, where_b: str) -> None:
    na, nb = jnp.shape(a)[0], jnp.shape(b)[0]
    if na != nb:
        raise ValueError(
            f"`{where_a}` and `{where_b}` must have the same number of rows, got "
            f"{tuple(jnp.shape(a))} and {tuple(jnp.shape(b))}"
        )


def check_floating(x: Any, where: str) -> None:
    """``x`` must have a floating dtype (TypeError otherwise)."""
    dtype = jnp.result_type(x)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"`{where}` must have a floating dtype, got {dtype}")


def check_finite(x: Any, where: str) -> None:
    """No NaN/inf entries in a concrete ``x``; skipped for tracers."""
    arr = _concrete_array(x)
    if arr is None:
        _traced(x, lambda v: ~jnp.isfinite(v), f"`{where}` must be finite")
        return
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))
        first = tuple(int(i) for i in bad[0]) if bad.size else ()
        raise ValueError(
            f"`{where}` must be finite, got {len(bad)} non-finite entries (first at index {first})"
        )


def check_binary_labels(labels: Any, where: str) -> None:
    """Concrete ``labels`` must take values in {-1, +1}; skipped for tracers."""
    arr = _concrete_array(labels)
    if arr is None:
        _traced(labels, lambda v: ~((v == 1) | (v == -1)),
                f"`{where}` must take values in {{-1, +1}}")
        return
    bad = ~((arr == 1) | (arr == -1))
    if np.any(bad):
        vals = np.unique(arr[bad])[:5]
        raise ValueError(f"`{where}` must take values in {{-1, +1}}, got values {vals.tolist()}")


def check_classification_data(features: Any, labels: Any, fn: str) -> None:
    """Shapes (trace time) and values (when concrete) of a binary data set (A, y).

    ``features`` is (n, d) floating, ``labels`` is (n,) in {-1, +1}, both finite.
    """
    check_rank(features, 2, f"{fn}(features=...)")
    check_rank(labels, 1, f"{fn}(labels=...)")
    check_same_leading_dim(features, labels, f"{fn}(features=...)", f"{fn}(labels=...)")
    check_floating(features, f"{fn}(features=...)")
    check_finite(features, f"{fn}(features=...)")
    check_binary_labels(labels, f"{fn}(labels=...)")


def check_seed(seed: Any, where: str) -> None:
    """``seed`` must be a non-negative int (what ``np.random.default_rng`` accepts)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`{where}` must be a non-negative int, got {seed!r}")
    if seed < 0:
        raise ValueError(f"`{where}` must be a non-negative int, got {seed}")


def float_dtype(dtype: Any, where: str) -> np.dtype:
    """``dtype`` as a NumPy floating dtype; TypeError naming ``where`` otherwise."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or not np.issubdtype(dt, np.floating):
        raise TypeError(f"`{where}` must be a floating dtype, got {dtype!r}")
    return dt
