r"""A small convolutional network in ``flax.linen`` for image experiments on a CPU.

Layers: ``len(features)`` convolutions ``kernel × kernel`` with ``strides`` and ``SAME``
padding, each followed by ``activation``; then flatten, optional dense layers ``hidden`` with
``activation``, and a linear head of ``outputs``:

.. math::
    z^{(0)} = x,\quad z^{(l)} = \sigma\big(W^{(l)} \star_s z^{(l-1)} + b^{(l)}\big),\quad
    h(x) = V\,\mathrm{vec}(z^{(L)}) + c.

Two implementations of the convolution compute the same function with the same parameters
(``kernel`` of shape (k, k, C_in, C_out) and ``bias``, as ``flax.linen.Conv``):
``"patches"`` (im2col: k² strided slices of the padded input concatenated on the channel axis,
then one matmul) and ``"conv"`` (``lax.conv_general_dilated``). On XLA CPU, under ``vmap`` over
seeds (batched kernels) and inside PGD attacks (input gradients), the matmul form is the faster
one here (measured in ``paper_repro/compsum.md``), so it is the default.

Inputs are images (..., H, W, C), or flat vectors (..., H·W·C) when ``image_shape = (H, W, C)``
is set: flat inputs keep data, ε-balls and attacks of the experiments shape-agnostic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrank import _checks

__all__ = ["CNN", "IMPLEMENTATIONS"]

IMPLEMENTATIONS = ("patches", "conv")


def _same_patches(x: jax.Array, kernel: int, strides: int) -> jax.Array:
    """im2col of (B, H, W, C) for a k×k window with ``SAME`` padding: (B, H', W', k·k·C), the
    last axis ordered (row offset, column offset, channel) as a (k, k, C, F) kernel flattens."""
    _, h, w, c = x.shape
    (ph, pw) = jax.lax.padtype_to_pads((h, w), (kernel, kernel), (strides, strides), "SAME")
    xp = jnp.pad(x, ((0, 0), ph, pw, (0, 0)))
    ho, wo = -(-h // strides), -(-w // strides)
    cols = [
        jax.lax.slice(xp, (0, i, j, 0),
                      (xp.shape[0], i + strides * (ho - 1) + 1, j + strides * (wo - 1) + 1, c),
                      (1, strides, strides, 1))
        for i in range(kernel) for j in range(kernel)
    ]
    return jnp.concatenate(cols, axis=-1)


class _Conv(nn.Module):
    """``SAME``-padded strided 2-D convolution with ``flax.linen.Conv``'s parameters."""

    features: int
    kernel: int
    strides: int
    implementation: str

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = x.shape[-1]
        w = self.param("kernel", nn.initializers.lecun_normal(),
                       (self.kernel, self.kernel, c, self.features), x.dtype)
        b = self.param("bias", nn.initializers.zeros_init(), (self.features,), x.dtype)
        if self.implementation == "patches":
            p = _same_patches(x, self.kernel, self.strides)
            y = p @ w.reshape(self.kernel * self.kernel * c, self.features)
        else:
            y = jax.lax.conv_general_dilated(x, w, (self.strides, self.strides), "SAME",
                                             dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + b.reshape(1, 1, 1, -1)


class CNN(nn.Module):
    """Strided ``SAME`` convolutions ``features`` with ``activation``, then dense ``hidden``
    layers and a linear head of ``outputs`` logits.

    Attributes:
      features: output channels of each convolution, e.g. ``(8, 16)``.
      outputs: number of outputs (logits).
      kernel: spatial size k of the square kernels (k × k).
      strides: stride s of every convolution (s = 2 halves H and W, rounding up).
      hidden: widths of dense layers between the flattened feature map and the head.
      image_shape: ``(H, W, C)``: inputs are flat vectors (..., H·W·C) reshaped to images;
        ``None``: inputs are images (..., H, W, C).
      implementation: ``"patches"`` (im2col + matmul, default) or ``"conv"``
        (``lax.conv_general_dilated``); the same function of the same parameters.
      activation: elementwise non-linearity σ.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> model = CNN(features=(4, 8), outputs=3, image_shape=(8, 8, 1))
      >>> params = model.init(jax.random.key(0), jnp.ones((2, 64)))
      >>> model.apply(params, jnp.ones((2, 64))).shape
      (2, 3)
      >>> params["params"]["Conv_1"]["kernel"].shape  # (k, k, C_in, C_out)
      (3, 3, 4, 8)
    """

    features: Sequence[int] = (8, 16)
    outputs: int = 10
    kernel: int = 3
    strides: int = 2
    hidden: Sequence[int] = ()
    image_shape: Sequence[int] | None = None
    implementation: str = "patches"
    activation: Callable[[jax.Array], jax.Array] = nn.relu

    def _check(self, x: jax.Array) -> None:
        if len(self.features) == 0:
            raise ValueError("`CNN(features=...)` must name at least one convolution, got ()")
        for i, f in enumerate(self.features):
            _checks.check_positive_int(f, f"CNN(features[{i}]=...)")
        for i, f in enumerate(self.hidden):
            _checks.check_positive_int(f, f"CNN(hidden[{i}]=...)")
        _checks.check_positive_int(self.outputs, "CNN(outputs=...)")
        _checks.check_positive_int(self.kernel, "CNN(kernel=...)")
        _checks.check_positive_int(self.strides, "CNN(strides=...)")
        _checks.check_one_of(self.implementation, IMPLEMENTATIONS, "CNN(implementation=...)")
        shape = tuple(jnp.shape(x))
        if self.image_shape is not None:
            if len(self.image_shape) != 3:
                raise ValueError("`CNN(image_shape=...)` must be (H, W, C), got "
                                 f"{tuple(self.image_shape)}")
            for i, v in enumerate(self.image_shape):
                _checks.check_positive_int(v, f"CNN(image_shape[{i}]=...)")
            size = math.prod(self.image_shape)
            if len(shape) < 1 or shape[-1] != size:
                raise ValueError(
                    f"`CNN(image_shape={tuple(self.image_shape)})` takes inputs (..., {size}), "
                    f"got x of shape {shape}")
        elif len(shape) < 3:
            raise ValueError("`CNN(...)(x)` takes images (..., H, W, C) (or set image_shape for "
                             f"flat inputs), got x of shape {shape}")

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        self._check(x)
        if self.image_shape is not None:
            lead = x.shape[:-1]
            x = x.reshape((-1, *self.image_shape))
        else:
            lead = x.shape[:-3]
            x = x.reshape((-1, *x.shape[-3:]))
        for i, f in enumerate(self.features):
            conv = _Conv(f, self.kernel, self.strides, self.implementation, name=f"Conv_{i}")
            x = self.activation(conv(x))
        x = x.reshape(x.shape[0], -1)
        for width in self.hidden:
            x = self.activation(nn.Dense(width)(x))
        x = nn.Dense(self.outputs)(x)
        return x.reshape((*lead, self.outputs))
