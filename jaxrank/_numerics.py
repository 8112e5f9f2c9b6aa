r"""Shared numerically careful primitives: one safe norm and one logistic loss for the library.

Every module that needs a Euclidean norm of a vector or pytree that may be zero, tiny or huge
uses :func:`safe_norm` (finite value *and* finite gradient at 0) or :func:`stable_norm` (no
overflow/underflow of the squares), never a private copy. Every binary logistic loss (the
perceptron paper's :math:`f(\theta)`, the Newton problems' logistic regression, the SEA
streams, AnyLoss's BCE baseline) is :func:`binary_logistic`, which delegates to optax.

Why the norms stay ours and not ``optax.tree.norm`` / ``optax.projections.projection_l2_ball``:
optax forms :math:`\sqrt{\sum v_j^2}`, whose squares overflow (float64 entries of 1e200, or
float32 entries of 1e20, give ``inf``, so the ball projection returns 0) and whose gradient at
``v = 0`` is NaN; :func:`safe_norm` is finite at every scale and at 0 (``tests/test_numerics.py``
shows both differences).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = ["stable_norm", "safe_norm", "tree_norm", "binary_logistic"]


def stable_norm(v: jax.Array, axis: int | tuple[int, ...] | None = None) -> jax.Array:
    """Euclidean norm scaled by ``max|v_j|`` (no overflow/underflow of squares); 0 for ``v = 0``.

    Its gradient is ``v/‖v‖`` at every scale (1e-200 to 1e200 in float64); at ``v = 0`` it is
    NaN, use :func:`safe_norm` where a zero vector can be differentiated.

    Example:
      >>> f"{float(stable_norm(jnp.array([3e30, 4e30], jnp.float32))):.3g}"  # squares overflow
      '5e+30'
    """
    # The norm is 1-homogeneous, so its derivative through the scale is exactly zero: stopping
    # the gradient there keeps ∇ = v/‖v‖ exact, where differentiating through max|v_j| would
    # form 1/scale² (inf for scale 1e200, 0 for scale 1e-200) and return a wrong or NaN gradient.
    scale = jax.lax.stop_gradient(jnp.max(jnp.abs(v), axis=axis, keepdims=True))
    safe = jnp.where(scale > 0, scale, 1)
    out = safe * jnp.sqrt(jnp.sum(jnp.square(v / safe), axis=axis, keepdims=True))
    out = jnp.where(scale > 0, out, 0)
    return jnp.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def safe_norm(v: jax.Array, min_norm: float = 0.0, axis: Any = None) -> jax.Array:
    r"""``max(‖v‖₂, min_norm)`` with a finite (zero) gradient at ``v = 0``.

    The plain ``jnp.linalg.norm`` has a NaN gradient at 0; this is the double-``where`` form
    (as ``optax.safe_norm``), with scaling so huge entries do not overflow.

    Example:
      >>> jax.grad(safe_norm)(jnp.zeros(3)).tolist()
      [0.0, 0.0, 0.0]
    """
    pos = jnp.any(v != 0, axis=axis)
    safe_v = jnp.where(jnp.expand_dims(pos, axis) if axis is not None else pos, v, 1)
    norm = jnp.where(pos, stable_norm(safe_v, axis=axis), 0)
    return jnp.maximum(norm, min_norm)


def tree_norm(tree: Any) -> jax.Array:
    """Euclidean norm of all leaves of a pytree together, safe at 0 (see :func:`safe_norm`).

    Example:
      >>> float(tree_norm({"a": jnp.array([3.0]), "b": jnp.array([[4.0]])}))
      5.0
    """
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return jnp.zeros(())
    flat = jnp.concatenate([jnp.ravel(x) for x in leaves])
    return safe_norm(flat)


def binary_logistic(logits: jax.Array, labels: Any = 1) -> jax.Array:
    r"""Per-element logistic loss :math:`-y\log\sigma(z) - (1-y)\log\sigma(-z)`, labels in {0, 1}.

    The library's one binary logistic loss: ``optax.sigmoid_binary_cross_entropy`` (finite for
    logits of any size, e.g. :math:`|z| = 10^4`). With the default ``labels=1`` it is the margin
    form :math:`\log(1 + e^{-m})` = ``softplus(-m)`` of a margin :math:`m = y z`, :math:`y \in
    \{-1, +1\}`, bit for bit (optax's :math:`-\log\sigma(m) - 0\cdot\log\sigma(-m)`).
    No label check here (the callers check their own convention where the labels are concrete).

    Example:
      >>> [round(float(v), 4) for v in binary_logistic(jnp.array([0.0, 1e4, -1e4]))]
      [0.6931, 0.0, 10000.0]
    """
    z = jnp.asarray(logits)
    return optax.sigmoid_binary_cross_entropy(z, jnp.asarray(labels, z.dtype))
