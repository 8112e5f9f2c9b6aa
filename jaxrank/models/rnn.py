"""A small recurrent text encoder in ``flax.linen`` (embeddings learned from scratch)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrank import _checks

__all__ = ["TextEncoder", "RowEncoder"]


class TextEncoder(nn.Module):
    """Token ids -> embedding -> GRU -> max-pool over the non-padding positions.

    Id 0 is padding (masked out of the pooling); a sequence of padding only pools to 0.

    Attributes:
      vocab_size: number of token ids (embeddings learned from scratch, no pretrained vectors).
      embed_dim: embedding width.
      hidden: GRU state width (the feature dimension).

    Example:
      >>> enc = TextEncoder(vocab_size=10, embed_dim=4, hidden=3)
      >>> tokens = jnp.array([[2, 3, 0], [0, 0, 0]])
      >>> params = enc.init(jax.random.key(0), tokens)
      >>> feats = enc.apply(params, tokens)
      >>> feats.shape, feats[1].tolist()
      ((2, 3), [0.0, 0.0, 0.0])
    """

    vocab_size: int
    embed_dim: int = 32
    hidden: int = 32

    @nn.compact
    def __call__(self, tokens: jax.Array) -> jax.Array:
        _checks.check_positive_int(self.vocab_size, "TextEncoder(vocab_size=...)")
        _checks.check_positive_int(self.embed_dim, "TextEncoder(embed_dim=...)")
        _checks.check_positive_int(self.hidden, "TextEncoder(hidden=...)")
        emb = nn.Embed(self.vocab_size, self.embed_dim,
                       embedding_init=nn.initializers.normal(0.1))(tokens)
        states = nn.RNN(nn.GRUCell(features=self.hidden))(emb)
        mask = (tokens != 0)[..., None]
        pooled = jnp.max(jnp.where(mask, states, -jnp.inf), axis=-2)
        return jnp.where(jnp.any(mask, axis=-2), pooled, 0.0).astype(states.dtype)


class RowEncoder(nn.Module):
    """Real-valued sequences (rows of an image) -> GRU -> the last state.

    An image of shape ``(rows, cols)`` is read as a sequence of ``rows`` vectors of length
    ``cols`` (e.g. an 8×8 digit as 8 steps of 8 pixels).

    Attributes:
      hidden: GRU state width (the feature dimension).

    Example:
      >>> enc = RowEncoder(hidden=3)
      >>> rows = jnp.ones((2, 8, 8), jnp.float32)
      >>> params = enc.init(jax.random.key(0), rows)
      >>> enc.apply(params, rows).shape
      (2, 3)
    """

    hidden: int = 16

    @nn.compact
    def __call__(self, rows: jax.Array) -> jax.Array:
        _checks.check_positive_int(self.hidden, "RowEncoder(hidden=...)")
        if rows.ndim < 2:
            raise ValueError(f"`RowEncoder` input must have shape (..., rows, cols), got "
                             f"{rows.shape}")
        states = nn.RNN(nn.GRUCell(features=self.hidden))(rows)
        return states[..., -1, :]
