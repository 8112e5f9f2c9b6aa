r"""The spherical loss family and the Z-loss (de Brébisson & Vincent 2016).

A loss of the *spherical family* depends on the output vector :math:`o = Wh \in \mathbb{R}^D`
only through three statistics,

.. math::
    s = \sum_k o_k, \qquad q = \sum_k o_k^2, \qquad o_c \ \text{(the target output)},

so :math:`L = F(s, q, o_c)` and :math:`\partial L / \partial o = \alpha 1 + \beta o + \gamma e_c`
with :math:`\alpha = \partial F/\partial s`, :math:`\beta = 2\,\partial F/\partial q`,
:math:`\gamma = \partial F/\partial o_c`. Members implemented here (each as a direct
``loss(logits, labels)`` and as an ``F(s, q, o_c, D)`` in :func:`spherical_stats_loss`):

* :func:`z_loss` — the Z-loss, :math:`\frac1a \operatorname{softplus}(a (b - z_c))` with
  :math:`z_c = (o_c - \mu)/\sigma`, shift- and scale-invariant;
* :func:`log_taylor_softmax_loss` — :math:`-\log t(o_c) + \log \sum_k t(o_k)`,
  :math:`t(x) = 1 + x + x^2/2`;
* :func:`log_spherical_softmax_loss` — :math:`-\log(o_c^2+\epsilon) + \log(q + D\epsilon)`;
* :func:`squared_error_loss` — :math:`\lVert o - e_c\rVert^2 = q - 2 o_c + 1`.

The statistics are what make the *factored output layer* of :mod:`jaxrank.models.factored_output`
exact in :math:`O(d^2)` per example, independent of :math:`D`.

.. note::
   This Z-loss is **not** the "z-loss" auxiliary regulariser :math:`\lambda \log^2 Z` of PaLM
   (Chowdhery et al. 2022) and later LLM papers, which is often (wrongly) cited to this paper.
   The two are unrelated; this module implements only de Brébisson & Vincent's Z-loss.

References:
  A. de Brébisson, P. Vincent, "The Z-loss: a shift and scale invariant classification loss
  belonging to the Spherical Family", arXiv:1604.08859 (2016) — Z-loss definition (Sec. 3).
  A. de Brébisson, P. Vincent, "An Exploration of Softmax Alternatives Belonging to the Spherical
  Loss Family", ICLR 2016 — log-Taylor and log-spherical softmax.
  P. Vincent, A. de Brébisson, X. Bouthillier, "Efficient Exact Gradient Update for training Deep
  Networks with Very Large Sparse Targets", NIPS 2015 — the spherical family and its gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrank import _checks
from jaxrank._numerics import safe_norm

__all__ = [
    "SPHERICAL_LOSSES",
    "z_loss",
    "log_taylor_softmax_loss",
    "log_spherical_softmax_loss",
    "squared_error_loss",
    "log_softmax_loss",
    "spherical_stats",
    "spherical_stats_loss",
    "spherical_coefficients",
    "spherical_loss",
    "z_scores",
    "spherical_scores",
    "topk_error",
    "topk_accuracy",
]

SPHERICAL_LOSSES = ("z_loss", "log_taylor_softmax", "log_spherical_softmax", "squared_error")

StatsLoss = Callable[[jax.Array, jax.Array, jax.Array, int], jax.Array]


# --------------------------------------------------------------------------- checks


def _check_labels(labels: Any, num_classes: int, where: str) -> None:
    """Integer labels in [0, num_classes); values checked only when concrete."""
    if not jnp.issubdtype(jnp.result_type(labels), jnp.integer):
        raise TypeError(f"`{where}` must have an integer dtype, got {jnp.result_type(labels)}")
    if not _checks.is_concrete(labels):
        _checks._traced(labels, lambda v: (v < 0) | (v >= num_classes),
                        f"`{where}` must lie in [0, {num_classes - 1}] (the number of classes D = "
                        f"{num_classes})")
        return
    arr = np.asarray(labels)
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        bad = arr[(arr < 0) | (arr >= num_classes)][:5]
        raise ValueError(
            f"`{where}` must lie in [0, {num_classes - 1}] (the number of classes D = "
            f"{num_classes}), got values {bad.tolist()}"
        )


def _check_real(value: Any, where: str) -> None:
    arr = None if not _checks.is_concrete(value) else np.asarray(value)
    if arr is None:
        return
    if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
        raise ValueError(f"`{where}` must be a finite real number, got {value!r}")


def _prepare(logits: Any, labels: Any, axis: int, fn: str) -> tuple[jax.Array, jax.Array]:
    logits = jnp.asarray(logits)
    _checks.check_floating(logits, f"{fn}(logits=...)")
    if logits.ndim == 0:
        raise ValueError(f"`{fn}(logits=...)` must have a class axis, got a scalar")
    o = jnp.moveaxis(logits, axis, -1)
    if o.shape[-1] < 2:
        raise ValueError(f"`{fn}(logits=...)` must have at least 2 classes, got {o.shape[-1]}")
    labels = jnp.asarray(labels)
    _check_labels(labels, o.shape[-1], f"{fn}(labels=...)")
    if labels.shape != o.shape[:-1]:
        raise ValueError(
            f"`{fn}(labels=...)` must have shape {o.shape[:-1]} (logits without the class "
            f"axis), got {labels.shape}"
        )
    return o, labels


def _target(o: jax.Array, labels: jax.Array) -> jax.Array:
    return jnp.take_along_axis(o, labels[..., None], axis=-1)[..., 0]


# --------------------------------------------------------------------------- direct forms


def z_scores(logits: jax.Array, axis: int = -1) -> jax.Array:
    r"""The standardised outputs :math:`z = (o - \mu 1)/\sigma` (0 where :math:`\sigma = 0`).

    :math:`\mu = s/D` and :math:`\sigma = \sqrt{q/D - \mu^2}` are the mean and (population)
    standard deviation of the outputs, computed from the centred vector (no cancellation) with a
    zero-safe norm, so the value and gradient are finite when all outputs are equal.

    Example:
      >>> [round(float(v), 4) for v in z_scores(jnp.array([1.0, 2.0, 3.0]))]
      [-1.2247, 0.0, 1.2247]
    """
    o = jnp.moveaxis(jnp.asarray(logits), axis, -1)
    dev = o - jnp.mean(o, axis=-1, keepdims=True)
    sigma = safe_norm(dev, axis=-1)[..., None] / math.sqrt(o.shape[-1])
    pos = sigma > 0
    z = jnp.where(pos, dev / jnp.where(pos, sigma, 1), 0)
    return jnp.moveaxis(z, -1, axis)


def z_loss(
    logits: jax.Array, labels: jax.Array, *, a: float = 1.0, b: float = 0.0, axis: int = -1
) -> jax.Array:
    r"""The Z-loss of de Brébisson & Vincent (2016): softplus of the z-normalised target score.

    .. math::
        \mu = \frac{1}{D}\sum_k o_k,\quad
        \sigma = \sqrt{\tfrac1D \textstyle\sum_k o_k^2 - \mu^2},\quad
        z_c = \frac{o_c - \mu}{\sigma},\quad
        L_Z(o, c) = \frac{1}{a}\log\bigl(1 + e^{a (b - z_c)}\bigr).

    Invariant to :math:`o \mapsto \lambda o + \kappa 1` for :math:`\lambda > 0` (shift *and*
    scale; log-softmax is only shift-invariant). As :math:`a \to \infty` it tends to the hinge
    :math:`\max(0, b - z_c)`. :math:`z_c \in [-\sqrt{D-1}, \sqrt{D-1}]`. When all outputs are
    equal (:math:`\sigma = 0`, e.g. a zero output layer) :math:`z_c` is taken as 0, so the loss
    is :math:`\operatorname{softplus}(ab)/a` with a zero gradient (the official code instead
    adds 1e-12 to :math:`\sigma`).

    Not PaLM's "z-loss" :math:`\lambda\log^2 Z` (an unrelated log-partition regulariser).

    Args:
      logits: outputs :math:`o`, shape ``(..., D)`` (class axis ``axis``).
      labels: integer targets :math:`c` in ``[0, D)``, shape ``logits`` without the class axis.
      a: sharpness :math:`a > 0` (scalar or array broadcasting against the batch).
      b: offset :math:`b` in standard-deviation units.
      axis: the class axis.

    Returns:
      Per-example loss, shape of ``labels``.

    Example:
      >>> o = jnp.array([[2.0, 0.0, -1.0]])
      >>> bool(jnp.allclose(z_loss(o, jnp.array([0])), z_loss(3 * o + 7, jnp.array([0]))))
      True

    References:
      arXiv:1604.08859, Sec. 3 (definition); a = 1, b = 0 in the official timing example.
    """
    _checks.check_positive(a, "z_loss(a=...)")
    _check_real(b, "z_loss(b=...)")
    o, labels = _prepare(logits, labels, axis, "z_loss")
    z_c = _target(z_scores(o), labels)
    return jax.nn.softplus(a * (b - z_c)) / a  # Eq. (Z-loss)


def log_taylor_softmax_loss(logits: jax.Array, labels: jax.Array, *, axis: int = -1) -> jax.Array:
    r"""Negative log-likelihood of the second-order Taylor softmax (ICLR 2016).

    .. math::
        t(x) = 1 + x + x^2/2 \ (\ge 1/2),\qquad
        L = -\log t(o_c) + \log \sum_k t(o_k) = -\log t(o_c) + \log(D + s + q/2).

    Args:
      logits: outputs :math:`o`, shape ``(..., D)``.
      labels: integer targets :math:`c`, shape ``logits`` without the class axis.
      axis: the class axis.

    Example:
      >>> float(log_taylor_softmax_loss(jnp.zeros((1, 4)), jnp.array([2]))[0]) == float(jnp.log(4))
      True

    References:
      de Brébisson & Vincent, ICLR 2016, Sec. 2.2 (log-Taylor softmax).
    """
    o, labels = _prepare(logits, labels, axis, "log_taylor_softmax_loss")
    t = 1 + o + 0.5 * jnp.square(o)
    return jnp.log(jnp.sum(t, axis=-1)) - jnp.log(_target(t, labels))


def log_spherical_softmax_loss(
    logits: jax.Array, labels: jax.Array, *, eps: float = 1e-2, axis: int = -1
) -> jax.Array:
    r"""Negative log-likelihood of the spherical softmax (Ollivier 2013; Vincent et al. 2015).

    .. math::
        p_c = \frac{o_c^2 + \epsilon}{\sum_k (o_k^2 + \epsilon)},\qquad
        L = -\log(o_c^2 + \epsilon) + \log(q + D\epsilon).

    Args:
      logits: outputs :math:`o`, shape ``(..., D)``.
      labels: integer targets :math:`c`.
      eps: :math:`\epsilon > 0`, the stabilising constant (a hyperparameter of the paper).
      axis: the class axis.

    Example:
      >>> round(float(log_spherical_softmax_loss(jnp.array([[3.0, 0.0]]), jnp.array([0]))[0]), 4)
      0.0011

    References:
      de Brébisson & Vincent, ICLR 2016, Sec. 2.1; Vincent et al., NIPS 2015.
    """
    _checks.check_positive(eps, "log_spherical_softmax_loss(eps=...)")
    o, labels = _prepare(logits, labels, axis, "log_spherical_softmax_loss")
    sq = jnp.square(o) + eps
    return jnp.log(jnp.sum(sq, axis=-1)) - jnp.log(_target(sq, labels))


def squared_error_loss(logits: jax.Array, labels: jax.Array, *, axis: int = -1) -> jax.Array:
    r"""Squared error against the one-hot target, :math:`\lVert o - e_c\rVert^2 = q - 2o_c + 1`.

    Example:
      >>> float(squared_error_loss(jnp.array([[1.0, 2.0]]), jnp.array([0]))[0])
      4.0

    References:
      Vincent et al., NIPS 2015 (the original O(d²) exact update).
    """
    o, labels = _prepare(logits, labels, axis, "squared_error_loss")
    return jnp.sum(jnp.square(o - jax.nn.one_hot(labels, o.shape[-1], dtype=o.dtype)), axis=-1)


def log_softmax_loss(logits: jax.Array, labels: jax.Array, *, axis: int = -1) -> jax.Array:
    r"""Cross-entropy :math:`-o_c + \log\sum_k e^{o_k}` (log-sum-exp), the non-spherical baseline.

    Labels: class indices in [0, D) (checked where concrete). Delegates to
    ``optax.softmax_cross_entropy_with_integer_labels`` (the same log-sum-exp minus the target
    logit, bit for bit) after this module's checks.

    Example:
      >>> round(float(log_softmax_loss(jnp.array([[1e4, 0.0]]), jnp.array([1]))[0]), 1)
      10000.0
    """
    o, labels = _prepare(logits, labels, axis, "log_softmax_loss")
    return optax.softmax_cross_entropy_with_integer_labels(o, labels)


# --------------------------------------------------------------------------- statistics form


def spherical_stats(
    logits: jax.Array, labels: jax.Array, *, axis: int = -1
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""The three statistics :math:`(s, q, o_c) = (\sum_k o_k, \sum_k o_k^2, o_c)`, per example.

    Example:
      >>> [float(x[0]) for x in spherical_stats(jnp.array([[1.0, 2.0]]), jnp.array([1]))]
      [3.0, 5.0, 2.0]
    """
    o, labels = _prepare(logits, labels, axis, "spherical_stats")
    return jnp.sum(o, axis=-1), jnp.sum(jnp.square(o), axis=-1), _target(o, labels)


def _z_from_stats(s, q, o_c, num_classes):
    mu = s / num_classes
    var = q / num_classes - jnp.square(mu)
    pos = var > 0
    sigma = jnp.sqrt(jnp.where(pos, var, 1))
    return jnp.where(pos, (o_c - mu) / sigma, 0)


def spherical_stats_loss(name: str, **hyper: Any) -> StatsLoss:
    r"""A spherical loss as :math:`F(s, q, o_c, D)`, the form the factored layer evaluates.

    .. math::
        \text{z\_loss:}\ \tfrac1a\operatorname{softplus}\bigl(a(b - \tfrac{o_c - s/D}
        {\sqrt{q/D - s^2/D^2}})\bigr);\quad
        \text{log\_taylor\_softmax:}\ \log(D + s + q/2) - \log(1 + o_c + o_c^2/2);

    .. math::
        \text{log\_spherical\_softmax:}\ \log(q + D\epsilon) - \log(o_c^2 + \epsilon);\quad
        \text{squared\_error:}\ q - 2 o_c + 1.

    (:math:`\sigma^2 = q/D - \mu^2` cancels in float32 when :math:`|\mu| \gg \sigma`; the direct
    :func:`z_loss` centres first and is the one to use on explicit logits.)

    Args:
      name: one of :data:`SPHERICAL_LOSSES`.
      **hyper: ``a``, ``b`` for ``z_loss``; ``eps`` for ``log_spherical_softmax``.

    Returns:
      ``F(s, q, o_c, num_classes) -> loss``, elementwise in ``s, q, o_c``.

    Example:
      >>> F = spherical_stats_loss("squared_error")
      >>> float(F(jnp.array(3.0), jnp.array(5.0), jnp.array(2.0), 2))
      2.0
    """
    _checks.check_one_of(name, SPHERICAL_LOSSES, "spherical_stats_loss(name=...)")
    allowed = {"z_loss": {"a", "b"}, "log_spherical_softmax": {"eps"}}.get(name, set())
    extra = set(hyper) - allowed
    if extra:
        raise TypeError(
            f"`spherical_stats_loss(name={name!r})` takes hyperparameters {sorted(allowed)}, "
            f"got {sorted(extra)}"
        )
    if name == "z_loss":
        a, b = hyper.get("a", 1.0), hyper.get("b", 0.0)
        _checks.check_positive(a, "spherical_stats_loss('z_loss', a=...)")
        _check_real(b, "spherical_stats_loss('z_loss', b=...)")

        def f(s, q, o_c, num_classes):
            return jax.nn.softplus(a * (b - _z_from_stats(s, q, o_c, num_classes))) / a

    elif name == "log_taylor_softmax":

        def f(s, q, o_c, num_classes):
            return jnp.log(num_classes + s + 0.5 * q) - jnp.log(1 + o_c + 0.5 * jnp.square(o_c))

    elif name == "log_spherical_softmax":
        eps = hyper.get("eps", 1e-2)
        _checks.check_positive(eps, "spherical_stats_loss('log_spherical_softmax', eps=...)")

        def f(s, q, o_c, num_classes):
            return jnp.log(q + num_classes * eps) - jnp.log(jnp.square(o_c) + eps)

    else:

        def f(s, q, o_c, num_classes):
            return q - 2 * o_c + 1

    return f


def spherical_coefficients(
    stats_loss: StatsLoss, s: jax.Array, q: jax.Array, o_c: jax.Array, num_classes: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    r"""Loss and gradient coefficients :math:`(L, \alpha, \beta, \gamma)` from the statistics.

    .. math::
        \frac{\partial L}{\partial o} = \alpha 1 + \beta o + \gamma e_c,\quad
        \alpha = \frac{\partial F}{\partial s},\ \beta = 2\frac{\partial F}{\partial q},\
        \gamma = \frac{\partial F}{\partial o_c}.

    ``F`` is elementwise, so one VJP with a vector of ones gives every example's partials.

    Example:
      >>> F = spherical_stats_loss("squared_error")
      >>> [float(x) for x in spherical_coefficients(F, 3.0, 5.0, 2.0, 2)]
      [2.0, 0.0, 2.0, -2.0]
    """
    s, q, o_c = jnp.asarray(s), jnp.asarray(q), jnp.asarray(o_c)
    loss, vjp = jax.vjp(lambda s_, q_, c_: stats_loss(s_, q_, c_, num_classes), s, q, o_c)
    ds, dq, dc = vjp(jnp.ones_like(loss))
    return loss, ds, 2 * dq, dc


def spherical_loss(name: str, **hyper: Any) -> Callable[..., jax.Array]:
    """The direct ``loss(logits, labels, axis=-1)`` of a named member (or ``log_softmax``).

    Example:
      >>> spherical_loss("z_loss", a=2.0, b=1.0)(jnp.array([[1.0, 0.0]]), jnp.array([0])).shape
      (1,)
    """
    direct = {
        "z_loss": z_loss,
        "log_taylor_softmax": log_taylor_softmax_loss,
        "log_spherical_softmax": log_spherical_softmax_loss,
        "squared_error": squared_error_loss,
        "log_softmax": log_softmax_loss,
    }
    _checks.check_one_of(name, tuple(direct), "spherical_loss(name=...)")
    fn = direct[name]

    def loss(logits, labels, axis=-1):
        return fn(logits, labels, axis=axis, **hyper)

    return loss


_SCORED = (*SPHERICAL_LOSSES, "log_softmax")


def spherical_scores(logits: jax.Array, kind: str, *, eps: float = 1e-2,
                     axis: int = -1) -> jax.Array:
    r"""The score by which the model trained with loss ``kind`` ranks the classes.

    A loss defines a model :math:`p(c \mid o)`; predictions (argmax, top-k) must rank by that
    model's probabilities, or by any increasing transform of them, not by the raw outputs:

    * ``log_softmax``: :math:`e^{o_k}/\sum e^{o_j}` is increasing in :math:`o_k`, score
      :math:`o_k`;
    * ``z_loss``: the loss rewards a large :math:`z_c = (o_c - \mu)/\sigma`, increasing in
      :math:`o_c` (:math:`\sigma > 0`), score :math:`o_k`;
    * ``squared_error``: the regression target is :math:`e_c`, score :math:`o_k`;
    * ``log_taylor_softmax``: :math:`p_k \propto t(o_k) = 1 + o_k + o_k^2/2`, which *rises again*
      below :math:`o_k = -1`; score :math:`t(o_k)`;
    * ``log_spherical_softmax``: :math:`p_k \propto o_k^2 + \epsilon`, blind to the sign of
      :math:`o_k`; score :math:`o_k^2 + \epsilon`.

    Args:
      logits: outputs :math:`o`, shape ``(..., D)``.
      kind: a member of :data:`SPHERICAL_LOSSES` or ``"log_softmax"``.
      eps: the log-spherical softmax's :math:`\epsilon` (ignored by the other kinds; it does
        not change the ranking).
      axis: the class axis.

    Returns:
      Scores of the shape of ``logits``, larger = more probable; rank them with
      :func:`topk_error` / :func:`topk_accuracy` or ``argmax``.

    Example:
      >>> o = jnp.array([-3.0, 0.5, 1.0])
      >>> int(jnp.argmax(spherical_scores(o, "log_taylor_softmax")))   # t(-3) = 2.5
      0
      >>> int(jnp.argmax(spherical_scores(-o, "log_spherical_softmax")))
      0
    """
    _checks.check_one_of(kind, _SCORED, "spherical_scores(kind=...)")
    o = jnp.asarray(logits)
    _checks.check_floating(o, "spherical_scores(logits=...)")
    if kind == "log_taylor_softmax":
        return 1 + o + 0.5 * jnp.square(o)
    if kind == "log_spherical_softmax":
        _checks.check_positive(eps, "spherical_scores(eps=...)")
        return jnp.square(o) + eps
    del axis  # the remaining kinds rank by the outputs themselves, elementwise
    return o


def topk_error(scores: jax.Array, labels: jax.Array, ks: tuple[int, ...]) -> jax.Array:
    r"""Top-k error for each k: the fraction of examples whose target is not among the k largest
    scores (class axis last).

    ``scores`` must be what the model ranks by: for a loss of the spherical family pass
    :func:`spherical_scores` (the raw outputs of a log-spherical or log-Taylor model are **not**
    ordered like its probabilities). Ranks by counting strictly larger scores (ties resolved in
    the target's favour), which is exact and needs no sort: error iff
    :math:`\#\{j: s_j > s_c\} \ge k`.

    Returns:
      Array of shape ``(len(ks),)``.

    Example:
      >>> topk_error(jnp.array([[0.1, 0.5, 0.2], [3.0, 1.0, 2.0]]), jnp.array([0, 0]), (1, 3))
      Array([0.5, 0. ], dtype=float32)
    """
    scores = jnp.asarray(scores)
    labels = jnp.asarray(labels)
    o_c = _target(scores, labels)
    rank = jnp.sum(scores > o_c[..., None], axis=-1)
    return jnp.stack([jnp.mean((rank >= k).astype(jnp.float32)) for k in ks])


def topk_accuracy(scores: jax.Array, labels: jax.Array, ks: tuple[int, ...]) -> jax.Array:
    """Top-k accuracy, ``1 - topk_error(scores, labels, ks)`` (same ranking rule).

    Example:
      >>> topk_accuracy(jnp.array([[0.1, 0.5, 0.2]]), jnp.array([1]), (1,))
      Array([1.], dtype=float32)
    """
    return 1 - topk_error(scores, labels, ks)
