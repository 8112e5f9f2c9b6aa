r"""Stochastically extended adversarial (SEA) environments with closed-form σ², Σ² and oracles.

The SEA model (Sachs, Hadiji, van Erven, Guzmán 2022; Chen et al. 2023, Sec. 2): at round t
nature picks a distribution :math:`\mathcal D_t`, draws :math:`f_t \sim \mathcal D_t`, and the
learner pays :math:`f_t(x_t)` and sees :math:`\nabla f_t(x_t)`. With
:math:`F_t = \mathbb E_{\mathcal D_t} f_t`,

.. math::
    \sigma_t^2 = \max_{x\in X}\mathbb E\|\nabla f_t(x) - \nabla F_t(x)\|^2, \qquad
    \Sigma_t^2 = \sup_{x\in X}\|\nabla F_t(x) - \nabla F_{t-1}(x)\|^2, \ \nabla F_0 \equiv 0.

Every environment is a pure function of ``(params, key, t)``: :class:`SEAParams` holds the noise
level s, the base centre c and a drift schedule (arrays, so sweeps ``vmap`` over them); round t's
function is drawn with the PRNG key ``fold_in(key, t - 1)`` that :func:`jaxrank.optim.run` hands
to step t − 1 (:func:`play` uses ``xs = rounds``, ``key = key``). X is the ball of radius R.

Drift schedules of :math:`c_t` (``SCHEDULES``):

* ``iid``: :math:`c_t = c`;
* ``rotation``: :math:`c_t = \|c\|(\cos 2\pi t/P, \sin 2\pi t/P, 0, \ldots)`;
* ``switches``: :math:`c_t = (-1)^{\lfloor (t-1)(K+1)/T\rfloor} c` (K switches);
* ``alternation``: :math:`c_t = (-1)^t c`;
* ``corrupted``: :math:`c_t = -c` on C evenly spread rounds (:math:`\lfloor tC/T\rfloor >
  \lfloor (t-1)C/T\rfloor`), else c (adversarially corrupted i.i.d.);
* ``random_order``: the random order model (ROM): the fixed set of T centres of ``alternation``,
  :math:`\{(-1)^t c\}_{t=1}^T`, played in the order of a pseudo-random permutation π of
  :math:`\{0,\ldots,T-1\}` seeded by ``order_seed``, :math:`c_t = (-1)^{\pi(t-1)+1} c`. π is a
  keyed Feistel network with cycle walking, evaluated per round in O(1) memory (no length-T
  array), so Σ² stays a closed form of the realised order. Our reading of the
  random order model, "a fixed set of T vectors in random order" [UNVERIFIED: the paper
  names ROM, not this set].

Environments (noise ξ = s·Rademacher, so :math:`\|\xi\|^2 = ds^2` exactly):

* :func:`quadratic`: :math:`f_t(x) = \tfrac12\|x - c_t - \xi_t\|^2` (λ = L = 1);
* :func:`nonconvex_quadratic`: the same plus :math:`\tfrac\kappa2\epsilon_t\|x\|^2`,
  ε Rademacher: each :math:`f_t` non-convex half of the time (κ > 1), :math:`F_t` convex;
* :func:`linear`: :math:`f_t(x) = \langle c_t + \xi_t, x\rangle` (L = 0);
* :func:`least_squares`: :math:`f_t(x) = \tfrac12(\langle a_t, x\rangle - b_t)^2`, a Rademacher,
  :math:`b_t = \langle a_t, c_t\rangle + s\epsilon_t` (exp-concave on the ball; L = 1);
* :func:`logistic`: :math:`f_t(x) = \log(1 + e^{-b_t\langle a_t, x\rangle})`,
  :math:`a_t = b_t c_t + s\,\mathcal N(0, I)` (σ², Σ² by Monte Carlo,
  :func:`monte_carlo_sea`, :func:`monte_carlo_cumulative`; comparator :func:`best_fixed_newton`);
* :func:`absolute`: :math:`f_t(x) = \|x - c_t - \xi_t\|_1` on the *box* :math:`[-R, R]^d`
  (non-smooth; exact proximal step and comparator: the implicit update's test bed);
* :func:`logistic_pool`: the same loss on rows of a fixed pool (e.g. sklearn digits features,
  :func:`jaxrank.data.load_digits`), the schedule flipping the labels.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrank import _checks
from jaxrank._numerics import binary_logistic, safe_norm
from jaxrank.problems.domains import Ball, Box, ball_qp

__all__ = [
    "SCHEDULES",
    "SEAParams",
    "sea_params",
    "noise_scale",
    "drift",
    "random_order_index",
    "Environment",
    "quadratic",
    "nonconvex_quadratic",
    "linear",
    "least_squares",
    "logistic",
    "logistic_pool",
    "absolute",
    "ENVIRONMENTS",
]

SCHEDULES = ("iid", "rotation", "switches", "alternation", "corrupted", "random_order")


class SEAParams(NamedTuple):
    """Noise and drift of one SEA environment (all arrays, so sweeps can vmap them).

    Attributes:
      noise: s ≥ 0, the per-coordinate noise scale.
      center: c, shape (d,).
      schedule: index into :data:`SCHEDULES` (int32).
      period: P of ``rotation``.
      switches: K of ``switches``.
      corruption: C of ``corrupted``.
      horizon: T (used by ``switches``, ``corrupted`` and ``random_order``).
      order_seed: seed of the permutation of ``random_order`` (uint32).
      noisy_rounds: B; the noise s acts on rounds t ≤ B only (a burst of B noisy rounds at
        the start of a quiet run: σ²₁:T = B·σ²_max), −1 (default)
        on every round. See :func:`noise_scale`.
    """

    noise: Any
    center: Any
    schedule: Any
    period: Any
    switches: Any
    corruption: Any
    horizon: Any
    order_seed: Any = 0
    noisy_rounds: Any = -1


def noise_scale(params: SEAParams, t: Any) -> jax.Array:
    r"""The noise scale :math:`s_t` of round t: s on rounds t ≤ B = ``noisy_rounds`` (every
    round when B < 0), else 0.

    Example:
      >>> p = sea_params(jnp.ones(2), horizon=10, noise=0.5, noisy_rounds=2)
      >>> [float(noise_scale(p, t)) for t in (1, 2, 3)]
      [0.5, 0.5, 0.0]
    """
    on = (params.noisy_rounds < 0) | (jnp.asarray(t) <= params.noisy_rounds)
    return jnp.where(on, params.noise, jnp.zeros_like(params.noise))


def sea_params(
    center: Any,
    *,
    horizon: int,
    noise: Any = 0.0,
    schedule: str = "iid",
    period: Any = 100.0,
    switches: Any = 1,
    corruption: Any = 0,
    order_seed: int = 0,
    noisy_rounds: int = -1,
) -> SEAParams:
    """Build :class:`SEAParams` with eager checks.

    Example:
      >>> p = sea_params(jnp.ones(2), horizon=10, noise=0.1, schedule="alternation")
      >>> drift(p, 1).tolist(), drift(p, 2).tolist()
      ([-1.0, -1.0], [1.0, 1.0])
    """
    _checks.check_positive_int(horizon, "sea_params(horizon=...)")
    _checks.check_nonnegative(noise, "sea_params(noise=...)")
    _checks.check_positive(period, "sea_params(period=...)")
    _checks.check_nonnegative(switches, "sea_params(switches=...)")
    _checks.check_nonnegative(corruption, "sea_params(corruption=...)")
    _checks.check_nonnegative(order_seed, "sea_params(order_seed=...)")
    if isinstance(noisy_rounds, bool) or not isinstance(noisy_rounds, (int, np.integer)) \
            or noisy_rounds < -1:
        raise ValueError(f"`sea_params(noisy_rounds=...)` must be an int ≥ −1 (−1: every round), "
                         f"got {noisy_rounds!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"`sea_params(schedule=...)` must be one of {SCHEDULES}, got {schedule!r}")
    c = jnp.asarray(center)
    _checks.check_rank(c, 1, "sea_params(center=...)")
    _checks.check_floating(c, "sea_params(center=...)")
    if schedule == "rotation" and c.shape[0] < 2:
        raise ValueError("`sea_params(schedule='rotation')` needs dimension ≥ 2, got 1")
    dt = c.dtype
    return SEAParams(
        jnp.asarray(noise, dt), c, jnp.asarray(SCHEDULES.index(schedule), jnp.int32),
        jnp.asarray(period, dt), jnp.asarray(switches, jnp.int32),
        jnp.asarray(corruption, jnp.int32), jnp.asarray(horizon, jnp.int32),
        jnp.asarray(order_seed, jnp.uint32), jnp.asarray(noisy_rounds, jnp.int32))


def drift(params: SEAParams, t: Any) -> jax.Array:
    r""":math:`c_t` of the schedule at round t (1-based; t = 0 gives :math:`c_0` := the formula)."""
    c = params.center
    dt = c.dtype
    t = jnp.asarray(t, jnp.int32)
    tf = t.astype(dt)
    norm_c = safe_norm(c)
    angle = 2 * jnp.pi * tf / params.period
    rot = jnp.zeros_like(c).at[0].set(norm_c * jnp.cos(angle))
    rot = rot.at[1 % c.shape[0]].add(norm_c * jnp.sin(angle))
    horizon = jnp.maximum(params.horizon, 1)
    seg = ((t - 1) * (params.switches + 1)) // horizon
    sw = jnp.where(seg % 2 == 0, 1.0, -1.0).astype(dt) * c
    alt = jnp.where(t % 2 == 0, 1.0, -1.0).astype(dt) * c
    hit = (t * params.corruption) // horizon > ((t - 1) * params.corruption) // horizon
    cor = jnp.where(hit, -1.0, 1.0).astype(dt) * c
    perm = random_order_index(jnp.maximum(t - 1, 0), horizon, params.order_seed)
    rom = jnp.where(perm % 2 == 0, -1.0, 1.0).astype(dt) * c  # (-1)^(π(t-1)+1) c
    branches = jnp.stack([c, rot, sw, alt, cor, rom])
    return branches[params.schedule]


_FEISTEL_ROUNDS = 6


def _mix32(x):
    """The murmur3 32-bit finaliser (a bijective avalanche mix on uint32)."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


# jitted: called op by op (a sweep's validation pass evaluates drift eagerly), the cycle walk's
# while_loop, built from fresh closures, compiled again on every call (4–7 programs per omd_sea
# figure on a rerun); unsigned integer arithmetic only, so inlined or not the bits are the same
@jax.jit
def random_order_index(i: Any, n: Any, seed: Any) -> jax.Array:
    """π(i) of a pseudo-random permutation π of {0, …, n−1} keyed by ``seed``, in O(1) memory.

    A balanced Feistel network on the smallest even-bit domain 2^(2h) ≥ n (a bijection of that
    domain for any round function), restricted to {0, …, n−1} by cycle walking (re-applied until
    the value falls below n, which preserves bijectivity; at most 4 expected applications).
    Works on traced ``i``, ``n`` and ``seed`` (vmap/jit), n ≤ 2^24 (exact float32 log2).

    Example:
      >>> p = random_order_index(jnp.arange(10), 10, 3)
      >>> sorted(p.tolist()) == list(range(10))
      True
    """
    i = jnp.asarray(i).astype(jnp.uint32)
    n = jnp.asarray(n).astype(jnp.uint32)
    seed = jnp.asarray(seed).astype(jnp.uint32)
    bits = jnp.ceil(jnp.log2(jnp.maximum(n, 2).astype(jnp.float32))).astype(jnp.uint32)
    half = (bits + 1) // 2
    mask = (jnp.uint32(1) << half) - jnp.uint32(1)
    key = _mix32(seed * jnp.uint32(0x9E3779B9) + jnp.uint32(0x7F4A7C15))

    def feistel(x):
        left, right = x >> half, x & mask
        for r in range(_FEISTEL_ROUNDS):
            f = _mix32(right ^ _mix32(key + jnp.uint32(r))) & mask
            left, right = right, left ^ f
        return (left << half) | right

    def walk(x):
        return jax.lax.while_loop(lambda y: y >= n, feistel, feistel(x))

    return jnp.vectorize(walk)(i).astype(jnp.int32)


def _rademacher(key, shape, dtype):
    return jax.random.rademacher(key, shape, dtype=jnp.int8).astype(dtype)


class Environment(NamedTuple):
    r"""One SEA environment on a feasible set X (a NamedTuple of pure functions).

    Attributes:
      name, dim, radius: static description (d, R).
      domain: the feasible set X the learners play on: :func:`~jaxrank.optim.omd.ball` ``(R)``
        (every environment but :func:`absolute`, and ``None``, read as that ball) or
        :func:`~jaxrank.optim.omd.box` ``(-R, R)`` with scalar bounds, one interval per
        coordinate. ``feasible_set`` resolves ``None``; ``diameter`` is the Euclidean diameter
        D of X in :math:`\mathbb R^d`.
      sample: ``sample(params, key, t) -> z_t`` (round data).
      loss: ``loss(x, z) -> f_t(x)``.
      expected_grad: ``(x, params, t) -> ∇F_t(x)`` (None: Monte Carlo only).
      sigma2: ``(params, t) -> σ_t²`` closed form (None: Monte Carlo only).
      variation2: ``(params, t) -> Σ_t²`` closed form, with :math:`\nabla F_0 \equiv 0`.
      stats: ``z -> sufficient statistic`` of :math:`f_t` for the comparator (None: none).
      best_fixed: ``(summed stats, n) -> (u, Σ f_t(u))``, the best fixed point in hindsight.
      grad_bound: ``params -> G`` with :math:`\|\nabla f_t(x)\| \le G` on X (A1).
      minimizer: ``(params, t) -> argmin_X F_t`` (dynamic comparator).
      smoothness: L of :math:`F_t`.
      round_loss: ``(x, params, t, key) -> f_t(x)``, the loss revealed at round t.
      round_record: ``(x, state, params, t, key) -> f_t(x_t)``, a ``run`` record.
      prox: ``(v, eta, z) -> argmin_{x∈X} η f(x; z) + ½‖x − v‖²``, the exact proximal step of
        a round's loss on X (None: none in closed form). :func:`absolute` has one.
      round_prox: ``(v, eta, params, t, key)``, ``prox`` of the loss revealed at round t: the
        ``prox`` argument of :func:`jaxrank.optim.omd.implicit_omd` under :func:`play`.
      prefix_best: ``(rounds z_{1:T}, horizons (K,)) -> (points (K, d), values (K,))``, the
        exact best fixed points of the prefixes from the round data, for losses with no
        finite sufficient statistic (None: use ``stats``/``best_fixed``).
    """

    name: str
    dim: int
    radius: float
    sample: Callable[..., Any]
    loss: Callable[..., jax.Array]
    expected_grad: Callable[..., jax.Array] | None
    sigma2: Callable[..., jax.Array] | None
    variation2: Callable[..., jax.Array] | None
    stats: Callable[..., Any] | None
    best_fixed: Callable[..., Any] | None
    grad_bound: Callable[..., jax.Array] | None
    minimizer: Callable[..., jax.Array] | None
    smoothness: float
    round_loss: Callable[..., jax.Array]
    round_record: Callable[..., jax.Array]
    prox: Callable[..., jax.Array] | None = None
    round_prox: Callable[..., jax.Array] | None = None
    prefix_best: Callable[..., Any] | None = None
    domain: Ball | Box | None = None

    @property
    def feasible_set(self) -> Ball | Box:
        """X: ``domain``, or the ball of radius ``radius`` when it is ``None``."""
        return Ball(self.radius) if self.domain is None else self.domain

    @property
    def diameter(self) -> float:
        r"""D = max ‖x − y‖ over X in :math:`\mathbb R^d`: 2R for the ball; for a box, ‖u − l‖
        with its bounds broadcast to d coordinates: (u − l)√d for scalar bounds
        (``Box.diameter`` alone cannot know d)."""
        x = self.feasible_set
        if isinstance(x, Ball):
            return 2 * x.radius
        width = np.asarray(x.upper, float) - np.asarray(x.lower, float)
        if width.ndim == 0:
            return float(width) * float(np.sqrt(self.dim))
        return float(np.sqrt(np.sum(np.square(np.broadcast_to(width, (self.dim,))))))


def _noisy_center(params, key, t):
    """Round data y_t = c_t + s_t ε_t, ε Rademacher (the ``sample`` of quadratic, linear and
    absolute)."""
    c = drift(params, t)
    return c + noise_scale(params, t) * _rademacher(key, c.shape, c.dtype)


def _check_env(dim: Any, radius: Any, where: str) -> None:
    _checks.check_positive_int(dim, f"{where}(dim=...)")
    _checks.check_positive(radius, f"{where}(radius=...)")


def _finish(name, dim, radius, sample, loss, **kw) -> Environment:
    def round_loss(x, params, t, key):
        return loss(x, sample(params, key, t))

    def round_record(x, state, params, t, key):
        return round_loss(x, params, t, key)

    prox = kw.get("prox")
    if prox is not None:
        def round_prox(v, eta, params, t, key):
            return prox(v, eta, sample(params, key, t))

        kw["round_prox"] = round_prox
    kw.setdefault("domain", Ball(radius))
    return Environment(name, dim, radius, sample, loss, round_loss=round_loss,
                       round_record=round_record, **kw)


def _variation(params, t, first):
    """Σ_t² = ‖c_t − c_{t−1}‖² for t ≥ 2 and ``first`` at t = 1 (F_t − F_{t−1} = shift of c)."""
    diff = drift(params, t) - drift(params, jnp.asarray(t) - 1)
    return jnp.where(jnp.asarray(t) <= 1, first, jnp.sum(jnp.square(diff)))


@functools.cache
def quadratic(dim: int, radius: float) -> Environment:
    r"""Quadratic SEA losses :math:`f_t(x) = \tfrac12\|x - c_t - \xi_t\|^2` on the ball.

    Closed forms: :math:`\sigma_t^2 = ds^2`; :math:`\Sigma_1^2 = (R + \|c_1\|)^2`,
    :math:`\Sigma_t^2 = \|c_t - c_{t-1}\|^2`; best fixed point :math:`\Pi_X(\bar y)` with
    :math:`\bar y` the mean of :math:`y_t = c_t + \xi_t`.

    Example:
      >>> env = quadratic(3, 1.0)
      >>> p = sea_params(jnp.zeros(3), horizon=5, noise=0.5)
      >>> float(env.sigma2(p, 1))
      0.75
    """
    _check_env(dim, radius, "quadratic")
    proj = Ball(radius).project

    def loss(x, y):
        return 0.5 * jnp.sum(jnp.square(x - y))

    def best_fixed(stats, n):
        s, q = stats
        u = proj(s / n)
        return u, 0.5 * n * jnp.sum(u * u) - jnp.dot(u, s) + q

    return _finish(
        "quadratic", dim, radius, _noisy_center, loss,
        expected_grad=lambda x, params, t: x - drift(params, t),
        sigma2=lambda params, t: dim * noise_scale(params, t) ** 2,
        variation2=lambda params, t: _variation(
            params, t, (radius + safe_norm(drift(params, 1))) ** 2),
        stats=lambda y: (y, 0.5 * jnp.sum(y * y)),
        best_fixed=best_fixed,
        grad_bound=lambda params: radius + safe_norm(params.center) + params.noise * np.sqrt(dim),
        minimizer=lambda params, t: proj(drift(params, t)),
        smoothness=1.0,
    )


@functools.cache
def nonconvex_quadratic(dim: int, radius: float, curvature: float = 2.0) -> Environment:
    r"""Quadratic SEA losses with a random curvature: individually non-convex, convex in mean.

    .. math::
        f_t(x) = \tfrac12\|x - c_t - \xi_t\|^2 + \tfrac\kappa2\,\epsilon_t\|x\|^2,
        \qquad \epsilon_t = \pm 1 \text{ (Rademacher, independent of } \xi_t)

    :math:`\nabla^2 f_t = (1 + \kappa\epsilon_t) I`: with κ > 1 every round with
    :math:`\epsilon_t = -1` (half of them) is strictly concave, while
    :math:`F_t(x) = \tfrac12\|x - c_t\|^2 + \text{const}` is convex, 1-smooth and
    1-strongly convex (the SEA model asks convexity of :math:`F_t` only). Closed forms:
    :math:`\nabla f_t - \nabla F_t = -\xi_t + \kappa\epsilon_t x`, so
    :math:`\sigma_t^2 = d s_t^2 + \kappa^2R^2`; :math:`\Sigma_t^2` as :func:`quadratic`. Best
    fixed point in hindsight, exact although :math:`\sum_t f_t` may be non-convex: with
    :math:`a = n + \kappa\sum_t\epsilon_t` and :math:`b = \sum_t y_t`,
    :math:`\min_{\|u\|\le R}\tfrac a2\|u\|^2 - \langle b, u\rangle` is at :math:`b/a` if
    a > 0 and :math:`\|b\| \le aR`, else at :math:`Rb/\|b\|` (a ≤ 0: a concave objective,
    minimised on the sphere).

    Example:
      >>> env = nonconvex_quadratic(2, 1.0, 2.0)
      >>> float(env.sigma2(sea_params(jnp.zeros(2), horizon=3), 1))  # κ²R²
      4.0
      >>> u, v = env.best_fixed((jnp.array([0.5, 0.0]), 0.125, -1.0), 1)  # a = 1 − 2 < 0
      >>> np.asarray(u).tolist(), float(v)
      ([1.0, 0.0], -0.875)
    """
    _check_env(dim, radius, "nonconvex_quadratic")
    _checks.check_nonnegative(curvature, "nonconvex_quadratic(curvature=...)")
    proj = Ball(radius).project

    def sample(params, key, t):
        c = drift(params, t)
        ky, ke = jax.random.split(key)
        y = c + noise_scale(params, t) * _rademacher(ky, c.shape, c.dtype)
        return y, _rademacher(ke, (), c.dtype)

    def loss(x, z):
        y, e = z
        return 0.5 * jnp.sum(jnp.square(x - y)) + 0.5 * curvature * e * jnp.sum(jnp.square(x))

    def best_fixed(stats, n):
        b, q, e = stats
        a = n + curvature * e
        norm = safe_norm(b)
        inside = (a > 0) & (norm <= a * radius)
        on_sphere = jnp.where(norm > 0, radius * b / jnp.where(norm > 0, norm, 1),
                              jnp.zeros_like(b).at[0].set(radius))
        u = jnp.where(inside, b / jnp.where(a > 0, a, 1), on_sphere)
        return u, 0.5 * a * jnp.sum(u * u) - jnp.dot(u, b) + q

    return _finish(
        "nonconvex_quadratic", dim, radius, sample, loss,
        expected_grad=lambda x, params, t: x - drift(params, t),
        sigma2=lambda params, t: dim * noise_scale(params, t) ** 2 + (curvature * radius) ** 2,
        variation2=lambda params, t: _variation(
            params, t, (radius + safe_norm(drift(params, 1))) ** 2),
        stats=lambda z: (z[0], 0.5 * jnp.sum(z[0] * z[0]), z[1]),
        best_fixed=best_fixed,
        grad_bound=lambda params: (1 + curvature) * radius + safe_norm(params.center)
        + params.noise * np.sqrt(dim),
        minimizer=lambda params, t: proj(drift(params, t)),
        smoothness=1.0,
    )


@functools.cache
def linear(dim: int, radius: float) -> Environment:
    r"""Linear SEA losses :math:`f_t(x) = \langle c_t + \xi_t, x\rangle` on the ball.

    :math:`\sigma_t^2 = ds^2`, :math:`\Sigma_1^2 = \|c_1\|^2`, :math:`\Sigma_t^2 =
    \|c_t - c_{t-1}\|^2`; best fixed point :math:`-R\,S/\|S\|`, :math:`S = \sum_t y_t`.

    Example:
      >>> env = linear(2, 1.0)
      >>> u, v = env.best_fixed(jnp.array([3.0, 4.0]), 2)
      >>> np.round(np.asarray(u, float), 6).tolist(), float(v)
      ([-0.6, -0.8], -5.0)
    """
    _check_env(dim, radius, "linear")

    def best_fixed(s, n):
        norm = safe_norm(s)
        u = -radius * s / jnp.where(norm > 0, norm, 1)
        return u, -radius * norm

    def minimizer(params, t):
        c = drift(params, t)
        norm = safe_norm(c)
        return -radius * c / jnp.where(norm > 0, norm, 1)

    return _finish(
        "linear", dim, radius, _noisy_center, lambda x, y: jnp.dot(x, y),
        expected_grad=lambda x, params, t: drift(params, t) + 0 * x,
        sigma2=lambda params, t: dim * noise_scale(params, t) ** 2,
        variation2=lambda params, t: _variation(
            params, t, jnp.sum(jnp.square(drift(params, 1)))),
        stats=lambda y: y,
        best_fixed=best_fixed,
        grad_bound=lambda params: safe_norm(params.center) + params.noise * np.sqrt(dim),
        minimizer=minimizer,
        smoothness=0.0,
    )


@functools.cache
def least_squares(dim: int, radius: float) -> Environment:
    r"""Online least squares :math:`f_t(x) = \tfrac12(\langle a_t, x\rangle - b_t)^2` on the ball.

    :math:`a_t` Rademacher, :math:`b_t = \langle a_t, c_t\rangle + s\epsilon_t` (ε Rademacher), so
    :math:`\nabla F_t(x) = x - c_t` and, since :math:`\mathbb E\|(aa^\top - I)v\|^2 = (d-1)\|v\|^2`,
    :math:`\sigma_t^2 = (d-1)(R + \|c_t\|)^2 + ds^2`; :math:`\Sigma_1^2 = (R + \|c_1\|)^2`,
    :math:`\Sigma_t^2 = \|c_t - c_{t-1}\|^2`. Best fixed point: :func:`~jaxrank.optim.omd.ball_qp`
    of :math:`(\sum a a^\top, \sum b a)`. Exp-concave on the ball with
    :math:`\alpha = 1/\max_{x,t}(\langle a_t, x\rangle - b_t)^2`.

    Example:
      >>> env = least_squares(2, 1.0)
      >>> float(env.sigma2(sea_params(jnp.zeros(2), horizon=3), 1))  # (d − 1) R²
      1.0
    """
    _check_env(dim, radius, "least_squares")

    def sample(params, key, t):
        c = drift(params, t)
        ka, kb = jax.random.split(key)
        a = _rademacher(ka, c.shape, c.dtype)
        b = jnp.dot(a, c) + noise_scale(params, t) * _rademacher(kb, (), c.dtype)
        return a, b

    def loss(x, z):
        a, b = z
        return 0.5 * jnp.square(jnp.dot(a, x) - b)

    def best_fixed(stats, n):
        h, v, q = stats
        u = ball_qp(h, v, radius)
        return u, 0.5 * u @ h @ u - jnp.dot(v, u) + q

    def sigma2(params, t):
        return ((dim - 1) * (radius + safe_norm(drift(params, t))) ** 2
                + dim * noise_scale(params, t) ** 2)

    return _finish(
        "least_squares", dim, radius, sample, loss,
        expected_grad=lambda x, params, t: x - drift(params, t),
        sigma2=sigma2,
        variation2=lambda params, t: _variation(
            params, t, (radius + safe_norm(drift(params, 1))) ** 2),
        stats=lambda z: (jnp.outer(z[0], z[0]), z[1] * z[0], 0.5 * z[1] ** 2),
        best_fixed=best_fixed,
        grad_bound=lambda params: dim * (radius + safe_norm(params.center))
        + np.sqrt(dim) * params.noise,
        minimizer=lambda params, t: Ball(radius).project(drift(params, t)),
        smoothness=1.0,
    )


@functools.cache
def logistic(dim: int, radius: float) -> Environment:
    r"""Streaming logistic classification :math:`f_t(x) = \log(1 + e^{-b_t\langle a_t,x\rangle})`.

    :math:`b_t = \pm 1` uniform, :math:`a_t = b_t c_t + s\,g_t`, :math:`g_t \sim \mathcal N(0,I)`
    (class means :math:`\pm c_t` drift by the schedule). Convex and :math:`\tfrac14\mathbb
    E\|a\|^2`-smooth, not strongly convex. No closed forms: σ², Σ² by :func:`monte_carlo_sea`, no
    sufficient statistic for the comparator (use :func:`best_fixed_newton` on the realised
    rounds). Since :math:`-b_t a_t = -c_t - s\,b_t g_t` and :math:`b_t g_t \sim \mathcal N(0, I)`,
    :math:`f_t(x) \overset{d}{=} \log(1 + e^{-\langle c_t + s h_t, x\rangle})`, h standard normal:
    the law of the losses does not depend on the labels.

    Example:
      >>> env = logistic(2, 1.0)
      >>> round(float(env.loss(jnp.zeros(2), (jnp.ones(2), 1.0))), 6)  # log 2
      0.693147
    """
    _check_env(dim, radius, "logistic")

    def sample(params, key, t):
        c = drift(params, t)
        kb, ka = jax.random.split(key)
        b = 2.0 * jax.random.bernoulli(kb).astype(c.dtype) - 1.0
        return b * c + noise_scale(params, t) * jax.random.normal(ka, c.shape, c.dtype), b

    def loss(x, z):
        a, b = z
        return binary_logistic(b * jnp.dot(a, x))

    return _finish(
        "logistic", dim, radius, sample, loss, expected_grad=None, sigma2=None,
        variation2=None, stats=None, best_fixed=None, grad_bound=None,
        minimizer=None, smoothness=0.25,
    )


def logistic_pool(features: Any, labels: Any, radius: float) -> Environment:
    r"""Streaming logistic classification on a fixed pool, e.g. sklearn digits features.

    Round t draws :math:`i_t` uniformly from the n pool rows and reveals
    :math:`f_t(x) = \log(1 + e^{-y_t\langle a_t, x\rangle})` with :math:`a_t = a_{i_t} + s\,g_t`
    (:math:`g_t \sim \mathcal N(0, I)`, s = ``params.noise``) and :math:`y_t = \varsigma_t
    b_{i_t}`, where :math:`\varsigma_t = \operatorname{sign}\langle c_t, c\rangle` (+1 at 0) is
    the schedule's sign (c = ``params.center``): iid keeps the labels, ``switches``,
    ``alternation`` and ``corrupted`` flip them adversarially. Not cached (arrays are not
    hashable): build it once and reuse the object, so jitted callers compile once. σ², Σ² by
    :func:`monte_carlo_sea`, comparator by :func:`best_fixed_newton`. L =
    :math:`\tfrac14\max_i\|a_i\|^2` (s = 0).

    Args:
      features: (n, d) pool :math:`a_i`.
      labels: (n,) in {−1, +1}.
      radius: R of the ball X.

    Example:
      >>> env = logistic_pool(jnp.array([[1.0, 0.0], [0.0, 1.0]]), jnp.array([1.0, -1.0]), 1.0)
      >>> p = sea_params(jnp.array([1.0, 0.0]), horizon=4, schedule="alternation")
      >>> a, y = env.sample(p, jax.random.key(0), 1)  # t = 1: c_1 = −c, labels flipped
      >>> bool(y == -(1.0 if a[0] == 1 else -1.0))
      True
    """
    a = jnp.asarray(features)
    b = jnp.asarray(labels)
    _checks.check_rank(a, 2, "logistic_pool(features=...)")
    _checks.check_floating(a, "logistic_pool(features=...)")
    _checks.check_rank(b, 1, "logistic_pool(labels=...)")
    _checks.check_same_leading_dim(a, b, "logistic_pool(features=...)",
                                   "logistic_pool(labels=...)")
    _checks.check_binary_labels(b, "logistic_pool(labels=...)")
    _checks.check_positive(radius, "logistic_pool(radius=...)")
    n, dim = a.shape
    b = b.astype(a.dtype)

    def sample(params, key, t):
        ki, kg = jax.random.split(key)
        i = jax.random.randint(ki, (), 0, n)
        sign = jnp.where(jnp.dot(drift(params, t), params.center) >= 0, 1.0, -1.0)
        feat = a[i].astype(params.center.dtype)
        noise = noise_scale(params, t) * jax.random.normal(kg, feat.shape, feat.dtype)
        return feat + noise, (sign * b[i]).astype(feat.dtype)

    def loss(x, z):
        feat, y = z
        return binary_logistic(y * jnp.dot(feat, x))

    return _finish(
        "logistic_pool", int(dim), float(radius), sample, loss, expected_grad=None,
        sigma2=None, variation2=None, stats=None, best_fixed=None, grad_bound=None,
        minimizer=None, smoothness=0.25 * float(jnp.max(jnp.sum(a * a, axis=1))),
    )


@jax.custom_jvp
def _l1_distance(x, y):
    return jnp.sum(jnp.abs(x - y))


@_l1_distance.defjvp
def _l1_distance_jvp(primals, tangents):
    # the minimum-norm subgradient, sign(x − y) (0 at a kink); jnp.abs differentiates to 1 at 0,
    # which would make an exactly optimal point look non-stationary to a (sub)gradient hint
    x, y = primals
    dx, dy = tangents
    return _l1_distance(x, y), jnp.sum(jnp.sign(x - y) * (dx - dy))


def _l1_slope(x, center, noise):
    """F'(x) of F(x) = E|x − c − sε| (ε = ±1), per coordinate: ½(sign(x−c−s) + sign(x−c+s))."""
    return 0.5 * (jnp.sign(x - center - noise) + jnp.sign(x - center + noise))


def _staircase_gap2(a, s_a, b, s_b):
    """sup over x of (F'_a(x) − F'_b(x))², per coordinate, for two noise staircases (see
    :func:`absolute`): both are constant between consecutive breakpoints a ± s_a, b ± s_b (and
    equal beyond them), so the sup is attained at the midpoint of a gap; a breakpoint's value is
    the mean of its two sides, so midpoints of empty gaps never exceed the sup."""
    knots = jnp.sort(jnp.stack([a - s_a, a + s_a, b - s_b, b + s_b]), axis=0)
    mids = 0.5 * (knots[1:] + knots[:-1])
    gap = _l1_slope(mids, a[None], s_a) - _l1_slope(mids, b[None], s_b)
    return jnp.max(jnp.square(gap), axis=0)


@functools.cache
def absolute(dim: int, radius: float) -> Environment:
    r"""Non-smooth SEA losses :math:`f_t(x) = \|x - c_t - \xi_t\|_1` on the box
    :math:`X = [-R, R]^d`.

    The implicit-update setting of the JMLR version (convex, non-smooth :math:`f_t`): no
    gradient is Lipschitz (``smoothness`` is ∞), and an explicit (sub)gradient step oscillates
    around the kink even when :math:`f_t` never changes. Unlike the other environments, X is
    the *box* (``domain`` is :func:`~jaxrank.optim.omd.box` ``(-R, R)``; ``diameter``
    :math:`D = 2R\sqrt d`): there the proximal step is exact and separable,
    :math:`\operatorname{prox}(v) = \Pi_X(y + \operatorname{soft}_\eta(v - y))`
    (the prox of a 1-D convex function plus an interval is the clipped unconstrained prox).

    The gradient is the minimum-norm subgradient :math:`\operatorname{sign}(x - y)` (0 at a
    kink). Per coordinate, :math:`F_t'(x) = \tfrac12(\operatorname{sign}(x - c - s) +
    \operatorname{sign}(x - c + s))` (ε Rademacher). Closed forms, assuming every
    :math:`[c_{t,i} - s, c_{t,i} + s]` lies inside :math:`(-R, R)`:

    * :math:`\sigma_t^2 = d` if :math:`s_t > 0`, else 0: on :math:`(c - s, c + s)` the
      deviation :math:`f' - F'` is ±1 for *every* draw, elsewhere 0, so here the JMLR
      version's :math:`\tilde\sigma_t^2 = \mathbb E\sup_x\|\nabla f_t - \nabla F_t\|^2`
      equals :math:`\sigma_t^2`;
    * :math:`\Sigma_1^2 = d` (:math:`\nabla F_0 \equiv 0`, :math:`|F'| = 1` outside the
      intervals); for t ≥ 2, per coordinate, the largest squared gap between the two staircases
      :math:`F_t'`, :math:`F_{t-1}'`: 0 if they coincide, 4 if the intervals are disjoint, else
      1 (Σ̃² = Σ²: the :math:`F_t` are deterministic);
    * best fixed point of a prefix: the coordinate-wise median of :math:`y_{1:n}`, clipped to
      the box (``prefix_best``, exact; there is no finite sufficient statistic).

    Example:
      >>> env = absolute(2, 1.0)
      >>> p = sea_params(jnp.array([0.5, 0.0]), horizon=4, noise=0.1)
      >>> float(env.sigma2(p, 1)), float(env.variation2(p, 1)), float(env.variation2(p, 2))
      (2.0, 2.0, 0.0)
      >>> np.asarray(env.prox(jnp.array([2.0, -0.3]), 0.5, jnp.array([0.5, 0.0]))).tolist()
      [1.0, 0.0]
    """
    _check_env(dim, radius, "absolute")
    lower, upper = -float(radius), float(radius)

    def prox(v, eta, y):
        d = v - y
        soft = jnp.sign(d) * jnp.maximum(jnp.abs(d) - eta, 0)
        return jnp.clip(y + soft, lower, upper)

    def expected_grad(x, params, t):
        return _l1_slope(x, drift(params, t), noise_scale(params, t))

    def variation2(params, t):
        t = jnp.asarray(t)
        gap = _staircase_gap2(drift(params, t), noise_scale(params, t),
                              drift(params, t - 1), noise_scale(params, t - 1))
        return jnp.where(t <= 1, jnp.asarray(dim, gap.dtype), jnp.sum(gap))

    def prefix_best(rounds, horizons):
        y = rounds  # (T, d)
        order = jnp.argsort(y, axis=0)
        ys = jnp.take_along_axis(y, order, axis=0)
        cols = jnp.arange(y.shape[1])
        rows = jnp.arange(y.shape[0])[:, None]

        def at(n):
            # the lower median of y_{1:n} per coordinate: the first position of the sorted
            # column at which (m + 1) of the first n rounds have been passed, m = ⌊(n−1)/2⌋
            passed = jnp.cumsum(order < n, axis=0)
            pos = jnp.argmax(passed > (n - 1) // 2, axis=0)
            u = jnp.clip(ys[pos, cols], lower, upper)
            return u, jnp.sum(jnp.where(rows < n, jnp.abs(u[None, :] - y), 0))

        return jax.lax.map(at, horizons)

    def sigma2(params, t):
        s = noise_scale(params, t)
        return jnp.where(s > 0, jnp.asarray(dim, s.dtype), jnp.zeros_like(s))

    return _finish(
        "absolute", dim, radius, _noisy_center, _l1_distance,
        expected_grad=expected_grad, sigma2=sigma2, variation2=variation2, stats=None,
        best_fixed=None, grad_bound=lambda params: jnp.sqrt(jnp.asarray(dim, params.noise.dtype)),
        minimizer=lambda params, t: jnp.clip(drift(params, t), lower, upper),
        smoothness=float("inf"), prox=prox, prefix_best=prefix_best, domain=Box(lower, upper),
    )


ENVIRONMENTS = {"quadratic": quadratic, "linear": linear, "least_squares": least_squares,
                "logistic": logistic, "nonconvex_quadratic": nonconvex_quadratic,
                "absolute": absolute}
