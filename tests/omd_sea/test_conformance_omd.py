"""omd_sea transformations: float32 in -> float32 out, traced step sizes. (State structure, no
recompilation, vmap over seeds and jit vs no-jit: tests/test_battery.py.)"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrank.optim import omd
from tests._tolerances import IDENTITY

B = omd.ball(1.0)
REGISTRY = {
    "omd_euclidean": lambda: omd.optimistic_omd(0.1, projection=B),
    "omd_adaptive": lambda: omd.optimistic_omd(omd.adaptive_step(2.0, 3.0), projection=B),
    "omd_entropy": lambda: omd.optimistic_omd(0.1, mirror_map="entropy"),
    "omd_newton": lambda: omd.optimistic_omd(1.0, mirror_map="online_newton", projection=B),
    "ogd": lambda: omd.ogd(omd.sqrt_decay_step(2.0, 3.0), projection=B),
    "adagrad_norm": lambda: omd.adagrad_norm(2.0, projection=B),
    "optimistic_ftrl": lambda: omd.optimistic_ftrl(omd.adaptive_step(2.0, 3.0), projection=B),
    "ons": lambda: omd.ons(0.5, 1.0, projection=B),
    "ensemble": lambda: omd.omd_ensemble(0.01, 4, meta_learning_rate=1.0, projection=B),
}
NAMES = sorted(REGISTRY)
D = 3


def x0(name, dtype=jnp.float64):
    return jnp.full(D, 1.0 / D, dtype) if name == "omd_entropy" else jnp.zeros(D, dtype)


@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_out(name):
    tx = REGISTRY[name]()
    x = x0(name, jnp.float32)
    s = tx.init(x)
    u, s = tx.update(jnp.array([1.0, -2.0, 0.5], jnp.float32), s, x)
    assert u.dtype == jnp.float32
    for leaf in jax.tree.leaves(s):
        assert leaf.dtype in (jnp.float32, jnp.int32), (name, leaf.dtype)


def test_traced_learning_rate_vmaps():
    g = jnp.array([[1.0, 0.0, 0.0], [0.5, 1.0, 0.0]])

    def final(eta):
        tx = omd.optimistic_omd(eta, projection=omd.ball(10.0))
        s, x = tx.init(jnp.zeros(D)), jnp.zeros(D)
        for gi in g:
            u, s = tx.update(gi, s, x)
            x = x + u
        return x

    out = jax.vmap(final)(jnp.array([0.1, 0.2]))
    np.testing.assert_allclose(out[1], final(0.2), **IDENTITY.kw())
    np.testing.assert_allclose(out[0], final(0.1), **IDENTITY.kw())
