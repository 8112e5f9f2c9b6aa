"""Identities of the comp-sum loss family, T_τ/Γ_τ and C*_τ, and bad inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.test_util import check_grads

from jaxrank.losses import (
    bounded_conditional_min_loss,
    comp_sum_bound,
    comp_sum_bound_inverse,
    comp_sum_bound_inverse_sqrt,
    comp_sum_loss,
    comp_sum_phi,
    conditional_comp_sum_risk,
    conditional_min_loss,
    conditional_minimizer,
    excess_zero_one_risk,
    generalized_cross_entropy_loss,
    logistic_loss,
    mae_loss,
    minimizability_gap,
    sum_exp_loss,
)
from jaxrank.losses import comp_sum as C
from tests._tolerances import IDENTITY, IDENTITY_F32, NUMERICAL

TAUS = (0.0, 0.5, 1.0, 1.5, 1.9, 2.0)


def _data(seed=0, m=7, n=5, scale=2.0):
    rng = np.random.default_rng(seed)
    return jnp.asarray(scale * rng.standard_normal((m, n))), jnp.asarray(rng.integers(0, n, m))


def _probs(seed, m, n):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.dirichlet(np.full(n, 0.7), size=m))


# --------------------------------------------------------------------------- the loss


def test_tau1_equals_optax_softmax_cross_entropy():
    h, y = _data()
    ref = optax.softmax_cross_entropy_with_integer_labels(h, y)
    np.testing.assert_allclose(comp_sum_loss(h, y, tau=1.0), ref, **IDENTITY.kw())
    np.testing.assert_allclose(logistic_loss(h, y), ref, **IDENTITY.kw())


def test_tau1_is_optax_bit_for_bit_in_float32():
    """Performance v2 pins: τ = 1 is optax's loss exactly (value and gradient, float32), and the
    optax-delegated −log p_y agrees with the former log_softmax form at float32 rounding."""
    rng = np.random.default_rng(3)
    h = jnp.asarray(rng.standard_normal((64, 10)) * 3, jnp.float32)
    y = jnp.asarray(rng.integers(0, 10, 64), jnp.int32)

    def mean_of(fn):
        return jax.value_and_grad(lambda z: jnp.mean(fn(z, y)))(h)

    v, g = mean_of(lambda z, t: comp_sum_loss(z, t, tau=1.0))
    v_ref, g_ref = mean_of(optax.softmax_cross_entropy_with_integer_labels)
    assert v == v_ref
    np.testing.assert_array_equal(g, g_ref)

    def old_form(z, t, tau):  # the pre-v2 implementation: −log_softmax at y
        lsm = jax.nn.log_softmax(z, axis=-1)
        s = jnp.maximum(-jnp.take_along_axis(lsm, t[:, None], axis=-1)[:, 0], 0)
        return C._tempered(s, jnp.asarray(tau, s.dtype))

    for tau in (0.0, 0.5, 1.0, 1.5, 2.0):
        v, g = mean_of(lambda z, t, tau=tau: comp_sum_loss(z, t, tau=tau))
        v_old, g_old = mean_of(lambda z, t, tau=tau: old_form(z, t, tau))
        np.testing.assert_allclose(v, v_old, **IDENTITY_F32.kw())
        np.testing.assert_allclose(g, g_old, **IDENTITY_F32.kw())


def test_special_members_closed_forms():
    h, y = _data(1)
    p = jax.nn.softmax(h)
    p_y = p[jnp.arange(len(y)), y]
    onehot = jax.nn.one_hot(y, h.shape[1])
    sum_exp = jnp.sum(jnp.exp(h - jnp.sum(h * onehot, 1, keepdims=True)) * (1 - onehot), 1)
    np.testing.assert_allclose(sum_exp_loss(h, y), sum_exp, **IDENTITY.kw())
    np.testing.assert_allclose(sum_exp_loss(h, y), 1 / p_y - 1, **IDENTITY.kw())
    np.testing.assert_allclose(mae_loss(h, y), 1 - p_y, **IDENTITY.kw())
    for q in (0.1, 0.5, 0.7, 1.0):
        np.testing.assert_allclose(generalized_cross_entropy_loss(h, y, q=q),
                                   (1 - p_y**q) / q, **IDENTITY.kw())
    for tau in (0.3, 0.5, 1.5):
        np.testing.assert_allclose(comp_sum_loss(h, y, tau=tau),
                                   (p_y ** (tau - 1) - 1) / (1 - tau), **IDENTITY.kw())


def test_phi_definition_and_loss_through_phi():
    h, y = _data(2)
    onehot = jax.nn.one_hot(y, h.shape[1])
    u = jnp.sum(jnp.exp(h - jnp.sum(h * onehot, 1, keepdims=True)) * (1 - onehot), 1)
    for tau in TAUS:
        phi = jnp.log1p(u) if tau == 1 else ((1 + u) ** (1 - tau) - 1) / (1 - tau)
        np.testing.assert_allclose(comp_sum_phi(u, tau=tau), phi, **IDENTITY.kw())
        np.testing.assert_allclose(comp_sum_loss(h, y, tau=tau), phi, **IDENTITY.kw())
    assert all(float(comp_sum_phi(jnp.zeros(()), tau=t)) == 0 for t in TAUS)


def test_continuity_at_tau_one():
    h, y = _data(3)
    base = comp_sum_loss(h, y, tau=1.0)
    for d in (1e-4, -1e-4, 1e-8, -1e-8):
        np.testing.assert_allclose(comp_sum_loss(h, y, tau=1 + d), base, rtol=1e-3 * abs(d) / 1e-4
                                   + 1e-12)


def test_monotone_non_increasing_in_tau():
    h, y = _data(4, m=50, n=8, scale=3.0)
    taus = jnp.linspace(0.0, 2.0, 41)
    vals = jax.vmap(lambda t: comp_sum_loss(h, y, tau=t))(taus)
    assert np.all(np.diff(np.asarray(vals), axis=0) <= 1e-12)


_GRAD = jax.jit(jax.grad(lambda z, y, t: jnp.sum(comp_sum_loss(z, y, tau=t))))


def test_gradient_closed_form_and_check_grads():
    h, y = _data(5)
    p = jax.nn.softmax(h)
    onehot = jax.nn.one_hot(y, h.shape[1])
    p_y = p[jnp.arange(len(y)), y]
    for tau in TAUS:
        g = _GRAD(h, y, tau)
        np.testing.assert_allclose(g, p_y[:, None] ** (tau - 1) * (p - onehot), **IDENTITY.kw())
    f = jax.jit(lambda z, t: comp_sum_loss(z, y, tau=t))
    for tau in (0.0, 1.0, 1.5):  # finite differences, both modes, second order in h
        check_grads(lambda z, t=tau: f(z, t), (h,), order=2, modes=("fwd", "rev"))
    # gradient in τ (custom JVP) against finite differences, including near τ = 1
    for tau in (0.3, 1.0 + 1e-6, 1.5):
        check_grads(lambda t: f(h, t), (jnp.asarray(tau),), order=1)


def test_huge_logits_are_finite_and_correct():
    y = jnp.array([0, 1])
    for dtype, tol in ((jnp.float32, IDENTITY_F32), (jnp.float64, IDENTITY)):
        h = jnp.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0]], dtype)
        for tau in (1.0, 1.5, 2.0):
            v = comp_sum_loss(h, y, tau=tau)
            g = _GRAD(h, y, tau)
            assert v.dtype == dtype and np.all(np.isfinite(v)) and np.all(np.isfinite(g))
            s = 2e4  # −log p_y of the second row
            want = s if tau == 1 else (np.exp((1 - tau) * s) - 1) / (1 - tau)
            np.testing.assert_allclose(v, [0.0, want], rtol=tol.rtol, atol=tol.atol)
        # τ < 1 on the correctly classified row: finite, ≈ 0, exact gradient ≈ 0
        v0 = comp_sum_loss(h[:1], y[:1], tau=0.0)
        assert np.isfinite(v0).all() and float(v0[0]) == pytest.approx(0.0, abs=1e-30)
    # zero logits: finite, exact uniform values
    z = jnp.zeros((1, 4))
    np.testing.assert_allclose(sum_exp_loss(z, jnp.array([2])), [3.0], **IDENTITY.kw())


def test_axis_and_vmapped_tau():
    h, y = _data(6)
    np.testing.assert_allclose(comp_sum_loss(h.T, y, tau=0.5, axis=0),
                               comp_sum_loss(h, y, tau=0.5), **IDENTITY.kw())
    taus = jnp.array([0.0, 1.0, 2.0])
    out = jax.jit(jax.vmap(lambda t: comp_sum_loss(h, y, tau=t)))(taus)
    for i, t in enumerate((0.0, 1.0, 2.0)):
        np.testing.assert_allclose(out[i], comp_sum_loss(h, y, tau=t), **IDENTITY.kw())
    assert comp_sum_loss(h.astype(jnp.float32), y, tau=0.5).dtype == jnp.float32


@pytest.mark.parametrize("bad", [-0.1, 2.5, float("nan")])
def test_bad_tau(bad):
    h, y = _data()
    with pytest.raises(ValueError, match=r"comp_sum_loss\(tau=...\)` must lie in \[0, 2\]"):
        comp_sum_loss(h, y, tau=bad)
    with pytest.raises(ValueError, match=r"comp_sum_bound\(tau=...\)"):
        comp_sum_bound(0.5, tau=bad, num_classes=3)


def test_bad_labels_and_shapes():
    h, y = _data()
    with pytest.raises(ValueError, match=r"labels=...\)` must lie in \[0, 4\]"):
        comp_sum_loss(h, y.at[0].set(5), tau=1.0)
    with pytest.raises(ValueError, match=r"labels=...\)` must lie in"):
        comp_sum_loss(h, y.at[0].set(-1), tau=1.0)
    with pytest.raises(ValueError, match=r"must have shape \(7,\)"):
        comp_sum_loss(h, y[:3], tau=1.0)
    with pytest.raises(TypeError, match="integer class indices"):
        comp_sum_loss(h, y.astype(float), tau=1.0)
    with pytest.raises(ValueError, match=r"q=...\)` must lie in \[0, 1\]"):
        generalized_cross_entropy_loss(h, y, q=1.5)
    with pytest.raises(ValueError, match=r"num_classes=...\)` must be a number of classes"):
        comp_sum_bound(0.5, tau=1.0, num_classes=1)
    with pytest.raises(ValueError, match=r"t=...\)` must lie in \[0, 1\]"):
        comp_sum_bound(1.5, tau=1.0, num_classes=3)
    with pytest.raises(ValueError, match=r"eps=...\)` must be a non-negative"):
        comp_sum_bound_inverse(-0.1, tau=1.0, num_classes=3)


# --------------------------------------------------------------------------- T_τ and Γ_τ

T = jnp.linspace(0.0, 1.0, 201)


def test_bound_closed_forms_and_limits():
    np.testing.assert_allclose(comp_sum_bound(T, tau=0.0, num_classes=7), 1 - jnp.sqrt(1 - T**2),
                               **IDENTITY.kw())
    one = 0.5 * ((1 + T) * jnp.log1p(T) + jnp.where(T < 1, (1 - T) * jnp.log1p(-T), 0.0))
    np.testing.assert_allclose(comp_sum_bound(T, tau=1.0, num_classes=7), one, **IDENTITY.kw())
    np.testing.assert_allclose(comp_sum_bound(T, tau=2.0, num_classes=7), T / 7, **IDENTITY.kw())
    for n in (2, 10, 100):
        for tau in TAUS:
            v = np.asarray(comp_sum_bound(T, tau=tau, num_classes=n))
            assert v[0] == 0 and np.all(np.diff(v) > 0), (n, tau)  # T(0)=0, increasing
        at1 = comp_sum_bound(T, tau=1.0, num_classes=n)
        for d in (1e-3, -1e-3):  # continuity at τ → 1±: |ΔT| = O(|τ − 1|)
            np.testing.assert_allclose(comp_sum_bound(T, tau=1 + d, num_classes=n), at1,
                                       rtol=5e-3, atol=1e-9)
        # τ → 2⁻ at rate O(2 − τ): power-mean error log(2)(2 − τ) and prefactor n^{2−τ}/(τ − 1)
        np.testing.assert_allclose(comp_sum_bound(T, tau=2 - 1e-3, num_classes=n), T / n,
                                   rtol=0, atol=5e-3 / n)


def test_square_root_lower_bounds():
    for n in (2, 10, 100):
        for tau in np.linspace(0, 1.99, 30):
            v = comp_sum_bound(T, tau=tau, num_classes=n)
            q = T**2 / (2**tau * (2 - tau)) if tau < 1 else T**2 / (2 * n ** (tau - 1))
            assert np.all(np.asarray(v) >= np.asarray(q) - 1e-12), (n, tau)
            eps = v[::20]
            g, s = (comp_sum_bound_inverse(eps, tau=tau, num_classes=n),
                    comp_sum_bound_inverse_sqrt(eps, tau=tau, num_classes=n))
            assert np.all(np.asarray(g) <= np.asarray(s) + 1e-9)


def test_inverse_round_trip():
    for n in (2, 10, 100):
        for tau in TAUS:
            eps = comp_sum_bound(T, tau=tau, num_classes=n)
            np.testing.assert_allclose(comp_sum_bound_inverse(eps, tau=tau, num_classes=n), T,
                                       **NUMERICAL.kw())
    big = comp_sum_bound_inverse(jnp.asarray(10.0), tau=1.0, num_classes=3)
    assert float(big) == 1.0


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_pointwise_calibration_inequality(n):
    """T_τ(ΔC_{0-1}(h, x)) ≤ ΔC_τ(h, x) on random p ∈ Δ_n and scores h; tight for n = 2."""
    rng = np.random.default_rng(n)
    m = 3000
    p = jnp.asarray(rng.dirichlet(np.full(n, 0.5), size=m))
    h = jnp.asarray(rng.standard_normal((m, n)) * rng.choice([0.3, 1.0, 4.0], size=(m, 1)))
    dz = excess_zero_one_risk(h, p)
    ratios = []
    for tau in TAUS:
        dc = conditional_comp_sum_risk(h, p, tau=tau) - conditional_min_loss(p, tau=tau)
        assert np.all(np.asarray(dc) >= -1e-12)
        t = comp_sum_bound(dz, tau=tau, num_classes=n)
        assert np.all(np.asarray(t) <= np.asarray(dc) + 1e-10), tau
        ok = np.asarray(dz) > 0.05
        ratios.append(float(np.max(np.asarray(t)[ok] / np.asarray(dc)[ok])))
    if n == 2:  # tight in the binary case: some draw reaches T ≈ ΔC for τ ≤ 1
        assert max(ratios[:3]) > 0.9


@jax.jit
def _lbfgs_min(p, tau):
    """200 L-BFGS steps on Σ_rows C_τ(z, p) from z = 0 (one compilation for every τ)."""
    def fun(z):
        return jnp.sum(conditional_comp_sum_risk(z, p, tau=tau))

    opt = optax.lbfgs()
    vg = optax.value_and_grad_from_state(fun)

    def body(_, carry):
        z, state = carry
        v, g = vg(z, state=state)
        u, state = opt.update(g, state, z, value=v, grad=g, value_fn=fun)
        return optax.apply_updates(z, u), state

    z0 = jnp.zeros_like(p)
    return jax.lax.fori_loop(0, 200, body, (z0, opt.init(z0)))[0]


@pytest.mark.slow  # a faster sibling stays in the default suite (10-min budget)
def test_conditional_min_loss_is_the_minimum():
    """C*_τ = min_h C_τ(h): the closed-form minimiser attains it; L-BFGS cannot beat it."""
    p = _probs(7, 4, 5)
    for tau in (0.0, 0.5, 1.0, 1.5):
        q = conditional_minimizer(p, tau=tau)
        np.testing.assert_allclose(q, p ** (1 / (2 - tau)) / jnp.sum(p ** (1 / (2 - tau)), -1,
                                                                       keepdims=True),
                                   **IDENTITY.kw())
        at_q = conditional_comp_sum_risk(jnp.log(q), p, tau=tau)
        cstar = conditional_min_loss(p, tau=tau)
        np.testing.assert_allclose(at_q, cstar, **IDENTITY.kw())
        # an independent numerical minimisation (L-BFGS from zero logits) reaches C* from above
        z = _lbfgs_min(p, jnp.asarray(tau))
        got = conditional_comp_sum_risk(z, p, tau=tau)
        assert np.all(np.asarray(got) >= np.asarray(cstar) - 1e-10)
        np.testing.assert_allclose(got, cstar, rtol=1e-5, atol=1e-7)  # L-BFGS convergence


@pytest.mark.slow  # compile-bound (~10 s on 2 cores); `make test-all` runs it
def test_conditional_min_loss_special_values():
    p = _probs(8, 6, 4)
    ent = -jnp.sum(p * jnp.log(p), -1)
    np.testing.assert_allclose(conditional_min_loss(p, tau=1.0), ent, **IDENTITY.kw())
    np.testing.assert_allclose(conditional_min_loss(p, tau=2.0), 1 - p.max(-1), **IDENTITY.kw())
    np.testing.assert_allclose(conditional_min_loss(p, tau=1 + 1e-5), ent, rtol=1e-4)
    np.testing.assert_allclose(conditional_min_loss(p, tau=2 - 1e-4), 1 - p.max(-1), rtol=1e-2)
    # non-increasing in τ
    taus = jnp.linspace(0, 2, 21)
    vals = np.asarray(jax.vmap(lambda t: conditional_min_loss(p, tau=t))(taus))
    assert np.all(np.diff(vals, axis=0) <= 1e-12)
    # deterministic p: zero for every τ
    assert np.allclose(conditional_min_loss(jnp.eye(3), tau=0.5), 0.0)


def test_bounded_conditional_min_loss():
    """Box [−Λ, Λ]^n, one-hot p: minimum at h = Λ e_y − Λ (1 − e_y); compare with a grid search."""
    n, lam = 3, 0.7
    for tau in (0.0, 1.0, 1.7):
        want = bounded_conditional_min_loss(tau=tau, num_classes=n, bound=lam)
        grid = jnp.linspace(-lam, lam, 15)
        hs = jnp.stack(jnp.meshgrid(grid, grid, grid, indexing="ij"), -1).reshape(-1, n)
        vals = comp_sum_loss(hs, jnp.zeros(len(hs), int), tau=tau)
        np.testing.assert_allclose(vals.min(), want, **IDENTITY.kw())
    np.testing.assert_allclose(bounded_conditional_min_loss(tau=2.0, num_classes=n, bound=0.0),
                               1 - 1 / n, **IDENTITY.kw())
    np.testing.assert_allclose(minimizability_gap(1.0, jnp.array([0.25, 0.75])), 0.5)
    with pytest.raises(ValueError, match=r"bound=...\)` must be a non-negative"):
        bounded_conditional_min_loss(tau=1.0, num_classes=3, bound=-1.0)


def test_cut_constants_cover_dtypes():
    assert C._cut(jnp.float64) < C._cut(jnp.float32)
