r"""Gradient-regularized Newton with approximate Hessians and an adaptive radius search.

Implements Semenov, Jaggi, Doikov, *Gradient-Normalized Smoothness for Optimization with
Approximate Hessians* (arXiv:2506.13710, ICLR 2026), Algorithm 1 as the official code
(epfml/grad-norm-smooth) runs it, its variants, the baselines of its experiments and the test
problems with their Hessian approximations.

Notation. :math:`B \succ 0` is a fixed metric, :math:`\|h\| = \langle Bh, h\rangle^{1/2}` and
:math:`\|g\|_* = \langle g, B^{-1} g\rangle^{1/2}`. One step of Algorithm 1 is

.. math::
    x_{k+1} = x_k - \bigl(H(x_k) + \lambda_k B\bigr)^{-1}\nabla f(x_k), \qquad
    \lambda_k = \frac{\|\nabla f(x_k)\|_*}{\gamma_k + \epsilon},

where :math:`H(x_k)` is the exact or an approximate Hessian and :math:`\gamma_k` a radius found
by a doubling/halving search: a trial is accepted when (Lemma 1)

.. math::
    f(x_k) - f(x_k + \delta) \ \ge\ \frac{\|\nabla f(x_k + \delta)\|_*^2}{8 \lambda_k},

after which :math:`\gamma \leftarrow \max(2\gamma, \gamma_{\min})`; otherwise
:math:`\gamma \leftarrow \gamma / 2` and the trial is repeated (at most ``max_trials`` times).
The search is one ``lax.while_loop`` inside the outer update.

Every solver takes an objective ``fun(x, *args) -> scalar`` and a flat parameter vector
``x`` of shape ``(n,)``, or any pytree of floating arrays (a dict of weights: it is flattened
at entry by :func:`jaxrank.optim.flat_params` and the iterate returned as that pytree;
Hessians, metrics and the state then refer to the flattened vector); ``*args`` (data) reach
``fun`` and every Hessian approximation, so large matrices are never baked into the compiled
code. Hessian approximations are
:class:`HessianApprox` triples (``init``, ``build`` once per outer iteration, ``solve`` of
:math:`(H + \lambda B) d = g` per trial): dense (Cholesky per trial), rank one
(Sherman–Morrison, :math:`O(n^2)`), diagonal, or eigen-factorized once (fixed upper bound, lazy
Hessian). A metric :math:`B \ne I` is supported by all of them.

Precision: the paper's runs go down to :math:`10^{-13}`–:math:`10^{-26}`; use float64 inputs
for them (the experiments declare ``Config.dtype = "float64"``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_solve, solve_triangular

from jaxrank import _checks
from jaxrank.optim._base import Solver, cached_factory
from jaxrank.optim._pytree import flat_params

__all__ = [
    # metric and Hessian approximations
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
    "lse_weighted_gauss_newton",
    "regularized_solve",
    # solvers
    "GradRegNewtonState",
    "grad_reg_newton",
    "normalized_gradient_search",
    "SuperNewtonState",
    "super_universal_newton",
    "CubicNewtonState",
    "cubic_newton",
    "cubic_step",
    "GradientMethodState",
    "gradient_method",
    "FastGradientState",
    "fast_gradient_method",
    # test problems
    "log_sum_exp",
    "log_sum_exp_grad",
    "log_sum_exp_hessian",
    "lse_zero_shift",
    "power_residual",
    "linear_equations",
    "linear_residuals",
    "rosenbrock",
    "rosenbrock_residuals",
    "chebyshev_residuals",
    "chebyshev",
    "logistic_regression",
    "softmax_regression",
    "logistic_upper_bound",
    "logistic_hessian_diag",
    "softmax_hessian_diag",
    "softmax_weighted_gauss_newton",
    "tanh_residuals",
    "logistic_empirical_fisher",
    "softmax_empirical_fisher",
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


def _weighted_gram(A: Array, w: Array) -> Array:
    r""":math:`A^\top \mathrm{Diag}(w) A` for ``A`` of shape ``(m, n)``.

    The scaled transpose :math:`A^\top\mathrm{Diag}(w)` is materialized (an
    ``optimization_barrier`` stops XLA from folding the transpose into the product): folded, the
    product contracts dimension 0 of both operands, and XLA:CPU's float64 kernel for that layout
    was 2.5–4× slower than for a plain row-major product (measured at n = m = 1000, where the
    extra copy costs ~1 % of the product). Same values up to summation order.
    """
    return jax.lax.optimization_barrier(A.T * w[None, :]) @ A


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


def lse_weighted_gauss_newton(x: Array, A: Array, b: Array, mu: float = 1.0) -> Array:
    r"""Weighted Gauss–Newton approximation of the log-sum-exp Hessian,
    :math:`\tilde H = \frac1\mu A^\top \mathrm{Diag}(\pi) A \succeq \nabla^2 f(x)` (it drops the
    rank-one term :math:`-\frac1\mu (A^\top\pi)(A^\top\pi)^\top`)."""
    pi = jax.nn.softmax((A @ x - b) / mu)
    return _weighted_gram(A, pi) / mu


# --------------------------------------------------------------------------- shared pieces


def _check_x(x: Any, where: str) -> None:
    if not hasattr(x, "shape") and not isinstance(x, (int, float)):
        leaves = jax.tree.leaves(x)
        raise TypeError(
            f"`{where}` must be one 1-D array (these solvers factor a d x d matrix; flatten a "
            "pytree with jax.flatten_util.ravel_pytree), got a pytree "
            f"{type(x).__name__} with {len(leaves)} leaves"
        )
    _checks.check_rank(x, 1, where)
    _checks.check_floating(x, where)
    _checks.check_finite(x, where)
    if jnp.finfo(jnp.result_type(x)).bits < 64:
        warnings.warn(
            f"`{where}` has dtype {jnp.result_type(x)}: the acceptance test of the adaptive "
            "search cannot hold once the decrease is below float32 rounding, and each "
            "iteration then spends up to max_trials trials (about 35 per iteration has been "
            "seen) at a tolerance it cannot reach; use float64 "
            "(jax.config.update('jax_enable_x64', True))", RuntimeWarning, stacklevel=4)


def _resolve_hessian(fun, hessian, where) -> HessianApprox:
    if hessian is None:
        return exact_hessian(fun)
    if isinstance(hessian, HessianApprox):
        return hessian
    if callable(hessian):
        return dense_hessian(hessian)
    raise TypeError(f"`{where}(hessian=...)` must be None, a HessianApprox or a callable "
                    f"x -> H(x), got {type(hessian)}")


def _check_common(fun, metric, where):
    if not callable(fun):
        raise TypeError(f"`{where}(fun=...)` must be callable, got {type(fun)}")
    _check_metric(metric, f"{where}(metric=...)")


def _metric_for(metric, x, where) -> MetricData:
    m = make_metric(metric)
    if m.B is not None and m.B.shape != (x.shape[0], x.shape[0]):
        raise ValueError(f"`{where}(metric=...)` must have shape ({x.shape[0]}, {x.shape[0]}) to "
                         f"match x, got {tuple(m.B.shape)}")
    if m.B is not None:
        m = MetricData(m.B.astype(x.dtype), m.chol.astype(x.dtype))
    return m


def _search(x, f, g, gnorm, param, *, lam_fn, accept_fn, grow, shrink, solve_fn, vg, dual_sq,
            max_trials, adaptive):
    """The inner ``lax.while_loop`` of trials; returns the accepted (or last) trial."""
    dtype = x.dtype

    def trial(carry):
        i, p, _, _, _, _, _, _, fact = carry
        lam = lam_fn(p)
        d, cost = solve_fn(lam)
        d = -d
        f_new, g_new = vg(x + d)
        gsq = dual_sq(g_new)
        ok = accept_fn(f_new, g_new, gsq, d, lam) & jnp.all(jnp.isfinite(d))
        if adaptive:
            p_next = jnp.where(ok, grow(p), shrink(p))
            done = ok
        else:
            p_next, done = p, jnp.bool_(True)
        return (i + 1, p_next, d, f_new.astype(dtype), g_new, gsq, lam, done, fact + cost)

    def cond(carry):
        return (~carry[7]) & (carry[0] < max_trials)

    zero = jnp.zeros((), dtype)
    init = (jnp.int32(0), param, jnp.zeros_like(x), f, g, gnorm**2, zero, jnp.bool_(False),
            jnp.int32(0))
    i, p, d, f_new, g_new, gsq, lam, _, fact = jax.lax.while_loop(cond, trial, init)
    good = jnp.all(jnp.isfinite(d)) & jnp.isfinite(f_new)
    # All trials failed to produce a finite step: stay at x (the official code would crash).
    x_new = jnp.where(good, x + d, x)
    f_new = jnp.where(good, f_new, f)
    g_new = jnp.where(good, g_new, g)
    gsq = jnp.where(good, gsq, gnorm**2)
    return x_new, f_new, g_new, jnp.sqrt(jnp.maximum(gsq, 0)), p, lam, i, fact


def _stop(f, gnorm, f_target, grad_tol):
    stop = gnorm <= grad_tol
    if f_target is not None:
        stop = stop | (f <= f_target)
    return stop


def _check_stop_args(f_target, grad_tol, where):
    _checks.check_nonnegative(grad_tol, f"{where}(grad_tol=...)")
    if f_target is not None:
        v = np.asarray(f_target) if _checks.is_concrete(f_target) else None
        if v is not None and not np.all(np.isfinite(v)):
            raise ValueError(f"`{where}(f_target=...)` must be finite, got {f_target}")


# --------------------------------------------------------------------------- Algorithm 1


class GradRegNewtonState(NamedTuple):
    """State of :func:`grad_reg_newton` at :math:`x_k` (all arrays).

    Attributes:
      count: outer iteration k.
      value: :math:`f(x_k)`.
      grad: :math:`\\nabla f(x_k)`.
      grad_norm: :math:`\\|\\nabla f(x_k)\\|_*`.
      gamma: the radius :math:`\\gamma_k` the next search starts from.
      lam: :math:`\\lambda` of the step that produced :math:`x_k` (NaN at k = 0).
      grad_calls: gradient evaluations so far (1 at init, one per trial).
      factorizations: matrix factorizations so far.
      trials: search trials so far.
      converged: the stopping rule held (later updates leave x unchanged).
      hess_aux: the Hessian approximation's state.
      metric: :class:`MetricData`.
    """

    count: Array
    value: Array
    grad: Array
    grad_norm: Array
    gamma: Array
    lam: Array
    grad_calls: Array
    factorizations: Array
    trials: Array
    converged: Array
    hess_aux: Any
    metric: MetricData


@cached_factory
@flat_params
def grad_reg_newton(
    fun: Callable[..., Array],
    *,
    hessian: HessianApprox | Callable[..., Array] | None = None,
    metric: Array | None = None,
    gamma0: float = 1.0,
    adaptive: bool = True,
    eps: float = 1e-8,
    gamma_min: float = 1e-9,
    max_trials: int = 41,
    f_target: float | None = None,
    grad_tol: float = 0.0,
) -> Solver:
    r"""Algorithm 1: gradient-regularized Newton with an (approximate) Hessian and radius search.

    .. math::
        \lambda_k = \frac{\|\nabla f(x_k)\|_*}{\gamma_k + \epsilon}, \quad
        \delta = -(H(x_k) + \lambda_k B)^{-1}\nabla f(x_k), \quad
        \text{accept if } f(x_k) - f(x_k + \delta) \ge
        \frac{\|\nabla f(x_k + \delta)\|_*^2}{8\lambda_k}.

    Accepting sets :math:`\gamma \leftarrow \max(2\gamma, \gamma_{\min})`; rejecting sets
    :math:`\gamma \leftarrow \gamma/2` and retries; after ``max_trials`` rejections the last trial
    is taken anyway (as the official code does). :math:`H` is built once per outer iteration.
    A trial whose :math:`H + \lambda B` is not positive definite counts as rejected (the
    official code leaves the loop on ``LinAlgError``; our reading, documented in
    ``paper_repro/gn_smoothness.md``). Once ``f <= f_target`` or ``‖∇f‖_* <= grad_tol`` the
    update leaves x unchanged (the official stopping rule).

    Args:
      fun: objective ``fun(x, *args) -> scalar`` (:math:`f`), ``x`` of shape ``(n,)``.
      hessian: :math:`H(x)`: ``None`` (exact, ``jax.hessian``), a :class:`HessianApprox`, or any
        callable ``x, *args -> (n, n)`` (dense).
      metric: :math:`B`, symmetric positive definite ``(n, n)``; ``None`` is the identity.
      gamma0: initial radius :math:`\gamma_0 > 0`.
      adaptive: run the search (else one trial per step with fixed :math:`\gamma_0`).
      eps: :math:`\epsilon` in the denominator of :math:`\lambda_k` (official default 1e-8).
      gamma_min: floor :math:`\gamma_{\min}` applied on acceptance (official quirk).
      max_trials: cap on trials per iteration (official: 41, i = 0..40).
      f_target: stop once :math:`f(x_k) \le` this (the official ``f_star + eps``).
      grad_tol: stop once :math:`\|\nabla f(x_k)\|_* \le` this.

    Returns:
      A :class:`~jaxrank.optim.Solver` with ``init(x, *args)``, ``update(x, state, *args)``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> f = lambda x: 0.5 * jnp.sum(jnp.array([1.0, 10.0]) * x**2)
      >>> x, s, _ = run(grad_reg_newton(f), jnp.array([1.0, 1.0]), 30)
      >>> bool(s.value < 1e-12)
      True

    References: Semenov, Jaggi, Doikov 2025, Algorithm 1 (with the adaptive search of their
    Algorithm 3 / the official ``grad_norm_smooth``); acceptance test = Lemma 1.
    """
    where = "grad_reg_newton"
    _check_common(fun, metric, where)
    _checks.check_positive(gamma0, f"{where}(gamma0=...)")
    _checks.check_nonnegative(eps, f"{where}(eps=...)")
    _checks.check_nonnegative(gamma_min, f"{where}(gamma_min=...)")
    _checks.check_positive_int(max_trials, f"{where}(max_trials=...)")
    _check_stop_args(f_target, grad_tol, where)
    approx = _resolve_hessian(fun, hessian, where)
    vg_fun = jax.value_and_grad(fun)

    def init(x, *args):
        _check_x(x, f"{where}.init(x=...)")
        m = _metric_for(metric, x, where)
        f, g = vg_fun(x, *args)
        gn = jnp.sqrt(jnp.maximum(_dual_sq(m, g), 0))
        dt = x.dtype
        return GradRegNewtonState(
            count=jnp.zeros((), jnp.int32), value=f.astype(dt), grad=g, grad_norm=gn,
            gamma=jnp.asarray(gamma0, dt), lam=jnp.full((), jnp.nan, dt),
            grad_calls=jnp.ones((), jnp.int32), factorizations=jnp.zeros((), jnp.int32),
            trials=jnp.zeros((), jnp.int32),
            converged=_stop(f, gn, f_target, grad_tol),
            hess_aux=approx.init(x, m, *args), metric=m)

    def step(x, s, *args):
        m = s.metric
        curv, aux, fact_build = approx.build(x, s.hess_aux, s.count, m, *args)
        gn = s.grad_norm
        x_new, f_new, g_new, gn_new, gamma, lam, trials, fact = _search(
            x, s.value, s.grad, gn, s.gamma,
            lam_fn=lambda gam: gn / (gam + eps),  # λ_k = ‖∇f‖_*/(γ_k + ε)
            # Lemma 1: f(x) − f(x+δ) ≥ ‖∇f(x+δ)‖²_*/(8λ)
            accept_fn=lambda fn, gnew, gsq, d, lam: s.value - fn >= gsq / (8 * lam),
            grow=lambda gam: jnp.maximum(2 * gam, gamma_min), shrink=lambda gam: gam / 2,
            solve_fn=lambda lam: approx.solve(curv, lam, s.grad, m),
            vg=lambda z: vg_fun(z, *args), dual_sq=lambda v: _dual_sq(m, v),
            max_trials=max_trials, adaptive=adaptive)
        return x_new, GradRegNewtonState(
            count=s.count + 1, value=f_new, grad=g_new, grad_norm=gn_new, gamma=gamma,
            lam=lam, grad_calls=s.grad_calls + trials,
            factorizations=s.factorizations + fact + fact_build, trials=s.trials + trials,
            converged=_stop(f_new, gn_new, f_target, grad_tol), hess_aux=aux, metric=m)

    def update(x, s, *args):
        return jax.lax.cond(s.converged, lambda: (x, s._replace(count=s.count + 1)),
                            lambda: step(x, s, *args))

    return Solver(init, update)


def normalized_gradient_search(fun: Callable[..., Array], **kwargs: Any) -> Solver:
    r"""Algorithm 1 with :math:`H = 0`: :math:`x_{k+1} = x_k - \gamma_k B^{-1}\nabla f/\|\nabla
    f\|_*` with the same radius search (the official ``grad_norm_smooth_gradient_method``).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> x, s, _ = run(normalized_gradient_search(lambda x: jnp.sum(x**2)), jnp.ones(2), 60)
      >>> bool(s.value < 1e-8)
      True
    """
    if "hessian" in kwargs:
        raise TypeError("`normalized_gradient_search` fixes hessian = 0; do not pass `hessian`")
    return grad_reg_newton(fun, hessian=zero_hessian_approx(), **kwargs)


def zero_hessian_approx() -> HessianApprox:
    """The shared :func:`zero_hessian` object (one object, so the factory cache hits)."""
    return _ZERO_HESSIAN


_ZERO_HESSIAN = zero_hessian()


# --------------------------------------------------------------------------- super-universal


class SuperNewtonState(NamedTuple):
    """State of :func:`super_universal_newton`; ``reg`` is :math:`H_k`, ``lam`` the last λ."""

    count: Array
    value: Array
    grad: Array
    grad_norm: Array
    reg: Array
    lam: Array
    grad_calls: Array
    factorizations: Array
    trials: Array
    converged: Array
    hess_aux: Any
    metric: MetricData


@cached_factory
@flat_params
def super_universal_newton(
    fun: Callable[..., Array],
    *,
    hessian: HessianApprox | Callable[..., Array] | None = None,
    metric: Array | None = None,
    reg0: float = 1.0,
    alpha: float = 1.0,
    reg_min: float = 1e-5,
    max_trials: int = 40,
    f_target: float | None = None,
    grad_tol: float = 0.0,
) -> Solver:
    r"""Super-universal Newton (Doikov, Mishchenko, Nesterov 2024), the paper's baseline.

    .. math::
        \lambda_k = H_k \|\nabla f(x_k)\|_*^{\alpha}, \quad
        \delta = -(\nabla^2 f(x_k) + \lambda_k B)^{-1}\nabla f(x_k), \quad
        \text{accept if } \langle \nabla f(x_k+\delta), -\delta\rangle \ge
        \frac{\|\nabla f(x_k+\delta)\|_*^2}{4\lambda_k};

    on acceptance :math:`H \leftarrow \max(H/4, H_{\min})`, else :math:`H \leftarrow 4H`.

    Args:
      fun: objective ``fun(x, *args)``.
      hessian: as in :func:`grad_reg_newton` (default exact).
      metric: :math:`B` (default identity).
      reg0: :math:`H_0 > 0`. alpha: :math:`\alpha \in [0, 1]`. reg_min: :math:`H_{\min}`.
      max_trials, f_target, grad_tol: as in :func:`grad_reg_newton` (official cap: 40).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> x, s, _ = run(super_universal_newton(lambda x: jnp.sum(x**4)), jnp.ones(2), 40)
      >>> bool(s.value < 1e-8)
      True
    """
    where = "super_universal_newton"
    _check_common(fun, metric, where)
    _checks.check_positive(reg0, f"{where}(reg0=...)")
    _checks.check_in_range(alpha, 0.0, 1.0, f"{where}(alpha=...)")
    _checks.check_nonnegative(reg_min, f"{where}(reg_min=...)")
    _checks.check_positive_int(max_trials, f"{where}(max_trials=...)")
    _check_stop_args(f_target, grad_tol, where)
    approx = _resolve_hessian(fun, hessian, where)
    vg_fun = jax.value_and_grad(fun)

    def init(x, *args):
        _check_x(x, f"{where}.init(x=...)")
        m = _metric_for(metric, x, where)
        f, g = vg_fun(x, *args)
        gn = jnp.sqrt(jnp.maximum(_dual_sq(m, g), 0))
        dt = x.dtype
        return SuperNewtonState(
            jnp.zeros((), jnp.int32), f.astype(dt), g, gn, jnp.asarray(reg0, dt),
            jnp.full((), jnp.nan, dt), jnp.ones((), jnp.int32), jnp.zeros((), jnp.int32),
            jnp.zeros((), jnp.int32), _stop(f, gn, f_target, grad_tol),
            approx.init(x, m, *args), m)

    def step(x, s, *args):
        m = s.metric
        curv, aux, fact_build = approx.build(x, s.hess_aux, s.count, m, *args)
        gn = s.grad_norm
        x_new, f_new, g_new, gn_new, reg, lam, trials, fact = _search(
            x, s.value, s.grad, gn, s.reg,
            lam_fn=lambda h: h * gn**alpha,
            accept_fn=lambda fn, gnew, gsq, d, lam: jnp.vdot(gnew, -d) >= gsq / (4 * lam),
            grow=lambda h: jnp.maximum(h / 4, reg_min), shrink=lambda h: 4 * h,
            solve_fn=lambda lam: approx.solve(curv, lam, s.grad, m),
            vg=lambda z: vg_fun(z, *args), dual_sq=lambda v: _dual_sq(m, v),
            max_trials=max_trials, adaptive=True)
        return x_new, SuperNewtonState(
            s.count + 1, f_new, g_new, gn_new, reg, lam, s.grad_calls + trials,
            s.factorizations + fact + fact_build, s.trials + trials,
            _stop(f_new, gn_new, f_target, grad_tol), aux, m)

    def update(x, s, *args):
        return jax.lax.cond(s.converged, lambda: (x, s._replace(count=s.count + 1)),
                            lambda: step(x, s, *args))

    return Solver(init, update)


# --------------------------------------------------------------------------- cubic Newton


def cubic_step(g: Array, H: Array, M: Array, metric: MetricData,
               bisection_steps: int = 100) -> tuple[Array, Array]:
    r"""Minimize :math:`m(h) = \langle g, h\rangle + \frac12\langle Hh, h\rangle +
    \frac{M}{6}\|h\|^3` (Nesterov–Polyak), via :math:`h(r) = -(H + \frac{M r}{2}B)^{-1}g` with
    :math:`r = \|h(r)\|` found by bisection on the eigen-decomposition of
    :math:`L^{-1}HL^{-\top}`. Returns ``(h, m(h))``. The "hard case" (g orthogonal to the
    bottom eigenvector of an indefinite H) is not treated specially.
    """
    Qt, evals = _eig_factor(H, metric)
    gt = Qt.T @ g  # coordinates: ‖h‖_B² = Σ gt_i² / (Λ_i + c r)²
    c = M / 2
    lo = jnp.maximum(0.0, -evals[0] / c) * (1 + 1e-12) + 1e-300

    def norm_at(r):
        return jnp.sqrt(jnp.sum(gt**2 / (evals + c * r) ** 2))

    def grow(r):
        return 2 * r + 1.0

    hi = jax.lax.while_loop(lambda r: norm_at(r) > r, grow, lo + 1.0)

    def bis(_, lh):
        a, b = lh
        mid = 0.5 * (a + b)
        big = norm_at(mid) > mid
        return jnp.where(big, mid, a), jnp.where(big, b, mid)

    a, b = jax.lax.fori_loop(0, bisection_steps, bis, (lo, hi))
    r = b
    h = -Qt @ (gt / (evals + c * r))
    hn = jnp.sqrt(jnp.maximum(_primal_sq(metric, h), 0))
    model = jnp.vdot(g, h) + 0.5 * jnp.vdot(h, H @ h) + M / 6 * hn**3
    return h, model


class CubicNewtonState(NamedTuple):
    """State of :func:`cubic_newton`; ``reg`` is the cubic constant :math:`M_k`."""

    count: Array
    value: Array
    grad: Array
    grad_norm: Array
    reg: Array
    grad_calls: Array
    factorizations: Array
    trials: Array
    converged: Array
    metric: MetricData


@cached_factory
@flat_params
def cubic_newton(
    fun: Callable[..., Array],
    *,
    hessian: Callable[..., Array] | None = None,
    metric: Array | None = None,
    reg0: float = 1.0,
    reg_min: float = 1e-5,
    max_trials: int = 40,
    f_target: float | None = None,
    grad_tol: float = 0.0,
) -> Solver:
    r"""Cubic Newton (Nesterov–Polyak 2006) with a line search on the cubic constant :math:`M`.

    .. math::
        x_{k+1} = x_k + \arg\min_h \Bigl\{\langle\nabla f, h\rangle + \tfrac12\langle
        \nabla^2 f\, h, h\rangle + \tfrac{M_k}{6}\|h\|^3\Bigr\}, \quad
        \text{accept if } f(x_k + h) \le f(x_k) + m_k(h);

    on acceptance :math:`M \leftarrow \max(M/2, M_{\min})`, else :math:`M \leftarrow 2M` (the
    official ``cubic_newton``). One eigen-factorization per outer iteration.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> x, s, _ = run(cubic_newton(lambda x: jnp.sum(x**4)), jnp.ones(2), 40)
      >>> bool(s.value < 1e-8)
      True
    """
    where = "cubic_newton"
    _check_common(fun, metric, where)
    _checks.check_positive(reg0, f"{where}(reg0=...)")
    _checks.check_nonnegative(reg_min, f"{where}(reg_min=...)")
    _checks.check_positive_int(max_trials, f"{where}(max_trials=...)")
    _check_stop_args(f_target, grad_tol, where)
    hess = jax.hessian(fun) if hessian is None else hessian
    if not callable(hess):
        raise TypeError(f"`{where}(hessian=...)` must be None or a callable, got {type(hess)}")
    vg_fun = jax.value_and_grad(fun)

    def init(x, *args):
        _check_x(x, f"{where}.init(x=...)")
        m = _metric_for(metric, x, where)
        f, g = vg_fun(x, *args)
        gn = jnp.sqrt(jnp.maximum(_dual_sq(m, g), 0))
        z = jnp.zeros((), jnp.int32)
        return CubicNewtonState(z, f.astype(x.dtype), g, gn, jnp.asarray(reg0, x.dtype),
                                z + 1, z, z, _stop(f, gn, f_target, grad_tol), m)

    def step(x, s, *args):
        m = s.metric
        H = jnp.asarray(hess(x, *args))

        def trial(carry):
            i, M, _, _, _ = carry
            h, model = cubic_step(s.grad, H, M, m)
            f_new = fun(x + h, *args).astype(x.dtype)
            ok = (f_new <= s.value + model) & jnp.all(jnp.isfinite(h))
            return i + 1, jnp.where(ok, jnp.maximum(M / 2, reg_min), 2 * M), h, f_new, ok

        init_c = (jnp.int32(0), s.reg, jnp.zeros_like(x), s.value, jnp.bool_(False))
        i, M, h, f_new, _ = jax.lax.while_loop(lambda c: (~c[4]) & (c[0] < max_trials), trial,
                                               init_c)
        good = jnp.all(jnp.isfinite(h)) & jnp.isfinite(f_new)
        x_new = jnp.where(good, x + h, x)
        f_new, g_new = vg_fun(x_new, *args)
        gn = jnp.sqrt(jnp.maximum(_dual_sq(m, g_new), 0))
        return x_new, CubicNewtonState(s.count + 1, f_new.astype(x.dtype), g_new, gn, M,
                                       s.grad_calls + 1, s.factorizations + 1, s.trials + i,
                                       _stop(f_new, gn, f_target, grad_tol), m)

    def update(x, s, *args):
        return jax.lax.cond(s.converged, lambda: (x, s._replace(count=s.count + 1)),
                            lambda: step(x, s, *args))

    return Solver(init, update)


# --------------------------------------------------------------------------- gradient methods


class GradientMethodState(NamedTuple):
    """State of :func:`gradient_method`: ``lip`` is the line-search estimate :math:`L_k`."""

    count: Array
    value: Array
    grad: Array
    grad_norm: Array
    lip: Array
    grad_calls: Array
    func_calls: Array
    metric: MetricData


@cached_factory
@flat_params
def gradient_method(
    fun: Callable[..., Array],
    *,
    metric: Array | None = None,
    lip0: float = 1.0,
    lip_min: float = 1e-5,
    max_trials: int = 30,
) -> Solver:
    r"""Gradient method in the metric :math:`B` with the upper-model line search.

    .. math::
        T = x_k - \frac{1}{L} B^{-1}\nabla f(x_k), \quad \text{accept if }
        f(T) \le f(x_k) + \langle\nabla f(x_k), T - x_k\rangle + \frac L2\|T - x_k\|^2;

    on acceptance :math:`L_{k+1} = \max(L/2, L_{\min})`, else :math:`L \leftarrow 2L` (official
    ``gradient_method``; with :math:`B = A^\top A` it is the notebook's "Gauss–Newton").

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> x, s, _ = run(gradient_method(lambda x: jnp.sum(x**2)), jnp.ones(2), 20)
      >>> bool(s.value < 1e-8)
      True
    """
    where = "gradient_method"
    _check_common(fun, metric, where)
    _checks.check_positive(lip0, f"{where}(lip0=...)")
    _checks.check_nonnegative(lip_min, f"{where}(lip_min=...)")
    _checks.check_positive_int(max_trials, f"{where}(max_trials=...)")
    vg_fun = jax.value_and_grad(fun)

    def init(x, *args):
        _check_x(x, f"{where}.init(x=...)")
        m = _metric_for(metric, x, where)
        f, g = vg_fun(x, *args)
        z = jnp.zeros((), jnp.int32)
        return GradientMethodState(z, f.astype(x.dtype), g,
                                   jnp.sqrt(jnp.maximum(_dual_sq(m, g), 0)),
                                   jnp.asarray(lip0, x.dtype), z + 1, z + 1, m)

    def update(x, s, *args):
        m = s.metric
        direction = _binv(m, s.grad)

        def trial(carry):
            i, L, _, _, _ = carry
            d = -direction / L
            fT = fun(x + d, *args).astype(x.dtype)
            ok = fT <= s.value + jnp.vdot(s.grad, d) + 0.5 * L * _primal_sq(m, d)
            return i + 1, jnp.where(ok, jnp.maximum(L / 2, lip_min), 2 * L), d, fT, ok

        init_c = (jnp.int32(0), s.lip, jnp.zeros_like(x), s.value, jnp.bool_(False))
        i, L, d, _, _ = jax.lax.while_loop(lambda c: (~c[4]) & (c[0] < max_trials), trial,
                                           init_c)
        x_new = x + d
        f_new, g_new = vg_fun(x_new, *args)
        return x_new, GradientMethodState(
            s.count + 1, f_new.astype(x.dtype), g_new,
            jnp.sqrt(jnp.maximum(_dual_sq(m, g_new), 0)), L, s.grad_calls + 1,
            s.func_calls + i, m)

    return Solver(init, update)


class FastGradientState(NamedTuple):
    """State of :func:`fast_gradient_method`: :math:`v_k`, :math:`A_k`, :math:`L_k`."""

    count: Array
    value: Array
    v: Array
    big_a: Array
    lip: Array
    grad_calls: Array
    func_calls: Array
    metric: MetricData


@cached_factory
@flat_params
def fast_gradient_method(
    fun: Callable[..., Array],
    *,
    metric: Array | None = None,
    lip0: float = 1.0,
    lip_min: float = 1e-5,
    max_trials: int = 30,
) -> Solver:
    r"""Nesterov's fast gradient method (similar-triangles form) with the same line search.

    .. math::
        a = \frac{1 + \sqrt{1 + 4 A_k L}}{2L},\ y = \frac{a v_k + A_k x_k}{a + A_k},\
        T = y - \frac1L B^{-1}\nabla f(y),\ v_{k+1} = T + \frac{A_k}{a}(T - x_k),\
        A_{k+1} = A_k + a,

    accepting :math:`L` when :math:`f(T) \le f(y) + \langle\nabla f(y), T - y\rangle +
    \frac L2\|T - y\|^2` (official ``fast_gradient_method``).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> x, s, _ = run(fast_gradient_method(lambda x: jnp.sum(x**2)), jnp.ones(2), 30)
      >>> bool(s.value < 1e-6)
      True
    """
    where = "fast_gradient_method"
    _check_common(fun, metric, where)
    _checks.check_positive(lip0, f"{where}(lip0=...)")
    _checks.check_nonnegative(lip_min, f"{where}(lip_min=...)")
    _checks.check_positive_int(max_trials, f"{where}(max_trials=...)")
    vg_fun = jax.value_and_grad(fun)

    def init(x, *args):
        _check_x(x, f"{where}.init(x=...)")
        m = _metric_for(metric, x, where)
        z = jnp.zeros((), jnp.int32)
        return FastGradientState(z, fun(x, *args).astype(x.dtype), x,
                                 jnp.zeros((), x.dtype), jnp.asarray(lip0, x.dtype), z, z + 1, m)

    def update(x, s, *args):
        m = s.metric

        def trial(carry):
            i, L, _, _, _, _ = carry
            a = (1 + jnp.sqrt(1 + 4 * s.big_a * L)) / (2 * L)
            y = (a * s.v + s.big_a * x) / (a + s.big_a)
            fy, gy = vg_fun(y, *args)
            T = y - _binv(m, gy) / L
            fT = fun(T, *args).astype(x.dtype)
            ok = fT <= fy + jnp.vdot(gy, T - y) + 0.5 * L * _primal_sq(m, T - y)
            return i + 1, jnp.where(ok, jnp.maximum(L / 2, lip_min), 2 * L), T, fT, a, ok

        init_c = (jnp.int32(0), s.lip, x, s.value, jnp.zeros((), x.dtype), jnp.bool_(False))
        i, L, T, fT, a, _ = jax.lax.while_loop(lambda c: (~c[5]) & (c[0] < max_trials), trial,
                                               init_c)
        v = T + s.big_a / a * (T - x)
        return T, FastGradientState(s.count + 1, fT, v, s.big_a + a, L, s.grad_calls + i,
                                    s.func_calls + 2 * i, m)

    return Solver(init, update)


# --------------------------------------------------------------------------- test problems


def log_sum_exp(x: Array, A: Array, b: Array, mu: float = 1.0) -> Array:
    r""":math:`f(x) = \mu \log\sum_i \exp((\langle a_i, x\rangle - b_i)/\mu)` (rows
    :math:`a_i` of ``A``, shape ``(m, n)``), overflow-free via ``logsumexp``."""
    return mu * jax.nn.logsumexp((A @ x - b) / mu)


def log_sum_exp_grad(x: Array, A: Array, b: Array, mu: float = 1.0) -> Array:
    r"""Closed form :math:`\nabla f = A^\top\pi`, :math:`\pi = \mathrm{softmax}((Ax - b)/\mu)`."""
    return A.T @ jax.nn.softmax((A @ x - b) / mu)


def log_sum_exp_hessian(x: Array, A: Array, b: Array, mu: float = 1.0) -> Array:
    r"""Closed form :math:`\nabla^2 f = \frac1\mu(A^\top\mathrm{Diag}(\pi)A -
    (A^\top\pi)(A^\top\pi)^\top)`."""
    pi = jax.nn.softmax((A @ x - b) / mu)
    Atp = A.T @ pi
    return (_weighted_gram(A, pi) - jnp.outer(Atp, Atp)) / mu


def lse_zero_shift(A: Array, b: Array, mu: float = 1.0) -> Array:
    r"""The official "zero oracle": :math:`A' = A - \mathbf 1 \nabla f(0)^\top`, so that
    :math:`\nabla f'(0) = 0` (the minimizer is :math:`x^* = 0`, :math:`f^* = f'(0)`)."""
    g0 = log_sum_exp_grad(jnp.zeros(A.shape[1], A.dtype), A, b, mu)
    return A - g0[None, :]


def power_residual(residual_fn: Callable[..., Array], p: float) -> Callable[..., Array]:
    r""":math:`f(x) = \frac1p\|u(x)\|^p` for ``residual_fn(x, *args) -> u``, written as
    :math:`\frac1p(\|u\|^2)^{p/2}` (smooth at :math:`u = 0` for :math:`p \ge 2`)."""

    def f(x, *args):
        u = residual_fn(x, *args)
        return jnp.vdot(u, u) ** (p / 2) / p

    return f


def linear_residuals(x: Array, A: Array, b: Array) -> Array:
    """:math:`u(x) = Ax - b`."""
    return A @ x - b


def linear_equations(x: Array, A: Array, b: Array, p: float = 4.0) -> Array:
    r""":math:`f(x) = \frac1p\|Ax - b\|^p` (the paper's "equations with linear operator")."""
    u = A @ x - b
    return jnp.vdot(u, u) ** (p / 2) / p


def rosenbrock(x: Array, a: float = 1.0, b: float = 100.0) -> Array:
    r""":math:`(a - x_1)^2 + b(x_2 - x_1^2)^2`."""
    return (a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2


def rosenbrock_residuals(x: Array, a: float = 1.0, b: float = 100.0) -> Array:
    r""":math:`u = (a - x_1, \sqrt b (x_2 - x_1^2))`."""
    return jnp.stack([a - x[0], jnp.sqrt(b) * (x[1] - x[0] ** 2)])


def chebyshev_residuals(x: Array) -> Array:
    r"""Nesterov–Chebyshev–Rosenbrock: :math:`u_1 = \frac12(1 - x_1)`,
    :math:`u_i = x_i - (2x_{i-1}^2 - 1)`."""
    return jnp.concatenate([0.5 * (1 - x[:1]), x[1:] - (2 * x[:-1] ** 2 - 1)])


def chebyshev(x: Array, p: float = 4.0) -> Array:
    r""":math:`\frac1p\|u(x)\|^p` with :func:`chebyshev_residuals`; minimizer :math:`\mathbf 1`."""
    u = chebyshev_residuals(x)
    return jnp.vdot(u, u) ** (p / 2) / p


def logistic_regression(x: Array, A: Array, y: Array, reg: float = 0.0) -> Array:
    r""":math:`\frac1m\sum_i \log(1 + e^{-y_i\langle a_i, x\rangle}) + \frac{\rho}{2}\|x\|^2`,
    with ``softplus`` (finite for margins of any size)."""
    return jnp.mean(jax.nn.softplus(-y * (A @ x))) + 0.5 * reg * jnp.vdot(x, x)


def logistic_upper_bound(x: Array, A: Array, y: Array, reg: float = 0.0) -> Array:
    r"""The constant upper bound :math:`\frac{1}{4m}A^\top A + \rho I \succeq \nabla^2 f`."""
    return A.T @ A / (4 * A.shape[0]) + reg * jnp.eye(A.shape[1], dtype=A.dtype)


def softmax_regression(x: Array, A: Array, labels: Array, num_classes: int,
                       reg: float = 0.0) -> Array:
    r"""Multinomial logistic loss with flat parameters :math:`x = \mathrm{vec}(W)`,
    :math:`W \in \mathbb R^{d\times K}`: :math:`\frac1m\sum_i
    [\mathrm{lse}(W^\top a_i) - \langle w_{y_i}, a_i\rangle] + \frac\rho2\|W\|^2`."""
    W = x.reshape(A.shape[1], num_classes)
    logits = A @ W
    nll = jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(
        logits, labels[:, None], axis=-1)[:, 0]
    return jnp.mean(nll) + 0.5 * reg * jnp.vdot(x, x)


def logistic_hessian_diag(x: Array, A: Array, y: Array, reg: float = 0.0) -> Array:
    r"""Closed-form diagonal of the logistic Hessian,
    :math:`\frac1m\sum_i \sigma_i(1-\sigma_i) a_{ij}^2 + \rho` (:math:`O(md)`, no dense
    Hessian)."""
    s = jax.nn.sigmoid(y * (A @ x))
    return jnp.mean((s * (1 - s))[:, None] * A**2, axis=0) + reg


def softmax_hessian_diag(x: Array, A: Array, labels: Array, num_classes: int,
                         reg: float = 0.0) -> Array:
    r"""Closed-form diagonal of the softmax-regression Hessian (layout of
    :func:`softmax_regression`): entry :math:`(j, c)` is
    :math:`\frac1m\sum_i a_{ij}^2 p_{ic}(1 - p_{ic}) + \rho`."""
    P = jax.nn.softmax(A @ x.reshape(A.shape[1], num_classes), axis=-1)
    return (jnp.einsum("ij,ic->jc", A**2, P * (1 - P)) / A.shape[0]).reshape(-1) + reg


def softmax_weighted_gauss_newton(x: Array, A: Array, labels: Array, num_classes: int,
                                  reg: float = 0.0) -> Array:
    r"""Weighted Gauss–Newton of :func:`softmax_regression`: per sample the rank-one term
    :math:`-p_ip_i^\top` of :math:`\mathrm{Diag}(p_i) - p_ip_i^\top` is dropped, giving
    :math:`\frac1m\sum_i a_ia_i^\top \otimes \mathrm{Diag}(p_i) + \rho I \succeq \nabla^2 f`
    (layout of :func:`softmax_regression`, dense ``(dK, dK)``; the K diagonal blocks
    :math:`\frac1m A^\top\mathrm{Diag}(P_{:,c})A` come from one ``(dK × m) @ (m × d)``
    product).

    Example:
      >>> import jax.numpy as jnp
      >>> A = jnp.array([[1.0, 0.0], [0.0, 2.0]])
      >>> H = softmax_weighted_gauss_newton(jnp.zeros(4), A, jnp.array([0, 1]), 2)
      >>> H.diagonal().tolist()  # (1/m) Σ_i a_ij² p_ic with p_i = (½, ½)
      [0.25, 0.25, 1.0, 1.0]
    """
    m, d = A.shape
    P = jax.nn.softmax(A @ x.reshape(d, num_classes), axis=-1)
    Z = (A[:, :, None] * P[:, None, :]).reshape(m, d * num_classes)  # z_i = a_i ⊗ p_i
    # Σ_i a_ij p_ic a_il; the transpose is materialized as in _weighted_gram.
    blocks = (jax.lax.optimization_barrier(Z.T) @ A / m).reshape(d, num_classes, d)
    eye = jnp.eye(num_classes, dtype=blocks.dtype)
    H = blocks[:, :, :, None] * eye[None, :, None, :]  # (d, K, d, K)
    n = d * num_classes
    return H.reshape(n, n) + reg * jnp.eye(n, dtype=blocks.dtype)


# --------------------------------------------------------------------------- zero-residual problems


def tanh_residuals(x: Array, A: Array, y: Array) -> Array:
    r""":math:`u(x) = \tanh(Ax) - y` (a one-layer network fitted to targets ``y``). With
    ``y = tanh(A x*)`` the least-squares problem :math:`\frac12\|u\|^2` interpolates
    (:math:`f^* = 0`), so its Gauss–Newton matrix :math:`J^\top J` (``gauss_newton_fisher(...,
    p=2)``) differs from the Hessian by :math:`\sum_i u_i\nabla^2 u_i`, which vanishes at
    :math:`x^*` (the constant :math:`C_1` of the paper's condition is 0)."""
    return jnp.tanh(A @ x) - y


def logistic_empirical_fisher(x: Array, A: Array, y: Array, reg: float = 0.0) -> Array:
    r"""Empirical Fisher of :func:`logistic_regression`: the mean of the per-sample gradient
    outer products, :math:`\frac1m\sum_i \sigma(-y_i\langle a_i, x\rangle)^2 a_ia_i^\top +
    \rho I` (dense ``(n, n)``).

    Per sample the Hessian term is :math:`\sigma(m_i)\sigma(-m_i)a_ia_i^\top`
    (:math:`m_i = y_i\langle a_i, x\rangle`), so the error is at most
    :math:`\sigma(-m_i)\|a_i\|^2 \le \ell_i\|a_i\|^2`: :math:`\|\nabla^2 f - F\| \le
    R^2 f(x)`, i.e. the constant :math:`C_1` of the paper's condition is :math:`R^2 f^*`,
    zero on separable data (:math:`\rho = 0`).

    Example:
      >>> import jax.numpy as jnp
      >>> F = logistic_empirical_fisher(jnp.zeros(2), jnp.eye(2), jnp.array([1.0, -1.0]))
      >>> F.round(4).tolist()  # σ(0)² / m on the diagonal
      [[0.125, 0.0], [0.0, 0.125]]
    """
    s = jax.nn.sigmoid(-y * (A @ x))
    return _weighted_gram(A, s**2) / A.shape[0] + reg * jnp.eye(A.shape[1], dtype=A.dtype)


def softmax_empirical_fisher(x: Array, A: Array, labels: Array, num_classes: int,
                             reg: float = 0.0) -> Array:
    r"""Empirical Fisher of :func:`softmax_regression` (its layout):
    :math:`\frac1m\sum_i g_ig_i^\top + \rho I` with the per-sample gradients
    :math:`g_i = a_i \otimes (p_i - e_{y_i})` (dense ``(dK, dK)``). Its error against the
    Hessian :math:`\frac1m\sum_i a_ia_i^\top\otimes(\mathrm{Diag}(p_i) - p_ip_i^\top)` is
    :math:`O(1 - p_{i,y_i}) = O(\ell_i)` per sample, so :math:`C_1 \propto f^*`, zero on
    separable data (:math:`\rho = 0`).

    Example:
      >>> import jax.numpy as jnp
      >>> F = softmax_empirical_fisher(jnp.zeros(2), jnp.ones((1, 1)), jnp.array([0]), 2)
      >>> F.round(4).tolist()  # g = p − e_0 = (−½, ½)
      [[0.25, -0.25], [-0.25, 0.25]]
    """
    m, d = A.shape
    P = jax.nn.softmax(A @ x.reshape(d, num_classes), axis=-1)
    R = P - jax.nn.one_hot(labels, num_classes, dtype=P.dtype)
    Z = (A[:, :, None] * R[:, None, :]).reshape(m, d * num_classes)  # rows g_i
    n = d * num_classes
    return jax.lax.optimization_barrier(Z.T) @ Z / m + reg * jnp.eye(n, dtype=Z.dtype)
