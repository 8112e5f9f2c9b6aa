"""SEA environments: closed-form σ², Σ² against Monte Carlo, comparators against projected GD,
schedules, the play loop, and the reductions s = 0 (bounded regret) and linear iid (O(s√(dT)))."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrank.online import sea
from jaxrank.optim import omd
from tests._tolerances import IDENTITY

D, R = 4, 1.0
CENTER = jnp.array([0.6, -0.3, 0.2, 0.1])


def params(schedule="iid", noise=0.3, horizon=40, **kw):
    return sea.sea_params(CENTER, horizon=horizon, noise=noise, schedule=schedule, **kw)


# --------------------------------------------------------------------------- schedules


def test_schedules_closed_forms():
    ts = np.arange(1, 41)
    # one compiled program per schedule (op-by-op dispatch of 40 rounds took ~45 s on 2 cores)
    c = lambda p: np.asarray(jax.jit(jax.vmap(lambda t: sea.drift(p, t)))(ts))  # noqa: E731
    np.testing.assert_allclose(c(params("iid")), np.tile(CENTER, (40, 1)))
    alt = c(params("alternation"))
    np.testing.assert_allclose(alt[0], -CENTER) and np.testing.assert_allclose(alt[1], CENTER)
    sw = c(params("switches", switches=3))
    assert np.sum(np.any(np.diff(sw, axis=0) != 0, axis=1)) == 3
    cor = c(params("corrupted", corruption=5))
    assert np.sum(np.all(cor == -np.asarray(CENTER), axis=1)) == 5
    rot = c(params("rotation", period=10.0))
    np.testing.assert_allclose(np.linalg.norm(rot, axis=1), np.linalg.norm(CENTER))
    env = sea.quadratic(D, R)
    v2 = float(env.variation2(params("rotation", period=10.0), 5))
    assert v2 == pytest.approx((2 * np.linalg.norm(CENTER) * np.sin(np.pi / 10)) ** 2, rel=1e-10)


@pytest.mark.parametrize("n", [1, 2, 3, 37, 64, 1000])
def test_random_order_index_is_a_permutation(n):
    """π is a bijection of {0, …, n−1} for every seed (vmapped over seeds, one compile)."""
    seeds = jnp.arange(4, dtype=jnp.uint32)
    perms = np.asarray(jax.jit(jax.vmap(lambda s: sea.random_order_index(jnp.arange(n), n, s)))(
        seeds))
    for p in perms:
        np.testing.assert_array_equal(np.sort(p), np.arange(n))
    if n >= 37:  # different seeds give different orders, and not the identity
        assert len({tuple(p) for p in perms}) == 4
        assert not np.array_equal(perms[0], np.arange(n))


@pytest.mark.slow  # a faster sibling stays in the default suite (10-min budget)
def test_random_order_plays_the_alternation_set_in_another_order():
    """ROM: the multiset {c_t} is alternation's (T/2 of ±c), its order is π's, and Σ_t² is the
    closed form ‖c_t − c_{t−1}‖² of the realised order."""
    T = 40
    ts = jnp.arange(1, T + 1)
    p = params("random_order", noise=0.0, order_seed=5)
    rom = np.asarray(jax.vmap(lambda t: sea.drift(p, t))(ts))
    alt = np.asarray(jax.vmap(lambda t: sea.drift(params("alternation", noise=0.0), t))(ts))
    sign = np.sign(rom[:, 0] / float(CENTER[0]))
    assert np.sum(sign > 0) == np.sum(sign < 0) == T // 2
    assert np.array_equal(np.sort(rom, axis=0), np.sort(alt, axis=0))
    assert not np.array_equal(rom, alt)
    perm = np.asarray(sea.random_order_index(jnp.arange(T), T, 5))
    np.testing.assert_array_equal(sign, np.where(perm % 2 == 0, -1.0, 1.0))
    env = sea.linear(D, R)
    out = sea.cumulative_sea(env, p, T)
    n2 = float(jnp.sum(CENTER**2))
    assert float(out["variation2"]) == pytest.approx(
        n2 + np.sum(np.sum(np.diff(rom, axis=0) ** 2, axis=1)))


def test_cumulative_sea_alternation_and_iid():
    env = sea.linear(D, R)
    n2 = float(jnp.sum(CENTER**2))
    out = sea.cumulative_sea(env, params("alternation", noise=0.0), 40)
    assert float(out["variation2"]) == pytest.approx(n2 + 39 * 4 * n2)
    out = sea.cumulative_sea(env, params("iid", noise=0.5), 40)
    assert float(out["sigma2"]) == pytest.approx(40 * D * 0.25)
    assert float(out["variation2"]) == pytest.approx(n2)  # only the t = 1 term


# --------------------------------------------------------------------------- Monte Carlo


@pytest.mark.parametrize(
    ("name", "t"),
    [pytest.param("linear", 7, marks=pytest.mark.slow), ("least_squares", 7),
     # slow (issue 18: offsets f8/f9's smoke compile time); linear/least squares stay fast
     pytest.param("quadratic", 1, marks=pytest.mark.slow),
     pytest.param("quadratic", 7, marks=pytest.mark.slow),
     pytest.param("linear", 1, marks=pytest.mark.slow),
     pytest.param("least_squares", 1, marks=pytest.mark.slow)],
)
def test_monte_carlo_matches_closed_forms(name, t):
    env = sea.ENVIRONMENTS[name](D, R)
    p = params("alternation", noise=0.4)
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(6, D))
    pts = pts / np.linalg.norm(pts, axis=1, keepdims=True) * R
    far = -np.asarray(sea.drift(p, t)) / np.linalg.norm(CENTER) * R  # argmax of LS σ_t²
    pts = jnp.asarray(np.vstack([pts, far]))
    mc = sea.monte_carlo_sea(env, p, jax.random.key(1), t, pts, 20000)
    sigma2, var2 = float(env.sigma2(p, t)), float(env.variation2(p, t))
    # 20000 samples: the relative standard error of a variance of Rademacher sums is < 2%
    assert float(mc["sigma2"]) == pytest.approx(sigma2, rel=0.05, abs=1e-12)
    assert float(mc["variation2"]) == pytest.approx(var2, rel=0.05, abs=0.02)
    want = jax.vmap(lambda x: env.expected_grad(x, p, t))(pts)
    np.testing.assert_allclose(mc["mean_grad"], want, atol=0.05)


@pytest.mark.slow
def test_logistic_monte_carlo_noise_free_has_zero_sigma():
    env = sea.logistic(D, R)
    pts = jnp.asarray(np.random.default_rng(0).normal(size=(3, D)) * 0.3)
    mc = sea.monte_carlo_sea(env, params(noise=0.0), jax.random.key(0), 3, pts, 500)
    assert float(mc["sigma2"]) < 1e-20
    mc = sea.monte_carlo_sea(env, params(noise=0.5), jax.random.key(0), 3, pts, 500)
    assert float(mc["sigma2"]) > 1e-3


@pytest.mark.slow  # compile-bound (~5 s); the doctests are the fast checks
def test_monte_carlo_cumulative_matches_closed_forms():
    """Coupled draws: Σ_t² exact for quadratic losses (y_t − y_{t−1} = c_t − c_{t−1}), σ_t²
    within sampling error; Σ_t² = 0 exactly between switches; one estimate per distinct case."""
    env = sea.quadratic(D, R)
    T = 40
    pts = jnp.asarray(np.vstack([np.eye(D), -np.eye(D)]) * R)
    for schedule, calls in (("switches", 3), ("alternation", 3), ("iid", 1)):
        p = params(schedule, noise=0.4, switches=3)
        mc = sea.monte_carlo_cumulative(env, p, jax.random.key(0), T, pts, 2000)
        ts = jnp.arange(1, T + 1)
        want_v = np.asarray(jax.vmap(lambda t, p=p: env.variation2(p, t))(ts))
        want_s = np.asarray(jax.vmap(lambda t, p=p: env.sigma2(p, t))(ts))
        # Σ_1² = sup_x ‖x − c_1‖² is attained off the grid: the grid max is a lower bound
        assert mc["variation2"][0] <= want_v[0] + 1e-12
        np.testing.assert_allclose(mc["variation2"][1:], want_v[1:], atol=1e-12)
        np.testing.assert_allclose(mc["sigma2"], want_s, rtol=0.1)
        assert mc["num_estimates"] == calls


def test_monte_carlo_cumulative_refuses_many_centres():
    with pytest.raises(ValueError, match=r"distinct centres"):
        sea.monte_carlo_cumulative(sea.quadratic(D, R), params("rotation", period=7.0,
                                                               horizon=200), jax.random.key(0),
                                   200, jnp.zeros((1, D)), 4)


# --------------------------------------------------------------------------- comparators


def _pgd(total_loss, steps=3000, lr=0.05):
    """Independent reference: projected gradient descent on Σ_t f_t over the ball (NumPy loop)."""
    grad = jax.jit(jax.grad(total_loss))
    x = np.zeros(D)
    for _ in range(steps):
        x = x - lr * np.asarray(grad(jnp.asarray(x)))
        x = x * min(1.0, R / np.linalg.norm(x))
    return x, float(total_loss(jnp.asarray(x)))


@pytest.mark.parametrize("name", ["least_squares",
                                  pytest.param("quadratic", marks=pytest.mark.slow),
                                  pytest.param("linear", marks=pytest.mark.slow)])
def test_best_fixed_matches_projected_gd(name):
    env = sea.ENVIRONMENTS[name](D, R)
    T = 40
    p = sea.sea_params(CENTER * (3.0 if name == "quadratic" else 1.0), horizon=T, noise=0.4,
                       schedule="switches", switches=2)
    key = jax.random.key(3)
    zs = sea.sample_rounds(env, p, key, T)

    @jax.jit  # Σ_{t ≤ n} f_t(x), one compiled program (not op-by-op)
    def total(x, n=T):
        per = jax.vmap(lambda z: env.loss(x, z))(zs)
        return jnp.sum(jnp.where(jnp.arange(T) < n, per, 0.0))

    # lr = 1/T: ΣaaᵀT⁻¹ ≈ I (least squares) or = I (quadratic), so PGD converges in a few
    # hundred steps; the linear case needs the long run
    _, ref = _pgd(total, steps=3000 if name == "linear" else 300, lr=1.0 / T)
    horizons, points, values = sea.prefix_best_fixed(env, p, key, T, 4)
    assert horizons.tolist() == [10, 20, 30, 40]
    assert float(values[-1]) == pytest.approx(ref, rel=1e-6, abs=1e-6)
    assert float(total(points[-1])) == pytest.approx(float(values[-1]), rel=1e-10, abs=1e-10)
    # prefix values at T = 20 too
    assert float(total(points[1], 20)) == pytest.approx(float(values[1]), rel=1e-10, abs=1e-10)


@pytest.mark.slow  # compile-bound (~5 s); the doctests are the fast checks
def test_best_fixed_newton_matches_closed_forms():
    """Projected Newton with its gap certificate agrees with the sufficient-statistic oracles
    (quadratic: a projection; least squares: ball_qp) at every prefix."""
    T = 40
    for name, scale in (("quadratic", 3.0), ("least_squares", 1.0)):
        env = sea.ENVIRONMENTS[name](D, R)
        p = sea.sea_params(CENTER * scale, horizon=T, noise=0.4, schedule="switches", switches=2)
        key = jax.random.key(3)
        _, pts, vals = sea.prefix_best_fixed(env, p, key, T, 4)
        npts, nvals, gaps = sea.best_fixed_newton(env, sea.sample_rounds(env, p, key, T),
                                                  jnp.array([10, 20, 30, 40]), chunk=20)
        np.testing.assert_allclose(nvals, vals, rtol=1e-9, atol=1e-9)
        assert np.all(np.asarray(gaps) < 1e-8)
        assert np.all(np.asarray(nvals) - np.asarray(gaps) <= np.asarray(vals) + 1e-9)


@pytest.mark.slow  # compile-bound (~5 s); the doctests are the fast checks
def test_best_fixed_newton_logistic_certificate():
    """Logistic losses (no closed form): the certificate brackets a projected-GD reference."""
    env = sea.logistic(D, R)
    T = 40
    p = sea.sea_params(CENTER, horizon=T, noise=2.0)  # noisy: interior optimum
    zs = sea.sample_rounds(env, p, jax.random.key(2), T)
    pts, vals, gaps = sea.best_fixed_newton(env, zs, jnp.array([T]))
    lipschitz = 0.25 * float(jnp.sum(zs[0] ** 2))  # smoothness of Σ f_t
    _, ref = _pgd(lambda x: jnp.sum(jax.vmap(lambda z: env.loss(x, z))(zs)), steps=2000,
                  lr=1.0 / lipschitz)
    assert float(gaps[0]) < 1e-9 and float(jnp.linalg.norm(pts[0])) <= R + 1e-12
    assert float(vals[0]) - float(gaps[0]) <= ref + 1e-12  # min ≤ any feasible value
    assert float(vals[0]) == pytest.approx(ref, rel=1e-6)


@pytest.mark.slow  # compile-bound (~10 s on 2 cores); `make test-all` runs it
def test_play_losses_match_sampled_rounds_and_regret_curve():
    env = sea.quadratic(D, R)
    p, key, T = params(horizon=12), jax.random.key(5), 12
    tx = omd.optimistic_omd(0.2, projection=omd.ball(R))
    _, _, losses = sea.play(tx, env, p, jnp.zeros(D), key, T)
    zs = sea.sample_rounds(env, p, key, T)
    # replay with the rounds given explicitly (an independent loop)
    @jax.jit  # one compiled round (eager op-by-op dispatch compiles every primitive)
    def step(x, s, z):
        u, s = tx.update(jax.grad(env.loss)(x, z), s, x)
        return x + u, s, env.loss(x, z)

    x, s, want = jnp.zeros(D), tx.init(jnp.zeros(D)), []
    for t in range(T):
        x, s, loss = step(x, s, zs[t])
        want.append(float(loss))
    np.testing.assert_allclose(losses, want, rtol=1e-12)
    _, _, best = sea.prefix_best_fixed(env, p, key, T, 3)
    np.testing.assert_allclose(sea.regret_curve(losses, best, 3),
                               np.cumsum(want)[[3, 7, 11]] - np.asarray(best), rtol=1e-12)


# --------------------------------------------------------------------------- reductions


def _regret(env, p, tx, T, seed=0):
    key = jax.random.key(seed)
    _, _, losses = sea.play(tx, env, p, jnp.zeros(D), key, T)
    _, _, best = sea.prefix_best_fixed(env, p, key, T, 10)
    return np.asarray(sea.regret_curve(losses, best, 10))


@pytest.mark.slow  # a faster sibling stays in the default suite (10-min budget)
def test_noise_free_constant_target_has_bounded_regret():
    """s = 0, c_t = c: hints are exact from t = 2, so OMD's regret stops growing."""
    env = sea.linear(D, R)
    p = sea.sea_params(CENTER, horizon=1000, noise=0.0)
    G = float(env.grad_bound(p))
    r = _regret(env, p, omd.optimistic_omd(omd.adaptive_step(2 * R, G),
                                           projection=omd.ball(R)), 1000)
    assert 0 < r[0] and r[-1] - r[0] < 1e-6 * max(1.0, abs(r[0]))  # flat from T = 100 to 1000


@pytest.mark.slow
def test_linear_iid_zero_mean_noise_regret_order():
    """c = 0, s > 0: comparator on the boundary, E R_T = O(D s √(dT)); the ratio stays in a band."""
    env = sea.linear(D, R)
    s, T = 0.5, 4000
    p = sea.sea_params(jnp.zeros(D), horizon=T, noise=s)
    G = float(env.grad_bound(p))
    tx = omd.optimistic_omd(omd.adaptive_step(2 * R, G), projection=omd.ball(R))
    rs = np.array([_regret(env, p, tx, T, seed)[-1] for seed in range(3)])
    ratio = rs.mean() / (2 * R * s * np.sqrt(D * T))
    assert 0.05 < ratio < 2.0, ratio


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sea.sea_params(CENTER, horizon=0), r"`sea_params\(horizon=...\)` must be a pos"),
        (lambda: sea.sea_params(CENTER, horizon=5, noise=-1.0), r"noise"),
        (lambda: sea.sea_params(CENTER, horizon=5, schedule="chaos"), r"schedule=...\)` must"),
        (lambda: sea.sea_params(CENTER[:1], horizon=5, schedule="rotation"), r"dimension"),
        (lambda: sea.sea_params(CENTER, horizon=5, order_seed=-1), r"order_seed=...\)` must"),
        (lambda: sea.quadratic(3, 0.0), r"`quadratic\(radius=...\)` must be a positive"),
        (lambda: sea.linear(3, -1.0), r"linear\(radius"),
        (lambda: sea.prefix_best_fixed(sea.quadratic(4, 1.0), params(), jax.random.key(0), 10,
                                       3), r"multiple"),
        (lambda: sea.prefix_best_fixed(sea.logistic(4, 1.0), params(), jax.random.key(0), 10,
                                       2), r"no sufficient statistic"),
        (lambda: sea.cumulative_sea(sea.logistic(4, 1.0), params(), 10), r"no closed form"),
        (lambda: sea.best_fixed_newton(sea.logistic(4, 1.0), jnp.zeros((10, 4)),
                                       jnp.array([5, 11])), r"horizons=...\)` must be asc"),
        (lambda: sea.best_fixed_newton(sea.logistic(4, 1.0), jnp.zeros((10, 4)),
                                       jnp.array([5]), chunk=3), r"chunk=...\)` must divide"),
        (lambda: sea.logistic_pool(jnp.ones((3, 2)), jnp.array([1.0, 0.0, -1.0]), 1.0),
         r"`logistic_pool\(labels=...\)` must take values in \{-1, \+1\}"),
        (lambda: sea.monte_carlo_sea(sea.quadratic(4, 1.0), params(), jax.random.key(0), 1,
                                     jnp.zeros((1, 4)), 1), r"at least 2"),
        (lambda: sea.best_fixed_newton(sea.absolute(4, 1.0), jnp.zeros((10, 4)),
                                       jnp.array([5])), r"`best_fixed_newton\(env=...\)` must be"
         r" an environment on a ball .*got domain Box"),
    ],
)
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_zero_rounds_is_an_error():
    env = sea.quadratic(D, R)
    with pytest.raises(ValueError, match=r"play\(num_rounds=...\)` must be a positive int"):
        sea.play(omd.ogd(0.1), env, params(), jnp.zeros(D), jax.random.key(0), 0)
    with pytest.raises(TypeError, match=r"positive int"):
        sea.quadratic(2.5, 1.0)


# --------------------------------------------------------------------------- digits pool


@pytest.mark.slow  # compile-bound (~5 s at d = 64)
def test_logistic_pool_on_digits_flips_labels_and_meets_the_bound():
    """sklearn digits as the pool (d = 64, ‖a‖ ≤ 1, digits 0-4 vs 5-9): rounds are pool rows,
    labels flip at the switch, the Newton comparator is certified, and optimistic OMD's regret
    is below D(√σ̂²₁:T + √Σ̂²₁:T) + LD² with Monte-Carlo σ̂², Σ̂² (the convex theorem, constant 1)."""
    from jaxrank.data import load_digits

    images, digits = load_digits()
    feats = images / (16.0 * 8.0)  # ‖a‖ ≤ ‖16·1‖/128 = 1
    y = np.where(digits < 5, 1.0, -1.0)
    env = sea.logistic_pool(feats, y, 1.0)
    T, key = 200, jax.random.key(0)
    p = sea.sea_params(jnp.zeros(64).at[0].set(1.0), horizon=T, schedule="switches", switches=1)
    a, yt = sea.sample_rounds(env, p, key, T)
    rows = np.argmin(np.abs(np.asarray(a)[:, None, :] - feats[None]).sum(-1), axis=1)
    np.testing.assert_array_equal(np.asarray(a), feats[rows])
    sign = np.where(np.arange(T) < T // 2, 1.0, -1.0)  # one switch at the midpoint
    np.testing.assert_array_equal(np.asarray(yt), sign * y[rows])
    _, best, gaps = sea.best_fixed_newton(env, (a, yt), jnp.array([T]))
    assert float(gaps[0]) < 1e-8
    tx = omd.optimistic_omd(omd.adaptive_step(2.0, 1.0), projection=omd.ball(1.0))
    _, _, losses = sea.play(tx, env, p, jnp.zeros(64), key, T)
    regret = float(jnp.sum(losses) - best[0])
    pts = jnp.asarray(np.vstack([np.eye(64), -np.eye(64), np.zeros((1, 64))]))
    mc = sea.monte_carlo_cumulative(env, p, jax.random.key(1), T, pts, 400)
    bound = 2.0 * (np.sqrt(mc["sigma2"].sum()) + np.sqrt(mc["variation2"].sum())) \
        + env.smoothness * 4.0
    assert mc["num_estimates"] == 2 and mc["variation2"][1:].sum() > 0  # t = 1, the switch
    assert 0 < regret <= bound, (regret, bound)  # measured: 2.73 ≤ 7.39 (ratio 0.37)


# --------------------------------------------------------------------------- issue 18


def test_noise_burst_closed_forms_and_rounds():
    """noisy_rounds = B: noise on rounds 1..B only, σ²₁:T = B·d s², σ²_max = d s²."""
    env = sea.quadratic(D, R)
    T, B, s = 12, 3, 0.5
    p = sea.sea_params(CENTER, horizon=T, noise=s, noisy_rounds=B)
    ys = np.asarray(sea.sample_rounds(env, p, jax.random.key(0), T))
    np.testing.assert_allclose(np.abs(ys[:B] - np.asarray(CENTER)), s)
    np.testing.assert_array_equal(ys[B:], np.broadcast_to(np.asarray(CENTER), (T - B, D)))
    out = sea.cumulative_sea(env, p, T)
    assert float(out["sigma2"]) == pytest.approx(B * D * s**2)
    assert float(out["sigma2_max"]) == pytest.approx(D * s**2)
    every = sea.sea_params(CENTER, horizon=T, noise=s)  # default −1: every round
    assert float(sea.cumulative_sea(env, every, T)["sigma2"]) == pytest.approx(T * D * s**2)
    with pytest.raises(ValueError, match=r"noisy_rounds=...\)` must be an int"):
        sea.sea_params(CENTER, horizon=T, noisy_rounds=-2)
    with pytest.raises(ValueError, match=r"noisy_rounds=-1"):
        sea.monte_carlo_cumulative(env, p, jax.random.key(0), T, jnp.zeros((1, D)), 4)


@pytest.mark.slow  # compile-bound; the doctest of nonconvex_quadratic is the fast sibling
def test_nonconvex_quadratic_is_nonconvex_and_its_comparator_exact():
    """f_t has Hessian (1 − κ)I < 0 on ε_t = −1 rounds; the comparator beats every point of a
    dense sample of the ball (Σ f_t may be non-convex, so no local solver is a reference)."""
    kappa = 2.0
    env = sea.nonconvex_quadratic(D, R, kappa)
    hess = jax.hessian(env.loss)(jnp.zeros(D), (jnp.zeros(D), jnp.asarray(-1.0)))
    np.testing.assert_allclose(np.linalg.eigvalsh(np.asarray(hess)), 1 - kappa)
    T = 8
    p = sea.sea_params(CENTER, horizon=T, noise=0.4, schedule="alternation")
    key = jax.random.key(5)
    zs = sea.sample_rounds(env, p, key, T)
    total = jax.jit(jax.vmap(lambda x: jnp.sum(jax.vmap(lambda z: env.loss(x, z))(zs))))
    horizons, points, values = sea.prefix_best_fixed(env, p, key, T, 1)
    rng = np.random.default_rng(0)
    u = rng.normal(size=(20000, D))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    cand = jnp.asarray(np.vstack([u * R, u * R * rng.uniform(size=(20000, 1)) ** (1 / D)]))
    assert float(values[-1]) <= float(jnp.min(total(cand))) + 1e-12
    assert float(total(points[-1:])[0]) == pytest.approx(float(values[-1]), rel=1e-12)
    assert float(env.sigma2(p, 1)) == pytest.approx(D * 0.4**2 + kappa**2 * R**2)


# --------------------------------------------------------------------------- absolute (f10)


def test_absolute_prox_is_the_brute_force_minimiser():
    """prox(v) = argmin_{x∈[−R,R]^d} η‖x − y‖₁ + ½‖x − v‖², separable: a dense grid per
    coordinate (spacing 1e-4) finds the same point, inside and outside the box."""
    env = sea.absolute(3, 1.0)
    rng = np.random.default_rng(0)
    grid = np.linspace(-1.0, 1.0, 20_001)
    for _ in range(5):
        v, y, eta = rng.uniform(-2, 2, 3), rng.uniform(-1.5, 1.5, 3), rng.uniform(0.05, 1.0)
        got = np.asarray(env.prox(jnp.asarray(v), eta, jnp.asarray(y)))
        obj = eta * np.abs(grid[:, None] - y) + 0.5 * (grid[:, None] - v) ** 2
        np.testing.assert_allclose(got, grid[np.argmin(obj, axis=0)], atol=1e-4)


def test_absolute_subgradient_is_minimum_norm_at_the_kink():
    env = sea.absolute(2, 1.0)
    y = jnp.array([0.3, -0.2])
    g = jax.grad(env.loss)(jnp.array([0.3, 0.5]), y)
    np.testing.assert_array_equal(np.asarray(g), [0.0, 1.0])


def test_absolute_prefix_best_is_the_exact_median_comparator():
    """The comparator min_{u∈box} Σ_{t≤n} ‖u − y_t‖₁ at every prefix, against brute force over
    the candidates {y_t} ∪ {±R} (a minimiser of a 1-D sum of |u − y_t| on an interval is a data
    point or an end point), on a schedule whose centre leaves the box on some rounds."""
    env = sea.absolute(3, 1.0)
    T = 40
    p = sea.sea_params(jnp.array([0.9, -0.2, 0.0]), horizon=T, noise=0.4, schedule="switches",
                       switches=3)
    key = jax.random.key(2)
    ys = np.asarray(sea.sample_rounds(env, p, key, T))
    horizons, points, values = sea.prefix_best_fixed(env, p, key, T, 8)
    for k, n in enumerate(np.asarray(horizons)):
        cand = np.concatenate([ys[:n], -np.ones((1, 3)), np.ones((1, 3))])
        cand = np.clip(cand, -1.0, 1.0)
        per = np.abs(cand[:, None, :] - ys[None, :n, :]).sum(axis=1)  # (candidates, d)
        assert float(values[k]) == pytest.approx(per.min(axis=0).sum(), rel=1e-12)
        assert float(np.abs(np.asarray(points[k]) - ys[:n]).sum()) == pytest.approx(
            float(values[k]), rel=1e-12)


def test_absolute_closed_forms_match_monte_carlo_and_a_dense_sup():
    """∇F_t exact over the two noise values; σ_t² = d (deviation ±1 on the noise intervals);
    Σ_t² = sup_x ‖∇F_t − ∇F_{t−1}‖² on a dense grid of the box, for a switch with intervals
    disjoint (4 per coordinate) and overlapping (1), and noise that stops (burst)."""
    d = 2
    env = sea.absolute(d, 1.0)
    grid = np.linspace(-0.999, 0.999, 4001)

    def slope(x, c, s):  # E sign(x − c − sε), ε = ±1
        return 0.5 * (np.sign(x - c - s) + np.sign(x - c + s))

    for noise, c in ((0.1, [0.5, 0.0]), (0.3, [0.2, -0.1])):
        p = sea.sea_params(jnp.array(c), horizon=10, noise=noise, schedule="alternation")
        for t in (2, 3):
            ct, cp = np.asarray(sea.drift(p, t)), np.asarray(sea.drift(p, t - 1))
            gap = (slope(grid[:, None], ct, noise) - slope(grid[:, None], cp, noise)) ** 2
            assert float(env.variation2(p, t)) == pytest.approx(gap.max(axis=0).sum())
            x = jnp.array([ct[0] + 0.5 * noise, 0.9])
            np.testing.assert_allclose(env.expected_grad(x, p, t),
                                       slope(np.asarray(x), ct, noise), **IDENTITY.kw())
        assert float(env.sigma2(p, 4)) == d
        assert float(env.variation2(p, 1)) == d
    burst = sea.sea_params(jnp.array([0.5, 0.0]), horizon=10, noise=0.2, noisy_rounds=3)
    assert [float(env.sigma2(burst, t)) for t in (3, 4)] == [d, 0.0]
    # the noise stops: F' goes from the staircase to sign(x − c), a gap of 1 per coordinate
    assert float(env.variation2(burst, 4)) == pytest.approx(2.0)


@pytest.mark.parametrize("name", sorted(sea.ENVIRONMENTS))
def test_domain_and_diameter_are_the_feasible_set(name):
    """Every environment names its X: the ball of radius R (D = 2R) or, for the absolute loss,
    the box [-R, R]^d, whose diameter is the longest diagonal 2R√d (checked against the corner
    pair), and whose projection is coordinate clipping."""
    d, radius = 5, 0.75
    env = sea.ENVIRONMENTS[name](d, radius)
    assert env.feasible_set is env.domain
    x = jnp.array([2.0, -3.0, 0.1, 0.0, 0.5])
    if name == "absolute":
        assert env.domain == omd.box(-radius, radius)
        corner = jnp.full(d, radius)
        np.testing.assert_allclose(env.diameter, float(jnp.linalg.norm(corner - (-corner))),
                                   **IDENTITY.kw())
        np.testing.assert_array_equal(env.domain.project(x), jnp.clip(x, -radius, radius))
    else:
        assert env.domain == omd.ball(radius) and env.diameter == 2 * radius
        assert float(jnp.linalg.norm(env.domain.project(x))) == pytest.approx(radius)
    # a hand-built environment without a domain plays on the ball of its radius
    assert env._replace(domain=None).feasible_set == omd.ball(radius)
    # a box with per-coordinate bounds: the diagonal of those bounds
    lo, hi = -np.arange(1.0, d + 1), np.arange(1.0, d + 1)
    np.testing.assert_allclose(env._replace(domain=omd.box(lo, hi)).diameter,
                               np.linalg.norm(hi - lo), **IDENTITY.kw())


def test_absolute_implicit_update_has_bounded_regret_where_ogd_grows():
    """The f10 mechanism on a short run: with f_t fixed (s = 0) the exact implicit step lands
    on the kink and stays (regret = f_1(x_1)), while OGD's subgradient step oscillates."""
    d, R, T = 3, 1.0, 400
    env = sea.absolute(d, R)
    p = sea.sea_params(jnp.array([0.5, 0.0, 0.0]), horizon=T)
    D, G = env.diameter, np.sqrt(d)
    x1 = jnp.array([0.0, 0.0, R])
    key = jax.random.key(0)
    _, _, best = sea.prefix_best_fixed(env, p, key, T, 4)
    implicit = omd.implicit_omd(omd.sqrt_decay_step(D, G), env.round_loss,
                                projection=env.domain, hint="none", prox=env.round_prox)
    ogd = omd.ogd(omd.sqrt_decay_step(D, G), projection=env.domain)
    r_imp = np.asarray(sea.regret_curve(sea.play(implicit, env, p, x1, key, T)[2], best, 4))
    r_ogd = np.asarray(sea.regret_curve(sea.play(ogd, env, p, x1, key, T)[2], best, 4))
    np.testing.assert_allclose(r_imp, 1.5, **IDENTITY.kw())  # ‖x_1 − c‖₁, then zero loss
    assert r_ogd[-1] > 1.5 * r_ogd[0] > 10 * r_imp[0]
