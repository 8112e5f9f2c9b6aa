"""jaxrank._numerics against NumPy: values at zero, tiny and huge scales, and finite gradients.

NumPy's reference is computed in float64 on rescaled inputs (``s * ‖v / s‖``), so it never
overflows; the plain ``jnp.linalg.norm`` is shown to fail where the library's norms must not.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrank._numerics import safe_norm, stable_norm, tree_norm
from tests._tolerances import IDENTITY, IDENTITY_F32


def numpy_norm(v, axis=None):
    v = np.asarray(v, np.float64)
    s = np.max(np.abs(v), axis=axis, keepdims=True)
    s = np.where(s > 0, s, 1.0)
    return np.squeeze(s * np.sqrt(np.sum((v / s) ** 2, axis=axis, keepdims=True)), axis=axis) \
        if axis is not None else float(s.reshape(()) * np.sqrt(np.sum((v / s) ** 2)))


CASES = {
    "ordinary": (np.array([3.0, -4.0, 12.0]), np.float64),
    "huge-f64": (np.array([3e200, 4e200]), np.float64),  # squares overflow float64
    "tiny-f64": (np.array([3e-200, -4e-200]), np.float64),  # squares underflow to 0
    # near the smallest normal float64 (XLA on CPU flushes subnormals to zero, so not below)
    "min-normal-f64": (np.array([3e-308, 0.0, -4e-308]), np.float64),
    "huge-f32": (np.array([3e30, 4e30]), np.float32),  # squares overflow float32
    "tiny-f32": (np.array([3e-30, 4e-30]), np.float32),  # squares underflow float32
    "mixed": (np.array([1e150, 1.0, -1e-150]), np.float64),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("norm", [safe_norm, stable_norm], ids=["safe", "stable"])
def test_norms_match_numpy(norm, name):
    values, dtype = CASES[name]
    v = jnp.asarray(values, dtype)
    got = norm(v)
    assert got.dtype == dtype and got.shape == ()  # the input dtype is preserved
    tol = IDENTITY if dtype == np.float64 else IDENTITY_F32
    np.testing.assert_allclose(float(got), numpy_norm(values), **tol.kw())
    assert float(got) > 0  # never flushed to zero, never inf


def test_plain_norm_fails_where_ours_do_not():
    # Guards against a vacuous comparison: the naive formula really overflows/underflows here.
    assert not np.isfinite(float(jnp.sqrt(jnp.sum(jnp.asarray(CASES["huge-f64"][0]) ** 2))))
    assert float(jnp.sqrt(jnp.sum(jnp.asarray(CASES["tiny-f64"][0]) ** 2))) == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_safe_norm_zero_value_and_gradient(dtype):
    zero = jnp.zeros(4, dtype)
    assert float(safe_norm(zero)) == 0.0 and float(stable_norm(zero)) == 0.0
    g = jax.grad(safe_norm)(zero)
    chex.assert_tree_all_finite(g)
    np.testing.assert_array_equal(g, np.zeros(4))
    assert np.isnan(jax.grad(jnp.linalg.norm)(zero)).all()  # what safe_norm protects against
    # min_norm: the floor is the value, and the gradient stays finite
    assert float(safe_norm(zero, min_norm=0.5)) == 0.5
    chex.assert_tree_all_finite(jax.grad(lambda v: safe_norm(v, 0.5))(zero))


@pytest.mark.parametrize("name", ["ordinary", "huge-f64", "tiny-f64", "mixed"])
def test_safe_norm_gradient_is_unit_direction(name):
    values, _ = CASES[name]
    g = jax.grad(safe_norm)(jnp.asarray(values))
    chex.assert_tree_all_finite(g)
    want = values / numpy_norm(values)  # ∇‖v‖ = v / ‖v‖, computed without overflow
    np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-300)


def test_safe_norm_axis_matches_numpy_per_row():
    rows = np.array([[3.0, 4.0], [0.0, 0.0], [1e200, -1e200], [1e-200, 0.0]])
    got = safe_norm(jnp.asarray(rows), axis=1)
    chex.assert_shape(got, (4,))
    np.testing.assert_allclose(got, numpy_norm(rows, axis=1), **IDENTITY.kw())
    g = jax.grad(lambda a: jnp.sum(safe_norm(a, axis=1)))(jnp.asarray(rows))
    chex.assert_tree_all_finite(g)
    np.testing.assert_array_equal(g[1], [0.0, 0.0])  # the zero row has a zero gradient
    np.testing.assert_allclose(g[0], [0.6, 0.8], **IDENTITY.kw())


def test_tree_norm_matches_numpy_and_is_safe_at_zero():
    tree = {"w": np.array([[1.0, -2.0], [3e100, 0.0]]), "b": (np.array(4e100), np.zeros(3))}
    flat = np.concatenate([np.ravel(x) for x in jax.tree.leaves(tree)])
    np.testing.assert_allclose(tree_norm(tree), numpy_norm(flat), **IDENTITY.kw())
    zeros = jax.tree.map(jnp.zeros_like, tree)
    assert float(tree_norm(zeros)) == 0.0
    chex.assert_tree_all_finite(jax.grad(tree_norm)(zeros))
    assert float(tree_norm({})) == 0.0
