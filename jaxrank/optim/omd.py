r"""Optimistic online mirror descent (OMD) for the SEA model, and its baselines.

Chen, Zhang, Tu, Zhao, Zhang, "Optimistic Online Mirror Descent for Bridging Stochastic and
Adversarial Online Convex Optimization" (ICML 2023, arXiv:2302.04552; JMLR 25(178), 2024).

The two-sequence update with regulariser :math:`\psi`, hint :math:`M_t` and step :math:`\eta_t`

.. math::
    x_t = \arg\min_{x \in X} \eta_t \langle M_t, x\rangle + B_\psi(x, \hat x_t), \qquad
    \hat x_{t+1} = \arg\min_{x \in X} \eta_t \langle g_t, x\rangle + B_\psi(x, \hat x_t)

with :math:`g_t = \nabla f_t(x_t)` (one gradient query per round) and :math:`M_t = g_{t-1}`,
:math:`M_1 = 0`. Every method here is an ``optax.GradientTransformation`` mapping the observed
gradient :math:`g_t` at the played point :math:`x_t` to the update :math:`x_{t+1} - x_t`, so an
online run is ``run(from_optax(tx, round_loss), x_1, None, ..., xs=rounds, key=key)`` (see
:mod:`jaxrank.online`). The exceptions are :func:`implicit_omd` (it needs :math:`f_t` itself, so it
is a :class:`~jaxrank.optim.Solver`).

Pieces:

* domains :func:`ball`, :func:`box` (Euclidean projections; the ball also in a metric
  :math:`\|\cdot\|_U`); the simplex is implied by ``mirror_map="entropy"``;
* step-size rules: constants, optax-style schedules of the round count, :func:`adaptive_step`
  (the convex theorem's :math:`\eta_t = D/\sqrt{\delta + 4G^2 + \bar V_{t-1}}`),
  :func:`strongly_convex_step` (:math:`1/(\lambda t)`), :func:`sqrt_decay_step`
  (:math:`D/(G\sqrt t)`);
* :func:`optimistic_omd` (Euclidean, negative entropy, online-Newton metric);
* :func:`omd_ensemble` (dynamic regret: optimistic OMD base learners on a geometric step grid and
  an optimistic Hedge meta-learner), :func:`implicit_omd` (non-smooth case);
* baselines :func:`ogd`, :func:`adagrad_norm`, :func:`optimistic_ftrl`, :func:`ons`.

Params may be any pytree: methods work on its flattened vector (``ravel_pytree``), so a ball is the
ball of the whole flattened vector and the simplex / Newton metric are over all coordinates.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np  # noqa: F401  (the doctests use it)
import optax
from jax.flatten_util import ravel_pytree

from jaxrank import _checks
from jaxrank.optim._base import Solver, cached_factory, run
from jaxrank.problems.domains import (  # noqa: F401  (re-exported)
    _BISECTION_STEPS,
    Ball,
    Box,
    ball,
    ball_qp,
    box,
)

__all__ = [
    "Ball",
    "Box",
    "ball",
    "box",
    "ball_qp",
    "AdaptiveStep",
    "adaptive_step",
    "strongly_convex_step",
    "sqrt_decay_step",
    "OptimisticOMDState",
    "optimistic_omd",
    "EnsembleState",
    "omd_ensemble",
    "ImplicitOMDState",
    "implicit_omd",
    "ogd",
    "AdaGradNormState",
    "adagrad_norm",
    "OptimisticFTRLState",
    "optimistic_ftrl",
    "ons",
    "MIRROR_MAPS",
    "HINTS",
    "IMPLICIT_HINTS",
]

MIRROR_MAPS = ("euclidean", "entropy", "online_newton")
HINTS = ("last_gradient", "none")
# the implicit update's hints: also the subgradient of f_t at x̂_{t+1} that its prox step returns
IMPLICIT_HINTS = (*HINTS, "prox_gradient")


def _euclidean_projection(projection: Any, where: str) -> Callable[[jax.Array], jax.Array]:
    if projection is None:
        return lambda x: x
    if isinstance(projection, (Ball, Box)):
        return projection.project
    if callable(projection):
        return projection
    raise TypeError(
        f"`{where}` must be None, ball(...), box(...) or a callable, got {projection!r}")


# --------------------------------------------------------------------------- step-size rules


class AdaptiveStep(NamedTuple):
    r"""The convex theorem's rule :math:`\eta_t = D/\sqrt{\delta + 4G^2 + \bar V_{t-1}}`."""

    diameter: Any
    grad_bound: Any
    delta: Any = 1.0


def adaptive_step(diameter: Any, grad_bound: Any, delta: Any = 1.0) -> AdaptiveStep:
    r"""Adaptive step of optimistic OMD in the convex, smooth SEA theorem.

    .. math::
        \eta_t = \frac{D}{\sqrt{\delta + 4G^2 + \bar V_{t-1}}}, \qquad
        \bar V_{t-1} = \sum_{s<t} \|g_s - M_s\|_*^2

    (as restated by Wang, Barik, Zhao, Tan 2025; the dual norm is Euclidean except for the entropy
    map, where it is :math:`\|\cdot\|_\infty`). Non-increasing, with :math:`\eta_1 = D/\sqrt{\delta
    + 4G^2}`.

    Args:
      diameter: D, the diameter of X.
      grad_bound: G, a bound on :math:`\|\nabla f_t(x)\|` (A1).
      delta: :math:`\delta > 0`.

    Example:
      >>> adaptive_step(2.0, 1.0, 0.0) == AdaptiveStep(2.0, 1.0, 0.0)
      True
    """
    _checks.check_positive(diameter, "adaptive_step(diameter=...)")
    _checks.check_nonnegative(grad_bound, "adaptive_step(grad_bound=...)")
    _checks.check_nonnegative(delta, "adaptive_step(delta=...)")
    g, d = _checks._scalar(grad_bound), _checks._scalar(delta)
    if g is not None and d is not None and d + 4 * g * g <= 0:
        raise ValueError("`adaptive_step(...)` needs delta + 4 grad_bound² > 0, got 0")
    return AdaptiveStep(diameter, grad_bound, delta)


def strongly_convex_step(strong_convexity: Any) -> Callable[[jax.Array], jax.Array]:
    r"""The schedule :math:`\eta_t = 1/(\lambda t)` (``count`` = t − 1 rounds done).

    Example:
      >>> [round(float(strongly_convex_step(2.0)(c)), 6) for c in range(3)]
      [0.5, 0.25, 0.166667]
    """
    _checks.check_positive(strong_convexity, "strongly_convex_step(strong_convexity=...)")
    return lambda count: 1.0 / (strong_convexity * (jnp.asarray(count) + 1.0))


def sqrt_decay_step(diameter: Any, grad_bound: Any) -> Callable[[jax.Array], jax.Array]:
    r"""OGD's schedule :math:`\eta_t = D/(G\sqrt t)`.

    Example:
      >>> float(sqrt_decay_step(2.0, 1.0)(3))  # t = 4
      1.0
    """
    _checks.check_positive(diameter, "sqrt_decay_step(diameter=...)")
    _checks.check_positive(grad_bound, "sqrt_decay_step(grad_bound=...)")
    return lambda count: diameter / (grad_bound * jnp.sqrt(jnp.asarray(count) + 1.0))


def _check_learning_rate(learning_rate: Any, where: str) -> None:
    if isinstance(learning_rate, AdaptiveStep) or callable(learning_rate):
        return
    if isinstance(learning_rate, str) or not (
        isinstance(learning_rate, numbers.Number) or hasattr(learning_rate, "dtype")
    ):
        raise TypeError(
            f"`{where}` must be a number, a schedule or adaptive_step(...), got {learning_rate!r}"
        )
    _checks.check_positive(learning_rate, where)


def _step_size(learning_rate: Any, count: jax.Array, sum_sq_dev: jax.Array, dtype) -> jax.Array:
    """η for the round with ``count`` rounds done and deviation sum ``sum_sq_dev`` = V̄."""
    if isinstance(learning_rate, AdaptiveStep):
        d, g, delta = learning_rate
        return (d / jnp.sqrt(delta + 4 * g**2 + sum_sq_dev)).astype(dtype)
    if callable(learning_rate):
        return jnp.asarray(learning_rate(count), dtype)
    return jnp.asarray(learning_rate, dtype)


# --------------------------------------------------------------------------- optimistic OMD


class OptimisticOMDState(NamedTuple):
    r"""State of :func:`optimistic_omd` (round t = count + 1 about to be played).

    Attributes:
      count: rounds completed, t − 1.
      x_hat: :math:`\hat x_t` (flattened); for the entropy map its logarithm.
      hint: :math:`M_t`, the hint the played :math:`x_t` used.
      sum_sq_dev: :math:`\bar V_{t-1} = \sum_{s<t}\|g_s - M_s\|_*^2`.
      metric: :math:`U_t` of the online-Newton map (shape (n, n)), else shape (0, 0).
      learning_rate: :math:`\eta_t`.
    """

    count: jax.Array
    x_hat: jax.Array
    hint: jax.Array
    sum_sq_dev: jax.Array
    metric: jax.Array
    learning_rate: jax.Array


def _check_grads(updates: Any, params: Any, where: str) -> Any:
    """``updates`` must have the tree structure and leaf shapes of ``params`` (trace time).

    Raveling both would otherwise pair entries of different leaves when the sizes agree.
    """
    if params is None:
        return updates
    ts_u, ts_p = jax.tree.structure(updates), jax.tree.structure(params)
    su = [tuple(jnp.shape(v)) for v in jax.tree.leaves(updates)]
    sp = [tuple(jnp.shape(v)) for v in jax.tree.leaves(params)]
    if ts_u != ts_p or su != sp:
        raise ValueError(
            f"`{where}.update(updates=...)` must have the pytree structure and shapes of "
            f"`params` ({ts_p} with shapes {sp}), got {ts_u} with shapes {su}"
        )
    return updates


def _check_choice(value: Any, choices: tuple[str, ...], where: str) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"`{where}` must be one of {choices}, got {value!r}")


@cached_factory
def optimistic_omd(
    learning_rate: Any,
    *,
    mirror_map: str = "euclidean",
    projection: Any = None,
    hint: str = "last_gradient",
    beta: Any = 1.0,
    delta: Any = 1.0,
) -> optax.GradientTransformationExtraArgs:
    r"""Optimistic online mirror descent, two-sequence form, one gradient query per round.

    .. math::
        x_t = \arg\min_{x\in X}\ \eta_t\langle M_t, x\rangle + B_\psi(x, \hat x_t), \quad
        \hat x_{t+1} = \arg\min_{x\in X}\ \eta_t\langle g_t, x\rangle + B_\psi(x, \hat x_t)

    ``update(g_t, state, x_t)`` returns :math:`x_{t+1} - x_t`. Mirror maps:

    * ``"euclidean"``, :math:`\psi = \tfrac12\|x\|^2`: :math:`x_t = \Pi_X(\hat x_t - \eta_t M_t)`,
      :math:`\hat x_{t+1} = \Pi_X(\hat x_t - \eta_t g_t)` (``projection``: None, :func:`ball`,
      :func:`box` or a callable). Unconstrained with constant η:
      :math:`x_{t+1} = x_t - \eta(2g_t - g_{t-1})`, :math:`g_0 = 0`.
    * ``"entropy"``, :math:`\psi = \sum_i x_i\log x_i` on the simplex (params must lie in it):
      :math:`\hat x_{t+1} \propto \hat x_t e^{-\eta_t g_t}`, :math:`x_t \propto \hat x_t
      e^{-\eta_t M_t}` (computed in log space).
    * ``"online_newton"``, :math:`\psi_t = \tfrac12\|x\|_{U_t}^2` with
      :math:`U_{t+1} = U_t + \beta g_t g_t^\top`, :math:`U_1 = \delta I`:
      :math:`\hat x_{t+1} = \Pi^{U_{t+1}}_X(\hat x_t - \eta U_{t+1}^{-1} g_t)`,
      :math:`x_{t+1} = \Pi^{U_{t+1}}_X(\hat x_{t+1} - \eta U_{t+1}^{-1} M_{t+1})`
      (``projection``: None or :func:`ball`). With ``hint="none"``, η = 1, β = γ and δ = γε this
      is ONS (Hazan et al. 2007, :math:`A_t = \varepsilon I + \sum_{s\le t}\nabla_s\nabla_s^\top`,
      step :math:`1/\gamma`). [UNVERIFIED, our reading] we take :math:`U_t = \delta I + (\beta/2)
      \sum_{s<t} h_sh_s^\top`; our ``beta`` is that coefficient, and :math:`h_s = g_s`.

    Args:
      learning_rate: :math:`\eta_t`: a positive constant (or array, for sweeps), a schedule
        ``count -> η`` of the rounds done (t − 1), or :func:`adaptive_step`.
      mirror_map: one of :data:`MIRROR_MAPS`.
      projection: the domain X (see above); ``None`` is unconstrained (or the simplex for
        ``"entropy"``).
      hint: ``"last_gradient"`` (:math:`M_t = g_{t-1}`, :math:`M_1 = 0`) or ``"none"``
        (:math:`M_t = 0`: plain OMD; Euclidean + ``"none"`` is projected OGD).
      beta, delta: β and δ of the online-Newton metric (ignored otherwise).

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` also accepts ``next_hint=`` (a
      pytree like the params) to supply :math:`M_{t+1}` explicitly (used by tests of the regret
      inequality with arbitrary hints).

    Example:
      >>> import optax
      >>> tx = optimistic_omd(0.1)
      >>> x = jnp.zeros(2); s = tx.init(x)
      >>> u, s = tx.update(jnp.array([1.0, 0.0]), s, x); x = optax.apply_updates(x, u)
      >>> np.round(np.asarray(x, float), 6).tolist()  # x_2 = x_1 - η(2 g_1 - g_0), g_0 = 0
      [-0.2, 0.0]

    References:
      Chen et al. 2023, Sec. 3 (optimistic OMD, Eq. (2)-(3) two-sequence form) and the convex
      theorem's step size; online-Newton variant for exp-concave functions.
    """
    _check_learning_rate(learning_rate, "optimistic_omd(learning_rate=...)")
    _check_choice(mirror_map, MIRROR_MAPS, "optimistic_omd(mirror_map=...)")
    _check_choice(hint, HINTS, "optimistic_omd(hint=...)")
    if mirror_map == "entropy" and projection is not None:
        raise ValueError(
            "`optimistic_omd(projection=...)` must be None for mirror_map='entropy' (the simplex "
            f"is implied), got {projection!r}"
        )
    if mirror_map == "online_newton":
        if projection is not None and not isinstance(projection, Ball):
            raise ValueError(
                "`optimistic_omd(projection=...)` must be None or ball(...) for "
                f"mirror_map='online_newton', got {projection!r}"
            )
        _checks.check_positive(beta, "optimistic_omd(beta=...)")
        _checks.check_positive(delta, "optimistic_omd(delta=...)")
    project = _euclidean_projection(projection, "optimistic_omd(projection=...)")

    def dual_sq(v):
        if mirror_map == "entropy":
            return jnp.square(jnp.max(jnp.abs(v)))
        return jnp.sum(jnp.square(v))

    def step(center, direction, eta, metric):
        """argmin η⟨direction, x⟩ + B_ψ(x, center) over X (center in mirror coordinates)."""
        if mirror_map == "euclidean":
            return project(center - eta * direction)  # Eq. (2)/(3), ψ = ½‖·‖²
        if mirror_map == "entropy":
            return jax.nn.log_softmax(center - eta * direction)  # log of the simplex point
        y = center - eta * jnp.linalg.solve(metric, direction)
        return y if projection is None else projection.project_metric(y, metric)

    def primal(z):
        return jnp.exp(z) if mirror_map == "entropy" else z

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        dtype = flat.dtype
        n = flat.shape[0]
        if mirror_map == "entropy":
            x_hat = jnp.log(flat)
        else:
            x_hat = project(flat)
        metric = (
            delta * jnp.eye(n, dtype=dtype) if mirror_map == "online_newton"
            else jnp.zeros((0, 0), dtype)
        )
        zero = jnp.zeros((), dtype)
        return OptimisticOMDState(
            count=jnp.zeros((), jnp.int32),
            x_hat=x_hat,
            hint=jnp.zeros_like(flat),
            sum_sq_dev=zero,
            metric=metric,
            learning_rate=_step_size(learning_rate, jnp.zeros((), jnp.int32), zero, dtype),
        )

    def update_fn(updates, state, params=None, *, next_hint=None, **extra):
        del extra
        if params is None:
            raise ValueError("`optimistic_omd(...).update` needs `params` (the played x_t)")
        g, _ = ravel_pytree(_check_grads(updates, params, "optimistic_omd(...)"))
        x, unravel = ravel_pytree(params)
        g = g.astype(x.dtype)
        eta = state.learning_rate
        sum_sq_dev = state.sum_sq_dev + dual_sq(g - state.hint)  # V̄_t
        metric = state.metric
        if mirror_map == "online_newton":
            metric = metric + beta * jnp.outer(g, g)  # U_{t+1}
        x_hat = step(state.x_hat, g, eta, metric)  # x̂_{t+1}
        if next_hint is not None:
            m_next = ravel_pytree(next_hint)[0].astype(x.dtype)
        elif hint == "last_gradient":
            m_next = g  # M_{t+1} = g_t
        else:
            m_next = jnp.zeros_like(g)
        count = state.count + 1
        eta_next = _step_size(learning_rate, count, sum_sq_dev, x.dtype)
        x_next = primal(step(x_hat, m_next, eta_next, metric))  # x_{t+1}
        new = OptimisticOMDState(count, x_hat, m_next, sum_sq_dev, metric, eta_next)
        return unravel(x_next - x), new

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def ogd(learning_rate: Any, *, projection: Any = None) -> optax.GradientTransformationExtraArgs:
    r"""Projected online gradient descent :math:`x_{t+1} = \Pi_X(x_t - \eta_t g_t)`.

    The same two-sequence code as :func:`optimistic_omd` with ``hint="none"`` (then
    :math:`x_t = \hat x_t`). Use :func:`sqrt_decay_step` (D/(G√t)) for convex losses and
    :func:`strongly_convex_step` (1/(λt)) for λ-strongly convex ones.

    Example:
      >>> import optax
      >>> tx = ogd(0.5); x = jnp.ones(2); s = tx.init(x)
      >>> optax.apply_updates(x, tx.update(jnp.ones(2), s, x)[0]).tolist()
      [0.5, 0.5]
    """
    return optimistic_omd(learning_rate, projection=projection, hint="none")


def ons(
    gamma: Any, epsilon: Any, *, projection: Any = None, optimistic: bool = False
) -> optax.GradientTransformationExtraArgs:
    r"""Online Newton step (Hazan, Agarwal, Kale 2007), optionally optimistic.

    .. math::
        A_t = \varepsilon I + \sum_{s\le t} g_s g_s^\top, \quad
        x_{t+1} = \Pi^{A_t}_X\big(x_t - \tfrac1\gamma A_t^{-1} g_t\big)

    i.e. :func:`optimistic_omd` with the online-Newton map, :math:`U = \gamma A`, η = 1 and
    ``hint="none"`` (``optimistic=True``: ``hint="last_gradient"``, the exp-concave instance).
    Hazan et al. take :math:`\gamma = \tfrac12\min(1/(4GD), \alpha)`,
    :math:`\varepsilon = 1/(\gamma^2 D^2)`.

    Example:
      >>> tx = ons(1.0, 1.0); x = jnp.zeros(2); s = tx.init(x)
      >>> tx.update(jnp.array([1.0, 0.0]), s, x)[0].tolist()  # -A⁻¹g with A = I + g gᵀ
      [-0.5, 0.0]
    """
    _checks.check_positive(gamma, "ons(gamma=...)")
    _checks.check_positive(epsilon, "ons(epsilon=...)")
    return optimistic_omd(
        1.0,
        mirror_map="online_newton",
        projection=projection,
        hint="last_gradient" if optimistic else "none",
        beta=gamma,
        delta=gamma * epsilon,
    )


# --------------------------------------------------------------------------- AdaGrad-norm


class AdaGradNormState(NamedTuple):
    """State of :func:`adagrad_norm`: rounds done and :math:`\\sum_{s<t}\\|g_s\\|^2`."""

    count: jax.Array
    sum_sq: jax.Array


@cached_factory
def adagrad_norm(
    diameter: Any, *, projection: Any = None
) -> optax.GradientTransformation:
    r"""AdaGrad-norm OGD: :math:`x_{t+1} = \Pi_X(x_t - \eta_t g_t)`,
    :math:`\eta_t = D/\sqrt{\sum_{s\le t}\|g_s\|^2}` (no step while all gradients are 0).

    Example:
      >>> tx = adagrad_norm(1.0); x = jnp.zeros(2); s = tx.init(x)
      >>> u = tx.update(jnp.array([3.0, 4.0]), s, x)[0]  # η_1 = 1/5
      >>> np.round(np.asarray(u, float), 6).tolist()
      [-0.6, -0.8]
    """
    _checks.check_positive(diameter, "adagrad_norm(diameter=...)")
    project = _euclidean_projection(projection, "adagrad_norm(projection=...)")

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        return AdaGradNormState(jnp.zeros((), jnp.int32), jnp.zeros((), flat.dtype))

    def update_fn(updates, state, params=None):
        g, _ = ravel_pytree(_check_grads(updates, params, "adagrad_norm(...)"))
        x, unravel = ravel_pytree(params)
        g = g.astype(x.dtype)
        sum_sq = state.sum_sq + jnp.sum(jnp.square(g))
        eta = diameter / jnp.sqrt(jnp.where(sum_sq > 0, sum_sq, 1))
        x_next = project(x - eta * g)
        return unravel(x_next - x), AdaGradNormState(state.count + 1, sum_sq)

    return optax.GradientTransformation(init_fn, update_fn)


# --------------------------------------------------------------------------- optimistic FTRL


class OptimisticFTRLState(NamedTuple):
    r"""State of :func:`optimistic_ftrl`: count, :math:`x_1`, :math:`\sum_{s<t} g_s`,
    :math:`M_t`, :math:`\bar V_{t-1}`, :math:`\eta_t`."""

    count: jax.Array
    center: jax.Array
    grad_sum: jax.Array
    hint: jax.Array
    sum_sq_dev: jax.Array
    learning_rate: jax.Array


@cached_factory
def optimistic_ftrl(
    learning_rate: Any, *, projection: Any = None
) -> optax.GradientTransformation:
    r"""Optimistic FTRL with a Euclidean regulariser centred at :math:`x_1` (Sachs et al. 2022).

    .. math::
        x_{t} = \arg\min_{x\in X} \Big\langle \sum_{s<t} g_s + M_t, x\Big\rangle
        + \frac{1}{2\eta_t}\|x - x_1\|^2 = \Pi_X\Big(x_1 - \eta_t\big(\textstyle\sum_{s<t} g_s
        + M_t\big)\Big), \quad M_t = g_{t-1}

    ``learning_rate``: as in :func:`optimistic_omd` (constant, schedule or
    :func:`adaptive_step`). [Reading] Sachs et al.'s own adaptive rule is
    :math:`\eta_t = D^2/\sum_{s<t}\min\{\eta_s\|g_s - m_s\|^2, D\|g_s - m_s\|\}`; we use the same
    :func:`adaptive_step` as OMD so the two differ only in the update.

    Example:
      >>> tx = optimistic_ftrl(0.1); x = jnp.zeros(1); s = tx.init(x)
      >>> u = tx.update(jnp.array([1.0]), s, x)[0]  # x_2 = -η(g_1 + M_2), M_2 = g_1
      >>> np.round(np.asarray(u, float), 6).tolist()
      [-0.2]
    """
    _check_learning_rate(learning_rate, "optimistic_ftrl(learning_rate=...)")
    project = _euclidean_projection(projection, "optimistic_ftrl(projection=...)")

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        zero = jnp.zeros((), flat.dtype)
        return OptimisticFTRLState(
            jnp.zeros((), jnp.int32), project(flat), jnp.zeros_like(flat), jnp.zeros_like(flat),
            zero, _step_size(learning_rate, jnp.zeros((), jnp.int32), zero, flat.dtype))

    def update_fn(updates, state, params=None):
        g, _ = ravel_pytree(_check_grads(updates, params, "optimistic_ftrl(...)"))
        x, unravel = ravel_pytree(params)
        g = g.astype(x.dtype)
        sum_sq_dev = state.sum_sq_dev + jnp.sum(jnp.square(g - state.hint))
        grad_sum = state.grad_sum + g
        count = state.count + 1
        eta = _step_size(learning_rate, count, sum_sq_dev, x.dtype)
        x_next = project(state.center - eta * (grad_sum + g))
        new = OptimisticFTRLState(count, state.center, grad_sum, g, sum_sq_dev, eta)
        return unravel(x_next - x), new

    return optax.GradientTransformation(init_fn, update_fn)


# --------------------------------------------------------------------------- ensemble


class EnsembleState(NamedTuple):
    r"""State of :func:`omd_ensemble` (N base learners, n coordinates).

    Attributes:
      count: rounds done.
      x_hat: (N, n) base :math:`\hat x_{t,i}`.
      x_base: (N, n) base decisions :math:`x_{t,i}` of the current round.
      cum_loss: (N,) :math:`L_{t-1,i} = \sum_{s<t}\langle g_s, x_{s,i}\rangle`.
      weights: (N,) meta weights :math:`p_t`.
      learning_rates: (N,) the base step grid :math:`\eta_i`.
    """

    count: jax.Array
    x_hat: jax.Array
    x_base: jax.Array
    cum_loss: jax.Array
    weights: jax.Array
    learning_rates: jax.Array


@cached_factory
def omd_ensemble(
    min_learning_rate: Any,
    num_learners: int,
    *,
    meta_learning_rate: Any,
    ratio: float = 2.0,
    projection: Any = None,
) -> optax.GradientTransformation:
    r"""Two-layer ensemble for dynamic regret: optimistic OMD base learners + optimistic Hedge.

    Base learner i runs Euclidean optimistic OMD with the fixed step
    :math:`\eta_i = \eta_{\min}\,\rho^{i-1}` (i = 1..N) on the linearised losses
    :math:`\langle g_t, \cdot\rangle` of the combined decision. The meta-learner plays
    :math:`x_t = \sum_i p_{t,i} x_{t,i}` with optimistic Hedge

    .. math::
        p_{t,i} \propto \exp\big(-\varepsilon (L_{t-1,i} + m_{t,i})\big), \quad
        L_{t-1,i} = \sum_{s<t}\langle g_s, x_{s,i}\rangle, \quad
        m_{t,i} = \langle M_t, x_{t,i}\rangle, \ M_t = g_{t-1}.

    [UNVERIFIED] the JMLR version's meta-learner may add correction terms and an adaptive
    :math:`\varepsilon`; this is the plain optimistic-Hedge reading (ours), with a fixed
    ``meta_learning_rate`` ε.

    Args:
      min_learning_rate: :math:`\eta_{\min}`.
      num_learners: N = O(log T).
      meta_learning_rate: ε > 0.
      ratio: ρ of the geometric grid (2 in the paper).
      projection: the domain (None, :func:`ball`, :func:`box` or a callable; must be convex).

    Example:
      >>> tx = omd_ensemble(0.01, 4, meta_learning_rate=1.0)
      >>> np.round(np.asarray(tx.init(jnp.zeros(3)).learning_rates, float), 6).tolist()
      [0.01, 0.02, 0.04, 0.08]
    """
    _checks.check_positive(min_learning_rate, "omd_ensemble(min_learning_rate=...)")
    _checks.check_positive_int(num_learners, "omd_ensemble(num_learners=...)")
    _checks.check_positive(meta_learning_rate, "omd_ensemble(meta_learning_rate=...)")
    _checks.check_positive(ratio, "omd_ensemble(ratio=...)")
    project = jax.vmap(_euclidean_projection(projection, "omd_ensemble(projection=...)"))

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        dtype = flat.dtype
        powers = jnp.arange(num_learners, dtype=dtype)
        etas = min_learning_rate * jnp.asarray(ratio, dtype) ** powers
        x0 = project(jnp.broadcast_to(flat, (num_learners, flat.shape[0])))
        return EnsembleState(
            jnp.zeros((), jnp.int32), x0, x0, jnp.zeros(num_learners, dtype),
            jnp.full(num_learners, 1.0 / num_learners, dtype), etas.astype(dtype))

    def update_fn(updates, state, params=None):
        g, _ = ravel_pytree(_check_grads(updates, params, "omd_ensemble(...)"))
        x, unravel = ravel_pytree(params)
        g = g.astype(x.dtype)
        etas = state.learning_rates[:, None]
        cum_loss = state.cum_loss + state.x_base @ g  # L_{t,i}
        x_hat = project(state.x_hat - etas * g[None, :])  # base x̂_{t+1,i}
        x_base = project(x_hat - etas * g[None, :])  # base x_{t+1,i}, hint M_{t+1} = g_t
        weights = jax.nn.softmax(-meta_learning_rate * (cum_loss + x_base @ g))
        x_next = weights @ x_base
        new = EnsembleState(state.count + 1, x_hat, x_base, cum_loss, weights,
                            state.learning_rates)
        return unravel(x_next - x), new

    return optax.GradientTransformation(init_fn, update_fn)


# --------------------------------------------------------------------------- implicit update


class ImplicitOMDState(NamedTuple):
    r"""State of :func:`implicit_omd`: count, :math:`\hat x_t`, hint :math:`M_t`, last loss."""

    count: jax.Array
    x_hat: jax.Array
    hint: jax.Array
    loss: jax.Array


@_checks.renamed(inner_step_size="inner_learning_rate")
def implicit_omd(
    learning_rate: Any,
    loss_fn: Callable[..., jax.Array],
    *,
    projection: Any = None,
    hint: str = "last_gradient",
    inner_steps: int = 100,
    inner_learning_rate: Any = None,
    prox: Callable[..., jax.Array] | None = None,
) -> Solver:
    r"""Optimistic OMD with the implicit (proximal) update, for non-smooth :math:`f_t`.

    .. math::
        x_t = \Pi_X(\hat x_t - \eta M_t), \qquad
        \hat x_{t+1} = \arg\min_{x\in X}\ \eta f_t(x) + \tfrac12\|x - \hat x_t\|^2

    with the hint :math:`M_t` ([UNVERIFIED]: the JMLR version's exact hint for the implicit
    case) one of: ``"last_gradient"``, the (sub)gradient of :math:`f_{t-1}` at
    :math:`x_{t-1}`; ``"prox_gradient"``, :math:`(\hat x_{t-1} - \hat x_t)/\eta`, the
    subgradient of :math:`f_{t-1}` (plus the normal cone of X) at :math:`\hat x_t` that the
    proximal step's optimality condition certifies; ``"none"``, 0 (the implicit analogue of
    OGD). With ``prox`` the proximal step is exact; otherwise the proximal problem (1-strongly
    convex) is solved by ``inner_steps`` projected (sub)gradient steps from :math:`\hat x_t`
    with step :math:`1/(k+1)` at inner step k (the first is the explicit OMD step) or a constant
    ``inner_learning_rate`` (use :math:`1/(1 + \eta L)` for L-smooth :math:`f_t`), run with
    :func:`jaxrank.optim.run`. On a kinked :math:`f_t` the inner solve's error (of order
    :math:`\eta\sqrt{d\log k/k}`) does not vanish, so an exact ``prox`` is what makes the
    implicit update land on a kink.

    Args:
      learning_rate: η > 0: a constant, or a schedule ``count -> η`` of the rounds done (e.g.
        an ``optax`` schedule), used for both the proximal step and the hint step of the round.
      loss_fn: ``loss_fn(x, *args, *step) -> scalar``, :math:`f_t` of the round.
      projection: None, :func:`ball`, :func:`box` or a callable (Euclidean).
      hint: ``"last_gradient"``, ``"prox_gradient"`` or ``"none"``.
      inner_steps: iterations of the proximal solve (unused with ``prox``).
      inner_learning_rate: None (1/(k+1)) or a constant in (0, 1] (unused with ``prox``).
      prox: None, or ``prox(v, eta, *args) -> argmin_{x∈X} η f_t(x) + ½‖x − v‖²`` on the
        flat vector, exact and inside X (e.g. an environment's ``round_prox``:
        :func:`jaxrank.online.sea.absolute`).

    Returns:
      A :class:`~jaxrank.optim.Solver`; ``update(x_t, state, *args, *step)`` evaluates
      :math:`f_t` at :math:`x_t` (stored in ``state.loss``) and returns :math:`x_{t+1}`.

    Example:
      >>> solver = implicit_omd(1.0, lambda x, c: 0.5 * jnp.sum((x - c) ** 2),
      ...                       inner_learning_rate=0.5, inner_steps=60)
      >>> x = jnp.zeros(1); s = solver.init(x)
      >>> x, s = solver.update(x, s, jnp.array([2.0]))
      >>> round(float(s.x_hat[0]), 6)  # prox: (x̂ + ηc)/(1 + η) = 1
      1.0
      >>> exact = implicit_omd(1.0, lambda x, c: 0.5 * jnp.sum((x - c) ** 2),
      ...                      prox=lambda v, eta, c: (v + eta * c) / (1 + eta))
      >>> x0 = jnp.zeros(1)
      >>> float(exact.update(x0, exact.init(x0), jnp.array([2.0]))[1].x_hat[0])
      1.0
    """
    if not callable(learning_rate):  # else a schedule of the round count
        _checks.check_positive(learning_rate, "implicit_omd(learning_rate=...)")
    if not callable(loss_fn):
        raise TypeError(f"`implicit_omd(loss_fn=...)` must be callable, got {type(loss_fn)}")
    _check_choice(hint, IMPLICIT_HINTS, "implicit_omd(hint=...)")
    if prox is not None and not callable(prox):
        raise TypeError(f"`implicit_omd(prox=...)` must be None or callable, got {prox!r}")
    _checks.check_positive_int(inner_steps, "implicit_omd(inner_steps=...)")
    if inner_learning_rate is not None:
        _checks.check_in_range(inner_learning_rate, 0.0, 1.0,
                               "implicit_omd(inner_learning_rate=...)")
        _checks.check_positive(inner_learning_rate, "implicit_omd(inner_learning_rate=...)")
    project = _euclidean_projection(projection, "implicit_omd(projection=...)")
    rate = learning_rate

    def init(params, *args):
        flat, _ = ravel_pytree(params)
        return ImplicitOMDState(jnp.zeros((), jnp.int32), project(flat), jnp.zeros_like(flat),
                                jnp.full((), jnp.nan, flat.dtype))

    def update(params, state, *args):
        learning_rate = rate(state.count) if callable(rate) else rate
        x, unravel = ravel_pytree(params)
        f = lambda v: loss_fn(unravel(v), *args)  # noqa: E731
        loss, g = jax.value_and_grad(f)(x)
        center = state.x_hat

        def prox_step(y, k):
            phi_grad = learning_rate * jax.grad(f)(y) + (y - center)
            alpha = 1.0 / (k + 1.0) if inner_learning_rate is None else inner_learning_rate
            return project(y - alpha * phi_grad), k + 1

        if prox is None:
            solve = Solver(lambda y: jnp.zeros((), x.dtype), prox_step)
            x_hat, _, _ = run(solve, center, inner_steps)
        else:
            x_hat = prox(center, learning_rate, *args).astype(x.dtype)
        if hint == "last_gradient":
            m_next = g
        elif hint == "prox_gradient":
            m_next = (center - x_hat) / learning_rate
        else:
            m_next = jnp.zeros_like(g)
        x_next = project(x_hat - learning_rate * m_next)
        new = ImplicitOMDState(state.count + 1, x_hat, m_next, loss.astype(x.dtype))
        return unravel(x_next), new

    return Solver(init, update)
