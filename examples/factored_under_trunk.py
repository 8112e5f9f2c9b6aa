"""The factored output layer (:mod:`jaxrank.models.factored_output`, exact O(d²) updates for D
classes) under a flax trunk trained by optax Adam, via :func:`jaxrank.models.with_trunk`.

The code below is the README's example (section "Using the library, by family"), verbatim;
``tests/test_readme_examples.py`` checks that and runs this script (a few seconds on a CPU).
Run: ``python examples/factored_under_trunk.py``.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxrank.models import factored_output_layer, with_trunk
from jaxrank.optim import run

D, d = 500, 8                                                # classes, hidden width
trunk = nn.Sequential([nn.Dense(16), nn.relu, nn.Dense(d)])  # any flax module
x = jax.random.normal(jax.random.key(0), (5, 4, 12))          # 5 minibatches of 4 examples
labels = jax.random.randint(jax.random.key(1), (5, 4), 0, D)
theta = trunk.init(jax.random.key(2), x[0])
W = 0.01 * jax.random.normal(jax.random.key(3), (D, d))

layer = factored_output_layer("z_loss", learning_rate=optax.linear_schedule(0.05, 0.01, 5))
solver = with_trunk(layer, trunk.apply, optax.adam(1e-3))
(theta, layer_state), state, losses = run(solver, (theta, layer.init(W)), None, xs=(x, labels),
                                          record=lambda p, s, batch: s.loss)
assert layer_state.V.shape == (D, d) and jnp.isfinite(state.loss)
