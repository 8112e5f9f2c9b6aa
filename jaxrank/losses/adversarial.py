r"""Adversarial pieces of the comp-sum paper: PGD attacks, the smooth adversarial comp-sum loss
(ADV-COMP-SUM) and its baselines TRADES and PGD adversarial training.

All losses take a model as ``apply_fn(params, x) -> logits`` (a flax ``Module.apply``) and return
per-example values; the caller averages. The inner maximisation is projected gradient ascent
(PGD) on ``lax.fori_loop`` with a stop-gradient on the adversarial input, as in TRADES and
Madry et al.: the training gradient flows through ``params`` only.

References:
  A. Mao, M. Mohri, Y. Zhong, "Cross-Entropy Loss Functions: Theoretical Analysis and
  Applications", ICML 2023, Sec. 5 (smooth adversarial comp-sum losses, ADV-COMP-SUM). The exact
  normalisation of the smoothing term is our reading (not checked against the paper's text).
  H. Zhang et al., "Theoretically Principled Trade-off between Robustness and Accuracy" (TRADES),
  ICML 2019. A. Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks",
  ICLR 2018.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxrank import _checks
from jaxrank._numerics import safe_norm
from jaxrank.losses.comp_sum import check_tau, comp_sum_loss

__all__ = [
    "NORMS",
    "pgd_attack",
    "pgd_ce_attack",
    "pgd_margin_attack",
    "margin_loss",
    "robust_accuracy",
    "comp_sum_delta_distance",
    "smooth_adversarial_comp_sum_loss",
    "trades_loss",
    "pgd_at_loss",
]

NORMS = ("linf", "l2")
ApplyFn = Callable[[Any, jax.Array], jax.Array]


def _check_attack(fn: str, epsilon, norm, attack_steps, attack_step_size) -> None:
    _checks.check_nonnegative(epsilon, f"{fn}(epsilon=...)")
    _checks.check_one_of(norm, NORMS, f"{fn}(norm=...)")
    _checks.check_positive_int(attack_steps, f"{fn}(attack_steps=...)")
    _checks.check_nonnegative(attack_step_size, f"{fn}(attack_step_size=...)")


def _check_xy(x, labels, fn: str) -> None:
    if jnp.ndim(x) < 1 or jnp.ndim(labels) != 1 or jnp.shape(x)[0] != jnp.shape(labels)[0]:
        raise ValueError(
            f"`{fn}(x=...)` and `{fn}(labels=...)` must be a batch (m, ...) and (m,), got "
            f"{tuple(jnp.shape(x))} and {tuple(jnp.shape(labels))}"
        )


def _per_example_norm(v: jax.Array) -> jax.Array:
    """‖v_i‖₂ over all but the batch axis, shape (m, 1, ..., 1), safe at 0."""
    flat = v.reshape(v.shape[0], -1)
    return safe_norm(flat, axis=-1).reshape((v.shape[0],) + (1,) * (v.ndim - 1))


def _project(delta: jax.Array, epsilon, norm: str) -> jax.Array:
    """Per-example projection of ``delta`` onto the ε-ball of ``norm``.

    ℓ∞ is ``optax.projections.projection_linf_ball`` (clipping). ℓ2 stays ours: the ball is per
    example (optax projects a whole pytree onto one ball) and the norm is :func:`safe_norm`
    (optax's squared norm overflows for float32 entries of 1e20 and its projection returns 0).
    """
    eps = jnp.asarray(epsilon, delta.dtype)
    if norm == "linf":
        return optax.projections.projection_linf_ball(delta, eps)
    nrm = _per_example_norm(delta)
    return delta * jnp.minimum(1.0, eps / jnp.maximum(nrm, jnp.finfo(delta.dtype).tiny))


def _random_start(key, x, epsilon, norm: str) -> jax.Array:
    eps = jnp.asarray(epsilon, x.dtype)
    if norm == "linf":
        return jax.random.uniform(key, x.shape, x.dtype, -1.0, 1.0) * eps
    k1, k2 = jax.random.split(key)
    g = jax.random.normal(k1, x.shape, x.dtype)
    g = g / jnp.maximum(_per_example_norm(g), jnp.finfo(x.dtype).tiny)
    r = jax.random.uniform(k2, (x.shape[0],) + (1,) * (x.ndim - 1), x.dtype)
    return g * r * eps


@_checks.renamed(steps="attack_steps", step_size="attack_step_size")
def pgd_attack(
    objective: Callable[[jax.Array], jax.Array],
    x: jax.Array,
    *,
    epsilon: Any,
    norm: str,
    attack_steps: int,
    attack_step_size: Any,
    key: jax.Array | None = None,
    start: jax.Array | None = None,
    bounds: tuple[float, float] | None = None,
) -> jax.Array:
    r"""Projected gradient ascent on Σ_i objective(x')_i over the ε-ball around each x_i.

    .. math::
        x'_{k+1} = \Pi_{B_p(x, \epsilon) \cap [lo, hi]}\big(x'_k + \alpha\, d_k\big), \quad
        d_k = \mathrm{sign}(g_k)\ (\ell_\infty), \quad d_k = g_k/\|g_k\|_2\ (\ell_2)

    Args:
      objective: ``objective(x') -> (m,)`` per-example values to maximise.
      x: clean inputs (m, ...).
      epsilon: radius ε ≥ 0 of the ball.
      norm: ``"linf"`` or ``"l2"``.
      attack_steps: PGD steps k.
      attack_step_size: α, the length of one PGD step in the ``norm`` (a distance, like
        ``epsilon``).
      key: PRNG key of the uniform random start in the ball; ``None``: start at ``start`` or x.
      start: optional starting point (projected onto the ball first), e.g. TRADES' x + 0.001 N.
      bounds: optional data range (lo, hi) the adversarial input is clipped to.

    Returns:
      x' with ‖x' − x‖_p ≤ ε (and within ``bounds``), gradient-stopped.

    Example:
      >>> import jax.numpy as jnp
      >>> x = jnp.zeros((1, 3))
      >>> xa = pgd_attack(lambda z: z.sum(-1), x, epsilon=0.1, norm="linf", attack_steps=3,
      ...                 attack_step_size=0.05)
      >>> [[round(v, 4) for v in row] for row in xa.tolist()]
      [[0.1, 0.1, 0.1]]
    """
    _check_attack("pgd_attack", epsilon, norm, attack_steps, attack_step_size)
    x = jax.lax.stop_gradient(jnp.asarray(x))
    if start is not None:
        x0 = jnp.asarray(start, x.dtype)
    elif key is not None:
        x0 = x + _random_start(key, x, epsilon, norm)
    else:
        x0 = x

    def clip(z):
        z = x + _project(z - x, epsilon, norm)
        return z if bounds is None else jnp.clip(z, bounds[0], bounds[1])

    grad = jax.grad(lambda z: jnp.sum(objective(z)))
    alpha = jnp.asarray(attack_step_size, x.dtype)

    def body(_, z):
        g = grad(z)
        if norm == "linf":
            d = jnp.sign(g)
        else:
            d = g / jnp.maximum(_per_example_norm(g), jnp.finfo(x.dtype).tiny)
        return clip(z + alpha * d)

    return jax.lax.stop_gradient(jax.lax.fori_loop(0, attack_steps, body, clip(x0)))


def margin_loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
    r"""The negative margin max_{y'≠y} h_{y'} − h_y (> 0 iff misclassified), per example.

    Example:
      >>> import jax.numpy as jnp
      >>> margin_loss(jnp.array([[2.0, 0.5, 1.0]]), jnp.array([0])).tolist()
      [-1.0]
    """
    n = logits.shape[-1]
    onehot = jax.nn.one_hot(labels, n, dtype=logits.dtype)
    h_y = jnp.sum(logits * onehot, axis=-1)
    other = jnp.max(jnp.where(onehot > 0, -jnp.inf, logits), axis=-1)
    return other - h_y


@_checks.renamed(steps="attack_steps", step_size="attack_step_size")
def pgd_ce_attack(apply_fn: ApplyFn, params, x, labels, *, epsilon, norm, attack_steps,
                  attack_step_size, key=None, bounds=None) -> jax.Array:
    """PGD-k on the cross-entropy (comp-sum τ = 1) of the model; returns x'.

    Example:
      >>> import jax.numpy as jnp
      >>> f = lambda p, z: z @ p
      >>> xa = pgd_ce_attack(f, jnp.eye(2), jnp.array([[1.0, 0.0]]), jnp.array([0]),
      ...                    epsilon=0.5, norm="l2", attack_steps=5, attack_step_size=0.2)
      >>> bool(jnp.linalg.norm(xa - jnp.array([[1.0, 0.0]])) <= 0.5 + 1e-6)
      True
    """
    _check_xy(x, labels, "pgd_ce_attack")
    params = jax.lax.stop_gradient(params)
    return pgd_attack(lambda z: comp_sum_loss(apply_fn(params, z), labels, tau=1.0), x,
                      epsilon=epsilon, norm=norm, attack_steps=attack_steps,
                      attack_step_size=attack_step_size, key=key, bounds=bounds)


@_checks.renamed(steps="attack_steps", step_size="attack_step_size")
def pgd_margin_attack(apply_fn: ApplyFn, params, x, labels, *, epsilon, norm, attack_steps,
                      attack_step_size, key=None, bounds=None) -> jax.Array:
    """PGD-k on the margin loss (Carlini–Wagner style, "PGD margin"); returns x'.

    Example:
      >>> import jax.numpy as jnp
      >>> f = lambda p, z: z @ p
      >>> xa = pgd_margin_attack(f, jnp.eye(2), jnp.array([[1.0, 0.0]]), jnp.array([0]),
      ...                        epsilon=0.6, norm="linf", attack_steps=5, attack_step_size=0.3)
      >>> [[round(v, 4) for v in row] for row in xa.tolist()]
      [[0.4, 0.6]]
    """
    _check_xy(x, labels, "pgd_margin_attack")
    params = jax.lax.stop_gradient(params)
    return pgd_attack(lambda z: margin_loss(apply_fn(params, z), labels), x, epsilon=epsilon,
                      norm=norm, attack_steps=attack_steps, attack_step_size=attack_step_size,
                      key=key, bounds=bounds)


@_checks.renamed(steps="attack_steps", step_size="attack_step_size")
def robust_accuracy(apply_fn: ApplyFn, params, x, labels, *, epsilon, norm, attack_steps,
                    attack_step_size, key=None, objective: str = "margin",
                    bounds=None) -> jax.Array:
    """Accuracy (exact count / m) on PGD-k adversarial inputs with the CE or margin objective.

    Example:
      >>> import jax.numpy as jnp
      >>> f = lambda p, z: z @ p
      >>> float(robust_accuracy(f, jnp.eye(2), jnp.array([[1.0, 0.0]]), jnp.array([0]),
      ...                       epsilon=0.6, norm="linf", attack_steps=5, attack_step_size=0.3))
      0.0
    """
    _checks.check_one_of(objective, ("ce", "margin"), "robust_accuracy(objective=...)")
    attack = pgd_margin_attack if objective == "margin" else pgd_ce_attack
    xa = attack(apply_fn, params, x, labels, epsilon=epsilon, norm=norm, attack_steps=attack_steps,
                attack_step_size=attack_step_size, key=key, bounds=bounds)
    correct = jnp.argmax(apply_fn(params, xa), axis=-1) == labels
    return jnp.sum(correct) / labels.shape[0]


def comp_sum_delta_distance(logits_adv: jax.Array, logits: jax.Array,
                            labels: jax.Array) -> jax.Array:
    r"""‖Δ_h(x', y) − Δ_h(x, y)‖₂ with Δ_h(x, y) = (h(x, y') − h(x, y))_{y'≠y}, per example.

    Equals the norm of the logit change with the target-logit change removed (the target
    coordinate is zero); safe (zero gradient) at x' = x.

    Example:
      >>> import jax.numpy as jnp
      >>> comp_sum_delta_distance(jnp.array([[1.0, 1.0, 1.0]]), jnp.zeros((1, 3)),
      ...                         jnp.array([0])).tolist()
      [0.0]
    """
    diff = logits_adv - logits
    d_y = jnp.take_along_axis(diff, labels[:, None], axis=-1)
    return safe_norm(diff - d_y, axis=-1)


@_checks.renamed(step_size="attack_step_size")
def smooth_adversarial_comp_sum_loss(
    apply_fn: ApplyFn,
    params: Any,
    x: jax.Array,
    labels: jax.Array,
    *,
    tau: Any,
    nu: Any,
    epsilon: Any,
    norm: str,
    attack_steps: int,
    attack_step_size: Any,
    key: jax.Array,
    bounds: tuple[float, float] | None = None,
) -> jax.Array:
    r"""Smooth adversarial comp-sum loss ℓ̃_τ of ADV-COMP-SUM, per example.

    .. math::
        \tilde\ell_\tau(h, x, y) = \ell_\tau(h, x, y)
          + \nu \sup_{\|x' - x\|_p \le \epsilon} \|\Delta_h(x', y) - \Delta_h(x, y)\|_2

    with the sup approximated by PGD (random start in the ball, ``attack_steps`` steps) on the
    distance term, as TRADES approximates its KL term. It upper-bounds sup_{x'} ℓ_τ(h, x', y)
    when ν ≥ the ℓ2-Lipschitz constant of ℓ_τ in Δ (≤ 1 for τ ≥ 1). The normalisation is our
    reading of Sec. 5 [UNVERIFIED against the paper's text]. Scale: the term is a norm of
    raw logit differences, not squared, so its gradient does not vanish near constant logits
    (unlike TRADES' KL); with ℓ∞ ε = 0.1 on image pixels ν ≥ 1 trains small models to constant
    logits, and ν must be selected (paper_repro/compsum.md finds ν ∈ [0.1, 0.3]).

    Args:
      apply_fn: ``apply_fn(params, x) -> logits (m, n)``.
      params: model parameters (the training gradient flows through them only).
      x: inputs (m, ...).
      labels: integer labels (m,).
      tau: τ ∈ [0, 2] of the comp-sum loss.
      nu: smoothing weight ν ≥ 0.
      epsilon: attack radius γ (ε) ≥ 0.
      norm: ``"linf"`` or ``"l2"``.
      attack_steps: PGD steps of the inner maximisation.
      attack_step_size: PGD step α (a distance in the ``norm``).
      key: PRNG key of the random start.
      bounds: optional data range (lo, hi).

    Returns:
      ℓ̃_τ per example, shape (m,).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> f = lambda p, z: z @ p
      >>> x, y = jnp.array([[1.0, 0.0]]), jnp.array([0])
      >>> l = smooth_adversarial_comp_sum_loss(f, jnp.eye(2), x, y, tau=1.0, nu=1.0,
      ...     epsilon=0.1, norm="linf", attack_steps=3, attack_step_size=0.05,
      ...     key=jax.random.key(0))
      >>> bool(l[0] >= comp_sum_loss(f(jnp.eye(2), x), y, tau=1.0)[0])
      True

    References: Mao, Mohri & Zhong (2023), Sec. 5 (smooth adversarial comp-sum losses and the
    ADV-COMP-SUM algorithm).
    """
    fn = "smooth_adversarial_comp_sum_loss"
    check_tau(tau, f"{fn}(tau=...)")
    _checks.check_nonnegative(nu, f"{fn}(nu=...)")
    _check_attack(fn, epsilon, norm, attack_steps, attack_step_size)
    _check_xy(x, labels, fn)
    logits = apply_fn(params, x)
    clean = jax.lax.stop_gradient(logits)
    frozen = jax.lax.stop_gradient(params)
    xa = pgd_attack(lambda z: comp_sum_delta_distance(apply_fn(frozen, z), clean, labels), x,
                    epsilon=epsilon, norm=norm, attack_steps=attack_steps,
                    attack_step_size=attack_step_size, key=key, bounds=bounds)
    dist = comp_sum_delta_distance(apply_fn(params, xa), logits, labels)
    return comp_sum_loss(logits, labels, tau=tau) + jnp.asarray(nu, logits.dtype) * dist


def _kl(logits_p: jax.Array, logits_q: jax.Array) -> jax.Array:
    r"""KL(softmax p ‖ softmax q) per row, from log-softmaxes (``optax``'s KL with log targets:
    :math:`\sum_k e^{l^p_k}(l^p_k - l^q_k)`, the same expression bit for bit)."""
    lp, lq = jax.nn.log_softmax(logits_p, -1), jax.nn.log_softmax(logits_q, -1)
    return optax.losses.kl_divergence_with_log_targets(lq, lp, axis=-1)


@_checks.renamed(step_size="attack_step_size")
def trades_loss(apply_fn: ApplyFn, params, x, labels, *, beta, epsilon, norm, attack_steps,
                attack_step_size, key, bounds=None) -> jax.Array:
    r"""TRADES: CE(h(x), y) + β KL(p(x) ‖ p(x')), x' = PGD on the KL from x + 0.001·N(0, I).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> f = lambda p, z: z @ p
      >>> l = trades_loss(f, jnp.eye(2), jnp.array([[1.0, 0.0]]), jnp.array([0]), beta=6.0,
      ...                 epsilon=0.1, norm="linf", attack_steps=3, attack_step_size=0.05,
      ...                 key=jax.random.key(0))
      >>> l.shape
      (1,)

    References: Zhang et al. (2019), Eq. (5) and Algorithm 1.
    """
    _checks.check_nonnegative(beta, "trades_loss(beta=...)")
    _check_attack("trades_loss", epsilon, norm, attack_steps, attack_step_size)
    _check_xy(x, labels, "trades_loss")
    logits = apply_fn(params, x)
    clean = jax.lax.stop_gradient(logits)
    frozen = jax.lax.stop_gradient(params)
    start = x + 0.001 * jax.random.normal(key, x.shape, x.dtype)
    xa = pgd_attack(lambda z: _kl(clean, apply_fn(frozen, z)), x, epsilon=epsilon, norm=norm,
                    attack_steps=attack_steps, attack_step_size=attack_step_size, start=start,
                    bounds=bounds)
    kl = _kl(logits, apply_fn(params, xa))
    return comp_sum_loss(logits, labels, tau=1.0) + jnp.asarray(beta, logits.dtype) * kl


@_checks.renamed(step_size="attack_step_size")
def pgd_at_loss(apply_fn: ApplyFn, params, x, labels, *, epsilon, norm, attack_steps,
                attack_step_size, key, bounds=None) -> jax.Array:
    r"""PGD adversarial training (Madry et al.): CE(h(x'), y) with x' = PGD-CE from a random start.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> f = lambda p, z: z @ p
      >>> l = pgd_at_loss(f, jnp.eye(2), jnp.array([[1.0, 0.0]]), jnp.array([0]), epsilon=0.1,
      ...                 norm="linf", attack_steps=3, attack_step_size=0.05, key=jax.random.key(0))
      >>> l.shape
      (1,)

    References: Madry et al. (2018), Eq. (2.1).
    """
    _check_attack("pgd_at_loss", epsilon, norm, attack_steps, attack_step_size)
    _check_xy(x, labels, "pgd_at_loss")
    xa = pgd_ce_attack(apply_fn, params, x, labels, epsilon=epsilon, norm=norm,
                       attack_steps=attack_steps, attack_step_size=attack_step_size, key=key,
                       bounds=bounds)
    return comp_sum_loss(apply_fn(params, xa), labels, tau=1.0)
