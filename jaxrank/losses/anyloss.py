r"""AnyLoss: confusion-matrix metrics turned into differentiable losses (Han, Moniz, Chawla 2024).

A binary classifier outputs logits :math:`z_i`, probabilities :math:`p_i = \sigma(z_i)`, and
AnyLoss *amplifies* them towards 0/1 with

.. math::
    \hat y_i = A_L(p_i) = \frac{1}{1 + e^{-L (p_i - 1/2)}}, \qquad L > 0 \ (\text{paper: } 73).

With :math:`S_1 = \sum_i \hat y_i`, :math:`S_2 = \sum_i y_i \hat y_i`, :math:`P = \sum_i y_i`
the soft confusion matrix is :math:`TP = S_2,\ FN = P - S_2,\ FP = S_1 - S_2,\
TN = n - P - S_1 + S_2`, and the loss is :math:`1 - M(TP, FN, FP, TN)` for any metric
:math:`M` (accuracy, :math:`F_\beta`, G-mean, balanced accuracy, precision, recall, or a user
function such as MCC or Jaccard).

The loss is **non-decomposable**: it is a function of a whole batch, ``(logits[n], labels[n]) ->
scalar``; never ``vmap`` it per example (vmap it over folds, data sets or seeds instead).

Numerics. In float32, :math:`A_{73}(p)` rounds to exactly 1 once :math:`p \gtrsim 0.73`, and the
autodiff derivative :math:`\hat y (1 - \hat y)` of the composed sigmoids is then exactly 0, so
confidently classified samples (also the confidently *wrong* ones, through :math:`p` near 0 or 1)
lose their gradient. :func:`amplified_probability` therefore carries a custom JVP that evaluates
:math:`dA/dz = L\,\sigma(x)\sigma(-x)\,\sigma(z)\sigma(-z)`, :math:`x = L(\sigma(z) - 1/2)`, with
:math:`\sigma(u)\sigma(-u) = e^{-|u|} / (1 + e^{-|u|})^2` (no cancellation in either precision).

Degenerate batches. Every ratio :math:`a/b` with :math:`b = 0` takes a documented value instead
of NaN: precision, recall and :math:`F_\beta` are 0 (scikit-learn's ``zero_division=0``); when a
class is absent (:math:`P = 0` or :math:`P = n`) its rate (TPR or TNR) is undefined and balanced
accuracy and G-mean use the rate of the class that is present (the mean over present classes, as
scikit-learn's ``balanced_accuracy_score`` does); an empty batch gives metric 0 (loss 1).

References:
  D. Han, N. Moniz, N. V. Chawla, "AnyLoss: Transforming Classification Metrics into Loss
  Functions", KDD 2024 (arXiv:2405.14745), Section 3 (amplifier, soft confusion matrix, metric
  closed forms and derivatives). SOL: F. Marchetti et al., "Score-Oriented Loss (SOL) functions",
  Pattern Recognition 2022 (expected confusion matrix under a random threshold).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrank import _checks
from jaxrank._numerics import binary_logistic

__all__ = [
    "ConfusionMatrix",
    "amplify",
    "amplified_probability",
    "soft_confusion_matrix",
    "hard_confusion_matrix",
    "anyloss",
    "anyloss_from_soft",
    "score_oriented_loss",
    "raised_cosine_cdf",
    "binary_cross_entropy",
    "mse_loss",
    "METRICS",
    "accuracy",
    "f_beta",
    "gmean",
    "balanced_accuracy",
    "precision",
    "recall",
    "classification_metrics",
    "bayesian_sign_test",
]

Metric = Callable[..., jax.Array]


class ConfusionMatrix(NamedTuple):
    """(soft or hard) confusion-matrix entries of a batch, each a scalar."""

    tp: jax.Array
    fn: jax.Array
    fp: jax.Array
    tn: jax.Array


# --------------------------------------------------------------------------- checks


def _check_01_labels(labels: Any, where: str) -> None:
    """Concrete labels must take values in {0, 1}; skipped for tracers (checked mode: asserted)."""
    if not _checks.is_concrete(labels):
        _checks._traced(labels, lambda v: ~((v == 0) | (v == 1)),
                        f"`{where}` must take values in {{0, 1}}")
        return
    arr = np.asarray(labels)
    bad = ~((arr == 0) | (arr == 1))
    if np.any(bad):
        vals = np.unique(arr[bad])[:5]
        raise ValueError(f"`{where}` must take values in {{0, 1}}, got values {vals.tolist()}")


def _check_batch(logits: Any, labels: Any, where_mask: Any, fn: str) -> None:
    if jnp.ndim(logits) != 1:
        raise ValueError(f"`{fn}(logits=...)` must have shape (n,) (a whole batch), got shape "
                         f"{jnp.shape(logits)}")
    if jnp.shape(labels) != jnp.shape(logits):
        raise ValueError(f"`{fn}(labels=...)` must have the shape of logits "
                         f"{jnp.shape(logits)}, got {jnp.shape(labels)}")
    if where_mask is not None and jnp.shape(where_mask) != jnp.shape(logits):
        raise ValueError(f"`{fn}(where=...)` must have the shape of logits "
                         f"{jnp.shape(logits)}, got {jnp.shape(where_mask)}")
    _check_01_labels(labels, f"{fn}(labels=...)")


def _check_amplifier(amplifier: Any, fn: str) -> None:
    _checks.check_positive(amplifier, f"{fn}(amplifier=...)")


# --------------------------------------------------------------------------- amplifier


def _sig_sig(u: jax.Array) -> jax.Array:
    """σ(u)·σ(−u) = e^{−|u|} / (1 + e^{−|u|})², free of the 1 − σ cancellation."""
    e = jnp.exp(-jnp.abs(u))
    return e / (1.0 + e) ** 2


@jax.custom_jvp
def amplify(p: jax.Array, amplifier: jax.Array) -> jax.Array:
    r"""The amplifier :math:`A_L(p) = \sigma(L (p - 1/2))` of AnyLoss (Section 3), stable JVP.

    The derivative :math:`dA/dp = L\,\sigma(x)\sigma(-x)`, :math:`x = L(p - 1/2)`, is evaluated
    without the :math:`A (1 - A)` cancellation, so it stays positive in float32 when :math:`A`
    rounds to 1 (:math:`p \gtrsim 0.73` at :math:`L = 73`).

    Args:
      p: probabilities :math:`p \in [0, 1]`, any shape.
      amplifier: :math:`L > 0` (scalar; may be traced, so it can be swept with ``vmap``).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> p = jnp.float32(0.9)
      >>> float(amplify(p, 73.0)), float(jax.grad(amplify)(p, 73.0)) > 0
      (1.0, True)
    """
    return jax.nn.sigmoid(amplifier * (p - 0.5))


@amplify.defjvp
def _amplify_jvp(primals, tangents):
    p, amp = primals
    dp, damp = tangents
    x = amp * (p - 0.5)
    out = jax.nn.sigmoid(x)
    s = _sig_sig(x)
    return out, s * (amp * dp + (p - 0.5) * damp)


@jax.custom_jvp
def amplified_probability(logits: jax.Array, amplifier: jax.Array) -> jax.Array:
    r"""Soft labels :math:`\hat y = A_L(\sigma(z))` from logits, with a stable custom JVP.

    .. math::
        \frac{\partial \hat y}{\partial z} = L\,\sigma(x)\sigma(-x)\,\sigma(z)\sigma(-z),\quad
        x = L(\sigma(z) - 1/2),

    both factors computed as :math:`e^{-|u|}/(1+e^{-|u|})^2`, so the gradient survives float32
    wherever its true value is a normal float32 number (it underflows only where it is below
    ~1e-38, e.g. :math:`|z| \gtrsim 87`).

    Args:
      logits: :math:`z`, any shape.
      amplifier: :math:`L > 0`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> z = jnp.float32(2.0)  # p = 0.88: A(p) == 1 in float32, gradient still > 0
      >>> float(amplified_probability(z, 73.0)), float(jax.grad(amplified_probability)(z, 73.0)) > 0
      (1.0, True)
    """
    return jax.nn.sigmoid(amplifier * (jax.nn.sigmoid(logits) - 0.5))


@amplified_probability.defjvp
def _amplified_probability_jvp(primals, tangents):
    z, amp = primals
    dz, damp = tangents
    p = jax.nn.sigmoid(z)
    x = amp * (p - 0.5)
    out = jax.nn.sigmoid(x)
    s = _sig_sig(x)
    return out, s * (amp * _sig_sig(z) * dz + (p - 0.5) * damp)


def raised_cosine_cdf(p: jax.Array, mu: float = 0.5, delta: float = 0.1) -> jax.Array:
    r"""CDF of the raised-cosine threshold prior of SOL: :math:`F(p) = \Pr(\tau \le p)`.

    .. math::
        F(p) = \tfrac12\Big[1 + \frac{p-\mu}{\delta} + \frac1\pi \sin\frac{\pi (p-\mu)}{\delta}
        \Big] \ \text{on } [\mu-\delta, \mu+\delta],\ 0 \text{ below},\ 1 \text{ above}.

    Example:
      >>> import jax.numpy as jnp
      >>> raised_cosine_cdf(jnp.array([0.3, 0.5, 0.7])).tolist()
      [0.0, 0.5, 1.0]
    """
    u = jnp.clip((p - mu) / delta, -1.0, 1.0)
    inner = 0.5 * (1.0 + u + jnp.sin(jnp.pi * u) / jnp.pi)
    return jnp.where(u <= -1.0, 0.0, jnp.where(u >= 1.0, 1.0, inner))


# --------------------------------------------------------------------------- confusion matrix


def _soft_cm(yhat: jax.Array, labels: jax.Array, where: jax.Array | None) -> ConfusionMatrix:
    """Soft CM from soft predictions ŷ ∈ [0, 1] via (S1, S2, P, n) of Section 3."""
    y = labels.astype(yhat.dtype)
    w = jnp.ones_like(yhat) if where is None else where.astype(yhat.dtype)
    s1 = jnp.sum(w * yhat)  # S1 = Σ ŷ
    s2 = jnp.sum(w * y * yhat)  # S2 = Σ y ŷ
    pos = jnp.sum(w * y)  # P = Σ y
    n = jnp.sum(w)
    return ConfusionMatrix(tp=s2, fn=pos - s2, fp=s1 - s2, tn=n - pos - s1 + s2)


def soft_confusion_matrix(
    logits: jax.Array,
    labels: jax.Array,
    *,
    amplifier: float | jax.Array = 73.0,
    where: jax.Array | None = None,
) -> ConfusionMatrix:
    r"""The soft confusion matrix of AnyLoss (Section 3) for one batch.

    Labels: ``labels`` take values in {0, 1} (a {-1, +1} encoding raises ValueError where the
    labels are concrete).

    .. math::
        TP = S_2,\ FN = P - S_2,\ FP = S_1 - S_2,\ TN = n - P - S_1 + S_2,\quad
        S_1 = \sum \hat y_i,\ S_2 = \sum y_i \hat y_i,\ \hat y_i = A_L(\sigma(z_i)).

    Args:
      logits: :math:`z`, shape ``(n,)`` (the whole batch).
      labels: :math:`y \in \{0, 1\}`, shape ``(n,)`` (1 = the minority/positive class).
      amplifier: :math:`L > 0` (paper: 73).
      where: optional ``(n,)`` mask or weights; masked samples (padding, held-out folds) count
        nowhere, so ``n = sum(where)``.

    Returns:
      :class:`ConfusionMatrix` ``(tp, fn, fp, tn)`` of scalars; they sum to :math:`n` and
      :math:`TP + FN = P`.

    Example:
      >>> import jax.numpy as jnp
      >>> cm = soft_confusion_matrix(jnp.array([4.0, -4.0, 3.0]), jnp.array([1, 0, 0]))
      >>> [round(float(v), 4) for v in cm]
      [1.0, 0.0, 1.0, 1.0]
    """
    _check_batch(logits, labels, where, "soft_confusion_matrix")
    _check_amplifier(amplifier, "soft_confusion_matrix")
    yhat = amplified_probability(logits, jnp.asarray(amplifier, jnp.result_type(logits, float)))
    return _soft_cm(yhat, labels, where)


def hard_confusion_matrix(
    predictions: jax.Array, labels: jax.Array, *, where: jax.Array | None = None
) -> ConfusionMatrix:
    """Counts of the hard confusion matrix of 0/1 (or boolean) predictions.

    Labels: ``labels`` take values in {0, 1} (a {-1, +1} encoding raises ValueError where the
    labels are concrete).

    Example:
      >>> import jax.numpy as jnp
      >>> [int(v) for v in hard_confusion_matrix(jnp.array([1, 0, 1]), jnp.array([1, 1, 0]))]
      [1, 1, 1, 0]
    """
    pred = jnp.asarray(predictions).astype(jnp.result_type(float))
    return _soft_cm(pred, jnp.asarray(labels), where)


# --------------------------------------------------------------------------- metrics


def _div(num: jax.Array, den: jax.Array, if_zero: jax.Array | float) -> jax.Array:
    """num / den, with ``if_zero`` where den == 0 (double-where: finite gradients too)."""
    zero = den == 0
    return jnp.where(zero, if_zero, num / jnp.where(zero, 1.0, den))


def _sqrt(x: jax.Array) -> jax.Array:
    """sqrt with a finite (zero) gradient at 0."""
    pos = x > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def accuracy(tp, fn, fp, tn):
    r"""Accuracy :math:`(TP + TN)/n = (n - P - S_1 + 2S_2)/n`; 0 for an empty batch."""
    return _div(tp + tn, tp + fn + fp + tn, 0.0)


def precision(tp, fn, fp, tn):
    """Precision TP/(TP + FP) = S2/S1; 0 when nothing is predicted positive."""
    del fn, tn
    return _div(tp, tp + fp, 0.0)


def recall(tp, fn, fp, tn):
    """Recall (TPR) TP/(TP + FN) = S2/P; 0 when the batch has no positives."""
    del fp, tn
    return _div(tp, tp + fn, 0.0)


def f_beta(tp, fn, fp, tn, beta=1.0):
    r""":math:`F_\beta = (1+\beta^2) TP / ((1+\beta^2) TP + \beta^2 FN + FP)
    = (1+\beta^2) S_2 / (\beta^2 P + S_1)`; 0 when the denominator is 0."""
    del tn
    b2 = jnp.asarray(beta) ** 2
    return _div((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp, 0.0)


def _rates(tp, fn, fp, tn):
    """(TPR, TNR); an absent class's rate is replaced by the present class's rate."""
    pos, neg = tp + fn, tn + fp
    tpr = _div(tp, pos, 0.0)
    tnr = _div(tn, neg, 0.0)
    return jnp.where(pos == 0, tnr, tpr), jnp.where(neg == 0, tpr, tnr)


def balanced_accuracy(tp, fn, fp, tn):
    r"""Balanced accuracy :math:`(TPR + TNR)/2 = (n(S_2+P) - P(S_1+P)) / (2P(n-P))`."""
    tpr, tnr = _rates(tp, fn, fp, tn)
    return 0.5 * (tpr + tnr)


def gmean(tp, fn, fp, tn):
    r"""Geometric mean :math:`\sqrt{TPR \cdot TNR} = \sqrt{S_2(n-P-S_1+S_2) / (P(n-P))}`."""
    tpr, tnr = _rates(tp, fn, fp, tn)
    return _sqrt(tpr * tnr)


METRICS: dict[str, Metric] = {
    "accuracy": accuracy,
    "f1": f_beta,
    "fbeta": f_beta,
    "gmean": gmean,
    "balanced_accuracy": balanced_accuracy,
    "precision": precision,
    "recall": recall,
}


def _resolve_metric(metric: str | Metric, beta: Any, fn: str) -> Metric:
    if callable(metric):
        return metric
    if not isinstance(metric, str) or metric not in METRICS:
        raise ValueError(f"`{fn}(metric=...)` must be one of {sorted(METRICS)} or a callable "
                         f"metric(tp, fn, fp, tn), got {metric!r}")
    if metric == "fbeta":
        _checks.check_positive(beta, f"{fn}(beta=...)")
        return lambda tp, fn_, fp, tn: f_beta(tp, fn_, fp, tn, beta)
    return METRICS[metric]


def anyloss_from_soft(
    soft_predictions: jax.Array,
    labels: jax.Array,
    *,
    metric: str | Metric = "f1",
    beta: float | jax.Array = 1.0,
    where: jax.Array | None = None,
) -> jax.Array:
    r"""``1 − metric(soft CM)`` from soft predictions :math:`\hat y \in [0,1]^n` (the core of
    :func:`anyloss` and :func:`score_oriented_loss`).

    Example:
      >>> import jax.numpy as jnp
      >>> float(anyloss_from_soft(jnp.array([1.0, 0.0]), jnp.array([1, 0]), metric="accuracy"))
      0.0
    """
    m = _resolve_metric(metric, beta, "anyloss_from_soft")
    return 1.0 - m(*_soft_cm(soft_predictions, labels, where))


def anyloss(
    logits: jax.Array,
    labels: jax.Array,
    *,
    metric: str | Metric = "f1",
    amplifier: float | jax.Array = 73.0,
    beta: float | jax.Array = 1.0,
    where: jax.Array | None = None,
) -> jax.Array:
    r"""AnyLoss :math:`\ell = 1 - M(TP, FN, FP, TN)` of the soft confusion matrix (Section 3).

    Labels: ``labels`` take values in {0, 1} (a {-1, +1} encoding raises ValueError where the
    labels are concrete).

    .. math::
        \ell(z, y) = 1 - M\big(S_2,\ P - S_2,\ S_1 - S_2,\ n - P - S_1 + S_2\big),\quad
        \hat y_i = A_L(\sigma(z_i)).

    Every built-in metric depends on :math:`\hat y` only through :math:`(S_1, S_2)`, so
    :math:`\partial\ell/\partial\hat y_i = -(\partial M/\partial S_1 + y_i\,\partial M/\partial
    S_2)` takes one value per class.

    Args:
      logits: :math:`z`, shape ``(n,)``: the whole batch (the loss is non-decomposable).
      labels: :math:`y \in \{0, 1\}`, shape ``(n,)``.
      metric: ``"accuracy"`` (:math:`L_A`), ``"f1"`` (:math:`L_F`), ``"fbeta"`` (with ``beta``),
        ``"gmean"`` (:math:`L_G`), ``"balanced_accuracy"`` (:math:`L_B`), ``"precision"``,
        ``"recall"``, or any callable ``metric(tp, fn, fp, tn) -> scalar`` (MCC, Jaccard, ...).
      amplifier: :math:`L > 0` of the amplifier (paper: 73, the largest integer with
        :math:`A_L(1) < 1` in float64); may be traced (swept with ``vmap``).
      beta: :math:`\beta > 0` of :math:`F_\beta` (used by ``metric="fbeta"``).
      where: optional ``(n,)`` mask/weights (padding, CV folds).

    Returns:
      The scalar loss, in :math:`[0, 1]` for the built-in metrics. Degenerate batches (no
      positives, nothing predicted positive, empty) follow the conventions of the module
      docstring and are never NaN.

    Example:
      >>> import jax.numpy as jnp
      >>> z, y = jnp.array([3.0, -2.0, 0.5, -4.0]), jnp.array([1, 0, 1, 0])
      >>> round(float(anyloss(z, y, metric="f1")), 4)
      0.0
      >>> mcc = lambda tp, fn, fp, tn: (tp * tn - fp * fn) / jnp.sqrt(
      ...     (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
      >>> round(float(anyloss(z, y, metric=mcc)), 3)
      0.0

    References:
      Han, Moniz, Chawla (KDD 2024), Section 3: the amplifier, the soft confusion matrix and the
      closed forms of :math:`L_A, L_F, L_G, L_B`.
    """
    _check_batch(logits, labels, where, "anyloss")
    _check_amplifier(amplifier, "anyloss")
    m = _resolve_metric(metric, beta, "anyloss")
    dtype = jnp.result_type(logits, float)
    yhat = amplified_probability(logits, jnp.asarray(amplifier, dtype))  # ŷ = A_L(σ(z))
    return 1.0 - m(*_soft_cm(yhat, labels, where))


def score_oriented_loss(
    logits: jax.Array,
    labels: jax.Array,
    *,
    metric: str | Metric = "f1",
    mu: float = 0.5,
    delta: float = 0.1,
    beta: float | jax.Array = 1.0,
    where: jax.Array | None = None,
) -> jax.Array:
    r"""Score-Oriented Loss (SOL): 1 − metric of the *expected* confusion matrix under a random
    threshold :math:`\tau` with a raised-cosine prior on :math:`[\mu-\delta, \mu+\delta]`.

    Labels: ``labels`` take values in {0, 1} (a {-1, +1} encoding raises ValueError where the
    labels are concrete).

    .. math::
        \mathbb E[TP] = \sum_i y_i F(p_i),\quad \mathbb E[FP] = \sum_i (1-y_i) F(p_i),\ \dots,
        \quad F(p) = \Pr(\tau \le p).

    The AnyLoss paper's baseline (cosine, :math:`\mu = 0.5`, :math:`\delta = 0.1`).

    Args:
      logits: :math:`z`, shape ``(n,)``; labels :math:`y \in \{0,1\}`, shape ``(n,)``.
      metric: as in :func:`anyloss`.
      mu, delta: centre and half-width of the threshold prior, :math:`0 < \delta`.
      where: optional mask.

    Example:
      >>> import jax.numpy as jnp
      >>> float(score_oriented_loss(jnp.array([3.0, -3.0]), jnp.array([1, 0])))
      0.0

    References:
      Marchetti, Guastavino, Piana, Campi, "Score-Oriented Loss (SOL) functions", Pattern
      Recognition 132 (2022), Eqs. for the expected confusion matrix with the cosine prior.
    """
    _check_batch(logits, labels, where, "score_oriented_loss")
    _checks.check_positive(delta, "score_oriented_loss(delta=...)")
    m = _resolve_metric(metric, beta, "score_oriented_loss")
    soft = raised_cosine_cdf(jax.nn.sigmoid(logits), mu, delta)
    return 1.0 - m(*_soft_cm(soft, labels, where))


# --------------------------------------------------------------------------- baselines


def binary_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    r"""Per-example BCE :math:`-y\log\sigma(z) - (1-y)\log\sigma(-z)`.

    Delegates to ``optax.sigmoid_binary_cross_entropy`` (through the library's one logistic loss,
    ``jaxrank._numerics.binary_logistic``): finite for logits of any size, and accurate for
    confident correct logits (:math:`z = 40, y = 1` gives :math:`e^{-40}`, where the former form
    ``softplus(z) - y z`` cancelled to 0).

    Labels: ``labels`` take values in {0, 1} (a {-1, +1} encoding raises ValueError where the
    labels are concrete).

    Example:
      >>> import jax.numpy as jnp
      >>> round(float(binary_cross_entropy(jnp.array([0.0]), jnp.array([1]))[0]), 4)
      0.6931
    """
    _check_01_labels(labels, "binary_cross_entropy(labels=...)")
    z = jnp.asarray(logits)
    z = z.astype(jnp.result_type(z, float))
    return binary_logistic(z, jnp.asarray(labels).astype(z.dtype))


def mse_loss(outputs: jax.Array, labels: jax.Array, *, signed: bool = False) -> jax.Array:
    r"""Per-example squared error :math:`(t - o)^2` of a *linear* output :math:`o`.

    Labels: ``labels`` take values in {0, 1} (a {-1, +1} encoding raises ValueError where the
    labels are concrete).

    ``signed=False``: targets :math:`t = y \in \{0,1\}`, predict :math:`o > 1/2` (the official
    MLP "MSE" model). ``signed=True``: targets :math:`t = 2y - 1 \in \{\pm1\}`, predict
    :math:`o > 0` (the delta rule of the official SLP).

    Example:
      >>> import jax.numpy as jnp
      >>> mse_loss(jnp.array([0.5, 0.0]), jnp.array([1, 0]), signed=True).tolist()
      [0.25, 1.0]
    """
    _check_01_labels(labels, "mse_loss(labels=...)")
    y = jnp.asarray(labels).astype(jnp.result_type(outputs, float))
    t = 2.0 * y - 1.0 if signed else y
    return (t - outputs) ** 2


# --------------------------------------------------------------------------- evaluation


def classification_metrics(
    predictions: jax.Array, labels: jax.Array, *, where: jax.Array | None = None
) -> dict[str, jax.Array]:
    """Hard Acc, F1, F0.5, F2, G-mean and B-Acc of 0/1 predictions (the paper's six metrics).

    Labels: ``labels`` take values in {0, 1} (a {-1, +1} encoding raises ValueError where the
    labels are concrete).

    Same formulas and degenerate-case conventions as the losses (F = 0 when TP = FP = FN = 0).

    Example:
      >>> import jax.numpy as jnp
      >>> m = classification_metrics(jnp.array([1, 0, 0, 0]), jnp.array([1, 1, 0, 0]))
      >>> round(float(m["f1"]), 4), round(float(m["balanced_accuracy"]), 4)
      (0.6667, 0.75)
    """
    cm = hard_confusion_matrix(predictions, labels, where=where)
    return {
        "accuracy": accuracy(*cm),
        "f1": f_beta(*cm, 1.0),
        "f0.5": f_beta(*cm, 0.5),
        "f2": f_beta(*cm, 2.0),
        "gmean": gmean(*cm),
        "balanced_accuracy": balanced_accuracy(*cm),
    }


def bayesian_sign_test(
    differences: Any, *, rope: float, key: jax.Array, num_samples: int = 50_000,
    prior_strength: float = 1.0,
) -> dict[str, float]:
    r"""Bayesian sign test (Benavoli et al., JMLR 2017) as used by the AnyLoss paper.

    With :math:`d_j` = (ours − baseline) on data set :math:`j`, counts
    :math:`n_< = \#\{d < -r\}`, :math:`n_= = \#\{|d| \le r\}`, :math:`n_> = \#\{d > r\}`, the
    posterior is :math:`\mathrm{Dir}(n_< + \epsilon,\ n_= + s + \epsilon,\ n_> + \epsilon)`
    (prior of strength :math:`s` on the rope, :math:`\epsilon = 10^{-4}`), and the result is the
    Monte-Carlo probability that each region has the largest mass.

    Args:
      differences: ``(m,)`` per-data-set differences.
      rope: half-width :math:`r \ge 0` of the region of practical equivalence.
      key: PRNG key of the Monte-Carlo samples.
      num_samples: Monte-Carlo samples (paper: 50 000).
      prior_strength: :math:`s` (paper: 1).

    Returns:
      ``{"left", "rope", "right"}`` probabilities (right = ours better).

    Example:
      >>> import jax
      >>> out = bayesian_sign_test([0.1] * 20, rope=0.01, key=jax.random.key(0))
      >>> out["right"] > 0.99
      True
    """
    _checks.check_nonnegative(rope, "bayesian_sign_test(rope=...)")
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    n_left, n_right = int(np.sum(d < -rope)), int(np.sum(d > rope))
    alpha = np.array([n_left, d.size - n_left - n_right, n_right], dtype=float) + 1e-4
    alpha[1] += prior_strength
    samples = jax.random.dirichlet(key, jnp.asarray(alpha), shape=(num_samples,))
    winners = np.asarray(jnp.argmax(samples, axis=1))
    frac = np.bincount(winners, minlength=3) / num_samples
    return {"left": float(frac[0]), "rope": float(frac[1]), "right": float(frac[2])}
