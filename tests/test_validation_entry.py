"""Issue 19 §2: checks where training runs (run, run_until, sweep, from_optax, jitted loops).

Each test here is a call that used to train, or fail far away, without a word: it must now raise
a ValueError/TypeError (or, for divergence, a FloatingPointError) naming the argument and the
value received. The last tests pin that the checks change no result.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrank import _validate
from jaxrank.losses.adversarial import pgd_attack
from jaxrank.losses.anyloss import anyloss, binary_cross_entropy
from jaxrank.models import factored_output as FO
from jaxrank.optim import bilevel as BL
from jaxrank.optim import from_optax, run, run_until
from jaxrank.optim import gn_newton as G
from jaxrank.optim import omd as OMD
from jaxrank.optim import perceptron as P
from jaxrank.sweep import sweep

A = jnp.array([[1.0, 0.5], [-1.0, -0.2], [0.3, 0.2], [-0.4, -0.9]])
Y_PM = jnp.array([1.0, -1.0, 1.0, -1.0])
Y_01 = jnp.array([1, 0, 1, 0])


# --------------------------------------------------------------------------- the 6 silent cases


def _anyloss_objective(w, x, y):
    return anyloss(x @ w, y)


def test_anyloss_with_pm1_labels_inside_run_raises():
    solver = from_optax(optax.sgd(0.5), _anyloss_objective)
    with pytest.raises(ValueError, match=r"anyloss\(labels=\.\.\.\)` must take values in "
                                         r"\{0, 1\}, got values \[-1"):
        run(solver, jnp.zeros(2), 3, A, Y_PM.astype(jnp.int32))
    # run_until validates the same way
    with pytest.raises(ValueError, match=r"anyloss\(labels=\.\.\.\)"):
        run_until(solver, jnp.zeros(2), _never, A, Y_PM.astype(jnp.int32), max_steps=2)
    # {0, 1} labels run as before
    w, state, _ = run(solver, jnp.zeros(2), 3, A, Y_01)
    assert np.isfinite(float(state.loss)) and 0.0 <= float(state.loss) <= 1.0


def test_fit_helper_validates_the_loss_labels_before_tracing():
    from jaxrank.models import bn_mlp as BN

    x = jax.random.normal(jax.random.key(0), (12, 2))
    y = jnp.where(x[:, 0] > 0, 1, -1)
    with pytest.raises(ValueError, match=r"anyloss\(labels=\.\.\.\)` must take values in "
                                         r"\{0, 1\}, got values \[-1\]"):
        BN.fit_bn_mlp(lambda z, y, w: anyloss(z, y, where=w), BN.init_bn_mlp(jax.random.key(1), 2),
                      x, y, jnp.ones(12, bool), key=jax.random.key(2), learning_rate=0.05,
                      batch_fraction=0.5, epochs=2)


def _never(p, s, *args):
    return jnp.bool_(False)


def test_bce_with_pm1_labels_under_jit_raises_in_checked_mode():
    def step(z, y):
        return binary_cross_entropy(z, y).mean()

    # plain jit: no check in the program (unchanged), the wrong labels go through
    assert np.isfinite(float(jax.jit(step)(jnp.zeros(4), Y_PM.astype(jnp.int32))))
    checked = _validate.checked(step)
    assert float(checked(jnp.zeros(4), Y_01)) == pytest.approx(np.log(2.0), rel=1e-6)
    with pytest.raises(ValueError, match=r"binary_cross_entropy\(labels=\.\.\.\)` must take "
                                         r"values in \{0, 1\}, got value -1"):
        checked(jnp.zeros(4), Y_PM.astype(jnp.int32))


def _lr_gd_final(a, y, step_size):
    return run(P.lr_gd(step_size), jnp.zeros(2, a.dtype), 3, a, y)[0]


def test_lr_gd_with_01_labels_inside_sweep_raises():
    with pytest.raises(ValueError, match=r"lr_gd\(labels=\.\.\.\)` must take values in "
                                         r"\{-1, \+1\}, got values \[0"):
        sweep(_lr_gd_final, {"step_size": [0.1, 1.0]}, A, Y_01.astype(A.dtype))


def test_negative_step_size_inside_sweep_raises():
    with pytest.raises(ValueError,
                       match=r"lr_gd\(learning_rate=\.\.\.\)` must be a positive finite "
                                         r"number, got -1\.0"):
        sweep(_lr_gd_final, {"step_size": [0.1, -1.0]}, A, Y_PM)


def test_optimistic_omd_grads_of_another_pytree_same_size_raise():
    tx = OMD.optimistic_omd(0.1)
    params = {"a": jnp.zeros(2), "b": jnp.zeros(3)}
    state = tx.init(params)
    grads = {"a": jnp.ones(3), "b": jnp.ones(2)}  # same total size, leaves swapped
    with pytest.raises(ValueError, match=r"optimistic_omd\(\.\.\.\)\.update\(updates=\.\.\.\)` "
                                         r"must have the pytree structure and shapes of"):
        tx.update(grads, state, params)
    # optax's own transformations raise on this too; the right grads still work
    tx.update({"a": jnp.ones(2), "b": jnp.ones(3)}, state, params)


def test_factored_layer_out_of_range_label_raises_before_the_jitted_scan():
    layer = FO.factored_output_layer("squared_error", learning_rate=0.01)
    state = layer.init(jnp.ones((6, 2)))
    labels = jnp.array([[0], [6], [1]], jnp.int32)  # 6 = D: clamped by the gather under jit
    with pytest.raises(ValueError, match=r"scan_updates\(labels=\.\.\.\)` must lie in \[0, 5\] "
                                         r"\(the number of classes D = 6\), got values \[6\]"):
        FO.scan_updates(layer, state, jnp.ones((3, 1, 2)), labels)


@pytest.mark.slow
def test_factored_layer_out_of_range_label_in_a_checked_jitted_step():
    layer = FO.factored_output_layer("squared_error", learning_rate=0.01)
    state = layer.init(jnp.ones((6, 2)))
    step = _validate.checked(layer.update)
    with pytest.raises(ValueError, match=r"factored_output_layer\.update\(labels=\.\.\.\)` must "
                                         r"lie in \[0, 5\].*got value 6"):
        step(state, jnp.ones((1, 2)), jnp.array([6], jnp.int32))


# --------------------------------------------------------------------------- cryptic calls


def _bilevel_solver(lower_learning_rate=0.5, curvature=1.0, lower_steps=3):
    def f(x, y, *b):
        return 0.5 * jnp.sum((y - 1.0) ** 2)

    def g(x, y, *b):
        return 0.5 * curvature * jnp.sum((y - x) ** 2)

    return BL.bo_rep(f, g, learning_rate=0.05, momentum=0.5,
                     lower_learning_rate=lower_learning_rate, z_learning_rate=0.1,
                     period=2, lower_steps=lower_steps)


def test_bo_rep_without_key_names_the_key():
    data = jnp.ones((4, 2))
    with pytest.raises(TypeError, match=r"`run\(key=\.\.\.\)` must be one jax\.random\.key.*got "
                                        r"a last argument of shape \(4, 2\) and dtype float"):
        run(_bilevel_solver(), (jnp.zeros(2), jnp.zeros(2)), 3, data)


def test_bilevel_params_must_be_a_pair():
    with pytest.raises(TypeError, match=r"`run\(params=\.\.\.\)` of a bilevel solver must be a "
                                        r"pair \(x, y\).*got ArrayImpl of shape \(2, 2\)"):
        run(_bilevel_solver(), jnp.zeros((2, 2)), 3, key=jax.random.key(0))


def test_swapped_features_and_labels_name_the_argument():
    with pytest.raises(ValueError, match=r"lr_gd\(features=\.\.\.\)` must have rank 2, got "
                                         r"shape \(4,\)"):
        run(P.lr_gd(1.0), jnp.zeros(2), 3, Y_PM, A)


def test_factored_layer_wrong_h_width_names_h():
    layer = FO.factored_output_layer("squared_error", learning_rate=0.01)
    state = layer.init(jnp.ones((6, 2)))
    with pytest.raises(ValueError, match=r"factored_output_layer\.update\(h=\.\.\.\)` must have "
                                         r"width d = 2 \(the columns of W\), got shape \(1, 3\)"):
        layer.update(state, jnp.ones((1, 3)), jnp.array([0], jnp.int32))
    with pytest.raises(ValueError, match=r"scan_updates\(hs=\.\.\.\)` must have width d = 2"):
        FO.scan_updates(layer, state, jnp.ones((3, 1, 3)), jnp.zeros((3, 1), jnp.int32))


def test_omd_grads_of_another_shape_name_the_updates():
    tx = OMD.adagrad_norm(1.0)
    state = tx.init(jnp.zeros(3))
    with pytest.raises(ValueError, match=r"adagrad_norm\(\.\.\.\)\.update\(updates=\.\.\.\)`.*"
                                         r"got .* with shapes \[\(4,\)\]"):
        tx.update(jnp.ones(4), state, jnp.zeros(3))


def test_newton_pytree_x_runs_instead_of_a_misleading_rank_error():
    """A pytree x once gave "must have rank 1, got shape () (rank 0)"; the Newton-type solvers now
    flatten it (jaxrank.optim.flat_params) and return the iterate as the same pytree."""
    solver = G.grad_reg_newton(lambda x: jnp.sum((x["a"] - 1.0) ** 2))
    x, _, _ = run(solver, {"a": jnp.zeros(2)}, 3)
    assert set(x) == {"a"} and x["a"].shape == (2,)
    assert float(jnp.max(jnp.abs(x["a"] - 1.0))) < 0.1  # moved from 0 towards the minimiser 1


def test_newton_float32_warns():
    solver = G.grad_reg_newton(lambda x: jnp.sum(x**2))
    with pytest.warns(RuntimeWarning, match=r"has dtype float32.*use float64"):
        solver.init(jnp.ones(2, jnp.float32))


# --------------------------------------------------------------------------- divergence


def test_bo_rep_lower_step_above_2_over_L_raises_at_the_first_nonfinite_step():
    # 1.0 > 2/L = 0.2: each lower step multiplies y - x by -9
    solver = _bilevel_solver(lower_learning_rate=1.0, curvature=10.0, lower_steps=10)
    x0 = (jnp.zeros(2), jnp.zeros(2))
    (x, y), _, _ = run(solver, x0, 80, key=jax.random.key(0))
    assert not np.all(np.isfinite(np.asarray(y)))  # the silent all-NaN of the issue
    with pytest.raises(FloatingPointError, match=r"on_divergence='raise'\)`: the iterate became "
                                                 r"non-finite \(NaN or inf\) at step \d+"):
        run(solver, x0, 80, key=jax.random.key(0), on_divergence="raise")
    with pytest.warns(RuntimeWarning, match=r"non-finite .* at step \d+"):
        run(solver, x0, 80, key=jax.random.key(0), on_divergence="warn")


def test_on_divergence_changes_no_result_and_names_bad_values():
    def rec(p, s, a, y):
        return P.logistic_loss(p, a, y)

    solver = P.lr_gd(3.0)
    plain = run(solver, jnp.zeros(2), 6, A, Y_PM, record=rec)
    guarded = run(solver, jnp.zeros(2), 6, A, Y_PM, record=rec, on_divergence="raise")
    for u, v in zip(jax.tree.leaves(plain), jax.tree.leaves(guarded), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    with pytest.raises(ValueError, match=r"run\(on_divergence=\.\.\.\)` must be one of .*got "
                                         r"'stop'"):
        run(solver, jnp.zeros(2), 2, A, Y_PM, on_divergence="stop")


# --------------------------------------------------------------------------- no aliasing


def test_factored_init_does_not_alias_the_callers_W():
    layer = FO.factored_output_layer("squared_error", learning_rate=0.01)
    W = jnp.ones((6, 2))
    state, _ = FO.scan_updates(layer, layer.init(W), jnp.ones((3, 1, 2)),
                               jnp.zeros((3, 1), jnp.int32))
    assert float(jnp.sum(W)) == 12.0  # used to raise "Array has been deleted"
    # handing W over (no copy) still donates it, as documented
    W2 = jnp.ones((6, 2))
    FO.scan_updates(layer, layer.init(W2, copy=False), jnp.ones((3, 1, 2)),
                    jnp.zeros((3, 1), jnp.int32))
    assert W2.is_deleted()


# --------------------------------------------------------------------------- sweep validation


def test_sweep_validation_stops_at_run_and_changes_no_result():
    calls = []

    def fn(a, y, step_size):
        calls.append(step_size)
        return run(P.lr_gd(step_size), jnp.zeros(2, a.dtype), 3, a, y)[0]

    out = sweep(fn, {"step_size": [0.5, 2.0]}, A, Y_PM)
    assert calls[:2] == [0.5, 2.0]  # one concrete validation call per grid point, then a trace
    for i, s in enumerate([0.5, 2.0]):
        np.testing.assert_allclose(out[i], run(P.lr_gd(s), jnp.zeros(2), 3, A, Y_PM)[0],
                                   rtol=1e-12)


def test_sweep_without_entry_point_is_validated_once():
    calls = []

    def fn(a):
        calls.append(a)
        return a * 2.0

    sweep(fn, {"a": [1.0, 2.0, 3.0]})
    sweep(fn, {"a": [1.0, 2.0, 3.0]})
    assert sum(not isinstance(c, jax.core.Tracer) for c in calls) == 1


# --------------------------------------------------------------------------- CLI hints


def test_check_hints_carry_out_so_they_never_overwrite_committed_records(tmp_path):
    from paper_repro.check import with_out

    note = ("perceptron: missing records fig1: regenerate with "
            "`python -m experiments.perceptron --figure fig1`; "
            "`python -m experiments.perceptron --figure fig2`")
    (tmp_path / "perceptron").mkdir()
    got = with_out(note, tmp_path)
    folder = tmp_path / "perceptron"
    assert got.count(f" --out {folder}`") == 2
    assert f"`python -m experiments.perceptron --figure fig1 --out {folder}`" in got


# --------------------------------------------------------------------------- renamed keywords


def _quad_oracle(x, y, b):
    return 0.5 * jnp.sum((y - x) ** 2)


@pytest.mark.parametrize(("call", "old", "new"), [
    (lambda: P.lr_gd(step_size=0.1), "lr_gd(step_size", "learning_rate"),
    (lambda: P.normalized_lr_gd_bound(radius=1.0, mu=0.5, n=2, step_size=1.0),
     "normalized_lr_gd_bound(step_size", "learning_rate"),
    (lambda: BL.bo_rep(_quad_oracle, _quad_oracle, learning_rate=0.1, momentum=0.5,
                       lower_learning_rate=0.1, z_lr=0.1, period=1, lower_steps=1),
     "bo_rep(z_lr", "z_learning_rate"),
    (lambda: BL.stocbio(_quad_oracle, _quad_oracle, learning_rate=0.1, lower_lr=0.1,
                        inner_steps=1, neumann_learning_rate=0.1, neumann_steps=1),
     "stocbio(lower_lr", "lower_learning_rate"),
    (lambda: BL.sustain(_quad_oracle, _quad_oracle, learning_rate=0.1, lower_learning_rate=0.1,
                        correction=0.5, neumann_lr=0.1, neumann_steps=1),
     "sustain(neumann_lr", "neumann_learning_rate"),
    (lambda: BL.anil(_quad_oracle, _quad_oracle, learning_rate=0.1, inner_lr=0.1, inner_steps=1),
     "anil(inner_lr", "inner_learning_rate"),
    (lambda: OMD.implicit_omd(1.0, lambda x: jnp.sum(x**2), inner_step_size=0.5),
     "implicit_omd(inner_step_size", "inner_learning_rate"),
    (lambda: G.grad_reg_newton(lambda x: jnp.sum(x**2), gamma0=1.0),
     "grad_reg_newton(gamma0", "radius0"),
    (lambda: pgd_attack(lambda z: z.sum(-1), A, epsilon=0.1, norm="linf", steps=1,
                        attack_step_size=0.1), "pgd_attack(steps", "attack_steps"),
])
def test_old_keyword_raises_type_error_naming_the_new_one(call, old, new):
    # the old name fails loudly with the new one (not "unexpected keyword argument")
    with pytest.raises(TypeError, match=rf"^`{re.escape(old)}=\.\.\.\)` was renamed `{new}`: "):
        call()


def test_new_keyword_names_are_accepted():
    assert P.lr_gd(learning_rate=0.1) is P.lr_gd(learning_rate=0.1)
    assert float(P.normalized_lr_gd_bound(radius=1.0, mu=0.5, n=1, learning_rate=1.0)) == 4.0
