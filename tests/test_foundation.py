"""The foundation carries what the later papers need: a flax model trained with optax through
`run`, swept over seeds × CV folds in one compiled call, summarized over seeds."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments._harness import seed_summary
from jaxrank.data import binary_pair, kfold_masks, load_digits
from jaxrank.models import MLP
from jaxrank.optim import from_optax, run
from jaxrank.sweep import sweep
from tests._tolerances import IDENTITY

STEPS = 60
MODEL = MLP(hidden=(16,), outputs=1, squeeze=True)


def _weighted_logistic(params, x, y, weights):
    margins = y * MODEL.apply(params, x)
    return jnp.sum(weights * jax.nn.softplus(-margins)) / jnp.sum(weights)


SOLVER = from_optax(optax.adam(1e-2), _weighted_logistic)


def _train_and_score(x, y, masks, seed, fold):
    held_out = masks[fold]
    params = MODEL.init(jax.random.key(seed), x[:1])
    params, state, losses = run(SOLVER, params, STEPS, x, y, (~held_out).astype(x.dtype),
                                record=lambda p, s, *_: s.loss)
    correct = (y * MODEL.apply(params, x) > 0).astype(x.dtype)
    test_acc = jnp.sum(held_out * correct) / jnp.sum(held_out)
    return {"test_accuracy": test_acc, "final_loss": state.loss, "first_loss": losses[1]}


@pytest.fixture(scope="module")
def problem():
    images, labels = load_digits()
    x, y = binary_pair(images, labels, (3, 8), scale=1 / 16)
    return jnp.asarray(x), jnp.asarray(y), jnp.asarray(kfold_masks(len(y), 3, seed=0))


def test_kfold_masks_partition():
    m = kfold_masks(11, 4, seed=1)
    assert m.shape == (4, 11) and np.all(m.sum(axis=0) == 1)
    assert sorted(m.sum(axis=1).tolist()) == [2, 3, 3, 3]
    np.testing.assert_array_equal(m, kfold_masks(11, 4, seed=1))
    with pytest.raises(ValueError, match=r"kfold_masks\(num_folds=...\)` must lie in \[2, n=3\]"):
        kfold_masks(3, 4, seed=0)


def test_flax_model_seeds_by_folds_in_one_sweep(problem):
    x, y, masks = problem
    out = sweep(_train_and_score, {"seed": [0, 1], "fold": [0, 1, 2]}, x, y, masks)
    assert out["test_accuracy"].shape == (2, 3)
    assert np.all(out["final_loss"] < out["first_loss"])  # Adam made progress everywhere
    assert np.all(out["test_accuracy"] > 0.9)  # 3-vs-8 digits is an easy pair
    # one grid point, recomputed alone, is the same computation
    alone = jax.jit(_train_and_score)(x, y, masks, 1, 2)
    np.testing.assert_allclose(out["test_accuracy"][1, 2], alone["test_accuracy"],
                               **IDENTITY.kw())
    summary = seed_summary(out["test_accuracy"], axis=0)  # over seeds, per fold
    assert summary["mean"].shape == (3,) and np.all(summary["lo"] <= summary["hi"])
