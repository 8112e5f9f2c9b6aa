"""The AnyLoss MLP (jaxrank.models.bn_mlp): masked batch norm, Adam steps, padding, batching."""

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrank.models import bn_mlp as BN
from tests._tolerances import IDENTITY, NUMERICAL, assert_trees_close


def _data(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int32)
    x = rng.normal(size=(n, d)) + y[:, None]
    return jnp.asarray(x), jnp.asarray(y)


def _close_but_b1(actual, desired):
    """b1 (the hidden bias) has an exactly zero gradient (batch norm removes any bias), so it
    holds Adam-amplified rounding noise (~1e-11): it is only checked to be that small."""
    assert float(jnp.abs(actual.b1).max()) < 1e-9 and float(jnp.abs(desired.b1).max()) < 1e-9
    assert_trees_close(actual._replace(b1=desired.b1), desired)


def _bce(z, y, w):
    w = w.astype(z.dtype)
    return jnp.sum(w * (jax.nn.softplus(z) - y * z)) / jnp.sum(w)


def test_masked_batch_norm_equals_flax_batch_norm_on_the_unmasked_rows():
    rng = np.random.default_rng(1)
    h = jnp.asarray(rng.normal(2.0, 3.0, size=(9, 2)))
    mask = jnp.asarray([1, 1, 0, 1, 1, 0, 1, 1, 1], bool)
    scale, offset = jnp.array([0.5, 2.0]), jnp.array([0.1, -0.3])
    out, mu, var = BN.masked_batch_norm(h, scale, offset, where=mask, epsilon=1e-3)
    bn = nn.BatchNorm(use_running_average=False, momentum=0.99, epsilon=1e-3)
    rows = h[np.asarray(mask)]
    variables = {"params": {"scale": scale, "bias": offset},
                 "batch_stats": {"mean": jnp.zeros(2), "var": jnp.ones(2)}}
    ref, upd = bn.apply(variables, rows, mutable=["batch_stats"])
    np.testing.assert_allclose(out[np.asarray(mask)], ref, **IDENTITY.kw())
    # flax's running averages: 0.99 · old + 0.01 · batch statistic (biased variance)
    np.testing.assert_allclose(0.01 * mu, upd["batch_stats"]["mean"], **IDENTITY.kw())
    np.testing.assert_allclose(0.99 + 0.01 * var, upd["batch_stats"]["var"], **IDENTITY.kw())
    # masked rows do not move the statistics
    h2 = h.at[~mask].set(1e6)
    out2, mu2, var2 = BN.masked_batch_norm(h2, scale, offset, where=mask, epsilon=1e-3)
    np.testing.assert_allclose(out2[np.asarray(mask)], out[np.asarray(mask)], **IDENTITY.kw())


@pytest.mark.slow  # a faster sibling stays in the default suite (10-min budget)
def test_one_full_batch_epoch_is_one_optax_adam_step():
    x, y = _data()
    train = jnp.arange(40) % 4 != 0
    p0 = BN.init_bn_mlp(jax.random.key(0), 3)
    lr = 0.01
    p1, state = BN.fit_bn_mlp(_bce, p0, x, y, train, key=jax.random.key(1), learning_rate=lr,
                              batch_fraction=1.0, epochs=1)
    assert int(state.count) == 1

    def objective(p):
        z, stats = BN.bn_mlp_apply(p, BN.BatchNormStats(jnp.zeros(2), jnp.ones(2)), x,
                                   train=True, where=train)
        return _bce(z, y, train), stats

    (_, stats), grads = jax.value_and_grad(objective, has_aux=True)(p0)
    opt = optax.adam(lr, eps=1e-7)
    updates, _ = opt.update(grads, opt.init(p0), p0)
    _close_but_b1(p1, optax.apply_updates(p0, updates))
    assert_trees_close(state.stats, stats)


@pytest.mark.parametrize("n_train, fraction, batches", [
    (45, 0.05, 23),
    pytest.param(39, 0.05, 39, marks=pytest.mark.slow),  # each case compiles a fit (~2 s idle)
    pytest.param(45, 0.5, 3, marks=pytest.mark.slow),
])
def test_minibatches_per_epoch(n_train, fraction, batches):
    # b = max(1, floor(f · n_train)); ceil(n_train / b) minibatches, the last one partial
    x, y = _data(n=50)
    train = jnp.arange(50) < n_train
    b = max(1, math.floor(fraction * n_train))
    assert math.ceil(n_train / b) == batches
    _, state = BN.fit_bn_mlp(_bce, BN.init_bn_mlp(jax.random.key(0), 3), x, y, train,
                             key=jax.random.key(1), learning_rate=0.01,
                             batch_fraction=jnp.asarray(fraction), max_batch_fraction=1.0,
                             epochs=2)
    assert int(state.count) == 2 * batches


# chi-square critical values at p = 1e-3 (scipy.stats.chi2.ppf(0.999, dof)): a correct shuffle
# fails these with probability 1e-3 for a random seed; the seeds below are fixed
CHI2_CRITICAL_999 = {23: 49.73, 3: 16.27}


@pytest.mark.parametrize("n", [1, 2, 7, 45, 4096, 70_000])
def test_random_row_order_is_a_permutation(n):
    order = np.asarray(BN.random_row_order(jax.random.key(n), n))
    assert order.dtype == np.int32
    np.testing.assert_array_equal(np.sort(order), np.arange(n))


def test_random_row_order_is_uniform_over_permutations_and_positions():
    draw = jax.jit(jax.vmap(lambda k: BN.random_row_order(k, 4)))
    perms = np.asarray(draw(jax.random.split(jax.random.key(11), 48_000)))
    codes = perms @ np.array([64, 16, 4, 1])
    counts = np.unique(codes, return_counts=True)[1]
    assert counts.size == 24  # every one of the 4! orders occurs
    expected = perms.shape[0] / 24
    assert ((counts - expected) ** 2 / expected).sum() < CHI2_CRITICAL_999[23]
    # row 0's position is uniform (a sort keyed by row index alone would keep it first)
    pos = np.bincount(np.argmax(perms == 0, axis=1), minlength=4)
    assert ((pos - perms.shape[0] / 4) ** 2 / (perms.shape[0] / 4)).sum() < CHI2_CRITICAL_999[3]


def test_random_row_order_is_padding_stable_and_differs_by_key():
    # rows appended after the first 45 (padding) do not change the order of the first 45
    short = np.asarray(BN.random_row_order(jax.random.key(5), 45))
    for n in (46, 64, 1000, 2**16):
        long = np.asarray(BN.random_row_order(jax.random.key(5), n))
        np.testing.assert_array_equal(long[long < 45], short)
    other = np.asarray(BN.random_row_order(jax.random.key(6), 45))
    assert not np.array_equal(short, other)


@pytest.mark.slow  # two fits compiled (~20 s on a loaded 2-core machine)
def test_padding_rows_and_columns_leaves_training_unchanged():
    x, y = _data(n=30, d=3)
    train = jnp.arange(30) % 5 != 0
    kw = dict(key=jax.random.key(3), learning_rate=0.05, batch_fraction=0.2, epochs=3)
    p, s = BN.fit_bn_mlp(_bce, BN.init_bn_mlp(jax.random.key(2), 3), x, y, train, **kw)
    # padded: 2 zero columns, 7 masked rows of garbage
    xp = jnp.zeros((37, 5)).at[:30, :3].set(x).at[30:].set(50.0)
    yp = jnp.zeros(37, y.dtype).at[:30].set(y).at[30:].set(1)
    tp = jnp.zeros(37, bool).at[:30].set(train)
    p0 = BN.init_bn_mlp(jax.random.key(2), 3, max_features=5)
    pp, sp = BN.fit_bn_mlp(_bce, p0, xp, yp, tp, **dict(kw, max_batch_fraction=0.2))
    assert float(jnp.abs(pp.w1[3:]).max()) == 0.0
    _close_but_b1(pp._replace(w1=pp.w1[:3]), p)
    assert_trees_close(sp.stats, s.stats)
    z, _ = BN.bn_mlp_apply(p, s.stats, x, train=False)
    zp, _ = BN.bn_mlp_apply(pp, sp.stats, xp, train=False)
    # NUMERICAL, not IDENTITY: b1's rounding noise (see _close_but_b1) shifts z by ~1e-11
    np.testing.assert_allclose(zp[:30], z, **NUMERICAL.kw())


@pytest.mark.slow  # compiles one fit per loss (~7 s on a loaded 2-core machine)
def test_models_trained_side_by_side_equal_separate_fits():
    # num_models: M models on shared minibatches, one loss each, take their own steps
    x, y = _data(n=30, d=3, seed=5)
    train = jnp.arange(30) % 4 != 0
    losses = (_bce, lambda z, y, w: jnp.sum(w * (z - y) ** 2) / jnp.sum(w),
              lambda z, y, w: 1 - 2 * jnp.sum(w * y * jax.nn.sigmoid(z)) / jnp.sum(
                  w * (y + jax.nn.sigmoid(z))))
    lrs = jnp.array([0.05, 0.02, 0.01])
    p0 = BN.init_bn_mlp(jax.random.key(2), 3)
    kw = dict(key=jax.random.key(3), batch_fraction=0.25, epochs=2)

    def joint(z, yb, w):
        return sum(loss(z[m], yb, w) for m, loss in enumerate(losses))

    stacked = jax.tree.map(lambda a: jnp.broadcast_to(a, (3, *a.shape)), p0)
    pm, sm = BN.fit_bn_mlp(joint, stacked, x, y, train, learning_rate=lrs, num_models=3, **kw)
    assert pm.w1.shape == (3, 3, 2) and sm.stats.mean.shape == (3, 2)
    for m, loss in enumerate(losses):
        p, s = BN.fit_bn_mlp(loss, p0, x, y, train, learning_rate=float(lrs[m]), **kw)
        _close_but_b1(jax.tree.map(lambda a, m=m: a[m], pm), p)
        # the moving mean contains b1, so b1's rounding noise (~1e-11) shows: NUMERICAL
        assert_trees_close(jax.tree.map(lambda a, m=m: a[m], sm.stats), s.stats, NUMERICAL)


def test_init_is_keras_like_and_padding_free():
    p = BN.init_bn_mlp(jax.random.key(0), 200, hidden=50)
    w = np.asarray(p.w1)
    assert abs(w.std() - math.sqrt(2 / 200)) < 0.1 * math.sqrt(2 / 200)  # he_normal scale
    assert np.abs(w).max() <= 2 * math.sqrt(2 / 200) / 0.8796 + 1e-12  # truncated at 2σ
    assert np.abs(np.asarray(p.w2)).max() <= math.sqrt(6 / 51)
    q = BN.init_bn_mlp(jax.random.key(0), 200, hidden=50, max_features=230)
    np.testing.assert_array_equal(np.asarray(q.w1[:200]), w)


@pytest.mark.slow  # 40 epochs, compiled under vmap (~20 s on a loaded 2-core machine)
def test_learns_and_vmaps_over_folds():
    x, y = _data(n=60, d=2, seed=4)
    folds = jnp.arange(60)[None] % 3 == jnp.arange(3)[:, None]

    def fold(h):
        p, s = BN.fit_bn_mlp(_bce, BN.init_bn_mlp(jax.random.key(0), 2), x, y, ~h,
                             key=jax.random.key(1), learning_rate=0.05, batch_fraction=0.25,
                             epochs=40)
        z, _ = BN.bn_mlp_apply(p, s.stats, x, train=False)
        return jnp.sum(h * ((z > 0) == (y > 0))) / jnp.sum(h)

    acc = jax.jit(jax.vmap(fold))(folds)
    assert acc.shape == (3,) and float(acc.min()) > 0.7


@pytest.mark.parametrize("call, match", [
    (lambda: BN.bn_mlp_solver(_bce, learning_rate=0.1, batch_fraction=0.0), "batch_fraction"),
    (lambda: BN.bn_mlp_solver(_bce, learning_rate=0.1, batch_fraction=1.5), "batch_fraction"),
    (lambda: BN.bn_mlp_solver(_bce, learning_rate=0.1, batch_fraction=0.5,
                              max_batch_fraction=0.2), r"\(0, 0.2\]"),
    (lambda: BN.bn_mlp_solver(_bce, learning_rate=-1.0, batch_fraction=0.5), "learning_rate"),
    (lambda: BN.bn_mlp_solver("bce", learning_rate=0.1, batch_fraction=0.5), "loss_fn"),
    (lambda: BN.bn_mlp_solver(_bce, learning_rate=0.1, batch_fraction=0.5, num_models=0),
     "num_models"),
    (lambda: BN.bn_mlp_solver(_bce, learning_rate=jnp.ones(2), batch_fraction=0.5),
     r"learning_rate.*scalar"),
    (lambda: BN.bn_mlp_solver(_bce, learning_rate=jnp.ones(2), batch_fraction=0.5,
                              num_models=3), r"shape \(3,\)"),
    (lambda: BN.bn_mlp_solver(_bce, learning_rate=jnp.array([0.1, -1.0]), batch_fraction=0.5,
                              num_models=2), "learning_rate"),
    (lambda: BN.init_bn_mlp(jax.random.key(0), 5, max_features=3), "num_features"),
    (lambda: BN.init_bn_mlp(jax.random.key(0), 3, hidden=0), "hidden"),
    (lambda: BN.random_row_order(jax.random.key(0), 0), r"random_row_order\(n=...\)"),
    (lambda: BN.random_row_order(jax.random.key(0), 2.0), r"random_row_order\(n=...\)"),
])
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@pytest.mark.slow  # compiles the experiment's MLP program (~80 s on a loaded 2-core machine)
def test_mlp_cross_validation_padding_and_bucketing_are_exact():
    from experiments import anyloss as E

    cfg = dataclasses.replace(E.SMOKE, dtype="float64", folds=3,
                              mlp=dataclasses.replace(E.SMOKE.mlp, epochs=2, bucket_ratio=2.0))
    rng = np.random.default_rng(0)
    sets = []
    for seed, (n, d) in enumerate(((50, 2), (70, 4))):
        y = (rng.random(n) < 0.3).astype(np.int32)
        sets.append((f"s{seed}", E._standardize(rng.normal(size=(n, d)) + y[:, None]), y))
    losses = ("bce", "anyloss_f1")
    alone = E.cross_validate_mlp(sets[:1], losses, cfg)
    together = E.cross_validate_mlp(sets, losses, cfg)
    np.testing.assert_allclose(together[0], alone[0], **IDENTITY.kw())
    assert together.shape == (2, 2, 1, 6) and np.all(np.isfinite(together))
