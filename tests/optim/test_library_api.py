"""The library contract for users (issue 19): optax schedules wherever a step size appears,
pytree parameters for the Newton-type solvers, compilation cached by value."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrank.models import factored_output as F
from jaxrank.optim import bilevel, omd, run

# --------------------------------------------------------------------------- schedules

f_up = lambda x, y, b: jnp.sum((y - 1.0) ** 2) + 0.1 * jnp.sum(x**2)  # noqa: E731
g_low = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2) + 0.5 * jnp.sum(y**2)  # noqa: E731
X0 = (jnp.ones(3), jnp.zeros(3))
KEY = jax.random.key(0)


def test_bo_rep_takes_an_optax_schedule():
    sched = optax.cosine_decay_schedule(0.1, decay_steps=6)
    solver = bilevel.bo_rep(f_up, g_low, learning_rate=sched, momentum=0.5, lower_learning_rate=0.5,
                            z_learning_rate=0.5, period=1, lower_steps=2)
    (x, _), state, xs = run(solver, X0, 6, key=KEY, record=lambda p, s, k: p[0])
    steps = np.linalg.norm(np.diff(np.vstack([np.asarray(xs), np.asarray(x)[None]]), axis=0),
                           axis=1)
    # BO-REP's x step is normalized: its length is the step size of that step, η_t
    np.testing.assert_allclose(steps[:5], [float(sched(t)) for t in range(5)], rtol=1e-5)
    assert int(state.count) == 6


@pytest.mark.parametrize("name", ["soba", "stocbio", "anil"])
def test_bilevel_constant_schedule_is_the_constant(name):
    make = {
        "soba": lambda r: bilevel.soba(f_up, g_low, learning_rate=r, lower_learning_rate=r),
        "stocbio": lambda r: bilevel.stocbio(f_up, g_low, learning_rate=r, lower_learning_rate=r,
                                             inner_steps=2, neumann_learning_rate=0.5,
                                             neumann_steps=3),
        "anil": lambda r: bilevel.anil(f_up, g_low, learning_rate=r, inner_learning_rate=r,
                                       inner_steps=2),
    }[name]
    const = run(make(0.3), X0, 5, key=KEY)[0]
    sched = run(make(lambda count: 0.3), X0, 5, key=KEY)[0]
    decayed = run(make(lambda count: 0.3 / (1.0 + count)), X0, 5, key=KEY)[0]
    for a, b in zip(const, sched, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(const[0]), np.asarray(decayed[0]))


def test_bilevel_rejects_a_bad_constant_still():
    with pytest.raises(ValueError, match="learning_rate"):
        bilevel.soba(f_up, g_low, learning_rate=-1.0, lower_learning_rate=0.5)


def test_implicit_omd_takes_a_schedule():
    loss = lambda x, c: 0.5 * jnp.sum((x - c) ** 2)  # noqa: E731
    xs = jnp.ones((4, 2))
    const = run(omd.implicit_omd(0.5, loss, inner_steps=5), jnp.zeros(2), None, xs=xs)[0]
    same = run(omd.implicit_omd(lambda t: 0.5, loss, inner_steps=5), jnp.zeros(2), None,
               xs=xs)[0]
    np.testing.assert_array_equal(np.asarray(const), np.asarray(same))
    sched = optax.linear_schedule(0.5, 0.1, 4)
    _, state, _ = run(omd.implicit_omd(sched, loss, inner_steps=5), jnp.zeros(2), None, xs=xs)
    assert int(state.count) == 4


@pytest.mark.slow  # test budget: the factored-under-trunk example and doctest stay fast
def test_factored_layer_schedule_matches_naive_and_constant():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(30, 4)).astype(np.float32)
    h = jnp.asarray(rng.normal(size=(5, 2, 4)).astype(np.float32) * 0.3)
    labels = jnp.asarray(rng.integers(0, 30, size=(5, 2)))
    sched = optax.exponential_decay(0.2, transition_steps=1, decay_rate=0.5)
    out = {}
    for name, kind, rate in [("const", "factored", 0.1), ("const_fn", "factored", lambda t: 0.1),
                             ("sched", "factored", sched), ("sched", "naive", sched)]:
        if True:
            make = F.factored_output_layer if kind == "factored" else F.naive_output_layer
            layer = make("z_loss", learning_rate=rate)
            state, _ = F.scan_updates(layer, layer.init(jnp.array(W)), h, labels)
            out[name, kind] = np.asarray(layer.weights(state))
    np.testing.assert_array_equal(out["const", "factored"], out["const_fn", "factored"])
    np.testing.assert_allclose(out["sched", "factored"], out["sched", "naive"], atol=1e-5)
    assert not np.allclose(out["sched", "factored"], out["const", "factored"])


# --------------------------------------------------------------------------- pytree Newton

A_MAT = jnp.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])


def _flat_f(v):
    return 0.5 * v @ A_MAT @ v + jnp.sum(jnp.exp(-v)) + 0.1 * jnp.sum(v**4)


def _tree_f(p):
    return _flat_f(jnp.concatenate([p["a"], p["b"].reshape(-1)]))


@pytest.mark.parametrize("name", ["grad_reg_newton", "gradient_method"])
def test_newton_takes_a_pytree(name):
    from jaxrank.optim import gn_newton as G

    make = getattr(G, name)
    v0 = jnp.array([1.0, -0.5, 2.0])
    x_flat, s_flat, traj_flat = run(make(_flat_f), v0, 6, record=lambda x, s: x)
    p0 = {"a": v0[:1], "b": v0[1:].reshape(1, 2)}
    p, s_tree, traj_tree = run(make(_tree_f), p0, 6,
                               record=lambda p, s: jnp.concatenate([p["a"], p["b"].ravel()]))
    assert set(p) == {"a", "b"} and p["b"].shape == (1, 2)
    np.testing.assert_allclose(np.asarray(traj_tree), np.asarray(traj_flat), rtol=1e-6)
    np.testing.assert_allclose(np.concatenate([p["a"], p["b"].ravel()]), np.asarray(x_flat),
                               rtol=1e-6)
    assert float(s_tree.value) == pytest.approx(float(s_flat.value), rel=1e-6)


def test_newton_single_array_checks_unchanged():
    from jaxrank.optim import gn_newton as G

    with pytest.raises(ValueError, match=r"init\(x=...\)` must have rank 1"):
        G.grad_reg_newton(_flat_f).init(jnp.ones((3, 1)))


# --------------------------------------------------------------------------- cache by value

TRACES = []  # one entry per trace of a function below (a trace = a compilation of the loop)


def _counted(x):
    TRACES.append(1)
    return x


def _sq(x):
    return jnp.sum(x**2)


def _loop(record_scale, n=3):
    import optax as ox

    from jaxrank.optim import from_optax

    out = []
    for _ in range(n):  # the natural way to write it: everything rebuilt in the loop
        solver = from_optax(ox.sgd(0.1), lambda x: jnp.sum(x**2))
        out.append(run(solver, jnp.ones(2), 3, record=lambda x, s: _counted(record_scale * x))[2])
    return out


def test_rebuilt_solver_and_record_compile_once():
    TRACES.clear()
    out = _loop(2.0)
    assert len(TRACES) == 1
    np.testing.assert_array_equal(np.asarray(out[0]), np.asarray(out[2]))
    _loop(3.0, n=2)  # a different captured constant is a different program
    assert len(TRACES) == 2


def test_equal_factory_arguments_share_one_solver():
    from jaxrank.optim import gn_newton as G

    assert G.grad_reg_newton(_sq, hessian=G.zero_hessian()) is G.grad_reg_newton(
        _sq, hessian=G.zero_hessian())

    def make(peak):  # a schedule written inline, rebuilt at every call
        return bilevel.soba(f_up, g_low, learning_rate=lambda c: peak / (1 + c),
                            lower_learning_rate=0.5)

    assert make(0.1) is make(0.1)
    assert make(0.1) is not make(0.2)
    from jaxrank.optim import from_optax

    scaled = lambda c: jax.tree_util.Partial(lambda x, c: c * jnp.sum(x**2), c)  # noqa: E731
    assert from_optax(optax.sgd(0.1), scaled(2.0)) is from_optax(optax.sgd(0.1), scaled(2.0))
    assert from_optax(optax.sgd(0.1), scaled(2.0)) is not from_optax(optax.sgd(0.1), scaled(3.0))
    sched = optax.cosine_decay_schedule
    assert bilevel.soba(f_up, g_low, learning_rate=sched(0.1, 10),
                        lower_learning_rate=0.5) is bilevel.soba(
        f_up, g_low, learning_rate=sched(0.1, 10), lower_learning_rate=0.5)


def test_closures_over_arrays_are_keyed_by_value_up_to_the_digest_limit():
    """A rebuilt closure over an equal 100-element array (a digest key) reuses the compilation;
    one over an array past ``DIGEST_MAX_SIZE`` (a data set, not hashed per call) keeps its
    identity, so each new function object compiles."""
    from jaxrank import _cache
    from jaxrank.optim import Solver

    def halving(a):
        return lambda x, s: (_counted(x) / 2 + 0 * a[0], s)

    for arr, traces in ((jnp.arange(100.0), 1), (jnp.zeros(_cache.DIGEST_MAX_SIZE + 1), 2)):
        TRACES.clear()
        for _ in range(2):
            run(Solver(lambda x: None, halving(arr)), jnp.ones(2), 2)
        assert len(TRACES) == traces, arr.shape


# --------------------------------------------------------------------------- output layer + trunk


@pytest.mark.slow  # test budget: the factored-under-trunk example and doctest stay fast
def test_with_trunk_is_sgd_on_the_composed_loss():
    from jaxrank.losses import spherical as S
    from jaxrank.models import naive_output_layer, with_trunk

    rng = np.random.default_rng(3)
    theta0 = jnp.asarray(rng.normal(size=(6, 4)) * 0.3, jnp.float32)
    W0 = jnp.asarray(rng.normal(size=(20, 4)) * 0.3, jnp.float32)
    x = jnp.asarray(rng.normal(size=(2, 3, 6)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, 20, size=(2, 3)))
    trunk = lambda t, xb: jnp.tanh(xb @ t)  # noqa: E731
    layer = naive_output_layer("z_loss", learning_rate=0.05)
    (theta, ls), state, _ = run(with_trunk(layer, trunk, optax.sgd(0.1)),
                                (theta0, layer.init(W0)), None, xs=(x, labels))
    direct = S.spherical_loss("z_loss")

    def total(t, W, xb, lb):
        return jnp.sum(direct(trunk(t, xb) @ W.T, lb))

    t_ref, W_ref = theta0, W0
    for i in range(2):
        gt, gW = jax.grad(total, argnums=(0, 1))(t_ref, W_ref, x[i], labels[i])
        t_ref, W_ref = t_ref - 0.1 * gt, W_ref - 0.05 * gW
    np.testing.assert_allclose(np.asarray(theta), np.asarray(t_ref), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(ls.W), np.asarray(W_ref), rtol=1e-5, atol=1e-6)
    assert int(state.count) == 2 and np.isfinite(float(state.loss))
