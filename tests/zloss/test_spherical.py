"""Identities of the spherical family and the Z-loss (invariances, gradients, limits), the
ranking scores of each loss, and bad inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrank.losses import spherical as S
from tests._tolerances import IDENTITY, IDENTITY_F32, NUMERICAL

D = 12
RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _fresh_rng():
    """Each test draws from a fresh ``RNG``, whatever ran before it in the same worker."""
    global RNG
    RNG = np.random.default_rng(0)
O = jnp.asarray(RNG.normal(size=(6, D)) * 2.0)
C = jnp.asarray(RNG.integers(0, D, 6))
HYPER = {"z_loss": {"a": 1.7, "b": 1.3}, "log_spherical_softmax": {"eps": 0.05},
         "log_taylor_softmax": {}, "squared_error": {}}


def z_ref(o, c, a, b):
    """NumPy float64 reference: μ, σ, z_c and softplus, written from the paper's formulas."""
    o = np.asarray(o, float)
    mu = o.mean(-1)
    sigma = np.sqrt((o**2).mean(-1) - mu**2)
    zc = (o[np.arange(len(c)), c] - mu) / sigma
    return np.logaddexp(0, a * (b - zc)) / a, zc, mu, sigma


def test_z_loss_matches_numpy_reference():
    ref, *_ = z_ref(O, np.asarray(C), 1.7, 1.3)
    np.testing.assert_allclose(S.z_loss(O, C, a=1.7, b=1.3), ref, **IDENTITY.kw())


@pytest.mark.parametrize("lam,kappa", [(1.0, 5.0), (3.0, 0.0), (0.01, -7.0), (250.0, 1e3)])
def test_z_loss_shift_and_scale_invariant(lam, kappa):
    np.testing.assert_allclose(S.z_loss(lam * O + kappa, C, a=2.0, b=1.0),
                               S.z_loss(O, C, a=2.0, b=1.0), **IDENTITY.kw())


def test_negative_scale_flips_ranking():
    z = S.z_scores(O)
    np.testing.assert_allclose(S.z_scores(-2.0 * O), -z, **IDENTITY.kw())


def test_log_softmax_shift_but_not_scale_invariant():
    ref = optax.softmax_cross_entropy_with_integer_labels(O, C)
    np.testing.assert_allclose(S.log_softmax_loss(O, C), ref, **IDENTITY.kw())
    np.testing.assert_allclose(S.log_softmax_loss(O + 4.0, C), ref, **IDENTITY.kw())
    assert np.max(np.abs(S.log_softmax_loss(3.0 * O, C) - ref)) > 0.1


def test_axis_argument():
    np.testing.assert_allclose(S.z_loss(O.T, C, axis=0), S.z_loss(O, C), **IDENTITY.kw())
    np.testing.assert_allclose(S.log_taylor_softmax_loss(O.T, C, axis=0),
                               S.log_taylor_softmax_loss(O, C), **IDENTITY.kw())


def test_z_loss_gradient_closed_form():
    a, b = 1.7, 1.3
    _, zc, mu, sigma = z_ref(O, np.asarray(C), a, b)
    kappa = 1 / (1 + np.exp(-a * (b - zc)))
    alpha = kappa / (D * sigma) * (1 - zc * mu / sigma)
    beta = kappa * zc / (D * sigma**2)
    gamma = -kappa / sigma
    expect = (alpha[:, None] + beta[:, None] * np.asarray(O)
              + gamma[:, None] * np.eye(D)[np.asarray(C)])
    grad = jax.grad(lambda o: S.z_loss(o, C, a=a, b=b).sum())(O)
    np.testing.assert_allclose(grad, expect, **IDENTITY.kw())
    # shift invariance: Σ_k ∂L/∂o_k = 0; scale invariance (Euler): o·∂L/∂o = 0
    np.testing.assert_allclose(grad.sum(-1), 0, atol=1e-12)
    np.testing.assert_allclose(jnp.sum(grad * O, -1), 0, atol=1e-12)
    # the statistics route gives the same (α, β, γ)
    s, q, oc = S.spherical_stats(O, C)
    _, al, be, ga = S.spherical_coefficients(S.spherical_stats_loss("z_loss", a=a, b=b),
                                             s, q, oc, D)
    for got, want in ((al, alpha), (be, beta), (ga, gamma)):
        np.testing.assert_allclose(got, want, rtol=NUMERICAL.rtol, atol=NUMERICAL.atol)


@pytest.mark.slow  # a faster sibling stays in the default suite (10-min budget)
def test_z_loss_gradient_finite_differences():
    from jax.test_util import check_grads

    check_grads(lambda o: S.z_loss(o, C, a=0.7, b=2.0), (O,), order=2, modes=("rev",))


@pytest.mark.parametrize("name", S.SPHERICAL_LOSSES)
def test_stats_form_equals_direct_formula(name):
    F = S.spherical_stats_loss(name, **HYPER[name])
    s, q, oc = S.spherical_stats(O, C)
    direct = S.spherical_loss(name, **HYPER[name])(O, C)
    np.testing.assert_allclose(F(s, q, oc, D), direct, **IDENTITY.kw())


@pytest.mark.parametrize("name", S.SPHERICAL_LOSSES)
def test_gradient_structure_alpha_beta_gamma(name):
    """∂L/∂o = α1 + βo + γe_c with (α, β, γ) from the statistics (official grad_o)."""
    F = S.spherical_stats_loss(name, **HYPER[name])
    grad = jax.grad(lambda o: S.spherical_loss(name, **HYPER[name])(o, C).sum())(O)
    _, al, be, ga = S.spherical_coefficients(F, *S.spherical_stats(O, C), D)
    rebuilt = al[:, None] + be[:, None] * O + ga[:, None] * jax.nn.one_hot(C, D)
    np.testing.assert_allclose(grad, rebuilt, rtol=NUMERICAL.rtol, atol=NUMERICAL.atol)


def test_squared_error_matches_optax_l2():
    ref = 2 * optax.l2_loss(O, jax.nn.one_hot(C, D)).sum(-1)
    np.testing.assert_allclose(S.squared_error_loss(O, C), ref, **IDENTITY.kw())


def test_taylor_probabilities_positive_and_normalised():
    t = 1 + O + O**2 / 2
    assert np.all(t >= 0.5)
    p = jnp.exp(-S.log_taylor_softmax_loss(
        jnp.repeat(O, D, 0), jnp.tile(jnp.arange(D), O.shape[0]))).reshape(O.shape[0], D)
    np.testing.assert_allclose(p.sum(-1), 1.0, **IDENTITY.kw())


def test_spherical_softmax_probabilities_normalised():
    p = jnp.exp(-S.log_spherical_softmax_loss(
        jnp.repeat(O, D, 0), jnp.tile(jnp.arange(D), O.shape[0]), eps=0.3)).reshape(-1, D)
    np.testing.assert_allclose(p.sum(-1), 1.0, **IDENTITY.kw())


def test_hinge_limit_large_a():
    b = 0.8
    _, zc, *_ = z_ref(O, np.asarray(C), 1.0, b)
    hinge = np.maximum(0, b - zc)
    got = S.z_loss(O, C, a=1e6, b=b)
    np.testing.assert_allclose(got, hinge, atol=1e-6)  # softplus(a x)/a - relu(x) ≤ log2/a
    assert np.max(np.abs(S.z_loss(O, C, a=10.0, b=b) - hinge)) > 1e-3  # not yet at a = 10


def test_max_z_is_sqrt_d_minus_one_at_one_hot():
    c = jnp.array([3])
    z = S.z_scores(jax.nn.one_hot(c, D))[0, 3]
    np.testing.assert_allclose(z, np.sqrt(D - 1), **IDENTITY.kw())
    z_rand = S.z_scores(jnp.asarray(RNG.normal(size=(2000, D))))
    assert float(jnp.max(jnp.abs(z_rand))) <= np.sqrt(D - 1) * (1 + 1e-12)
    # the minimum loss
    np.testing.assert_allclose(S.z_loss(jax.nn.one_hot(c, D), c, a=2.0, b=1.0),
                               np.logaddexp(0, 2.0 * (1.0 - np.sqrt(D - 1))) / 2.0,
                               **IDENTITY.kw())


def test_cantelli_rank_bound():
    o = jnp.asarray(RNG.standard_t(3, size=(5000, 40)))
    c = jnp.asarray(RNG.integers(0, 40, 5000))
    z = S.z_scores(o)[jnp.arange(5000), c]
    rank = 1 + jnp.sum(o > o[jnp.arange(5000), c][:, None], -1)
    pos = z > 0
    assert int(pos.sum()) > 1000
    assert bool(jnp.all(jnp.where(pos, rank <= 40 / (1 + z**2) + 1e-9, True)))


def test_equal_logits_finite_with_zero_gradient():
    o = jnp.full((2, 5), 3.0)
    c = jnp.array([0, 4])
    loss = S.z_loss(o, c, a=2.0, b=1.0)
    np.testing.assert_allclose(loss, np.logaddexp(0, 2.0) / 2.0, **IDENTITY.kw())
    g = jax.jit(jax.grad(lambda x: S.z_loss(x, c).sum()))(o)
    assert np.all(np.isfinite(g)) and np.all(g == 0)
    F = S.spherical_stats_loss("z_loss", a=2.0, b=1.0)
    out = jax.jit(lambda x: S.spherical_coefficients(F, *S.spherical_stats(x, c), 5))(o)
    assert all(np.all(np.isfinite(x)) for x in out)


def test_huge_logits_finite_and_correct():
    o = jnp.array([[1e4, 0.0, -1e4, 5.0]])
    c = jnp.array([0])
    small = S.z_loss(o / 1e4, c)
    np.testing.assert_allclose(S.z_loss(o, c), small, **IDENTITY.kw())
    for f32 in (True, False):
        x = o.astype(jnp.float32) if f32 else o
        for name in ("z_loss", "log_softmax", "log_taylor_softmax", "log_spherical_softmax"):
            val, g = jax.jit(jax.value_and_grad(
                lambda y, name=name: S.spherical_loss(name)(y, c).sum()))(x)
            assert np.all(np.isfinite(val)) and np.all(np.isfinite(g)), name
    np.testing.assert_allclose(S.z_loss(o.astype(jnp.float32), c), small, **IDENTITY_F32.kw())


def test_float32_preserved():
    o32 = O.astype(jnp.float32)
    for name in (*S.SPHERICAL_LOSSES, "log_softmax"):
        assert S.spherical_loss(name)(o32, C).dtype == jnp.float32


def test_vmap_over_hyperparameters():
    a = jnp.array([0.5, 1.0, 2.0])
    out = jax.vmap(lambda a_: S.z_loss(O, C, a=a_, b=1.0))(a)
    for i, ai in enumerate(a):
        np.testing.assert_allclose(out[i], S.z_loss(O, C, a=float(ai), b=1.0), **IDENTITY.kw())


def test_topk_error_against_sort():
    o = jnp.asarray(RNG.normal(size=(300, 30)))
    c = jnp.asarray(RNG.integers(0, 30, 300))
    ks = (1, 3, 10)
    order = np.argsort(-np.asarray(o), axis=-1)
    want = [np.mean(~np.any(order[:, :k] == np.asarray(c)[:, None], -1)) for k in ks]
    np.testing.assert_allclose(S.topk_error(o, c, ks), want, atol=1e-7)
    np.testing.assert_allclose(S.topk_accuracy(o, c, ks), 1 - np.asarray(want), atol=1e-6)


def test_spherical_predictions_invariant_to_sign_flip():
    """p ∝ o² + ε: flipping the sign of the outputs changes no prediction of the spherical
    softmax, while ranking the raw outputs would invert them."""
    o = jnp.asarray(RNG.normal(size=(200, D)))
    c = jnp.asarray(RNG.integers(0, D, 200))
    ks = (1, 3)
    for eps in (1e-2, 1.0):
        s_pos = S.spherical_scores(o, "log_spherical_softmax", eps=eps)
        s_neg = S.spherical_scores(-o, "log_spherical_softmax", eps=eps)
        np.testing.assert_array_equal(jnp.argmax(s_pos, -1), jnp.argmax(s_neg, -1))
        np.testing.assert_array_equal(S.topk_error(s_pos, c, ks), S.topk_error(s_neg, c, ks))
        p = jax.nn.softmax(jnp.log(s_pos), -1)   # the model's probabilities, same order
        np.testing.assert_array_equal(jnp.argmax(p, -1), jnp.argmax(s_pos, -1))
    assert not np.array_equal(jnp.argmax(o, -1), jnp.argmax(-o, -1))


def test_taylor_ranking_follows_t_not_o():
    """t(o) = 1 + o + o²/2 rises again below o = −1: t(−3) = 2.5 > t(0.5) = 1.625."""
    o = jnp.array([[-3.0, 0.5, -1.0], [0.2, -0.5, 0.1]])
    scores = S.spherical_scores(o, "log_taylor_softmax")
    np.testing.assert_allclose(scores, 1 + o + o**2 / 2)
    np.testing.assert_array_equal(jnp.argmax(scores, -1), [0, 0])
    assert int(jnp.argmax(o[0])) == 1   # the raw output would pick class 1
    c = jnp.array([0, 0])
    np.testing.assert_array_equal(S.topk_error(scores, c, (1,)), [0.0])
    np.testing.assert_array_equal(S.topk_error(o, c, (1,)), [0.5])


@pytest.mark.parametrize("kind", ["log_softmax", "z_loss", "squared_error"])
def test_monotone_kinds_rank_by_outputs(kind):
    np.testing.assert_array_equal(S.spherical_scores(O, kind), O)


def test_scores_bad_kind_and_eps():
    with pytest.raises(ValueError, match="kind"):
        S.spherical_scores(O, "softmax")
    with pytest.raises(ValueError, match="eps"):
        S.spherical_scores(O, "log_spherical_softmax", eps=0.0)


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("a", [0.0, -1.0, float("nan")])
def test_bad_a(a):
    with pytest.raises(ValueError, match=r"z_loss\(a=...\)"):
        S.z_loss(O, C, a=a)


def test_bad_b():
    with pytest.raises(ValueError, match=r"z_loss\(b=...\)"):
        S.z_loss(O, C, b=float("inf"))


@pytest.mark.parametrize("eps", [0.0, -1e-3])
def test_bad_eps(eps):
    with pytest.raises(ValueError, match=r"eps=...\).*positive"):
        S.log_spherical_softmax_loss(O, C, eps=eps)
    with pytest.raises(ValueError, match="eps"):
        S.spherical_stats_loss("log_spherical_softmax", eps=eps)


@pytest.mark.parametrize("bad", [-1, D])
def test_labels_out_of_range(bad):
    with pytest.raises(ValueError, match=rf"labels=...\).*\[0, {D - 1}\].*{bad}"):
        S.z_loss(O, C.at[0].set(bad))


def test_float_labels_and_shapes_rejected():
    with pytest.raises(TypeError, match="integer dtype"):
        S.z_loss(O, C.astype(float))
    with pytest.raises(ValueError, match="must have shape"):
        S.z_loss(O, C[:3])
    with pytest.raises(TypeError, match="floating"):
        S.z_loss(jnp.ones((2, 3), jnp.int32), jnp.array([0, 1]))


def test_unknown_name_and_hyper():
    with pytest.raises(ValueError, match="must be one of"):
        S.spherical_stats_loss("softmax")
    with pytest.raises(TypeError, match="eps"):
        S.spherical_stats_loss("z_loss", eps=1.0)


def test_checks_skipped_under_jit():
    f = jax.jit(lambda o, c, a: S.z_loss(o, c, a=a))
    assert f(O, C, 1.0).shape == (6,)
