"""Identities of jaxrank.optim.gn_newton, every linear solve against a dense float64
solve, conformance (state stable, no recompilation, vmap), and bad inputs."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrank.optim import gn_newton as G
from jaxrank.optim import run
from jaxrank.problems import gn_functions
from tests._tolerances import IDENTITY, NUMERICAL

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _fresh_rng():
    """Each test draws from a fresh ``RNG``: its data must not depend on which tests ran before
    it in the same worker (pytest-xdist distributes tests differently from run to run)."""
    global RNG
    RNG = np.random.default_rng(0)


def _pd(n, seed=0, scale=1.0):
    a = np.random.default_rng(seed).standard_normal((n, n))
    return a @ a.T / n + scale * np.eye(n)


@pytest.fixture(scope="module")
def lse_data():
    rng = np.random.default_rng(1)
    A = jnp.asarray(rng.uniform(-1, 1, (12, 6)))
    b = jnp.asarray(rng.uniform(-1, 1, 12))
    return A, b


# --------------------------------------------------------------------------- oracles


@pytest.mark.slow  # compile-bound (~10 s on 2 cores); `make test-all` runs it
def test_lse_closed_forms_match_autodiff(lse_data):
    A, b = lse_data
    x = jnp.asarray(RNG.standard_normal(6))
    for mu in (1.0, 0.3):
        np.testing.assert_allclose(G.log_sum_exp_grad(x, A, b, mu),
                                   jax.grad(G.log_sum_exp)(x, A, b, mu), **IDENTITY.kw())
        np.testing.assert_allclose(G.log_sum_exp_hessian(x, A, b, mu),
                                   jax.hessian(G.log_sum_exp)(x, A, b, mu), **IDENTITY.kw())


def test_linear_equations_hessian_closed_form_matches_autodiff():
    """∇²(‖Ax − b‖^p/p) in closed form = jax.hessian, for p = 3, 4, 5, and finite at u = 0
    (where the rank-one term's limit is 0 for p ≥ 4): one jitted program."""
    rng = np.random.default_rng(7)
    A = jnp.asarray(rng.standard_normal((5, 4)))
    b = jnp.asarray(rng.standard_normal(5))
    x = jnp.asarray(rng.standard_normal(4))

    @jax.jit
    def both(x, b, p):
        return (gn_functions.linear_equations_hessian(x, A, b, p),
                jax.hessian(G.linear_equations)(x, A, b, p))

    for p in (3.0, 4.0, 5.0):
        ours, ref = both(x, b, p)
        np.testing.assert_allclose(ours, ref, **IDENTITY.kw())
    # a consistent system, b = Ax (u = 0 up to rounding): finite, ≈ 0 at p = 4
    ours, _ = both(x, A @ x, 4.0)
    assert np.all(np.isfinite(ours)) and float(jnp.max(jnp.abs(ours))) < 1e-20


def test_hvp_equals_hessian_times_vector(lse_data):
    A, b = lse_data
    x, v = jnp.asarray(RNG.standard_normal(6)), jnp.asarray(RNG.standard_normal(6))
    # one jitted program (eager op-by-op dispatch costs ~10× the CPU time in this suite)
    hvp, Hv = jax.jit(lambda: (jax.jvp(lambda z: jax.grad(G.log_sum_exp)(z, A, b), (x,), (v,))[1],
                               G.log_sum_exp_hessian(x, A, b) @ v))()
    np.testing.assert_allclose(hvp, Hv, **IDENTITY.kw())


def test_wgn_minus_hessian_is_psd_rank_one(lse_data):
    A, b = lse_data
    x = jnp.asarray(RNG.standard_normal(6))
    diff = G.lse_weighted_gauss_newton(x, A, b) - G.log_sum_exp_hessian(x, A, b)
    g = G.log_sum_exp_grad(x, A, b)
    np.testing.assert_allclose(diff, jnp.outer(g, g), **IDENTITY.kw())  # (Aᵀπ)(Aᵀπ)ᵀ/μ, μ=1
    ev = np.linalg.eigvalsh(np.asarray(diff))
    assert ev[0] > -1e-12 and np.sum(ev > 1e-10) == 1


def test_zero_shift_makes_zero_the_minimizer(lse_data):
    A, b = lse_data
    Az = G.lse_zero_shift(A, b, 0.5)
    np.testing.assert_allclose(jax.grad(G.log_sum_exp)(jnp.zeros(6), Az, b, 0.5), 0,
                               atol=1e-14)


def test_power_residual_gradient_and_hessian_closed_forms():
    A = jnp.asarray(RNG.standard_normal((5, 7)))
    b = jnp.asarray(RNG.standard_normal(5))
    x = jnp.asarray(RNG.standard_normal(7))
    p = 4.0
    u = np.asarray(A @ x - b)
    nu = np.linalg.norm(u)
    An = np.asarray(A)
    grad = nu ** (p - 2) * An.T @ u
    Au = An.T @ u
    hess = nu ** (p - 2) * An.T @ An + (p - 2) * nu ** (p - 4) * np.outer(Au, Au)
    f = functools.partial(G.linear_equations, p=p)
    # the GGN + Fisher "inexact Hessian" is exact for linear residuals
    approx = G.gauss_newton_fisher(G.linear_residuals, p)
    g, Hf, H = jax.jit(lambda: (jax.grad(f)(x, A, b), jax.hessian(f)(x, A, b),
                                approx.build(x, (), 0, G.make_metric(None), A, b)[0]))()
    np.testing.assert_allclose(g, grad, **IDENTITY.kw())
    np.testing.assert_allclose(Hf, hess, **IDENTITY.kw())
    np.testing.assert_allclose(H, hess, **IDENTITY.kw())


def test_fisher_term_rank_one_with_stated_eigenvalue():
    A = jnp.asarray(RNG.standard_normal((5, 7)))
    b = jnp.asarray(RNG.standard_normal(5))
    x = jnp.asarray(RNG.standard_normal(7))
    p = 4.0
    approx = G.fisher_term(G.linear_residuals, p)
    (alpha, v, _), _, _ = approx.build(x, (), 0, G.make_metric(None), A, b)
    F = alpha * jnp.outer(v, v)
    u = A @ x - b
    ev = np.linalg.eigvalsh(np.asarray(F))
    expected = (p - 2) * jnp.linalg.norm(u) ** (p - 4) * jnp.linalg.norm(A.T @ u) ** 2
    np.testing.assert_allclose(ev[-1], expected, **IDENTITY.kw())
    assert np.all(np.abs(ev[:-1]) < 1e-10 * ev[-1])
    g = jax.grad(functools.partial(G.linear_equations, p=p))(x, A, b)
    np.testing.assert_allclose(F, (p - 2) / jnp.linalg.norm(u) ** p * jnp.outer(g, g),
                               **IDENTITY.kw())


def test_known_minimizers():
    one, ones = jnp.ones(2), jnp.ones(9)
    fc, gc, gr, Hr = jax.jit(lambda: (G.chebyshev(ones), jax.grad(G.chebyshev)(ones),
                                      jax.grad(G.rosenbrock)(one),
                                      jax.hessian(G.rosenbrock)(one)))()
    assert float(fc) == 0.0
    np.testing.assert_allclose(gc, 0, atol=0)
    np.testing.assert_allclose(gr, 0, atol=0)
    np.testing.assert_allclose(Hr, [[802, -400], [-400, 200]], **IDENTITY.kw())


@pytest.mark.slow  # compile-bound (~10 s on 2 cores); `make test-all` runs it
def test_chebyshev_residuals_and_ggn_drop_only_second_order_term():
    x = jnp.asarray(RNG.uniform(0, 1, 6))
    u = G.chebyshev_residuals(x)
    np.testing.assert_allclose(u[0], 0.5 * (1 - x[0]), **IDENTITY.kw())
    np.testing.assert_allclose(u[1:], x[1:] - (2 * x[:-1] ** 2 - 1), **IDENTITY.kw())
    p = 4.0
    f = G.power_residual(G.chebyshev_residuals, p)
    H = jax.hessian(f)(x)
    Ht, _, _ = G.gauss_newton_fisher(G.chebyshev_residuals, p).build(x, (), 0,
                                                                      G.make_metric(None))
    # exact − approx = ‖u‖^{p−2} Σ u_i ∇²u_i, with ∇²u_i = −4 e_{i−1}e_{i−1}ᵀ for i ≥ 2
    second = jnp.linalg.norm(u) ** (p - 2) * jnp.diag(jnp.concatenate([-4 * u[1:], jnp.zeros(1)]))
    np.testing.assert_allclose(H - Ht, second, **IDENTITY.kw())


def test_logistic_and_softmax_against_references():
    A = jnp.asarray(RNG.standard_normal((20, 4)))
    y = jnp.asarray(np.where(RNG.standard_normal(20) > 0, 1.0, -1.0))
    x = jnp.asarray(RNG.standard_normal(4))
    ref = np.mean(np.log1p(np.exp(-np.asarray(y) * (np.asarray(A) @ np.asarray(x)))))
    labels = jnp.asarray(RNG.integers(0, 3, 20))
    W = jnp.asarray(RNG.standard_normal(12))
    import optax

    @jax.jit  # one program: eager op-by-op dispatch costs ~10× the CPU time
    def values():
        logits = A @ W.reshape(4, 3)
        return (G.logistic_regression(x, A, y), G.logistic_regression(1e4 * x, A, y),
                G.logistic_upper_bound(x, A, y) - jax.hessian(G.logistic_regression)(x, A, y),
                jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels)),
                G.softmax_regression(W, A, labels, 3))

    f, big, gap, ref_sm, f_sm = values()
    np.testing.assert_allclose(f, ref, **IDENTITY.kw())
    assert np.isfinite(float(big))  # huge margins: finite, ≈ mean of |m| on errors
    assert np.linalg.eigvalsh(np.asarray(gap))[0] > -1e-12
    np.testing.assert_allclose(f_sm, ref_sm, **IDENTITY.kw())


# --------------------------------------------------------------------------- linear solves


METRICS = {"identity": None, "dense": _pd(6, 3)}


@pytest.mark.parametrize("mname", list(METRICS))
def test_every_structured_solve_equals_dense_solve(mname):
    B = METRICS[mname]
    m = G.make_metric(B)
    Bd = np.eye(6) if B is None else B
    g = RNG.standard_normal(6)
    lam = 0.7
    H = _pd(6, 5, 0.1)
    x = jnp.asarray(RNG.standard_normal(6))

    def dense(Hm):
        return np.linalg.solve(np.asarray(Hm) + lam * Bd, g)

    # dense Cholesky
    d, _ = G.dense_hessian(lambda z: jnp.asarray(H)).solve(jnp.asarray(H), lam, g, m)
    np.testing.assert_allclose(d, dense(H), **IDENTITY.kw())
    # Sherman–Morrison rank one
    v = RNG.standard_normal(6)
    approx = G.rank_one_hessian(lambda z: (2.5, jnp.asarray(v)))
    curv, _, _ = approx.build(x, (), 0, m)
    np.testing.assert_allclose(approx.solve(curv, lam, g, m)[0],
                               dense(2.5 * np.outer(v, v)), **IDENTITY.kw())
    # diagonal
    dg = np.abs(RNG.standard_normal(6)) + 0.1
    approx = G.diagonal_hessian(diag_fn=lambda z: jnp.asarray(dg))
    curv, _, _ = approx.build(x, (), 0, m)
    np.testing.assert_allclose(approx.solve(curv, lam, g, m)[0], dense(np.diag(dg)),
                               **IDENTITY.kw())
    # fixed (eigen-factorized once) and lazy
    for approx in (G.fixed_hessian(lambda z: jnp.asarray(H)),
                   G.lazy_hessian(lambda z: jnp.asarray(H), 3)):
        aux = approx.init(x, m)
        curv, _, _ = approx.build(x, aux, 1, m)
        for lam2 in (1e-3, 0.7, 50.0):
            np.testing.assert_allclose(
                approx.solve(curv, lam2, g, m)[0],
                np.linalg.solve(H + lam2 * Bd, g), **IDENTITY.kw())
    # zero
    d, _ = G.zero_hessian().solve((), lam, g, m)
    np.testing.assert_allclose(d, dense(np.zeros((6, 6))), **IDENTITY.kw())


def test_solve_reports_nan_when_not_positive_definite():
    m = G.make_metric(None)
    H = -np.eye(3) * 2
    d = G.regularized_solve(jnp.asarray(H), 1.0, jnp.ones(3), m)
    assert np.all(np.isnan(d))
    approx = G.diagonal_hessian(diag_fn=lambda z: -2 * jnp.ones(3))
    assert np.all(np.isnan(approx.solve(-2 * jnp.ones(3), 1.0, jnp.ones(3), m)[0]))
    approx = G.rank_one_hessian(lambda z: (-10.0, jnp.ones(3)))
    curv, _, _ = approx.build(jnp.ones(3), (), 0, m)
    assert np.all(np.isnan(approx.solve(curv, 1.0, jnp.ones(3), m)[0]))


def test_lazy_hessian_refreshes_every_k():
    calls = []
    approx = G.lazy_hessian(lambda z: jnp.diag(z), 3)
    m = G.make_metric(None)
    aux = approx.init(jnp.ones(2), m)
    for k, x in enumerate([jnp.ones(2), 2 * jnp.ones(2), 3 * jnp.ones(2), 4 * jnp.ones(2)]):
        curv, aux, fact = approx.build(x, aux, k, m)
        calls.append(int(fact))
        np.testing.assert_allclose(np.sort(curv[1]), [1, 1] if k < 3 else [4, 4])
    assert calls == [1, 0, 0, 1]


def test_cubic_step_solves_its_secular_equation():
    H = jnp.asarray(_pd(5, 7, 0.0) - 0.3 * np.eye(5))  # possibly indefinite
    g = jnp.asarray(RNG.standard_normal(5))
    for B in (None, _pd(5, 8)):
        m = G.make_metric(B)
        M = 2.0
        h, model = G.cubic_step(g, H, M, m)
        Bd = np.eye(5) if B is None else B
        r = np.sqrt(h @ Bd @ h)
        # stationarity of the cubic model: g + H h + (M/2) r B h = 0
        np.testing.assert_allclose(np.asarray(g + H @ h) + M / 2 * r * Bd @ np.asarray(h), 0,
                                   atol=1e-9)
        assert float(model) < 0


# --------------------------------------------------------------------------- Algorithm 1


def test_step_stays_in_the_ball_for_psd_hessians():
    rng = np.random.default_rng(3)
    for trial in range(20):
        n = 5
        a = rng.standard_normal((n, 2))
        H = a @ a.T  # PSD, singular
        B = _pd(n, trial)
        m = G.make_metric(B)
        g = rng.standard_normal(n)
        gamma = 10 ** rng.uniform(-2, 2)
        lam = np.sqrt(g @ np.linalg.solve(B, g)) / gamma
        d = G.regularized_solve(jnp.asarray(H), lam, jnp.asarray(g), m)
        assert np.sqrt(d @ B @ d) <= gamma * (1 + 1e-12)


def test_zero_hessian_is_normalized_gradient_step():
    B = _pd(4, 1)
    f = lambda x: jnp.sum(jnp.cosh(x)) + x[0] * x[1]  # noqa: E731
    x0 = jnp.asarray(RNG.standard_normal(4))
    solver = G.normalized_gradient_search(f, metric=B, radius0=0.05, adaptive=False, eps=0.0)
    x1, _ = solver.update(x0, solver.init(x0))
    g = jax.grad(f)(x0)
    gn = np.sqrt(g @ np.linalg.solve(B, g))
    np.testing.assert_allclose(x1, x0 - 0.05 * np.linalg.solve(B, g) / gn, **IDENTITY.kw())


def test_quadratic_exact_newton_accepts_every_trial_and_doubles_gamma():
    Q = _pd(6, 2)
    c = RNG.standard_normal(6)
    f = lambda x: 0.5 * x @ (jnp.asarray(Q) @ x) - jnp.asarray(c) @ x  # noqa: E731
    x_star = np.linalg.solve(Q, c)
    f_star = float(f(jnp.asarray(x_star)))
    x, s, traj = run(G.grad_reg_newton(f), jnp.zeros(6), 40,
                     record=_rec_gamma)
    gammas, trials, vals = (np.asarray(t) for t in traj)
    # the linearization error is 0: every trial is accepted and γ doubles, until rounding
    # (f − f* ≈ 1e-16) makes the acceptance test a comparison of round-off
    np.testing.assert_array_equal(np.diff(trials)[:4], 1)
    np.testing.assert_allclose(gammas[:5], 2.0 ** np.arange(5))
    g0 = np.linalg.norm(c)
    first = int(np.flatnonzero(vals - f_star < 1e-12)[0])
    assert first <= np.log2(g0 / 1e-12)  # residual ≤ 1e-12 after about log2(‖g0‖/tol) steps
    np.testing.assert_allclose(x, x_star, **NUMERICAL.kw())


def _rec_gamma(x, s, *args):
    return s.gamma, s.trials, s.value


def _rec_full(x, s, *args):
    return s.value, s.lam, s.grad_norm, s.gamma, s.trials


def test_accepted_steps_decrease_f_by_the_acceptance_amount():
    f = G.rosenbrock
    x, s, traj = run(G.grad_reg_newton(f), jnp.array([-2.0, 2.0]), 40, record=_rec_full)
    vals, lams, gns = (np.asarray(t) for t in traj[:3])
    vals = np.append(vals, float(s.value))
    gns = np.append(gns, float(s.grad_norm))
    lams = np.append(lams, float(s.lam))
    # step k -> k+1 used λ = lams[k+1]; Lemma 1: f_k − f_{k+1} ≥ ‖g_{k+1}‖²/(8λ)
    dec = vals[:-1] - vals[1:]
    need = gns[1:] ** 2 / (8 * lams[1:])
    assert np.all(dec >= need * (1 - 1e-12) - 1e-300)


def test_oracle_call_accounting_bound():
    f = G.rosenbrock
    K = 40
    x, s, traj = run(G.grad_reg_newton(f), jnp.array([-2.0, 2.0]), K, record=_rec_full)
    gamma_final = float(s.gamma)
    # total trials ≤ 2K + log2(γ0 / γ_final) + 1 (each success doubles, each failure halves)
    assert int(s.trials) <= 2 * K + np.log2(1.0 / gamma_final) + 1
    assert int(s.grad_calls) == int(s.trials) + 1
    assert int(s.factorizations) == int(s.trials)


def test_rosenbrock_reference_count():
    """A re-run of the official code (epfml/grad-norm-smooth 9f4ca00): Alg 1 (exact) below
    1e-8 at iteration 51."""
    x, s, traj = run(G.grad_reg_newton(G.rosenbrock), jnp.array([-2.0, 2.0]), 60,
                     record=_rec_full)
    vals = np.append(np.asarray(traj[0]), float(s.value))
    assert int(np.flatnonzero(vals < 1e-8)[0]) == 51


def test_f_target_freezes_and_metric_invariance():
    f = functools.partial(G.linear_equations, p=4.0)
    A = jnp.asarray(RNG.standard_normal((4, 6)))
    b = jnp.asarray(RNG.standard_normal(4))
    solver = G.grad_reg_newton(f, f_target=1e-6)
    x, s, _ = run(solver, jnp.ones(6), 80, A, b)
    assert bool(s.converged) and float(s.value) <= 1e-6
    x2, s2 = solver.update(x, s, A, b)
    np.testing.assert_array_equal(x2, x)


@pytest.mark.parametrize("name", ["grn", "fisher", "super", "cubic", "gm", "fgm", "ngs"])
def test_every_method_converges_on_a_convex_problem(name):
    A = jnp.asarray(RNG.standard_normal((8, 5)))
    b = jnp.asarray(RNG.standard_normal(8))
    f = functools.partial(G.linear_equations, p=4.0)
    B = _pd(5, 4)
    solvers = {
        "grn": G.grad_reg_newton(f, metric=B),
        "fisher": G.grad_reg_newton(f, hessian=G.fisher_term(G.linear_residuals, 4.0), metric=B),
        "super": G.super_universal_newton(f),
        "cubic": G.cubic_newton(f, metric=B),
        "gm": G.gradient_method(f, metric=B),
        "fgm": G.fast_gradient_method(f),
        "ngs": G.normalized_gradient_search(f),
    }
    x_star = np.linalg.lstsq(np.asarray(A), np.asarray(b), rcond=None)[0]
    f_star = float(f(jnp.asarray(x_star), A, b))
    f0 = float(f(jnp.zeros(5), A, b))
    x, s, _ = run(solvers[name], jnp.zeros(5), 150, A, b)
    assert float(f(x, A, b)) - f_star < 1e-3 * (f0 - f_star)


# --------------------------------------------------------------------------- conformance


def _problem():
    A = jnp.asarray(RNG.standard_normal((8, 5)))
    b = jnp.asarray(RNG.standard_normal(8))
    return functools.partial(G.linear_equations, p=4.0), A, b


F_CONF, A_CONF, B_CONF = _problem()
FACTORIES = {
    "grad_reg_newton": lambda: G.grad_reg_newton(F_CONF),
    "normalized_gradient_search": lambda: G.normalized_gradient_search(F_CONF),
    "super_universal_newton": lambda: G.super_universal_newton(F_CONF),
    "cubic_newton": lambda: G.cubic_newton(F_CONF),
    "gradient_method": lambda: G.gradient_method(F_CONF),
    "fast_gradient_method": lambda: G.fast_gradient_method(F_CONF),
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_factories_are_cached(name):
    """Equal hyperparameters give the same solver object (one compilation). State structure, no
    recompilation, vmap over seeds and jit vs no-jit: tests/test_battery.py."""
    assert FACTORIES[name]() is FACTORIES[name]()


def test_compiled_init_equals_the_op_by_op_init_bitwise_and_compiles_once():
    """A solver's ``init`` is one compiled program (issue 20): the same bits as the op-by-op
    ``init.eager`` for each init and Hessian kind here (a fixed Hessian's eigen-factorization
    stays op by op: compiled, it rounds differently), compiled once per solver: later calls
    (new x, new data, an equal factory call, which returns the same solver) reuse it."""
    from jaxrank.optim.gn_newton import _init_jit

    f, A, b = F_CONF, A_CONF, B_CONF
    B1 = _pd(5, 7)
    fisher = G.fisher_term(G.linear_residuals, 4.0)
    fixed = G.fixed_hessian(lambda x, A, b: A.T @ A)
    # super_universal_newton, cubic_newton, gradient_method: the same _compiled_init path
    solvers = [G.grad_reg_newton(f, metric=B1), G.grad_reg_newton(f, hessian=fisher, metric=B1),
               G.grad_reg_newton(f, hessian=fixed, metric=B1), G.fast_gradient_method(f)]
    x0 = jnp.asarray(RNG.standard_normal(5))
    for solver in solvers:
        new, ref = solver.init(x0, A, b), solver.init.eager(x0, A, b)
        assert jax.tree.structure(new) == jax.tree.structure(ref)
        for u, v in zip(jax.tree.leaves(new), jax.tree.leaves(ref), strict=True):
            assert u.dtype == v.dtype and np.array_equal(u, v, equal_nan=True)
    size = _init_jit._cache_size()
    solvers[0].init(x0 + 1.0, 2.0 * A, b)
    G.grad_reg_newton(f, metric=B1).init(x0, A, b - 1.0)
    assert _init_jit._cache_size() == size, "init recompiled on its second call"


def test_float32_in_float32_out():
    solver = G.grad_reg_newton(F_CONF)
    with pytest.warns(RuntimeWarning, match=r"init\(x=\.\.\.\)` has dtype float32"):
        x, s, _ = run(solver, jnp.zeros(5, jnp.float32), 5, A_CONF.astype(jnp.float32),
                      B_CONF.astype(jnp.float32))
    assert x.dtype == jnp.float32 and s.value.dtype == jnp.float32
    assert s.count.dtype == jnp.int32


def test_traced_gamma0_vmaps():
    def final(g0):
        return run(G.grad_reg_newton(F_CONF, radius0=g0), jnp.zeros(5), 5, A_CONF, B_CONF)[1].value

    vals = jax.vmap(final)(jnp.array([0.1, 1.0, 10.0]))
    assert np.all(np.isfinite(vals))


# --------------------------------------------------------------------------- bad inputs


def test_bad_inputs_raise_clear_errors():
    f = G.rosenbrock
    with pytest.raises(ValueError, match=r"`grad_reg_newton\(radius0=...\)` must be a positive"):
        G.grad_reg_newton(f, radius0=0.0)
    with pytest.raises(ValueError, match=r"radius0.*got -1"):
        G.grad_reg_newton(f, radius0=-1.0)
    with pytest.raises(ValueError, match=r"metric=...\)` must be a square"):
        G.grad_reg_newton(f, metric=np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"metric=...\)` must be positive definite"):
        G.grad_reg_newton(f, metric=np.array([[1.0, 0.0], [0.0, -1.0]]))
    with pytest.raises(ValueError, match=r"must be symmetric"):
        G.grad_reg_newton(f, metric=np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"must have shape \(2, 2\) to match x"):
        G.grad_reg_newton(f, metric=np.eye(3)).init(jnp.zeros(2))
    with pytest.raises(ValueError, match=r"init\(x=...\)` must be finite"):
        G.grad_reg_newton(f).init(jnp.array([jnp.nan, 1.0]))
    with pytest.raises(ValueError, match=r"init\(x=...\)` must have rank 1"):
        G.grad_reg_newton(f).init(jnp.zeros((2, 2)))
    with pytest.raises(TypeError, match=r"floating dtype"):
        G.grad_reg_newton(f).init(jnp.zeros(2, jnp.int32))
    with pytest.raises(ValueError, match=r"must return a square \(2, 2\) matrix"):
        run(G.grad_reg_newton(f, hessian=lambda x: jnp.ones((2, 3))), jnp.zeros(2), 1)
    with pytest.raises(TypeError, match=r"hessian=...\)` must be None, a HessianApprox"):
        G.grad_reg_newton(f, hessian=3)
    with pytest.raises(TypeError, match=r"fun=...\)` must be callable"):
        G.grad_reg_newton(None)
    with pytest.raises(ValueError, match=r"super_universal_newton\(alpha=...\)` must lie"):
        G.super_universal_newton(f, alpha=1.5)
    with pytest.raises(ValueError, match=r"gradient_method\(lip0=...\)"):
        G.gradient_method(f, lip0=0.0)
    with pytest.raises(ValueError, match=r"lazy_hessian\(every=...\)` must be a positive int"):
        G.lazy_hessian(lambda x: x, 0)
    with pytest.raises(TypeError, match=r"fixes hessian = 0"):
        G.normalized_gradient_search(f, hessian=None)


def test_zero_gradient_and_huge_values_stay_finite():
    f = lambda x: jnp.sum(x**2)  # noqa: E731
    x, s, _ = run(G.grad_reg_newton(f), jnp.zeros(3), 5)  # starts at the minimizer
    assert np.all(np.isfinite(x)) and float(s.value) == 0.0
    A = jnp.asarray(RNG.standard_normal((10, 3)))
    y = jnp.asarray(np.where(RNG.standard_normal(10) > 0, 1.0, -1.0))
    x, s, _ = run(G.grad_reg_newton(G.logistic_regression, hessian=G.diagonal_hessian(
        G.logistic_regression)), 1e4 * jnp.ones(3), 10, A, y, 1e-3)
    assert np.all(np.isfinite(x)) and np.isfinite(float(s.value))


def test_closed_form_hessian_diagonals_match_autodiff():
    # Small sizes, and every reference jitted as one program: eager jax.hessian dispatches (and
    # compiles) each primitive separately, which made this test take ~10–20 s.
    A = jnp.asarray(RNG.standard_normal((7, 3)))
    y = jnp.asarray(np.where(RNG.standard_normal(7) > 0, 1.0, -1.0))
    x = jnp.asarray(RNG.standard_normal(3))
    labels = jnp.asarray(RNG.integers(0, 3, 7))
    W = jnp.asarray(RNG.standard_normal(9))

    @jax.jit
    def both(x, W):
        log_ref = jnp.diag(jax.hessian(G.logistic_regression)(x, A, y, 0.1))
        soft_ref = jnp.diag(jax.hessian(G.softmax_regression)(W, A, labels, 3, 0.1))
        return (G.logistic_hessian_diag(x, A, y, 0.1), log_ref,
                G.softmax_hessian_diag(W, A, labels, 3, 0.1), soft_ref)

    log_cf, log_ref, soft_cf, soft_ref = both(x, W)
    np.testing.assert_allclose(log_cf, log_ref, **IDENTITY.kw())
    np.testing.assert_allclose(soft_cf, soft_ref, **IDENTITY.kw())


def test_softmax_weighted_gauss_newton_matches_per_sample_sum_and_dominates_hessian():
    A = jnp.asarray(RNG.standard_normal((6, 3)))
    labels = jnp.asarray(RNG.integers(0, 4, 6))
    W = jnp.asarray(RNG.standard_normal(12))

    @jax.jit
    def both(W):
        return (G.softmax_weighted_gauss_newton(W, A, labels, 4, 0.1),
                jax.hessian(G.softmax_regression)(W, A, labels, 4, 0.1),
                jax.nn.softmax(A @ W.reshape(3, 4), axis=-1))

    H_wgn, H, P = map(np.asarray, both(W))
    pairs = zip(np.asarray(A), P, strict=True)
    ref = sum(np.kron(np.outer(a, a), np.diag(p)) for a, p in pairs) / 6
    np.testing.assert_allclose(H_wgn, ref + 0.1 * np.eye(12), **IDENTITY.kw())
    # the dropped term (1/m) Σ_i a_ia_iᵀ ⊗ p_ip_iᵀ is PSD and nonzero
    gap = np.linalg.eigvalsh(H_wgn - H)
    assert gap[0] > -1e-12 and gap[-1] > 1e-3


@pytest.mark.slow  # compile-bound; the fast siblings are the doctests of both Fishers
def test_empirical_fishers_are_mean_gradient_outer_products_and_gauss_newton_is_exact_at_zero():
    """Issue 18 (C₁ = 0 problems): each empirical Fisher is (1/m) Σ g_i g_iᵀ (+ ρI) of the
    per-sample gradients; the logistic one is within R²·f of the Hessian (C₁ = R² f*); the
    Gauss–Newton matrix of the interpolating tanh least squares equals the Hessian at x*."""
    A = jnp.asarray(RNG.standard_normal((7, 3)))
    y = jnp.asarray(np.where(RNG.standard_normal(7) > 0, 1.0, -1.0))
    labels = jnp.asarray(RNG.integers(0, 4, 7))
    x, W = jnp.asarray(RNG.standard_normal(3)), jnp.asarray(RNG.standard_normal(12))
    x_star = jnp.asarray(RNG.standard_normal(3))
    t = jnp.tanh(A @ x_star)
    ls = G.power_residual(G.tanh_residuals, 2.0)
    ggn = G.gauss_newton_fisher(G.tanh_residuals, 2.0)

    @jax.jit
    def parts():
        per_log = jax.jacrev(lambda z: jax.nn.softplus(-y * (A @ z)))(x)
        per_sm = jax.jacrev(lambda w: jax.vmap(
            lambda a, c: G.softmax_regression(w, a[None], c[None], 4))(A, labels))(W)
        return (G.logistic_empirical_fisher(x, A, y, 0.1), per_log,
                jax.hessian(G.logistic_regression)(x, A, y), G.logistic_regression(x, A, y),
                G.softmax_empirical_fisher(W, A, labels, 4, 0.1), per_sm,
                ggn.build(x_star, (), 0, G.make_metric(None), A, t)[0],
                jax.hessian(ls)(x_star, A, t))

    F_log, g_log, H_log, f_log, F_sm, g_sm, H_gn, H_ls = map(np.asarray, parts())
    np.testing.assert_allclose(F_log, g_log.T @ g_log / 7 + 0.1 * np.eye(3), **IDENTITY.kw())
    np.testing.assert_allclose(F_sm, g_sm.T @ g_sm / 7 + 0.1 * np.eye(12), **IDENTITY.kw())
    R2 = float(np.max(np.sum(np.asarray(A) ** 2, axis=1)))
    assert np.linalg.norm(H_log - (F_log - 0.1 * np.eye(3)), 2) <= R2 * float(f_log)
    np.testing.assert_allclose(H_gn, H_ls, **NUMERICAL.kw())


def test_a_solver_rebuilt_with_an_equal_metric_is_the_same_solver():
    """Issue 19: gn_smoothness's p = 4 figure recompiled every solver on a rerun, because its
    200 × 200 metric B had no value key. Equal B (another object) now gives the same solver, so
    ``run`` reuses its compilation; another B gives another solver."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 200))
    B = A.T @ A + 1e-8 * np.eye(200)
    fun = functools.partial(G.linear_equations, p=4.0)
    solver = G.grad_reg_newton(fun, metric=B, eps=1e-8)
    assert G.grad_reg_newton(fun, metric=B.copy(), eps=1e-8) is solver
    assert G.grad_reg_newton(fun, metric=B + np.eye(200), eps=1e-8) is not solver
