"""Single-loop and Neumann-series bilevel baselines: SOBA, MA-SOBA, StocBiO, TTSA, SABA, and
ANIL (unrolled differentiation)."""

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
    _NEUMANN,
    _TRUNC,
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
    neumann_inverse,
)

# --------------------------------------------------------------------------- SOBA / MA-SOBA

__all__ = [
    "StocBiOState",
    "TTSAState",
    "SOBAState",
    "SABAState",
    "ANILState",
    "MAMLState",
    "stocbio",
    "ttsa",
    "soba",
    "ma_soba",
    "saba",
    "anil",
    "maml",
]


class SOBAState(NamedTuple):
    """State of :func:`soba` and :func:`ma_soba` (``momentum`` is zeros for SOBA)."""

    count: jax.Array
    z: Any
    momentum: Any
    oracle_calls: jax.Array
    hypergrad_norm: jax.Array


def _soba_family(upper_fn, lower_fn, learning_rate, lower_learning_rate, z_learning_rate, momentum,
                 sampler, name, use_momentum):
    _check_oracles(upper_fn, lower_fn, name)
    _check_rate(learning_rate, f"{name}(learning_rate=...)")
    _check_rate(lower_learning_rate, f"{name}(lower_learning_rate=...)")
    _check_rate(z_learning_rate, f"{name}(z_learning_rate=...)")
    if use_momentum:
        _check_momentum(momentum, f"{name}(momentum=...)")
    _check_sampler(sampler, name)

    # constants or schedules of the step count
    rates = (learning_rate, lower_learning_rate, z_learning_rate)

    def init(params, *args):
        x, y = _pair(params)
        return SOBAState(jnp.zeros((), jnp.int32), _zeros_like(y), _zeros_like(x),
                         jnp.zeros((), jnp.int32), jnp.zeros((), _dtype(x)))

    def update(params, state, *args):
        learning_rate, lower_learning_rate, z_learning_rate = _rates_at(rates, state.count)
        data, key = _split(args)
        x, y = _pair(params)
        b = _batch_fn(sampler, data, _stream(key, _ZSTEP))(0)
        # All directions at (x_t, y_t, z_t) (Dagréou et al. 2022, Algorithm 1).
        d_y = grad_y(lower_fn, x, y, b)
        d_z = _sub(hvp_yy(lower_fn, x, y, state.z, b), grad_y(upper_fn, x, y, b))
        h = hypergradient_estimate(upper_fn, lower_fn, x, y, state.z, b)
        y_new = _axpy(-lower_learning_rate, d_y, y)
        z_new = _axpy(-z_learning_rate, d_z, state.z)
        if use_momentum:  # MA-SOBA: m ← βm + (1−β)h, x ← x − αm
            m = jax.tree.map(lambda a, c: (momentum * a + (1 - momentum) * c).astype(a.dtype),
                             state.momentum, h)
            direction = m
        else:
            m, direction = state.momentum, h
        x_new = _axpy(-learning_rate, direction, x)
        new = SOBAState(state.count + 1, z_new, m, state.oracle_calls + 5,
                        tree_norm(h).astype(state.hypergrad_norm.dtype))
        return (x_new, y_new), new

    return Solver(init, update)


@_checks.renamed(lower_lr="lower_learning_rate", z_lr="z_learning_rate")
@cached_factory
def soba(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, lower_learning_rate,
         z_learning_rate=None, sampler=None) -> Solver:
    r"""SOBA: single-loop SGD on (y, z, x) with all directions at the current point.

    .. math::
        y_{t+1} = y_t - \rho \nabla_y G, \quad
        z_{t+1} = z_t - \nu(\nabla^2_{yy} G\, z_t - \nabla_y F), \quad
        x_{t+1} = x_t - \alpha(\nabla_x F - \nabla^2_{xy} G\, z_t)

    all evaluated at :math:`(x_t, y_t)` on one minibatch.

    Args:
      learning_rate: :math:`\alpha`; lower_learning_rate: :math:`\rho`; z_learning_rate:
        :math:`\nu` (default :math:`\rho`); sampler: as in :func:`bo_rep`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - 1.0) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2)
      >>> (x, y), _, _ = run(soba(f, g, learning_rate=0.2, lower_learning_rate=0.5),
      ...                    (jnp.zeros(2), jnp.zeros(2)), 100, key=jax.random.key(0))
      >>> bool(jnp.allclose(x, 1.0, atol=1e-3))
      True

    References:
      M. Dagréou, P. Ablin, S. Vaiter, T. Moreau. A framework for bilevel optimization that
      enables stochastic and global variance reduction algorithms. NeurIPS 2022, Algorithm 1.
    """
    return _soba_family(upper_fn, lower_fn, learning_rate, lower_learning_rate,
                        lower_learning_rate if z_learning_rate is None else z_learning_rate, 0.0,
                        sampler, "soba", False)


@_checks.renamed(lower_lr="lower_learning_rate", z_lr="z_learning_rate")
@cached_factory
def ma_soba(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, lower_learning_rate, momentum,
            z_learning_rate=None, sampler=None) -> Solver:
    r"""MA-SOBA: SOBA with a moving average of the hypergradient estimate.

    .. math::
        m_{t+1} = \beta m_t + (1 - \beta) h_t, \qquad x_{t+1} = x_t - \alpha m_{t+1},

    with :math:`h_t = \nabla_x F - \nabla^2_{xy} G\, z_t` and y, z as in :func:`soba`
    (Chen, Xu, Zhang's averaging weight is :math:`\theta = 1 - \beta`). BO-REP is MA-SOBA plus
    normalization, periodic lower updates and the refinement.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - 1.0) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2)
      >>> solver = ma_soba(f, g, learning_rate=0.1, lower_learning_rate=0.5, momentum=0.5)
      >>> (x, y), _, _ = run(solver, (jnp.zeros(2), jnp.zeros(2)), 300, key=jax.random.key(0))
      >>> bool(jnp.allclose(x, 1.0, atol=1e-3))
      True

    References:
      X. Chen, T. Xu, Y. Zhang. Optimal algorithms for stochastic bilevel optimization under
      relaxed smoothness conditions. arXiv:2306.12067 (2023), MA-SOBA.
    """
    return _soba_family(upper_fn, lower_fn, learning_rate, lower_learning_rate,
                        lower_learning_rate if z_learning_rate is None else z_learning_rate,
                        momentum, sampler, "ma_soba", True)


# --------------------------------------------------------------------------- StocBiO


class StocBiOState(NamedTuple):
    """State of :func:`stocbio`."""

    count: jax.Array
    lower_calls: jax.Array
    oracle_calls: jax.Array
    hypergrad_norm: jax.Array


@_checks.renamed(lower_lr="lower_learning_rate", neumann_lr="neumann_learning_rate")
@cached_factory
def stocbio(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, lower_learning_rate,
            inner_steps: int, neumann_learning_rate, neumann_steps: int, sampler=None) -> Solver:
    r"""StocBiO: D warm-started SGD steps on y, then a Neumann-series hypergradient.

    .. math::
        y_t &= \mathrm{SGD}^D(g(x_t, \cdot); y_{t-1}), \qquad
        v_t = \eta_N \sum_{q=0}^{Q} \prod_{j=1}^{q} (I - \eta_N \nabla^2_{yy}G_j)\,
            \nabla_y F(x_t, y_t),\\
        x_{t+1} &= x_t - \alpha(\nabla_x F - \nabla^2_{xy} G\, v_t)

    with an independent minibatch per Hessian factor.

    Args:
      learning_rate: :math:`\alpha`; lower_learning_rate: :math:`\beta`;
      inner_steps: :math:`D \ge 1`; neumann_learning_rate: :math:`\eta_N < 1/\lambda_{\max}`;
      neumann_steps: :math:`Q \ge 0`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - 1.0) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2)
      >>> solver = stocbio(f, g, learning_rate=0.5, lower_learning_rate=0.5, inner_steps=10,
      ...                  neumann_learning_rate=0.5, neumann_steps=20)
      >>> (x, y), _, _ = run(solver, (jnp.zeros(2), jnp.zeros(2)), 30, key=jax.random.key(0))
      >>> bool(jnp.allclose(x, 1.0, atol=1e-3))
      True

    References:
      K. Ji, J. Yang, Y. Liang. Bilevel optimization: convergence analysis and enhanced design.
      ICML 2021, Algorithm 2 (StocBiO).
    """
    name = "stocbio"
    _check_oracles(upper_fn, lower_fn, name)
    _check_rate(learning_rate, f"{name}(learning_rate=...)")
    _check_rate(lower_learning_rate, f"{name}(lower_learning_rate=...)")
    _checks.check_positive_int(inner_steps, f"{name}(inner_steps=...)")
    _check_rate(neumann_learning_rate, f"{name}(neumann_learning_rate=...)")
    _check_nonneg_int(neumann_steps, f"{name}(neumann_steps=...)")
    _check_sampler(sampler, name)

    rates = (learning_rate, lower_learning_rate)  # constants or schedules of the step count

    def init(params, *args):
        x, _ = params
        z = jnp.zeros((), jnp.int32)
        return StocBiOState(z, z, z, jnp.zeros((), _dtype(x)))

    def update(params, state, *args):
        learning_rate, lower_learning_rate = _rates_at(rates, state.count)
        data, key = _split(args)
        x, y = _pair(params)
        y = lower_sgd(lower_fn, x, y, lower_learning_rate, inner_steps,
                      _batch_fn(sampler, data, _stream(key, _LOWER)))
        b = _batch_fn(sampler, data, _stream(key, _HYPER))(0)
        v = neumann_inverse(lower_fn, x, y, grad_y(upper_fn, x, y, b), neumann_learning_rate,
                            neumann_steps, _batch_fn(sampler, data, _stream(key, _NEUMANN)))
        h = hypergradient_estimate(upper_fn, lower_fn, x, y, v, b)
        x = _axpy(-learning_rate, h, x)
        new = StocBiOState(state.count + 1, state.lower_calls + inner_steps,
                           state.oracle_calls + inner_steps + neumann_steps + 3,
                           tree_norm(h).astype(state.hypergrad_norm.dtype))
        return (x, y), new

    return Solver(init, update)


# --------------------------------------------------------------------------- TTSA


class TTSAState(NamedTuple):
    """State of :func:`ttsa`."""

    count: jax.Array
    oracle_calls: jax.Array
    hypergrad_norm: jax.Array


@_checks.renamed(lower_lr="lower_learning_rate", neumann_lr="neumann_learning_rate")
@cached_factory
def ttsa(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, lower_learning_rate,
         neumann_learning_rate, neumann_max: int, upper_decay=0.6, lower_decay=0.4,
         sampler=None) -> Solver:
    r"""TTSA: two-timescale stochastic approximation with a random-truncation Neumann estimate.

    .. math::
        y_{t+1} &= y_t - \beta_t \nabla_y G(x_t, y_t), \\
        h_t &= \nabla_x F - \nabla^2_{xy} G\, \Big[Q\eta\prod_{i=1}^{p}(I - \eta H_i)\Big]
            \nabla_y F, \quad p \sim \mathcal U\{0, \dots, Q-1\}, \\
        x_{t+1} &= x_t - \alpha_t h_t,

    at :math:`(x_t, y_{t+1})`, with :math:`\alpha_t = \alpha (t+1)^{-3/5}` and
    :math:`\beta_t = \beta (t+1)^{-2/5}` (``upper_decay``, ``lower_decay``). The truncated
    product is unbiased for :math:`\eta\sum_{q<Q}(I-\eta H)^q` (Ghadimi–Wang).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - 1.0) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2)
      >>> solver = ttsa(f, g, learning_rate=0.5, lower_learning_rate=0.9,
      ...               neumann_learning_rate=0.5, neumann_max=4)
      >>> (x, y), _, _ = run(solver, (jnp.zeros(2), jnp.zeros(2)), 400, key=jax.random.key(0))
      >>> bool(jnp.allclose(x, 1.0, atol=0.05))
      True

    References:
      M. Hong, H.-T. Wai, Z. Wang, Z. Yang. A two-timescale stochastic algorithm framework for
      bilevel optimization. SIAM J. Optim. 33(1), 2023, Algorithm 1 and Eq. (10).
    """
    name = "ttsa"
    _check_oracles(upper_fn, lower_fn, name)
    _check_rate(learning_rate, f"{name}(learning_rate=...)")
    _check_rate(lower_learning_rate, f"{name}(lower_learning_rate=...)")
    _check_rate(neumann_learning_rate, f"{name}(neumann_learning_rate=...)")
    _checks.check_positive_int(neumann_max, f"{name}(neumann_max=...)")
    _checks.check_nonnegative(upper_decay, f"{name}(upper_decay=...)")
    _checks.check_nonnegative(lower_decay, f"{name}(lower_decay=...)")
    _check_sampler(sampler, name)

    rates = (learning_rate, lower_learning_rate)  # constants or schedules of the step count

    def init(params, *args):
        x, _ = params
        return TTSAState(jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32),
                         jnp.zeros((), _dtype(x)))

    def update(params, state, *args):
        learning_rate, lower_learning_rate = _rates_at(rates, state.count)
        data, key = _split(args)
        x, y = _pair(params)
        k = (state.count + 1).astype(_dtype(x))
        b0 = _batch_fn(sampler, data, _stream(key, _LOWER))(0)
        y = _axpy(-lower_learning_rate * k ** (-lower_decay), grad_y(lower_fn, x, y, b0), y)
        b = _batch_fn(sampler, data, _stream(key, _HYPER))(0)
        p = jax.random.randint(_stream(key, _TRUNC), (), 0, neumann_max)
        draw = _batch_fn(sampler, data, _stream(key, _NEUMANN))

        def body(j, v):
            stepped = _axpy(-neumann_learning_rate, hvp_yy(lower_fn, x, y, v, draw(j)), v)
            return jax.tree.map(lambda a, c: jnp.where(j < p, a, c), stepped, v)

        v = jax.lax.fori_loop(0, neumann_max, body, grad_y(upper_fn, x, y, b))
        v = _scale(neumann_max * neumann_learning_rate, v)
        h = hypergradient_estimate(upper_fn, lower_fn, x, y, v, b)
        x = _axpy(-learning_rate * k ** (-upper_decay), h, x)
        calls = state.oracle_calls + 4 + p.astype(jnp.int32)
        return (x, y), TTSAState(state.count + 1, calls,
                                 tree_norm(h).astype(state.hypergrad_norm.dtype))

    return Solver(init, update)


# --------------------------------------------------------------------------- SABA


class SABAState(NamedTuple):
    """State of :func:`saba`: z and the SAGA memories (leading axis = minibatch block)."""

    count: jax.Array
    z: Any
    mem_dy: Any  # ∇_y G_i
    mem_dz: Any  # ∇²_yy G_i z_i − ∇_y F_i
    mem_dx: Any  # ∇_x F_i − ∇²_xy G_i z_i
    oracle_calls: jax.Array
    hypergrad_norm: jax.Array


@_checks.renamed(lower_lr="lower_learning_rate", z_lr="z_learning_rate")
@cached_factory
def saba(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, lower_learning_rate, block: Callable,
         num_blocks: int, z_learning_rate=None) -> Solver:
    r"""SABA: SOBA with SAGA variance reduction on all three directions (finite sum).

    The data are ``num_blocks`` fixed minibatches ``block(i, *args)``. Each step draws one
    block :math:`i` uniformly and replaces each SOBA direction :math:`D^i` by
    :math:`D^i(\text{now}) - M_i + \frac1n\sum_j M_j` before storing :math:`M_i \leftarrow
    D^i(\text{now})`. Memories start at the initial point (a full pass in ``init``).

    Args:
      learning_rate: :math:`\alpha`; lower_learning_rate: :math:`\rho`; z_learning_rate:
        :math:`\nu` (default :math:`\rho`); block: ``block(i, *args) -> batch``;
      num_blocks: :math:`n`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> c = jnp.array([0.5, 1.0, 1.5])
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - b) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2)
      >>> solver = saba(f, g, learning_rate=0.2, lower_learning_rate=0.5, block=lambda i, c: c[i],
      ...               num_blocks=3)
      >>> (x, y), _, _ = run(solver, (jnp.zeros(1), jnp.zeros(1)), 300, c,
      ...                    key=jax.random.key(0))
      >>> bool(jnp.allclose(x, 1.0, atol=1e-3))
      True

    References:
      M. Dagréou, P. Ablin, S. Vaiter, T. Moreau. NeurIPS 2022, Algorithm 2 (SABA).
    """
    name = "saba"
    _check_oracles(upper_fn, lower_fn, name)
    _check_rate(learning_rate, f"{name}(learning_rate=...)")
    _check_rate(lower_learning_rate, f"{name}(lower_learning_rate=...)")
    z_learning_rate = lower_learning_rate if z_learning_rate is None else z_learning_rate
    _check_rate(z_learning_rate, f"{name}(z_learning_rate=...)")
    if not callable(block):
        raise TypeError(f"`{name}(block=...)` must be callable (i, *args) -> batch, "
                        f"got {type(block)}")
    _checks.check_positive_int(num_blocks, f"{name}(num_blocks=...)")

    def directions(x, y, z, b):
        d_y = grad_y(lower_fn, x, y, b)
        d_z = _sub(hvp_yy(lower_fn, x, y, z, b), grad_y(upper_fn, x, y, b))
        d_x = hypergradient_estimate(upper_fn, lower_fn, x, y, z, b)
        return d_y, d_z, d_x

    # constants or schedules of the step count
    rates = (learning_rate, lower_learning_rate, z_learning_rate)

    def init(params, *args):
        x, y = _pair(params)
        z = _zeros_like(y)
        mems = jax.lax.map(lambda i: directions(x, y, z, block(i, *args)),
                           jnp.arange(num_blocks))
        return SABAState(jnp.zeros((), jnp.int32), z, *mems,
                         jnp.full((), 5 * num_blocks, jnp.int32), jnp.zeros((), _dtype(x)))

    def saga(now, mem, i):
        def one(v, m):
            return (v - m[i] + jnp.mean(m, axis=0)).astype(v.dtype), m.at[i].set(v)

        pairs = jax.tree.map(one, now, mem)
        est = jax.tree.map(lambda p: p[0], pairs, is_leaf=lambda p: isinstance(p, tuple))
        new = jax.tree.map(lambda p: p[1], pairs, is_leaf=lambda p: isinstance(p, tuple))
        return est, new

    def update(params, state, *args):
        learning_rate, lower_learning_rate, z_learning_rate = _rates_at(rates, state.count)
        data, key = _split(args)
        x, y = _pair(params)
        i = jax.random.randint(key, (), 0, num_blocks)
        d_y, d_z, d_x = directions(x, y, state.z, block(i, *data))
        e_y, m_y = saga(d_y, state.mem_dy, i)
        e_z, m_z = saga(d_z, state.mem_dz, i)
        e_x, m_x = saga(d_x, state.mem_dx, i)
        y_new = _axpy(-lower_learning_rate, e_y, y)
        z_new = _axpy(-z_learning_rate, e_z, state.z)
        x_new = _axpy(-learning_rate, e_x, x)
        new = SABAState(state.count + 1, z_new, m_y, m_z, m_x, state.oracle_calls + 5,
                        tree_norm(e_x).astype(state.hypergrad_norm.dtype))
        return (x_new, y_new), new

    return Solver(init, update)


# --------------------------------------------------------------------------- ANIL


def _unrolled_init(state_cls):
    """``init`` of the unrolled methods (ANIL, MAML): zero count and calls, norm in x's dtype."""

    def init(params, *args):
        x, _ = params
        return state_cls(jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32),
                         jnp.zeros((), _dtype(x)))

    return init


def _unrolled_step(rates, params, state, args, sampler):
    """``(α, γ, x, y₀, batch)`` of one step of an unrolled method: the step sizes at this
    count, the variables, and the step's one minibatch (support and query)."""
    learning_rate, inner_learning_rate = _rates_at(rates, state.count)
    data, key = _split(args)
    x, y0 = params
    return (learning_rate, inner_learning_rate, x, y0,
            _batch_fn(sampler, data, _stream(key, _HYPER))(0))


class ANILState(NamedTuple):
    """State of :func:`anil`."""

    count: jax.Array
    oracle_calls: jax.Array
    hypergrad_norm: jax.Array


@_checks.renamed(inner_lr="inner_learning_rate")
@cached_factory
def anil(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, inner_learning_rate,
         inner_steps: int, learn_init: bool = False, sampler=None) -> Solver:
    r"""ANIL: unrolled differentiation through K inner SGD steps on the lower variable.

    .. math::
        y_K(x) = y_0 - \gamma\sum_{k<K} \nabla_y G(x, y_k), \qquad
        x_{t+1} = x_t - \alpha\, \frac{d}{dx} F(x_t, y_K(x_t)),

    where the inner loop restarts from the state's :math:`y_0` every step (the head
    initialization; meta-learned by the same SGD step when ``learn_init``, else kept fixed —
    e.g. zero-initialized per-task heads). The inner minibatch is the same for all K steps
    (the task's support set) and the outer one the query set, both drawn from one ``batch``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - 1.0) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2)
      >>> solver = anil(f, g, learning_rate=1.0, inner_learning_rate=0.5, inner_steps=10)
      >>> (x, y), _, _ = run(solver, (jnp.zeros(2), jnp.zeros(2)), 50, key=jax.random.key(0))
      >>> bool(jnp.allclose(x, 1.0, atol=1e-3))
      True

    References:
      A. Raghu, M. Raghu, S. Bengio, O. Vinyals. Rapid learning or feature reuse? Towards
      understanding the effectiveness of MAML. ICLR 2020 (ANIL).
    """
    name = "anil"
    _check_oracles(upper_fn, lower_fn, name)
    _check_rate(learning_rate, f"{name}(learning_rate=...)")
    _check_rate(inner_learning_rate, f"{name}(inner_learning_rate=...)")
    _checks.check_positive_int(inner_steps, f"{name}(inner_steps=...)")
    _check_sampler(sampler, name)

    rates = (learning_rate, inner_learning_rate)  # constants or schedules of the step count

    def update(params, state, *args):
        learning_rate, inner_learning_rate, x, y0, b = _unrolled_step(rates, params, state,
                                                                      args, sampler)

        def meta_loss(xx, yy):
            yk = lower_sgd(lower_fn, xx, yy, inner_learning_rate, inner_steps, lambda j: b)
            return upper_fn(xx, yk, b)

        gx, gy = jax.grad(meta_loss, argnums=(0, 1))(x, y0)
        x = _axpy(-learning_rate, gx, x)
        if learn_init:
            y0 = _axpy(-learning_rate, gy, y0)
        new = ANILState(state.count + 1, state.oracle_calls + 2 * inner_steps + 1,
                        tree_norm(gx).astype(state.hypergrad_norm.dtype))
        return (x, y0), new

    return Solver(_unrolled_init(ANILState), update)


# --------------------------------------------------------------------------- MAML


class MAMLState(NamedTuple):
    """State of :func:`maml`."""

    count: jax.Array
    oracle_calls: jax.Array
    hypergrad_norm: jax.Array


@cached_factory
def maml(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, inner_learning_rate,
         inner_steps: int, first_order: bool = True, tasks: Callable[[Any], Any] | None = None,
         sampler=None) -> Solver:
    r"""MAML: adapt *both* variables by K inner SGD steps per task, then step the shared ones.

    With :math:`w = (x, y)` and one task's batch :math:`b`:

    .. math::
        w_{k+1} = w_k - \gamma \nabla_w G(w_k; b), \qquad
        x_{t+1} = x_t - \alpha\, \frac1T\sum_{\tau}\, g_\tau, \qquad
        g_\tau = \Bigl(\frac{\partial w_K}{\partial x}\Bigr)^{\!\top} \nabla F(w_K; b_\tau)
        \;\text{or, first order,}\; \nabla_x F(w_K; b_\tau).

    Unlike :func:`anil`, the inner loop adapts the representation :math:`x` as well as the
    head :math:`y`; the head's starting value stays the state's :math:`y_0` (e.g.
    zero-initialized per-task heads). ``first_order`` drops the second derivatives through
    the inner loop (FOMAML, Finn et al. 2017, §5.2): the meta-gradient is the query gradient
    at the adapted point.

    Args:
      upper_fn: :math:`F(x, y, b)`, the query (outer) loss.
      lower_fn: :math:`G(x, y, b)`, the support (inner) loss.
      learning_rate: :math:`\alpha` > 0 (a float or an optax schedule of the step count).
      inner_learning_rate: :math:`\gamma` > 0.
      inner_steps: :math:`K` ≥ 1.
      first_order: FOMAML (default) or the full second-order meta-gradient.
      tasks: ``tasks(batch)`` splits one minibatch into per-task batches stacked on a leading
        axis (every leaf); each task is adapted on its own (``vmap``) and the meta-gradients are
        averaged. ``None``: the whole minibatch is one task.
      sampler: ``sampler(key, *data)`` draws the step's minibatch (``None``: full batch).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> f = lambda x, y, b: 0.5 * jnp.sum((x - 1.0) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((x + y) ** 2)
      >>> solver = maml(f, g, learning_rate=0.5, inner_learning_rate=0.1, inner_steps=2)
      >>> (x, _), _, _ = run(solver, (jnp.zeros(2), jnp.zeros(2)), 100, key=jax.random.key(0))
      >>> bool(jnp.all(x > 1.0))  # x₀ is meta-learned so that x_K lands at 1
      True

    References:
      C. Finn, P. Abbeel, S. Levine. Model-agnostic meta-learning for fast adaptation of deep
      networks. ICML 2017 (Algorithm 2; first-order variant §5.2). A hyper-representation
      baseline of Hao et al. 2024 (BO-REP).
    """
    name = "maml"
    _check_oracles(upper_fn, lower_fn, name)
    _check_rate(learning_rate, f"{name}(learning_rate=...)")
    _check_rate(inner_learning_rate, f"{name}(inner_learning_rate=...)")
    _checks.check_positive_int(inner_steps, f"{name}(inner_steps=...)")
    if not isinstance(first_order, bool):
        raise TypeError(f"`{name}(first_order=...)` must be a bool, got {first_order!r}")
    if tasks is not None and not callable(tasks):
        raise TypeError(f"`{name}(tasks=...)` must be callable or None, got {type(tasks)}")
    _check_sampler(sampler, name)

    rates = (learning_rate, inner_learning_rate)

    def update(params, state, *args):
        learning_rate, inner_learning_rate, x, y0, b = _unrolled_step(rates, params, state,
                                                                      args, sampler)

        def adapt(w, bt):
            def step(_, ww):
                g = jax.grad(lambda v: lower_fn(v[0], v[1], bt))(ww)
                return _axpy(-inner_learning_rate, g, ww)

            return jax.lax.fori_loop(0, inner_steps, step, w)

        def meta_grad(bt):
            if first_order:
                wk = jax.lax.stop_gradient(adapt((x, y0), bt))
                return jax.grad(upper_fn, argnums=0)(wk[0], wk[1], bt)
            return jax.grad(lambda xx: upper_fn(*adapt((xx, y0), bt), bt))(x)

        if tasks is None:
            gx = meta_grad(b)
        else:
            gx = jax.tree.map(lambda v: jnp.mean(v, axis=0), jax.vmap(meta_grad)(tasks(b)))
        # first order: K inner gradients and one query gradient; second order also
        # backpropagates through the K inner steps (counted as ANIL counts them)
        calls = inner_steps + 1 if first_order else 2 * inner_steps + 1
        new = MAMLState(state.count + 1, state.oracle_calls + calls,
                        tree_norm(gx).astype(state.hypergrad_norm.dtype))
        return (_axpy(-learning_rate, gx, x), y0), new

    return Solver(_unrolled_init(MAMLState), update)
