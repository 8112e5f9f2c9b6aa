r"""BO-REP (:mod:`jaxrank.optim.bilevel`) on a user's bilevel problem: the ridge penalty
:math:`\lambda = e^x` tuned on a validation set (lower level: ridge training loss; upper level:
validation loss), with an optax schedule as the upper step size.

The code below is the README's example (section "Using the library, by family"), verbatim;
``tests/test_readme_examples.py`` checks that and runs this script (a few seconds on a CPU).
Run: ``python examples/bilevel_ridge.py``.
"""

import jax
import jax.numpy as jnp
import optax

from jaxrank.optim import bilevel, run

k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
w_true = jax.random.normal(k1, (20,))
A_tr, A_val = jax.random.normal(k2, (30, 20)), jax.random.normal(k3, (100, 20))
b_tr = A_tr @ w_true + 2.0 * jax.random.normal(k1, (30,))
b_val = A_val @ w_true
data = (A_tr, b_tr, A_val, b_val)

def lower(x, y, batch):                                      # ridge training loss, λ = exp(x)
    A, b, _, _ = batch
    return 0.5 * jnp.mean((A @ y - b) ** 2) + 0.5 * jnp.exp(x[0]) * y @ y

def upper(x, y, batch):                                      # validation loss of y*(λ)
    _, _, A, b = batch
    return 0.5 * jnp.mean((A @ y - b) ** 2)

solver = bilevel.bo_rep(upper, lower, learning_rate=optax.cosine_decay_schedule(0.2, 200),
                        momentum=0.5, lower_learning_rate=0.05, z_learning_rate=0.05, period=1,
                        lower_steps=10)
(x, y), state, val = run(solver, (jnp.array([-3.0]), jnp.zeros(20)), 200, *data,
                         key=jax.random.key(1), record=lambda p, s, *d: upper(*p, d[:4]))
ridge = lambda lam: jnp.linalg.solve(A_tr.T @ A_tr / 30 + lam * jnp.eye(20), A_tr.T @ b_tr / 30)
assert upper(x, ridge(jnp.exp(x[0])), data) < upper(x, ridge(jnp.exp(-3.0)), data)  # λ helped
