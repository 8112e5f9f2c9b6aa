"""A loss of :mod:`jaxrank.losses` (the Z-loss) in a training loop: optax Adam through
:func:`jaxrank.optim.from_optax`, the loss recorded at every step by :func:`jaxrank.optim.run`.

The code below is the README's example (section "Using the library, by family"), verbatim;
``tests/test_readme_examples.py`` checks that and runs this script (a few seconds on a CPU).
Run: ``python examples/loss_training_loop.py``.
"""

import jax
import jax.numpy as jnp
import optax

from jaxrank.losses import z_loss
from jaxrank.optim import from_optax, run

x = jax.random.normal(jax.random.key(0), (64, 10))
labels = jnp.argmax(x[:, :5], axis=1)                       # 5 classes

def loss_fn(W, x, labels):                                   # any loss of jaxrank.losses
    return jnp.mean(z_loss(x @ W, labels, a=2.0))

W0 = 0.1 * jax.random.normal(jax.random.key(1), (10, 5))      # not 0: the Z-loss is flat there
solver = from_optax(optax.adam(0.05), loss_fn)
W, state, losses = run(solver, W0, 100, x, labels,
                       record=lambda W, s, x, labels: loss_fn(W, x, labels))
assert losses[-1] < 0.2 * losses[0]
