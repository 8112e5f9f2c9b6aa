"""Tests for jaxrank.optim.margin: the certified hard-margin solver `hard_margin`.

References are independent of the solver: closed forms (Thm 5.1 and Thm 4.1 data of Tyurin 2024,
distance from the origin to a segment) and scipy's SLSQP on the primal
min ||w||^2 s.t. y_i a_i^T w >= 1, whose optimum gives mu = 1 / ||w*||.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

from jaxrank.optim.margin import MarginCertificate, hard_margin
from tests._tolerances import IDENTITY, IDENTITY_F32, NUMERICAL

# The solver's own gap target, a tenth of the NUMERICAL tier, so mu agrees with references to it.
SOLVER_RTOL = NUMERICAL.rtol / 10

# --------------------------------------------------------------------------- data and references
# Most tests share the (40, 3) and (2, 2) float64 shapes so the suite compiles the solver few times.


def planted(seed, n=200, d=10, gap=0.1):
    """Separable data: Gaussian points pushed `gap` away from a random hyperplane through 0."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    a = rng.standard_normal((n, d))
    y = np.where(a @ u >= 0, 1.0, -1.0)
    return a + gap * y[:, None] * u[None, :], y


def thm51(n=1000):
    """Thm 5.1 worst case: (0.5, -1) with label +1, then n-1 copies of (-0.5, -1) with label -1."""
    a = np.tile([-0.5, -1.0], (n, 1))
    a[0] = [0.5, -1.0]
    y = -np.ones(n)
    y[0] = 1.0
    return a, y


def slsqp_margin(a, y):
    """mu = 1 / ||w*||, w* = argmin ||w||^2 s.t. y_i a_i^T w >= 1, by scipy SLSQP from w = 0."""
    z = y[:, None] * a
    res = minimize(
        lambda w: w @ w,
        np.zeros(a.shape[1]),
        jac=lambda w: 2 * w,
        method="SLSQP",
        constraints=[{"type": "ineq", "fun": lambda w: z @ w - 1, "jac": lambda w: z}],
        options={"maxiter": 1000, "ftol": 1e-13},
    )
    assert res.success, res.message
    return 1.0 / np.linalg.norm(res.x)


def min_margin(a, y, theta):
    return np.min(y * (np.asarray(a) @ np.asarray(theta)))


# --------------------------------------------------------------------------- closed forms


def test_thm51_worst_case_margin_and_radius():
    a, y = thm51()
    cert = hard_margin(a, y, rtol=SOLVER_RTOL)
    assert isinstance(cert, MarginCertificate)
    assert float(cert.mu_lower) > 0
    np.testing.assert_allclose(cert.mu_lower, 0.5, **NUMERICAL.kw())  # Thm 5.1: mu = 1/2
    np.testing.assert_allclose(cert.mu_upper, 0.5, **NUMERICAL.kw())
    np.testing.assert_allclose(cert.theta, [1.0, 0.0], **NUMERICAL.kw())
    np.testing.assert_allclose(cert.radius**2, 1.25, **IDENTITY.kw())  # R^2 = 0.25 + 1
    assert float(cert.radius**2 / cert.mu_lower**2) == pytest.approx(5.0, rel=NUMERICAL.rtol * 3)


def test_thm41_data_matches_closed_form_and_slsqp():
    a = np.array([[1.0, -1.0], [-1.0, -4.0]])
    y = np.array([1.0, -1.0])
    # Two points: mu is the distance from 0 to the segment [z_1, z_2], z_i = y_i a_i.
    z1, z2 = y[0] * a[0], y[1] * a[1]
    t = np.clip(-z1 @ (z2 - z1) / np.sum((z2 - z1) ** 2), 0.0, 1.0)
    mu_closed = np.linalg.norm(z1 + t * (z2 - z1))
    cert = hard_margin(a, y, rtol=SOLVER_RTOL)
    np.testing.assert_allclose(mu_closed, slsqp_margin(a, y), **NUMERICAL.kw())
    np.testing.assert_allclose(cert.mu_lower, mu_closed, **NUMERICAL.kw())
    np.testing.assert_allclose(cert.mu_upper, mu_closed, **NUMERICAL.kw())
    np.testing.assert_allclose(cert.theta, [1.0, 0.0], **NUMERICAL.kw())


# --------------------------------------------------------------------------- random separable data


@pytest.mark.parametrize("seed", [0, 1])
def test_random_separable_matches_slsqp(seed):
    a, y = planted(seed)
    cert = hard_margin(a, y, rtol=SOLVER_RTOL)
    lo, up = float(cert.mu_lower), float(cert.mu_upper)
    assert 0 < lo <= up
    assert up - lo <= SOLVER_RTOL * up
    assert int(cert.num_steps) < 10_000
    mu = slsqp_margin(a, y)
    np.testing.assert_allclose(lo, mu, **NUMERICAL.kw())
    np.testing.assert_allclose(up, mu, **NUMERICAL.kw())
    # The witness: a unit vector whose worst margin is exactly mu_lower.
    np.testing.assert_allclose(np.linalg.norm(cert.theta), 1.0, **IDENTITY.kw())
    np.testing.assert_allclose(lo, min_margin(a, y, cert.theta), **IDENTITY.kw())
    np.testing.assert_allclose(cert.radius, np.max(np.linalg.norm(a, axis=1)), **IDENTITY.kw())


@pytest.mark.parametrize("max_steps", [1, 3, 10, 30, 100])
def test_certificate_is_valid_when_stopped_early(max_steps):
    a, y = planted(0)
    mu = slsqp_margin(a, y)
    cert = hard_margin(a, y, max_steps=max_steps, rtol=SOLVER_RTOL)
    assert int(cert.num_steps) == max_steps
    assert float(cert.mu_lower) <= mu * (1 + NUMERICAL.rtol)
    assert mu <= float(cert.mu_upper) * (1 + NUMERICAL.rtol)
    np.testing.assert_allclose(np.linalg.norm(cert.theta), 1.0, **IDENTITY.kw())
    np.testing.assert_allclose(cert.mu_lower, min_margin(a, y, cert.theta), **IDENTITY.kw())


# Each tenfold increase of the step budget must at least halve the certified gap (measured on
# planted(1): 1.86, 0.37, 0.050, 0.0016 after 1, 10, 100, 1000 steps, i.e. 5x, 7x and 31x).
# Best-so-far bounds cannot increase the gap by construction, so "non-increasing" would be a
# test that cannot fail; a real decrease can.
GAP_SHRINK_PER_DECADE = 0.5


def test_gap_shrinks_with_more_steps():
    a, y = planted(1)
    certs = [hard_margin(a, y, max_steps=k, rtol=SOLVER_RTOL) for k in (1, 10, 100, 1000)]
    gaps = [float(c.mu_upper - c.mu_lower) for c in certs]
    for before, after in zip(gaps, gaps[1:], strict=False):
        assert after <= GAP_SHRINK_PER_DECADE * before, gaps
    lowers = [float(c.mu_lower) for c in certs]
    uppers = [float(c.mu_upper) for c in certs]
    assert all(b > a_ for a_, b in zip(lowers, lowers[1:], strict=False)), lowers
    assert all(b < a_ for a_, b in zip(uppers, uppers[1:], strict=False)), uppers


def test_jit_matches_eager():
    a, y = planted(0, n=40, d=3)
    eager = hard_margin(a, y, rtol=SOLVER_RTOL)
    jitted = jax.jit(lambda a, y: hard_margin(a, y, rtol=SOLVER_RTOL))(a, y)
    for e, j in zip(eager, jitted, strict=True):
        np.testing.assert_allclose(e, j, **IDENTITY.kw())


# --------------------------------------------------------------------------- degenerate data


def test_non_separable_keeps_lower_bound_nonpositive():
    a = np.array([[1.0, 2.0], [1.0, 2.0]])  # the same point with both labels
    y = np.array([1.0, -1.0])
    cert = hard_margin(a, y, max_steps=200)
    assert all(np.all(np.isfinite(x)) for x in cert)
    assert float(cert.mu_lower) <= 0
    assert float(cert.mu_upper) >= 0
    assert int(cert.num_steps) == 200  # never certified: runs to the cap


def test_non_separable_random_labels_runs_to_cap():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((40, 3))  # n >> d with random labels: not separable
    y = np.where(rng.random(40) < 0.5, 1.0, -1.0)
    cert = hard_margin(a, y, max_steps=500)
    assert all(np.all(np.isfinite(x)) for x in cert)
    assert float(cert.mu_lower) <= 0
    assert int(cert.num_steps) == 500


def test_zero_row_gives_zero_margin_and_finite_outputs():
    a, y = planted(2, n=40, d=3)
    a[7] = 0.0
    cert = hard_margin(a, y)
    assert all(np.all(np.isfinite(x)) for x in cert)
    assert float(cert.mu_lower) == 0.0
    assert float(cert.mu_upper) == 0.0
    np.testing.assert_allclose(np.linalg.norm(cert.theta), 1.0, **IDENTITY.kw())


def test_all_zero_features_finite():
    cert = hard_margin(np.zeros((2, 2)), np.array([1.0, -1.0]))
    assert all(np.all(np.isfinite(x)) for x in cert)
    assert float(cert.mu_lower) == 0.0 and float(cert.mu_upper) == 0.0
    assert float(cert.radius) == 0.0


# --------------------------------------------------------------------------- dtype, vmap


def test_float32_in_float32_out():
    a, y = thm51(n=50)
    # float32 rounding of margins limits the reachable relative gap to about eps * R / mu.
    cert = hard_margin(a.astype(np.float32), y.astype(np.float32), rtol=1e-5)
    for x in (cert.theta, cert.mu_lower, cert.mu_upper, cert.radius):
        assert x.dtype == jnp.float32
    assert cert.num_steps.dtype == jnp.int32
    np.testing.assert_allclose(cert.mu_lower, 0.5, **IDENTITY_F32.kw())
    np.testing.assert_allclose(cert.mu_upper, 0.5, rtol=2e-5)  # the rtol=1e-5 gap asked for above


def test_integer_labels_accepted():
    a, y = planted(0, n=40, d=3)
    by_float = hard_margin(a, y)
    by_int = hard_margin(a, y.astype(np.int32))
    for f, i in zip(by_float, by_int, strict=True):
        np.testing.assert_array_equal(f, i)


def test_vmap_over_three_data_sets():
    data = [planted(seed, n=40, d=3) for seed in range(3)]
    a = jnp.stack([d[0] for d in data])
    y = jnp.stack([d[1] for d in data])
    batched = jax.vmap(lambda a, y: hard_margin(a, y, rtol=SOLVER_RTOL))(a, y)
    assert batched.theta.shape == (3, 3)
    assert batched.mu_lower.shape == (3,)
    for k in range(3):
        single = hard_margin(data[k][0], data[k][1], rtol=SOLVER_RTOL)
        np.testing.assert_allclose(batched.mu_lower[k], single.mu_lower, **NUMERICAL.kw())
        np.testing.assert_allclose(batched.mu_upper[k], single.mu_upper, **NUMERICAL.kw())
        np.testing.assert_allclose(batched.mu_lower[k], slsqp_margin(*data[k]), **NUMERICAL.kw())


# --------------------------------------------------------------------------- input checks

_A = np.array([[1.0, 0.0], [0.0, 1.0]])
_Y = np.array([1.0, -1.0])


@pytest.mark.parametrize(
    "features, labels, kwargs, error",
    [
        (_A, np.array([1.0, 0.0]), {}, ValueError),  # labels not +-1
        (np.array([[np.nan, 0.0], [0.0, 1.0]]), _Y, {}, ValueError),  # NaN feature
        (np.ones((3, 2)), _Y, {}, ValueError),  # row count mismatch
        (np.ones(2), _Y, {}, ValueError),  # features not (n, d)
        (np.ones((2, 2), np.int32), _Y, {}, TypeError),  # integer features
        (_A, _Y, {"max_steps": 0}, ValueError),
        (_A, _Y, {"max_steps": 2.5}, TypeError),
        (_A, _Y, {"rtol": 0.0}, ValueError),
    ],
)
def test_bad_input_raises_naming_the_call(features, labels, kwargs, error):
    with pytest.raises(error, match="hard_margin"):
        hard_margin(features, labels, **kwargs)


def _while_bodies(hlo: str) -> list[str]:
    """The text of every while-loop body computation of an optimized HLO module."""
    import re

    blocks, name, lines = {}, None, []
    for line in hlo.splitlines():
        head = re.match(r"^\s*(?:ENTRY\s+)?%?([\w.\-]+)\s*\(.*\)\s*->.*\{\s*$", line)
        if head:
            name, lines = head.group(1), []
        elif line.strip() == "}" and name is not None:
            blocks[name] = "\n".join(lines)
            name = None
        elif name is not None:
            lines.append(line)
    bodies = re.findall(r"body=%?([\w.\-]+)", hlo)
    return [blocks[b] for b in bodies if b in blocks]


def test_the_dual_ascent_loop_never_transposes_the_data():
    """Zᵀ is formed once, before the loop: no step of the dual ascent writes a (d, n) array
    (XLA:CPU used to copy Z into Zᵀ on every step, three times the step's own cost)."""
    import re

    from jaxrank.optim import margin as M

    n, d = 5000, 784  # the Fashion-MNIST pair's shape (small shapes never had the copy)
    a = jax.ShapeDtypeStruct((n, d), jnp.float64)
    y = jax.ShapeDtypeStruct((n,), jnp.float64)
    hlo = M._hard_margin.lower(a, y, 10, 1e-9).compile().as_text()
    bodies = _while_bodies(hlo)
    assert bodies, "no while loop found in the compiled certificate"
    made = re.compile(rf"=\s*f64\[{d},{n}\]\{{[^}}]*\}}\s+([\w\-]+)\(")
    ops = [op for body in bodies for op in made.findall(body)]
    assert any(f"f64[{n}]" in b for b in bodies), "the parser must see the loop's (n,) work"
    # Zᵀ rides along the loop (get-tuple-element); nothing in a step computes a (d, n) array
    assert set(ops) <= {"get-tuple-element", "bitcast"}, ops
