"""Identities of optimistic OMD and its baselines (paper_repro/omd_sea.md, "Sources"), each
against an independent reference: closed forms, optax, NumPy loops, KKT conditions."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrank.optim import omd
from tests._tolerances import IDENTITY, NUMERICAL

SEEDS = range(10)  # property-style: random g, M, u, η per seed


def rollout(tx, grads, x0, hints=None):
    """Play the gradient sequence with ``tx``; returns the played points x_1..x_T and the state.

    ``hints[t]`` (optional) is M_{t+2}, passed as ``next_hint`` after round t + 1.
    """
    state = tx.init(x0)
    x, xs = x0, []
    for t, g in enumerate(grads):
        xs.append(x)
        kw = {} if hints is None else {"next_hint": hints[t]}
        u, state = tx.update(g, state, x, **kw)
        x = optax.apply_updates(x, u)
    return np.array(xs), state, x


# --------------------------------------------------------------------------- projections


@pytest.mark.parametrize("seed", range(3))
def test_ball_projection_idempotent_nonexpansive_kkt(seed):
    rng = np.random.default_rng(seed)
    b = omd.ball(1.5)
    x, y = rng.normal(size=(2, 6)) * 2
    px, py = np.asarray(b.project(x)), np.asarray(b.project(y))
    np.testing.assert_allclose(b.project(px), px, **IDENTITY.kw())
    assert np.linalg.norm(px - py) <= np.linalg.norm(x - y) + 1e-12
    assert np.linalg.norm(px) <= 1.5 + 1e-12
    zs = rng.normal(size=(200, 6))
    zs = zs / np.maximum(1, np.linalg.norm(zs, axis=1, keepdims=True) / 1.5)  # points of X
    assert np.max((zs - px) @ (x - px)) <= 1e-12  # ⟨x − Π(x), z − Π(x)⟩ ≤ 0


def test_box_projection_idempotent_and_zero_vector_finite():
    bx = omd.box(-1.0, 2.0)
    x = jnp.array([-3.0, 0.5, 7.0])
    np.testing.assert_allclose(bx.project(x), [-1.0, 0.5, 2.0])
    np.testing.assert_allclose(bx.project(bx.project(x)), bx.project(x))
    assert np.all(np.isfinite(omd.ball(1.0).project(jnp.zeros(3))))
    assert np.allclose(jax.grad(lambda v: jnp.sum(omd.ball(1.0).project(v)))(jnp.zeros(3)), 1.0)


@pytest.mark.parametrize("seed", range(3))
def test_ball_qp_satisfies_kkt(seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(5, 5))
    u = a @ a.T + 0.1 * np.eye(5)
    y = rng.normal(size=5) * 3
    x = np.asarray(omd.ball(1.0).project_metric(jnp.asarray(y), jnp.asarray(u)))
    assert np.linalg.norm(x) <= 1.0 + 1e-12
    # stationarity U(y − x) = μ x with μ ≥ 0, and μ(‖x‖ − R) = 0
    r = u @ (y - x)
    mu = r @ x / (x @ x)
    np.testing.assert_allclose(r, mu * x, **NUMERICAL.kw())
    assert mu >= -1e-10 and abs(mu * (np.linalg.norm(x) - 1.0)) < 1e-8
    y_in = y / np.linalg.norm(y) * 0.5  # inside: the projection is the point itself
    np.testing.assert_allclose(omd.ball(1.0).project_metric(jnp.asarray(y_in), jnp.asarray(u)),
                               y_in, **IDENTITY.kw())


# --------------------------------------------------------------------------- optax equivalence


@pytest.mark.parametrize("seed", range(3))
def test_unconstrained_omd_matches_closed_form_and_optax(seed):
    rng = np.random.default_rng(seed)
    eta, grads = 0.3, rng.normal(size=(12, 4))
    xs, _, x_last = rollout(omd.optimistic_omd(eta), grads, jnp.zeros(4))
    xs = np.vstack([xs, x_last])
    inc = np.diff(xs, axis=0)
    g_prev = np.vstack([np.zeros(4), grads[:-1]])
    np.testing.assert_allclose(inc, -eta * (2 * grads - g_prev), **IDENTITY.kw())
    opt = optax.optimistic_gradient_descent(eta, alpha=1.0, beta=1.0)
    oxs, _, o_last = rollout(opt, grads, jnp.zeros(4))
    o_inc = np.diff(np.vstack([oxs, o_last]), axis=0)
    np.testing.assert_allclose(inc[1:], o_inc[1:], **IDENTITY.kw())  # from the 2nd step on
    np.testing.assert_allclose(inc[0] - o_inc[0], -eta * grads[0], **IDENTITY.kw())  # g_0 := g_1


# --------------------------------------------------------------------------- regret inequality


def _linearized(xs, grads, u):
    return np.sum(grads * (xs - u))


@pytest.mark.parametrize("seed", SEEDS)
def test_deterministic_regret_inequality_euclidean(seed):
    """Σ⟨g_t, x_t − u⟩ ≤ ‖u − x̂_1‖²/(2η) + (η/2)Σ‖g_t − M_t‖² for any g, M, u ∈ X."""
    rng = np.random.default_rng(seed)
    T, d, R = 60, 3, 1.0
    eta = float(rng.uniform(0.01, 1.0))
    grads = rng.normal(size=(T, d)) * rng.uniform(0.1, 3)
    hints = grads + rng.normal(size=(T, d)) * rng.uniform(0, 2)  # M_{t+1}, t = 1..T
    x1 = omd.ball(R).project(rng.normal(size=d))
    tx = omd.optimistic_omd(eta, projection=omd.ball(R))
    xs, _, _ = rollout(tx, grads, x1, hints=list(hints[1:]) + [hints[0]])
    m = np.vstack([np.zeros(d), hints[1:]])  # M_1 = 0
    bound_tail = eta / 2 * np.sum((grads - m) ** 2)
    for u in rng.normal(size=(20, d)):
        u = np.asarray(omd.ball(R).project(u))
        lhs = _linearized(xs, grads, u)
        rhs = np.sum((u - np.asarray(x1)) ** 2) / (2 * eta) + bound_tail
        assert lhs <= rhs + 1e-10, (lhs, rhs)


def test_perfect_hint_bound_is_not_vacuous():
    """Constant g on the unit ball, η = 0.1, u = −ĝ: optimistic OMD's regret 4.6 meets the
    perfect-hint bound 1/(2η) + η‖g‖²/2 = 5.05, while OGD (no hint) pays 5.5 and breaks it."""
    g = np.tile(np.array([1.0, 0.0]), (30, 1))
    u = np.array([-1.0, 0.0])
    bound = 1 / (2 * 0.1) + 0.1 / 2
    xs, _, _ = rollout(omd.optimistic_omd(0.1, projection=omd.ball(1.0)), g, jnp.zeros(2))
    ys, _, _ = rollout(omd.ogd(0.1, projection=omd.ball(1.0)), g, jnp.zeros(2))
    assert _linearized(xs, g, u) == pytest.approx(4.6, rel=1e-12)
    assert _linearized(ys, g, u) == pytest.approx(5.5, rel=1e-12) and 5.5 > bound


@pytest.mark.parametrize("seed", range(5))
def test_perfect_hints_leave_only_the_first_term(seed):
    """With M_t = g_t (t ≥ 2) the bound is ‖u − x̂_1‖²/(2η) + (η/2)‖g_1‖², for every T."""
    rng = np.random.default_rng(seed)
    T, d, R, eta = 80, 3, 1.0, float(rng.uniform(0.05, 2.0))
    grads = rng.normal(size=(T, d))
    tx = omd.optimistic_omd(eta, projection=omd.ball(R))
    xs, _, _ = rollout(tx, grads, jnp.zeros(d), hints=list(grads[1:]) + [grads[0]])
    for u in rng.normal(size=(10, d)):
        u = np.asarray(omd.ball(R).project(u))
        lin = np.cumsum(np.sum(grads * (xs - u), axis=1))
        assert np.all(lin <= np.sum(u**2) / (2 * eta) + eta / 2 * np.sum(grads[0] ** 2) + 1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_regret_inequality_entropy(seed):
    """Negative entropy (1-strongly convex in ℓ1): Σ⟨g_t, x_t − u⟩ ≤ KL(u‖x̂_1)/η +
    (η/2)Σ‖g_t − M_t‖∞²."""
    rng = np.random.default_rng(seed)
    T, d, eta = 50, 4, float(rng.uniform(0.05, 1.0))
    grads = rng.normal(size=(T, d))
    x1 = jnp.full(d, 1.0 / d)
    xs, _, _ = rollout(omd.optimistic_omd(eta, mirror_map="entropy"), grads, x1)
    np.testing.assert_allclose(xs.sum(axis=1), 1.0, **IDENTITY.kw())
    m = np.vstack([np.zeros(d), grads[:-1]])
    tail = eta / 2 * np.sum(np.max(np.abs(grads - m), axis=1) ** 2)
    for u in rng.dirichlet(np.ones(d), size=10):
        kl = np.sum(u * np.log(np.maximum(u, 1e-300) / np.asarray(x1)))
        assert _linearized(xs, grads, u) <= kl / eta + tail + 1e-10


def test_entropy_matches_multiplicative_weights_closed_form():
    rng = np.random.default_rng(1)
    grads, eta, d = rng.normal(size=(6, 3)), 0.4, 3
    xs, _, _ = rollout(omd.optimistic_omd(eta, mirror_map="entropy"), grads, jnp.full(d, 1 / d))
    cum = np.vstack([np.zeros(d), np.cumsum(grads, axis=0)[:-1]])
    m = np.vstack([np.zeros(d), grads[:-1]])
    want = np.exp(-eta * (cum + m))
    np.testing.assert_allclose(xs, want / want.sum(axis=1, keepdims=True), **IDENTITY.kw())


def test_entropy_with_huge_gradients_stays_finite():
    xs, _, x = rollout(omd.optimistic_omd(1.0, mirror_map="entropy"),
                       np.array([[1e4, -1e4, 0.0]] * 3), jnp.full(3, 1 / 3))
    assert np.all(np.isfinite(xs)) and np.isclose(float(jnp.sum(x)), 1.0)


# --------------------------------------------------------------------------- step sizes


def test_adaptive_step_nonincreasing_and_first_value():
    rng = np.random.default_rng(0)
    D, G, delta = 2.0, 3.0, 0.5
    tx = omd.optimistic_omd(omd.adaptive_step(D, G, delta), projection=omd.ball(1.0))
    state, x, etas, v = tx.init(jnp.zeros(3)), jnp.zeros(3), [], 0.0
    m = np.zeros(3)
    for g in rng.normal(size=(30, 3)):
        etas.append(float(state.learning_rate))
        np.testing.assert_allclose(etas[-1], D / np.sqrt(delta + 4 * G**2 + v), **IDENTITY.kw())
        v += np.sum((g - m) ** 2)
        m = g
        u, state = tx.update(g, state, x)
        x = optax.apply_updates(x, u)
    assert etas[0] == pytest.approx(D / np.sqrt(delta + 4 * G**2), rel=1e-12)
    assert np.all(np.diff(etas) <= 0)


def test_strongly_convex_step_is_one_over_lambda_t():
    tx = omd.optimistic_omd(omd.strongly_convex_step(2.0))
    _, state, _ = rollout(tx, np.ones((4, 2)), jnp.zeros(2))
    assert float(state.learning_rate) == pytest.approx(1 / (2.0 * 5))


# --------------------------------------------------------------------------- baselines


def test_ogd_matches_numpy_loop():
    rng = np.random.default_rng(2)
    grads, R, D, G = rng.normal(size=(20, 3)) * 2, 1.0, 2.0, 4.0
    xs, _, _ = rollout(omd.ogd(omd.sqrt_decay_step(D, G), projection=omd.ball(R)), grads,
                       jnp.zeros(3))
    x, want = np.zeros(3), []
    for t, g in enumerate(grads, start=1):
        want.append(x)
        x = x - D / (G * np.sqrt(t)) * g
        x = x * min(1, R / np.linalg.norm(x))
    np.testing.assert_allclose(xs, want, **IDENTITY.kw())


def test_adagrad_norm_matches_numpy_loop():
    rng = np.random.default_rng(3)
    grads = rng.normal(size=(15, 3))
    xs, _, _ = rollout(omd.adagrad_norm(2.0, projection=omd.box(-0.5, 0.5)), grads, jnp.zeros(3))
    x, s, want = np.zeros(3), 0.0, []
    for g in grads:
        want.append(x)
        s += g @ g
        x = np.clip(x - 2.0 / np.sqrt(s) * g, -0.5, 0.5)
    np.testing.assert_allclose(xs, want, **IDENTITY.kw())


def test_optimistic_ftrl_matches_closed_form():
    rng = np.random.default_rng(4)
    grads, eta, R = rng.normal(size=(15, 3)), 0.2, 0.7
    xs, _, _ = rollout(omd.optimistic_ftrl(eta, projection=omd.ball(R)), grads, jnp.zeros(3))
    cum = np.vstack([np.zeros(3), np.cumsum(grads, axis=0)[:-1]])
    m = np.vstack([np.zeros(3), grads[:-1]])
    want = -eta * (cum + m)
    want = want * np.minimum(1, R / np.maximum(np.linalg.norm(want, axis=1, keepdims=True), 1e-300))
    np.testing.assert_allclose(xs, want, **IDENTITY.kw())


@pytest.mark.parametrize("optimistic", [False, True])
def test_ons_matches_numpy_reference_unconstrained(optimistic):
    rng = np.random.default_rng(5)
    grads, gamma, eps = rng.normal(size=(12, 3)), 0.5, 2.0
    xs, _, _ = rollout(omd.ons(gamma, eps, optimistic=optimistic), grads, jnp.zeros(3))
    a, x_hat, m, want = eps * np.eye(3), np.zeros(3), np.zeros(3), []
    for g in grads:
        want.append(x_hat - np.linalg.solve(gamma * a, m) if optimistic else x_hat)
        a = a + np.outer(g, g)
        x_hat = x_hat - np.linalg.solve(gamma * a, g)
        m = g
    want = [w if optimistic else w for w in want]
    np.testing.assert_allclose(xs, np.array(want), **NUMERICAL.kw())


def test_ons_projection_is_in_the_metric():
    rng = np.random.default_rng(6)
    grads = rng.normal(size=(10, 3)) * 5
    xs, state, x = rollout(omd.ons(1.0, 1.0, projection=omd.ball(0.3)), grads, jnp.zeros(3))
    assert np.all(np.linalg.norm(xs, axis=1) <= 0.3 + 1e-12)
    u = np.asarray(state.metric)
    np.testing.assert_allclose(u, np.eye(3) + grads.T @ grads, **IDENTITY.kw())


def test_ensemble_with_one_learner_is_fixed_step_omd():
    rng = np.random.default_rng(7)
    grads = rng.normal(size=(20, 3))
    a, _, _ = rollout(omd.omd_ensemble(0.3, 1, meta_learning_rate=5.0, projection=omd.ball(1.0)),
                      grads, jnp.zeros(3))
    b, _, _ = rollout(omd.optimistic_omd(0.3, projection=omd.ball(1.0)), grads, jnp.zeros(3))
    np.testing.assert_allclose(a, b, **IDENTITY.kw())


def test_ensemble_weights_follow_optimistic_hedge():
    rng = np.random.default_rng(8)
    grads = rng.normal(size=(10, 2))
    tx = omd.omd_ensemble(0.1, 3, meta_learning_rate=2.0)
    _, state, x = rollout(tx, grads, jnp.zeros(2))
    bases = np.asarray(state.x_base)
    w = np.exp(-2.0 * (np.asarray(state.cum_loss) + bases @ grads[-1]))
    np.testing.assert_allclose(state.weights, w / w.sum(), **IDENTITY.kw())
    np.testing.assert_allclose(x, (w / w.sum()) @ bases, **IDENTITY.kw())


# --------------------------------------------------------------------------- implicit update


def test_implicit_update_quadratic_closed_form():
    eta, R, c = 2.0, 1.0, jnp.array([3.0, 0.5])
    solver = omd.implicit_omd(eta, lambda x, c: 0.5 * jnp.sum((x - c) ** 2),
                              projection=omd.ball(R), inner_steps=200,
                              inner_learning_rate=1 / (1 + eta))
    x, s = jnp.array([0.2, -0.1]), None
    s = solver.init(x)
    x_hat = np.asarray(s.x_hat)
    for _ in range(3):
        x, s = solver.update(x, s, c)
        want = (x_hat + eta * np.asarray(c)) / (1 + eta)
        want = want * min(1, R / np.linalg.norm(want))  # prox of a isotropic quadratic over X
        np.testing.assert_allclose(s.x_hat, want, **NUMERICAL.kw())
        x_hat = want


def test_implicit_update_absolute_loss_closed_form():
    a, b, eta = np.array([1.0, 2.0]), 0.5, 0.3
    solver = omd.implicit_omd(eta, lambda x: jnp.abs(jnp.dot(jnp.asarray(a), x) - b),
                              inner_steps=4000)
    x0 = jnp.array([2.0, 1.0])
    x, s = solver.update(x0, solver.init(x0))
    r = float(a @ np.asarray(x0) - b)
    want = (np.asarray(x0) - r / (a @ a) * a if abs(r) <= eta * (a @ a)
            else np.asarray(x0) - eta * np.sign(r) * a)
    np.testing.assert_allclose(s.x_hat, want, atol=5e-3)  # subgradient method, O(log k / k)


def test_implicit_equals_explicit_on_linear_losses():
    rng = np.random.default_rng(9)
    cs = rng.normal(size=(8, 2))
    solver = omd.implicit_omd(0.4, lambda x, c: jnp.dot(c, x), projection=omd.ball(1.0),
                              inner_steps=3)
    x, s, xs = jnp.zeros(2), None, []
    s = solver.init(x)
    for c in cs:
        xs.append(np.asarray(x))
        x, s = solver.update(x, s, jnp.asarray(c))
    want, _, _ = rollout(omd.optimistic_omd(0.4, projection=omd.ball(1.0)), cs, jnp.zeros(2))
    np.testing.assert_allclose(np.array(xs), want, **NUMERICAL.kw())


def test_implicit_exact_prox_equals_the_inner_solve_on_a_smooth_loss():
    """prox= replaces the inner solve: the quadratic's closed-form prox gives the iterates the
    converged inner solve gives, for every hint."""
    loss = lambda x, c: 0.5 * jnp.sum((x - c) ** 2)  # noqa: E731
    prox = lambda v, eta, c: (v + eta * c) / (1 + eta)  # noqa: E731
    cs = np.random.default_rng(3).normal(size=(6, 2))
    for hint in omd.IMPLICIT_HINTS:
        runs = []
        for kw in ({"prox": prox}, {"inner_steps": 300, "inner_learning_rate": 1 / 1.5}):
            solver = omd.implicit_omd(0.5, loss, hint=hint, **kw)
            x = jnp.zeros(2)
            s, xs = solver.init(x), []
            for c in cs:
                x, s = solver.update(x, s, jnp.asarray(c))
                xs.append(np.asarray(x))
            runs.append(np.array(xs))
        np.testing.assert_allclose(runs[0], runs[1], **NUMERICAL.kw())


def test_prox_gradient_hint_is_the_certified_subgradient():
    """M_{t+1} = (x̂_t − x̂_{t+1})/η ∈ ∂f_t(x̂_{t+1}): on f = |x − c| it is sign(x̂_{t+1} − c)
    away from the kink and 0 once the prox lands on c; the next decision is x̂ − ηM."""
    prox = lambda v, eta, c: c + jnp.sign(v - c) * jnp.maximum(jnp.abs(v - c) - eta, 0)  # noqa
    solver = omd.implicit_omd(0.25, lambda x, c: jnp.sum(jnp.abs(x - c)), hint="prox_gradient",
                              prox=prox)
    x = jnp.array([1.0])
    s = solver.init(x)
    c = jnp.array([0.4])
    x, s = solver.update(x, s, c)  # x̂: 1 → 0.75, M = +1, x = 0.5
    np.testing.assert_allclose([s.x_hat[0], s.hint[0], x[0]], [0.75, 1.0, 0.5], **IDENTITY.kw())
    x, s = solver.update(x, s, c)  # x̂: 0.75 → 0.5
    x, s = solver.update(x, s, c)  # x̂: 0.5 → 0.4 (the kink), M = 0.1/0.25
    np.testing.assert_allclose([s.x_hat[0], s.hint[0]], [0.4, 0.4], **IDENTITY.kw())
    x, s = solver.update(x, s, c)  # at the kink: M = 0, x = x̂ = c
    np.testing.assert_allclose([s.x_hat[0], s.hint[0], x[0]], [0.4, 0.0, 0.4], **IDENTITY.kw())


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: omd.optimistic_omd(0.0), r"optimistic_omd\(learning_rate=...\)` must be a posi"),
        (lambda: omd.optimistic_omd(-1.0), r"learning_rate"),
        (lambda: omd.optimistic_omd(0.1, mirror_map="lp"), r"mirror_map=...\)` must be one of"),
        (lambda: omd.optimistic_omd(0.1, hint="oracle"), r"hint=...\)` must be one of"),
        (lambda: omd.optimistic_omd(0.1, mirror_map="entropy", projection=omd.ball(1.0)),
         r"projection=...\)` must be None for mirror_map='entropy'"),
        (lambda: omd.optimistic_omd(0.1, mirror_map="online_newton", projection=omd.box(0, 1)),
         r"must be None or ball"),
        (lambda: omd.ball(0.0), r"`ball\(radius=...\)` must be a positive finite number, got 0"),
        (lambda: omd.ball(-2.0), r"ball\(radius"),
        (lambda: omd.box(1.0, 0.0), r"lower < upper"),
        (lambda: omd.adaptive_step(0.0, 1.0), r"adaptive_step\(diameter"),
        (lambda: omd.strongly_convex_step(0.0), r"strong_convexity"),
        (lambda: omd.omd_ensemble(0.1, 0, meta_learning_rate=1.0), r"num_learners"),
        (lambda: omd.ons(0.0, 1.0), r"ons\(gamma"),
        (lambda: omd.implicit_omd(0.1, lambda x: x, inner_steps=0), r"inner_steps"),
        (lambda: omd.implicit_omd(0.1, lambda x: x, hint="oracle"),
         r"implicit_omd\(hint=...\)` must be one of .*prox_gradient"),
    ],
)
def test_bad_inputs_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_implicit_prox_must_be_callable():
    with pytest.raises(TypeError, match=r"`implicit_omd\(prox=...\)` must be None or callable"):
        omd.implicit_omd(0.1, lambda x: x, prox=1.0)


def test_bad_types_raise_type_error():
    with pytest.raises(TypeError, match=r"learning_rate=...\)` must be a number"):
        omd.optimistic_omd("fast")
    with pytest.raises(TypeError, match=r"projection=...\)` must be None, ball"):
        omd.optimistic_omd(0.1, projection=3.0)
