"""Optimistic OMD (:mod:`jaxrank.optim.omd`) as a plain ``optax.GradientTransformation``, with an
optax schedule as its step size and a ball constraint, on a noisy quadratic.

The code below is the README's example (section "Using the library, by family"), verbatim;
``tests/test_readme_examples.py`` checks that and runs this script (a few seconds on a CPU).
Run: ``python examples/omd_as_optax.py``.
"""

import jax
import jax.numpy as jnp
import optax

from jaxrank.optim import omd

tx = omd.optimistic_omd(optax.cosine_decay_schedule(0.5, 100), projection=omd.ball(1.0))
target = jnp.array([0.3, -0.2, 0.5])

@jax.jit
def step(params, opt_state, noise):                         # a plain optax step
    g = jax.grad(lambda p: jnp.sum((p - target - noise) ** 2))(params)
    updates, opt_state = tx.update(g, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

params, opt_state = jnp.zeros(3), tx.init(jnp.zeros(3))
for t in range(100):
    noise = 0.1 * jax.random.normal(jax.random.fold_in(jax.random.key(0), t), (3,))
    params, opt_state = step(params, opt_state, noise)
assert jnp.linalg.norm(params - target) < 0.1
