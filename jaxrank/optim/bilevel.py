r"""Stochastic bilevel optimization: BO-REP (Hao, Gong, Liu, ICLR 2024) and its baselines.

The problem is

.. math::
    \min_x \Phi(x) := f(x, y^*(x)), \qquad y^*(x) = \arg\min_y g(x, y),

with :math:`g` strongly convex in :math:`y`. By the implicit function theorem

.. math::
    \nabla\Phi(x) = \nabla_x f - \nabla^2_{xy} g\, z^*, \qquad
    z^* = [\nabla^2_{yy} g]^{-1} \nabla_y f,

where :math:`\nabla^2_{xy} g\, z := \nabla_x \langle \nabla_y g(x, y), z\rangle`. Every method
here uses the same stochastic oracles, written once in this module from JAX autodiff:

* ``upper_fn(x, y, batch) -> scalar`` (:math:`F(x, y; \xi)`) and
  ``lower_fn(x, y, batch) -> scalar`` (:math:`G(x, y; \zeta)`), over pytrees (flax params too);
* the Hessian-vector product :math:`\nabla^2_{yy} G\, z` as ``jvp`` of ``grad`` (forward over
  reverse), and the cross term :math:`\nabla^2_{xy} G\, z` as ``grad_x <grad_y G, z>``.

The solvers follow the :class:`~jaxrank.optim.Solver` contract with ``params = (x, y)``: ``init(
(x, y), *args)`` and ``update((x, y), state, *args, key)``, so they run under
``run((x0, y0), T, *args, key=key)``. Minibatches come from ``sampler(key, *args) -> batch``;
without a sampler every oracle sees the full batch ``args`` (a tuple) and the key is unused.
One call of ``sampler`` per oracle group, with keys ``fold_in(key_t, i)``, so the periodic
lower-level bursts draw fresh minibatches at every inner step.

Methods (one implementation each, shared by every experiment):

* :func:`bo_rep` — Algorithm 1 of the paper (normalized momentum on x, initialization
  refinement, periodic lower-level updates under ``lax.cond``, SOBA-type z-iteration);
* :func:`stocbio` (Ji, Yang, Liang 2021; Neumann series), :func:`ttsa` (Hong et al. 2023;
  random-truncation Neumann, two time scales), :func:`soba` (Dagréou et al. 2022),
  :func:`ma_soba` (Chen, Xu, Zhang 2023; SOBA + moving average), :func:`saba` (Dagréou et al.
  2022; SOBA + SAGA over a finite set of minibatches), :func:`sustain` (Khanduri et al. 2021;
  STORM-type recursive momentum on both levels), :func:`vrbo` (Yang, Ji, Liang 2021;
  SARAH/SPIDER variance reduction, double loop), :func:`anil` (Raghu et al. 2020; unrolled
  differentiation through inner SGD on the lower variable);
* :func:`exact_hypergradient` (dense solve) and :func:`implicit_argmin` (custom-VJP argmin), the
  references the tests and the synthetic figure use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxrank import _checks
from jaxrank._numerics import tree_norm
from jaxrank.optim._base import Solver, cached_factory

__all__ = [
    "BoRepState",
    "StocBiOState",
    "TTSAState",
    "SOBAState",
    "SABAState",
    "SUSTAINState",
    "VRBOState",
    "ANILState",
    "bo_rep",
    "stocbio",
    "ttsa",
    "soba",
    "ma_soba",
    "saba",
    "sustain",
    "vrbo",
    "anil",
    "exact_hypergradient",
    "implicit_argmin",
    "hvp_yy",
    "cross_xy",
    "hypergradient_estimate",
    "neumann_inverse",
    "lower_sgd",
    "epoch_sgd",
]

Oracle = Callable[[Any, Any, Any], jax.Array]


# --------------------------------------------------------------------------- tree helpers


def _add(a, b):
    return jax.tree.map(jnp.add, a, b)


def _sub(a, b):
    return jax.tree.map(jnp.subtract, a, b)


def _scale(c, a):
    return jax.tree.map(lambda v: (c * v).astype(v.dtype), a)


def _axpy(c, a, b):
    """``c * a + b``, keeping ``b``'s dtypes."""
    return jax.tree.map(lambda u, v: (c * u + v).astype(v.dtype), a, b)


def _vdot(a, b):
    return sum(jnp.vdot(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def _zeros_like(a):
    return jax.tree.map(lambda v: jnp.zeros(jnp.shape(v), jnp.result_type(v)), a)


def _dtype(tree):
    return jnp.result_type(*jax.tree.leaves(tree))


# --------------------------------------------------------------------------- oracles


def grad_y(fn: Oracle, x, y, batch):
    """:math:`\\nabla_y F(x, y; \\xi)`."""
    return jax.grad(fn, argnums=1)(x, y, batch)


def grad_x(fn: Oracle, x, y, batch):
    """:math:`\\nabla_x F(x, y; \\xi)`."""
    return jax.grad(fn, argnums=0)(x, y, batch)


def hvp_yy(lower_fn: Oracle, x, y, z, batch):
    r"""Hessian-vector product :math:`\nabla^2_{yy} G(x, y; \zeta)\, z` (jvp of grad).

    Example:
      >>> g = lambda x, y, b: 0.5 * 3.0 * jnp.sum(y**2)
      >>> hvp_yy(g, 0.0, jnp.ones(2), jnp.array([1.0, 2.0]), None).tolist()
      [3.0, 6.0]
    """
    return jax.jvp(lambda yy: grad_y(lower_fn, x, yy, batch), (y,), (z,))[1]


def cross_xy(lower_fn: Oracle, x, y, z, batch):
    r"""Cross term :math:`\nabla^2_{xy} G(x, y; \zeta)\, z = \nabla_x\langle\nabla_y G, z\rangle`.

    Example:
      >>> g = lambda x, y, b: 0.5 * jnp.sum(y**2) - jnp.sum(y * x)  # ∇_y g = y − x
      >>> cross_xy(g, jnp.zeros(2), jnp.ones(2), jnp.array([1.0, 2.0]), None).tolist()
      [-1.0, -2.0]
    """
    return jax.grad(lambda xx: _vdot(grad_y(lower_fn, xx, y, batch), z))(x)


def hypergradient_estimate(upper_fn: Oracle, lower_fn: Oracle, x, y, z, batch):
    r""":math:`h = \nabla_x F(x, y; \bar\xi) - \nabla^2_{xy} G(x, y; \bar\zeta)\, z`."""
    return _sub(grad_x(upper_fn, x, y, batch), cross_xy(lower_fn, x, y, z, batch))


def lower_sgd(lower_fn: Oracle, x, y, lower_lr, num_steps: int, draw: Callable[[int], Any]):
    r"""``num_steps`` plain SGD steps :math:`y \leftarrow y - \gamma \nabla_y G(x, y; \zeta_j)`.

    ``draw(j)`` returns the minibatch of inner step ``j`` (a fresh one per step).
    """
    if num_steps == 0:
        return y

    def body(j, yy):
        return _axpy(-lower_lr, grad_y(lower_fn, x, yy, draw(j)), yy)

    return jax.lax.fori_loop(0, num_steps, body, y)


def neumann_inverse(lower_fn: Oracle, x, y, b, lr, num_terms: int, draw: Callable[[int], Any]):
    r"""Neumann-series estimate :math:`\eta \sum_{q=0}^{Q} \prod_{j \le q} (I - \eta H_j)\, b`.

    With exact Hessians :math:`H_j = H` this is :math:`\eta\sum_{q=0}^{Q}(I-\eta H)^q b`, which
    tends to :math:`H^{-1} b` for :math:`0 < \eta < 1/\lambda_{\max}(H)` with error
    :math:`\|(I-\eta H)^{Q+1} H^{-1} b\|` (StocBiO, Ji et al. 2021, Algorithm 2 / Eq. (4)).
    ``num_terms`` is :math:`Q` (the sum has :math:`Q + 1` terms); ``draw(j)`` the minibatch of
    Hessian factor :math:`j`.
    """

    def body(j, carry):
        p, acc = carry
        p = _axpy(-lr, hvp_yy(lower_fn, x, y, p, draw(j)), p)
        return p, _add(acc, p)

    _, acc = jax.lax.fori_loop(0, num_terms, body, (b, b))
    return _scale(lr, acc)


def _batch_fn(sampler, args, key):
    """``draw(i)``: the i-th minibatch of this step (full batch ``args`` without a sampler)."""
    if sampler is None:
        return lambda i: args
    return lambda i: sampler(jax.random.fold_in(key, i), *args)


def _is_key(value: Any) -> bool:
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return False
    if jnp.issubdtype(dtype, jax.dtypes.prng_key):
        return jnp.shape(value) == ()
    return dtype == jnp.uint32 and jnp.shape(value) == (2,)


def _split(args):
    """``(data_args, key)`` from ``update``'s trailing arguments (the key is always last).

    The last argument must be one PRNG key (checked on its shape and dtype, so at trace time):
    without ``run(..., key=...)`` the last data array would silently be taken as the key.
    """
    if not args or not _is_key(args[-1]):
        got = ("no trailing argument" if not args else
               f"a last argument of shape {tuple(jnp.shape(args[-1]))} and dtype "
               f"{getattr(args[-1], 'dtype', type(args[-1]).__name__)}")
        raise TypeError(
            "`run(key=...)` must be one jax.random.key(...) for a bilevel solver (it takes the "
            "PRNG key as the last argument of `update`): run it with "
            f"`run(solver, (x0, y0), T, *data, key=jax.random.key(seed))`, got {got}"
        )
    return tuple(args[:-1]), args[-1]


def _pair(params: Any) -> tuple[Any, Any]:
    """``(x, y)`` from a bilevel solver's params; a clear error for anything but a pair."""
    if not isinstance(params, (tuple, list)) or len(params) != 2:
        if hasattr(params, "shape"):
            got = f"{type(params).__name__} of shape {tuple(params.shape)}"
        else:
            got = f"{type(params).__name__}"
        raise TypeError("`run(params=...)` of a bilevel solver must be a pair (x, y) of the "
                        f"upper and lower variables (pytrees), got {got}")
    return params[0], params[1]


# Stream ids for fold_in: keep the oracle groups of one step independent.
_LOWER, _REFINE, _ZSTEP, _HYPER, _NEUMANN, _TRUNC = 0, 1, 2, 3, 4, 5


def _stream(key, stream):
    return jax.random.fold_in(key, stream)


# --------------------------------------------------------------------------- argument checks


def _check_rate(value, where):
    if callable(value):  # an optax-style schedule ``count -> step size``
        return
    _checks.check_positive(value, where)


def _rates_at(rates, count):
    """The step sizes of the step with ``count`` steps done: ``r(count)`` for a schedule ``r``
    (e.g. ``optax.cosine_decay_schedule(...)``), a constant as it is (so constant step sizes run
    exactly the computation they always ran)."""
    return tuple(r(count) if callable(r) else r for r in rates)


def _check_momentum(value, where):
    v = _checks._scalar(value)
    if v is None:
        return
    if not (0.0 <= v < 1.0):
        raise ValueError(f"`{where}` must lie in [0, 1), got {v}")


def _check_nonneg_int(value, where):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"`{where}` must be a non-negative int, got {value!r}")


def _check_oracles(upper_fn, lower_fn, name):
    for fn, arg in ((upper_fn, "upper_fn"), (lower_fn, "lower_fn")):
        if not callable(fn):
            raise TypeError(f"`{name}({arg}=...)` must be callable (x, y, batch) -> scalar, "
                            f"got {type(fn)}")


def _check_sampler(sampler, name):
    if sampler is not None and not callable(sampler):
        raise TypeError(f"`{name}(sampler=...)` must be None or callable (key, *args) -> batch, "
                        f"got {type(sampler)}")


# --------------------------------------------------------------------------- BO-REP


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


def epoch_sgd(lower_fn: Oracle, x, y, lower_lr, first_epoch: int, num_epochs: int, draw):
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
        lr = lower_lr / 2**k

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


@cached_factory
def bo_rep(
    upper_fn: Oracle,
    lower_fn: Oracle,
    *,
    learning_rate,
    momentum,
    lower_lr,
    z_lr,
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
      lower_lr: lower SGD step :math:`\gamma` (also the first refinement epoch's step).
      z_lr: z step :math:`\nu`.
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
      >>> solver = bo_rep(f, g, learning_rate=0.05, momentum=0.5, lower_lr=0.5, z_lr=0.5,
      ...                 period=2, lower_steps=5)
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
    _check_rate(lower_lr, f"{name}(lower_lr=...)")
    _check_rate(z_lr, f"{name}(z_lr=...)")
    _checks.check_positive_int(period, f"{name}(period=...)")
    _check_nonneg_int(lower_steps, f"{name}(lower_steps=...)")
    _check_nonneg_int(refine_steps, f"{name}(refine_steps=...)")
    _checks.check_positive_int(refine_epochs, f"{name}(refine_epochs=...)")
    if z_radius is not None:
        _checks.check_positive(z_radius, f"{name}(z_radius=...)")
    _check_sampler(sampler, name)
    refine_total = refine_steps * (2**refine_epochs - 1)

    rates = (learning_rate, lower_lr, z_lr)  # constants or schedules of the step count

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
        learning_rate, lower_lr, z_lr = _rates_at(rates, state.count)
        data, key = _split(args)
        x, y = _pair(params)
        t = state.count

        def refine(yy):
            draw = _batch_fn(sampler, data, _stream(key, _REFINE))
            return epoch_sgd(lower_fn, x, yy, lower_lr, refine_steps, refine_epochs, draw)

        def periodic(yy):
            draw = _batch_fn(sampler, data, _stream(key, _LOWER))
            return lower_sgd(lower_fn, x, yy, lower_lr, lower_steps, draw)

        if refine_total:
            y = jax.lax.cond(t == 0, refine, lambda yy: yy, y)
        due = t % period == 0
        y = jax.lax.cond(due, periodic, lambda yy: yy, y)
        lower_calls = state.lower_calls + jnp.where(due, lower_steps, 0).astype(jnp.int32)
        lower_calls = lower_calls + jnp.where(t == 0, refine_total, 0).astype(jnp.int32)

        b1 = _batch_fn(sampler, data, _stream(key, _ZSTEP))(0)
        z = _sub(state.z, _scale(z_lr, _sub(hvp_yy(lower_fn, x, y, state.z, b1),
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


# --------------------------------------------------------------------------- SOBA / MA-SOBA


class SOBAState(NamedTuple):
    """State of :func:`soba` and :func:`ma_soba` (``momentum`` is zeros for SOBA)."""

    count: jax.Array
    z: Any
    momentum: Any
    oracle_calls: jax.Array
    hypergrad_norm: jax.Array


def _soba_family(upper_fn, lower_fn, learning_rate, lower_lr, z_lr, momentum, sampler, name,
                 use_momentum):
    _check_oracles(upper_fn, lower_fn, name)
    _check_rate(learning_rate, f"{name}(learning_rate=...)")
    _check_rate(lower_lr, f"{name}(lower_lr=...)")
    _check_rate(z_lr, f"{name}(z_lr=...)")
    if use_momentum:
        _check_momentum(momentum, f"{name}(momentum=...)")
    _check_sampler(sampler, name)

    rates = (learning_rate, lower_lr, z_lr)  # constants or schedules of the step count

    def init(params, *args):
        x, y = _pair(params)
        return SOBAState(jnp.zeros((), jnp.int32), _zeros_like(y), _zeros_like(x),
                         jnp.zeros((), jnp.int32), jnp.zeros((), _dtype(x)))

    def update(params, state, *args):
        learning_rate, lower_lr, z_lr = _rates_at(rates, state.count)
        data, key = _split(args)
        x, y = _pair(params)
        b = _batch_fn(sampler, data, _stream(key, _ZSTEP))(0)
        # All directions at (x_t, y_t, z_t) (Dagréou et al. 2022, Algorithm 1).
        d_y = grad_y(lower_fn, x, y, b)
        d_z = _sub(hvp_yy(lower_fn, x, y, state.z, b), grad_y(upper_fn, x, y, b))
        h = hypergradient_estimate(upper_fn, lower_fn, x, y, state.z, b)
        y_new = _axpy(-lower_lr, d_y, y)
        z_new = _axpy(-z_lr, d_z, state.z)
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


@cached_factory
def soba(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, lower_lr, z_lr=None,
         sampler=None) -> Solver:
    r"""SOBA: single-loop SGD on (y, z, x) with all directions at the current point.

    .. math::
        y_{t+1} = y_t - \rho \nabla_y G, \quad
        z_{t+1} = z_t - \nu(\nabla^2_{yy} G\, z_t - \nabla_y F), \quad
        x_{t+1} = x_t - \alpha(\nabla_x F - \nabla^2_{xy} G\, z_t)

    all evaluated at :math:`(x_t, y_t)` on one minibatch.

    Args:
      learning_rate: :math:`\alpha`; lower_lr: :math:`\rho`; z_lr: :math:`\nu` (default
        :math:`\rho`); sampler: as in :func:`bo_rep`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - 1.0) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2)
      >>> (x, y), _, _ = run(soba(f, g, learning_rate=0.2, lower_lr=0.5),
      ...                    (jnp.zeros(2), jnp.zeros(2)), 100, key=jax.random.key(0))
      >>> bool(jnp.allclose(x, 1.0, atol=1e-3))
      True

    References:
      M. Dagréou, P. Ablin, S. Vaiter, T. Moreau. A framework for bilevel optimization that
      enables stochastic and global variance reduction algorithms. NeurIPS 2022, Algorithm 1.
    """
    return _soba_family(upper_fn, lower_fn, learning_rate, lower_lr,
                        lower_lr if z_lr is None else z_lr, 0.0, sampler, "soba", False)


@cached_factory
def ma_soba(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, lower_lr, momentum,
            z_lr=None, sampler=None) -> Solver:
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
      >>> (x, y), _, _ = run(ma_soba(f, g, learning_rate=0.1, lower_lr=0.5, momentum=0.5),
      ...                    (jnp.zeros(2), jnp.zeros(2)), 300, key=jax.random.key(0))
      >>> bool(jnp.allclose(x, 1.0, atol=1e-3))
      True

    References:
      X. Chen, T. Xu, Y. Zhang. Optimal algorithms for stochastic bilevel optimization under
      relaxed smoothness conditions. arXiv:2306.12067 (2023), MA-SOBA.
    """
    return _soba_family(upper_fn, lower_fn, learning_rate, lower_lr,
                        lower_lr if z_lr is None else z_lr, momentum, sampler, "ma_soba", True)


# --------------------------------------------------------------------------- StocBiO


class StocBiOState(NamedTuple):
    """State of :func:`stocbio`."""

    count: jax.Array
    lower_calls: jax.Array
    oracle_calls: jax.Array
    hypergrad_norm: jax.Array


@cached_factory
def stocbio(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, lower_lr, inner_steps: int,
            neumann_lr, neumann_steps: int, sampler=None) -> Solver:
    r"""StocBiO: D warm-started SGD steps on y, then a Neumann-series hypergradient.

    .. math::
        y_t &= \mathrm{SGD}^D(g(x_t, \cdot); y_{t-1}), \qquad
        v_t = \eta_N \sum_{q=0}^{Q} \prod_{j=1}^{q} (I - \eta_N \nabla^2_{yy}G_j)\,
            \nabla_y F(x_t, y_t),\\
        x_{t+1} &= x_t - \alpha(\nabla_x F - \nabla^2_{xy} G\, v_t)

    with an independent minibatch per Hessian factor.

    Args:
      learning_rate: :math:`\alpha`; lower_lr: :math:`\beta`; inner_steps: :math:`D \ge 1`;
      neumann_lr: :math:`\eta_N < 1/\lambda_{\max}`; neumann_steps: :math:`Q \ge 0`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - 1.0) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2)
      >>> solver = stocbio(f, g, learning_rate=0.5, lower_lr=0.5, inner_steps=10,
      ...                  neumann_lr=0.5, neumann_steps=20)
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
    _check_rate(lower_lr, f"{name}(lower_lr=...)")
    _checks.check_positive_int(inner_steps, f"{name}(inner_steps=...)")
    _check_rate(neumann_lr, f"{name}(neumann_lr=...)")
    _check_nonneg_int(neumann_steps, f"{name}(neumann_steps=...)")
    _check_sampler(sampler, name)

    rates = (learning_rate, lower_lr)  # constants or schedules of the step count

    def init(params, *args):
        x, _ = params
        z = jnp.zeros((), jnp.int32)
        return StocBiOState(z, z, z, jnp.zeros((), _dtype(x)))

    def update(params, state, *args):
        learning_rate, lower_lr = _rates_at(rates, state.count)
        data, key = _split(args)
        x, y = _pair(params)
        y = lower_sgd(lower_fn, x, y, lower_lr, inner_steps,
                      _batch_fn(sampler, data, _stream(key, _LOWER)))
        b = _batch_fn(sampler, data, _stream(key, _HYPER))(0)
        v = neumann_inverse(lower_fn, x, y, grad_y(upper_fn, x, y, b), neumann_lr,
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


@cached_factory
def ttsa(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, lower_lr, neumann_lr,
         neumann_max: int, upper_decay=0.6, lower_decay=0.4, sampler=None) -> Solver:
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
      >>> solver = ttsa(f, g, learning_rate=0.5, lower_lr=0.9, neumann_lr=0.5, neumann_max=4)
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
    _check_rate(lower_lr, f"{name}(lower_lr=...)")
    _check_rate(neumann_lr, f"{name}(neumann_lr=...)")
    _checks.check_positive_int(neumann_max, f"{name}(neumann_max=...)")
    _checks.check_nonnegative(upper_decay, f"{name}(upper_decay=...)")
    _checks.check_nonnegative(lower_decay, f"{name}(lower_decay=...)")
    _check_sampler(sampler, name)

    rates = (learning_rate, lower_lr)  # constants or schedules of the step count

    def init(params, *args):
        x, _ = params
        return TTSAState(jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32),
                         jnp.zeros((), _dtype(x)))

    def update(params, state, *args):
        learning_rate, lower_lr = _rates_at(rates, state.count)
        data, key = _split(args)
        x, y = _pair(params)
        k = (state.count + 1).astype(_dtype(x))
        b0 = _batch_fn(sampler, data, _stream(key, _LOWER))(0)
        y = _axpy(-lower_lr * k ** (-lower_decay), grad_y(lower_fn, x, y, b0), y)
        b = _batch_fn(sampler, data, _stream(key, _HYPER))(0)
        p = jax.random.randint(_stream(key, _TRUNC), (), 0, neumann_max)
        draw = _batch_fn(sampler, data, _stream(key, _NEUMANN))

        def body(j, v):
            stepped = _axpy(-neumann_lr, hvp_yy(lower_fn, x, y, v, draw(j)), v)
            return jax.tree.map(lambda a, c: jnp.where(j < p, a, c), stepped, v)

        v = jax.lax.fori_loop(0, neumann_max, body, grad_y(upper_fn, x, y, b))
        v = _scale(neumann_max * neumann_lr, v)
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


@cached_factory
def saba(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, lower_lr, block: Callable,
         num_blocks: int, z_lr=None) -> Solver:
    r"""SABA: SOBA with SAGA variance reduction on all three directions (finite sum).

    The data are ``num_blocks`` fixed minibatches ``block(i, *args)``. Each step draws one
    block :math:`i` uniformly and replaces each SOBA direction :math:`D^i` by
    :math:`D^i(\text{now}) - M_i + \frac1n\sum_j M_j` before storing :math:`M_i \leftarrow
    D^i(\text{now})`. Memories start at the initial point (a full pass in ``init``).

    Args:
      learning_rate: :math:`\alpha`; lower_lr: :math:`\rho`; z_lr: :math:`\nu` (default
        :math:`\rho`); block: ``block(i, *args) -> batch``; num_blocks: :math:`n`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> c = jnp.array([0.5, 1.0, 1.5])
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - b) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2)
      >>> solver = saba(f, g, learning_rate=0.2, lower_lr=0.5, block=lambda i, c: c[i],
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
    _check_rate(lower_lr, f"{name}(lower_lr=...)")
    z_lr = lower_lr if z_lr is None else z_lr
    _check_rate(z_lr, f"{name}(z_lr=...)")
    if not callable(block):
        raise TypeError(f"`{name}(block=...)` must be callable (i, *args) -> batch, "
                        f"got {type(block)}")
    _checks.check_positive_int(num_blocks, f"{name}(num_blocks=...)")

    def directions(x, y, z, b):
        d_y = grad_y(lower_fn, x, y, b)
        d_z = _sub(hvp_yy(lower_fn, x, y, z, b), grad_y(upper_fn, x, y, b))
        d_x = hypergradient_estimate(upper_fn, lower_fn, x, y, z, b)
        return d_y, d_z, d_x

    rates = (learning_rate, lower_lr, z_lr)  # constants or schedules of the step count

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
        learning_rate, lower_lr, z_lr = _rates_at(rates, state.count)
        data, key = _split(args)
        x, y = _pair(params)
        i = jax.random.randint(key, (), 0, num_blocks)
        d_y, d_z, d_x = directions(x, y, state.z, block(i, *data))
        e_y, m_y = saga(d_y, state.mem_dy, i)
        e_z, m_z = saga(d_z, state.mem_dz, i)
        e_x, m_x = saga(d_x, state.mem_dx, i)
        y_new = _axpy(-lower_lr, e_y, y)
        z_new = _axpy(-z_lr, e_z, state.z)
        x_new = _axpy(-learning_rate, e_x, x)
        new = SABAState(state.count + 1, z_new, m_y, m_z, m_x, state.oracle_calls + 5,
                        tree_norm(e_x).astype(state.hypergrad_norm.dtype))
        return (x_new, y_new), new

    return Solver(init, update)


# --------------------------------------------------------------------------- SUSTAIN


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


@cached_factory
def sustain(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, lower_lr, correction,
            neumann_lr, neumann_steps: int, decay=1.0 / 3.0, sampler=None) -> Solver:
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
      learning_rate: :math:`\alpha`; lower_lr: :math:`\beta`; correction: momentum weight
        :math:`\eta \in (0, 1]`; neumann_lr: :math:`\eta_N`; neumann_steps: :math:`Q \ge 0`;
      decay: :math:`\delta \ge 0`; sampler: as in :func:`bo_rep`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - 1.0) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2)
      >>> solver = sustain(f, g, learning_rate=0.3, lower_lr=0.5, correction=0.5,
      ...                  neumann_lr=0.5, neumann_steps=20, decay=0.0)
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
    _check_rate(lower_lr, f"{name}(lower_lr=...)")
    v = _checks._scalar(correction)
    if v is not None and not (0.0 < v <= 1.0):
        raise ValueError(f"`{name}(correction=...)` must lie in (0, 1], got {v}")
    _check_rate(neumann_lr, f"{name}(neumann_lr=...)")
    _check_nonneg_int(neumann_steps, f"{name}(neumann_steps=...)")
    _checks.check_nonnegative(decay, f"{name}(decay=...)")
    _check_sampler(sampler, name)

    rates = (learning_rate, lower_lr)  # constants or schedules of the step count

    def init(params, *args):
        x, y = _pair(params)
        return SUSTAINState(jnp.zeros((), jnp.int32), _zeros_like(y), _zeros_like(x), x, y,
                            jnp.zeros((), jnp.int32), jnp.zeros((), _dtype(x)))

    def update(params, state, *args):
        learning_rate, lower_lr = _rates_at(rates, state.count)
        data, key = _split(args)
        x, y = _pair(params)
        t = state.count.astype(_dtype(x))
        b = _batch_fn(sampler, data, _stream(key, _HYPER))(0)
        draw = _batch_fn(sampler, data, _stream(key, _NEUMANN))

        def directions(xx, yy):
            return (grad_y(lower_fn, xx, yy, b),
                    _neumann_hypergradient(upper_fn, lower_fn, xx, yy, b, neumann_lr,
                                           neumann_steps, draw))

        g_now, h_now = directions(x, y)
        g_old, h_old = directions(state.prev_x, state.prev_y)
        eta = jnp.where(state.count == 0, 1.0, jnp.minimum(1.0, _decayed(correction, t,
                                                                          2 * decay)))
        keep = (1.0 - eta).astype(_dtype(x))
        d_y = _add(g_now, _scale(keep, _sub(state.d_y, g_old)))
        d_x = _add(h_now, _scale(keep, _sub(state.d_x, h_old)))
        x_new = _axpy(-_decayed(learning_rate, t, decay), d_x, x)
        y_new = _axpy(-_decayed(lower_lr, t, decay), d_y, y)
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


@cached_factory
def vrbo(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, lower_lr, inner_steps: int,
         period: int, neumann_lr, neumann_steps: int, checkpoint_batches: int = 1,
         sampler=None) -> Solver:
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
      learning_rate: :math:`\alpha`; lower_lr: :math:`\beta`; inner_steps: :math:`m \ge 1`;
      period: :math:`q \ge 1`; neumann_lr: :math:`\eta_N`; neumann_steps: :math:`Q \ge 0`;
      checkpoint_batches: minibatches averaged at a checkpoint (:math:`|\mathcal S_1|` in
        units of :math:`|\mathcal S_2|`); sampler: as in :func:`bo_rep`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import run
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - 1.0) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - x) ** 2)
      >>> solver = vrbo(f, g, learning_rate=0.3, lower_lr=0.5, inner_steps=3, period=4,
      ...               neumann_lr=0.5, neumann_steps=20)
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
    _check_rate(lower_lr, f"{name}(lower_lr=...)")
    _checks.check_positive_int(inner_steps, f"{name}(inner_steps=...)")
    _checks.check_positive_int(period, f"{name}(period=...)")
    _check_rate(neumann_lr, f"{name}(neumann_lr=...)")
    _check_nonneg_int(neumann_steps, f"{name}(neumann_steps=...)")
    _checks.check_positive_int(checkpoint_batches, f"{name}(checkpoint_batches=...)")
    _check_sampler(sampler, name)
    per_point = neumann_steps + 3  # ∇_y G, ∇F (x and y parts), Q HVPs, one cross term

    def estimates(data, x, y, key):
        b = _batch_fn(sampler, data, key)(0)
        draw = _batch_fn(sampler, data, _stream(key, _NEUMANN))
        return (grad_y(lower_fn, x, y, b),
                _neumann_hypergradient(upper_fn, lower_fn, x, y, b, neumann_lr, neumann_steps,
                                       draw))

    rates = (learning_rate, lower_lr)  # constants or schedules of the step count

    def init(params, *args):
        x, y = _pair(params)
        z = jnp.zeros((), jnp.int32)
        return VRBOState(z, _zeros_like(y), _zeros_like(x), z, z, jnp.zeros((), _dtype(x)))

    def update(params, state, *args):
        learning_rate, lower_lr = _rates_at(rates, state.count)
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
            y_next = _axpy(-lower_lr, u, yy)
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


# --------------------------------------------------------------------------- ANIL


class ANILState(NamedTuple):
    """State of :func:`anil`."""

    count: jax.Array
    oracle_calls: jax.Array
    hypergrad_norm: jax.Array


@cached_factory
def anil(upper_fn: Oracle, lower_fn: Oracle, *, learning_rate, inner_lr, inner_steps: int,
         learn_init: bool = False, sampler=None) -> Solver:
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
      >>> solver = anil(f, g, learning_rate=1.0, inner_lr=0.5, inner_steps=10)
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
    _check_rate(inner_lr, f"{name}(inner_lr=...)")
    _checks.check_positive_int(inner_steps, f"{name}(inner_steps=...)")
    _check_sampler(sampler, name)

    rates = (learning_rate, inner_lr)  # constants or schedules of the step count

    def init(params, *args):
        x, _ = params
        return ANILState(jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32),
                         jnp.zeros((), _dtype(x)))

    def update(params, state, *args):
        learning_rate, inner_lr = _rates_at(rates, state.count)
        data, key = _split(args)
        x, y0 = params
        b = _batch_fn(sampler, data, _stream(key, _HYPER))(0)

        def meta_loss(xx, yy):
            yk = lower_sgd(lower_fn, xx, yy, inner_lr, inner_steps, lambda j: b)
            return upper_fn(xx, yk, b)

        gx, gy = jax.grad(meta_loss, argnums=(0, 1))(x, y0)
        x = _axpy(-learning_rate, gx, x)
        if learn_init:
            y0 = _axpy(-learning_rate, gy, y0)
        new = ANILState(state.count + 1, state.oracle_calls + 2 * inner_steps + 1,
                        tree_norm(gx).astype(state.hypergrad_norm.dtype))
        return (x, y0), new

    return Solver(init, update)


# --------------------------------------------------------------------------- references


def _dense_blocks(upper_fn, lower_fn, x, y, batch):
    """Flattened ∇_x f, ∇_y f, H_yy and J = ∂(∇_y g)/∂x (shape d_y × d_x)."""
    x_flat, unravel_x = ravel_pytree(x)
    y_flat, unravel_y = ravel_pytree(y)

    def f(xf, yf):
        return upper_fn(unravel_x(xf), unravel_y(yf), batch)

    def gy(xf, yf):
        return ravel_pytree(jax.grad(lower_fn, argnums=1)(unravel_x(xf), unravel_y(yf),
                                                          batch))[0]

    fx, fy = jax.grad(f, argnums=(0, 1))(x_flat, y_flat)
    h_yy = jax.jacfwd(gy, argnums=1)(x_flat, y_flat)
    j_yx = jax.jacfwd(gy, argnums=0)(x_flat, y_flat)
    return fx, fy, h_yy, j_yx, unravel_x


def exact_hypergradient(upper_fn: Oracle, lower_fn: Oracle, x, y_star, batch=None):
    r"""The implicit hypergradient :math:`\nabla_x f - \nabla^2_{xy}g\,[\nabla^2_{yy}g]^{-1}
    \nabla_y f` at :math:`(x, y^*(x))`, by dense Hessians and ``jnp.linalg.solve``.

    For tests and small problems (the Hessian is materialized). Use float64 for
    reference-quality values. ``y_star`` must be the lower-level solution at ``x``.

    Example:
      >>> f = lambda x, y, b: 0.5 * jnp.sum((y - 1.0) ** 2)
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - 2.0 * x) ** 2)   # y* = 2x, Φ = ½‖2x − 1‖²
      >>> exact_hypergradient(f, g, jnp.array([1.0]), jnp.array([2.0])).tolist()
      [2.0]
    """
    fx, fy, h_yy, j_yx, unravel_x = _dense_blocks(upper_fn, lower_fn, x, y_star, batch)
    z = jnp.linalg.solve(h_yy, fy)
    return unravel_x(fx - j_yx.T @ z)


def implicit_argmin(solve: Callable[[Any, Any], Any], lower_fn: Oracle):
    r"""Wrap a lower-level solver ``solve(x, batch) -> y*(x)`` with an implicit-function VJP.

    The returned ``y_star(x, batch)`` calls ``solve`` forward; its VJP is
    :math:`\bar x = -(\partial_x \nabla_y g)^\top [\nabla^2_{yy} g]^{-1} \bar y` (dense solve),
    so ``jax.grad(lambda x: f(x, y_star(x, b), b))`` is the hypergradient, whatever ``solve``
    does internally (it is never differentiated).

    Example:
      >>> g = lambda x, y, b: 0.5 * jnp.sum((y - 2.0 * x) ** 2)
      >>> y_star = implicit_argmin(lambda x, b: 2.0 * x, g)
      >>> jax.grad(lambda x: jnp.sum(y_star(x, None) ** 2))(jnp.array([1.0])).tolist()
      [8.0]
    """

    @jax.custom_vjp
    def y_star(x, batch):
        return solve(x, batch)

    def fwd(x, batch):
        y = solve(x, batch)
        return y, (x, y, batch)

    def bwd(res, y_bar):
        x, y, batch = res
        zero_f = lambda xx, yy, bb: jnp.zeros((), _dtype(yy))  # noqa: E731
        _, _, h_yy, j_yx, unravel_x = _dense_blocks(zero_f, lower_fn, x, y, batch)
        v = jnp.linalg.solve(h_yy.T, ravel_pytree(y_bar)[0])
        batch_bar = jax.tree.map(jnp.zeros_like, batch)
        return unravel_x(-j_yx.T @ v), batch_bar

    y_star.defvjp(fwd, bwd)
    return y_star

