"""Numerics policy for the whole suite (STYLE.md §12).

float64 is on so identities can be checked to 1e-10; rank promotion raises so the `(n,)` vs
`(n, 1)` broadcasting bug of logistic regression fails loudly. float32 behaviour is tested with
explicit float32 inputs.
"""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
