"""The official MLP protocol's warm start (experiments.anyloss._mlp_warm_fn, warm_chains)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import anyloss as E
from jaxrank.models import bn_mlp as BN
from jaxrank.optim import run

EPOCHS, HIDDEN = 2, 2
STAGES = (("bce", 0.5), ("anyloss_acc", 0.5), ("anyloss_bacc", 1.0))
LRS = (0.05, 0.02, 0.02)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 3)).astype(np.float32)
    y = (x[:, 0] + 0.3 * rng.normal(size=24) > 0.4).astype(np.float32)
    held = np.zeros((2, 24), bool)
    held[0, ::2], held[1, 1::2] = True, True
    return jnp.asarray(x), jnp.asarray(y), jnp.ones(24, bool), jnp.asarray(held)


_SOLVERS = {}


def _stage(name, frac, lr, params, stats, x, y, train, key):
    """One stage by hand: Adam restarts, the weights and moving statistics carry over."""
    if name not in _SOLVERS:  # one solver object per loss: one compilation each
        def loss_fn(z, yb, w):
            return jnp.sum(jax.vmap(lambda zm: E._mlp_loss(name)(zm, yb, w, 73.0))(z))

        _SOLVERS[name] = BN.bn_mlp_solver(loss_fn, learning_rate=jnp.full((1,), lr, x.dtype),
                                          batch_fraction=frac, num_models=1)
    solver = _SOLVERS[name]
    state = solver.init(params)._replace(stats=stats)
    params, state, _ = run(solver, params, EPOCHS, x, y, train, key=key, state=state)
    return params, state.stats


@pytest.mark.slow  # compiles the warm-start program and the stages by hand (~30 s at load 10)
@pytest.mark.parametrize("num_stages", [
    2,  # one batch fraction: one scan over the stages
    3,  # two fractions: two scans
])
def test_warm_start_carries_weights_across_losses_and_folds(num_stages):
    """Each stage starts from the previous stage's trained weights and moving statistics, and
    fold 1's first loss from fold 0's last: the program equals the chain run by hand, and a
    fresh start of the second loss does not."""
    stages, lrs = STAGES[:num_stages], LRS[:num_stages]
    x, y, valid, held = _data()
    warm = E._mlp_warm_fn(EPOCHS, HIDDEN, stages, 1, True, trace=True)
    key = jax.random.key(3)
    _, params, stats = warm(jnp.asarray(lrs, x.dtype), jnp.zeros(num_stages, x.dtype),
                            jnp.full((num_stages, 1), 73.0, x.dtype), x[None],
                            y[None], valid[None], held[None], jnp.asarray([3]), key[None])
    pick = jax.tree.map(lambda a: a[0, 0], params)  # (folds, stages, 1, ...)
    stat = jax.tree.map(lambda a: a[0, 0], stats)
    p0 = BN.init_bn_mlp(jax.random.fold_in(jax.random.fold_in(key, 0), 0), 3, hidden=HIDDEN,
                        max_features=3, dtype=x.dtype)
    p = jax.tree.map(lambda a: a[None], p0)
    s = BN.BatchNormStats(jnp.zeros((1, HIDDEN), x.dtype), jnp.ones((1, HIDDEN), x.dtype))
    for f in range(2):
        for i, ((name, frac), lr) in enumerate(zip(stages, lrs, strict=True)):
            start = p
            key_fs = jax.random.fold_in(jax.random.fold_in(key, f), 1 + i)
            p, s = _stage(name, frac, lr, p, s, x, y, ~held[f], key_fs)
            got = jax.tree.map(lambda a, f=f, i=i: a[f, i], pick)
            # b1 (before batch norm, which cancels it) has a gradient of rounding size only,
            # which Adam normalises: its value, and so the moving mean, are rounding noise
            for leaf in ("w1", "scale", "offset", "w2", "b2"):
                np.testing.assert_allclose(getattr(got, leaf), getattr(p, leaf), rtol=1e-4,
                                           atol=1e-5, err_msg=f"fold {f} stage {i} {leaf}")
            np.testing.assert_allclose(stat.var[f, i], s.var, rtol=1e-4, atol=1e-5)
            if (f, i) == (0, 1):  # the second loss from a fresh draw ends elsewhere
                fresh, _ = _stage(name, frac, lr, jax.tree.map(lambda a: a[None], p0),
                                  BN.BatchNormStats(jnp.zeros((1, HIDDEN), x.dtype),
                                                    jnp.ones((1, HIDDEN), x.dtype)),
                                  x, y, ~held[f], key_fs)
                assert not np.allclose(fresh.w1, p.w1, atol=1e-4)
                assert not np.allclose(start.w1, p0.w1[None], atol=1e-4)  # started warm


def test_warm_chains_follow_the_official_order():
    e1 = [(n, 73.0) for n in E.E1_LOSSES]
    chains = E.warm_chains(e1)
    assert [[st[0] for st in c] for c in chains] == [["mse"], list(E.WARM_ORDER)]
    written = sorted(i for c in chains for _, idx, _ in c for i in idx if i is not None)
    assert written == list(range(len(e1)))  # every entry exactly once
    # the L sweep: one chain per amplifier; unswept losses use L = 73 and take the L = 73 chain
    amps = (30.0, 73.0, 110.0)
    e2 = [(n, 73.0) for n in ("mse", "bce", "anyloss_f0.5", "sol_f1")] + [
        (n, a) for n in ("anyloss_acc", "anyloss_bacc") for a in amps]
    chains = E.warm_chains(e2)
    main = chains[1]
    assert [st[0] for st in main] == ["bce", "anyloss_acc", "anyloss_f0.5", "anyloss_bacc"]
    f05 = main[2]
    assert f05[2] == [73.0, 73.0, 73.0] and f05[1] == [None, 2, None]
    assert main[1][2] == list(amps) and main[1][1] == [4, 5, 6]
    assert [st[0] for st in chains[2]] == ["bce", "sol_f1"] and chains[2][0][1] == [None]
    written = sorted(i for c in chains for _, idx, _ in c for i in idx if i is not None)
    assert written == list(range(len(e2)))
    with pytest.raises(ValueError, match="warm_chains"):
        E.warm_chains([("hinge", 73.0)])


def test_flatness_is_the_relative_change_over_the_tail():
    curve = np.concatenate([np.linspace(1.0, 0.5, 90), np.full(10, 0.5)])
    assert E.flatness(curve) == pytest.approx(0.0)
    curve = np.linspace(1.0, 0.5, 100)  # still falling: 0.05 over the last 10 epochs
    assert E.flatness(curve) == pytest.approx((0.5 + 0.5 * 10 / 99 - 0.5) / (0.5 + 0.5 * 10 / 99))
