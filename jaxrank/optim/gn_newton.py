r"""Gradient-regularized Newton with approximate Hessians and an adaptive radius search.

Implements Semenov, Jaggi, Doikov, *Gradient-Normalized Smoothness for Optimization with
Approximate Hessians* (arXiv:2506.13710, ICLR 2026), Algorithm 1 as the official code
(epfml/grad-norm-smooth) runs it, its variants and the baselines of its experiments. The
metric and Hessian approximations live in :mod:`jaxrank.optim.hessians`, the test problems in
:mod:`jaxrank.problems.gn_functions`; both are re-exported here.

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

import functools
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrank import _checks, _validate
from jaxrank._cache import _Static
from jaxrank.optim._base import Solver, cached_factory
from jaxrank.optim._pytree import flat_params
from jaxrank.optim.hessians import (  # noqa: F401  (re-exported)
    HessianApprox,
    MetricData,
    _add_metric,
    _binv,
    _check_metric,
    _dense_solve,
    _dual_sq,
    _eig_factor,
    _eig_solve,
    _metric_data,
    _metric_for,
    _metric_matrix,
    _nan_unless,
    _no_init,
    _primal_sq,
    dense_hessian,
    diagonal_hessian,
    exact_hessian,
    fisher_term,
    fixed_hessian,
    gauss_newton_fisher,
    lazy_hessian,
    make_metric,
    rank_one_hessian,
    regularized_solve,
    zero_hessian,
)
from jaxrank.problems.gn_functions import (  # noqa: F401  (re-exported)
    _weighted_gram,
    chebyshev,
    chebyshev_residuals,
    linear_equations,
    linear_residuals,
    log_sum_exp,
    log_sum_exp_grad,
    log_sum_exp_hessian,
    logistic_empirical_fisher,
    logistic_hessian_diag,
    logistic_regression,
    logistic_upper_bound,
    lse_weighted_gauss_newton,
    lse_zero_shift,
    power_residual,
    rosenbrock,
    rosenbrock_residuals,
    softmax_empirical_fisher,
    softmax_hessian_diag,
    softmax_regression,
    softmax_weighted_gauss_newton,
    tanh_residuals,
)

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


@functools.partial(jax.jit, static_argnames=("fn",))
def _init_jit(fn, x, B, args):
    return fn(x, _metric_data(B, x.dtype), *args)


def _compiled_init(numeric: Callable[..., Any], metric: Any, where: str,
                   hess_init: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """A solver's ``init(x, *args)``: the eager argument checks, then ``numeric(x, metric_data,
    *args)`` (value, gradient, the metric's Cholesky factor, the stopping flag) as one compiled
    program, compiled once per solver, the metric an argument of it (op by op it cost 8–9 ms,
    most of a short run on the p = 4 problems). ``hess_init`` (a fixed or lazy Hessian's
    eigen-factorization) runs op by op after it: compiled, XLA rounds it differently.
    ``init.eager`` is the op-by-op init of before issue 20 (the reference of the tests and of
    ``bench.gn_smoothness``): the same bits on the benchmark's and the tests' problems; on
    softmax regression XLA fuses a reduction differently and the value and gradient move in the
    last bits (the FULL ``zero_residual`` record moved by ≤ 2.5e-12 relative in f − f*).
    """
    static = _Static(numeric)

    def finish(state, x, args):
        if hess_init is None:
            return state
        return state._replace(hess_aux=hess_init(x, state.metric, *args))

    def eager(x, *args):
        _check_x(x, f"{where}.init(x=...)")
        return finish(numeric(x, _metric_for(metric, x, where), *args), x, args)

    def init(x, *args):
        _check_x(x, f"{where}.init(x=...)")
        B = _metric_matrix(metric, x, where)
        jitted = _validate.unjitted(_init_jit) if _validate.checked_mode() else _init_jit
        return finish(jitted(static, x, B, tuple(args)), x, args)

    init.eager = eager
    return init


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


@_checks.renamed(gamma0="radius0", gamma_min="radius_min")
@cached_factory
@flat_params
def grad_reg_newton(
    fun: Callable[..., Array],
    *,
    hessian: HessianApprox | Callable[..., Array] | None = None,
    metric: Array | None = None,
    radius0: float = 1.0,
    adaptive: bool = True,
    eps: float = 1e-8,
    radius_min: float = 1e-9,
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
      radius0: initial radius :math:`\gamma_0 > 0`.
      adaptive: run the search (else one trial per step with fixed :math:`\gamma_0`).
      eps: :math:`\epsilon` in the denominator of :math:`\lambda_k` (official default 1e-8).
      radius_min: floor :math:`\gamma_{\min}` applied on acceptance (official quirk).
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
    _checks.check_positive(radius0, f"{where}(radius0=...)")
    _checks.check_nonnegative(eps, f"{where}(eps=...)")
    _checks.check_nonnegative(radius_min, f"{where}(radius_min=...)")
    _checks.check_positive_int(max_trials, f"{where}(max_trials=...)")
    _check_stop_args(f_target, grad_tol, where)
    approx = _resolve_hessian(fun, hessian, where)
    vg_fun = jax.value_and_grad(fun)

    def numeric_init(x, m, *args):
        f, g = vg_fun(x, *args)
        gn = jnp.sqrt(jnp.maximum(_dual_sq(m, g), 0))
        dt = x.dtype
        return GradRegNewtonState(
            count=jnp.zeros((), jnp.int32), value=f.astype(dt), grad=g, grad_norm=gn,
            gamma=jnp.asarray(radius0, dt), lam=jnp.full((), jnp.nan, dt),
            grad_calls=jnp.ones((), jnp.int32), factorizations=jnp.zeros((), jnp.int32),
            trials=jnp.zeros((), jnp.int32),
            converged=_stop(f, gn, f_target, grad_tol), hess_aux=(), metric=m)

    init = _compiled_init(numeric_init, metric, where, approx.init)

    def step(x, s, *args):
        m = s.metric
        curv, aux, fact_build = approx.build(x, s.hess_aux, s.count, m, *args)
        gn = s.grad_norm
        x_new, f_new, g_new, gn_new, gamma, lam, trials, fact = _search(
            x, s.value, s.grad, gn, s.gamma,
            lam_fn=lambda gam: gn / (gam + eps),  # λ_k = ‖∇f‖_*/(γ_k + ε)
            # Lemma 1: f(x) − f(x+δ) ≥ ‖∇f(x+δ)‖²_*/(8λ)
            accept_fn=lambda fn, gnew, gsq, d, lam: s.value - fn >= gsq / (8 * lam),
            grow=lambda gam: jnp.maximum(2 * gam, radius_min), shrink=lambda gam: gam / 2,
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

    def numeric_init(x, m, *args):
        f, g = vg_fun(x, *args)
        gn = jnp.sqrt(jnp.maximum(_dual_sq(m, g), 0))
        dt = x.dtype
        return SuperNewtonState(
            jnp.zeros((), jnp.int32), f.astype(dt), g, gn, jnp.asarray(reg0, dt),
            jnp.full((), jnp.nan, dt), jnp.ones((), jnp.int32), jnp.zeros((), jnp.int32),
            jnp.zeros((), jnp.int32), _stop(f, gn, f_target, grad_tol), (), m)

    init = _compiled_init(numeric_init, metric, where, approx.init)

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

    def numeric_init(x, m, *args):
        f, g = vg_fun(x, *args)
        gn = jnp.sqrt(jnp.maximum(_dual_sq(m, g), 0))
        z = jnp.zeros((), jnp.int32)
        return CubicNewtonState(z, f.astype(x.dtype), g, gn, jnp.asarray(reg0, x.dtype),
                                z + 1, z, z, _stop(f, gn, f_target, grad_tol), m)

    init = _compiled_init(numeric_init, metric, where)

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

    def numeric_init(x, m, *args):
        f, g = vg_fun(x, *args)
        z = jnp.zeros((), jnp.int32)
        return GradientMethodState(z, f.astype(x.dtype), g,
                                   jnp.sqrt(jnp.maximum(_dual_sq(m, g), 0)),
                                   jnp.asarray(lip0, x.dtype), z + 1, z + 1, m)

    init = _compiled_init(numeric_init, metric, where)

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

    def numeric_init(x, m, *args):
        z = jnp.zeros((), jnp.int32)
        return FastGradientState(z, fun(x, *args).astype(x.dtype), x,
                                 jnp.zeros((), x.dtype), jnp.asarray(lip0, x.dtype), z, z + 1, m)

    init = _compiled_init(numeric_init, metric, where)

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
