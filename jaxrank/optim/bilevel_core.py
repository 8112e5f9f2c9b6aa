"""Bilevel building blocks: tree helpers, stochastic oracles (gradients, Hessian- and
cross-vector products, Neumann series, lower-level SGD), PRNG streams, argument checks, and the
dense references (:func:`exact_hypergradient`, :func:`implicit_argmin`). The solvers live in
:mod:`jaxrank.optim.bilevel_borep`, :mod:`jaxrank.optim.bilevel_soba` and
:mod:`jaxrank.optim.bilevel_vr`; :mod:`jaxrank.optim.bilevel` re-exports everything."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from jaxrank import _checks

Oracle = Callable[[Any, Any, Any], jax.Array]

__all__ = [
    "exact_hypergradient",
    "implicit_argmin",
    "hvp_yy",
    "cross_xy",
    "hypergradient_estimate",
    "neumann_inverse",
    "lower_sgd",
    "Oracle",
]


# --------------------------------------------------------------------------- tree helpers
# Sums, differences, inner products and zeros are optax's tree helpers. ``_scale`` and ``_axpy``
# stay ours: they cast each result back to the leaf's dtype, where ``optax.tree.scale`` and
# ``optax.tree.add_scale`` promote a float32 leaf times a float64 (e.g. traced step-size)
# scalar to float64, which would change the state's dtypes (a scan carry) between steps.

_add = optax.tree.add
_sub = optax.tree.sub
_vdot = optax.tree.vdot
_zeros_like = optax.tree.zeros_like


def _scale(c, a):
    """``c * a`` in ``a``'s dtypes (see above for why not ``optax.tree.scale``)."""
    return jax.tree.map(lambda v: (c * v).astype(v.dtype), a)


def _axpy(c, a, b):
    """``c * a + b``, keeping ``b``'s dtypes (see above for why not ``optax.tree.add_scale``)."""
    return jax.tree.map(lambda u, v: (c * u + v).astype(v.dtype), a, b)


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


@_checks.renamed(lower_lr="learning_rate")
def lower_sgd(lower_fn: Oracle, x, y, learning_rate, num_steps: int,
              draw: Callable[[int], Any]):
    r"""``num_steps`` plain SGD steps :math:`y \leftarrow y - \gamma \nabla_y G(x, y; \zeta_j)`.

    ``draw(j)`` returns the minibatch of inner step ``j`` (a fresh one per step).
    """
    if num_steps == 0:
        return y

    def body(j, yy):
        return _axpy(-learning_rate, grad_y(lower_fn, x, yy, draw(j)), yy)

    return jax.lax.fori_loop(0, num_steps, body, y)


@_checks.renamed(lr="learning_rate")
def neumann_inverse(lower_fn: Oracle, x, y, b, learning_rate, num_terms: int,
                    draw: Callable[[int], Any]):
    r"""Neumann-series estimate :math:`\eta \sum_{q=0}^{Q} \prod_{j \le q} (I - \eta H_j)\, b`.

    With exact Hessians :math:`H_j = H` this is :math:`\eta\sum_{q=0}^{Q}(I-\eta H)^q b`, which
    tends to :math:`H^{-1} b` for :math:`0 < \eta < 1/\lambda_{\max}(H)` with error
    :math:`\|(I-\eta H)^{Q+1} H^{-1} b\|` (StocBiO, Ji et al. 2021, Algorithm 2 / Eq. (4)).
    ``num_terms`` is :math:`Q` (the sum has :math:`Q + 1` terms); ``draw(j)`` the minibatch of
    Hessian factor :math:`j`.
    """

    def body(j, carry):
        p, acc = carry
        p = _axpy(-learning_rate, hvp_yy(lower_fn, x, y, p, draw(j)), p)
        return p, _add(acc, p)

    _, acc = jax.lax.fori_loop(0, num_terms, body, (b, b))
    return _scale(learning_rate, acc)


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

