"""The factored O(d²) output layer against the naive O(Dd) reference: forward, backward and
update are exact."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrank.losses import spherical as S
from jaxrank.models import factored_output as F
from tests._tolerances import IDENTITY, NUMERICAL

D, d, T = 120, 6, 50
# Spherical members with step sizes that keep every run stable (squared error has β = 2).
CASES = [("z_loss", {"a": 1.0, "b": 2.0}, 0.1), ("log_taylor_softmax", {}, 0.05),
         ("log_spherical_softmax", {"eps": 0.1}, 0.05), ("squared_error", {}, 0.01)]
# float32 over T = 100 steps: accumulated rounding of the d×d recursions (tolerance 1e-4 relative).
F32_RTOL = 1e-4


def data(m, seed, dtype=np.float64, steps=T):
    rng = np.random.default_rng(seed)
    W0 = (rng.normal(size=(D, d)) * 0.3).astype(dtype)
    hs = rng.normal(size=(steps, m, d)).astype(dtype)
    cs = rng.integers(0, D, size=(steps, m))
    if m > 1:
        cs[:, 1] = cs[:, 0]  # repeated targets inside a minibatch (scatter-add must add)
    return jnp.asarray(W0), jnp.asarray(hs), jnp.asarray(cs, jnp.int32)


def _trajectories(name, hyper, lr, m, dtype=np.float64, steps=T, stabilize_every=1000):
    fac = F.factored_output_layer(name, learning_rate=lr, stabilize_every=stabilize_every,
                                  **hyper)
    nai = F.naive_output_layer(name, learning_rate=lr, **hyper)
    W0, hs, cs = data(m, 1 + m, dtype, steps)

    def body(carry, xs):
        sf, sn = carry
        sf, lf, gf = fac.update(sf, *xs)
        sn, ln, gn = nai.update(sn, *xs)
        W = fac.weights(sf)
        out = dict(dloss=jnp.max(jnp.abs(lf - ln)), dgrad=jnp.max(jnp.abs(gf - gn)),
                   dW=jnp.max(jnp.abs(W - sn.W)), dQ=jnp.max(jnp.abs(sf.Q - sn.W.T @ sn.W)),
                   dUinv=jnp.max(jnp.abs(sf.U_inv_T - jnp.linalg.inv(sf.U).T)),
                   dwbar=jnp.max(jnp.abs(sf.w_bar - sn.W.sum(0))),
                   wbar_move=jnp.max(jnp.abs(sf.w_bar - W0.sum(0))),
                   scale=jnp.maximum(jnp.max(jnp.abs(sn.W)), jnp.max(jnp.abs(gn))),
                   loss=jnp.sum(ln))
        return (sf, sn), out

    _, out = jax.jit(lambda s0, hs, cs: jax.lax.scan(body, s0, (hs, cs)))(
        (fac.init(W0), nai.init(W0)), hs, cs)
    return out


# The Z-loss cases run in `make test`; the other members (same code path, other F) are slow.
PARAMS = [pytest.param(n, h, lr, m, marks=() if n == "z_loss" else pytest.mark.slow)
          for n, h, lr in CASES for m in (1, 4)]


@pytest.mark.parametrize("name,hyper,lr,m", PARAMS)
def test_factored_equals_naive_over_sgd_steps_x64(name, hyper, lr, m):
    out = _trajectories(name, hyper, lr, m)
    assert np.all(np.isfinite(out["loss"]))
    for key in ("dloss", "dgrad", "dW", "dQ", "dUinv", "dwbar"):
        assert float(jnp.max(out[key])) < 1e-10, (key, float(jnp.max(out[key])))
    if name == "z_loss":  # shift-invariant: w̄ = Wᵀ1 never moves
        assert float(jnp.max(out["wbar_move"])) < 1e-12
    # the run actually moves W and the loss (the comparison is not between frozen states)
    assert float(jnp.abs(out["loss"][-5:].mean() - out["loss"][:5].mean())) > 1e-3


@pytest.mark.slow
def test_shift_invariant_loss_leaves_w_bar_unchanged():
    out = _trajectories("z_loss", {"a": 1.0, "b": 2.0}, 0.1, 4)
    assert float(jnp.max(out["wbar_move"])) < 1e-12
    out = _trajectories("log_taylor_softmax", {}, 0.05, 4)  # not shift-invariant: w̄ moves
    assert float(jnp.max(out["wbar_move"])) > 1e-3


@pytest.mark.parametrize("m", [1, pytest.param(8, marks=pytest.mark.slow)])
def test_factored_float32_with_stabilisation(m):
    out = _trajectories("z_loss", {"a": 1.0, "b": 2.0}, 0.1, m, dtype=np.float32, steps=100,
                        stabilize_every=10)
    rel = float(jnp.max(out["dW"] / out["scale"]))
    assert rel < F32_RTOL, rel
    assert float(jnp.max(out["dgrad"] / out["scale"])) < F32_RTOL


def test_matches_official_numpy_bprop_update_semantics():
    """grad_o = grad_s + 2 grad_q o + scatter(grad_A); grad_H = grad_o W; W -= η grad_oᵀ H."""
    rng = np.random.default_rng(5)
    W = rng.normal(size=(D, d))
    H = rng.normal(size=(3, d))
    c = np.array([4, 9, 4])
    a, b, lr = 1.0, 0.0, 0.2
    O = H @ W.T
    s, q, oc = O.sum(1), (O**2).sum(1), O[np.arange(3), c]
    Fz = S.spherical_stats_loss("z_loss", a=a, b=b)
    gs, gq, gA = (np.asarray(x) for x in jax.grad(
        lambda s_, q_, c_: Fz(s_, q_, c_, D).sum(), argnums=(0, 1, 2))(s, q, oc))
    grad_o = gs[:, None] + 2 * gq[:, None] * O
    np.add.at(grad_o, (np.arange(3), c), gA)
    layer = F.factored_output_layer("z_loss", learning_rate=lr, a=a, b=b)
    st, _, gh = layer.update(layer.init(jnp.asarray(W)), jnp.asarray(H), jnp.asarray(c))
    np.testing.assert_allclose(gh, grad_o @ W, **IDENTITY.kw())
    np.testing.assert_allclose(layer.weights(st), W - lr * grad_o.T @ H, **IDENTITY.kw())


@pytest.mark.slow
def test_forward_matches_naive_forward():
    W0, hs, cs = data(5, 3)
    for name, hyper, lr in CASES:
        fac = F.factored_output_layer(name, learning_rate=lr, **hyper)
        nai = F.naive_output_layer(name, learning_rate=lr, **hyper)
        lf, gf = fac.forward(fac.init(W0), hs[0], cs[0])
        ln, gn = nai.forward(nai.init(W0), hs[0], cs[0])
        np.testing.assert_allclose(lf, ln, **IDENTITY.kw())
        np.testing.assert_allclose(gf, gn, **IDENTITY.kw())


def test_unfactorize_preserves_w():
    W0, hs, cs = data(3, 4)
    layer = F.factored_output_layer("z_loss", learning_rate=0.1)
    st, _ = F.scan_updates(layer, layer.init(W0), hs[:10], cs[:10], donate=False)
    st2 = F.unfactorize(st)
    np.testing.assert_allclose(layer.weights(st2), layer.weights(st), **IDENTITY.kw())
    np.testing.assert_allclose(st2.U, np.eye(d))


def test_scan_updates_donates_the_state():
    W0, hs, cs = data(2, 6)
    layer = F.factored_output_layer("z_loss", learning_rate=0.1)
    st = layer.init(W0 + 0.0)
    out, losses = F.scan_updates(layer, st, hs[:5], cs[:5])
    assert st.V.is_deleted(), "V was not donated: XLA copies it every call (O(Dd))"
    assert losses.shape == (5,) and np.all(np.isfinite(losses))
    # same result without donation
    ref, _ = F.scan_updates(layer, layer.init(W0 + 0.0), hs[:5], cs[:5], donate=False)
    np.testing.assert_allclose(out.V, ref.V, **IDENTITY.kw())


def test_float32_in_float32_out():
    # traced only (dtypes are fixed at trace time): running it eagerly compiled every op (~3 s)
    W0, hs, cs = data(2, 8, np.float32, steps=1)
    for layer in (F.factored_output_layer("z_loss", learning_rate=0.1),
                  F.naive_output_layer("log_softmax", learning_rate=0.1)):
        st, loss, gh = jax.eval_shape(layer.update, layer.init(W0), hs[0], cs[0])
        assert loss.dtype == gh.dtype == jnp.float32
        assert all(x.dtype in (jnp.float32, jnp.int32) for x in jax.tree.leaves(st))


def test_hierarchical_softmax_is_a_distribution_and_learns():
    # every forward pass in one jitted vmap (eager dispatch compiled every op: ~6 s)
    Dh, eps = 23, 1e-6
    layer = F.hierarchical_softmax_layer(Dh, learning_rate=0.5)
    rng = np.random.default_rng(0)
    shapes = jax.eval_shape(lambda k: layer.init(k, 4, jnp.float64), jax.random.key(0))
    st = F.HSoftmaxState(*(jnp.asarray(rng.normal(size=x.shape) / 2, x.dtype) if i < 2
                           else jnp.zeros((), jnp.int32) for i, x in enumerate(shapes)))
    h = rng.normal(size=(Dh, 4))
    labels = (7 * np.arange(Dh)) % Dh
    # loss_i depends on h_i only, so bumping column j of H gives d loss_i / d h_i[j] for all i
    bumps = [h + sign * eps * np.eye(4)[j] for sign in (1, -1) for j in range(4)]
    X = jnp.asarray(np.stack([np.repeat(h[:1], Dh, 0), h, *bumps]))
    Lab = jnp.asarray(np.stack([np.arange(Dh)] + [labels] * 9), jnp.int32)
    loss, gh = jax.jit(jax.vmap(lambda x, c: layer.forward(st, x, c)))(X, Lab)
    np.testing.assert_allclose(jnp.exp(-loss[0]).sum(), 1.0, **IDENTITY.kw())
    fd = (loss[2:6] - loss[6:10]).T / (2 * eps)
    np.testing.assert_allclose(gh[1], fd, rtol=NUMERICAL.rtol, atol=1e-7)
    hs = jnp.tile(X[1, None, :8], (20, 1, 1))
    cs = jnp.tile(jnp.arange(8)[None], (20, 1))
    _, losses = F.scan_updates(layer, st, hs, cs)
    assert float(losses[-1]) < 0.5 * float(losses[0])


def test_hierarchical_update_equals_dense_gradient_step():
    layer = F.hierarchical_softmax_layer(10, learning_rate=0.3)
    st = layer.init(jax.random.key(1), 3, jnp.float64)
    h = jnp.asarray(np.random.default_rng(1).normal(size=(4, 3)))
    c = jnp.array([0, 9, 5, 9])
    # both jitted in one program (eager dispatch compiled each small op: ~3-5 s)
    new, g = jax.jit(lambda st: (layer.update(st, h, c)[0], jax.grad(
        lambda p: layer.forward(st._replace(W1=p[0], W2=p[1]), h, c)[0].sum())(
        (st.W1, st.W2))))(st)
    np.testing.assert_allclose(new.W1, st.W1 - 0.3 * g[0], **IDENTITY.kw())
    np.testing.assert_allclose(new.W2, st.W2 - 0.3 * g[1], **IDENTITY.kw())


# --------------------------------------------------------------------------- bad inputs


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"learning_rate=...\)"):
        F.factored_output_layer("z_loss", learning_rate=0.0)
    with pytest.raises(ValueError, match=r"z_loss', a=...\)"):
        F.factored_output_layer("z_loss", learning_rate=0.1, a=-1.0)
    with pytest.raises(ValueError, match="spherical loss"):
        F.factored_output_layer("log_softmax", learning_rate=0.1)
    with pytest.raises(ValueError, match="eps"):
        F.factored_output_layer("log_spherical_softmax", learning_rate=0.1, eps=0.0)
    with pytest.raises(TypeError, match="stabilize_every"):
        F.factored_output_layer("z_loss", learning_rate=0.1, stabilize_every=2.5)
    layer = F.factored_output_layer("z_loss", learning_rate=0.1)
    st = layer.init(jnp.ones((5, 2)))
    with pytest.raises(ValueError, match=r"labels=...\).*\[0, 4\].*\[5\]"):
        layer.update(st, jnp.ones((1, 2)), jnp.array([5]))
    with pytest.raises(ValueError, match="rank 2"):
        layer.update(st, jnp.ones(2), jnp.array([1]))
    with pytest.raises(ValueError, match="at least 2"):
        F.hierarchical_softmax_layer(1, learning_rate=0.1)
