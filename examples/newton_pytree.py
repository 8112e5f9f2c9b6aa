"""Gradient-regularized Newton (:mod:`jaxrank.optim.gn_newton`) on a user's problem whose
parameters are a dict (weights and bias of a regularized logistic regression).

The code below is the README's example (section "Using the library, by family"), verbatim;
``tests/test_readme_examples.py`` checks that and runs this script (a few seconds on a CPU).
Run: ``python examples/newton_pytree.py``.
"""

import jax
import jax.numpy as jnp

from jaxrank.optim import gn_newton, run

A = jax.random.normal(jax.random.key(0), (200, 4))
y = jnp.sign(A @ jnp.array([1.0, -2.0, 0.5, 0.0]) + 0.3)

def loss(p, A, y):                                           # parameters as a dict
    return jnp.mean(jax.nn.softplus(-y * (A @ p["w"] + p["b"]))) + 1e-2 * p["w"] @ p["w"]

p, state, values = run(gn_newton.grad_reg_newton(loss), {"w": jnp.zeros(4), "b": jnp.zeros(())},
                       15, A, y, record=lambda p, s, A, y: s.value)
assert float(state.grad_norm) < 1e-6                         # Newton: converged in a few steps
