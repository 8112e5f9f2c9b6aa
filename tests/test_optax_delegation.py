"""Where the library delegates to optax, and where (and why) it keeps its own numerics.

Delegated (identical bit for bit to the library's former expression, so no result moves):
the one binary logistic loss behind the three logistic-loss signatures, softmax cross-entropy,
the TRADES KL, the box / ℓ∞ projections and the bilevel tree sums, differences, inner products
and zeros. Kept: the ℓ2-ball projections and ``tree_norm`` (optax's squared norm overflows),
and the dtype-keeping tree scale / axpy (optax's promote a float32 leaf to float64).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrank._numerics import binary_logistic, tree_norm
from jaxrank.losses import adversarial as ADV
from jaxrank.losses import spherical as S
from jaxrank.losses.anyloss import binary_cross_entropy
from jaxrank.optim import bilevel_core as BC
from jaxrank.optim import perceptron as P
from jaxrank.problems import gn_functions as G
from jaxrank.problems import sea_environments as SEA
from jaxrank.problems.domains import ball, box

EDGES = [1e4, -1e4, 0.0, 40.0, -40.0, 1e-20, 3.0, -0.5]  # huge margins, cancellation, tiny


def _margins(dtype):
    rng = np.random.default_rng(0)
    return jnp.asarray(np.concatenate([10 * rng.normal(size=64), EDGES]), dtype)


def test_binary_logistic_is_softplus_of_minus_margin_bit_for_bit():
    @jax.jit
    def both(m):
        grad = lambda f: jax.grad(lambda v: jnp.sum(f(v)))(m)  # noqa: E731
        former = lambda v: jax.nn.softplus(-v)  # noqa: E731
        return binary_logistic(m), former(m), grad(binary_logistic), grad(former)

    for dtype in (jnp.float64, jnp.float32):
        new, old, g_new, g_old = both(_margins(dtype))
        np.testing.assert_array_equal(new, old)
        np.testing.assert_array_equal(g_new, g_old)
        assert np.all(np.isfinite(new)) and new.dtype == dtype
    assert float(binary_logistic(jnp.asarray(-1e4))) == 1e4


def test_the_three_logistic_signatures_call_the_one_loss():
    rng = np.random.default_rng(1)
    a = jnp.asarray(rng.normal(size=(20, 3)))
    y = jnp.asarray(np.where(rng.random(20) < 0.5, -1.0, 1.0))
    theta = jnp.asarray([1e3, -2.0, 0.5])  # margins up to ~1e4
    one = jnp.mean(binary_logistic(y * (a @ theta)))
    np.testing.assert_array_equal(P.logistic_loss(theta, a, y), one)
    np.testing.assert_array_equal(G.logistic_regression(theta, a, y), one)
    # {0, 1} labels: BCE is optax's sigmoid BCE, the same loss of the margin (2y − 1) z
    z, y01 = a @ theta, (y > 0).astype(jnp.int32)
    np.testing.assert_array_equal(binary_cross_entropy(z, y01),
                                  optax.sigmoid_binary_cross_entropy(z, y01.astype(z.dtype)))
    np.testing.assert_array_equal(binary_cross_entropy(z, y01), binary_logistic(y * z))
    env = SEA.logistic(3, 1.0)
    np.testing.assert_array_equal(env.loss(theta, (a[0], y[0])), binary_logistic(y[0] * z[0]))


def test_bce_delegation_is_more_accurate_than_the_former_softplus_form():
    z, y = jnp.asarray([40.0, 38.0]), jnp.asarray([1, 1])
    former = jax.nn.softplus(z) - y * z  # cancels to 0 for confident correct logits
    np.testing.assert_array_equal(former, [0.0, 0.0])
    exact = np.log1p(np.exp(-np.array([40.0, 38.0])))
    np.testing.assert_allclose(binary_cross_entropy(z, y), exact, rtol=1e-14)


def test_softmax_cross_entropy_and_kl_are_optax_bit_for_bit():
    rng = np.random.default_rng(2)
    o = jnp.asarray(3 * rng.normal(size=(30, 5)))
    c = jnp.asarray(rng.integers(0, 5, 30))
    lse = jax.nn.logsumexp(o, axis=-1) - jnp.take_along_axis(o, c[:, None], -1)[:, 0]
    np.testing.assert_array_equal(S.log_softmax_loss(o, c), lse)
    np.testing.assert_array_equal(S.log_softmax_loss(o.T, c, axis=0), lse)
    big = jnp.asarray([[1e4, 0.0]])
    assert float(S.log_softmax_loss(big, jnp.asarray([1]))[0]) == 1e4
    a = jnp.asarray(rng.normal(size=(30, 4)))
    x = jnp.asarray(rng.normal(size=20))
    W = x.reshape(4, 5)
    nll = jax.nn.logsumexp(a @ W, -1) - jnp.take_along_axis(a @ W, c[:, None], -1)[:, 0]
    np.testing.assert_array_equal(G.softmax_regression(x, a, c, 5), jnp.mean(nll))
    q = jnp.asarray(3 * rng.normal(size=(30, 5)))
    lp, lq = jax.nn.log_softmax(o, -1), jax.nn.log_softmax(q, -1)
    np.testing.assert_array_equal(ADV._kl(o, q), jnp.sum(jnp.exp(lp) * (lp - lq), axis=-1))


def test_box_and_linf_projections_are_optax_clipping():
    dtype = jnp.float32  # box keeps x's dtype with float64 bounds
    x = jnp.asarray([-3.0, -0.2, 0.0, 0.7, 5.0], dtype)
    got = box(-1.0, 0.5).project(x)
    np.testing.assert_array_equal(got, jnp.clip(x, -1.0, 0.5))
    assert got.dtype == x.dtype
    lo, hi = np.array([-1.0, -2, -3, -4, -5]), np.array([0.0, 1, 2, 3, 4])
    np.testing.assert_array_equal(box(lo, hi).project(x), jnp.clip(x, lo, hi).astype(dtype))
    d = x.reshape(1, 5)
    np.testing.assert_array_equal(ADV._project(d, 0.5, "linf"), jnp.clip(d, -0.5, 0.5))


def test_l2_ball_stays_ours_where_optax_squares_overflow():
    for scale, dtype in ((1e200, jnp.float64), (1e20, jnp.float32)):
        x = jnp.asarray([3.0, 4.0], dtype) * jnp.asarray(scale, dtype)
        np.testing.assert_allclose(ball(1.0).project(x), [0.6, 0.8], rtol=1e-6)
        theirs = optax.projections.projection_l2_ball(x, 1.0)
        np.testing.assert_array_equal(theirs, [0.0, 0.0])  # ‖x‖² = inf: optax returns 0
        assert not np.isfinite(optax.tree.norm(x))  # tree_norm's scales: tests/test_numerics.py
    for x in (jnp.asarray([0.1, -0.2]), jnp.zeros(2)):  # ordinary scales and 0: the same
        np.testing.assert_allclose(ball(1.0).project(x),
                                   optax.projections.projection_l2_ball(x, 1.0), rtol=1e-15)


def test_tree_norm_gradient_at_zero_where_optax_is_nan():
    z = {"a": jnp.zeros(2), "b": jnp.zeros(())}
    assert all(np.all(np.isfinite(v)) for v in jax.tree.leaves(jax.grad(tree_norm)(z)))
    assert not all(np.all(np.isfinite(v)) for v in jax.tree.leaves(jax.grad(optax.tree.norm)(z)))


def test_bilevel_tree_helpers_delegate_and_scale_keeps_dtypes():
    a = {"u": jnp.asarray([1.0, -2.0], jnp.float32), "v": jnp.asarray([[3.0]])}
    b = {"u": jnp.asarray([0.5, 0.5], jnp.float32), "v": jnp.asarray([[-1.0]])}
    assert BC._add is optax.tree.add and BC._sub is optax.tree.sub
    assert BC._vdot is optax.tree.vdot and BC._zeros_like is optax.tree.zeros_like
    np.testing.assert_array_equal(BC._vdot(a, b), 0.5 - 1.0 - 3.0)
    c = jnp.asarray(0.1, jnp.float64)  # e.g. a traced float64 step size
    assert BC._scale(c, a)["u"].dtype == jnp.float32
    assert BC._axpy(c, a, b)["u"].dtype == jnp.float32
    assert optax.tree.scale(c, a)["u"].dtype == jnp.float64  # why _scale/_axpy stay ours
    assert optax.tree.add_scale(b, c, a)["u"].dtype == jnp.float64
