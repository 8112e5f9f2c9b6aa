"""Optimizer conformance battery: every registered solver × every catalogued problem.

Each (optimizer, problem) pair is checked for
  (a) convergence within a fixed budget,
  (b) state structure, shapes and dtypes preserved by ``update``,
  (c) no recompilation on the second call of a jitted ``update``,
  (d) ``vmap`` over seeded data sets equal to a Python loop over them,
  (e) float32 in -> float32 out (int counters stay int32),
  (f) traced hyperparameters (``vmap`` over step sizes) where the method has one.

Speed: solvers and jitted updates are cached per registry name, so the ``jit`` caches keyed on
the ``update`` function are shared between checks; every problem is small and every budget short.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from absl.testing import parameterized

from jaxrank.optim import Solver, from_optax, perceptron, run
from tests._tolerances import IDENTITY, assert_trees_close
from tests.problems import PROBLEMS, PROBLEMS_BY_NAME, stacked


def sgd_logistic(learning_rate):
    """Plain gradient descent via optax on the logistic loss of Eq. (2)."""
    return from_optax(optax.sgd(learning_rate), perceptron.logistic_loss)


OPTIMIZERS_UNDER_TEST = [
    ("lr_gd(1.0)", lambda: perceptron.lr_gd(1.0)),
    ("lr_gd(1e4)", lambda: perceptron.lr_gd(1e4)),
    ("normalized_lr_gd(1.0)", lambda: perceptron.normalized_lr_gd(1.0)),
    ("normalized_lr_gd(100.0)", lambda: perceptron.normalized_lr_gd(100.0)),
    ("batch_perceptron()", perceptron.batch_perceptron),
    ("normalized_batch_perceptron()", perceptron.normalized_batch_perceptron),
    ('perceptron("first")', lambda: perceptron.perceptron("first")),
    ('perceptron("worst")', lambda: perceptron.perceptron("worst")),
    ("from_optax(sgd(1.0), logistic_loss)", lambda: sgd_logistic(1.0)),
]
FACTORIES = dict(OPTIMIZERS_UNDER_TEST)

# Methods with a step size: name -> (factory of the step size, the registry's value).
STEP_SIZES = {
    "lr_gd(1.0)": (perceptron.lr_gd, 1.0),
    "lr_gd(1e4)": (perceptron.lr_gd, 1e4),
    "normalized_lr_gd(1.0)": (perceptron.normalized_lr_gd, 1.0),
    "normalized_lr_gd(100.0)": (perceptron.normalized_lr_gd, 100.0),
    "from_optax(sgd(1.0), logistic_loss)": (sgd_logistic, 1.0),
}
# Solvers that minimise a loss rather than solve problem (1); convergence is a loss decrease.
LOSS_ONLY = {"from_optax(sgd(1.0), logistic_loss)"}

NAMES = [name for name, _ in OPTIMIZERS_UNDER_TEST]
PROBLEM_NAMES = [p.name for p in PROBLEMS]
SEEDS = (0, 1, 2)
NUM_STEPS = 10  # short runs for the vmap / dtype checks

every_pair = pytest.mark.parametrize(
    ("name", "problem_name"), [(n, p) for n in NAMES for p in PROBLEM_NAMES]
)


@functools.cache
def solver(name: str) -> Solver:
    """One Solver object per name, so jit caches keyed on its `update` are reused."""
    return FACTORIES[name]()


@functools.cache
def jitted_update(name: str):
    return jax.jit(solver(name).update)


@functools.cache
def data(problem_name: str, seed: int = 0, dtype: str = "float64"):
    features, labels = PROBLEMS_BY_NAME[problem_name].make(seed, np.dtype(dtype))
    return jnp.asarray(features), jnp.asarray(labels)


def zeros_like_theta(features):
    return jnp.zeros(features.shape[-1], features.dtype)


def loop(update, theta, state, features, labels, num_steps):
    """Reference: a Python loop of (jitted) updates, no scan, no vmap."""
    for _ in range(num_steps):
        theta, state = update(theta, state, features, labels)
    return theta, state


def signature(tree):
    """Tree structure plus (shape, dtype, weak_type) of every leaf."""
    leaves = [
        (jnp.shape(x), jnp.result_type(x), getattr(x, "weak_type", False))
        for x in jax.tree.leaves(tree)
    ]
    return jax.tree.structure(tree), leaves


# --------------------------------------------------------------------------- registry


def test_registry_is_consistent():
    assert len(set(NAMES)) == len(NAMES)
    assert set(STEP_SIZES) <= set(NAMES) and LOSS_ONLY <= set(NAMES)
    for name in NAMES:
        assert isinstance(solver(name), Solver), name


# --------------------------------------------------------------------------- (a) convergence


@every_pair
def test_convergence(name, problem_name):
    features, labels = data(problem_name)
    if name in LOSS_ONLY:
        theta0 = zeros_like_theta(features)
        theta, _ = loop(
            jitted_update(name),
            theta0,
            solver(name).init(theta0, features, labels),
            features,
            labels,
            50,
        )
        final = perceptron.logistic_loss(theta, features, labels)
        assert np.isfinite(final)
        assert final < perceptron.logistic_loss(theta0, features, labels)
    else:
        budget = PROBLEMS_BY_NAME[problem_name].max_iters
        iters = int(
            perceptron.iterations_to_separate(solver(name), features, labels, max_iters=budget)
        )
        assert 0 <= iters <= budget, f"{name} did not separate {problem_name} in {budget} steps"


# --------------------------------------------------------------------------- (b) state structure


@every_pair
def test_update_preserves_state_structure(name, problem_name):
    features, labels = data(problem_name)
    theta0 = zeros_like_theta(features)
    state0 = solver(name).init(theta0, features, labels)
    theta1, state1 = jitted_update(name)(theta0, state0, features, labels)
    assert type(state1) is type(state0)
    assert signature(state1) == signature(state0)
    assert signature(theta1) == signature(theta0)
    # Abstract evaluation (no jit cache involved) agrees on the structure too.
    abstract = jax.eval_shape(solver(name).update, theta0, state0, features, labels)[1]
    assert signature(abstract) == signature(state0)


# --------------------------------------------------------------------------- (c) no recompilation


@every_pair
def test_jitted_update_does_not_recompile(name, problem_name):
    features, labels = data(problem_name)
    update = jitted_update(name)
    theta = zeros_like_theta(features)
    state = solver(name).init(theta, features, labels)
    theta, state = update(theta, state, features, labels)
    compiled = update._cache_size()
    theta, state = update(theta, state, features, labels)  # fed its own output back
    other_features, other_labels = data(problem_name, seed=1)  # new values, same shapes
    update(theta, state, other_features, other_labels)
    assert update._cache_size() == compiled


# --------------------------------------------------------------------------- (d) vmap over seeds


@every_pair
def test_vmap_over_seeds_matches_loop(name, problem_name):
    features, labels = (jnp.asarray(x) for x in stacked(PROBLEMS_BY_NAME[problem_name], SEEDS))
    theta0 = zeros_like_theta(features)
    s = solver(name)
    got = jax.vmap(lambda a, y: run(s, theta0, NUM_STEPS, a, y)[:2])(features, labels)
    chex.assert_shape(got[0], (len(SEEDS), features.shape[-1]))
    for i in range(len(SEEDS)):
        a, y = features[i], labels[i]
        want = loop(jitted_update(name), theta0, s.init(theta0, a, y), a, y, NUM_STEPS)
        assert_trees_close(jax.tree.map(lambda x, i=i: x[i], got), want, IDENTITY)


# --------------------------------------------------------------------------- (e) float32


@every_pair
def test_float32_in_float32_out(name, problem_name):
    features, labels = data(problem_name, dtype="float32")
    assert features.dtype == labels.dtype == jnp.float32
    theta0 = zeros_like_theta(features)
    s = solver(name)
    state0 = s.init(theta0, features, labels)
    theta, state, _ = run(s, theta0, 3, features, labels)
    assert theta.dtype == jnp.float32
    chex.assert_tree_all_finite(theta)
    assert signature(state) == signature(state0)
    for leaf in jax.tree.leaves(state):
        dtype = jnp.result_type(leaf)
        if jnp.issubdtype(dtype, jnp.floating):
            assert dtype == jnp.float32, (name, state)
        else:
            assert dtype == jnp.int32, (name, state)


# --------------------------------------------------------------------------- (f) traced hypers


@pytest.mark.parametrize(
    ("name", "problem_name"), [(n, p) for n in STEP_SIZES for p in PROBLEM_NAMES]
)
def test_traced_step_size(name, problem_name):
    make, value = STEP_SIZES[name]
    features, labels = data(problem_name)
    theta0 = zeros_like_theta(features)
    step_sizes = jnp.array([value, 2.0 * value])

    def final(step_size):  # the factory receives a tracer
        return run(make(step_size), theta0, NUM_STEPS, features, labels)[:2]

    got = jax.vmap(final)(step_sizes)
    state0 = solver(name).init(theta0, features, labels)
    references = [jitted_update(name), jax.jit(make(2.0 * value).update)]
    for i, update in enumerate(references):
        want = loop(update, theta0, state0, features, labels, NUM_STEPS)
        assert_trees_close(jax.tree.map(lambda x, i=i: x[i], got), want, IDENTITY)


# --------------------------------------------------------------------------- (g) jit vs eager


class UpdateWithAndWithoutJit(chex.TestCase):
    """Every registered update gives the same iterates eagerly and under ``jit`` (chex variants),
    equal to the cached jitted update: no Python-side effect or trace-time branch changes them."""

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.named_parameters(
        *[(name.replace("(", "_").replace(")", "").replace('"', ""), name) for name in NAMES]
    )
    def test_update_variants_agree(self, name):
        features, labels = data(PROBLEM_NAMES[0])
        theta0 = zeros_like_theta(features)
        s = solver(name)
        state0 = s.init(theta0, features, labels)
        theta, state = theta0, state0
        update = self.variant(s.update)
        for _ in range(2):
            theta, state = update(theta, state, features, labels)
        chex.assert_tree_all_finite(theta)
        chex.assert_shape(theta, theta0.shape)
        want = loop(jitted_update(name), theta0, state0, features, labels, 2)
        assert_trees_close((theta, state), want, IDENTITY)
