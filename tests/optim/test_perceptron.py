"""Identities of Tyurin 2024 for jaxrank.optim.perceptron, each against an independent
reference: closed forms (Thms 4.1, 5.1), jax.grad, the paper's Table 1 and a NumPy simulation."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrank.data import (
    gaussian_random_labels,
    planted_margin,
    thm41_dataset,
    worst_case_dataset,
)
from jaxrank.optim import perceptron as P
from jaxrank.optim import run
from tests._tolerances import IDENTITY, IDENTITY_F32, NUMERICAL

# Large-γ limit: θ_t/γ − θ̂_t = O(e^{-γ·margin}) plus rounding of order γ·eps; 1e-8 leaves room.
LIMIT_RTOL = 1e-8


@pytest.fixture(scope="module")
def separable():
    a, y = planted_margin(3, 80, 6, 0.05)
    return jnp.asarray(a), jnp.asarray(y)


@pytest.fixture(scope="module")
def hard():
    """Cover's regime (random labels, n < 2d): separable with a tiny margin; BP needs 26 steps."""
    a, y = gaussian_random_labels(0, 40, 30)
    return jnp.asarray(a), jnp.asarray(y)


def _iters(solver, a, y, max_iters=20_000):
    return int(P.iterations_to_separate(solver, jnp.asarray(a), jnp.asarray(y),
                                        max_iters=max_iters))


# ------------------------------------------------------------------ primitives


def test_gradient_matches_jax_grad(separable):
    a, y = separable
    theta = jax.random.normal(jax.random.key(0), (a.shape[1],))
    np.testing.assert_allclose(P.logistic_grad(theta, a, y),
                               jax.grad(P.logistic_loss)(theta, a, y), **IDENTITY.kw())


def test_loss_matches_naive_formula(separable):
    a, y = separable
    theta = jax.random.normal(jax.random.key(1), (a.shape[1],))
    naive = np.mean(np.log1p(np.exp(-np.asarray(y) * (np.asarray(a) @ np.asarray(theta)))))
    np.testing.assert_allclose(P.logistic_loss(theta, a, y), naive, **IDENTITY.kw())


def test_loss_and_grad_finite_for_huge_margins():
    a = jnp.array([[1.0], [1.0]])
    y = jnp.array([1.0, -1.0])
    theta = jnp.array([1e4])  # margins +1e4 and -1e4: exp overflows in the naive form
    # f = ½[log(1+e^{-1e4}) + log(1+e^{1e4})] = ½·1e4 up to e^{-1e4}
    np.testing.assert_allclose(P.logistic_loss(theta, a, y), 5e3, **IDENTITY.kw())
    # ∇f = -½[σ(-1e4)·1 + σ(1e4)·(-1)] = ½
    np.testing.assert_allclose(P.logistic_grad(theta, a, y), [0.5], **IDENTITY.kw())
    assert np.isfinite(P.normalization_factor(theta, a, y))


def test_loss_decreases_to_zero_along_separating_direction(separable):
    a, y = separable
    _, _, w = planted_margin(3, 80, 6, 0.05, return_direction=True)
    vals = [float(P.logistic_loss(c * jnp.asarray(w), a, y)) for c in (1, 10, 100, 1e3, 1e4)]
    assert all(b < a_ for a_, b in zip(vals, vals[1:], strict=False))
    assert vals[-1] < 1e-100


def test_scaled_loss_tends_to_perceptron_loss(separable):
    a, y = separable
    theta = jax.random.normal(jax.random.key(2), (a.shape[1],))
    m = np.asarray(y) * (np.asarray(a) @ np.asarray(theta))
    perceptron_loss = np.mean(np.maximum(0.0, -m))
    # the gap is at most log(2)/s per sample
    got = P.scaled_logistic_loss(theta, a, y, 1e4)
    assert abs(float(got) - perceptron_loss) <= math.log(2) / 1e4


def test_beta_at_zero_is_two_and_tends_to_n_over_mistakes(separable):
    a, y = separable
    n = a.shape[0]
    np.testing.assert_allclose(P.normalization_factor(jnp.zeros(a.shape[1]), a, y), 2.0,
                               **IDENTITY.kw())
    theta = jax.random.normal(jax.random.key(3), (a.shape[1],))
    k = int(P.num_mistakes(theta, a, y))
    assert 0 < k < n
    np.testing.assert_allclose(P.normalization_factor(1e6 * theta, a, y), n / k,
                               **IDENTITY.kw())


# ------------------------------------------------------------------ first steps


@pytest.mark.parametrize("gamma", [1e-3, 1.0, 100.0, 1e6])
def test_first_step_from_zero(separable, gamma):
    a, y = separable
    n, d = a.shape
    s = np.asarray(a).T @ np.asarray(y)  # Σ y_i a_i
    th1, _, _ = run(P.lr_gd(gamma), jnp.zeros(d), 1, a, y)
    np.testing.assert_allclose(th1, gamma / (2 * n) * s, **IDENTITY.kw())
    th1, _, _ = run(P.normalized_lr_gd(gamma), jnp.zeros(d), 1, a, y)
    np.testing.assert_allclose(th1, gamma / n * s, **IDENTITY.kw())


def test_perceptron_family_first_steps(separable):
    a, y = separable
    n, d = a.shape
    s = np.asarray(a).T @ np.asarray(y)
    np.testing.assert_allclose(run(P.batch_perceptron(), jnp.zeros(d), 1, a, y)[0],
                               s / (2 * n), **IDENTITY.kw())
    np.testing.assert_allclose(run(P.normalized_batch_perceptron(), jnp.zeros(d), 1, a, y)[0],
                               s / n, **IDENTITY.kw())
    np.testing.assert_allclose(run(P.perceptron("first"), jnp.zeros(d), 1, a, y)[0],
                               np.asarray(y[0] * a[0]), **IDENTITY.kw())


def test_batch_perceptron_step_matches_numpy(separable):
    a, y = separable
    n, d = a.shape
    theta, _, _ = run(P.batch_perceptron(), jnp.zeros(d), 4, a, y)
    ref = np.asarray(a).T @ np.asarray(y) / (2 * n)
    an, yn = np.asarray(a), np.asarray(y)
    for _ in range(3):
        s = yn * (an @ ref) <= 0
        ref = ref + (an[s].T @ yn[s]) / n
    np.testing.assert_allclose(theta, ref, **IDENTITY.kw())


# ------------------------------------------------------------------ large-γ limits (Thm 3.2)


def _mistake_sets(solver, a, y, steps):
    def rec(theta, state, *_):
        return P.margins(theta, a, y) <= 0

    return np.asarray(run(solver, jnp.zeros(a.shape[1]), steps, a, y, record=rec)[2])


def test_lr_gd_tends_to_batch_perceptron(hard):
    a, y = hard
    k = _iters(P.batch_perceptron(), a, y)
    assert k > 3
    steps = k + 2
    # Thm 3.2 is a limit: σ(−γ m̂) saturates only when γ·min_i |m̂_i(t)| ≫ 1. On this data the
    # Batch Perceptron iterates have margins as small as 9e-7 (t = 10), so γ = 1e6 is not yet
    # in the limit (81 of 1120 set entries differ) while γ = 1e10 is.
    gamma = 1e10
    np.testing.assert_array_equal(_mistake_sets(P.lr_gd(gamma), a, y, steps),
                                  _mistake_sets(P.batch_perceptron(), a, y, steps))
    th, _, _ = run(P.lr_gd(gamma), jnp.zeros(a.shape[1]), 3, a, y)
    th_hat, _, _ = run(P.batch_perceptron(), jnp.zeros(a.shape[1]), 3, a, y)
    np.testing.assert_allclose(th / gamma, th_hat, rtol=LIMIT_RTOL)


def test_normalized_lr_gd_tends_to_normalized_batch_perceptron(hard):
    a, y = hard
    # Up to and including the first separated iterate: afterwards NBP stops (S_t = ∅) while
    # Normalized LR+GD keeps stepping γ along its softmax-weighted direction.
    steps = _iters(P.normalized_batch_perceptron(), a, y) + 1
    np.testing.assert_array_equal(
        _mistake_sets(P.normalized_lr_gd(1e10), a, y, steps),
        _mistake_sets(P.normalized_batch_perceptron(), a, y, steps))


def test_beta_trajectory_tends_to_n_over_mistakes(hard):
    a, y = hard
    n = a.shape[0]
    _, state, _ = run(P.normalized_lr_gd(1e10), jnp.zeros(a.shape[1]), 3, a, y)
    th2, _, _ = run(P.normalized_lr_gd(1e10), jnp.zeros(a.shape[1]), 2, a, y)
    k = int(P.num_mistakes(th2, a, y))
    np.testing.assert_allclose(state.beta, n / k, **IDENTITY.kw())


# ------------------------------------------------------------------ Thm 4.1


def test_thm41_closed_form_numbers():
    a, y = map(jnp.asarray, thm41_dataset())
    gamma = 100.0
    _, _, traj = run(P.lr_gd(gamma), jnp.zeros(2), 3, a, y,
                     record=lambda th, s, *_: th)
    th1, th2 = traj[1], traj[2]
    np.testing.assert_allclose(th1, gamma * np.array([0.5, 0.75]), **IDENTITY.kw())
    f1 = 0.5 * (np.logaddexp(0, gamma / 4) + np.logaddexp(0, -7 * gamma / 2))
    np.testing.assert_allclose(P.logistic_loss(th1, a, y), f1, **IDENTITY.kw())
    assert round(float(f1), 2) == 12.50
    np.testing.assert_allclose(th2 / gamma, [1.0, 0.25], **NUMERICAL.kw())
    np.testing.assert_allclose(jnp.linalg.norm(P.logistic_grad(th1, a, y)), math.sqrt(2) / 2,
                               **NUMERICAL.kw())
    assert float(jnp.linalg.norm(P.logistic_grad(th2, a, y))) < 1e-30
    assert float(P.accuracy(th2, a, y)) == 1.0


# ------------------------------------------------------------------ Table 1 / Thm 5.1 (exact)


def test_table1_worst_case_block_exact():
    a, y = map(jnp.asarray, worst_case_dataset(1000))
    got = jax.vmap(lambda g: P.iterations_to_separate(P.normalized_lr_gd(g), a, y,
                                                      max_iters=5000))(
        jnp.array([100.0, 10.0, 1.0, 0.1]))
    np.testing.assert_array_equal(got, [2, 2, 16, 157])
    assert _iters(P.lr_gd(100.0), a, y) == 308


# Golden counts on the Thm 5.1 worst case, printed by the independent NumPy simulation
# `python -m tests.optim.perceptron_reference` (committed beside this file; the cheap entries are
# re-derived by test_golden_counts_match_the_numpy_reference below).
GOLDEN_GROWTH = {10: (4, 4, 4), 100: (31, 55, 31), 300: (93, 191, 91), 2000: (616, 1563, 601)}
GOLDEN_OTHER = {"normalized_batch_perceptron/1000": 2, "perceptron/1000": 2,
                "normalized_lr_gd/10": (7, 60), "normalized_lr_gd/2000": (18, 171)}


@pytest.mark.parametrize("n", sorted(GOLDEN_GROWTH))
def test_worst_case_growth_matches_reference_simulation(n):
    lr100, lr10, bp = GOLDEN_GROWTH[n]
    a, y = worst_case_dataset(n)
    assert _iters(P.lr_gd(100.0), a, y) == lr100
    assert _iters(P.lr_gd(10.0), a, y) == lr10
    assert _iters(P.batch_perceptron(), a, y) == bp


def test_worst_case_other_methods():
    a, y = worst_case_dataset(1000)
    assert _iters(P.normalized_batch_perceptron(), a, y) == GOLDEN_OTHER[
        "normalized_batch_perceptron/1000"]
    assert _iters(P.perceptron("first"), a, y) == GOLDEN_OTHER["perceptron/1000"]
    for n in (10, 2000):
        i1, i01 = GOLDEN_OTHER[f"normalized_lr_gd/{n}"]
        a, y = worst_case_dataset(n)
        assert _iters(P.normalized_lr_gd(1.0), a, y) == i1
        assert _iters(P.normalized_lr_gd(0.1), a, y) == i01


def test_golden_counts_match_the_numpy_reference():
    from tests.optim import perceptron_reference as ref

    cheap = [n for n in GOLDEN_GROWTH if n <= 300]
    assert ref.golden_growth(cheap) == {n: GOLDEN_GROWTH[n] for n in cheap}
    a, y = ref.worst_case(1000)
    np.testing.assert_array_equal(a, worst_case_dataset(1000)[0])
    np.testing.assert_array_equal(y, worst_case_dataset(1000)[1])
    assert ref.count("perceptron", a, y) == GOLDEN_OTHER["perceptron/1000"]
    assert ref.count("normalized_batch_perceptron", a, y) == GOLDEN_OTHER[
        "normalized_batch_perceptron/1000"]
    a, y = ref.worst_case(10)
    assert (ref.count("normalized_lr_gd", a, y, 1.0),
            ref.count("normalized_lr_gd", a, y, 0.1)) == GOLDEN_OTHER["normalized_lr_gd/10"]


def test_bounds_hold_on_worst_case():
    n = 1000
    a, y = worst_case_dataset(n)
    mu, r = 0.5, math.sqrt(1.25)  # closed form for the Thm 5.1 data set
    assert _iters(P.batch_perceptron(), a, y) <= P.batch_perceptron_bound(n=n, radius=r, mu=mu)
    assert _iters(P.perceptron(), a, y) <= P.novikoff_bound(radius=r, mu=mu)
    assert _iters(P.normalized_batch_perceptron(), a, y) <= P.novikoff_bound(radius=r, mu=mu)
    for g in (0.1, 1.0, 10.0, 100.0):
        assert _iters(P.normalized_lr_gd(g), a, y) <= float(
            P.normalized_lr_gd_bound(radius=r, mu=mu, n=n, learning_rate=g))


@pytest.mark.parametrize(
    "bound, args",
    [(P.batch_perceptron_bound, (1000, 1.0, 0.5)), (P.novikoff_bound, (1.0, 0.5)),
     (P.normalized_lr_gd_bound, (1.0, 0.5, 1000, 100.0))],
)
def test_bounds_are_keyword_only(bound, args):
    # normalized_lr_gd_bound(radius, mu, n, learning_rate) vs batch_perceptron_bound(n, radius, mu):
    # positional calls silently gave wrong bounds when a user swapped the two orders
    with pytest.raises(TypeError, match="positional"):
        bound(*args)


def test_bounds_closed_forms():
    assert P.batch_perceptron_bound(n=10, radius=2.0, mu=0.5) == 10 * 4.0 / 0.25
    assert P.novikoff_bound(radius=2.0, mu=0.5) == 16.0
    np.testing.assert_allclose(
        P.normalized_lr_gd_bound(radius=2.0, mu=0.5, n=10, learning_rate=4.0),
        16.0 + 2 * math.log(19) / (4.0 * 0.25), **IDENTITY.kw())


def test_iterations_to_separate_cap_and_vmap(hard):
    a, y = hard
    k = _iters(P.lr_gd(1.0), a, y)
    assert k >= 1  # θ_0 = 0 has zero margins, never a solution
    assert _iters(P.lr_gd(1.0), a, y, max_iters=k - 1) == -1
    assert _iters(P.lr_gd(1.0), a, y, max_iters=k) == k
    gammas = jnp.array([0.1, 1.0, 10.0])
    batched = jax.vmap(lambda g: P.iterations_to_separate(P.lr_gd(g), a, y,
                                                          max_iters=20_000))(gammas)
    np.testing.assert_array_equal(batched, [_iters(P.lr_gd(float(g)), a, y) for g in gammas])


SEPARATING_SOLVERS = {
    "lr_gd": lambda: P.lr_gd(10.0), "normalized_lr_gd": lambda: P.normalized_lr_gd(1.0),
    "batch_perceptron": P.batch_perceptron,
    "normalized_batch_perceptron": P.normalized_batch_perceptron,
    "perceptron": P.perceptron, "perceptron_worst": lambda: P.perceptron("worst"),
}


@pytest.mark.parametrize("name", sorted(SEPARATING_SOLVERS))
def test_iterations_to_separate_matches_a_fixed_length_run(name, hard, separable):
    """The count read from the state (one update past the answer) is the first t at which a
    fixed-length ``run`` records zero mistakes, and the cap is exact on both sides."""
    for a, y in (hard, separable):
        solver = SEPARATING_SOLVERS[name]()
        horizon = 3000
        _, _, mistakes = run(solver, jnp.zeros(a.shape[1], a.dtype), horizon, a, y,
                             record=lambda th, s, a, y: P.num_mistakes(th, a, y))
        hit = np.flatnonzero(np.asarray(mistakes) == 0)
        assert hit.size, f"{name} must separate within {horizon} steps"
        k = int(hit[0])
        assert _iters(solver, a, y, max_iters=horizon) == k
        assert _iters(solver, a, y, max_iters=k) == k
        if k > 0:
            assert _iters(solver, a, y, max_iters=k - 1) == -1


def _while_body_dots(solver, a, y):
    jaxpr = jax.make_jaxpr(lambda a, y: P.iterations_to_separate(solver, a, y, max_iters=50))(a, y)

    def loops(eqns):
        for e in eqns:
            if e.primitive.name == "while":
                yield e
            for v in e.params.values():
                if hasattr(v, "jaxpr") and hasattr(v.jaxpr, "eqns"):
                    yield from loops(v.jaxpr.eqns)

    def dots(eqns):
        n = 0
        for e in eqns:
            n += e.primitive.name == "dot_general"
            for v in e.params.values():
                if hasattr(v, "jaxpr") and hasattr(v.jaxpr, "eqns"):
                    n += dots(v.jaxpr.eqns)
        return n

    (loop,) = list(loops(jaxpr.jaxpr.eqns))
    return dots(loop.params["cond_jaxpr"].jaxpr.eqns), dots(loop.params["body_jaxpr"].jaxpr.eqns)


@pytest.mark.parametrize("name,body", [("lr_gd", 2), ("normalized_lr_gd", 2),
                                       ("batch_perceptron", 2),
                                       ("normalized_batch_perceptron", 2), ("perceptron", 1)])
def test_iterations_to_separate_reads_the_data_once_per_product(name, body, hard):
    """The stopping test reads the state, not A: the loop condition has no matrix product and
    the body only the update's own (Aθ and, for the batch methods, the weighted row sum)."""
    a, y = hard
    assert _while_body_dots(SEPARATING_SOLVERS[name](), a, y) == (0, body)


def test_perceptron_worst_choice_picks_most_violated(separable):
    a, y = separable
    d = a.shape[1]
    th1 = run(P.perceptron("first"), jnp.zeros(d), 1, a, y)[0]
    m = P.margins(th1, a, y)
    th2 = run(P.perceptron("worst"), jnp.zeros(d), 2, a, y)[0]
    j = int(jnp.argmin(m))
    np.testing.assert_allclose(th2, th1 + y[j] * a[j], **IDENTITY.kw())
    assert _iters(P.perceptron("worst"), a, y) >= 1


# ------------------------------------------------------------------ numerics


def test_huge_step_sizes_stay_finite(separable):
    a, y = separable
    for solver in (P.lr_gd(1e8), P.normalized_lr_gd(1e8)):
        theta, _, traj = run(solver, jnp.zeros(a.shape[1]), 50, a, y,
                             record=lambda th, s, *_: P.logistic_loss(th, a, y))
        assert np.all(np.isfinite(theta)) and np.all(np.isfinite(traj))


def test_normalized_direction_after_separation_is_finite():
    # All margins ≫ 0: σ(−m) underflows to 0 in float64; the softmax form stays finite.
    a = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    y = jnp.array([1.0, 1.0])
    solver = P.normalized_lr_gd(1.0)
    theta, state = solver.update(jnp.array([1e4, 2e4]), solver.init(jnp.zeros(2), a, y), a, y)
    assert np.all(np.isfinite(theta))
    assert float(state.beta) > 1e300  # true β ≈ 2·e^{1e4} overflows to inf: honest IEEE
    # the direction concentrates on the smallest margin, sample 0
    np.testing.assert_allclose(theta, [1e4 + 1.0, 2e4], **IDENTITY.kw())


def test_float32_in_float32_out(separable):
    a, y = (x.astype(jnp.float32) for x in separable)
    for solver in (P.lr_gd(10.0), P.normalized_lr_gd(10.0), P.batch_perceptron()):
        theta, state, _ = run(solver, jnp.zeros(a.shape[1], jnp.float32), 3, a, y)
        assert theta.dtype == jnp.float32
        assert all(
            leaf.dtype in (jnp.float32, jnp.int32) for leaf in jax.tree.leaves(state)
        )
    th32 = run(P.lr_gd(10.0), jnp.zeros(a.shape[1], jnp.float32), 3, a, y)[0]
    th64 = run(P.lr_gd(10.0), jnp.zeros(a.shape[1]), 3, *separable)[0]
    np.testing.assert_allclose(th32, th64, **IDENTITY_F32.kw())


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "factory, arg, match",
    [
        (P.lr_gd, -1.0, r"`lr_gd\(learning_rate=...\)` must be a positive finite number, got -1.0"),
        (P.lr_gd, 0.0, r"lr_gd\(learning_rate=...\)"),
        (P.normalized_lr_gd, float("nan"), r"normalized_lr_gd\(learning_rate=...\)"),
        (P.normalized_lr_gd, float("inf"), r"normalized_lr_gd\(learning_rate=...\)"),
    ],
)
def test_bad_step_size(factory, arg, match):
    with pytest.raises(ValueError, match=match):
        factory(arg)


def test_bad_choice():
    with pytest.raises(ValueError, match=r"perceptron\(choice=...\)"):
        P.perceptron("random")


def test_bad_data_messages():
    a = jnp.ones((3, 2))
    theta = jnp.zeros(2)
    with pytest.raises(ValueError, match=r"lr_gd\(labels=...\)` must take values in \{-1, \+1\}"):
        run(P.lr_gd(1.0), theta, 1, a, jnp.array([1.0, 0.0, -1.0]))
    with pytest.raises(ValueError, match=r"same number of rows, got \(3, 2\) and \(2,\)"):
        run(P.lr_gd(1.0), theta, 1, a, jnp.array([1.0, -1.0]))
    bad = a.at[1, 0].set(jnp.nan)
    with pytest.raises(ValueError, match=r"features=...\)` must be finite.*index \(1, 0\)"):
        run(P.batch_perceptron(), theta, 1, bad, jnp.array([1.0, -1.0, 1.0]))
    with pytest.raises(TypeError, match=r"features=...\)` must have a floating dtype"):
        run(P.lr_gd(1.0), theta, 1, jnp.ones((3, 2), jnp.int32), jnp.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match=r"theta=...\)` must have shape \(2,\)"):
        run(P.lr_gd(1.0), jnp.zeros(3), 1, a, jnp.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match=r"labels=...\)` must have rank 1"):
        run(P.lr_gd(1.0), theta, 1, a, jnp.ones((3, 1)))
    with pytest.raises(ValueError, match=r"iterations_to_separate\(max_iters=...\)"):
        P.iterations_to_separate(P.lr_gd(1.0), a, jnp.array([1.0, -1.0, 1.0]), max_iters=0)


def test_accuracy_is_exactly_one_when_separated():
    # n = 2750: a mean computed as sum · (1/n) gives 0.9999999999999999
    a = jnp.ones((2750, 1))
    y = jnp.ones(2750)
    assert float(P.accuracy(jnp.ones(1), a, y)) == 1.0
    assert float(P.accuracy(-jnp.ones(1), a, y)) == 0.0


def test_diagnostics_match_the_separate_primitives(hard):
    a, y = hard
    theta = jax.random.normal(jax.random.key(5), (a.shape[1],))
    d = P.diagnostics(theta, a, y)
    np.testing.assert_allclose(d["loss"], P.logistic_loss(theta, a, y), **IDENTITY.kw())
    np.testing.assert_allclose(d["grad_norm"], jnp.linalg.norm(jax.grad(P.logistic_loss)(
        theta, a, y)), **IDENTITY.kw())
    assert float(d["accuracy"]) == float(P.accuracy(theta, a, y))
    assert int(d["num_mistakes"]) == int(P.num_mistakes(theta, a, y))
    m = np.asarray(y) * (np.asarray(a) @ np.asarray(theta))
    np.testing.assert_allclose(d["min_abs_margin"], np.min(np.abs(m)), **IDENTITY.kw())
