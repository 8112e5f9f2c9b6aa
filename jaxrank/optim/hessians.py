r"""Metrics and Hessian approximations for the second-order methods of :mod:`~.gn_newton`.

Notation. :math:`B \succ 0` is a fixed metric, :math:`\|h\| = \langle Bh, h\rangle^{1/2}` and
:math:`\|g\|_* = \langle g, B^{-1} g\rangle^{1/2}` (:class:`MetricData`, :func:`make_metric`).
A Hessian approximation is a :class:`HessianApprox` triple (``init``, ``build`` once per outer
iteration, ``solve`` of :math:`(H + \lambda B) d = g` per trial): dense (Cholesky per trial),
rank one (Sherman–Morrison, :math:`O(n^2)`), diagonal, or eigen-factorized once (fixed upper
bound, lazy Hessian). A metric :math:`B \ne I` is supported by all of them. Every name here is
also importable from :mod:`jaxrank.optim.gn_newton`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_solve, solve_triangular

from jaxrank import _checks

__all__ = [
    "MetricData",
    "make_metric",
    "HessianApprox",
    "exact_hessian",
    "dense_hessian",
    "zero_hessian",
    "rank_one_hessian",
    "diagonal_hessian",
    "fixed_hessian",
    "lazy_hessian",
    "gauss_newton_fisher",
    "fisher_term",
    "regularized_solve",
]

Array = jax.Array

# --------------------------------------------------------------------------- metric


class MetricData(NamedTuple):
    """The metric :math:`B` and its lower Cholesky factor :math:`L` (both ``None``: B = I)."""

    B: Array | None
    chol: Array | None


def _check_metric(metric: Any, where: str) -> None:
    if metric is None or not _checks.is_concrete(metric):
        return
    arr = np.asarray(metric)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"`{where}` must be a square (n, n) matrix, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"`{where}` must have a floating dtype, got {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{where}` must be finite")
    scale = max(float(np.max(np.abs(arr))), 1e-300)
    if np.max(np.abs(arr - arr.T)) > 1e-8 * scale:
        raise ValueError(f"`{where}` must be symmetric, got max |B - Bᵀ| = "
                         f"{float(np.max(np.abs(arr - arr.T))):.3g}")
    lo = float(np.linalg.eigvalsh(arr)[0])
    if not lo > 0:
        raise ValueError(f"`{where}` must be positive definite, got smallest eigenvalue {lo:.3g}")


def make_metric(metric: Array | None) -> MetricData:
    """:class:`MetricData` of a symmetric positive definite ``metric`` (``None``: identity)."""
    if metric is None:
        return MetricData(None, None)
    B = jnp.asarray(metric)
    return MetricData(B, jnp.linalg.cholesky(B))


def _metric_for(metric, x, where) -> MetricData:
    """:class:`MetricData` of ``metric`` for ``x``, op by op (``gn_newton._compiled_init``)."""
    return _metric_data(_metric_matrix(metric, x, where), x.dtype)


def _metric_matrix(metric, x, where) -> Array | None:
    """``metric`` as an array of its own dtype (``None``: identity), its shape checked."""
    if metric is None:
        return None
    B = jnp.asarray(metric)
    if B.shape != (x.shape[0], x.shape[0]):
        raise ValueError(f"`{where}(metric=...)` must have shape ({x.shape[0]}, {x.shape[0]}) to "
                         f"match x, got {tuple(B.shape)}")
    return B


def _metric_data(B: Array | None, dtype) -> MetricData:
    """``B`` and its Cholesky factor (taken in ``B``'s dtype), both cast to ``dtype``."""
    m = make_metric(B)
    if m.B is None:
        return m
    return MetricData(m.B.astype(dtype), m.chol.astype(dtype))


def _binv(metric: MetricData, v: Array) -> Array:
    """:math:`B^{-1} v` (one pair of triangular solves)."""
    if metric.B is None:
        return v
    return cho_solve((metric.chol, True), v)


def _dual_sq(metric: MetricData, g: Array) -> Array:
    r""":math:`\|g\|_*^2 = g^\top B^{-1} g` (computed as :math:`\|L^{-1} g\|^2`, never < 0)."""
    if metric.B is None:
        return jnp.vdot(g, g)
    w = solve_triangular(metric.chol, g, lower=True)
    return jnp.vdot(w, w)


def _primal_sq(metric: MetricData, h: Array) -> Array:
    r""":math:`\|h\|^2 = h^\top B h`."""
    if metric.B is None:
        return jnp.vdot(h, h)
    return jnp.vdot(h, metric.B @ h)


def _add_metric(H: Array, lam: Array, metric: MetricData) -> Array:
    if metric.B is None:
        return H + lam * jnp.eye(H.shape[0], dtype=H.dtype)
    return H + lam * metric.B


def _nan_unless(ok: Array, d: Array) -> Array:
    return jnp.where(ok, d, jnp.nan)




def regularized_solve(H: Array, lam: Array, g: Array, metric: MetricData) -> Array:
    r"""Solve :math:`(H + \lambda B) d = g` by Cholesky; NaN when the matrix is not PD.

    The dense reference of every structured solve below (tests compare them).

    Example:
      >>> import jax.numpy as jnp
      >>> d = regularized_solve(jnp.eye(2), 1.0, jnp.array([2.0, 4.0]), make_metric(None))
      >>> d.round(4).tolist()
      [1.0, 2.0]
    """
    L = jnp.linalg.cholesky(_add_metric(H, lam, metric))
    d = cho_solve((L, True), g)
    return _nan_unless(jnp.all(jnp.isfinite(L)), d)


# --------------------------------------------------------------------------- Hessian approximations


class HessianApprox(NamedTuple):
    r"""A Hessian approximation :math:`H(x)` with its own solver of :math:`(H + \lambda B)d = g`.

    Attributes:
      init: ``init(x0, metric, *args) -> aux``, state kept between outer iterations (a stale
        Hessian, a factorization); ``()`` when none.
      build: ``build(x, aux, k, metric, *args) -> (curv, aux, factorizations)``, once per outer
        iteration ``k``.
      solve: ``solve(curv, lam, g, metric) -> (d, factorizations)``, once per search trial;
        ``d`` is NaN when :math:`H + \lambda B` is not positive definite.
      name: a label for records.
    """

    init: Callable[..., Any]
    build: Callable[..., Any]
    solve: Callable[..., Any]
    name: str


def _no_init(x, metric, *args):
    return ()


def _dense_solve(H, lam, g, metric):
    return regularized_solve(H, lam, g, metric), jnp.int32(1)


def dense_hessian(hess_fn: Callable[..., Array], name: str = "dense") -> HessianApprox:
    """Any dense ``hess_fn(x, *args) -> (n, n)``, Cholesky-factorized at every trial.

    Example:
      >>> import jax.numpy as jnp
      >>> approx = dense_hessian(lambda x: jnp.diag(x))
      >>> curv, _, _ = approx.build(jnp.array([1.0, 3.0]), (), 0, make_metric(None))
      >>> approx.solve(curv, 1.0, jnp.array([2.0, 4.0]), make_metric(None))[0].round(4).tolist()
      [1.0, 1.0]
    """
    if not callable(hess_fn):
        raise TypeError(f"`dense_hessian(hess_fn=...)` must be callable, got {type(hess_fn)}")

    def build(x, aux, k, metric, *args):
        H = jnp.asarray(hess_fn(x, *args))
        if H.shape != (x.shape[0], x.shape[0]):
            raise ValueError(f"`hessian` must return a square ({x.shape[0]}, {x.shape[0]}) "
                             f"matrix, got shape {H.shape}")
        return H, aux, jnp.int32(0)

    return HessianApprox(_no_init, build, _dense_solve, name)


def exact_hessian(fun: Callable[..., Array]) -> HessianApprox:
    """The exact Hessian :math:`\\nabla^2 f(x)` by ``jax.hessian``, dense Cholesky per trial."""
    return dense_hessian(jax.hessian(fun), "exact")


def zero_hessian() -> HessianApprox:
    r""":math:`H = 0`: the step is :math:`-B^{-1}g/\lambda = -\gamma B^{-1}g/\|g\|_*`.

    With it Algorithm 1 is the normalized gradient method with an adaptive radius (the official
    ``grad_norm_smooth_gradient_method``).
    """

    def build(x, aux, k, metric, *args):
        return (), aux, jnp.int32(0)

    def solve(curv, lam, g, metric):
        return _nan_unless(lam > 0, _binv(metric, g) / lam), jnp.int32(0)

    return HessianApprox(_no_init, build, solve, "zero")


def rank_one_hessian(
    factor_fn: Callable[..., tuple[Array, Array]], name: str = "rank_one"
) -> HessianApprox:
    r""":math:`H = \alpha v v^\top` from ``factor_fn(x, *args) -> (alpha, v)``, solved by
    Sherman–Morrison in :math:`O(n^2)` with the metric's Cholesky factor:

    .. math::
        (\alpha v v^\top + \lambda B)^{-1} g = \frac1\lambda\Bigl(B^{-1}g
        - \frac{\alpha\, B^{-1}v\, \langle v, B^{-1} g\rangle}{\lambda + \alpha\langle v,
        B^{-1}v\rangle}\Bigr).

    (The official ``invert_backend='wsm'``.) NaN when :math:`\lambda \le 0` or the
    denominator is not positive (an indefinite :math:`\alpha < 0` term).
    """

    def build(x, aux, k, metric, *args):
        alpha, v = factor_fn(x, *args)
        return (jnp.asarray(alpha, v.dtype), v, _binv(metric, v)), aux, jnp.int32(0)

    def solve(curv, lam, g, metric):
        alpha, v, binv_v = curv
        binv_g = _binv(metric, g)
        denom = lam + alpha * jnp.vdot(v, binv_v)
        safe = jnp.where(denom > 0, denom, 1.0)
        d = (binv_g - (alpha * jnp.vdot(v, binv_g) / safe) * binv_v) / jnp.where(lam > 0, lam, 1)
        return _nan_unless((lam > 0) & (denom > 0), d), jnp.int32(0)

    return HessianApprox(_no_init, build, solve, name)


def diagonal_hessian(fun: Callable[..., Array] | None = None,
                     diag_fn: Callable[..., Array] | None = None) -> HessianApprox:
    r""":math:`H = \mathrm{Diag}(\nabla^2 f(x))` (or ``diag_fn(x, *args)``).

    With :math:`B = I` the solve is elementwise (no factorization); with a general metric it is a
    dense Cholesky of :math:`\mathrm{Diag}(h) + \lambda B`. NaN when an entry of
    :math:`h + \lambda` is not positive.
    """
    if diag_fn is None:
        if fun is None:
            raise TypeError("`diagonal_hessian` needs `fun` or `diag_fn`")
        hess = jax.hessian(fun)

        def diag_fn(x, *args):
            return jnp.diag(hess(x, *args))

    def build(x, aux, k, metric, *args):
        return diag_fn(x, *args), aux, jnp.int32(0)

    def solve(curv, lam, g, metric):
        if metric.B is None:
            den = curv + lam
            return _nan_unless(jnp.all(den > 0), g / jnp.where(den > 0, den, 1)), jnp.int32(0)
        return regularized_solve(jnp.diag(curv), lam, g, metric), jnp.int32(1)

    return HessianApprox(_no_init, build, solve, "diagonal")


def _eig_factor(H: Array, metric: MetricData) -> tuple[Array, Array]:
    r"""Eigen-factorize :math:`L^{-1} H L^{-\top} = Q \Lambda Q^\top`; returns
    :math:`(\tilde Q = L^{-\top} Q, \Lambda)` so that
    :math:`(H + \lambda B)^{-1} = \tilde Q (\Lambda + \lambda)^{-1} \tilde Q^\top`."""
    H = 0.5 * (H + H.T)
    if metric.B is None:
        evals, Q = jnp.linalg.eigh(H)
        return Q, evals
    Linv_H = solve_triangular(metric.chol, H, lower=True)
    C = solve_triangular(metric.chol, Linv_H.T, lower=True)
    evals, Q = jnp.linalg.eigh(0.5 * (C + C.T))
    return solve_triangular(metric.chol.T, Q, lower=False), evals


def _eig_solve(curv, lam, g, metric):
    Qt, evals = curv
    den = evals + lam
    ok = jnp.all(den > 0)
    d = Qt @ ((Qt.T @ g) / jnp.where(den > 0, den, 1))
    return _nan_unless(ok, d), jnp.int32(0)


def fixed_hessian(hess_fn: Callable[..., Array], name: str = "fixed") -> HessianApprox:
    r"""A constant :math:`H` (e.g. the upper bound :math:`\frac{1}{4m}A^\top A` of logistic
    regression), ``hess_fn(x0, *args)`` evaluated and eigen-factorized **once** in ``init``; each
    trial is then two matrix–vector products for any :math:`\lambda`."""

    def init(x, metric, *args):
        return _eig_factor(jnp.asarray(hess_fn(x, *args)), metric)

    def build(x, aux, k, metric, *args):
        return aux, aux, jnp.int32(0)

    return HessianApprox(init, build, _eig_solve, name)


def lazy_hessian(hess_fn: Callable[..., Array], every: int, name: str = "lazy") -> HessianApprox:
    r"""A stale Hessian: :math:`H(x_{k'})` with :math:`k' = \lfloor k / m\rfloor m`, recomputed and
    eigen-factorized every ``every`` (= m) outer iterations (Doikov et al.'s lazy Newton)."""
    _checks.check_positive_int(every, "lazy_hessian(every=...)")

    def init(x, metric, *args):
        return _eig_factor(jnp.asarray(hess_fn(x, *args)), metric)

    def build(x, aux, k, metric, *args):
        refresh = (jnp.asarray(k) % every) == 0
        aux = jax.lax.cond(refresh, lambda: _eig_factor(jnp.asarray(hess_fn(x, *args)), metric),
                           lambda: aux)
        return aux, aux, refresh.astype(jnp.int32)

    return HessianApprox(init, build, _eig_solve, name)


def gauss_newton_fisher(residual_fn: Callable[..., Array], p: float) -> HessianApprox:
    r"""The "inexact Hessian" of :math:`f = \frac1p\|u(x)\|^p` (generalized Gauss–Newton plus
    Fisher term), dropping :math:`\|u\|^{p-2}\sum_i u_i \nabla^2 u_i`:

    .. math::
        H = \|u\|^{p-2} J^\top J + (p-2)\|u\|^{p-4} (J^\top u)(J^\top u)^\top,

    with :math:`J` the Jacobian of ``residual_fn(x, *args)`` (by ``jax.jacfwd``).
    """
    jac = jax.jacfwd(residual_fn)

    def hess(x, *args):
        u = residual_fn(x, *args)
        J = jac(x, *args)
        s = jnp.vdot(u, u)
        w = jnp.where(s > 0, s, 1.0)
        Ju = J.T @ u
        gn = w ** ((p - 2) / 2) * (J.T @ J) + (p - 2) * w ** ((p - 4) / 2) * jnp.outer(Ju, Ju)
        at_zero = J.T @ J if p == 2 else jnp.zeros_like(gn)  # the official value at u = 0
        return jnp.where(s > 0, gn, at_zero)

    return dense_hessian(hess, "gauss_newton_fisher")


def fisher_term(residual_fn: Callable[..., Array], p: float) -> HessianApprox:
    r"""The rank-one Fisher term :math:`(p-2)\|u\|^{p-4}(J^\top u)(J^\top u)^\top` of
    :math:`f = \frac1p\|u(x)\|^p`, solved by Sherman–Morrison (:func:`rank_one_hessian`).

    Its only nonzero eigenvalue is :math:`(p-2)\|u\|^{p-4}\|J^\top u\|^2`; since
    :math:`\nabla f = \|u\|^{p-2}J^\top u` it equals
    :math:`\frac{p-2}{\|u\|^p}\nabla f\nabla f^\top`.
    """

    def factor(x, *args):
        u, vjp = jax.vjp(lambda z: residual_fn(z, *args), x)
        (Ju,) = vjp(u)
        s = jnp.vdot(u, u)
        alpha = jnp.where(s > 0, (p - 2) * jnp.where(s > 0, s, 1.0) ** ((p - 4) / 2), 0.0)
        return alpha, Ju

    return rank_one_hessian(factor, "fisher")
