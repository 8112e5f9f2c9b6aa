r"""Playing learners against SEA environments and measuring regret, σ² and Σ².

:func:`play` runs a learner (a :class:`~jaxrank.optim.Solver` or an optax transformation) for T
rounds of an environment; :func:`prefix_best_fixed`, :func:`regret_curve` and
:func:`best_fixed_newton` give the comparator and the regret, :func:`cumulative_sea`,
:func:`monte_carlo_sea` and :func:`monte_carlo_cumulative` the cumulative σ² and Σ². The
environments themselves (the SEA model, drift schedules, closed forms) live in
:mod:`jaxrank.problems.sea_environments` and are re-exported here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrank import _checks
from jaxrank._numerics import safe_norm
from jaxrank.optim._base import from_optax, run, step_inputs
from jaxrank.problems.domains import Ball, ball_qp
from jaxrank.problems.sea_environments import (  # noqa: F401  (re-exported)
    _FEISTEL_ROUNDS,
    ENVIRONMENTS,
    SCHEDULES,
    Environment,
    SEAParams,
    _check_env,
    _finish,
    _mix32,
    _rademacher,
    _variation,
    absolute,
    drift,
    least_squares,
    linear,
    logistic,
    logistic_pool,
    noise_scale,
    nonconvex_quadratic,
    quadratic,
    random_order_index,
    sea_params,
)

__all__ = [
    "SCHEDULES",
    "SEAParams",
    "sea_params",
    "noise_scale",
    "drift",
    "Environment",
    "quadratic",
    "nonconvex_quadratic",
    "linear",
    "least_squares",
    "logistic",
    "logistic_pool",
    "absolute",
    "ENVIRONMENTS",
    "round_key",
    "sample_rounds",
    "play",
    "prefix_best_fixed",
    "regret_curve",
    "cumulative_sea",
    "monte_carlo_sea",
    "monte_carlo_cumulative",
    "best_fixed_newton",
]

# --------------------------------------------------------------------------- playing


def round_key(key: jax.Array, t: Any) -> jax.Array:
    """The key of round t (1-based): the one :func:`jaxrank.optim.run` passes to step t − 1."""
    return step_inputs(None, key, jnp.asarray(t, jnp.int32) - 1)[0]


def sample_rounds(env: Environment, params: SEAParams, key: jax.Array, num_rounds: int) -> Any:
    """The round data :math:`z_1, \\ldots, z_T` (leading axis T), as :func:`play` sees them."""
    _checks.check_positive_int(num_rounds, "sample_rounds(num_rounds=...)")
    return _sample_rounds(env, params, key, num_rounds)


@functools.partial(jax.jit, static_argnames=("env", "num_rounds"))
def _sample_rounds(env, params, key, num_rounds):
    # one compiled program (an eager vmap dispatches and compiles every primitive separately)
    ts = jnp.arange(1, num_rounds + 1, dtype=jnp.int32)
    return jax.vmap(lambda t: env.sample(params, round_key(key, t), t))(ts)


def play(
    learner: Any,
    env: Environment,
    params: SEAParams,
    x1: jax.Array,
    key: jax.Array,
    num_rounds: int,
    record: Callable[..., Any] | None = None,
) -> tuple[jax.Array, Any, Any]:
    r"""Play ``num_rounds`` SEA rounds: one :func:`jaxrank.optim.run` with ``xs = (1..T)``.

    Args:
      learner: an ``optax.GradientTransformation`` (wrapped by
        :func:`~jaxrank.optim.from_optax` with ``env.round_loss``) or a
        :class:`~jaxrank.optim.Solver` whose ``update(x, state, params, t, key)`` queries
        ``env.round_loss`` itself (e.g. :func:`~jaxrank.optim.omd.implicit_omd`).
      env, params: the environment and its :class:`SEAParams`.
      x1: the first decision :math:`x_1 \in X`.
      key: the environment's randomness (round t uses :func:`round_key`).
      num_rounds: T.
      record: ``record(x, state, params, t, key)``; default ``env.round_record``, so the
        trajectory is :math:`f_t(x_t)` for t = 1..T.

    Returns:
      ``(x_{T+1}, state, trajectory)``.
    """
    from jaxrank.optim._base import Solver

    _checks.check_positive_int(num_rounds, "play(num_rounds=...)")
    solver = learner if isinstance(learner, Solver) else from_optax(learner, env.round_loss)
    rounds = jnp.arange(1, num_rounds + 1, dtype=jnp.int32)
    return run(solver, x1, None, params, xs=rounds, key=key,
               record=env.round_record if record is None else record)


def _chunk_stats(env, params, key, num_rounds, num_chunks):
    if num_rounds % num_chunks:
        raise ValueError(
            f"`num_rounds` ({num_rounds}) must be a multiple of `num_chunks` ({num_chunks})")
    size = num_rounds // num_chunks
    ts = jnp.arange(1, num_rounds + 1, dtype=jnp.int32).reshape(num_chunks, size)

    def chunk(t_row):
        per = jax.vmap(lambda t: env.stats(env.sample(params, round_key(key, t), t)))(t_row)
        return jax.tree.map(lambda v: jnp.sum(v, axis=0), per)

    sums = jax.lax.map(chunk, ts)
    return jax.tree.map(lambda v: jnp.cumsum(v, axis=0), sums), size


def prefix_best_fixed(
    env: Environment, params: SEAParams, key: jax.Array, num_rounds: int, num_chunks: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""Best fixed points in hindsight at the horizons :math:`T_k = kT/K`, k = 1..K.

    Accumulates ``env.stats`` of the rounds chunk by chunk (memory O(T/K · d) per call, not
    O(T d)) and solves ``env.best_fixed`` at each prefix. An environment without a sufficient
    statistic but with ``env.prefix_best`` (e.g. :func:`absolute`, whose comparator is a
    median) gets it from the T rounds drawn by :func:`sample_rounds` (memory O(T d)).

    Returns:
      ``(horizons (K,), points (K, d), values (K,))`` with ``values[k] =``
      :math:`\min_{x\in X}\sum_{t\le T_k} f_t(x)`.
    """
    _checks.check_positive_int(num_rounds, "prefix_best_fixed(num_rounds=...)")
    _checks.check_positive_int(num_chunks, "prefix_best_fixed(num_chunks=...)")
    if env.stats is None and env.prefix_best is None:
        raise ValueError(f"`prefix_best_fixed(env=...)`: {env.name} has no sufficient statistic; "
                         "use best_fixed_newton")
    if num_rounds % num_chunks:
        raise ValueError(
            f"`num_rounds` ({num_rounds}) must be a multiple of `num_chunks` ({num_chunks})")
    if env.stats is None:
        return _prefix_best_from_rounds(env, params, key, num_rounds, num_chunks)
    return _prefix_best_fixed(env, params, key, num_rounds, num_chunks)


@functools.partial(jax.jit, static_argnames=("env", "num_rounds", "num_chunks"))
def _prefix_best_from_rounds(env, params, key, num_rounds, num_chunks):
    horizons = (num_rounds // num_chunks) * jnp.arange(1, num_chunks + 1)
    points, values = env.prefix_best(_sample_rounds(env, params, key, num_rounds), horizons)
    return horizons, points, values


@functools.partial(jax.jit, static_argnames=("env", "num_rounds", "num_chunks"))
def _prefix_best_fixed(env, params, key, num_rounds, num_chunks):
    stats, size = _chunk_stats(env, params, key, num_rounds, num_chunks)
    horizons = size * jnp.arange(1, num_chunks + 1)
    dt = params.center.dtype
    points, values = jax.vmap(env.best_fixed)(stats, horizons.astype(dt))
    return horizons, points, values


def regret_curve(losses: jax.Array, best_values: jax.Array, num_chunks: int) -> jax.Array:
    r""":math:`R_{T_k} = \sum_{t\le T_k} f_t(x_t) - \min_x\sum_{t\le T_k} f_t(x)` at the K
    horizons of :func:`prefix_best_fixed` (``losses`` of shape (T,) from :func:`play`)."""
    size = losses.shape[0] // num_chunks
    cum = jnp.cumsum(losses.reshape(num_chunks, size).sum(axis=1))
    return cum - best_values


def cumulative_sea(env: Environment, params: SEAParams, num_rounds: int) -> dict[str, jax.Array]:
    r"""Closed-form :math:`\sigma^2_{1:T}`, :math:`\Sigma^2_{1:T}`, :math:`\sigma^2_{\max}`,
    :math:`\Sigma^2_{\max}` (the schedules are deterministic, so no outer expectation).

    Example:
      >>> env = linear(2, 1.0)
      >>> out = cumulative_sea(env, sea_params(jnp.ones(2), horizon=4, schedule="alternation"), 4)
      >>> float(out["sigma2"]), float(out["variation2"])  # Σ² = ‖c‖² + 3·4‖c‖²
      (0.0, 26.0)
    """
    _checks.check_positive_int(num_rounds, "cumulative_sea(num_rounds=...)")
    if env.sigma2 is None:
        raise ValueError(f"`cumulative_sea(env=...)`: {env.name} has no closed form; use "
                         "monte_carlo_sea")
    return _cumulative(env, params, num_rounds)


@functools.partial(jax.jit, static_argnames=("env", "num_rounds"))
def _cumulative(env, params, num_rounds):
    ts = jnp.arange(1, num_rounds + 1, dtype=jnp.int32)
    s2 = jax.vmap(lambda t: env.sigma2(params, t))(ts)
    v2 = jax.vmap(lambda t: env.variation2(params, t))(ts)
    return {"sigma2": jnp.sum(s2), "variation2": jnp.sum(v2), "sigma2_max": jnp.max(s2),
            "variation2_max": jnp.max(v2), "variation2_max_after_1": jnp.max(v2[1:])
            if num_rounds > 1 else jnp.zeros((), s2.dtype)}


def monte_carlo_sea(
    env: Environment, params: SEAParams, key: jax.Array, t: Any, points: jax.Array,
    num_samples: int, *, coupled: bool = False,
) -> dict[str, jax.Array]:
    r"""Monte-Carlo :math:`\sigma_t^2` and :math:`\Sigma_t^2`, the max over ``points`` (m, d)
    in place of :math:`\max_{x\in X}`, from ``num_samples`` draws of :math:`f_t` and
    :math:`f_{t-1}` (at t = 1, :math:`\nabla F_0 \equiv 0`).

    With ``coupled=True`` the draws of :math:`f_{t-1}` reuse the keys of :math:`f_t` (common
    random numbers): :math:`\nabla F_t - \nabla F_{t-1}` is then estimated from paired
    differences, exact when the round data shift deterministically with :math:`c_t` (quadratic,
    linear) and without the :math:`\approx 2\operatorname{tr}\operatorname{Cov}/n` upward bias
    of independent draws — use it whenever many :math:`\Sigma_t^2` are summed.

    Returns ``{"sigma2", "variation2", "mean_grad"}`` (``mean_grad``: (m, d) estimate of
    :math:`\nabla F_t` at the points).

    Example:
      >>> env = quadratic(2, 1.0)
      >>> p = sea_params(jnp.ones(2), horizon=4, noise=0.5, schedule="alternation")
      >>> out = monte_carlo_sea(env, p, jax.random.key(0), 2, jnp.zeros((1, 2)), 100,
      ...                       coupled=True)
      >>> round(float(out["variation2"]), 6)  # ‖c_2 − c_1‖² = ‖2c‖² exactly
      8.0
    """
    _checks.check_positive_int(num_samples, "monte_carlo_sea(num_samples=...)")
    if num_samples < 2:
        raise ValueError(
            f"`monte_carlo_sea(num_samples=...)` must be at least 2, got {num_samples}")
    return _monte_carlo(env, params, key, t, points, num_samples, bool(coupled))


@functools.partial(jax.jit, static_argnames=("env", "num_samples", "coupled"))
def _monte_carlo(env, params, key, t, points, num_samples, coupled):
    grad = jax.grad(env.loss)

    def moments(tt, k):
        keys = jax.random.split(k, num_samples)
        zs = jax.vmap(lambda kk: env.sample(params, kk, tt))(keys)
        g = jax.vmap(lambda x: jax.vmap(lambda z: grad(x, z))(zs))(points)  # (m, n, d)
        mean = g.mean(axis=1)
        var = jnp.sum(jnp.square(g - mean[:, None]), axis=-1).sum(axis=1) / (num_samples - 1)
        return mean, var

    k1, k0 = jax.random.split(key)
    mean_t, var_t = moments(t, k1)
    mean_prev, _ = moments(jnp.asarray(t) - 1, k1 if coupled else k0)
    mean_prev = jnp.where(jnp.asarray(t) <= 1, 0.0, mean_prev)
    return {"sigma2": jnp.max(var_t),
            "variation2": jnp.max(jnp.sum(jnp.square(mean_t - mean_prev), axis=-1)),
            "mean_grad": mean_t}


@functools.partial(jax.jit, static_argnames=("num_rounds",))
def _centers(params, num_rounds):
    return jax.vmap(lambda t: drift(params, t))(jnp.arange(1, num_rounds + 1, dtype=jnp.int32))


MAX_DISTINCT_CENTERS = 64  # monte_carlo_cumulative: one Monte-Carlo call per distinct c_t / change


def monte_carlo_cumulative(
    env: Environment, params: SEAParams, key: jax.Array, num_rounds: int, points: jax.Array,
    num_samples: int,
) -> dict[str, np.ndarray]:
    r"""Per-round Monte-Carlo :math:`\hat\sigma_t^2`, :math:`\hat\Sigma_t^2`, t = 1..T, for
    schedules with few distinct centres (iid, switches, alternation, corrupted).

    In every environment here :math:`\mathcal D_t` depends on t only through :math:`c_t`, so
    :math:`\sigma_t^2 = \sigma^2(c_t)` and :math:`\Sigma_t^2 = 0` exactly when
    :math:`c_t = c_{t-1}` (t ≥ 2). Each distinct :math:`c_t` (for σ²), :math:`c_1` (for
    :math:`\Sigma_1^2 = \sup_x\|\nabla F_1(x)\|^2`) and each distinct change
    :math:`(c_{t-1}, c_t)` (for :math:`\Sigma_t^2`) is estimated once, by
    :func:`monte_carlo_sea` with ``coupled=True`` at the first round where it occurs, and copied
    to the other rounds. :math:`\sigma^2_{1:T} = \sum_t \hat\sigma_t^2` etc. are then cumulative
    sums. Eager: ``params`` must be concrete.

    Returns:
      ``{"sigma2": (T,), "variation2": (T,)}`` NumPy arrays, and ``"num_estimates"``: how many
      Monte-Carlo calls were made.

    Raises:
      ValueError: more than ``MAX_DISTINCT_CENTERS`` distinct centres or changes (e.g.
        ``rotation``, where every round has its own c_t).

    Example:
      >>> env = quadratic(2, 1.0)
      >>> p = sea_params(jnp.ones(2), horizon=6, noise=0.0, schedule="switches", switches=1)
      >>> out = monte_carlo_cumulative(env, p, jax.random.key(0), 6, jnp.zeros((1, 2)), 50)
      >>> np.round(out["variation2"], 6).tolist()  # Σ_1² = ‖c‖², one switch: ‖2c‖²
      [2.0, 0.0, 0.0, 8.0, 0.0, 0.0]
    """
    _checks.check_positive_int(num_rounds, "monte_carlo_cumulative(num_rounds=...)")
    _checks.check_positive_int(num_samples, "monte_carlo_cumulative(num_samples=...)")
    if int(params.noisy_rounds) >= 0:
        raise ValueError("`monte_carlo_cumulative(params=...)` needs the noise on every round "
                         f"(noisy_rounds=-1), got noisy_rounds={int(params.noisy_rounds)}")
    centers = np.asarray(_centers(params, num_rounds))
    _, first_of, which = np.unique(centers, axis=0, return_index=True, return_inverse=True)
    which = which.reshape(-1)
    changed = np.zeros(num_rounds, bool)
    changed[1:] = np.any(centers[1:] != centers[:-1], axis=1)
    pairs = np.stack([np.r_[-1, which[:-1]], which], axis=1)
    change_pairs, change_first, change_which = (np.zeros((0, 2), int), np.zeros(0, int),
                                                np.zeros(0, int))
    if changed.any():
        change_pairs, change_first, change_which = np.unique(
            pairs[changed], axis=0, return_index=True, return_inverse=True)
        change_first = np.flatnonzero(changed)[change_first]
        change_which = change_which.reshape(-1)
    if len(first_of) > MAX_DISTINCT_CENTERS or len(change_pairs) > MAX_DISTINCT_CENTERS:
        raise ValueError(
            f"`monte_carlo_cumulative(params=...)`: the schedule has {len(first_of)} distinct "
            f"centres and {len(change_pairs)} distinct changes over {num_rounds} rounds (at most "
            f"{MAX_DISTINCT_CENTERS} each); use monte_carlo_sea at sampled rounds instead")
    pts = jnp.asarray(points)
    cache: dict[int, dict[str, jax.Array]] = {}

    def estimate(t):
        t = int(t)
        if t not in cache:
            cache[t] = monte_carlo_sea(env, params, jax.random.fold_in(key, t), t, pts,
                                       num_samples, coupled=True)
        return cache[t]

    sigma_of = np.array([float(estimate(i + 1)["sigma2"]) for i in first_of])
    sigma2 = sigma_of[which]
    variation2 = np.zeros(num_rounds)
    variation2[0] = float(estimate(1)["variation2"])
    if changed.any():
        var_of = np.array([float(estimate(i + 1)["variation2"]) for i in change_first])
        variation2[changed] = var_of[change_which]
    return {"sigma2": sigma2, "variation2": variation2, "num_estimates": len(cache)}


# --------------------------------------------------------------------------- comparator (no stats)

_LINE_STEPS = (1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.0)


def best_fixed_newton(
    env: Environment, rounds: Any, horizons: Any, *, num_iters: int = 8,
    hessian_updates: int = 2, chunk: int | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""Best fixed points in hindsight for a smooth convex loss without a sufficient statistic
    (e.g. :func:`logistic`), by projected Newton, each with a certificate of optimality.

    At each horizon :math:`T_k` (ascending) it minimises :math:`\Phi_k(x) = \sum_{t\le T_k}
    f_t(x)` over the ball, warm-started at :math:`T_{k-1}`'s point, by ``hessian_updates``
    rounds of ``num_iters`` projected Newton steps in a metric :math:`H = \nabla^2\Phi_k(x_0)`
    fixed within the round (:math:`x_0` its first point; the Hessian is the O(T d²) part)

    .. math::
        y = \operatorname*{argmin}_{\|y\|\le R}\ \langle\nabla\Phi_k(x), y - x\rangle
            + \tfrac12 (y - x)^\top H (y - x), \qquad
        x \leftarrow x + \alpha (y - x),

    y by :func:`~jaxrank.optim.omd.ball_qp`, α the best of {1, ½, …, 1/32, 0} (so
    :math:`\Phi_k` never increases). Certificate (convexity, Frank–Wolfe gap):
    :math:`\Phi_k(x) - \min_X\Phi_k \le \langle\nabla\Phi_k(x), x\rangle +
    R\|\nabla\Phi_k(x)\|` =: ``gap``, so the regret against the returned value is exact to
    within ``gap``. The Hessian is summed over chunks of ``chunk`` rounds (memory O(chunk·d²)).

    Args:
      env: the environment (its ``loss(x, z)`` must be twice differentiable and convex in x).
      rounds: the round data :math:`z_1..z_T` (leading axis T), e.g. :func:`sample_rounds`.
      horizons: (K,) ints, ascending, in [1, T].
      num_iters: Newton steps per Hessian.
      hessian_updates: Hessian evaluations per horizon.
      chunk: rounds per Hessian chunk (must divide T); default the largest divisor ≤ 1024.

    Returns:
      ``(points (K, d), values (K,), gaps (K,))``, ``values[k]`` = :math:`\Phi_k` at
      ``points[k]`` :math:`\ge \min_X\Phi_k \ge` ``values[k] − gaps[k]``.

    Example:
      >>> env = quadratic(2, 1.0)  # closed form: Π_X(mean y) = (0.6, 0.8)
      >>> pts, vals, gaps = best_fixed_newton(env, jnp.array([[3.0, 4.0], [3.0, 4.0]]),
      ...                                     jnp.array([2]))
      >>> np.round(np.asarray(pts[0], float), 6).tolist(), bool(gaps[0] < 1e-9)
      ([0.6, 0.8], True)
    """
    if not isinstance(env.feasible_set, Ball):
        raise ValueError(f"`best_fixed_newton(env=...)` must be an environment on a ball "
                         f"(`domain` = ball(R)), got domain {env.feasible_set!r}")
    _checks.check_positive_int(num_iters, "best_fixed_newton(num_iters=...)")
    _checks.check_positive_int(hessian_updates, "best_fixed_newton(hessian_updates=...)")
    num_rounds = jax.tree.leaves(rounds)[0].shape[0]
    if chunk is None:
        chunk = max(c for c in range(1, min(1024, num_rounds) + 1) if num_rounds % c == 0)
    _checks.check_positive_int(chunk, "best_fixed_newton(chunk=...)")
    if num_rounds % chunk:
        raise ValueError(f"`best_fixed_newton(chunk=...)` must divide the number of rounds "
                         f"{num_rounds}, got {chunk}")
    h = jnp.asarray(horizons)
    _checks.check_rank(h, 1, "best_fixed_newton(horizons=...)")
    if not isinstance(h, jax.core.Tracer):
        hv = np.asarray(h)
        if hv.size == 0 or np.any(hv < 1) or np.any(hv > num_rounds) or np.any(np.diff(hv) < 0):
            raise ValueError(f"`best_fixed_newton(horizons=...)` must be ascending ints in "
                             f"[1, {num_rounds}], got {hv.tolist()}")
    return _best_fixed_newton(env, rounds, h, num_iters, hessian_updates, chunk)


@functools.partial(jax.jit, static_argnames=("env", "num_iters", "hessian_updates", "chunk"))
def _best_fixed_newton(env, rounds, horizons, num_iters, hessian_updates, chunk):
    num_rounds = jax.tree.leaves(rounds)[0].shape[0]
    dt = jnp.result_type(*jax.tree.leaves(rounds))
    dt = dt if jnp.issubdtype(dt, jnp.floating) else jnp.float32
    radius = env.radius
    t_index = jnp.arange(1, num_rounds + 1)
    chunked = jax.tree.map(lambda v: v.reshape((num_rounds // chunk, chunk) + v.shape[1:]),
                           rounds)
    hess1 = jax.hessian(env.loss)

    def total(x, n):
        per = jax.vmap(lambda z: env.loss(x, z))(rounds)
        return jnp.sum(jnp.where(t_index <= n, per, 0.0))

    def hessian(x, n):
        def body(acc, inp):
            i, zc = inp
            hs = jax.vmap(lambda z: hess1(x, z))(zc)
            w = (i * chunk + jnp.arange(1, chunk + 1)) <= n
            return acc + jnp.einsum("c,cij->ij", w.astype(hs.dtype), hs), None

        acc0 = jnp.zeros((x.shape[0], x.shape[0]), x.dtype)
        return jax.lax.scan(body, acc0, (jnp.arange(num_rounds // chunk), chunked))[0]

    steps = jnp.asarray(_LINE_STEPS, dt)

    def solve(x, n):
        def refresh(_, x):
            hm = hessian(x, n)  # O(T d²): the dominant cost, so refreshed only a few times

            def newton(_, x):
                g = jax.grad(total)(x, n)
                y = ball_qp(hm, hm @ x - g, radius)
                cands = x[None] + steps[:, None] * (y - x)[None]
                vals = jax.vmap(lambda c: total(c, n))(cands)
                return cands[jnp.argmin(vals)]

            return jax.lax.fori_loop(0, num_iters, newton, x)

        x = jax.lax.fori_loop(0, hessian_updates, refresh, x)
        value, g = jax.value_and_grad(total)(x, n)
        gap = jnp.dot(g, x) + radius * safe_norm(g)
        return x, (x, value, jnp.maximum(gap, 0.0))

    x0 = jnp.zeros(env.dim, dt)
    _, out = jax.lax.scan(solve, x0, horizons)
    return out
