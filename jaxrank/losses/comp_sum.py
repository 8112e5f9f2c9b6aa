r"""Comp-sum losses: the τ family, its H-consistency bound T_τ / Γ_τ and minimal conditional losses.

The comp-sum family of Mao, Mohri & Zhong (2023) composes Φ^τ with the sum of exponentials:

.. math::
    \ell_\tau(h, x, y) = \Phi^\tau\Big(\sum_{y' \ne y} e^{h(x,y') - h(x,y)}\Big), \qquad
    \Phi^\tau(u) = \begin{cases} \log(1+u) & \tau = 1 \\
                   \frac{(1+u)^{1-\tau} - 1}{1 - \tau} & \tau \ne 1 \end{cases}

and with p = softmax(h), 1 + u = 1/p_y, so ℓ_τ = (p_y^{τ−1} − 1)/(1 − τ): sum-exponential
(τ = 0), logistic = softmax cross-entropy (τ = 1), generalized cross-entropy (τ = 1 + q) and
MAE (τ = 2, 1 − p_y). Everything is computed from ``log_softmax`` in log space, so logits of
±1e4 are fine wherever the exact value is representable.

References:
  A. Mao, M. Mohri, Y. Zhong, "Cross-Entropy Loss Functions: Theoretical Analysis and
  Applications", ICML 2023 (arXiv:2304.07288). The bound functions T_τ are our reading of
  the paper's Thm 3.1 (not checked against the paper's text; verified numerically: the
  pointwise bound T_τ(ΔC_{0-1}) ≤ ΔC_τ holds on random draws and is tight at n = 2).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrank import _checks

__all__ = [
    "comp_sum_loss",
    "comp_sum_phi",
    "sum_exp_loss",
    "logistic_loss",
    "generalized_cross_entropy_loss",
    "mae_loss",
    "comp_sum_bound",
    "comp_sum_bound_inverse",
    "comp_sum_bound_inverse_sqrt",
    "conditional_min_loss",
    "conditional_minimizer",
    "bounded_conditional_min_loss",
    "conditional_comp_sum_risk",
    "excess_zero_one_risk",
    "minimizability_gap",
]

# |τ − 1| below this uses the τ = 1 limit in T_τ and C*_τ (the general formula is 0/0 there).
_TAU1_CUT = {np.dtype("float64"): 1e-7, np.dtype("float32"): 2e-3}


def _cut(dtype) -> float:
    return _TAU1_CUT.get(np.dtype(dtype), 2e-3)


def check_tau(tau: Any, where: str) -> None:
    """τ (scalar or array) must lie in [0, 2]; skipped for tracers."""
    if not _checks.is_concrete(tau):
        return
    arr = np.asarray(tau)
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"`{where}` must be a real number in [0, 2], got {tau!r}")
    if np.any(np.isnan(arr)) or np.any(arr < 0) or np.any(arr > 2):
        shown = arr.item() if arr.ndim == 0 else arr
        raise ValueError(f"`{where}` must lie in [0, 2], got {shown}")


def check_labels(logits: Any, labels: Any, axis: int, fn: str) -> int:
    """Integer ``labels`` of shape ``logits.shape`` without ``axis``, values in [0, n)."""
    shape = tuple(jnp.shape(logits))
    if len(shape) == 0:
        raise ValueError(f"`{fn}(logits=...)` must have at least one axis, got a scalar")
    ax = axis % len(shape)
    n = shape[ax]
    want = shape[:ax] + shape[ax + 1:]
    if tuple(jnp.shape(labels)) != want:
        raise ValueError(
            f"`{fn}(labels=...)` must have shape {want} (logits {shape} without axis {axis}), "
            f"got {tuple(jnp.shape(labels))}"
        )
    if not jnp.issubdtype(jnp.result_type(labels), jnp.integer):
        raise TypeError(
            f"`{fn}(labels=...)` must be integer class indices, got dtype {jnp.result_type(labels)}"
        )
    _checks.check_floating(logits, f"{fn}(logits=...)")
    if _checks.is_concrete(labels):
        arr = np.asarray(labels)
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            raise ValueError(
                f"`{fn}(labels=...)` must lie in [0, {n - 1}] ({n} classes), got values in "
                f"[{arr.min()}, {arr.max()}]"
            )
    else:
        _checks._traced(labels, lambda v: (v < 0) | (v >= n),
                        f"`{fn}(labels=...)` must lie in [0, {n - 1}] ({n} classes)")
    return n


# --------------------------------------------------------------------------- the loss


def _expm1_over(b):
    """φ(b) = expm1(b)/b with φ(0) = 1 (series near 0), and φ'(b)."""
    small = jnp.abs(b) < 1e-4
    bs = jnp.where(small, 1.0, b)
    phi = jnp.where(small, 1 + b / 2 + b * b / 6, jnp.expm1(bs) / bs)
    dphi = jnp.where(small, 0.5 + b / 3 + b * b / 8, ((bs - 1) * jnp.exp(bs) + 1) / (bs * bs))
    return phi, dphi


@jax.custom_jvp
def _tempered(s, tau):
    """f(s, τ) = (e^{(1−τ)s} − 1)/(1 − τ) = s·φ((1−τ)s), s = −log p_y ≥ 0 (log(1+u) at τ=1)."""
    phi, _ = _expm1_over((1 - tau) * s)
    return s * phi


@_tempered.defjvp
def _tempered_jvp(primals, tangents):
    s, tau = primals
    ds, dtau = tangents
    b = (1 - tau) * s
    phi, dphi = _expm1_over(b)
    # ∂f/∂s = e^{(1−τ)s} = p_y^{τ−1};   ∂f/∂τ = −s² φ'((1−τ)s)
    return s * phi, jnp.exp(b) * ds - s * s * dphi * dtau


def comp_sum_phi(u: jax.Array, *, tau: Any) -> jax.Array:
    r"""Φ^τ(u) = ((1+u)^{1−τ} − 1)/(1 − τ), and log(1 + u) at τ = 1 (u ≥ 0).

    Example:
      >>> import jax.numpy as jnp
      >>> [round(float(comp_sum_phi(jnp.asarray(1.0), tau=t)), 4) for t in (0.0, 1.0, 2.0)]
      [1.0, 0.6931, 0.5]
    """
    check_tau(tau, "comp_sum_phi(tau=...)")
    u = jnp.asarray(u)
    tau = jnp.asarray(tau, dtype=jnp.result_type(u, float))
    return _tempered(jnp.log1p(u), tau)


def comp_sum_loss(logits: jax.Array, labels: jax.Array, *, tau: Any, axis: int = -1) -> jax.Array:
    r"""Per-example comp-sum loss ℓ_τ of Mao, Mohri & Zhong (2023), integer labels.

    .. math::
        \ell_\tau(h, x, y) = \Phi^\tau\Big(\sum_{y'\ne y} e^{h_{y'} - h_y}\Big)
          = \frac{p_y^{\tau-1} - 1}{1 - \tau} = -\log_{2-\tau} p_y, \qquad
        \frac{\partial \ell_\tau}{\partial h} = p_y^{\tau - 1}\,(p - e_y)

    computed as ``s·expm1((1−τ)s)/((1−τ)s)`` with s = −log p_y = logsumexp(h) − h_y, taken from
    ``optax.softmax_cross_entropy_with_integer_labels`` (τ = 1 is exactly optax's loss; a series
    near τ = 1), with the exact gradient above as a custom JVP. τ is traced, so one compiled
    function serves a vmapped sweep over τ. For τ < 1 the value is e^{(1−τ)s}-large: it
    overflows to +inf only when the exact value exceeds the floating range.

    Args:
      logits: scores h(x, ·), shape (..., n) (class axis ``axis``), floating.
      labels: integer classes y ∈ [0, n), shape ``logits.shape`` without ``axis``.
      tau: τ ∈ [0, 2], a scalar or an array broadcastable to the per-example shape.
      axis: the class axis of ``logits``.

    Returns:
      The per-example loss, shape ``labels.shape``, dtype of ``logits``.

    Example:
      >>> import jax.numpy as jnp
      >>> h = jnp.array([[2.0, 0.0, 0.0]]); y = jnp.array([0])
      >>> [round(float(comp_sum_loss(h, y, tau=t)[0]), 3) for t in (0.0, 1.0, 2.0)]
      [0.271, 0.24, 0.213]

    References: Mao, Mohri & Zhong (2023), Sec. 2, Eq. of the comp-sum losses (Φ^τ).
    """
    check_tau(tau, "comp_sum_loss(tau=...)")
    check_labels(logits, labels, axis, "comp_sum_loss")
    # s = −log p_y = logsumexp(h) − h_y, delegated to optax's cross-entropy: one reduction, and
    # its gradient softmax − e_y without materialising log_softmax (2.3× faster than the
    # log_softmax form, bench.compsum).
    s = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.asarray(labels), axis=axis)
    s = jnp.maximum(s, 0)  # −log p_y ≥ 0 (clamp rounding)
    tau = jnp.asarray(tau, dtype=s.dtype)
    return _tempered(s, tau)


def sum_exp_loss(logits: jax.Array, labels: jax.Array, *, axis: int = -1) -> jax.Array:
    r"""Sum-exponential loss Σ_{y'≠y} e^{h_{y'} − h_y} = 1/p_y − 1 (comp-sum τ = 0).

    Labels: ``labels`` are integer class indices in [0, n) (out-of-range values raise
    ValueError where the labels are concrete).

    Example:
      >>> import jax.numpy as jnp
      >>> round(float(sum_exp_loss(jnp.array([[0.0, 0.0]]), jnp.array([0]))[0]), 6)
      1.0
    """
    return comp_sum_loss(logits, labels, tau=0.0, axis=axis)


def logistic_loss(logits: jax.Array, labels: jax.Array, *, axis: int = -1) -> jax.Array:
    r"""Logistic (softmax cross-entropy) loss −log p_y (comp-sum τ = 1).

    Labels: ``labels`` are integer class indices in [0, n) (out-of-range values raise
    ValueError where the labels are concrete).

    Equals ``optax.softmax_cross_entropy_with_integer_labels``.

    Example:
      >>> import jax.numpy as jnp
      >>> round(float(logistic_loss(jnp.array([[0.0, 0.0]]), jnp.array([0]))[0]), 6)
      0.693147
    """
    return comp_sum_loss(logits, labels, tau=1.0, axis=axis)


def generalized_cross_entropy_loss(
    logits: jax.Array, labels: jax.Array, *, q: Any, axis: int = -1
) -> jax.Array:
    r"""Generalized cross-entropy (Zhang & Sabuncu 2018) (1 − p_y^q)/q (comp-sum τ = 1 + q).

    Labels: ``labels`` are integer class indices in [0, n) (out-of-range values raise
    ValueError where the labels are concrete).

    Args:
      q: exponent q ∈ [0, 1] (q → 0 is cross-entropy, q = 1 is MAE).

    Example:
      >>> import jax.numpy as jnp
      >>> round(float(generalized_cross_entropy_loss(jnp.array([[0.0, 0.0]]), jnp.array([0]),
      ...                                            q=0.5)[0]), 6)
      0.585786
    """
    if _checks.is_concrete(q):
        arr = np.asarray(q)
        if np.any(np.isnan(arr)) or np.any(arr < 0) or np.any(arr > 1):
            raise ValueError(
                f"`generalized_cross_entropy_loss(q=...)` must lie in [0, 1], got "
                f"{arr.item() if arr.ndim == 0 else arr}"
            )
    return comp_sum_loss(logits, labels, tau=1.0 + jnp.asarray(q), axis=axis)


def mae_loss(logits: jax.Array, labels: jax.Array, *, axis: int = -1) -> jax.Array:
    r"""Mean absolute error on the softmax as the paper defines it, 1 − p_y (comp-sum τ = 2).

    Labels: ``labels`` are integer class indices in [0, n) (out-of-range values raise
    ValueError where the labels are concrete).

    Example:
      >>> import jax.numpy as jnp
      >>> round(float(mae_loss(jnp.array([[0.0, 0.0]]), jnp.array([0]))[0]), 6)
      0.5
    """
    return comp_sum_loss(logits, labels, tau=2.0, axis=axis)


# --------------------------------------------------------------------------- T_τ and Γ_τ


def _log_power_mean(t, r):
    """log of ((1+t)^r + (1−t)^r)/2, stable for large r (t ∈ [0, 1])."""
    a = r * jnp.log1p(t)
    b = r * jnp.log1p(-t)  # −inf at t = 1, which logaddexp handles
    return jnp.logaddexp(a, b) - jnp.log(2.0).astype(t.dtype)


def comp_sum_bound(t: Any, *, tau: Any, num_classes: int) -> jax.Array:
    r"""T_τ(t), the H-consistency bound function of the comp-sum loss ℓ_τ (Γ_τ = T_τ^{-1}).

    With M = ((1+t)^{1/(2−τ)} + (1−t)^{1/(2−τ)})/2:

    .. math::
        T_\tau(t) = \begin{cases}
          \frac{2^{1-\tau}}{1-\tau}\,[1 - M^{2-\tau}] & \tau \in [0, 1) \\
          \frac{1+t}{2}\log(1+t) + \frac{1-t}{2}\log(1-t) & \tau = 1 \\
          \frac{1}{(\tau-1)\,n^{\tau-1}}\,[M^{2-\tau} - 1] & \tau \in (1, 2) \\
          t/n & \tau = 2 \end{cases}

    so that R_{0-1}(h) − R*_{0-1}(H) + M_{0-1}(H) ≤ Γ_τ(R_τ(h) − R*_τ(H) + M_τ(H)) for symmetric,
    complete H. The typesetting of the τ ≠ 0, 1 cases is our reading (not checked against the
    paper's text; checked numerically: continuous at τ → 1 and τ → 2, and
    T_τ(ΔC_{0-1}) ≤ ΔC_τ pointwise).

    Args:
      t: t ∈ [0, 1] (an excess conditional zero-one error), any shape.
      tau: τ ∈ [0, 2], broadcastable with ``t`` (may be traced).
      num_classes: n ≥ 2 (a Python int, or traced).

    Returns:
      T_τ(t), the broadcast shape of ``t`` and ``tau``.

    Example:
      >>> import jax.numpy as jnp
      >>> round(float(comp_sum_bound(jnp.asarray(0.6), tau=0.0, num_classes=10)), 6)  # 1−√(1−t²)
      0.2

    References: Mao, Mohri & Zhong (2023), Thm 3.1 (comp-sum H-consistency bounds).
    """
    check_tau(tau, "comp_sum_bound(tau=...)")
    _check_num_classes(num_classes, "comp_sum_bound(num_classes=...)")
    _check_unit(t, "comp_sum_bound(t=...)")
    t = jnp.asarray(t, dtype=jnp.result_type(t, float))
    tau = jnp.asarray(tau, dtype=t.dtype)
    t, tau = jnp.broadcast_arrays(t, tau)
    return _bound(t, tau, jnp.asarray(num_classes, t.dtype))


@jax.jit
def _bound(t, tau, n):
    cut = _cut(t.dtype)
    # general τ ∉ {1, 2}: G = M^{2−τ} = exp((2−τ) log M)
    tau_g = jnp.where((jnp.abs(tau - 1) < cut) | (tau >= 2), 0.5, tau)
    log_g = (2 - tau_g) * _log_power_mean(t, 1 / (2 - tau_g))
    g_minus_1 = jnp.expm1(log_g)
    low = -(2 ** (1 - tau_g)) / (1 - tau_g) * g_minus_1
    high = g_minus_1 / ((tau_g - 1) * n ** (tau_g - 1))
    one = 0.5 * (jax.scipy.special.xlogy(1 + t, 1 + t) + jax.scipy.special.xlogy(1 - t, 1 - t))
    out = jnp.where(tau < 1, low, high)
    out = jnp.where(jnp.abs(tau - 1) < cut, one, out)
    out = jnp.where(tau >= 2, t / n, out)
    return jnp.maximum(out, 0)


def comp_sum_bound_inverse(eps: Any, *, tau: Any, num_classes: int,
                           iterations: int = 60) -> jax.Array:
    r"""Γ_τ(ε) = T_τ^{-1}(ε) by vectorised bisection on [0, 1] (exact n·ε at τ = 2), capped at 1.

    Γ_τ(ε) = 1 when ε ≥ T_τ(1) (the bound is then vacuous for a zero-one excess ≤ 1).

    Args:
      eps: ε ≥ 0, an excess comp-sum risk, any shape.
      tau: τ ∈ [0, 2], broadcastable with ``eps``.
      num_classes: n ≥ 2.
      iterations: bisection steps (60 halves [0, 1] below float64 resolution).

    Example:
      >>> import jax.numpy as jnp
      >>> round(float(comp_sum_bound_inverse(jnp.asarray(0.2), tau=0.0, num_classes=3)), 6)
      0.6

    References: Mao, Mohri & Zhong (2023), Thm 3.1 (Γ_τ = T_τ^{-1}).
    """
    check_tau(tau, "comp_sum_bound_inverse(tau=...)")
    _check_num_classes(num_classes, "comp_sum_bound_inverse(num_classes=...)")
    _checks.check_nonnegative(eps, "comp_sum_bound_inverse(eps=...)")
    _checks.check_positive_int(iterations, "comp_sum_bound_inverse(iterations=...)")
    eps = jnp.asarray(eps, dtype=jnp.result_type(eps, float))
    tau = jnp.asarray(tau, dtype=eps.dtype)
    eps, tau = jnp.broadcast_arrays(eps, tau)
    return _bound_inverse(eps, tau, jnp.asarray(num_classes, eps.dtype), iterations)


@functools.partial(jax.jit, static_argnums=3)
def _bound_inverse(eps, tau, n, iterations):
    def body(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        below = _bound(mid, tau, n) < eps
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = jax.lax.fori_loop(0, iterations, body, (jnp.zeros_like(eps), jnp.ones_like(eps)))
    out = hi  # T(hi) ≥ ε: Γ never underestimates
    out = jnp.where(eps >= _bound(jnp.ones_like(eps), tau, n), 1.0, out)
    return jnp.where(tau >= 2, jnp.minimum(n * eps, 1.0), out)


def comp_sum_bound_inverse_sqrt(eps: Any, *, tau: Any, num_classes: int) -> jax.Array:
    r"""The square-root simplification of Γ_τ (an upper bound on Γ_τ, capped at 1).

    .. math::
        \Gamma_\tau(\epsilon) \le \sqrt{2^\tau (2-\tau)\,\epsilon}\ (\tau \in [0,1)),\quad
        \sqrt{2 n^{\tau-1} \epsilon}\ (\tau \in [1, 2)),\quad n\epsilon\ (\tau = 2)

    Example:
      >>> import jax.numpy as jnp
      >>> round(float(comp_sum_bound_inverse_sqrt(jnp.asarray(0.02), tau=1.0, num_classes=10)), 4)
      0.2

    References: Mao, Mohri & Zhong (2023), the corollary after Thm 3.1 (constants: our
    reading, unverified).
    """
    check_tau(tau, "comp_sum_bound_inverse_sqrt(tau=...)")
    _check_num_classes(num_classes, "comp_sum_bound_inverse_sqrt(num_classes=...)")
    _checks.check_nonnegative(eps, "comp_sum_bound_inverse_sqrt(eps=...)")
    eps = jnp.asarray(eps, dtype=jnp.result_type(eps, float))
    return _bound_inverse_sqrt(eps, jnp.asarray(tau, dtype=eps.dtype),
                               jnp.asarray(num_classes, eps.dtype))


@jax.jit
def _bound_inverse_sqrt(eps, tau, n):
    low = jnp.sqrt(2**tau * (2 - tau) * eps)
    high = jnp.sqrt(2 * n ** (tau - 1) * eps)
    out = jnp.where(tau < 1, low, jnp.where(tau < 2, high, n * eps))
    return jnp.minimum(out, 1.0)


# --------------------------------------------------------------------------- C*_τ and gaps


def conditional_min_loss(probs: jax.Array, *, tau: Any, axis: int = -1) -> jax.Array:
    r"""C*_τ(x) = inf_h Σ_y p(y|x) ℓ_τ(h, x, y) for complete, unbounded H (closed form).

    .. math::
        C^*_\tau = \frac{\big(\sum_y p_y^{1/(2-\tau)}\big)^{2-\tau} - 1}{1 - \tau}

    the Shannon entropy at τ = 1 and 1 − max_y p_y at τ = 2; the minimiser's softmax is
    ∝ p^{1/(2−τ)} (:func:`conditional_minimizer`). Our derivation, checked against
    numerical minimisation in the tests.

    Args:
      probs: conditional distribution p(·|x), shape (..., n) along ``axis``.
      tau: τ ∈ [0, 2].
      axis: the class axis.

    Example:
      >>> import jax.numpy as jnp
      >>> p = jnp.array([0.5, 0.25, 0.25])
      >>> [round(float(conditional_min_loss(p, tau=t)), 4) for t in (1.0, 2.0)]
      [1.0397, 0.5]
    """
    check_tau(tau, "conditional_min_loss(tau=...)")
    p = jnp.moveaxis(jnp.asarray(probs, dtype=jnp.result_type(probs, float)), axis, -1)
    tau = jnp.broadcast_to(jnp.asarray(tau, dtype=p.dtype), p.shape[:-1])
    cut = _cut(p.dtype)
    tau_g = jnp.where((jnp.abs(tau - 1) < cut) | (tau >= 2), 0.5, tau)
    r = 1 / (2 - tau_g)
    logp = jnp.log(jnp.where(p > 0, p, 1.0))
    logp = jnp.where(p > 0, logp, -jnp.inf)
    log_g = (2 - tau_g) * jax.nn.logsumexp(r[..., None] * logp, axis=-1)
    general = jnp.expm1(log_g) / (1 - tau_g)
    entropy = -jnp.sum(jax.scipy.special.xlogy(p, p), axis=-1)
    out = jnp.where(jnp.abs(tau - 1) < cut, entropy, general)
    return jnp.where(tau >= 2, 1 - jnp.max(p, axis=-1), out)


def conditional_minimizer(probs: jax.Array, *, tau: Any, axis: int = -1) -> jax.Array:
    r"""The softmax of the pointwise minimiser of C_τ: q* ∝ p^{1/(2−τ)} (τ < 2).

    At τ = 2 the minimiser is not unique; this returns the limit, uniform over argmax p.

    Example:
      >>> import jax.numpy as jnp
      >>> [round(float(v), 3) for v in conditional_minimizer(jnp.array([0.8, 0.2]), tau=0.0)]
      [0.667, 0.333]
    """
    check_tau(tau, "conditional_minimizer(tau=...)")
    p = jnp.asarray(probs, dtype=jnp.result_type(probs, float))
    tau = jnp.asarray(tau, dtype=p.dtype)
    logp = jnp.where(p > 0, jnp.log(jnp.where(p > 0, p, 1.0)), -jnp.inf)
    r = 1 / jnp.maximum(2 - tau, 1e-12)
    q = jax.nn.softmax(jnp.where(p > 0, r * (logp - jnp.max(logp, axis, keepdims=True)),
                                 -jnp.inf), axis=axis)
    top = (p == jnp.max(p, axis=axis, keepdims=True)).astype(p.dtype)
    return jnp.where(tau >= 2, top / jnp.sum(top, axis=axis, keepdims=True), q)


def bounded_conditional_min_loss(*, tau: Any, num_classes: int, bound: Any) -> jax.Array:
    r"""C*_τ(H_Λ, x) for a deterministic label and scores in the box [−Λ, Λ]^n: Φ^τ((n−1)e^{−2Λ}).

    The best attainable scores put Λ on the label and −Λ elsewhere.

    Args:
      tau: τ ∈ [0, 2].
      num_classes: n.
      bound: Λ ≥ 0 (scalar or array, e.g. a per-x bound Λ_w‖x‖ + Λ_b).

    Example:
      >>> round(float(bounded_conditional_min_loss(tau=1.0, num_classes=2, bound=0.0)), 6)
      0.693147

    References: Mao, Mohri & Zhong (2023), Sec. 4 (minimizability gaps, deterministic case).
    """
    check_tau(tau, "bounded_conditional_min_loss(tau=...)")
    _check_num_classes(num_classes, "bounded_conditional_min_loss(num_classes=...)")
    _checks.check_nonnegative(bound, "bounded_conditional_min_loss(bound=...)")
    lam = jnp.asarray(bound, dtype=jnp.result_type(bound, float))
    u = (num_classes - 1) * jnp.exp(-2 * lam)
    return comp_sum_phi(u, tau=jnp.asarray(tau, lam.dtype))


def conditional_comp_sum_risk(logits: jax.Array, probs: jax.Array, *, tau: Any) -> jax.Array:
    r"""C_τ(h, x) = Σ_y p(y|x) ℓ_τ(h, x, y), per row of ``logits``/``probs`` (shape (..., n)).

    Example:
      >>> import jax.numpy as jnp
      >>> round(float(conditional_comp_sum_risk(jnp.zeros(2), jnp.array([0.5, 0.5]), tau=1.0)), 6)
      0.693147
    """
    if jnp.shape(probs) != jnp.shape(logits):
        raise ValueError(
            f"`conditional_comp_sum_risk(probs=...)` must have the shape of logits "
            f"{tuple(jnp.shape(logits))}, got {tuple(jnp.shape(probs))}"
        )
    check_tau(tau, "conditional_comp_sum_risk(tau=...)")
    s = jnp.maximum(-jax.nn.log_softmax(logits, axis=-1), 0)  # −log p_y for every y
    tau = jnp.asarray(tau, s.dtype)
    per = _tempered(s, tau if tau.ndim == 0 else tau[..., None])  # per[..., y] = ℓ_τ(h, x, y)
    return jnp.sum(probs * per, axis=-1)


def excess_zero_one_risk(logits: jax.Array, probs: jax.Array) -> jax.Array:
    r"""ΔC_{0-1}(h, x) = max_y p(y|x) − p(h(x)|x), per row (ties of h broken to the first index).

    Example:
      >>> import jax.numpy as jnp
      >>> round(float(excess_zero_one_risk(jnp.array([0.0, 1.0]), jnp.array([0.7, 0.3]))), 6)
      0.4
    """
    pred = jnp.argmax(logits, axis=-1)
    p_pred = jnp.take_along_axis(probs, pred[..., None], axis=-1)[..., 0]
    return jnp.max(probs, axis=-1) - p_pred


def minimizability_gap(best_risk: Any, conditional_min: Any) -> jax.Array:
    r"""M_ℓ(H) = R*_ℓ(H) − E_x[C*_ℓ(H, x)] from a best-in-class risk and per-x minimal losses.

    Args:
      best_risk: R*_ℓ(H) (or the risk of the best hypothesis found, giving an upper estimate).
      conditional_min: C*_ℓ(H, x_i) at the sample points, shape (m,) (mean taken).

    Example:
      >>> import jax.numpy as jnp
      >>> float(minimizability_gap(0.5, jnp.array([0.25, 0.25])))
      0.25

    References: Mao, Mohri & Zhong (2023), Sec. 1 (definition of the minimizability gap).
    """
    return jnp.asarray(best_risk) - jnp.mean(jnp.asarray(conditional_min), axis=-1)


# --------------------------------------------------------------------------- checks


def _check_num_classes(n: Any, where: str) -> None:
    if not _checks.is_concrete(n):
        return
    arr = np.asarray(n)
    if arr.ndim != 0 or not np.issubdtype(arr.dtype, np.number) or arr < 2:
        raise ValueError(f"`{where}` must be a number of classes >= 2, got {n!r}")


def _check_unit(t: Any, where: str) -> None:
    if not _checks.is_concrete(t):
        return
    arr = np.asarray(t)
    if np.any(np.isnan(arr)) or np.any(arr < 0) or np.any(arr > 1):
        shown = arr.item() if arr.ndim == 0 else arr
        raise ValueError(f"`{where}` must lie in [0, 1], got {shown}")
