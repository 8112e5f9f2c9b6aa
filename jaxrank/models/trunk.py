r"""Train a network (the *trunk*) under an :class:`~jaxrank.models.factored_output.OutputLayer`.

The output layers of :mod:`jaxrank.models.factored_output` own their weights and update them
themselves (the factored layer's exact SGD step never forms the ``(D, d)`` matrix), and return
:math:`\nabla_h L`, the gradient with respect to their input. :func:`with_trunk` wires that
gradient back through the trunk with ``jax.vjp`` and an optax optimizer, as a
:class:`~jaxrank.optim.Solver`, so the whole model runs under :func:`jaxrank.optim.run`:

.. math::
    h = \mathrm{apply}(\theta, x),\quad (W', L, \nabla_h L) = \mathrm{layer.update}(W, h, c),
    \quad \theta' = \theta + \mathrm{optax}\bigl(J_\theta h^\top \nabla_h L\bigr).

Both parts step on the gradient of the same summed loss at the same point :math:`(\theta, W)`.
The output weights take the layer's own SGD step, whose size may be an optax schedule
(``learning_rate=optax.cosine_decay_schedule(...)``); a per-coordinate optax transformation
(Adam, ...) cannot be applied to them without forming :math:`W` (:math:`O(Dd)`), which is what
the factored layer exists to avoid. The trunk takes any optax optimizer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxrank._solver import Solver
from jaxrank.models.factored_output import OutputLayer

__all__ = ["TrunkState", "with_trunk"]


class TrunkState(NamedTuple):
    """State of :func:`with_trunk`: step counter, the trunk's optax state, the last mean loss."""

    count: jax.Array
    opt_state: Any
    loss: jax.Array


def with_trunk(
    layer: OutputLayer,
    apply_fn: Callable[[Any, jax.Array], jax.Array],
    optimizer: optax.GradientTransformation,
) -> Solver:
    """A :class:`~jaxrank.optim.Solver` training ``apply_fn``'s parameters under ``layer``.

    Args:
      layer: an :class:`OutputLayer` (:func:`~jaxrank.models.factored_output_layer`,
        :func:`~jaxrank.models.naive_output_layer`, ...).
      apply_fn: the trunk, ``apply_fn(theta, x) -> h`` of shape ``(m, d)`` (a flax module's
        ``model.apply``, or any pure function).
      optimizer: an ``optax.GradientTransformation`` for the trunk parameters.

    Returns:
      A Solver on ``params = (theta, layer_state)``: ``init(params)``, and
      ``update(params, state, batch)`` with ``batch = (x, labels)`` (``x`` the trunk's input for
      ``m`` examples, ``labels`` ``(m,)``), so ``run(solver, (theta, layer.init(W)), None,
      xs=(inputs, labels))`` trains on minibatches stacked along a leading axis.
      ``state.loss`` is the mean loss of the batch the step started from.

    Example:
      >>> import jax, jax.numpy as jnp, optax
      >>> from jaxrank.models import factored_output_layer
      >>> from jaxrank.optim import run
      >>> layer = factored_output_layer("z_loss", learning_rate=0.05)
      >>> trunk = lambda theta, x: jnp.tanh(x @ theta)
      >>> theta = 0.1 * jax.random.normal(jax.random.key(0), (8, 4))
      >>> W = 0.1 * jax.random.normal(jax.random.key(1), (100, 4))
      >>> x = jax.random.normal(jax.random.key(2), (5, 3, 8))  # 5 minibatches of 3
      >>> labels = jnp.arange(15).reshape(5, 3)
      >>> (theta, layer_state), state, _ = run(with_trunk(layer, trunk, optax.adam(1e-2)),
      ...                                      (theta, layer.init(W)), None, xs=(x, labels))
      >>> int(state.count), layer_state.V.shape
      (5, (100, 4))
    """
    if not isinstance(layer, OutputLayer):
        raise TypeError(f"`with_trunk(layer=...)` must be an OutputLayer, got {type(layer)}")
    if not callable(apply_fn):
        raise TypeError(f"`with_trunk(apply_fn=...)` must be callable, got {type(apply_fn)}")
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError("`with_trunk(optimizer=...)` must be an optax.GradientTransformation, "
                        f"got {type(optimizer)}")

    def init(params, *args):
        theta, _ = params
        dtype = jnp.result_type(*jax.tree.leaves(theta))
        return TrunkState(jnp.zeros((), jnp.int32), optimizer.init(theta),
                          jnp.full((), jnp.nan, dtype))

    def update(params, state, *args):
        theta, layer_state = params
        x, labels = args[-1]
        h, vjp = jax.vjp(lambda t: apply_fn(t, x), theta)
        layer_state, loss, grad_h = layer.update(layer_state, h, labels)
        (grads,) = vjp(grad_h.astype(h.dtype))
        updates, opt_state = optimizer.update(grads, state.opt_state, theta)
        theta = optax.apply_updates(theta, updates)
        return (theta, layer_state), TrunkState(state.count + 1, opt_state,
                                                jnp.mean(loss).astype(state.loss.dtype))

    return Solver(init, update)
