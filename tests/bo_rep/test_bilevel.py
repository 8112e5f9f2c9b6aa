"""Identities of jaxrank.optim.bilevel (hypergradient, HVP, z-iteration, Neumann series,
periodic schedule), bad inputs, and solver conformance."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrank.optim import bilevel as B
from jaxrank.optim import bilevel_tasks as T
from jaxrank.optim import run
from tests._tolerances import IDENTITY, IDENTITY_F32, NUMERICAL

DIM = 4


@functools.cache
def s0(noise=0.0, seed=0):
    data = {k: jnp.asarray(v) for k, v in T.quartic_problem(seed, DIM).items()}
    return data | {"noise": jnp.asarray(noise)}


def exact_batch(data):
    """The S0 batch with zero noise (the deterministic f and g)."""
    return T.quartic_sampler(jax.random.key(0), data | {"noise": jnp.asarray(0.0)})


@jax.jit
def phi_of_x(x, data):
    return T.quartic_upper(x, T.quartic_y_star(x, data), exact_batch(data))


# --------------------------------------------------------------------------- hypergradient


def test_hypergradient_closed_form_equals_dense_implicit_and_grad_through_solve():
    data = s0()
    x = jnp.linspace(-2.0, 3.0, DIM)
    b = exact_batch(data)
    closed = jax.jit(T.quartic_hypergradient)(x, data)
    dense = jax.jit(lambda xx, bb: B.exact_hypergradient(
        T.quartic_upper, T.quartic_lower, xx, T.quartic_y_star(xx, data), bb))(x, b)
    through_solve = jax.jit(jax.grad(phi_of_x))(x, data)
    np.testing.assert_allclose(dense, closed, **IDENTITY.kw())
    np.testing.assert_allclose(through_solve, closed, **IDENTITY.kw())


def test_hypergradient_equals_central_finite_differences():
    data = s0()
    x = jnp.array([1.5, -0.7, 0.3, 2.0])
    g = T.quartic_hypergradient(x, data)
    eps = 1e-5
    fd = np.array([(phi_of_x(x + eps * e, data) - phi_of_x(x - eps * e, data)) / (2 * eps)
                   for e in np.eye(DIM)])
    rel = np.linalg.norm(fd - g) / np.linalg.norm(g)
    assert rel < 1e-5, rel


def test_implicit_argmin_gradient_matches_exact_on_nonquadratic_lower():
    # g(x, y) = sum(softplus-ish strongly convex) with nonlinear coupling; f nonlinear.
    def g(x, y, b):
        return 0.5 * jnp.sum(y**2) + jnp.sum(jnp.logaddexp(0.0, y * x)) + 0.1 * jnp.sum(y**4)

    def f(x, y, b):
        return jnp.sum(jnp.sin(y) * x) + jnp.sum(y**2)

    def solve(x, b):  # Newton on the strongly convex lower level (never differentiated)
        def newton(_, y):
            h = jax.hessian(g, argnums=1)(x, y, b)
            return y - jnp.linalg.solve(h, jax.grad(g, argnums=1)(x, y, b))

        return jax.lax.fori_loop(0, 30, newton, jnp.zeros_like(x))

    y_star = B.implicit_argmin(solve, g)
    x = jnp.array([0.3, -1.2, 0.8])
    via_custom_vjp = jax.jit(jax.grad(lambda xx: f(xx, y_star(xx, None), None)))(x)
    dense = jax.jit(lambda xx: B.exact_hypergradient(f, g, xx, solve(xx, None)))(x)
    # Newton has converged, so unrolling it gives the same gradient
    unrolled = jax.jit(jax.grad(lambda xx: f(xx, solve(xx, None), None)))(x)
    np.testing.assert_allclose(via_custom_vjp, dense, **IDENTITY.kw())
    np.testing.assert_allclose(unrolled, dense, **NUMERICAL.kw())


def test_hvp_and_cross_term_match_explicit_hessian_blocks():
    data = s0(noise=0.3)
    b = T.quartic_sampler(jax.random.key(3), data)
    x = jnp.array([0.5, -1.0, 2.0, 0.1])
    y = jnp.array([1.0, 0.2, -0.3, 0.7])
    z = jnp.array([0.4, -0.5, 1.5, 2.0])
    h_yy = jax.hessian(T.quartic_lower, argnums=1)(x, y, b)
    h_xy = jax.jacfwd(jax.grad(T.quartic_lower, argnums=1), argnums=0)(x, y, b)  # d_y × d_x
    np.testing.assert_allclose(B.hvp_yy(T.quartic_lower, x, y, z, b), h_yy @ z, **IDENTITY.kw())
    np.testing.assert_allclose(B.cross_xy(T.quartic_lower, x, y, z, b), h_xy.T @ z,
                               **IDENTITY.kw())


@pytest.mark.slow  # several compilations of every solver; > 5 s each on 2 shared cores
def test_hvp_on_pytrees():
    def g(x, y, b):
        return 0.5 * jnp.sum(y["a"] ** 2) * x + jnp.sum(y["a"]) * jnp.sum(y["c"] ** 3)

    y = {"a": jnp.array([1.0, 2.0]), "c": jnp.array([0.5])}
    z = {"a": jnp.array([0.3, -1.0]), "c": jnp.array([2.0])}
    flat = lambda t: jnp.concatenate([t["a"], t["c"]])  # noqa: E731
    h = jax.hessian(lambda v: g(1.5, {"a": v[:2], "c": v[2:]}, None))(flat(y))
    np.testing.assert_allclose(flat(B.hvp_yy(g, 1.5, y, z, None)), h @ flat(z), **IDENTITY.kw())


# --------------------------------------------------------------------------- z / Neumann


def _spd(seed, d=5, lo=0.5, hi=3.0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    eig = np.linspace(lo, hi, d)
    return jnp.asarray((q * eig) @ q.T), eig


def test_z_iteration_converges_to_solution_at_predicted_rate():
    h, eig = _spd(0)
    bvec = jnp.arange(1.0, 6.0)
    f = lambda x, y, b: jnp.vdot(bvec, y)  # noqa: E731  ∇_y f = b
    g = lambda x, y, b: 0.5 * y @ h @ y  # noqa: E731
    nu = 0.5
    rate = max(abs(1 - nu * eig))
    z = jnp.zeros(5)
    z_star = jnp.linalg.solve(h, bvec)
    errs = []
    for _ in range(40):
        z = z - nu * (h @ z - bvec)
        errs.append(float(jnp.linalg.norm(z - z_star)))
    # the library's z-step: one bo_rep step with x frozen (zero hypergradient is irrelevant)
    solver = B.bo_rep(f, g, learning_rate=1e-3, momentum=0.0, lower_learning_rate=0.1,
                      z_learning_rate=nu, period=1,
                      lower_steps=0)
    _, state, _ = run(solver, (jnp.zeros(1), jnp.zeros(5)), 40, key=jax.random.key(0))
    lib_err = np.linalg.norm(np.asarray(state.z) - np.asarray(z_star))
    np.testing.assert_allclose(lib_err, errs[-1], **IDENTITY.kw())
    assert errs[-1] <= rate**40 * float(jnp.linalg.norm(z_star)) * (1 + 1e-9)
    # and the rate is attained: the error ratio tends to the contraction factor
    assert abs(errs[-1] / errs[-2] - rate) < 1e-3


def test_neumann_series_error_matches_formula():
    h, eig = _spd(1)
    bvec = jnp.array([1.0, -2.0, 0.5, 3.0, 1.0])
    g = lambda x, y, b: 0.5 * y @ h @ y  # noqa: E731
    eta = 0.9 / eig.max()
    target = jnp.linalg.solve(h, bvec)
    for q in (0, 3, 20, 200):
        v = B.neumann_inverse(g, None, jnp.zeros(5), bvec, eta, q, lambda j: None)
        m = np.linalg.matrix_power(np.eye(5) - eta * np.asarray(h), q + 1)
        np.testing.assert_allclose(v, target - m @ target, **IDENTITY.kw())
    assert float(jnp.linalg.norm(v - target)) < 1e-8


# --------------------------------------------------------------------------- BO-REP mechanics


def _quad():
    f = lambda x, y, b: jnp.sum(jnp.sin(x)) + 0.5 * jnp.sum((y - 1.0) ** 2)  # noqa: E731
    g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2) * 2.0  # noqa: E731
    return f, g


def _record_x(params, state, *args):
    return params[0], state.momentum, state.hypergrad_norm


def test_normalized_step_has_length_eta_and_momentum_unrolls():
    f, g = _quad()
    eta, beta = 0.03, 0.7
    solver = B.bo_rep(f, g, learning_rate=eta, momentum=beta, lower_learning_rate=0.2,
                      z_learning_rate=0.3, period=3,
                      lower_steps=2)
    x0 = jnp.array([0.3, -1.0, 2.0])
    (_, _), state, (xs, ms, _) = run(solver, (x0, jnp.zeros(3)), 25, key=jax.random.key(1),
                                     record=_record_x)
    steps = np.linalg.norm(np.diff(np.asarray(xs), axis=0), axis=1)
    np.testing.assert_allclose(steps, eta, **IDENTITY.kw())
    # m_t = (1-β) Σ_{s<t} β^{t-1-s} h_s: recover h_s from consecutive m's, re-sum, compare
    ms = np.concatenate([np.asarray(ms), np.asarray(state.momentum)[None]])
    hs = (ms[1:] - beta * ms[:-1]) / (1 - beta)
    t = len(hs)
    unrolled = (1 - beta) * sum(beta ** (t - 1 - s) * hs[s] for s in range(t))
    np.testing.assert_allclose(unrolled, ms[-1], **IDENTITY.kw())
    assert ms[0].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(("steps", "period", "n", "refine", "epochs"),
                         [(10, 3, 2, 0, 1), (7, 1, 1, 0, 1), (9, 4, 3, 2, 2), (5, 5, 4, 3, 3)])
def test_periodic_schedule_lower_oracle_count(steps, period, n, refine, epochs):
    # f ignores x, so x never moves; with g = ½‖y − c‖² and γ = ½ each LL SGD step halves
    # y − c (refinement epochs use γ/2^k and average, so we count from the state only there).
    f = lambda x, y, b: 0.0 * jnp.sum(x)  # noqa: E731
    g = lambda x, y, b: 0.5 * jnp.sum((y - 3.0) ** 2)  # noqa: E731
    solver = B.bo_rep(f, g, learning_rate=0.1, momentum=0.5, lower_learning_rate=0.5,
                      z_learning_rate=0.5,
                      period=period, lower_steps=n, refine_steps=refine, refine_epochs=epochs)
    (x, y), state, _ = run(solver, (jnp.zeros(1), jnp.zeros(1)), steps, key=jax.random.key(0))
    expected = math.ceil(steps / period) * n + refine * (2**epochs - 1)
    assert int(state.lower_calls) == expected
    if refine == 0:  # independent count: the contraction 2^-calls of the error
        calls = round(math.log2(3.0 / float(3.0 - y[0])))
        assert calls == expected


def test_periodic_update_only_when_due():
    f = lambda x, y, b: 0.0 * jnp.sum(x)  # noqa: E731
    g = lambda x, y, b: 0.5 * jnp.sum((y - 3.0) ** 2)  # noqa: E731
    solver = B.bo_rep(f, g, learning_rate=0.1, momentum=0.5, lower_learning_rate=0.5,
                      z_learning_rate=0.5, period=3,
                      lower_steps=1)
    _, _, ys = run(solver, (jnp.zeros(1), jnp.zeros(1)), 9, key=jax.random.key(0),
                   record=lambda p, s, *a: p[1])
    changed = np.flatnonzero(np.diff(np.asarray(ys)[:, 0]) != 0) + 1  # y entering step t+1
    assert changed.tolist() == [1, 4, 7]  # updated during steps 0, 3, 6


def test_zero_gradient_is_finite_and_does_not_move():
    f = lambda x, y, b: jnp.sum(y)  # noqa: E731 – but g ignores x: hypergradient 0
    g = lambda x, y, b: 0.5 * jnp.sum(y**2)  # noqa: E731
    solver = B.bo_rep(f, g, learning_rate=1.0, momentum=0.9, lower_learning_rate=0.5,
                      z_learning_rate=0.5, period=1,
                      lower_steps=1)
    (x, y), state, _ = run(solver, (jnp.ones(2), jnp.zeros(2)), 5, key=jax.random.key(0))
    assert x.tolist() == [1.0, 1.0]
    assert bool(jnp.all(jnp.isfinite(state.z)))


@pytest.mark.slow  # several compilations of every solver; > 5 s each on 2 shared cores
def test_bo_rep_huge_gradients_stay_finite_where_sgd_overflows():
    data = s0(noise=0.1)
    x0 = jnp.full(DIM, 50.0)
    bo = B.bo_rep(T.quartic_upper, T.quartic_lower, learning_rate=0.5, momentum=0.9,
                  lower_learning_rate=0.2, z_learning_rate=0.2, period=2, lower_steps=2,
                  sampler=T.quartic_sampler)
    (x, _), _, _ = run(bo, (x0, jnp.zeros(DIM)), 400, data, key=jax.random.key(0))
    assert bool(jnp.all(jnp.isfinite(x)))
    assert float(jnp.linalg.norm(T.quartic_hypergradient(x, data))) < 5.0
    so = B.soba(T.quartic_upper, T.quartic_lower, learning_rate=0.5, lower_learning_rate=0.2,
                sampler=T.quartic_sampler)
    (xs, _), _, _ = run(so, (x0, jnp.zeros(DIM)), 20, data, key=jax.random.key(0))
    assert not bool(jnp.all(jnp.isfinite(xs)))


# --------------------------------------------------------------------------- every method


def _methods(sampler=T.quartic_sampler):
    u, low = T.quartic_upper, T.quartic_lower
    return {
        "bo_rep": B.bo_rep(u, low, learning_rate=0.02, momentum=0.9, lower_learning_rate=0.2,
                           z_learning_rate=0.2,
                           period=2, lower_steps=3, refine_steps=5, refine_epochs=2,
                           sampler=sampler),
        "soba": B.soba(u, low, learning_rate=0.01, lower_learning_rate=0.2, sampler=sampler),
        "ma_soba": B.ma_soba(u, low, learning_rate=0.01, lower_learning_rate=0.2, momentum=0.9,
                             sampler=sampler),
        "stocbio": B.stocbio(u, low, learning_rate=0.01, lower_learning_rate=0.2, inner_steps=3,
                             neumann_learning_rate=0.2, neumann_steps=10, sampler=sampler),
        "ttsa": B.ttsa(u, low, learning_rate=0.06, lower_learning_rate=0.3,
                       neumann_learning_rate=0.2, neumann_max=8,
                       sampler=sampler),
        "saba": B.saba(u, low, learning_rate=0.01, lower_learning_rate=0.2,
                       block=lambda i, d: T.quartic_sampler(jax.random.key(i), d), num_blocks=8),
        "anil": B.anil(u, low, learning_rate=0.01, inner_learning_rate=0.2, inner_steps=10,
                       sampler=sampler),
    }


METHODS = list(_methods())


@pytest.mark.slow  # several compilations of every solver; > 5 s each on 2 shared cores
@pytest.mark.parametrize("name", METHODS)
def test_every_method_reduces_the_true_hypergradient(name):
    data = s0(noise=0.05)
    x0 = jnp.full(DIM, 1.8)
    g0 = float(jnp.linalg.norm(T.quartic_hypergradient(x0, data)))
    (x, _), _, _ = run(_methods()[name], (x0, jnp.zeros(DIM)), 300, data,
                       key=jax.random.key(0))
    g = float(jnp.linalg.norm(T.quartic_hypergradient(x, data)))
    assert g < 0.1 * g0, (name, g0, g)


@pytest.mark.slow  # several compilations of every solver; > 5 s each on 2 shared cores
def test_float32_in_float32_out():
    data = jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), s0(noise=0.1))
    params = (jnp.ones(DIM, jnp.float32), jnp.zeros(DIM, jnp.float32))
    for name, solver in _methods().items():
        (x, y), state, _ = run(solver, params, 3, data, key=jax.random.key(0))
        assert x.dtype == jnp.float32 and y.dtype == jnp.float32, name
        assert state.count.dtype == jnp.int32, name


def test_learning_rate_sweeps_as_traced_array():
    data = s0(noise=0.0)

    def final(eta):
        solver = B.bo_rep(T.quartic_upper, T.quartic_lower, learning_rate=eta, momentum=0.5,
                          lower_learning_rate=0.2, z_learning_rate=0.2, period=1, lower_steps=1,
                          sampler=T.quartic_sampler)
        return run(solver, (jnp.ones(DIM), jnp.zeros(DIM)), 1, data, key=jax.random.key(0))[0][0]

    out = jax.vmap(final)(jnp.array([0.01, 0.1]))
    np.testing.assert_allclose(np.linalg.norm(out - 1.0, axis=1), [0.01, 0.1], **IDENTITY.kw())


# --------------------------------------------------------------------------- (L0, L1)


def test_phi_is_l0_l1_smooth_but_not_l_smooth():
    s = np.linspace(-50, 50, 200001)
    l0, l1 = 4.0, 3.0
    assert np.all(np.abs(T.phi_second(s)) <= l0 + l1 * np.abs(T.phi_prime(s)))
    assert np.abs(T.phi_second(s)).max() > 1e3  # unbounded second derivative
    assert not np.all(np.abs(T.phi_second(s)) <= 2.0 + 0.5 * np.abs(T.phi_prime(s)))


# --------------------------------------------------------------------------- bad inputs


def _f(x, y, b):
    return jnp.sum(y)


BO_OK = dict(learning_rate=0.1, momentum=0.9, lower_learning_rate=0.1, z_learning_rate=0.1,
             period=2, lower_steps=1)


@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"period": 0}, ValueError, r"`bo_rep\(period=...\)` must be a positive int, got 0"),
    ({"period": 1.5}, TypeError, r"bo_rep\(period=...\)"),
    ({"momentum": 1.0}, ValueError, r"`bo_rep\(momentum=...\)` must lie in \[0, 1\), got 1.0"),
    ({"momentum": -0.1}, ValueError, r"bo_rep\(momentum=...\)"),
    ({"learning_rate": -1.0}, ValueError, r"`bo_rep\(learning_rate=...\)` must be a positive"),
    ({"lower_learning_rate": 0.0}, ValueError, r"bo_rep\(lower_learning_rate=...\)"),
    ({"z_learning_rate": float("nan")}, ValueError, r"bo_rep\(z_learning_rate=...\)"),
    ({"lower_steps": -1}, ValueError, r"bo_rep\(lower_steps=...\)"),
    ({"refine_steps": -2}, ValueError, r"bo_rep\(refine_steps=...\)"),
    ({"z_radius": 0.0}, ValueError, r"bo_rep\(z_radius=...\)"),
    ({"sampler": 3}, TypeError, r"bo_rep\(sampler=...\)"),
])
def test_bo_rep_bad_inputs(kw, exc, match):
    with pytest.raises(exc, match=match):
        B.bo_rep(_f, _f, **(BO_OK | kw))


def test_baseline_bad_inputs():
    with pytest.raises(TypeError, match=r"`soba\(upper_fn=...\)` must be callable"):
        B.soba(None, _f, learning_rate=0.1, lower_learning_rate=0.1)
    with pytest.raises(ValueError, match=r"ma_soba\(momentum=...\)"):
        B.ma_soba(_f, _f, learning_rate=0.1, lower_learning_rate=0.1, momentum=1.5)
    with pytest.raises(ValueError, match=r"stocbio\(inner_steps=...\)"):
        B.stocbio(_f, _f, learning_rate=0.1, lower_learning_rate=0.1, inner_steps=0,
                  neumann_learning_rate=0.1,
                  neumann_steps=3)
    with pytest.raises(ValueError, match=r"ttsa\(neumann_learning_rate=...\)"):
        B.ttsa(_f, _f, learning_rate=0.1, lower_learning_rate=0.1, neumann_learning_rate=-0.1,
               neumann_max=3)
    with pytest.raises(ValueError, match=r"saba\(num_blocks=...\)"):
        B.saba(_f, _f, learning_rate=0.1, lower_learning_rate=0.1, block=lambda i: i, num_blocks=0)
    with pytest.raises(ValueError, match=r"anil\(inner_learning_rate=...\)"):
        B.anil(_f, _f, learning_rate=0.1, inner_learning_rate=0.0, inner_steps=3)


def _WHOLE(key, data):  # the minibatch is the whole data dict
    return data


def _maml_quadratic():
    """G(w) = ½ wᵀQw and F(w) = ½‖w − c‖² on w = (x, y) ∈ R² × R²: closed-form MAML steps."""
    rng = np.random.default_rng(3)
    m = rng.normal(size=(4, 4))
    q = m @ m.T / 4 + np.eye(4)
    c = rng.normal(size=4)
    g = lambda x, y, b: 0.5 * jnp.concatenate([x, y]) @ (b["q"] @ jnp.concatenate([x, y]))  # noqa: E731
    f = lambda x, y, b: 0.5 * jnp.sum((jnp.concatenate([x, y]) - b["c"]) ** 2)  # noqa: E731
    return q, c, f, g


@pytest.mark.parametrize("first_order", [True, False])
def test_maml_step_matches_the_closed_form(first_order):
    """K inner steps give w_K = (I − γQ)^K w₀; the meta-gradient is ∇_x F(w_K) (first order)
    or ((I − γQ)^K)[:, :2]ᵀ (w_K − c) (second order), and y₀ is left as it is."""
    q, c, f, g = _maml_quadratic()
    alpha, gamma, k = 0.3, 0.1, 3
    x0, y0 = np.array([0.5, -1.0]), np.array([2.0, 0.25])
    solver = B.maml(f, g, learning_rate=alpha, inner_learning_rate=gamma, inner_steps=k,
                    first_order=first_order, sampler=_WHOLE)
    data = {"q": jnp.asarray(q), "c": jnp.asarray(c)}
    (x, y), state, _ = run(solver, (jnp.asarray(x0), jnp.asarray(y0)), 1, data,
                           key=jax.random.key(0))
    p = np.linalg.matrix_power(np.eye(4) - gamma * q, k)
    wk = p @ np.concatenate([x0, y0])
    gx = (wk - c)[:2] if first_order else p[:, :2].T @ (wk - c)
    np.testing.assert_allclose(np.asarray(x), x0 - alpha * gx, **IDENTITY.kw())
    np.testing.assert_array_equal(np.asarray(y), y0)
    assert int(state.oracle_calls) == (k + 1 if first_order else 2 * k + 1)
    np.testing.assert_allclose(float(state.hypergrad_norm), np.linalg.norm(gx), **IDENTITY.kw())


def test_maml_tasks_average_per_task_meta_gradients():
    """With ``tasks``, each task is adapted on its own and the meta-gradients are averaged: the
    step equals the mean of the one-task steps."""
    q, c, f, g = _maml_quadratic()
    rng = np.random.default_rng(4)
    cs = np.stack([c, rng.normal(size=4), rng.normal(size=4)])
    params = (jnp.asarray([0.5, -1.0]), jnp.asarray([2.0, 0.25]))
    kw = dict(learning_rate=0.3, inner_learning_rate=0.1, inner_steps=2, first_order=False,
              sampler=_WHOLE)
    split = lambda b: {"q": jnp.broadcast_to(b["q"], (3, 4, 4)), "c": b["c"]}  # noqa: E731
    (x, _), _, _ = run(B.maml(f, g, tasks=split, **kw), params, 1,
                       {"q": jnp.asarray(q), "c": jnp.asarray(cs)}, key=jax.random.key(0))
    steps = [np.asarray(run(B.maml(f, g, **kw), params, 1,
                            {"q": jnp.asarray(q), "c": jnp.asarray(ci)},
                            key=jax.random.key(0))[0][0]) for ci in cs]
    np.testing.assert_allclose(np.asarray(x), np.mean(steps, axis=0), **IDENTITY.kw())


def test_maml_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match=r"maml\(inner_steps=...\)"):
        B.maml(_f, _f, learning_rate=0.1, inner_learning_rate=0.1, inner_steps=0)
    with pytest.raises(ValueError, match=r"maml\(inner_learning_rate=...\)"):
        B.maml(_f, _f, learning_rate=0.1, inner_learning_rate=-1.0, inner_steps=2)
    with pytest.raises(TypeError, match=r"maml\(first_order=...\)"):
        B.maml(_f, _f, learning_rate=0.1, inner_learning_rate=0.1, inner_steps=2,
               first_order=1)
    with pytest.raises(TypeError, match=r"maml\(tasks=...\)"):
        B.maml(_f, _f, learning_rate=0.1, inner_learning_rate=0.1, inner_steps=2, tasks=3)


def test_missing_key_is_a_clear_error():
    solver = B.soba(_f, _f, learning_rate=0.1, lower_learning_rate=0.1)
    with pytest.raises(TypeError, match="PRNG key as the last argument"):
        solver.update((jnp.ones(1), jnp.ones(1)), solver.init((jnp.ones(1), jnp.ones(1))))


# --------------------------------------------------------------------------- text tasks


@pytest.mark.slow  # compiles a GRU forward/backward: > 20 s of CPU on 2 shared cores
def test_hyper_cleaning_with_equal_weights_is_ordinary_training():
    from jaxrank.data.sentiment import synthetic_sentiment

    tok, lab, _ = synthetic_sentiment(0, 12, vocab_size=20, max_len=6)
    params = T.init_classifier(jax.random.key(0), 20, 4, 3)  # float32 (flax GRU carry)
    batch = {"idx": jnp.arange(12), "tok": tok, "lab": lab, "reg": 0.0}
    c = 0.7
    weighted = T.clean_lower(jnp.full(12, c, jnp.float32), params, batch)
    plain = T.hpo_lower(-jnp.inf, params, batch)  # CE with zero regularization
    np.testing.assert_allclose(weighted, jax.nn.sigmoid(c) * plain, **IDENTITY_F32.kw())
    g_w = jax.grad(T.clean_lower, argnums=1)(jnp.full(12, c, jnp.float32), params, batch)
    g_p = jax.grad(T.hpo_lower, argnums=1)(-jnp.inf, params, batch)
    for a, b in zip(jax.tree.leaves(g_w), jax.tree.leaves(g_p), strict=True):
        np.testing.assert_allclose(a, jax.nn.sigmoid(c) * b, **IDENTITY_F32.kw())


def test_eager_gru_init_and_features_compile_once_and_match_traced():
    """flax initialises and applies the GRU through a ``lax.scan`` that, called eagerly (a
    solver's validation pass, a rerun of a figure), compiled again on every call: 24 programs on
    a rerun of bo_rep's figures. Eager calls now share one jitted program per module and shape,
    and give the values a traced call gives (the eager text-encoder embedding used to differ
    from the traced one in the last bit)."""
    compiles = []

    def listener(event, duration, **_):
        if event in ("/jax/core/compile/backend_compile_duration",
                     "/jax/compilation_cache/cache_retrieval_time_sec"):  # see test_base
            compiles.append(duration)

    rows = jnp.linspace(-1, 1, 3 * 8 * 8, dtype=jnp.float32).reshape(3, 8, 8)
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        T.classifier_logits(T.init_row_classifier(jax.random.key(0), 8, 8, 3), rows)
        n_first = len(compiles)
        p1 = T.init_row_classifier(jax.random.key(1), 8, 8, 3)
        feats = T._encode(p1["encoder"], rows)
        assert len(compiles) == n_first  # same module and shapes: nothing compiled
        T.init_row_classifier(jax.random.key(1), 8, 8, 5)
        assert len(compiles) > n_first  # a new width is a new program (the count is live)
    finally:
        jax.monitoring.clear_event_listeners()
    traced = jax.jit(lambda k: T.init_row_classifier(k, 8, 8, 3))(jax.random.key(1))
    for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(traced), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(feats, jax.jit(T._encode)(p1["encoder"], rows))
    text = T.init_classifier(jax.random.key(2), 20, 4, 3)
    text_traced = jax.jit(lambda k: T.init_classifier(k, 20, 4, 3))(jax.random.key(2))
    for a, b in zip(jax.tree.leaves(text), jax.tree.leaves(text_traced), strict=True):
        np.testing.assert_array_equal(a, b)


def test_split_tasks_preserves_the_hyper_representation_objectives():
    """``split_tasks`` (MAML's per-task batches): the mean over one-task batches of the S3
    oracles is the oracle of the whole batch, and a MAML step on real S3 oracles is finite."""
    rng = np.random.default_rng(0)
    t, k, tasks_in_pool, hidden = 3, 2, 5, 4
    f32 = jnp.float32  # the GRU runs in float32 (as in the S3 figure)
    data = {"stok": jnp.asarray(rng.normal(size=(tasks_in_pool, 2 * k, 8, 8)), f32),
            "slab": jnp.asarray(rng.integers(0, 2, (tasks_in_pool, 2 * k)), jnp.int32),
            "qtok": jnp.asarray(rng.normal(size=(tasks_in_pool, 2 * k, 8, 8)), f32),
            "qlab": jnp.asarray(rng.integers(0, 2, (tasks_in_pool, 2 * k)), jnp.int32),
            "reg": jnp.asarray(0.1, f32)}
    batch = T.task_sampler(t)(jax.random.key(1), data)
    enc = T.init_row_classifier(jax.random.key(2), 8, 8, hidden, f32)["encoder"]
    heads = jnp.asarray(rng.normal(size=(tasks_in_pool, hidden + 1)), f32)
    parts = T.split_tasks(batch)
    for fn in (T.rep_lower, T.rep_upper):
        one = jax.vmap(lambda b, fn=fn: fn(enc, heads, b))(parts)
        np.testing.assert_allclose(float(jnp.mean(one)), float(fn(enc, heads, batch)),
                                   **IDENTITY_F32.kw())
    solver = B.maml(T.rep_upper, T.rep_lower, learning_rate=0.1, inner_learning_rate=0.05,
                    inner_steps=2, tasks=T.split_tasks, sampler=T.task_sampler(t))
    (enc1, heads1), _, _ = run(solver, (enc, heads), 2, data, key=jax.random.key(3))
    assert all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree.leaves(enc1))
    np.testing.assert_array_equal(np.asarray(heads1), np.asarray(heads))  # heads stay at y₀
