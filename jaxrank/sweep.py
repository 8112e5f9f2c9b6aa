r"""Grid sweeps over hyperparameters × seeds as one compiled ``vmap``, sharded over devices.

:func:`sweep` evaluates ``fn(**point)`` at every point of a Cartesian grid. The grid is
flattened to one batch axis, padded to a multiple of the device count, laid out over a 1-D
``jax.sharding.Mesh`` of all (or the given) devices, mapped with one ``jax.jit(jax.vmap(fn))``,
and reshaped back to the grid. On one device this is a plain jitted vmap; on several devices the
grid is split between them with the same per-point program.

Several hosts: after ``jax.distributed.initialize(...)`` in every process, ``jax.devices()``
spans all processes. Each process calls :func:`sweep` with the same arguments, places only the
shards of its own devices, and receives the whole result (gathered to every process).

Exactness: a point's value does not depend on the device it runs on, but the *batched* program
(``vmap``, and the batch size after padding) may order floating-point sums differently from an
unbatched run, and float32 differs from float64. Stable computations agree to rounding; chaotic
ones (large-step gradient descent counted to the iteration) can move by a few iterations between
a sweep, a single unbatched run and another precision. Compare such counts as distributions.

Seeds are one more axis: pass integer seeds and build the key inside ``fn`` with
``jax.random.key(seed)``, so each grid point is reproducible on its own.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxrank import _validate
from jaxrank._cache import _Static

__all__ = ["sweep", "grid_points"]

_AXIS = "grid"


def _shardings(devices: tuple[jax.Device, ...]) -> tuple[NamedSharding, NamedSharding]:
    mesh = Mesh(np.asarray(devices), (_AXIS,))
    return NamedSharding(mesh, PartitionSpec(_AXIS)), NamedSharding(mesh, PartitionSpec())


def _compiled(fn: Callable[..., Any], devices: tuple[jax.Device, ...]) -> Callable[..., Any]:
    """One jitted ``vmap(fn)`` per (function *value*, devices): repeated sweeps of equal
    functions on same-shaped inputs reuse one compilation. ``fn`` is keyed like a solver's
    hyperparameters (:class:`jaxrank._cache._Static`: code and captured values), so a closure
    rebuilt on every call, ``lambda g: run(lr_gd(g), ...)`` in a loop, does not recompile."""
    return _compiled_static(_Static(fn), devices)


@functools.lru_cache(maxsize=128)
def _compiled_static(fn: _Static, devices: tuple[jax.Device, ...]) -> Callable[..., Any]:
    mapped = jax.vmap(lambda kw, shared: fn(*shared, **kw), in_axes=(0, None))
    if len(devices) == 1:
        return jax.jit(mapped)
    sharding, replicated = _shardings(devices)
    return jax.jit(mapped, in_shardings=(sharding, replicated), out_shardings=sharding)


def _global_array(host: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from a host array every process holds, built from local shards only."""
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def grid_points(axes: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Flatten a Cartesian grid: ``{"a": [1, 2], "b": [0, 1, 2]}`` -> six points, ``a`` slowest."""
    if not axes:
        raise ValueError("`sweep(axes=...)` must name at least one axis, got {}")
    values = {}
    for name, v in axes.items():
        arr = np.asarray(v)
        if arr.ndim != 1 or arr.shape[0] == 0:
            raise ValueError(
                f"`sweep(axes[{name!r}]=...)` must be a non-empty 1-D sequence, got shape "
                f"{arr.shape}"
            )
        values[name] = arr
    mesh = np.meshgrid(*values.values(), indexing="ij")
    return {name: m.reshape(-1) for name, m in zip(values, mesh, strict=True)}


# Functions seen to reach no `run`/`run_until` in validation mode: validating them would evaluate
# them eagerly, so they are validated once (their first point) and then skipped.
_NO_ENTRY: weakref.WeakSet = weakref.WeakSet()


def _python_scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def validate_points(fn: Callable[..., Any], axes: Mapping[str, Any], args: tuple) -> None:
    """Call ``fn(*args, **point)`` with concrete values, in validation mode, so that every value
    of every axis is seen once: point ``i`` takes value ``i mod len(axis)`` of each axis, for
    ``i < max(len(axis))`` (every grid value, not every combination).

    Factories see concrete hyperparameters (their checks raise), and the first
    :func:`jaxrank.optim.run`/``run_until`` reached validates its concrete data and stops the
    call (nothing is compiled or trained). A function that reaches no such entry point runs
    eagerly once (its first point) and is not validated again.
    """
    try:
        if fn in _NO_ENTRY:
            return
    except TypeError:  # not weak-referenceable: validated every time
        pass
    values = {n: np.asarray(v) for n, v in axes.items()}
    size = max(len(v) for v in values.values())
    for i in range(size):
        point = {n: _python_scalar(v[i % len(v)]) for n, v in values.items()}
        try:
            with _validate.validating():
                fn(*args, **point)
        except _validate.StopValidation:
            continue
        try:
            _NO_ENTRY.add(fn)
        except TypeError:
            pass
        return


def sweep(
    fn: Callable[..., Any],
    axes: Mapping[str, Sequence[Any] | np.ndarray],
    *args: Any,
    devices: Sequence[jax.Device] | None = None,
) -> Any:
    r"""Evaluate ``fn(*args, **point)`` on the grid ``axes`` in one compiled, sharded vmap.

    Args:
      fn: a pure function ``fn(*args, **point)`` of the shared arguments and one keyword scalar
        per axis, returning a pytree of arrays.
      axes: ordered mapping ``name -> 1-D values``; e.g.
        ``{"learning_rate": [1e-3, 1e-1, 10.0], "seed": [0, 1, 2]}``.
      *args: shared inputs (data sets), passed as jit arguments (not baked-in constants) and
        replicated on every device.
      devices: devices to shard the grid over; default all of ``jax.devices()`` (under
        ``jax.distributed``: the devices of every process; all processes must make the call).

    Returns:
      ``fn``'s pytree with leading axes ``(len(axes[k]) for k in axes)``, as NumPy arrays.

    Validation: before compiling, ``fn`` is called with concrete values in validation mode, once
    per value of the longest axis so that every grid value is seen (see
    :func:`validate_points`), so a bad grid value (a negative step size)
    or bad data (labels in {0, 1} for a method that needs {-1, +1}) raises the message of a
    direct call instead of being traced past. The compiled program is unchanged.

    Example:
      >>> import jax.numpy as jnp
      >>> out = sweep(lambda a, b: a * b, {"a": [1.0, 2.0], "b": [0.0, 1.0, 2.0]})
      >>> out.shape
      (2, 3)
    """
    if not callable(fn):
        raise TypeError(f"`sweep(fn=...)` must be callable, got {type(fn)}")
    points = grid_points(axes)
    validate_points(fn, axes, tuple(args))
    shape = tuple(len(np.asarray(v)) for v in axes.values())
    size = int(np.prod(shape))
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("`sweep(devices=...)` must name at least one device, got []")
    k = len(devices)
    pad = (-size) % k
    # Pad with copies of the last point (valid inputs, discarded afterwards).
    batch = {n: np.concatenate([v, np.repeat(v[-1:], pad)]) for n, v in points.items()}

    mapped = _compiled(fn, tuple(devices))
    if k == 1:
        dev = devices[0]
        out = mapped({n: jax.device_put(jnp.asarray(v), dev) for n, v in batch.items()},
                     jax.device_put(tuple(args), dev))
    else:
        sharding, replicated = _shardings(tuple(devices))
        # Every process holds the whole (small) grid and the shared data on the host, and places
        # only the shards of the devices it owns: under jax.distributed, `jax.device_put` onto
        # another process's device fails, `make_array_from_callback` asks only for local ones.
        placed = {n: _global_array(v, sharding) for n, v in batch.items()}
        shared = jax.tree.map(lambda a: _global_array(np.asarray(a), replicated), tuple(args))
        out = mapped(placed, shared)
        if not all(leaf.is_fully_addressable for leaf in jax.tree.leaves(out)):
            from jax.experimental import multihost_utils

            # Results gathered to every process (an all-gather over the processes' shards).
            out = multihost_utils.process_allgather(out, tiled=True)

    def unflatten(leaf):
        arr = np.asarray(leaf)[:size]
        return arr.reshape(shape + arr.shape[1:])

    return jax.tree.map(unflatten, out)
