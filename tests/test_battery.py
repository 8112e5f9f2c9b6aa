"""One conformance battery over every optimizer family of the library, from one registry.

Each registered method — the perceptron-family `Solver`s, `from_optax`, the online (optax)
transformations of `jaxrank.optim.omd`, the Newton-type `Solver`s of `jaxrank.optim.gn_newton`, the
bilevel `Solver`s of `jaxrank.optim.bilevel`, and the factored output layer (a building block with
its own ``update``) — is checked for

  (a) state structure stable: tree structure, shapes and dtypes unchanged by a step;
  (b) no recompilation: a second jitted step with new values reuses the compiled program;
  (c) ``vmap`` over seeds (data or PRNG keys drawn from the seed) equal to a loop over them;
  (d) jit equal to no-jit.

Every method is driven through one adaptor per family, ``init(seed) -> (params, state)`` and
``step(params, state, seed) -> (params, state)``, so adding a method is one registry line. Problems
are tiny (the compile, not the run, is the cost). The problem-by-problem convergence checks of the
perceptron family stay in ``tests/test_conformance.py``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrank.models import factored_output as F
from jaxrank.optim import bilevel as B
from jaxrank.optim import bilevel_tasks as T
from jaxrank.optim import from_optax, omd, perceptron
from jaxrank.optim import gn_newton as G
from tests._tolerances import NUMERICAL

# vmapped and looped programs are different XLA programs: their float64 results agree to
# rounding of reordered reductions, not bit for bit.
BATCH_VS_LOOP = NUMERICAL
SEEDS = (0, 1, 2)


@dataclasses.dataclass(frozen=True)
class Family:
    """How to drive one family: ``init(obj, seed)`` and ``step(obj, params, state, seed)``."""

    init: Callable[[Any, Any], tuple[Any, Any]]
    step: Callable[[Any, Any, Any, Any], tuple[Any, Any]]


# --------------------------------------------------------------------------- families


def _margin_data(seed):
    """A small separable problem: features (12, 3), labels in {−1, +1}; seed moves the data."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((12, 3))
    w = np.array([1.0, -2.0, 0.5])
    labels = jnp.asarray(np.where(base @ w >= 0, 1.0, -1.0))
    shift = 0.01 * jnp.asarray(seed, jnp.float64)
    return jnp.asarray(base) * (1.0 + shift), labels


def _solver_init(obj, seed):
    x, y = _margin_data(seed)
    theta = jnp.zeros(x.shape[1], x.dtype)
    return theta, obj.init(theta, x, y)


def _solver_step(obj, theta, state, seed):
    x, y = _margin_data(seed)
    return obj.update(theta, state, x, y)


MARGIN = Family(_solver_init, _solver_step)


def _grads(seed):
    return jnp.array([1.0, -2.0, 0.5]) * (1.0 + 0.1 * jnp.asarray(seed, jnp.float64))


def _tx_init(tx, seed):
    del seed
    x = jnp.full(3, 1.0 / 3, jnp.float64)  # an explicit dtype: not weakly typed
    return x, tx.init(x)


def _tx_step(tx, x, state, seed):
    u, state = tx.update(_grads(seed), state, x)
    return optax.apply_updates(x, u), state


ONLINE = Family(_tx_init, _tx_step)

_GN_RNG = np.random.default_rng(5)
_GN_A = jnp.asarray(_GN_RNG.standard_normal((8, 5)))
_GN_B = jnp.asarray(_GN_RNG.standard_normal(8))


def _gn_b(seed):
    return _GN_B + 0.1 * jnp.asarray(seed, jnp.float64)


def _gn_init(obj, seed):
    x = jnp.zeros(5)
    return x, obj.init(x, _GN_A, _gn_b(seed))


def _gn_step(obj, x, state, seed):
    return obj.update(x, state, _GN_A, _gn_b(seed))


NEWTON = Family(_gn_init, _gn_step)
GN_F = functools.partial(G.linear_equations, p=4.0)

_BL_DIM = 4


@functools.cache
def _bl_data():
    data = {k: jnp.asarray(v) for k, v in T.quartic_problem(0, _BL_DIM).items()}
    return data | {"noise": jnp.asarray(0.1)}


def _bl_init(obj, seed):
    del seed
    params = (jnp.ones(_BL_DIM), jnp.zeros(_BL_DIM))
    return params, obj.init(params, _bl_data())


def _bl_step(obj, params, state, seed):
    return obj.update(params, state, _bl_data(), jax.random.key(seed))


BILEVEL = Family(_bl_init, _bl_step)

_FO_RNG = np.random.default_rng(7)
_FO_W = _FO_RNG.standard_normal((11, 3)) * 0.1
_FO_H = _FO_RNG.standard_normal((4, 3))


def _fo_init(layer, seed):
    del seed
    state = layer.init(jnp.asarray(np.array(_FO_W)))  # a fresh copy: the layer may donate it
    return jnp.zeros(()), state


def _fo_step(layer, loss_sum, state, seed):
    s = jnp.asarray(seed)
    h = jnp.asarray(_FO_H) * (1.0 + 0.1 * s)
    labels = (jnp.arange(4) + s.astype(jnp.int32)) % 11
    state, loss, _ = layer.update(state, h, labels)
    return loss_sum + jnp.sum(loss), state


LAYER = Family(_fo_init, _fo_step)


# --------------------------------------------------------------------------- the registry


def _bl_methods():
    u, low, smp = T.quartic_upper, T.quartic_lower, T.quartic_sampler
    neu = {"neumann_learning_rate": 0.2, "neumann_steps": 5}
    return {
        "bilevel.bo_rep": lambda: B.bo_rep(u, low, learning_rate=0.02, momentum=0.9,
                                           lower_learning_rate=0.2, z_learning_rate=0.2,
                                           period=2, lower_steps=2,
                                           refine_steps=3, refine_epochs=1, sampler=smp),
        "bilevel.soba": lambda: B.soba(u, low, learning_rate=0.01, lower_learning_rate=0.2,
                                       sampler=smp),
        "bilevel.ma_soba": lambda: B.ma_soba(u, low, learning_rate=0.01, lower_learning_rate=0.2,
                                             momentum=0.9, sampler=smp),
        "bilevel.stocbio": lambda: B.stocbio(u, low, learning_rate=0.01, lower_learning_rate=0.2,
                                             inner_steps=2, sampler=smp, **neu),
        "bilevel.ttsa": lambda: B.ttsa(u, low, learning_rate=0.06, lower_learning_rate=0.3,
                                       neumann_learning_rate=0.2, neumann_max=4, sampler=smp),
        "bilevel.saba": lambda: B.saba(u, low, learning_rate=0.01, lower_learning_rate=0.2,
                                       block=lambda i, d: smp(jax.random.key(i), d),
                                       num_blocks=4),
        "bilevel.anil": lambda: B.anil(u, low, learning_rate=0.01, inner_learning_rate=0.2,
                                       inner_steps=3,
                                       sampler=smp),
        "bilevel.maml": lambda: B.maml(u, low, learning_rate=0.01, inner_learning_rate=0.2,
                                       inner_steps=2, sampler=smp),
        "bilevel.sustain": lambda: B.sustain(u, low, learning_rate=0.02, lower_learning_rate=0.2,
                                             correction=0.5, decay=0.0, sampler=smp, **neu),
        "bilevel.vrbo": lambda: B.vrbo(u, low, learning_rate=0.02, lower_learning_rate=0.2,
                                       inner_steps=2,
                                       period=2, checkpoint_batches=2, sampler=smp, **neu),
    }


BALL = omd.ball(1.0)
REGISTRY: dict[str, tuple[Family, Callable[[], Any]]] = {
    # perceptron family (Solver on (features, labels))
    "perceptron.lr_gd": (MARGIN, lambda: perceptron.lr_gd(10.0)),
    "perceptron.normalized_lr_gd": (MARGIN, lambda: perceptron.normalized_lr_gd(1.0)),
    "perceptron.batch_perceptron": (MARGIN, perceptron.batch_perceptron),
    "perceptron.normalized_batch_perceptron": (MARGIN, perceptron.normalized_batch_perceptron),
    "perceptron.perceptron": (MARGIN, lambda: perceptron.perceptron("first")),
    "from_optax(adam)": (MARGIN, lambda: from_optax(optax.adam(0.1), perceptron.logistic_loss)),
    "from_optax(lbfgs)": (MARGIN, lambda: from_optax(optax.lbfgs(), perceptron.logistic_loss)),
    # online learning: optax GradientTransformations
    "omd.optimistic_omd": (ONLINE, lambda: omd.optimistic_omd(0.1, projection=BALL)),
    "omd.optimistic_omd(adaptive)": (ONLINE, lambda: omd.optimistic_omd(
        omd.adaptive_step(2.0, 3.0), projection=BALL)),
    "omd.optimistic_omd(entropy)": (ONLINE, lambda: omd.optimistic_omd(
        0.1, mirror_map="entropy")),
    "omd.optimistic_omd(online_newton)": (ONLINE, lambda: omd.optimistic_omd(
        1.0, mirror_map="online_newton", projection=BALL)),
    "omd.ogd": (ONLINE, lambda: omd.ogd(omd.sqrt_decay_step(2.0, 3.0), projection=BALL)),
    "omd.adagrad_norm": (ONLINE, lambda: omd.adagrad_norm(2.0, projection=BALL)),
    "omd.optimistic_ftrl": (ONLINE, lambda: omd.optimistic_ftrl(omd.adaptive_step(2.0, 3.0),
                                                                projection=BALL)),
    "omd.ons": (ONLINE, lambda: omd.ons(0.5, 1.0, projection=BALL)),
    "omd.omd_ensemble": (ONLINE, lambda: omd.omd_ensemble(0.01, 4, meta_learning_rate=1.0,
                                                          projection=BALL)),
    # Newton-type Solvers
    "gn.grad_reg_newton": (NEWTON, lambda: G.grad_reg_newton(GN_F)),
    "gn.normalized_gradient_search": (NEWTON, lambda: G.normalized_gradient_search(GN_F)),
    "gn.super_universal_newton": (NEWTON, lambda: G.super_universal_newton(GN_F)),
    "gn.cubic_newton": (NEWTON, lambda: G.cubic_newton(GN_F)),
    "gn.gradient_method": (NEWTON, lambda: G.gradient_method(GN_F)),
    "gn.fast_gradient_method": (NEWTON, lambda: G.fast_gradient_method(GN_F)),
    # bilevel Solvers
    **{name: (BILEVEL, make) for name, make in _bl_methods().items()},
    # the factored output layer (a building block with its own update)
    "factored_output_layer": (LAYER, lambda: F.factored_output_layer("z_loss",
                                                                     learning_rate=0.1)),
    "naive_output_layer": (LAYER, lambda: F.naive_output_layer("z_loss", learning_rate=0.1)),
}
NAMES = sorted(REGISTRY)
# One representative per family runs in the default suite (the suite's 10-minute budget: every
# entry is a few compilations); every registered method runs under `make test-all`.
DEFAULT = {"perceptron.lr_gd", "from_optax(adam)", "omd.optimistic_omd(adaptive)",
           "gn.grad_reg_newton", "bilevel.soba", "factored_output_layer"}
SLOW = set(NAMES) - DEFAULT
PARAMS = [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in NAMES]


@functools.cache
def method(name):
    family, make = REGISTRY[name]
    return family, make()


@functools.cache
def jitted_step(name):
    family, obj = method(name)
    return jax.jit(lambda p, s, seed: family.step(obj, p, s, seed))


def signature(tree):
    """Tree structure and every leaf's (shape, dtype, weak type): a weak type that the step
    makes strong recompiles the second call (optax.lbfgs's state did, before from_optax
    normalised it)."""
    return jax.tree.structure(tree), [
        (jnp.shape(x), jnp.result_type(x), getattr(x, "weak_type", False))
        for x in jax.tree.leaves(tree)]


def _init(name, seed):
    family, obj = method(name)
    return family.init(obj, seed)


# --------------------------------------------------------------------------- the checks


def test_from_optax_lbfgs_state_is_stable_and_does_not_recompile():
    """Checks (a) and (b) for optax.lbfgs, whose state had weak-typed leaves that a step made
    strong (a recompile per call until from_optax normalised them). The default suite runs only
    these two checks: the whole battery costs lbfgs's zoom line search compiled three times
    (jit, op by op, vmap), so it runs under `make test-all`."""
    name = "from_optax(lbfgs)"
    step = jitted_step(name)
    p0, s0 = _init(name, 0)
    p1, s1 = step(p0, s0, 0)
    assert signature(s1) == signature(s0) and signature(p1) == signature(p0)
    size = step._cache_size()
    step(p1, s1, 1)
    assert step._cache_size() == size, "from_optax(lbfgs) recompiled on its second call"


def test_registry_covers_every_family():
    families = {id(REGISTRY[n][0]) for n in NAMES}
    assert families == {id(f) for f in (MARGIN, ONLINE, NEWTON, BILEVEL, LAYER)}


@pytest.mark.parametrize("name", PARAMS)
def test_state_stable_no_recompile_vmap_and_jit_equals_eager(name):
    step = jitted_step(name)
    family, obj = method(name)
    p0, s0 = _init(name, 0)
    p1, s1 = step(p0, s0, 0)
    # (a) state structure, shapes and dtypes unchanged by a step
    assert signature(s1) == signature(s0), name
    assert signature(p1) == signature(p0), name
    # (b) a second call with new values reuses the compiled program
    size = step._cache_size()
    p2, s2 = step(p1, s1, 1)
    assert step._cache_size() == size, f"{name} recompiled on its second call"
    # (d) jit equals no-jit (the same step, run op by op)
    p1_eager, s1_eager = family.step(obj, p0, s0, 0)
    np.testing.assert_allclose(jax.tree.leaves(p1_eager), jax.tree.leaves(p1),
                               **NUMERICAL.kw())
    # (c) vmap over seeds equals a loop over them (two steps from each seed's own init)
    seeds = jnp.asarray(SEEDS)

    def two_steps(seed):
        p, s = family.init(obj, seed)
        p, s = family.step(obj, p, s, seed)
        return family.step(obj, p, s, seed + 10)[0]

    batched = jax.jit(jax.vmap(two_steps))(seeds)
    one = jax.jit(two_steps)
    for i, seed in enumerate(SEEDS):
        np.testing.assert_allclose(
            jax.tree.leaves(jax.tree.map(lambda v, i=i: v[i], batched)),
            jax.tree.leaves(one(jnp.asarray(seed))), **BATCH_VS_LOOP.kw())
