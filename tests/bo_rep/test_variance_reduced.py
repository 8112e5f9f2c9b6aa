"""SUSTAIN and VRBO: identities (exact corrections, reductions to named methods), convergence,
conformance and bad inputs."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrank.optim import bilevel as B
from jaxrank.optim import bilevel_tasks as T
from jaxrank.optim import run
from tests._tolerances import CONVERGENCE, IDENTITY

DIM = 3


@functools.cache
def s0(noise=0.0):
    data = {k: jnp.asarray(v) for k, v in T.quartic_problem(1, DIM).items()}
    return data | {"noise": jnp.asarray(noise)}


def exact(data):
    """Sample-free oracles: the noise-free S0 batch, identical at every call."""
    return T.quartic_sampler(jax.random.key(0), data | {"noise": jnp.asarray(0.0)})


def _record_xy(params, state, *args):
    return params


U, L = T.quartic_upper, T.quartic_lower


def u_full(x, y, args):
    """Upper oracle on the full batch (solvers without a sampler pass ``args`` as a tuple)."""
    return U(x, y, args[0])


def l_full(x, y, args):
    return L(x, y, args[0])

NEU = dict(neumann_learning_rate=0.2, neumann_steps=6)


def test_sustain_exact_oracles_any_correction_equals_no_correction():
    batch = exact(s0())
    params = (jnp.full(DIM, 1.5), jnp.zeros(DIM))
    outs = {}
    for eta in (1.0, 0.1):
        solver = B.sustain(u_full, l_full, learning_rate=0.02, lower_learning_rate=0.2,
                           correction=eta,
                           decay=1 / 3,
                           **NEU)
        outs[eta] = run(solver, params, 6, batch, key=jax.random.key(0), record=_record_xy)[2]
    for a, b in zip(outs[0.1], outs[1.0], strict=True):
        np.testing.assert_allclose(a, b, **IDENTITY.kw())


@pytest.mark.slow  # compiles SUSTAIN and a reference step (> 3 s on 2 shared cores)
def test_sustain_correction_one_is_simultaneous_sgd_with_neumann_hypergradient():
    data = s0(noise=0.2)
    alpha, beta, steps = 0.02, 0.2, 6
    solver = B.sustain(U, L, learning_rate=alpha, lower_learning_rate=beta, correction=1.0,
                       decay=0.0,
                       sampler=T.quartic_sampler, **NEU)
    params = (jnp.full(DIM, 1.5), jnp.zeros(DIM))
    (x, y), _, _ = run(solver, params, steps, data, key=jax.random.key(3))
    # Independent loop: y ← y − β∇_yG, x ← x − α(∇_xF − ∇²_xyG v), v the Neumann estimate,
    # all at (x_t, y_t) on the step's samples (same key streams as the solver).
    xr, yr = params

    @jax.jit
    def ref_step(xr, yr, t):
        k = jax.random.fold_in(jax.random.key(3), t)  # run's per-step key
        b = T.quartic_sampler(jax.random.fold_in(jax.random.fold_in(k, B._HYPER), 0), data)

        def draw(j, k=k):
            return T.quartic_sampler(jax.random.fold_in(jax.random.fold_in(k, B._NEUMANN), j),
                                     data)

        gy = jax.grad(L, argnums=1)(xr, yr, b)
        v = B.neumann_inverse(L, xr, yr, jax.grad(U, argnums=1)(xr, yr, b),
                              NEU["neumann_learning_rate"],
                              NEU["neumann_steps"], draw)
        h = jax.grad(U, argnums=0)(xr, yr, b) - B.cross_xy(L, xr, yr, v, b)
        return xr - alpha * h, yr - beta * gy

    for t in range(steps):
        xr, yr = ref_step(xr, yr, t)
    np.testing.assert_allclose(x, xr, **IDENTITY.kw())
    np.testing.assert_allclose(y, yr, **IDENTITY.kw())


def test_vrbo_exact_oracles_is_deterministic_stocbio_shifted_by_one_burst(period=3):
    batch = exact(s0())
    alpha, beta, m, steps = 0.02, 0.2, 2, 5
    x0, y_init = jnp.full(DIM, 1.5), jnp.zeros(DIM)
    sb = B.stocbio(u_full, l_full, learning_rate=alpha, lower_learning_rate=beta, inner_steps=m,
                   **NEU)
    xs_sb, ys_sb = run(sb, (x0, y_init), steps + 1, batch, key=jax.random.key(0),
                       record=_record_xy)[2]
    # StocBiO's y after its first burst is VRBO's y_0 (one burst of GD at x_0).
    y0 = B.lower_sgd(L, x0, y_init, beta, m, lambda j: batch)
    vr = B.vrbo(u_full, l_full, learning_rate=alpha, lower_learning_rate=beta, inner_steps=m,
                period=period, **NEU)
    xs_vr, ys_vr = run(vr, (x0, y0), steps, batch, key=jax.random.key(0), record=_record_xy)[2]
    np.testing.assert_allclose(xs_vr, xs_sb[:steps], **IDENTITY.kw())
    np.testing.assert_allclose(ys_vr, ys_sb[1:], **IDENTITY.kw())


@pytest.mark.slow  # compiles VRBO twice (> 3 s on 2 shared cores)
def test_vrbo_corrections_matter_with_noise():
    """With noisy oracles the SARAH chain is not a fresh estimate: q changes the trajectory."""
    data = s0(noise=0.3)
    params = (jnp.full(DIM, 1.5), jnp.zeros(DIM))
    out = []
    for q in (1, 4):
        solver = B.vrbo(U, L, learning_rate=0.02, lower_learning_rate=0.2, inner_steps=2, period=q,
                        sampler=T.quartic_sampler, **NEU)
        out.append(run(solver, params, 6, data, key=jax.random.key(0))[0][0])
    assert float(jnp.max(jnp.abs(out[0] - out[1]))) > 1e-6


def _solvers():
    smp = T.quartic_sampler
    return {
        "sustain": B.sustain(U, L, learning_rate=0.02, lower_learning_rate=0.2, correction=0.5,
                             decay=0.0,
                             sampler=smp, **NEU),
        "vrbo": B.vrbo(U, L, learning_rate=0.02, lower_learning_rate=0.2, inner_steps=2, period=4,
                       checkpoint_batches=3, sampler=smp, **NEU),
    }


@pytest.mark.slow  # compiles each solver several times (> 3 s on 2 shared cores)
@pytest.mark.parametrize("name", ["sustain", "vrbo"])
def test_converges_state_stable_no_recompile_vmap_float32(name):
    solver = _solvers()[name]
    data = s0(noise=0.05)
    x0 = jnp.full(DIM, 1.8)
    g0 = float(jnp.linalg.norm(T.quartic_hypergradient(x0, data)))
    (x, _), state, _ = run(solver, (x0, jnp.zeros(DIM)), 300, data, key=jax.random.key(0))
    assert float(jnp.linalg.norm(T.quartic_hypergradient(x, data))) < 0.1 * g0
    assert int(state.oracle_calls) > 0
    params = (jnp.ones(DIM), jnp.zeros(DIM))
    st = solver.init(params, data)
    step = jax.jit(solver.update)
    p1, s1 = step(params, st, data, jax.random.key(0))
    assert jax.tree.structure(s1) == jax.tree.structure(st)
    for a, b in zip(jax.tree.leaves(s1), jax.tree.leaves(st), strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
    before = step._cache_size()
    step(p1, s1, data, jax.random.key(1))
    assert step._cache_size() == before

    def one(seed):
        return run(solver, params, 4, data, key=jax.random.key(seed))[0][0]

    np.testing.assert_allclose(jax.vmap(one)(jnp.arange(2)), jnp.stack([one(0), one(1)]),
                               **CONVERGENCE.kw())
    d32 = jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), data)
    (x, y), _, _ = run(solver, (jnp.ones(DIM, jnp.float32), jnp.zeros(DIM, jnp.float32)), 2,
                       d32, key=jax.random.key(0))
    assert x.dtype == jnp.float32 and y.dtype == jnp.float32


def _f(x, y, b):
    return jnp.sum(y)


@pytest.mark.parametrize(("kw", "match"), [
    ({"correction": 0.0}, r"`sustain\(correction=...\)` must lie in \(0, 1\], got 0.0"),
    ({"correction": 1.5}, r"sustain\(correction=...\)"),
    ({"learning_rate": -1.0}, r"sustain\(learning_rate=...\)"),
    ({"neumann_steps": -1}, r"sustain\(neumann_steps=...\)"),
    ({"decay": -0.5}, r"sustain\(decay=...\)"),
])
def test_sustain_bad_inputs(kw, match):
    ok = dict(learning_rate=0.1, lower_learning_rate=0.1, correction=0.5,
              neumann_learning_rate=0.1, neumann_steps=2)
    with pytest.raises(ValueError, match=match):
        B.sustain(_f, _f, **(ok | kw))


@pytest.mark.parametrize(("kw", "match"), [
    ({"period": 0}, r"`vrbo\(period=...\)` must be a positive int, got 0"),
    ({"inner_steps": 0}, r"vrbo\(inner_steps=...\)"),
    ({"checkpoint_batches": 0}, r"vrbo\(checkpoint_batches=...\)"),
    ({"lower_learning_rate": 0.0}, r"vrbo\(lower_learning_rate=...\)"),
])
def test_vrbo_bad_inputs(kw, match):
    ok = dict(learning_rate=0.1, lower_learning_rate=0.1, inner_steps=2, period=3,
              neumann_learning_rate=0.1,
              neumann_steps=2)
    with pytest.raises(ValueError, match=match):
        B.vrbo(_f, _f, **(ok | kw))
    with pytest.raises(TypeError, match=r"vrbo\(upper_fn=...\)"):
        B.vrbo(None, _f, **ok)
