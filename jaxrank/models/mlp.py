"""A multi-layer perceptron in ``flax.linen``, the default model of the experiments.

Params are a plain pytree, so a model trains through :func:`jaxrank.optim.from_optax` and
:func:`jaxrank.optim.run`, and seeds (``init`` keys) vmap like any other hyperparameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax

from jaxrank import _checks

__all__ = ["MLP"]


class MLP(nn.Module):
    """Dense layers of widths ``hidden`` with ``activation``, then a linear head of ``outputs``.

    Attributes:
      hidden: hidden widths, e.g. ``(64, 64)``; ``()`` gives a linear model.
      outputs: number of outputs (logits); ``squeeze=True`` with ``outputs=1`` returns shape
        ``(batch,)`` (binary margins).
      activation: elementwise non-linearity.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> model = MLP(hidden=(16,), outputs=3)
      >>> params = model.init(jax.random.key(0), jnp.ones((2, 5)))
      >>> model.apply(params, jnp.ones((2, 5))).shape
      (2, 3)
    """

    hidden: Sequence[int] = ()
    outputs: int = 1
    activation: Callable[[jax.Array], jax.Array] = nn.relu
    squeeze: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for i, width in enumerate(self.hidden):
            _checks.check_positive_int(width, f"MLP(hidden[{i}]=...)")
            x = self.activation(nn.Dense(width)(x))
        _checks.check_positive_int(self.outputs, "MLP(outputs=...)")
        x = nn.Dense(self.outputs)(x)
        return x[..., 0] if self.squeeze and self.outputs == 1 else x
