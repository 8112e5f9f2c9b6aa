"""PGD, TRADES, PGD-AT and the smooth adversarial comp-sum loss, and bad inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrank.losses import adversarial as A
from jaxrank.losses import comp_sum_loss

W = jnp.asarray(np.random.default_rng(0).standard_normal((6, 4)))


def apply(params, x):
    return jnp.tanh(x) @ params


X = jnp.asarray(np.random.default_rng(1).uniform(0, 1, (8, 6)))
Y = jnp.asarray(np.random.default_rng(2).integers(0, 4, 8))
KEY = jax.random.key(0)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_stays_in_the_ball_and_box(norm):
    eps = 0.3
    for attack in (A.pgd_ce_attack, A.pgd_margin_attack):
        xa = attack(apply, W, X, Y, epsilon=eps, norm=norm, attack_steps=7,
                    attack_step_size=0.2, key=KEY, bounds=(0.0, 1.0))
        d = np.asarray(xa - X)
        size = np.abs(d).max(1) if norm == "linf" else np.linalg.norm(d, axis=1)
        assert np.all(size <= eps + 1e-12) and np.all((xa >= 0) & (xa <= 1))
        # the attack increases its objective over the clean point
        obj = (lambda z: comp_sum_loss(apply(W, z), Y, tau=1.0)) if attack is A.pgd_ce_attack \
            else (lambda z: A.margin_loss(apply(W, z), Y))
        assert float(jnp.sum(obj(xa))) > float(jnp.sum(obj(X)))
    zero = A.pgd_ce_attack(apply, W, X, Y, epsilon=0.0, norm=norm, attack_steps=3,
                           attack_step_size=0.1, key=KEY)
    np.testing.assert_allclose(zero, X, atol=1e-15)


def test_delta_distance_zero_at_x_and_shift_invariant():
    h = apply(W, X)
    assert np.allclose(A.comp_sum_delta_distance(h, h, Y), 0.0)
    h2 = apply(W, X + 0.1)
    base = A.comp_sum_delta_distance(h2, h, Y)
    np.testing.assert_allclose(A.comp_sum_delta_distance(h2 + 5.0, h, Y), base, rtol=1e-12)
    # finite gradient at x' = x (safe norm)
    g = jax.grad(lambda z: jnp.sum(A.comp_sum_delta_distance(z, h, Y)))(h)
    assert np.all(np.isfinite(g))


def test_lipschitz_upper_bound_for_tau_at_least_one():
    """ℓ_τ(h, x', y) ≤ ℓ_τ(h, x, y) + ‖Δ(x') − Δ(x)‖₂ for τ ≥ 1 (Lipschitz constant ≤ 1)."""
    rng = np.random.default_rng(3)
    h = jnp.asarray(rng.standard_normal((500, 5)) * 3)
    h2 = h + jnp.asarray(rng.standard_normal((500, 5)))
    y = jnp.asarray(rng.integers(0, 5, 500))
    d = A.comp_sum_delta_distance(h2, h, y)
    for tau in (1.0, 1.5, 2.0):
        lhs = comp_sum_loss(h2, y, tau=tau)
        assert np.all(np.asarray(lhs) <= np.asarray(comp_sum_loss(h, y, tau=tau) + d) + 1e-12)


@pytest.mark.slow  # several PGD compilations: 58 s measured at load average 25
def test_smooth_adversarial_loss_upper_bounds_plain_and_adversarial_loss():
    for tau in (1.0, 1.5):
        kw = dict(tau=tau, epsilon=0.2, norm="linf", attack_steps=5, attack_step_size=0.1, key=KEY)
        sm = A.smooth_adversarial_comp_sum_loss(apply, W, X, Y, nu=1.0, **kw)
        plain = comp_sum_loss(apply(W, X), Y, tau=tau)
        assert np.all(np.asarray(sm) >= np.asarray(plain) - 1e-12)
        # ν ≥ 1 upper-bounds ℓ_τ at any x' in the ball, e.g. the PGD-CE point
        xa = A.pgd_ce_attack(apply, W, X, Y, epsilon=0.2, norm="linf", attack_steps=5,
                             attack_step_size=0.1, key=KEY)
        adv = comp_sum_loss(apply(W, xa), Y, tau=tau)
        dist = A.comp_sum_delta_distance(apply(W, xa), apply(W, X), Y)
        assert np.all(np.asarray(adv) <= np.asarray(plain + dist) + 1e-12)
        nu0 = A.smooth_adversarial_comp_sum_loss(apply, W, X, Y, nu=0.0, **kw)
        np.testing.assert_allclose(nu0, plain, rtol=1e-12)
        g = jax.grad(lambda p, kw=kw: jnp.mean(A.smooth_adversarial_comp_sum_loss(
            apply, p, X, Y, nu=1.0, **kw)))(W)
        assert np.all(np.isfinite(g))


def test_trades_and_pgd_at_reduce_to_ce_at_zero_radius():
    ce = comp_sum_loss(apply(W, X), Y, tau=1.0)
    kw = dict(epsilon=0.0, norm="linf", attack_steps=2, attack_step_size=0.1, key=KEY)
    np.testing.assert_allclose(A.pgd_at_loss(apply, W, X, Y, **kw), ce, rtol=1e-12)
    # TRADES at ε = 0: x' = x, KL = 0
    np.testing.assert_allclose(A.trades_loss(apply, W, X, Y, beta=6.0, **kw), ce, rtol=1e-10,
                               atol=1e-12)
    t = A.trades_loss(apply, W, X, Y, beta=6.0, epsilon=0.3, norm="l2", attack_steps=3,
                      attack_step_size=0.1, key=KEY)
    assert np.all(np.asarray(t) >= np.asarray(ce) - 1e-12)


def test_robust_accuracy_le_clean_accuracy():
    clean = float(jnp.mean(jnp.argmax(apply(W, X), -1) == Y))
    for obj in ("ce", "margin"):
        r = float(A.robust_accuracy(apply, W, X, Y, epsilon=0.3, norm="linf", attack_steps=10,
                                    attack_step_size=0.05, key=KEY, objective=obj))
        assert 0 <= r <= clean


def test_bad_inputs():
    kw = dict(tau=1.0, nu=1.0, norm="linf", attack_steps=2, attack_step_size=0.1, key=KEY)
    with pytest.raises(ValueError, match=r"epsilon=...\)` must be a non-negative"):
        A.smooth_adversarial_comp_sum_loss(apply, W, X, Y, epsilon=-0.1, **kw)
    with pytest.raises(ValueError, match=r"norm=...\)` must be one of"):
        A.smooth_adversarial_comp_sum_loss(apply, W, X, Y, epsilon=0.1,
                                           **{**kw, "norm": "l1"})
    with pytest.raises(ValueError, match=r"tau=...\)` must lie in \[0, 2\]"):
        A.smooth_adversarial_comp_sum_loss(apply, W, X, Y, epsilon=0.1, **{**kw, "tau": 3.0})
    with pytest.raises(ValueError, match=r"nu=...\)` must be a non-negative"):
        A.smooth_adversarial_comp_sum_loss(apply, W, X, Y, epsilon=0.1, **{**kw, "nu": -1.0})
    with pytest.raises(TypeError, match=r"attack_steps=...\)` must be a positive int"):
        A.trades_loss(apply, W, X, Y, beta=1.0, epsilon=0.1, norm="linf", attack_steps=1.5,
                      attack_step_size=0.1, key=KEY)
    with pytest.raises(ValueError, match="must be a batch"):
        A.pgd_at_loss(apply, W, X, Y[:3], epsilon=0.1, norm="linf", attack_steps=1,
                      attack_step_size=0.1, key=KEY)
    with pytest.raises(ValueError, match=r"objective=...\)` must be one of"):
        A.robust_accuracy(apply, W, X, Y, epsilon=0.1, norm="linf", attack_steps=1,
                          attack_step_size=0.1, objective="kl")


# --- the smooth term against independent references (E2 collapse audit, session 3) ----------


def test_delta_distance_matches_the_explicit_off_target_vector():
    """Δ_h(x, y) = (h(x, y') − h(x, y))_{y'≠y} built by deleting the target column."""
    rng = np.random.default_rng(4)
    h, h2 = rng.standard_normal((2, 7, 5)) * 3
    y = rng.integers(0, 5, 7)
    ref = []
    for i in range(7):
        others = [k for k in range(5) if k != y[i]]
        d1, d0 = h2[i, others] - h2[i, y[i]], h[i, others] - h[i, y[i]]
        ref.append(np.linalg.norm(d1 - d0))
    got = A.comp_sum_delta_distance(jnp.asarray(h2), jnp.asarray(h), jnp.asarray(y))
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def _linear(params, z):
    return z @ params


def _smooth_term(params, x, y, nu=1.0, **kw):
    """ν sup_{x'} ‖Δ(x') − Δ(x)‖₂ as the loss computes it (ℓ̃_τ − ℓ_τ), one jitted call."""

    @jax.jit
    def term(p, x, y, nu):
        sm = A.smooth_adversarial_comp_sum_loss(_linear, p, x, y, tau=1.0, nu=nu, key=KEY, **kw)
        return sm - comp_sum_loss(_linear(p, x), y, tau=1.0)

    return term(params, x, y, nu)


def test_smooth_term_reaches_the_closed_form_sup_linf_binary():
    """n = 2, h(x) = Wᵀx: Δ(x') − Δ(x) = (w_o − w_y)ᵀδ, so the ℓ∞ sup is ε‖w_o − w_y‖₁ exactly
    (ball, no box). Checks the ball, the sign step and that ν multiplies the sup."""
    rng = np.random.default_rng(5)
    w = jnp.asarray(rng.standard_normal((6, 2)))
    x = jnp.asarray(rng.uniform(0, 1, (9, 6)))
    y = jnp.asarray(rng.integers(0, 2, 9))
    eps, nu = 0.07, 2.5
    got = _smooth_term(w, x, y, nu=nu, epsilon=eps, norm="linf", attack_steps=10,
                       attack_step_size=2.5 * eps / 10)
    ref = nu * eps * np.abs(np.asarray(w[:, 1] - w[:, 0])).sum()
    np.testing.assert_allclose(got, np.full(9, ref), rtol=1e-10)


def test_smooth_term_reaches_the_top_singular_value_l2():
    """n = 4, ℓ2 ball: sup_δ ‖A_y δ‖₂ = ε σ_max(A_y), A_y = Wᵀ − 1 w_yᵀ (PGD with step ε is a
    shifted power iteration on A_yᵀA_y)."""
    rng = np.random.default_rng(6)
    w = jnp.asarray(rng.standard_normal((5, 4)))
    x = jnp.asarray(rng.uniform(0, 1, (6, 5)))
    y = jnp.asarray(rng.integers(0, 4, 6))
    eps = 0.3
    got = _smooth_term(w, x, y, epsilon=eps, norm="l2", attack_steps=300, attack_step_size=eps)
    wt = np.asarray(w).T
    ref = [eps * np.linalg.norm(wt - wt[int(k)], 2) for k in np.asarray(y)]
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_smooth_loss_gradient_matches_finite_differences():
    """The training gradient flows through h(x) and h(x') (Danskin at the exact sup): central
    differences of the whole loss, PGD included, agree with jax.grad (n = 2, ℓ∞, linear)."""
    rng = np.random.default_rng(7)
    w = jnp.asarray(rng.standard_normal((4, 2)))
    x = jnp.asarray(rng.uniform(0, 1, (5, 4)))
    y = jnp.asarray(rng.integers(0, 2, 5))
    kw = dict(tau=1.0, nu=3.0, epsilon=0.1, norm="linf", attack_steps=5, attack_step_size=0.05,
              key=KEY)

    def f(p):
        return jnp.mean(A.smooth_adversarial_comp_sum_loss(_linear, p, x, y, **kw))

    g = np.asarray(jax.jit(jax.grad(f))(w))
    h = 1e-6
    steps = h * np.eye(g.size).reshape((g.size,) + g.shape)
    vals = np.asarray(jax.jit(jax.vmap(f))(jnp.concatenate([w[None] + steps, w[None] - steps])))
    fd = ((vals[: g.size] - vals[g.size:]) / (2 * h)).reshape(g.shape)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
