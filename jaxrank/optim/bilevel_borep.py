"""BO-REP (Hao, Gong, Liu 2024), Algorithm 1: normalized momentum on x, initialization
refinement, periodic lower-level updates, SOBA-type z-iteration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrank import _checks
from jaxrank._numerics import tree_norm
from jaxrank.optim._base import Solver, cached_factory
from jaxrank.optim.bilevel_core import (
    _HYPER,
    _LOWER,
    _REFINE,
    _ZSTEP,
    Oracle,
    _axpy,
    _batch_fn,
    _check_momentum,
    _check_nonneg_int,
    _check_oracles,
    _check_rate,
    _check_sampler,
    _dtype,
    _pair,
    _rates_at,
    _scale,
    _split,
    _stream,
    _sub,
    _zeros_like,
    grad_y,
    hvp_yy,
    hypergradient_estimate,
    lower_sgd,
)

# --------------------------------------------------------------------------- BO-REP

__all__ = [
    "BoRepState",
    "bo_rep",
    "epoch_sgd",
]


class BoRepState(NamedTuple):
    """State of :func:`bo_rep`.

    Attributes:
      count: step counter :math:`t` (int32).
      z: linear-system variable :math:`z_t` (same structure as y).
      momentum: momentum buffer :math:`m_t` (same structure as x).
      lower_calls: lower-level SGD steps taken so far (refinement + periodic updates; int32).
      oracle_calls: stochastic first/second-order oracle evaluations so far (int32).
      hypergrad_norm: :math:`\\|h_{t-1}\\|` of the last estimate (0 after ``init``).
    """

    count: jax.Array
    z: Any
    momentum: Any
    lower_calls: jax.Array
    oracle_calls: jax.Array
    hypergrad_norm: jax.Array


@_checks.renamed(lower_lr="learning_rate")
def epoch_sgd(lower_fn: Oracle, x, y, learning_rate, first_epoch: int, num_epochs: int,
              draw):
    r"""Epoch-SGD for a strongly convex lower level (the initialization refinement).

    Epoch :math:`k = 0, \dots, E-1` runs :math:`T_1 2^k` SGD steps with step
    :math:`\gamma / 2^k` from the previous epoch's output and outputs the epoch's average
    iterate. [UNVERIFIED] the paper's Algorithm 3 schedule and its projection ball are not
    readable here; this is the standard Hazan–Kale Epoch-SGD without projection.
    Total lower-level steps: :math:`T_1 (2^E - 1)`.
    """
    offset = 0
    for k in range(num_epochs):
        steps = first_epoch * 2**k
        lr = learning_rate / 2**k

        def body(j, carry, lr=lr, offset=offset, steps=steps):
            yy, avg = carry
            yy = _axpy(-lr, grad_y(lower_fn, x, yy, draw(offset + j)), yy)
            return yy, _axpy(1.0 / steps, yy, avg)

        _, y = jax.lax.fori_loop(0, steps, body, (y, _zeros_like(y)))
        offset += steps
    return y


def _project_ball(z, radius):
    if radius is None:
        return z
    n = tree_norm(z)
    return _scale(jnp.minimum(1.0, radius / jnp.maximum(n, radius)), z)


def _normalized_step(x, m, learning_rate):
    r""":math:`x - \eta\, m / \|m\|` (no step when :math:`m = 0`)."""
    n = tree_norm(m)
    tiny = jnp.finfo(_dtype(m)).tiny
    return _axpy(-learning_rate / jnp.maximum(n, tiny), m, x)


@_checks.renamed(lower_lr="lower_learning_rate", z_lr="z_learning_rate")
@cached_factory
def bo_rep(
    upper_fn: Oracle,
    lower_fn: Oracle,
    *,
    learning_rate,
    momentum,
    lower_learning_rate,
    z_learning_rate,
    period: int,
    lower_steps: int,
    refine_steps: int = 0,
    refine_epochs: int = 1,
    z_radius: float | None = None,
    sampler: Callable[..., Any] | None = None,
) -> Solver:
    r"""BO-REP: normalized momentum on x with periodic lower-level updates (Algorithm 1).

    .. math::
        y_0 &\leftarrow \mathrm{EpochSGD}(g(x_0, \cdot)) \quad\text{(initialization refinement)}\\
        y_t &\leftarrow \mathrm{SGD}^N(g(x_t, \cdot); y_{t-1}) \ \text{if } t \bmod I = 0,
            \text{ else } y_{t-1}\\
        z_{t+1} &= \Pi_R\big(z_t - \nu(\nabla^2_{yy}G(x_t, y_t;\zeta) z_t
            - \nabla_y F(x_t, y_t;\xi))\big)\\
        h_t &= \nabla_x F(x_t, y_t;\bar\xi) - \nabla^2_{xy}G(x_t, y_t;\bar\zeta)\, z_{t+1}\\
        m_{t+1} &= \beta m_t + (1-\beta) h_t, \qquad
        x_{t+1} = x_t - \eta\, m_{t+1}/\|m_{t+1}\|

    so every upper step has length exactly :math:`\eta`. The periodic update is a ``lax.cond``
    on ``t % period == 0`` (at :math:`t = 0` after the refinement), so the lower oracle is called
    :math:`\lceil T/I\rceil N + T_1(2^E - 1)` times in :math:`T` steps.

    [UNVERIFIED] (the paper body was not readable): the Epoch-SGD schedule of the refinement
    (see :func:`epoch_sgd`), last iterate (not averaged) for the periodic updates, and the
    optional projection of z onto the ball of radius :math:`R` (``z_radius``; the official code
    has none, our default). The official code also differs in ways we do not copy (gradient
    accumulation inside bursts, a momentum input that is not the implicit hypergradient); see
    ``paper_repro/bo_rep.md``.

    Args:
      upper_fn: :math:`F(x, y; \xi)`, ``(x, y, batch) -> scalar``.
      lower_fn: :math:`G(x, y; \zeta)`, strongly convex in y.
      learning_rate: upper step :math:`\eta` (the length of every x step).
      momentum: :math:`\beta \in [0, 1)`.
      lower_learning_rate: lower SGD step :math:`\gamma` (also the first refinement epoch's step).
      z_learning_rate: z step :math:`\nu`.
      period: :math:`I \ge 1`, lower-level update period.
      lower_steps: :math:`N \ge 0`, SGD steps per periodic update.
      refine_steps: :math:`T_1 \ge 0`, length of the first refinement epoch (0: no refinement).
      refine_epochs: number of refinement epochs :math:`E \ge 1`.
      z_radius: optional radius :math:`R` of the z-projection (None: no projection).
      sampler: ``sampler(key, *args) -> batch`` or None (full batch ``args``).

    Returns:
      A :class:`Solver` over ``params = (x, y)`` with state :class:`BoRepState`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - 1.0) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2)     # y*(x) = x, Φ = ½‖x − 1‖²
      >>> solver = bo_rep(f, g, learning_rate=0.05, momentum=0.5, lower_learning_rate=0.5,
      ...                 z_learning_rate=0.5, period=2, lower_steps=5)
      >>> (x, y), state, _ = run(solver, (jnp.zeros(2), jnp.zeros(2)), 40, key=jax.random.key(0))
      >>> bool(jnp.all(jnp.abs(x - 1.0) < 0.1)), int(state.lower_calls)
      (True, 100)

    References:
      J. Hao, X. Gong, M. Liu. Bilevel Optimization under Unbounded Smoothness: A New Algorithm
      and Convergence Analysis. ICLR 2024 (arXiv:2401.09587), Algorithms 1-3.
    """
    name = "bo_rep"
    _check_oracles(upper_fn, lower_fn, name)
    _check_rate(learning_rate, f"{name}(learning_rate=...)")
    _check_momentum(momentum, f"{name}(momentum=...)")
    _check_rate(lower_learning_rate, f"{name}(lower_learning_rate=...)")
    _check_rate(z_learning_rate, f"{name}(z_learning_rate=...)")
    _checks.check_positive_int(period, f"{name}(period=...)")
    _check_nonneg_int(lower_steps, f"{name}(lower_steps=...)")
    _check_nonneg_int(refine_steps, f"{name}(refine_steps=...)")
    _checks.check_positive_int(refine_epochs, f"{name}(refine_epochs=...)")
    if z_radius is not None:
        _checks.check_positive(z_radius, f"{name}(z_radius=...)")
    _check_sampler(sampler, name)
    refine_total = refine_steps * (2**refine_epochs - 1)

    # constants or schedules of the step count
    rates = (learning_rate, lower_learning_rate, z_learning_rate)

    def init(params, *args):
        x, y = _pair(params)
        return BoRepState(
            count=jnp.zeros((), jnp.int32),
            z=_zeros_like(y),
            momentum=_zeros_like(x),
            lower_calls=jnp.zeros((), jnp.int32),
            oracle_calls=jnp.zeros((), jnp.int32),
            hypergrad_norm=jnp.zeros((), _dtype(x)),
        )

    def update(params, state, *args):
        learning_rate, lower_learning_rate, z_learning_rate = _rates_at(rates, state.count)
        data, key = _split(args)
        x, y = _pair(params)
        t = state.count

        def refine(yy):
            draw = _batch_fn(sampler, data, _stream(key, _REFINE))
            return epoch_sgd(lower_fn, x, yy, lower_learning_rate, refine_steps, refine_epochs,
                             draw)

        def periodic(yy):
            draw = _batch_fn(sampler, data, _stream(key, _LOWER))
            return lower_sgd(lower_fn, x, yy, lower_learning_rate, lower_steps, draw)

        if refine_total:
            y = jax.lax.cond(t == 0, refine, lambda yy: yy, y)
        due = t % period == 0
        y = jax.lax.cond(due, periodic, lambda yy: yy, y)
        lower_calls = state.lower_calls + jnp.where(due, lower_steps, 0).astype(jnp.int32)
        lower_calls = lower_calls + jnp.where(t == 0, refine_total, 0).astype(jnp.int32)

        b1 = _batch_fn(sampler, data, _stream(key, _ZSTEP))(0)
        z = _sub(state.z, _scale(z_learning_rate, _sub(hvp_yy(lower_fn, x, y, state.z, b1),
                                            grad_y(upper_fn, x, y, b1))))
        z = _project_ball(z, z_radius)
        b2 = _batch_fn(sampler, data, _stream(key, _HYPER))(0)
        h = hypergradient_estimate(upper_fn, lower_fn, x, y, z, b2)
        m = jax.tree.map(lambda a, b: (momentum * a + (1 - momentum) * b).astype(a.dtype),
                         state.momentum, h)
        x = _normalized_step(x, m, learning_rate)
        oracle_calls = state.oracle_calls + (lower_calls - state.lower_calls) + 4
        new = BoRepState(t + 1, z, m, lower_calls, oracle_calls.astype(jnp.int32),
                         tree_norm(h).astype(state.hypergrad_norm.dtype))
        return (x, y), new

    return Solver(init, update)


