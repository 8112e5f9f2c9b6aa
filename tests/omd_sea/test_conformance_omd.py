"""Conformance of every omd_sea transformation: state structure and dtypes stable,
no recompilation on a 2nd call, vmap over seeds equal to a loop, float32 in -> float32 out,
traced step sizes."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrank.online import sea
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


@functools.cache
def jitted(name):
    return jax.jit(REGISTRY[name]().update)


def signature(tree):
    return jax.tree.map(lambda v: (jnp.shape(v), jnp.result_type(v)), tree)


@pytest.mark.parametrize("name", NAMES)
def test_state_structure_stable_and_no_recompile(name):
    tx = REGISTRY[name]()
    assert REGISTRY[name]() is tx or name in ("ogd", "ons")  # cached factories
    x = x0(name)
    s0 = tx.init(x)
    g = jnp.array([1.0, -2.0, 0.5])
    u, s1 = jitted(name)(g, s0, x)
    assert signature(s0) == signature(s1)
    n = jitted(name)._cache_size()
    jitted(name)(g * 2, s1, x + u)
    assert jitted(name)._cache_size() == n


def _final(name, seed, num_rounds=15):
    env = sea.linear(D, 1.0)
    p = sea.sea_params(jnp.array([0.5, 0.1, -0.2]), horizon=num_rounds, noise=0.3)
    _, _, losses = sea.play(REGISTRY[name](), env, p, x0(name), jax.random.key(seed), num_rounds)
    return losses


@pytest.mark.parametrize(
    "name", [n if n == "omd_adaptive" else pytest.param(n, marks=pytest.mark.slow)
             for n in NAMES if n != "omd_entropy"])
def test_vmap_over_seeds_matches_loop(name):
    seeds = jnp.arange(3)
    batched = jax.vmap(lambda s: _final(name, s))(seeds)
    for i in range(3):
        np.testing.assert_allclose(batched[i], _final(name, int(i)), **IDENTITY.kw())


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
