"""The SLP protocol of experiments.anyloss: padding/masking is exact, GD matches a numpy loop."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from experiments import anyloss as E
from tests._tolerances import IDENTITY

CFG = dataclasses.replace(E.SMOKE, dtype="float64", steps=50, folds=3)


def _set(n, d, seed, share=0.8):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) > share).astype(np.int32)
    x = rng.normal(size=(n, d)) + 0.8 * y[:, None]
    return (f"s{seed}", E._standardize(x), y)


def test_padding_and_bucketing_leave_results_unchanged():
    a, b = _set(60, 3, 0), _set(80, 5, 1)
    losses = ("bce", "anyloss_f1", "sol_bacc")
    alone = E.cross_validate([a], losses, CFG)
    together = E.cross_validate([a, b], losses, dataclasses.replace(CFG, bucket_ratio=2.0))
    np.testing.assert_allclose(together[0], alone[0], **IDENTITY.kw())
    assert np.all(np.isfinite(together))
    # the per-loss programs (one loss per compiled loop, as figure e4 times them) agree
    x, y, valid, held, _ = E._pad_bucket([a, b], [0, 1], CFG, bias=True)
    cv = E._cv_fn(losses, CFG.steps)
    for j, name in enumerate(losses):
        res = np.asarray(cv(j, dict(CFG.learning_rates)[name], jnp.asarray(x), jnp.asarray(y),
                            jnp.asarray(valid), jnp.asarray(held), jnp.asarray(73.0)))
        np.testing.assert_allclose(together[:, j], res.mean(1), **IDENTITY.kw())


def test_buckets_run_side_by_side_give_the_bits_they_give_one_by_one(monkeypatch):
    """Each size bucket is its own program, run one per core (`_harness.concurrently`); a
    program run from a worker thread must give the bits it gives alone."""
    sets = [_set(40, 3, 2), _set(90, 3, 3), _set(200, 3, 4)]
    cfg = dataclasses.replace(CFG, bucket_ratio=1.2)
    assert len(E._buckets(sets, cfg.bucket_ratio)) == 3
    together = E.cross_validate(sets, ("bce", "anyloss_bacc"), cfg)
    monkeypatch.setattr(E._harness, "concurrently",
                        lambda calls, workers=None: [call() for call in calls])
    one_by_one = E.cross_validate(sets, ("bce", "anyloss_bacc"), cfg)
    np.testing.assert_array_equal(together, one_by_one)
    assert np.all(np.isfinite(together))


@pytest.mark.slow  # compiles one fit per loss (~7 s on a loaded 2-core machine)
def test_losses_trained_in_one_loop_equal_one_fit_per_loss():
    # every (entry, fold) column of the joint GD loop takes the steps of its own fit (float64)
    _, x, y = _set(40, 3, 3)
    x = jnp.asarray(E._with_bias(x))
    w = jnp.asarray(np.arange(40)[None] % 3 != np.arange(3)[:, None], float)  # 3 folds
    entries = ("mse", "bce", "anyloss_f1", "anyloss_f1", "anyloss_gmean", "sol_bacc")
    lrs = np.array([0.01, 0.1, 0.01, 0.01, 0.02, 0.005])
    amps = np.array([73.0, 73.0, 30.0, 73.0, 73.0, 73.0])
    theta = E._fit_multi(entries, jnp.asarray(lrs), jnp.asarray(amps), 40, x, jnp.asarray(y), w)
    assert theta.shape == (6, 3, 4)
    for e, name in enumerate(entries):
        for f in range(3):
            alone = E._fit(E._objective(name), lrs[e], 40, x, jnp.asarray(y), w[f],
                           jnp.asarray(amps[e]))
            np.testing.assert_allclose(theta[e, f], alone, **IDENTITY.kw())


def _numpy_gd(x, y, w, loss, lr, steps, amp=73.0):
    """The official SLP loop written in numpy (float64): θ₀ = 0, full-batch GD."""
    theta = np.zeros(x.shape[1])
    for _ in range(steps):
        z = x @ theta
        p = 1 / (1 + np.exp(-z))
        if loss == "bce":
            g = x.T @ (w * (p - y)) / w.sum()
        else:  # anyloss_f1: ∂ℓ/∂ŷ · L ŷ(1−ŷ) p(1−p)
            yh = 1 / (1 + np.exp(-amp * (p - 0.5)))
            s1, s2, P = (w * yh).sum(), (w * y * yh).sum(), (w * y).sum()
            dy = 2 * (s2 - y * (P + s1)) / (P + s1) ** 2
            g = x.T @ (w * dy * amp * yh * (1 - yh) * p * (1 - p))
        theta = theta - lr * g
    return theta


@pytest.mark.parametrize("loss, lr", [("bce", 0.1), ("anyloss_f1", 0.01)])
def test_gd_fit_matches_numpy_reference(loss, lr):
    _, x, y = _set(70, 3, 2)
    x = E._with_bias(x)
    w = (np.arange(70) % 3 != 0).astype(float)
    theta = E._fit(E._objective(loss), lr, 30, jnp.asarray(x), jnp.asarray(y), jnp.asarray(w),
                   jnp.asarray(73.0))
    np.testing.assert_allclose(np.asarray(theta), _numpy_gd(x, y, w, loss, lr, 30),
                               **IDENTITY.kw())


def test_stratified_folds_partition_and_keep_the_positives():
    y = np.r_[np.ones(12, int), np.zeros(88, int)]
    m = E.stratified_folds(y, dataclasses.replace(CFG, folds=4))
    assert m.shape == (4, 100) and np.all(m.sum(0) == 1)
    assert sorted(m[:, :12].sum(1).tolist()) == [3, 3, 3, 3]


def test_minority_is_relabelled_one_and_bad_target_raises():
    assert E._minority_one(np.array([5, 5, 5, 2])).tolist() == [0, 0, 0, 1]
    with pytest.raises(ValueError, match="binary"):
        E._minority_one(np.array([0, 1, 2]))
