"""Feasible sets X of constrained problems: the Euclidean ball and the box, with projections, and
the ball-constrained quadratic program :func:`ball_qp` (used by projections in a metric and by
best-fixed-point oracles). Also importable from :mod:`jaxrank.optim.omd`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrank import _checks
from jaxrank._numerics import safe_norm

__all__ = [
    "Ball",
    "Box",
    "ball",
    "box",
    "ball_qp",
]

_BISECTION_STEPS = 100  # halvings of the multiplier bracket in ball_qp (far below float64 ulp)


class Ball(NamedTuple):
    """The Euclidean ball :math:`X = \\{x : \\|x\\|_2 \\le R\\}` (diameter :math:`D = 2R`)."""

    radius: Any

    @property
    def diameter(self) -> Any:
        return 2 * self.radius

    def project(self, x: jax.Array) -> jax.Array:
        r"""Euclidean projection :math:`\Pi_X(x) = x \min(1, R/\|x\|)` (finite at x = 0).

        Not ``optax.projections.projection_l2_ball``: optax divides by
        :math:`\sqrt{\max(\sum x_j^2, R^2)}`, whose squares overflow (float64 entries of 1e200,
        float32 entries of 1e20 give ``inf`` and a projection of 0); :func:`safe_norm` scales
        first, so the projection is exact at every scale (``tests/test_numerics.py``).
        """
        norm = safe_norm(x)
        return x * jnp.minimum(1, self.radius / jnp.where(norm > 0, norm, 1)).astype(x.dtype)

    def project_metric(self, y: jax.Array, metric: jax.Array) -> jax.Array:
        r""":math:`\arg\min_{\|x\| \le R} \|x - y\|_U^2`, U positive definite (:func:`ball_qp`)."""
        return ball_qp(metric, metric @ y, self.radius)


class Box(NamedTuple):
    """The box :math:`X = \\{x : l \\le x \\le u\\}` (diameter :math:`\\|u - l\\|_2`)."""

    lower: Any
    upper: Any

    @property
    def diameter(self) -> Any:
        """:math:`\\|u - l\\|_2` over the bounds' own entries: the diameter when the bounds have
        the params' shape. Scalar bounds broadcast over d coordinates, which the box does not
        know: multiply by :math:`\\sqrt d` (``Environment.diameter`` does)."""
        return jnp.sqrt(jnp.sum(jnp.square(jnp.asarray(self.upper) - jnp.asarray(self.lower))))

    def project(self, x: jax.Array) -> jax.Array:
        """Coordinate-wise clipping (the Euclidean projection onto a box):
        ``optax.projections.projection_box``, in ``x``'s dtype."""
        return optax.projections.projection_box(x, self.lower, self.upper).astype(x.dtype)


def ball(radius: Any) -> Ball:
    """The ball of radius ``radius`` (R > 0) centred at 0.

    Example:
      >>> np.round(np.asarray(ball(1.0).project(jnp.array([3.0, 4.0])), float), 6).tolist()
      [0.6, 0.8]
    """
    _checks.check_positive(radius, "ball(radius=...)")
    return Ball(radius)


def box(lower: Any, upper: Any) -> Box:
    """The box [lower, upper] (scalars or arrays broadcasting to the params), lower < upper.

    Example:
      >>> box(-1.0, 1.0).project(jnp.array([-3.0, 0.5])).tolist()
      [-1.0, 0.5]
    """
    lo, hi = _checks._concrete_array(lower), _checks._concrete_array(upper)
    if lo is not None and hi is not None and np.any(np.asarray(hi) <= np.asarray(lo)):
        raise ValueError(f"`box(lower=..., upper=...)` must have lower < upper, got {lo}, {hi}")
    return Box(lower, upper)


def ball_qp(hessian: jax.Array, linear: jax.Array, radius: Any) -> jax.Array:
    r"""Minimise :math:`\tfrac12 x^\top H x - h^\top x` over :math:`\|x\|_2 \le R` (H ⪰ 0).

    KKT: :math:`x(\mu) = (H + \mu I)^{-1} h` with the multiplier :math:`\mu \ge 0` the root of
    :math:`\|x(\mu)\| = R` when :math:`\|x(0)\| > R`. H is diagonalised once (``eigh``) and
    :math:`\mu` found by bisection on :math:`[0, \lambda_{\max}\|h\|/(\lambda_{\max} R)]`-style
    bracket :math:`[0, \|h\|/R]`, then the point is rescaled onto the sphere. Used for the
    :math:`\|\cdot\|_U` projection of the online-Newton map (H = U, h = Uy) and for the best fixed
    point of least squares in hindsight.

    Example:
      >>> x = ball_qp(jnp.eye(2), jnp.array([3.0, 4.0]), 1.0)  # = the Euclidean projection
      >>> np.round(np.asarray(x, float), 6).tolist()
      [0.6, 0.8]
    """
    lam, q = jnp.linalg.eigh(hessian)
    lam = jnp.maximum(lam, 0)
    z = q.T @ linear
    floor = jnp.finfo(lam.dtype).tiny + 1e-14 * jnp.max(lam)

    def point_norm(mu):
        return safe_norm(z / jnp.maximum(lam + mu, floor))

    hi = safe_norm(z) / radius  # at μ ≥ ‖h‖/R, ‖x(μ)‖ ≤ ‖h‖/μ ≤ R

    def bisect(_, bracket):
        lo_, hi_ = bracket
        mid = 0.5 * (lo_ + hi_)
        outside = point_norm(mid) > radius
        return jnp.where(outside, mid, lo_), jnp.where(outside, hi_, mid)

    _, mu = jax.lax.fori_loop(0, _BISECTION_STEPS, bisect, (jnp.zeros_like(hi), hi))
    mu = jnp.where(point_norm(jnp.zeros_like(hi)) > radius, mu, 0)
    x = q @ (z / jnp.maximum(lam + mu, floor))
    return Ball(radius).project(x)
