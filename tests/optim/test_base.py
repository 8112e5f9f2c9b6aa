"""Tests for jaxrank.optim._base: the `run` loop and the `from_optax` adapter.

References are independent of the code under test: closed forms, NumPy gradient descent, and a
plain Python loop over ``init``/``update`` outside any ``scan``.
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrank import _cache
from jaxrank.data import planted_margin, thm41_dataset
from jaxrank.optim import OptaxSolverState, Solver, _base, from_optax, perceptron, run, run_until
from tests._tolerances import IDENTITY, assert_trees_close

# --------------------------------------------------------------------------- helpers


def _record_lr(params, state, *_):
    """Module-level record function: one stable object, so `run` compiles once for it."""
    return {"params": params, "count": state.count, "loss": state.loss}


def _record_optax(params, state, *_):
    return {"params": params, "count": state.count, "loss": state.loss}


def manual_loop(solver, params, num_steps, *args, record=None):
    """`run` written as a Python loop over eager init/update (no scan, no jit)."""
    state = solver.init(params, *args)
    records = []
    for _ in range(num_steps):
        if record is not None:
            records.append(record(params, state, *args))
        params, state = solver.update(params, state, *args)
    traj = None if record is None else jax.tree.map(lambda *xs: np.stack(xs), *records)
    return params, state, traj


def doubling_solver():
    """Toy solver with a closed form: x_{t+1} = 2 x_t + 1, so x_t = 2^t (x_0 + 1) - 1."""

    def init(x):
        return jnp.zeros((), jnp.int32)

    def update(x, count):
        return 2.0 * x + 1.0, count + 1

    return Solver(init, update)


def thm41():
    features, labels = thm41_dataset()
    return jnp.asarray(features), jnp.asarray(labels)


def quadratic(x, q, b):
    r""":math:`\frac12 x^\top Q x - b^\top x`, gradient :math:`Qx - b`."""
    return 0.5 * x @ (q @ x) - b @ x


def quadratic_problem():
    rng = np.random.default_rng(0)
    m = rng.standard_normal((3, 3))
    q = m @ m.T / 3.0 + np.eye(3)
    return q, rng.standard_normal(3), rng.standard_normal(3)  # Q, b, x_0


def numpy_gd(q, b, x0, learning_rate, num_steps):
    """Iterates x_0, ..., x_T of x_{t+1} = x_t - η (Q x_t - b), in NumPy."""
    xs = [np.asarray(x0, np.float64)]
    for _ in range(num_steps):
        xs.append(xs[-1] - learning_rate * (q @ xs[-1] - b))
    return np.stack(xs)


# --------------------------------------------------------------------------- run


def test_run_trajectory_closed_form():
    x0 = jnp.array([0.5, -3.0])
    x, count, traj = run(doubling_solver(), x0, 5, record=lambda x, c: (x, c))
    t = np.arange(5)
    expected = 2.0 ** t[:, None] * (np.asarray(x0) + 1.0) - 1.0  # x_t for t = 0..4
    np.testing.assert_allclose(traj[0], expected, **IDENTITY.kw())
    np.testing.assert_array_equal(traj[1], t)  # state entering step t is t
    np.testing.assert_allclose(x, 2.0**5 * (np.asarray(x0) + 1.0) - 1.0, **IDENTITY.kw())
    assert int(count) == 5


def test_run_matches_manual_loop():
    features, labels = thm41()
    solver = perceptron.lr_gd(2.0)
    theta0 = jnp.array([0.1, -0.2])
    got = run(solver, theta0, 6, features, labels, record=_record_lr)
    want = manual_loop(solver, theta0, 6, features, labels, record=_record_lr)
    assert_trees_close(got, want, IDENTITY)
    params, state, traj = got
    # trajectory[t] is recorded on the iterate entering step t.
    np.testing.assert_array_equal(traj["params"][0], theta0)
    np.testing.assert_array_equal(traj["count"], np.arange(6))
    assert np.isnan(traj["loss"][0])  # init state: no loss yet
    assert isinstance(state, perceptron.LRGDState) and int(state.count) == 6


def test_run_without_record_returns_none_trajectory():
    features, labels = thm41()
    solver = perceptron.lr_gd(2.0)
    params, state, traj = run(solver, jnp.zeros(2), 4, features, labels)
    assert traj is None
    want_params, want_state, _ = manual_loop(solver, jnp.zeros(2), 4, features, labels)
    assert_trees_close((params, state), (want_params, want_state), IDENTITY)


def test_run_second_call_does_not_recompile():
    features, labels = thm41()
    solver = perceptron.lr_gd(2.0)
    run(solver, jnp.zeros(2), 7, features, labels, record=_record_lr)
    before = _base._scan._cache_size()
    # New values, same solver object, num_steps, record function and shapes.
    run(solver, jnp.ones(2), 7, features, -labels, record=_record_lr)
    assert _base._scan._cache_size() == before
    # The counter does see a genuinely new program (guards against a vacuous check).
    run(solver, jnp.ones(2), 8, features, labels, record=_record_lr)
    assert _base._scan._cache_size() == before + 1


def test_run_accepts_numpy_int_num_steps():
    params, state, _ = run(doubling_solver(), jnp.zeros(()), np.int64(3))
    assert float(params) == 7.0 and int(state) == 3


@pytest.mark.parametrize(
    ("num_steps", "error"),
    [
        (0, ValueError),
        (-2, ValueError),
        (2.0, TypeError),
        (True, TypeError),
        ("3", TypeError),
        (None, TypeError),
    ],
)
def test_run_rejects_bad_num_steps(num_steps, error):
    with pytest.raises(error, match=r"run\(num_steps=\.\.\.\)"):
        run(doubling_solver(), jnp.zeros(()), num_steps)


@pytest.mark.parametrize(
    "not_a_solver",
    [
        tuple(doubling_solver()),  # a plain (init, update) tuple
        optax.sgd(0.1),  # a GradientTransformation also has init/update fields
        doubling_solver().update,
    ],
    ids=["tuple", "optax", "function"],
)
def test_run_rejects_non_solver(not_a_solver):
    with pytest.raises(TypeError, match=r"run\(solver=\.\.\.\)"):
        run(not_a_solver, jnp.zeros(()), 3)


def test_run_eager_init_checks_fire():
    features, _ = thm41()
    with pytest.raises(ValueError, match=r"lr_gd\(labels=\.\.\.\)"):
        run(perceptron.lr_gd(1.0), jnp.zeros(2), 3, features, jnp.array([1.0, 0.0]))


# --------------------------------------------------------------------------- from_optax


def test_from_optax_sgd_is_gradient_descent_step_for_step():
    q, b, x0 = quadratic_problem()
    want = numpy_gd(q, b, x0, 0.1, 8)
    solver = from_optax(optax.sgd(0.1), quadratic)
    x = jnp.asarray(x0)
    state = solver.init(x, q, b)
    assert isinstance(state, OptaxSolverState)
    assert int(state.count) == 0 and np.isnan(state.loss)
    for t in range(8):
        x_next, state = solver.update(x, state, q, b)
        np.testing.assert_allclose(x_next, want[t + 1], **IDENTITY.kw())
        # state.loss is the loss at the iterate the step started from.
        np.testing.assert_allclose(state.loss, quadratic(want[t], q, b), **IDENTITY.kw())
        assert int(state.count) == t + 1
        x = x_next


def test_from_optax_under_run():
    q, b, x0 = quadratic_problem()
    want = numpy_gd(q, b, x0, 0.1, 8)
    x, state, traj = run(
        from_optax(optax.sgd(0.1), quadratic), jnp.asarray(x0), 8, q, b, record=_record_optax
    )
    np.testing.assert_allclose(x, want[-1], **IDENTITY.kw())
    np.testing.assert_allclose(traj["params"], want[:-1], **IDENTITY.kw())
    losses = [quadratic(w, q, b) for w in want[:-2]]  # state entering step t holds f(x_{t-1})
    np.testing.assert_allclose(traj["loss"][1:], losses, **IDENTITY.kw())
    np.testing.assert_allclose(state.loss, quadratic(want[-2], q, b), **IDENTITY.kw())
    assert int(state.count) == 8


def test_from_optax_momentum_state_threads_through_run():
    q, b, x0 = quadratic_problem()
    lr, beta = 0.05, 0.9
    x, v = np.asarray(x0), np.zeros(3)
    for _ in range(10):  # heavy ball as optax.trace writes it: v <- g + β v; x <- x - η v
        v = (q @ x - b) + beta * v
        x = x - lr * v
    got, _, _ = run(from_optax(optax.sgd(lr, momentum=beta), quadratic), jnp.asarray(x0), 10, q, b)
    np.testing.assert_allclose(got, x, **IDENTITY.kw())


def test_from_optax_pytree_params():
    rng = np.random.default_rng(1)
    inputs, targets = rng.standard_normal((20, 3)), rng.standard_normal(20)

    def loss(params, inputs, targets):
        return 0.5 * jnp.mean((inputs @ params["w"] + params["b"] - targets) ** 2)

    w, c = np.zeros(3), 0.0
    for _ in range(5):  # NumPy least-squares gradient descent
        r = inputs @ w + c - targets
        w, c = w - 0.3 * inputs.T @ r / 20, c - 0.3 * np.mean(r)
    params0 = {"w": jnp.zeros(3), "b": jnp.zeros(())}
    got, state, _ = run(from_optax(optax.sgd(0.3), loss), params0, 5, inputs, targets)
    np.testing.assert_allclose(got["w"], w, **IDENTITY.kw())
    np.testing.assert_allclose(got["b"], c, **IDENTITY.kw())
    assert state.loss.dtype == jnp.float64


def test_from_optax_vmap_over_learning_rates():
    q, b, x0 = quadratic_problem()
    learning_rates = jnp.array([0.02, 0.1, 0.3])

    def final(learning_rate):  # the factory is called with a traced learning rate
        return run(from_optax(optax.sgd(learning_rate), quadratic), jnp.asarray(x0), 6, q, b)

    params, state, _ = jax.vmap(final)(learning_rates)
    for i, lr in enumerate(np.asarray(learning_rates)):
        want = numpy_gd(q, b, x0, float(lr), 6)
        np.testing.assert_allclose(params[i], want[-1], **IDENTITY.kw())
        np.testing.assert_allclose(state.loss[i], quadratic(want[-2], q, b), **IDENTITY.kw())
    np.testing.assert_array_equal(state.count, [6, 6, 6])


def test_from_optax_sgd_on_logistic_loss_is_lr_gd():
    # Autodiff through optax against the hand-written gradient of Eq. (2).
    features, labels = (jnp.asarray(a) for a in planted_margin(0, 30, 4, 0.1))
    theta0 = jnp.zeros(4)
    got, got_state, _ = run(
        from_optax(optax.sgd(3.0), perceptron.logistic_loss), theta0, 12, features, labels
    )
    want, want_state, _ = run(perceptron.lr_gd(3.0), theta0, 12, features, labels)
    np.testing.assert_allclose(got, want, **IDENTITY.kw())
    np.testing.assert_allclose(got_state.loss, want_state.loss, **IDENTITY.kw())


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((lambda g, s, p: (g, s), quadratic), r"from_optax\(optimizer=\.\.\.\)"),
        ((tuple(optax.sgd(0.1)), quadratic), r"from_optax\(optimizer=\.\.\.\)"),
        ((perceptron.lr_gd(1.0), quadratic), r"from_optax\(optimizer=\.\.\.\)"),
        ((optax.sgd(0.1), None), r"from_optax\(loss_fn=\.\.\.\)"),
        ((optax.sgd(0.1), 3.0), r"from_optax\(loss_fn=\.\.\.\)"),
    ],
    ids=["function", "tuple", "solver", "loss-none", "loss-float"],
)
def test_from_optax_rejects_bad_arguments(args, match):
    with pytest.raises(TypeError, match=match):
        from_optax(*args)


# --------------------------------------------------------------------------- run(xs=, key=)


def online_solver():
    """x_{t+1} = x_t + a · (u_t + sum(v_t)) for per-step inputs xs_t = {"u": u_t, "v": v_t}."""
    return Solver(lambda x, a: jnp.zeros((), jnp.int32),
                  lambda x, s, a, xt: (x + a * (xt["u"] + jnp.sum(xt["v"])), s + 1))


def _record_seen(x, s, a, xt):
    """What `record` sees: the iterate, the shared arg and the step input."""
    return {"x": x, "a": a, "u": xt["u"], "v": xt["v"]}


def test_run_pytree_xs_matches_python_loop():
    rng = np.random.default_rng(0)
    xs = {"u": rng.standard_normal(6), "v": rng.standard_normal((6, 2))}
    a = 0.5
    x, count, traj = run(online_solver(), jnp.float64(1.0), None, a, xs=xs, record=_record_seen)
    want, seen = 1.0, []
    for t in range(6):  # the same recursion in plain Python
        seen.append(want)
        want = want + a * (xs["u"][t] + xs["v"][t].sum())
    np.testing.assert_allclose(x, want, **IDENTITY.kw())
    assert int(count) == 6  # num_steps=None: T is the leading length of xs
    np.testing.assert_allclose(traj["x"], seen, **IDENTITY.kw())
    np.testing.assert_array_equal(traj["a"], np.full(6, a))  # record sees *args ...
    np.testing.assert_array_equal(traj["u"], xs["u"])  # ... and the step inputs
    np.testing.assert_array_equal(traj["v"], xs["v"])
    # An explicit num_steps equal to the length is accepted and gives the same run.
    assert_trees_close(run(online_solver(), jnp.float64(1.0), 6, a, xs=xs)[:2], (x, count))


@pytest.mark.parametrize(
    ("num_steps", "xs", "error", "match"),
    [
        (None, {"u": np.zeros(3), "v": np.zeros((4, 2))}, ValueError, r"share one leading length"),
        (5, {"u": np.zeros(3), "v": np.zeros((3, 2))}, ValueError, r"must equal the leading"),
        (None, {"u": np.float64(1.0), "v": np.zeros((1, 2))}, ValueError, r"leading time axis"),
        (None, {}, ValueError, r"leading time axis"),
        (None, None, TypeError, r"when `xs` is None"),
    ],
    ids=["lengths-differ", "num-steps-differs", "scalar-leaf", "empty", "no-length"],
)
def test_run_rejects_bad_xs(num_steps, xs, error, match):
    with pytest.raises(error, match=match):
        run(online_solver(), jnp.float64(0.0), num_steps, 1.0, xs=xs)


def key_solver():
    """Params accumulate U(k_t); the state keeps the raw bits of the last key seen."""

    def init(x):
        return jnp.zeros(2, jnp.uint32)

    def update(x, s, k):
        return x + jax.random.uniform(k, dtype=x.dtype), jax.random.key_data(k)

    return Solver(init, update)


def _record_key(x, s, k):
    return jax.random.key_data(k)


def test_run_keys_are_fold_in_of_step_and_distinct():
    key = jax.random.key(42)
    _, _, bits = run(key_solver(), jnp.float64(0.0), 8, key=key, record=_record_key)
    want = jax.vmap(lambda t: jax.random.key_data(jax.random.fold_in(key, t)))(jnp.arange(8))
    np.testing.assert_array_equal(bits, want)
    assert len({tuple(b) for b in np.asarray(bits).tolist()}) == 8  # every step its own key
    # Another key gives other draws; the same key the same draws (determinism).
    x1 = run(key_solver(), jnp.float64(0.0), 8, key=key)[0]
    assert float(x1) == float(run(key_solver(), jnp.float64(0.0), 8, key=key)[0])
    assert float(x1) != float(run(key_solver(), jnp.float64(0.0), 8, key=jax.random.key(7))[0])


def test_run_xs_and_key_together_come_in_that_order():
    seen = Solver(lambda x: None, lambda x, s, xt, k: (x + xt * jax.random.uniform(k), s))
    key = jax.random.key(3)
    x, _, _ = run(seen, jnp.float64(0.0), None, xs=jnp.arange(1.0, 4.0), key=key)
    want = sum(c * float(jax.random.uniform(jax.random.fold_in(key, t)))
               for t, c in enumerate([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x, want, **IDENTITY.kw())


@pytest.mark.parametrize(
    "bad_key", [0, np.array([1, 2]), jax.random.split(jax.random.key(0), 3)],
    ids=["int", "int64-pair", "batch-of-keys"],
)
def test_run_and_run_until_reject_bad_keys(bad_key):
    with pytest.raises(TypeError, match=r"run\(key=\.\.\.\)` must be one jax.random.key"):
        run(key_solver(), jnp.float64(0.0), 3, key=bad_key)
    with pytest.raises(TypeError, match=r"run_until\(key=\.\.\.\)` must be one jax.random.key"):
        run_until(key_solver(), jnp.float64(0.0), lambda x, s: x > 1, max_steps=3, key=bad_key)


def test_raw_uint32_key_is_accepted():
    raw = jax.random.PRNGKey(0)
    assert raw.dtype == jnp.uint32
    run(key_solver(), jnp.float64(0.0), 2, key=raw)


# --------------------------------------------------------------------------- run_until


def halving(factor=0.5):
    return Solver(lambda x: jnp.zeros((), jnp.int32), lambda x, s: (x * factor, s + 1))


def _below_tenth(x, s):
    return x < 0.1


@pytest.mark.parametrize(
    ("x0", "max_steps", "want"),
    [
        (1.0, 100, 4),  # 1, .5, .25, .125, .0625: first t with x_t < 0.1 is 4
        (0.05, 100, 0),  # done before any update
        (1.0, 4, 4),  # reached exactly at the cap: counted (t <= max_steps)
        (1.0, 3, -1),  # not reached within the cap
    ],
    ids=["four", "zero", "at-cap", "over-cap"],
)
def test_run_until_count_convention(x0, max_steps, want):
    x, count, steps = run_until(halving(), jnp.float64(x0), _below_tenth, max_steps=max_steps)
    assert steps.dtype == jnp.int32 and int(steps) == want
    # the final iterate and state are those after min(steps, cap) updates
    n = want if want >= 0 else max_steps
    assert int(count) == n
    np.testing.assert_allclose(x, x0 * 0.5**n, **IDENTITY.kw())


def test_run_until_vmap_over_hyperparameters():
    factors = jnp.array([0.5, 0.9, 0.99, 0.999])

    def steps(factor):  # the factory sees a tracer
        return run_until(halving(factor), jnp.float64(1.0), _below_tenth, max_steps=1000)[2]

    got = np.asarray(jax.vmap(steps)(factors))
    closed = np.ceil(np.log(0.1) / np.log(np.asarray(factors)))  # first t with f^t < 0.1
    want = np.where(closed <= 1000, closed, -1)
    np.testing.assert_array_equal(got, want)
    assert want[-1] == -1 and np.all(want[:3] > 0)  # both branches are exercised


def test_run_until_sees_the_same_keys_as_run():
    key = jax.random.key(11)
    done = lambda x, s: jnp.all(s == jax.random.key_data(jax.random.fold_in(key, 4)))
    x_until, bits, steps = run_until(key_solver(), jnp.float64(0.0), done, max_steps=50, key=key)
    x_run, _, _ = run(key_solver(), jnp.float64(0.0), 5, key=key)
    assert int(steps) == 5  # the key of step 4 was seen by the 5th update
    assert float(x_until) == float(x_run)  # bitwise: the same five draws


def test_run_until_rejects_bad_arguments():
    with pytest.raises(TypeError, match=r"run_until\(solver=\.\.\.\)"):
        run_until(tuple(halving()), 1.0, _below_tenth, max_steps=3)
    with pytest.raises(TypeError, match=r"run_until\(done=\.\.\.\)"):
        run_until(halving(), 1.0, 0.1, max_steps=3)
    with pytest.raises(ValueError, match=r"run_until\(max_steps=\.\.\.\)"):
        run_until(halving(), 1.0, _below_tenth, max_steps=0)


# --------------------------------------------------------------------------- compile once


def _timed(fn):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def test_iterations_to_separate_compiles_once_across_factory_calls():
    features, labels = thm41()
    first = lambda: perceptron.iterations_to_separate(
        perceptron.batch_perceptron(), features, labels, max_iters=77)
    t_first = _timed(first)
    size = _base._until._cache_size()
    t_second = _timed(first)  # a fresh factory call: the cache hands back the same Solver
    assert _base._until._cache_size() == size
    assert perceptron.batch_perceptron() is perceptron.batch_perceptron()
    # The counter moves for a genuinely new program (the check is not vacuous).
    perceptron.iterations_to_separate(perceptron.batch_perceptron(), features, labels,
                                      max_iters=78)
    assert _base._until._cache_size() == size + 1
    assert t_second < t_first  # measured ~0.25 s vs ~1 ms when the machine is idle


def test_run_with_fresh_factory_call_compiles_once():
    features, labels = thm41()
    compiles = []

    def listener(event, duration, **_):
        # a compile, or its stand-in: the suite's run-scoped compilation cache (conftest) loads
        # a program another test already compiled instead of compiling it
        if event in ("/jax/core/compile/backend_compile_duration",
                     "/jax/compilation_cache/cache_retrieval_time_sec"):
            compiles.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        run(perceptron.lr_gd(1.0), jnp.zeros(2), 13, features, labels, record=_record_lr)
        n_first = len(compiles)
        run(perceptron.lr_gd(1.0), jnp.ones(2), 13, features, labels, record=_record_lr)
        assert len(compiles) == n_first  # no backend compilation on the second call
        run(perceptron.lr_gd(2.0), jnp.ones(2), 13, features, labels, record=_record_lr)
        assert len(compiles) > n_first  # a new step size is a new closure: one compile
    finally:
        jax.monitoring.clear_event_listeners()
    assert n_first >= 1


# --------------------------------------------------------------------------- cached_factory


def test_cached_factory_keys():
    calls = []

    @_base.cached_factory
    def make(h=None, **kw):
        calls.append(h)
        return Solver(lambda x: None, lambda x, s: (x, s))

    assert make(0.1) is make(0.1)
    assert make(0.1) is not make(np.float64(0.1))  # types differ: 0.1 vs float64 scalar
    assert make(0.0) is not make(-0.0)  # bits differ (a step of -0.0 is another program)
    assert make(float("nan")) is make(float("nan"))  # nan != nan, yet one entry
    assert make(jnp.array([1.0, 2.0])) is make(jnp.array([1.0, 2.0]))
    assert make(h=1) is make(h=1) and make(1, a=2) is not make(1, a=3)
    metric = np.arange(40_000.0).reshape(200, 200)  # a 200 × 200 metric: keyed by a digest
    assert make(metric) is make(metric.copy()) is make(jnp.asarray(metric))
    other = metric.copy()
    other[123, 45] = np.nextafter(other[123, 45], np.inf)  # one ulp
    assert make(other) is not make(metric)  # one element differs: another solver
    assert make(metric.astype(np.float32)) is not make(metric)  # dtype is part of the key
    big = np.zeros(_cache.DIGEST_MAX_SIZE + 1)
    assert make(big) is not make(big)  # data sets bypass the cache (no hashing per call)
    f = lambda t: t
    assert make(f) is make(f) and make(f) is not make(lambda t: t)  # callables by identity
    n = len(calls)
    jax.vmap(lambda h: make(h).update(h, None)[0])(jnp.ones(2))  # traced: bypasses the cache
    assert len(calls) == n + 1


def test_cached_factory_never_caches_bad_values():
    with pytest.raises(ValueError, match=r"lr_gd\(learning_rate=\.\.\.\)"):
        perceptron.lr_gd(-1.0)
    with pytest.raises(ValueError, match=r"lr_gd\(learning_rate=\.\.\.\)"):
        perceptron.lr_gd(-1.0)


# --------------------------------------------------------------------------- resume, optax extras


def _noisy_sgd():
    def update(x, s, key):
        return x - 0.1 * (x - jax.random.normal(key, x.shape)), s + 1

    return Solver(lambda x: jnp.zeros((), jnp.int32), update)


NOISY_SGD = _noisy_sgd()


def test_run_resumed_in_two_halves_is_the_whole_run_bit_for_bit():
    key = jax.random.key(3)
    x0 = jnp.arange(4.0)
    whole, s_whole, _ = run(NOISY_SGD, x0, 10, key=key)
    half, s_half, _ = run(NOISY_SGD, x0, 5, key=key)
    rest, s_rest, _ = run(NOISY_SGD, half, 5, key=key, state=s_half, step0=5)
    np.testing.assert_array_equal(np.asarray(rest), np.asarray(whole))
    assert int(s_rest) == int(s_whole) == 10
    # without step0 the second half would replay the first half's keys: a different run
    again, _, _ = run(NOISY_SGD, half, 5, key=key, state=s_half)
    assert not np.array_equal(np.asarray(again), np.asarray(whole))


def test_run_resume_with_another_step0_does_not_recompile():
    x0 = jnp.zeros(3)
    run(NOISY_SGD, x0, 4, key=jax.random.key(0), step0=0)
    before = _base._scan._cache_size()
    run(NOISY_SGD, x0, 4, key=jax.random.key(0), step0=4, state=jnp.int32(4))
    assert _base._scan._cache_size() == before


@pytest.mark.parametrize("step0", [-1, 1.5, True, "2"])
def test_run_rejects_bad_step0(step0):
    with pytest.raises(ValueError, match=r"`run\(step0=...\)` must be a non-negative int"):
        run(NOISY_SGD, jnp.zeros(2), 2, key=jax.random.key(0), step0=step0)


def test_from_optax_passes_extra_args_so_lbfgs_runs_and_converges():
    """optax.lbfgs needs value, grad and value_fn (its zoom line search)."""
    a = jnp.array([[3.0, 1.0], [1.0, 2.0]])
    b = jnp.array([1.0, -1.0])

    def quad(x, a, b):
        return 0.5 * x @ a @ x - b @ x

    x, state, _ = run(from_optax(optax.lbfgs(), quad), jnp.zeros(2), 20, a, b)
    np.testing.assert_allclose(np.asarray(x), np.linalg.solve(np.asarray(a), np.asarray(b)),
                               rtol=1e-5, atol=1e-6)
    assert int(state.count) == 20


def test_from_optax_extra_args_leave_plain_optimizers_unchanged():
    """Adam through the extra-args wrapper is Adam: the same iterates as optax's own loop."""
    def f(x):
        return jnp.sum((x - 2.0) ** 2)

    opt = optax.adam(0.1)
    x_run, _, _ = run(from_optax(opt, f), jnp.zeros(3), 7)
    x, s = jnp.zeros(3), opt.init(jnp.zeros(3))
    for _ in range(7):
        u, s = opt.update(jax.grad(f)(x), s, x)
        x = optax.apply_updates(x, u)
    np.testing.assert_allclose(np.asarray(x_run), np.asarray(x), rtol=1e-6)
