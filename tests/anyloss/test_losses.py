"""Identities of the AnyLoss library against independent references (closed forms of the official
code doheonhan/anyloss, scikit-learn, optax)."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn import metrics as skm

from tests._tolerances import IDENTITY, NUMERICAL

# the module (the package exports the function of the same name)
A = importlib.import_module("jaxrank.losses.anyloss")

METRIC_NAMES = ("accuracy", "f1", "gmean", "balanced_accuracy", "precision", "recall")
# float32 gradients vs the float64 closed form: float32 rounding of p, x and exp(-|x|).
F32_GRAD_RTOL = 1e-4


def _batch(n=40, seed=0, frac=0.3):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < frac).astype(np.int32)
    y[:2] = [0, 1]
    return rng.normal(0, 2, n), y


def _closed_forms(s1, s2, P, n, beta=1.0):
    """Metrics in (S1, S2, P, n), as in the official loss code
    (README and `AnyLoss - Code.ipynb` of doheonhan/anyloss)."""
    b2 = beta**2
    return {
        "accuracy": (n - P - s1 + 2 * s2) / n,
        "fbeta": (1 + b2) * s2 / (b2 * P + s1),
        "gmean": np.sqrt(s2 * (n - P - s1 + s2) / (P * (n - P))),
        "balanced_accuracy": (n * (s2 + P) - P * (s1 + P)) / (2 * P * (n - P)),
        "precision": s2 / s1,
        "recall": s2 / P,
    }


def _closed_grads(y, s1, s2, P, n, beta=1.0):
    """∂ℓ/∂ŷ_i = −(∂M/∂S1 + y_i ∂M/∂S2) in closed form (ℓ = 1 − M)."""
    b2 = beta**2
    m = np.sqrt(s2 * (n - P - s1 + s2) / (P * (n - P)))
    return {
        "accuracy": (1 - 2 * y) / n,
        "fbeta": (1 + b2) * (s2 - y * (b2 * P + s1)) / (b2 * P + s1) ** 2,
        "balanced_accuracy": (P - n * y) / (2 * P * (n - P)),
        "gmean": (s2 - y * (n - P - s1 + 2 * s2)) / (2 * m * P * (n - P)),
    }


def _metric(name, beta=1.0):
    return lambda tp, fn, fp, tn: A.f_beta(tp, fn, fp, tn, beta) if name == "fbeta" else \
        A.METRICS[name](tp, fn, fp, tn)


def test_cm_sums_to_n_and_tp_plus_fn_is_p():
    z, y = _batch()
    for amp in (1.0, 10.0, 73.0):
        cm = A.soft_confusion_matrix(jnp.asarray(z), jnp.asarray(y), amplifier=amp)
        np.testing.assert_allclose(sum(cm), len(y), **IDENTITY.kw())
        np.testing.assert_allclose(cm.tp + cm.fn, y.sum(), **IDENTITY.kw())
        assert all(float(v) >= -IDENTITY.atol for v in cm)


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_closed_forms_equal_textbook_formulas(beta):
    rng = np.random.default_rng(1)
    _, y = _batch()
    yhat = rng.random(len(y))
    s1, s2, P, n = yhat.sum(), (y * yhat).sum(), y.sum(), len(y)
    ref = _closed_forms(s1, s2, P, n, beta)
    cm = A._soft_cm(jnp.asarray(yhat), jnp.asarray(y), None)
    # textbook: F1 = 2TP/(2TP+FP+FN), G = sqrt(TP/(TP+FN) · TN/(TN+FP)), ...
    tp, fn, fp, tn = (float(v) for v in cm)
    b2 = beta**2
    np.testing.assert_allclose((1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp), ref["fbeta"],
                               **IDENTITY.kw())
    np.testing.assert_allclose(np.sqrt(tp / (tp + fn) * tn / (tn + fp)), ref["gmean"],
                               **IDENTITY.kw())
    for name, val in ref.items():
        np.testing.assert_allclose(float(_metric(name, beta)(*cm)), val, **IDENTITY.kw())


@pytest.mark.parametrize("name", ["accuracy", "fbeta", "balanced_accuracy", "gmean"])
def test_grad_wrt_yhat_equals_closed_form_two_values_per_class(name):
    rng = np.random.default_rng(2)
    _, y = _batch()
    yhat = rng.uniform(0.05, 0.95, len(y))
    s1, s2, P, n = yhat.sum(), (y * yhat).sum(), y.sum(), len(y)
    loss = lambda v: A.anyloss_from_soft(v, jnp.asarray(y), metric=_metric(name, 2.0 if name ==  # noqa: E731
                                                                             "fbeta" else 1.0))
    g = np.asarray(jax.grad(loss)(jnp.asarray(yhat)))
    ref = _closed_grads(y, s1, s2, P, n, beta=2.0 if name == "fbeta" else 1.0)[name]
    np.testing.assert_allclose(g, ref, **IDENTITY.kw())
    for c in (0, 1):
        assert np.ptp(g[y == c]) <= IDENTITY.atol  # one value per class
    # and against central finite differences
    eps = 1e-6
    fd = [(loss(jnp.asarray(yhat + eps * e)) - loss(jnp.asarray(yhat - eps * e))) / (2 * eps)
          for e in np.eye(len(y))[:5]]
    np.testing.assert_allclose(fd, g[:5], **NUMERICAL.kw())


@pytest.mark.parametrize("name", ["accuracy", "balanced_accuracy"])
def test_accuracy_and_bacc_are_affine_in_yhat(name):
    _, y = _batch()
    rng = np.random.default_rng(3)
    g = [jax.grad(lambda v: A.anyloss_from_soft(v, jnp.asarray(y), metric=name))(
        jnp.asarray(rng.random(len(y)))) for _ in range(2)]
    np.testing.assert_allclose(g[0], g[1], **IDENTITY.kw())
    f1 = [jax.grad(lambda v: A.anyloss_from_soft(v, jnp.asarray(y), metric="f1"))(
        jnp.asarray(rng.random(len(y)))) for _ in range(2)]
    assert not np.allclose(f1[0], f1[1])  # F1 is not affine: the check can fail


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_fbeta_is_optax_tversky_dice(beta):
    rng = np.random.default_rng(4)
    _, y = _batch()
    yhat = rng.random(len(y))
    ours = A.anyloss_from_soft(jnp.asarray(yhat), jnp.asarray(y), metric="fbeta", beta=beta)
    # two-class probabilities [1 − ŷ, ŷ]; the background class 0 is ignored
    probs = jnp.stack([1 - jnp.asarray(yhat), jnp.asarray(yhat)], -1)[None]
    onehot = jax.nn.one_hot(jnp.asarray(y), 2)[None]
    ref = optax.losses.dice_loss(probs, onehot, smooth=0.0, alpha=1 / (1 + beta**2),
                                 beta=beta**2 / (1 + beta**2), apply_softmax=False,
                                 ignore_background=True)
    np.testing.assert_allclose(float(ours), float(jnp.mean(ref)), **IDENTITY.kw())


@pytest.mark.parametrize("amp", [10.0, 30.0, 73.0, 200.0])
def test_hard_limit_soft_cm_within_bound_and_metrics_converge(amp):
    rng = np.random.default_rng(5)
    n, delta = 200, 0.1
    p = np.where(rng.random(n) < 0.5, rng.uniform(0.01, 0.5 - delta, n),
                 rng.uniform(0.5 + delta, 0.99, n))
    y = (rng.random(n) < 0.3).astype(int)
    z = np.log(p / (1 - p))
    soft = A.soft_confusion_matrix(jnp.asarray(z), jnp.asarray(y), amplifier=amp)
    hard = A.hard_confusion_matrix(jnp.asarray(p > 0.5), jnp.asarray(y))
    bound = np.sum(np.exp(-amp * np.abs(p - 0.5)))
    for s, h in zip(soft, hard, strict=True):
        assert abs(float(s) - float(h)) <= bound * (1 + 1e-9)
    if amp >= 200:
        pred = (p > 0.5).astype(int)
        sk = {"accuracy": skm.accuracy_score(y, pred), "f1": skm.f1_score(y, pred),
              "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
              "precision": skm.precision_score(y, pred), "recall": skm.recall_score(y, pred)}
        for name, v in sk.items():
            got = 1 - float(A.anyloss(jnp.asarray(z), jnp.asarray(y), metric=name, amplifier=amp))
            np.testing.assert_allclose(got, v, atol=1e-6)  # bound n·e^{-20} ≈ 4e-7


def test_classification_metrics_match_sklearn():
    rng = np.random.default_rng(6)
    y = (rng.random(300) < 0.2).astype(int)
    pred = np.where(rng.random(300) < 0.8, y, 1 - y)
    m = A.classification_metrics(jnp.asarray(pred), jnp.asarray(y))
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    ref = {"accuracy": skm.accuracy_score(y, pred), "f1": skm.f1_score(y, pred),
           "f0.5": skm.fbeta_score(y, pred, beta=0.5), "f2": skm.fbeta_score(y, pred, beta=2),
           "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
           "gmean": np.sqrt(tp / (tp + fn) * tn / (tn + fp))}
    for k, v in ref.items():
        np.testing.assert_allclose(float(m[k]), v, **IDENTITY.kw())


def test_l73_is_the_largest_integer_with_a_below_one_in_float64():
    one = jnp.float64(1.0)
    assert float(A.amplify(one, 73.0)) < 1.0
    assert float(A.amplify(one, 74.0)) == 1.0


def _closed_dz(z, y, metric):
    """float64 closed form of ∂ℓ/∂z = ∂ℓ/∂ŷ · L ŷ(1−ŷ)·p(1−p) with exact 1−ŷ."""
    L = 73.0
    p = 1 / (1 + np.exp(-z))
    x = L * (p - 0.5)
    yhat = 1 / (1 + np.exp(-x))
    one_minus = 1 / (1 + np.exp(x))
    s1, s2, P, n = yhat.sum(), (y * yhat).sum(), y.sum(), len(y)
    dy = _closed_grads(y, s1, s2, P, n)[metric]
    return dy * L * yhat * one_minus * p * (1 - p)


@pytest.mark.parametrize("metric", ["accuracy", "fbeta", "balanced_accuracy", "gmean"])
def test_float32_gradient_survives_saturation(metric):
    # p in [0.75, 0.99] and [0.01, 0.25]: A_73(p) rounds to 0/1 in float32; the confidently
    # wrong samples (y = 1 with p small, y = 0 with p large) must keep their gradient.
    rng = np.random.default_rng(7)
    n = 60
    p = np.where(rng.random(n) < 0.5, rng.uniform(0.75, 0.99, n), rng.uniform(0.01, 0.25, n))
    z = np.log(p / (1 - p))
    y = (rng.random(n) < 0.4).astype(np.int32)
    name = "f1" if metric == "fbeta" else metric
    g32 = jax.grad(lambda v: A.anyloss(v, jnp.asarray(y), metric=name))(jnp.asarray(z, jnp.float32))
    assert g32.dtype == jnp.float32
    ref = _closed_dz(z, y, metric)
    assert np.all(ref != 0)
    np.testing.assert_allclose(np.asarray(g32, float), ref, rtol=F32_GRAD_RTOL, atol=0)
    # the naive composition loses them (this is what the custom JVP fixes)
    naive = jax.grad(lambda v: 1 - A.METRICS[name](*A._soft_cm(
        jax.nn.sigmoid(73.0 * (jax.nn.sigmoid(v) - 0.5)), jnp.asarray(y), None)))(
        jnp.asarray(z, jnp.float32))
    assert np.sum(np.asarray(naive) == 0) > 0


def test_amplifier_jvp_matches_finite_differences_in_l():
    z = jnp.array([-1.0, 0.1, 0.4, 2.0])
    f = lambda L: jnp.sum(A.amplified_probability(z, L))  # noqa: E731
    fd = (f(30.0 + 1e-6) - f(30.0 - 1e-6)) / 2e-6
    np.testing.assert_allclose(jax.grad(f)(30.0), fd, **NUMERICAL.kw())
    from jax import test_util as jtu

    jtu.check_grads(lambda v: A.anyloss(v, jnp.array([1, 0, 1, 0]), amplifier=5.0),
                              (z,), order=1, modes=["rev", "fwd"])


@pytest.mark.parametrize("metric", ["accuracy", "f1", "balanced_accuracy", "gmean"])
def test_slp_gradient_equals_official_formula(metric):
    rng = np.random.default_rng(8)
    X = np.c_[np.ones(50), rng.normal(size=(50, 3))]
    y = (rng.random(50) < 0.3).astype(int)
    theta = rng.normal(0, 0.3, 4)
    g = jax.grad(lambda t: A.anyloss(jnp.asarray(X) @ t, jnp.asarray(y), metric=metric))(
        jnp.asarray(theta))
    z = X @ theta
    key = "fbeta" if metric == "f1" else metric
    official = X.T @ _closed_dz(z, y, key)  # yp_pz = L·yh(1−yh)·p(1−p), then X^T
    if metric == "gmean":
        official = official * 4  # the official SLP G-mean code returns 4x the gradient
        np.testing.assert_allclose(4 * np.asarray(g), official, **IDENTITY.kw())
    else:
        np.testing.assert_allclose(np.asarray(g), official, **IDENTITY.kw())


def test_user_metrics_mcc_and_jaccard():
    z, y = _batch()
    zj, yj = jnp.asarray(z), jnp.asarray(y)
    jac = lambda tp, fn, fp, tn: tp / (tp + fn + fp)  # noqa: E731
    cm = A.soft_confusion_matrix(zj, yj)
    np.testing.assert_allclose(float(A.anyloss(zj, yj, metric=jac)),
                               1 - float(cm.tp / (cm.tp + cm.fn + cm.fp)), **IDENTITY.kw())
    # Jaccard J and F1 satisfy F1 = 2J/(1+J) on the same soft CM
    j = 1 - float(A.anyloss(zj, yj, metric=jac))
    np.testing.assert_allclose(1 - float(A.anyloss(zj, yj, metric="f1")), 2 * j / (1 + j),
                               **IDENTITY.kw())
    assert np.all(np.isfinite(jax.grad(lambda v: A.anyloss(v, yj, metric=jac))(zj)))


DEGENERATE = {
    "no_positives": (np.array([2.0, -1.0, 3.0]), np.array([0, 0, 0])),
    "all_positive": (np.array([2.0, -1.0, 3.0]), np.array([1, 1, 1])),
    "no_predicted_positive": (np.array([-1e4, -1e4, -50.0]), np.array([0, 1, 0])),
    "huge_logits": (np.array([1e4, -1e4, 1e4, -1e4]), np.array([1, 0, 0, 1])),
}


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_degenerate_batches_are_finite(dtype):
    for case, (z, y) in DEGENERATE.items():
        for metric in METRIC_NAMES:
            zj = jnp.asarray(z, dtype)
            f = lambda v, y=y, metric=metric: A.anyloss(v, jnp.asarray(y), metric=metric)  # noqa: E731
            val, g = jax.value_and_grad(f)(zj)
            assert np.isfinite(float(val)) and np.all(np.isfinite(np.asarray(g))), (case, metric)
            assert -1e-6 <= float(val) <= 1 + 1e-6, (case, metric)


def test_degenerate_conventions():
    y0 = jnp.array([0, 0, 0])
    z = jnp.array([-10.0, -10.0, 10.0])
    # no positives: B-Acc and G-mean use TNR alone (2 of 3 negatives below the threshold)
    tnr = 1 - float(A.soft_confusion_matrix(z, y0).fp) / 3
    np.testing.assert_allclose(1 - float(A.anyloss(z, y0, metric="balanced_accuracy")), tnr,
                               **IDENTITY.kw())
    np.testing.assert_allclose(1 - float(A.anyloss(z, y0, metric="gmean")), tnr, **IDENTITY.kw())
    # empty batch (everything masked): metric 0, loss 1
    assert float(A.anyloss(z, y0, metric="f1", where=jnp.zeros(3))) == 1.0
    # nothing predicted positive and nothing positive (hard): F1 = 0 (zero_division=0)
    m = A.classification_metrics(jnp.zeros(3), y0)
    assert float(m["f1"]) == 0.0 and float(m["accuracy"]) == 1.0


def test_where_mask_equals_subsetting_and_vmaps_over_folds_and_amplifier():
    z, y = _batch(n=30)
    mask = np.arange(30) % 3 != 0
    sub = A.anyloss(jnp.asarray(z[mask]), jnp.asarray(y[mask]), metric="gmean")
    full = A.anyloss(jnp.asarray(z), jnp.asarray(y), metric="gmean", where=jnp.asarray(mask))
    np.testing.assert_allclose(float(full), float(sub), **IDENTITY.kw())
    masks = jnp.asarray(np.stack([mask, ~mask]))
    amps = jnp.array([30.0, 73.0])
    out = jax.vmap(jax.vmap(lambda w, L: A.anyloss(jnp.asarray(z), jnp.asarray(y), amplifier=L,
                                                   where=w), (None, 0)), (0, None))(masks, amps)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out[0, 1], full if False else A.anyloss(
        jnp.asarray(z), jnp.asarray(y), where=jnp.asarray(mask)), **IDENTITY.kw())


def test_sol_expected_cm_equals_quadrature_over_thresholds():
    rng = np.random.default_rng(9)
    z = rng.normal(0, 0.5, 40)
    y = (rng.random(40) < 0.3).astype(int)
    p = 1 / (1 + np.exp(-z))
    mu, delta = 0.5, 0.1
    t = np.linspace(mu - delta, mu + delta, 20001)
    dens = (1 + np.cos(np.pi * (t - mu) / delta)) / (2 * delta)
    F = np.array([np.trapezoid(dens * (t <= pi), t) for pi in p])  # Pr(τ ≤ p)
    exp_tp, exp_fp = np.sum(y * F), np.sum((1 - y) * F)
    f1 = 2 * exp_tp / (exp_tp + exp_fp + y.sum())
    got = 1 - float(A.score_oriented_loss(jnp.asarray(z), jnp.asarray(y), metric="f1"))
    np.testing.assert_allclose(got, f1, rtol=1e-4)  # trapezoid rule on a 20001-point grid


def test_baselines_against_references():
    z = jnp.array([-1e4, -3.0, 0.0, 2.0, 1e4])
    y = jnp.array([1, 0, 1, 1, 0])
    np.testing.assert_allclose(A.binary_cross_entropy(z, y),
                               optax.sigmoid_binary_cross_entropy(z, y.astype(float)),
                               **IDENTITY.kw())
    assert np.all(np.isfinite(A.binary_cross_entropy(z, y)))
    np.testing.assert_allclose(A.mse_loss(jnp.array([0.2]), jnp.array([0]), signed=True),
                               [1.44], **IDENTITY.kw())


def test_bayesian_sign_test_matches_numpy_dirichlet_reference():
    rng = np.random.default_rng(10)
    d = rng.normal(0.01, 0.03, 60)
    out = A.bayesian_sign_test(d, rope=0.01, key=jax.random.key(0))
    nl, nr = np.sum(d < -0.01), np.sum(d > 0.01)
    alpha = np.array([nl, 60 - nl - nr + 1, nr]) + 1e-4
    ref = np.bincount(np.argmax(rng.dirichlet(alpha, 50_000), 1), minlength=3) / 50_000
    # two 50k-sample Monte-Carlo estimates: standard error <= 0.0023 each
    np.testing.assert_allclose([out["left"], out["rope"], out["right"]], ref, atol=0.015)
    assert abs(sum(out.values()) - 1) < 1e-12


# Two independent 50k-sample Monte-Carlo estimates of a probability p differ by at most
# MC_SIGMAS · sqrt(2 p (1 − p) / 50k) (≤ 0.0112 at 5σ), except with negligible probability.
MC_SIGMAS = 5.0


@pytest.mark.parametrize("loc, rope", [(0.01, 0.01), (0.0, 0.0), (-0.02, 0.005), (0.05, 0.01)])
def test_bayesian_sign_test_matches_baycomp(loc, rope):
    """Ours against baycomp's SignTest (maintained by the test's authors, Benavoli et al.)."""
    import baycomp

    rng = np.random.default_rng(11)
    x = rng.uniform(0.6, 0.9, 30)
    y = x + rng.normal(loc, 0.03, 30)
    ours = A.bayesian_sign_test(y - x, rope=rope, key=jax.random.key(1))
    theirs = baycomp.SignTest.probs(x, y, rope=rope, nsamples=50_000, random_state=0)
    if rope == 0:  # baycomp drops the (empty) rope region: (p_left, p_right) renormalised
        assert ours["rope"] < 1e-3
        ours_lr = np.array([ours["left"], ours["right"]]) / (ours["left"] + ours["right"])
        theirs_lr = np.asarray(theirs)
    else:
        ours_lr = np.array([ours["left"], ours["rope"], ours["right"]])
        theirs_lr = np.asarray(theirs)
    p = np.clip(theirs_lr, 1e-3, 1 - 1e-3)
    np.testing.assert_array_less(np.abs(ours_lr - theirs_lr),
                                 MC_SIGMAS * np.sqrt(2 * p * (1 - p) / 50_000) + 1e-3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: A.anyloss(jnp.zeros(3), jnp.array([0, 2, 1])), r"anyloss\(labels=...\).*\{0, 1\}"),
        (lambda: A.anyloss(jnp.zeros(3), jnp.array([0, 1, 1]), amplifier=0.0),
         r"anyloss\(amplifier=...\)"),
        (lambda: A.anyloss(jnp.zeros(3), jnp.array([0, 1, 1]), amplifier=-2.0),
         r"anyloss\(amplifier=...\)"),
        (lambda: A.anyloss(jnp.zeros(3), jnp.array([0, 1, 1]), metric="auc"),
         r"anyloss\(metric=...\).*'auc'"),
        (lambda: A.anyloss(jnp.zeros(3), jnp.array([0, 1, 1]), metric="fbeta", beta=0.0),
         r"anyloss\(beta=...\)"),
        (lambda: A.anyloss(jnp.zeros((3, 1)), jnp.zeros((3, 1))), r"anyloss\(logits=...\)"),
        (lambda: A.anyloss(jnp.zeros(3), jnp.array([0, 1])), r"anyloss\(labels=...\).*shape"),
        (lambda: A.soft_confusion_matrix(jnp.zeros(2), jnp.array([0, 1]), amplifier=-1.0),
         r"soft_confusion_matrix\(amplifier=...\)"),
        (lambda: A.score_oriented_loss(jnp.zeros(2), jnp.array([0, 1]), delta=0.0),
         r"score_oriented_loss\(delta=...\)"),
        (lambda: A.binary_cross_entropy(jnp.zeros(2), jnp.array([-1, 1])),
         r"binary_cross_entropy\(labels=...\)"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_no_recompilation_and_dtype_preserved():
    f = jax.jit(lambda z, y, L: A.anyloss(z, y, amplifier=L))
    z, y = _batch()
    for dt in (jnp.float32, jnp.float64):
        out = f(jnp.asarray(z, dt), jnp.asarray(y), jnp.asarray(73.0, dt))
        assert out.dtype == dt
    n0 = f._cache_size()
    f(jnp.asarray(z + 1, jnp.float32), jnp.asarray(y), jnp.asarray(50.0, jnp.float32))
    assert f._cache_size() == n0
