"""Variance-reduced bilevel baselines: SUSTAIN (STORM-type momentum) and VRBO (SARAH/SPIDER)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrank import _checks
from jaxrank._numerics import tree_norm
from jaxrank.optim._base import Solver, cached_factory
from jaxrank.optim.bilevel_core import (
    _HYPER,
    _LOWER,
    _NEUMANN,
    Oracle,
    _add,
    _axpy,
    _batch_fn,
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
    hypergradient_estimate,
    neumann_inverse,
)

# --------------------------------------------------------------------------- SUSTAIN

__all__ = [
    "SUSTAINState",
    "VRBOState",
    "sustain",
    "vrbo",
]


def _neumann_hypergradient(upper_fn, lower_fn, x, y, b, lr, num_terms, draw):
    r""":math:`\hat h = \nabla_x F - \nabla^2_{xy}G\,\hat v` with the Neumann estimate
    :math:`\hat v` of :math:`[\nabla^2_{yy}G]^{-1}\nabla_y F` (StocBiO's estimator; ``b`` the
    gradient minibatch, ``draw(j)`` the j-th Hessian factor's)."""
    v = neumann_inverse(lower_fn, x, y, grad_y(upper_fn, x, y, b), lr, num_terms, draw)
    return hypergradient_estimate(upper_fn, lower_fn, x, y, v, b)


class SUSTAINState(NamedTuple):
    """State of :func:`sustain`.

    Attributes:
      count: step counter :math:`t`.
      d_y, d_x: recursive-momentum directions :math:`h^g_t` (like y) and :math:`h^f_t` (like x).
      prev_x, prev_y: the previous iterate :math:`(x_{t-1}, y_{t-1})` of the correction.
      oracle_calls, hypergrad_norm: as in :class:`BoRepState` (``hypergrad_norm`` is
        :math:`\\|h^f_t\\|`).
    """

    count: jax.Array
    d_y: Any
    d_x: Any
    prev_x: Any
    prev_y: Any
    oracle_calls: jax.Array
    hypergrad_norm: jax.Array


def _decayed(value, t, exponent):
    return value * (t + 1.0) ** (-exponent)


@_checks.renamed(lower_lr="lower_learning_rate", neumann_lr="neumann_learning_rate")
@cached_factory
def sustain(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, lower_learning_rate, correction,
            neumann_learning_rate, neumann_steps: int, decay=1.0 / 3.0, sampler=None) -> Solver:
    r"""SUSTAIN: STORM-type recursive momentum on both levels (Khanduri et al. 2021).

    .. math::
        x_{t+1} &= x_t - \alpha_t h^f_t, \qquad y_{t+1} = y_t - \beta_t h^g_t,\\
        h^g_{t+1} &= \nabla_y G(x_{t+1}, y_{t+1}; \zeta_{t+1})
            + (1 - \eta_{t+1})\big(h^g_t - \nabla_y G(x_t, y_t; \zeta_{t+1})\big),\\
        h^f_{t+1} &= \bar\nabla f(x_{t+1}, y_{t+1}; \bar\xi_{t+1})
            + (1 - \eta_{t+1})\big(h^f_t - \bar\nabla f(x_t, y_t; \bar\xi_{t+1})\big),

    where :math:`\bar\nabla f` is the Neumann-series hypergradient estimate (Q Hessian factors,
    as in :func:`stocbio`) and both evaluations of a correction share the same samples
    :math:`\zeta_{t+1}, \bar\xi_{t+1}`; :math:`h^g_0, h^f_0` are plain estimates at
    :math:`(x_0, y_0)` (i.e. :math:`\eta_0 = 1`). Schedules of Theorem 1:
    :math:`\alpha_t = \alpha (t+1)^{-\delta}`, :math:`\beta_t = \beta (t+1)^{-\delta}`,
    :math:`\eta_t = \min(1, \eta (t+1)^{-2\delta})` with :math:`\delta` = ``decay`` (1/3 in the
    paper; 0 for constant steps). One step computes the directions at :math:`(x_t, y_t)` and
    then moves both variables (the paper's order, shifted by one index).

    Identities (tested): with ``correction`` :math:`\eta = 1` the correction vanishes and the
    method is simultaneous SGD on y with Neumann-hypergradient SGD on x; with exact
    (sample-free) oracles the correction is exact, so every :math:`\eta` gives the
    :math:`\eta = 1` trajectory.

    Args:
      learning_rate: :math:`\alpha`; lower_learning_rate: :math:`\beta`; correction: momentum weight
        :math:`\eta \in (0, 1]`; neumann_learning_rate: :math:`\eta_N`;
      neumann_steps: :math:`Q \ge 0`; decay: :math:`\delta \ge 0`; sampler: as in :func:`bo_rep`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - 1.0) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2)
      >>> solver = sustain(f, g, learning_rate=0.3, lower_learning_rate=0.5, correction=0.5,
      ...                  neumann_learning_rate=0.5, neumann_steps=20, decay=0.0)
      >>> (x, y), _, _ = run(solver, (jnp.zeros(2), jnp.zeros(2)), 100, key=jax.random.key(0))
      >>> bool(jnp.allclose(x, 1.0, atol=1e-3))
      True

    References:
      P. Khanduri, S. Zeng, M. Hong, H.-T. Wai, Z. Wang, Z. Yang. A near-optimal algorithm for
      stochastic bilevel optimization via double-momentum. NeurIPS 2021, Algorithm 1 (SUSTAIN).
    """
    name = "sustain"
    _check_oracles(upper_fn, lower_fn, name)
    _check_rate(learning_rate, f"{name}(learning_rate=...)")
    _check_rate(lower_learning_rate, f"{name}(lower_learning_rate=...)")
    v = _checks._scalar(correction)
    if v is not None and not (0.0 < v <= 1.0):
        raise ValueError(f"`{name}(correction=...)` must lie in (0, 1], got {v}")
    _check_rate(neumann_learning_rate, f"{name}(neumann_learning_rate=...)")
    _check_nonneg_int(neumann_steps, f"{name}(neumann_steps=...)")
    _checks.check_nonnegative(decay, f"{name}(decay=...)")
    _check_sampler(sampler, name)

    rates = (learning_rate, lower_learning_rate)  # constants or schedules of the step count

    def init(params, *args):
        x, y = _pair(params)
        return SUSTAINState(jnp.zeros((), jnp.int32), _zeros_like(y), _zeros_like(x), x, y,
                            jnp.zeros((), jnp.int32), jnp.zeros((), _dtype(x)))

    def update(params, state, *args):
        learning_rate, lower_learning_rate = _rates_at(rates, state.count)
        data, key = _split(args)
        x, y = _pair(params)
        t = state.count.astype(_dtype(x))
        b = _batch_fn(sampler, data, _stream(key, _HYPER))(0)
        draw = _batch_fn(sampler, data, _stream(key, _NEUMANN))

        def directions(xx, yy):
            return (grad_y(lower_fn, xx, yy, b),
                    _neumann_hypergradient(upper_fn, lower_fn, xx, yy, b, neumann_learning_rate,
                                           neumann_steps, draw))

        g_now, h_now = directions(x, y)
        g_old, h_old = directions(state.prev_x, state.prev_y)
        eta = jnp.where(state.count == 0, 1.0, jnp.minimum(1.0, _decayed(correction, t,
                                                                          2 * decay)))
        keep = (1.0 - eta).astype(_dtype(x))
        d_y = _add(g_now, _scale(keep, _sub(state.d_y, g_old)))
        d_x = _add(h_now, _scale(keep, _sub(state.d_x, h_old)))
        x_new = _axpy(-_decayed(learning_rate, t, decay), d_x, x)
        y_new = _axpy(-_decayed(lower_learning_rate, t, decay), d_y, y)
        calls = state.oracle_calls + 2 * (neumann_steps + 3)
        new = SUSTAINState(state.count + 1, d_y, d_x, x, y, calls,
                           tree_norm(d_x).astype(state.hypergrad_norm.dtype))
        return (x_new, y_new), new

    return Solver(init, update)


# --------------------------------------------------------------------------- VRBO


class VRBOState(NamedTuple):
    """State of :func:`vrbo`.

    Attributes:
      count: outer step counter :math:`k`.
      d_y, d_x: SARAH/SPIDER estimates :math:`u` (like y) and :math:`v` (like x) of
        :math:`\\nabla_y g` and :math:`\\bar\\nabla f` at the current iterate.
      lower_calls, oracle_calls, hypergrad_norm: as in :class:`BoRepState`.
    """

    count: jax.Array
    d_y: Any
    d_x: Any
    lower_calls: jax.Array
    oracle_calls: jax.Array
    hypergrad_norm: jax.Array


@_checks.renamed(lower_lr="lower_learning_rate", neumann_lr="neumann_learning_rate")
@cached_factory
def vrbo(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, lower_learning_rate,
         inner_steps: int, period: int, neumann_learning_rate, neumann_steps: int,
         checkpoint_batches: int = 1, sampler=None) -> Solver:
    r"""VRBO: SARAH/SPIDER variance reduction on both levels, double loop (Yang, Ji, Liang 2021).

    Outer step :math:`k` (u, v estimate :math:`\nabla_y g` and :math:`\bar\nabla f` at the
    current point; a correction moving them from point :math:`p` to :math:`p'` is
    :math:`u \mathrel{+}= \nabla_y G(p'; \mathcal S_2) - \nabla_y G(p; \mathcal S_2)` and the
    same for v, both evaluations on one fresh minibatch :math:`\mathcal S_2`):

    .. math::
        \text{if } k \bmod q = 0:\ & u = \nabla_y G(x_k, y_k; \mathcal S_1),\quad
            v = \bar\nabla f(x_k, y_k; \mathcal S_1) \quad\text{(large batch)}\\
        & x_{k+1} = x_k - \alpha v, \quad \text{correct } (x_k, y_k) \to (x_{k+1}, y_k)\\
        \text{for } t = 1..m:\ & y \leftarrow y - \beta u, \quad
            \text{correct } (x_{k+1}, y_{\text{old}}) \to (x_{k+1}, y)

    where :math:`\bar\nabla f` is the Neumann-series hypergradient estimate (Q factors, as in
    :func:`stocbio`) and :math:`\mathcal S_1` is the mean of ``checkpoint_batches``
    minibatches (the full batch without a sampler). [UNVERIFIED] index convention of the inner
    loop: we correct after every move (m + 1 corrections per outer step), so u and v always
    refer to the current point; implementations differ on whether the last move is corrected.

    Identity (tested): with exact (sample-free) oracles every correction is exact,
    :math:`u = \nabla_y g` and :math:`v = \bar\nabla f` at every point, and VRBO is
    deterministic StocBiO (AID with Neumann series, D = m) shifted by one lower-level burst,
    for every q.

    Args:
      learning_rate: :math:`\alpha`; lower_learning_rate: :math:`\beta`;
      inner_steps: :math:`m \ge 1`; period: :math:`q \ge 1`;
      neumann_learning_rate: :math:`\eta_N`; neumann_steps: :math:`Q \ge 0`;
      checkpoint_batches: minibatches averaged at a checkpoint (:math:`|\mathcal S_1|` in
        units of :math:`|\mathcal S_2|`); sampler: as in :func:`bo_rep`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - 1.0) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2)
      >>> solver = vrbo(f, g, learning_rate=0.3, lower_learning_rate=0.5, inner_steps=3, period=4,
      ...               neumann_learning_rate=0.5, neumann_steps=20)
      >>> (x, y), _, _ = run(solver, (jnp.zeros(2), jnp.zeros(2)), 60, key=jax.random.key(0))
      >>> bool(jnp.allclose(x, 1.0, atol=1e-3))
      True

    References:
      J. Yang, K. Ji, Y. Liang. Provably faster algorithms for bilevel optimization.
      NeurIPS 2021, Algorithm 1 (VRBO).
    """
    name = "vrbo"
    _check_oracles(upper_fn, lower_fn, name)
    _check_rate(learning_rate, f"{name}(learning_rate=...)")
    _check_rate(lower_learning_rate, f"{name}(lower_learning_rate=...)")
    _checks.check_positive_int(inner_steps, f"{name}(inner_steps=...)")
    _checks.check_positive_int(period, f"{name}(period=...)")
    _check_rate(neumann_learning_rate, f"{name}(neumann_learning_rate=...)")
    _check_nonneg_int(neumann_steps, f"{name}(neumann_steps=...)")
    _checks.check_positive_int(checkpoint_batches, f"{name}(checkpoint_batches=...)")
    _check_sampler(sampler, name)
    per_point = neumann_steps + 3  # ∇_y G, ∇F (x and y parts), Q HVPs, one cross term

    def estimates(data, x, y, key):
        b = _batch_fn(sampler, data, key)(0)
        draw = _batch_fn(sampler, data, _stream(key, _NEUMANN))
        return (grad_y(lower_fn, x, y, b),
                _neumann_hypergradient(upper_fn, lower_fn, x, y, b, neumann_learning_rate,
                                       neumann_steps, draw))

    rates = (learning_rate, lower_learning_rate)  # constants or schedules of the step count

    def init(params, *args):
        x, y = _pair(params)
        z = jnp.zeros((), jnp.int32)
        return VRBOState(z, _zeros_like(y), _zeros_like(x), z, z, jnp.zeros((), _dtype(x)))

    def update(params, state, *args):
        learning_rate, lower_learning_rate = _rates_at(rates, state.count)
        data, key = _split(args)
        x, y = _pair(params)

        def checkpoint(_):
            def one(i):
                return estimates(data, x, y,
                                 _stream(jax.random.fold_in(key, 100 + i), _HYPER))

            if sampler is None or checkpoint_batches == 1:
                return one(0)
            ests = jax.lax.map(one, jnp.arange(checkpoint_batches))
            return jax.tree.map(lambda a: jnp.mean(a, axis=0).astype(a.dtype), ests)

        def correct(u, v, old, new, t):
            k = jax.random.fold_in(_stream(key, _LOWER), t)
            g_new, h_new = estimates(data, *new, k)
            g_old, h_old = estimates(data, *old, k)
            return _add(u, _sub(g_new, g_old)), _add(v, _sub(h_new, h_old))

        due = state.count % period == 0
        u, v = jax.lax.cond(due, checkpoint, lambda _: (state.d_y, state.d_x), None)
        x_new = _axpy(-learning_rate, v, x)
        u, v = correct(u, v, (x, y), (x_new, y), 0)

        def inner(t, carry):
            yy, u, v = carry
            y_next = _axpy(-lower_learning_rate, u, yy)
            u, v = correct(u, v, (x_new, yy), (x_new, y_next), t + 1)
            return y_next, u, v

        y_new, u, v = jax.lax.fori_loop(0, inner_steps, inner, (y, u, v))
        n_ckpt = checkpoint_batches if sampler is not None else 1
        calls = (state.oracle_calls + jnp.where(due, n_ckpt * per_point, 0)
                 + 2 * (inner_steps + 1) * per_point).astype(jnp.int32)
        new = VRBOState(state.count + 1, u, v, state.lower_calls + inner_steps, calls,
                        tree_norm(v).astype(state.hypergrad_norm.dtype))
        return (x_new, y_new), new

    return Solver(init, update)


