r"""Logistic regression with large steps, and the perceptron family it tends to.

Implements the methods of Tyurin, *From Logistic Regression to the Perceptron Algorithm:
Exploring Gradient Descent with Large Step Sizes* (AAAI 2025, arXiv:2412.08424).

Notation (paper §1): data :math:`\{(a_i, y_i)\}_{i=1}^n`, :math:`a_i \in \mathbb{R}^d`,
:math:`y_i \in \{-1, +1\}`, no bias term (append a constant feature for one). The margins are
:math:`m_i(\theta) = y_i a_i^\top \theta` and the logistic loss, Eq. (2), is

.. math::
    f(\theta) = \frac1n \sum_{i=1}^n \log\bigl(1 + e^{-m_i(\theta)}\bigr), \qquad
    \nabla f(\theta) = -\frac1n \sum_{i=1}^n \sigma(-m_i(\theta))\, y_i a_i .

Every method here is a :class:`~jaxrank.optim.Solver` with ``init(theta, features, labels)``
and ``update(theta, state, features, labels)``; ``features`` is ``A`` of shape ``(n, d)`` and
``labels`` is ``y`` of shape ``(n,)`` in :math:`\{-1, +1\}`. Step sizes may be traced arrays,
so a whole γ sweep is one ``vmap``.

Numerics: the loss is the library's one logistic loss, ``_numerics.binary_logistic`` (optax's
``sigmoid_binary_cross_entropy`` of the margins, bit for bit ``softplus(-m)``), and the weights
``sigmoid``; the normalized direction :math:`\beta_t \nabla f` is evaluated as a
softmax-weighted average (never as ``inf * 0``), so :math:`\gamma = 10^8` gives finite
iterates. Problem (1) asks for a *strict* positive margin, so the accuracy here is
``mean(m_i > 0)``. The paper's runs are in float64 (large γ saturates float32); pass float64
inputs for them.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp

from jaxrank import _checks
from jaxrank._numerics import binary_logistic
from jaxrank.optim._base import Solver, cached_factory, run_until

__all__ = [
    "margins",
    "logistic_loss",
    "logistic_grad",
    "normalization_factor",
    "accuracy",
    "num_mistakes",
    "diagnostics",
    "LRGDState",
    "NormalizedLRGDState",
    "PerceptronState",
    "lr_gd",
    "normalized_lr_gd",
    "batch_perceptron",
    "normalized_batch_perceptron",
    "perceptron",
    "iterations_to_separate",
    "batch_perceptron_bound",
    "novikoff_bound",
    "normalized_lr_gd_bound",
    "scaled_logistic_loss",
]


# --------------------------------------------------------------------------- primitives


def margins(theta: jax.Array, features: jax.Array, labels: jax.Array) -> jax.Array:
    r"""Margins :math:`m_i = y_i a_i^\top \theta`, shape ``(n,)``.

    Labels: ``labels`` take values in {-1, +1} (a {0, 1} encoding raises ValueError where the
    labels are concrete; :func:`logistic_loss`, :func:`accuracy`, :func:`num_mistakes` and
    :func:`diagnostics` go through here).
    """
    _checks.check_binary_labels(labels, "margins(labels=...)")
    return labels.astype(features.dtype) * (features @ theta)


def logistic_loss(theta: jax.Array, features: jax.Array, labels: jax.Array) -> jax.Array:
    r"""Logistic loss :math:`f(\theta)` of Eq. (2), a mean of ``softplus(-m_i)`` (stable).

    Labels in {-1, +1} (checked where concrete).
    """
    return jnp.mean(binary_logistic(margins(theta, features, labels)))


def scaled_logistic_loss(
    theta: jax.Array, features: jax.Array, labels: jax.Array, scale: Any
) -> jax.Array:
    r""":math:`\frac{1}{sn}\sum_i \log(1+e^{-s m_i})`; tends to the perceptron loss
    :math:`\frac1n\sum_i \max(0, -m_i)` as :math:`s \to \infty` (the paper's scaled-loss remark)."""
    m = margins(theta, features, labels)
    return jnp.mean(binary_logistic(scale * m)) / scale


def _grad_from_margins(m, features, labels):
    w = jax.nn.sigmoid(-m)  # w_i(θ) = (1 + exp(m_i))^{-1}
    # (y∘w)ᵀA rather than Aᵀ(y∘w): same maths, and XLA's CPU matvec is several times faster
    # when the contraction runs over A's leading axis in this order (bench/perceptron.py).
    return -((labels.astype(features.dtype) * w) @ features) / m.shape[0]


def logistic_grad(theta: jax.Array, features: jax.Array, labels: jax.Array) -> jax.Array:
    r""":math:`\nabla f(\theta) = -\frac1n \sum_i (1 + e^{m_i})^{-1} y_i a_i`, shape ``(d,)``."""
    return _grad_from_margins(margins(theta, features, labels), features, labels)


def normalization_factor(theta: jax.Array, features: jax.Array, labels: jax.Array) -> jax.Array:
    r""":math:`\beta(\theta) = \bigl(\frac1n\sum_i (1+e^{m_i})^{-1}\bigr)^{-1}` of Normalized LR+GD.

    Computed as :math:`\exp(\log n - \mathrm{logsumexp}_i(-\mathrm{softplus}(m_i)))`, finite until
    the true value overflows. :math:`\beta(0) = 2`; as the scale of θ grows,
    :math:`\beta \to n / |S(\theta)|`.
    """
    m = margins(theta, features, labels)
    n = m.shape[0]
    return jnp.exp(jnp.log(n).astype(m.dtype) - jax.nn.logsumexp(-jax.nn.softplus(m)))


def accuracy(theta: jax.Array, features: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction of samples with a strictly positive margin (problem (1) uses ``> 0``).

    Labels in {-1, +1} (checked where concrete).
    """
    m = margins(theta, features, labels)
    # count / n (a correctly rounded division) is exactly 1 when all margins are positive;
    # jnp.mean may multiply by 1/n and return 0.9999999999999999 (n = 2750).
    return jnp.sum(m > 0).astype(m.dtype) / m.shape[0]


def num_mistakes(theta: jax.Array, features: jax.Array, labels: jax.Array) -> jax.Array:
    r""":math:`|S(\theta)| = |\{i : y_i a_i^\top\theta \le 0\}|`, an int32 scalar.

    Labels in {-1, +1} (checked where concrete).
    """
    return jnp.sum(margins(theta, features, labels) <= 0).astype(jnp.int32)


def diagnostics(theta: jax.Array, features: jax.Array, labels: jax.Array) -> dict[str, jax.Array]:
    r"""Everything the paper plots about an iterate, from one pass of margins (two matvecs).

    Labels: ``labels`` take values in {-1, +1} (a {0, 1} encoding raises ValueError where the
    labels are concrete).

    Returns a dict of scalars: ``accuracy`` (fraction with :math:`m_i > 0`, exactly 1 when (1)
    is solved), ``loss`` :math:`f(\theta)`, ``grad_norm`` :math:`\|\nabla f(\theta)\|`,
    ``num_mistakes`` :math:`|S(\theta)|` (int32) and ``min_abs_margin`` :math:`\min_i |m_i|`.
    Use it as ``run(..., record=lambda th, s, A, y: diagnostics(th, A, y))``.
    """
    m = margins(theta, features, labels)
    n = m.shape[0]
    return {
        "accuracy": jnp.sum(m > 0).astype(m.dtype) / n,
        "loss": jnp.mean(binary_logistic(m)),
        "grad_norm": jnp.linalg.norm(_grad_from_margins(m, features, labels)),
        "num_mistakes": jnp.sum(m <= 0).astype(jnp.int32),
        "min_abs_margin": jnp.min(jnp.abs(m)),
    }


def _signed(features, labels, weights):
    """:math:`\\sum_i w_i y_i a_i` as one matrix-vector product."""
    return (labels.astype(features.dtype) * weights) @ features


def _validate_data(features, labels, fn):
    _checks.check_classification_data(features, labels, fn)


def _check_theta(theta, features, fn):
    _checks.check_rank(theta, 1, f"{fn}(theta=...)")
    if theta.shape[0] != features.shape[1]:
        raise ValueError(
            f"`{fn}(theta=...)` must have shape ({features.shape[1]},) to match features "
            f"{tuple(features.shape)}, got {tuple(theta.shape)}"
        )


# --------------------------------------------------------------------------- LR+GD


class LRGDState(NamedTuple):
    """State of :func:`lr_gd`.

    Attributes:
      count: number of updates applied (int32).
      loss: :math:`f(\\theta_t)` at the iterate the last step started from (``nan`` after init).
      grad_norm: :math:`\\|\\nabla f(\\theta_t)\\|` at that iterate (``nan`` after init).
      num_mistakes: :math:`|S(\\theta_t)|` (margins not strictly positive) at that iterate
        (``-1`` after init); :func:`iterations_to_separate` stops on it.
    """

    count: jax.Array
    loss: jax.Array
    grad_norm: jax.Array
    num_mistakes: jax.Array


def _nan_scalar(dtype):
    return jnp.full((), jnp.nan, dtype)


def _no_count():
    """``num_mistakes`` after init (-1): no iterate has been tested yet."""
    return jnp.full((), -1, jnp.int32)


def _not_separated(m):
    """|{i : not m_i > 0}| (int32): zero exactly when problem (1) is solved (NaN counts)."""
    return jnp.sum(~(m > 0)).astype(jnp.int32)


@_checks.renamed(step_size="learning_rate")
@cached_factory
def lr_gd(learning_rate: Any) -> Solver:
    r"""Gradient descent on the logistic loss, with any (large) step size.

    Data: ``run(solver, theta0, T, features, labels)`` with ``features`` (n, d) and
    ``labels`` in {-1, +1} (a {0, 1} encoding raises ValueError in ``init``, before ``run``
    or :func:`jaxrank.sweep.sweep` traces).

    .. math::
        \theta_{t+1} = \theta_t - \gamma \nabla f(\theta_t)

    As :math:`\gamma \to \infty`, :math:`\theta_t / \gamma` tends to the Batch Perceptron iterate
    :math:`\hat\theta_t` (Thm 3.2), which :func:`batch_perceptron` implements.

    Args:
      learning_rate: γ > 0; a Python float or a (possibly traced) scalar array.

    Returns:
      A :class:`~jaxrank.optim.Solver`; the state is :class:`LRGDState`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxrank.optim import perceptron as P
      >>> A = jnp.array([[1.0, -1.0], [-1.0, -4.0]]); y = jnp.array([1.0, -1.0])
      >>> solver = P.lr_gd(100.0)
      >>> theta, state = solver.update(jnp.zeros(2), solver.init(jnp.zeros(2), A, y), A, y)

    References:
      Tyurin 2024, "LR+GD", Eq. (2)-(3); implements the method of §2.
    """
    _checks.check_positive(learning_rate, "lr_gd(learning_rate=...)")

    def init(theta, features, labels):
        _validate_data(features, labels, "lr_gd")
        _check_theta(theta, features, "lr_gd")
        nan = _nan_scalar(features.dtype)
        return LRGDState(jnp.zeros((), jnp.int32), nan, nan, _no_count())

    def update(theta, state, features, labels):
        m = margins(theta, features, labels)
        g = _grad_from_margins(m, features, labels)
        gamma = jnp.asarray(learning_rate, features.dtype)
        new_theta = theta - gamma * g  # θ_{t+1} = θ_t − γ ∇f(θ_t)
        return new_theta, LRGDState(
            count=state.count + 1,
            loss=jnp.mean(binary_logistic(m)),
            grad_norm=jnp.linalg.norm(g),
            num_mistakes=_not_separated(m),
        )

    return Solver(init, update)


# --------------------------------------------------------------------------- Normalized LR+GD


class NormalizedLRGDState(NamedTuple):
    """State of :func:`normalized_lr_gd`.

    Attributes:
      count: number of updates applied (int32).
      beta: :math:`\\beta_t` used by the last step (``nan`` after init; :math:`\\beta_0 = 2`).
      num_mistakes: :math:`|S(\\theta_t)|` at the iterate the last step started from (``-1``
        after init); :func:`iterations_to_separate` stops on it.
    """

    count: jax.Array
    beta: jax.Array
    num_mistakes: jax.Array


@_checks.renamed(step_size="learning_rate")
@cached_factory
def normalized_lr_gd(learning_rate: Any) -> Solver:
    r"""Normalized LR+GD: gradient descent with the adaptive step :math:`\gamma\beta_t`.

    Data: ``run(solver, theta0, T, features, labels)`` with ``features`` (n, d) and
    ``labels`` in {-1, +1} (a {0, 1} encoding raises ValueError in ``init``, before ``run``
    or :func:`jaxrank.sweep.sweep` traces).

    .. math::
        \theta_{t+1} = \theta_t - \gamma \beta_t \nabla f(\theta_t), \qquad
        \beta_t = \Bigl(\frac1n \sum_{i=1}^n (1 + e^{y_i a_i^\top \theta_t})^{-1}\Bigr)^{-1}.

    Since :math:`\beta_t \nabla f(\theta_t) = -\sum_i p_i y_i a_i` with
    :math:`p = \mathrm{softmax}(-\mathrm{softplus}(m))`, the direction is a convex combination of
    the :math:`y_i a_i`, computed without overflow for any γ. As :math:`\gamma \to \infty` the
    iterates over γ tend to :func:`normalized_batch_perceptron`; Thm 6.1 bounds its iterations
    by :math:`R^2/\mu^2 + 2\log(2n-1)/(\gamma\mu^2)` (:func:`normalized_lr_gd_bound`).

    Args:
      learning_rate: γ > 0; a Python float or a (possibly traced) scalar array.

    Returns:
      A :class:`~jaxrank.optim.Solver`; the state is :class:`NormalizedLRGDState`.

    References:
      Tyurin 2024, "Normalized LR+GD", §6; implements the update of §6 (Thm 6.1).
    """
    _checks.check_positive(learning_rate, "normalized_lr_gd(learning_rate=...)")

    def init(theta, features, labels):
        _validate_data(features, labels, "normalized_lr_gd")
        _check_theta(theta, features, "normalized_lr_gd")
        return NormalizedLRGDState(jnp.zeros((), jnp.int32), _nan_scalar(features.dtype),
                                   _no_count())

    def update(theta, state, features, labels):
        m = margins(theta, features, labels)
        log_w = -jax.nn.softplus(m)  # log σ(−m_i)
        p = jax.nn.softmax(log_w)  # σ(−m_i) / Σ_j σ(−m_j)
        direction = _signed(features, labels, p)  # = −β_t ∇f(θ_t)
        gamma = jnp.asarray(learning_rate, features.dtype)
        n = jnp.asarray(m.shape[0], features.dtype)
        beta = jnp.exp(jnp.log(n) - jax.nn.logsumexp(log_w))
        return theta + gamma * direction, NormalizedLRGDState(state.count + 1, beta,
                                                              _not_separated(m))

    return Solver(init, update)


# --------------------------------------------------------------------------- perceptrons


class PerceptronState(NamedTuple):
    """State of the perceptron family.

    Attributes:
      count: number of updates applied (int32).
      num_mistakes: :math:`|S_t|` at the iterate the last step started from (``-1`` after init).
    """

    count: jax.Array
    num_mistakes: jax.Array


def _perceptron_init(fn):
    def init(theta, features, labels):
        _validate_data(features, labels, fn)
        _check_theta(theta, features, fn)
        return PerceptronState(jnp.zeros((), jnp.int32), _no_count())

    return init


@cached_factory
def batch_perceptron() -> Solver:
    r"""Batch Perceptron, the :math:`\gamma\to\infty` limit of LR+GD divided by γ.

    Data: ``run(solver, theta0, T, features, labels)`` with ``features`` (n, d) and
    ``labels`` in {-1, +1} (a {0, 1} encoding raises ValueError in ``init``, before ``run``
    or :func:`jaxrank.sweep.sweep` traces).

    .. math::
        \hat\theta_1 = \hat\theta_0 + \frac{1}{2n}\sum_{i=1}^n y_i a_i, \qquad
        \hat\theta_{t+1} = \hat\theta_t + \frac1n \sum_{i \in S_t} y_i a_i \quad (t \ge 1),

    with :math:`S_t = \{i : y_i a_i^\top\hat\theta_t \le 0\}`. The first step weighs every
    sample by :math:`\sigma(0) = 1/2` (from :math:`\hat\theta_0 = 0`, as in the paper); once
    :math:`S_t = \emptyset` the iterate stays put. Thm 3.3 bounds the iterations by
    :math:`nR^2/\mu^2` (:func:`batch_perceptron_bound`).

    Returns:
      A hyperparameter-free :class:`~jaxrank.optim.Solver`; the state is
      :class:`PerceptronState`.

    References:
      Tyurin 2024, §3 ("Batch Perceptron", Thm 3.2, Thm 3.3).
    """

    def update(theta, state, features, labels):
        m = margins(theta, features, labels)
        mistakes = m <= 0
        first = state.count == 0
        weights = jnp.where(first, 0.5, mistakes.astype(features.dtype))
        step = _signed(features, labels, weights) / m.shape[0]
        return theta + step, PerceptronState(
            state.count + 1, jnp.sum(mistakes).astype(jnp.int32)
        )

    return Solver(_perceptron_init("batch_perceptron"), update)


@cached_factory
def normalized_batch_perceptron() -> Solver:
    r"""Normalized Batch Perceptron: the mistakes' mean direction.

    Data: ``run(solver, theta0, T, features, labels)`` with ``features`` (n, d) and
    ``labels`` in {-1, +1} (a {0, 1} encoding raises ValueError in ``init``, before ``run``
    or :func:`jaxrank.sweep.sweep` traces).

    .. math::
        \hat\theta_{t+1} = \hat\theta_t + \frac{1}{|S_t|}\sum_{i\in S_t} y_i a_i \quad (t \ge 0),

    and :math:`\hat\theta_{t+1} = \hat\theta_t` once :math:`S_t = \emptyset`. Thm 5.3 bounds
    its iterations by :math:`R^2/\mu^2` (:func:`novikoff_bound`).

    References:
      Tyurin 2024, §5 ("Normalized Batch Perceptron", Thm 5.3).
    """

    def update(theta, state, features, labels):
        m = margins(theta, features, labels)
        mistakes = m <= 0
        k = jnp.sum(mistakes)
        step = _signed(features, labels, mistakes.astype(features.dtype))
        step = step / jnp.maximum(k, 1).astype(features.dtype)  # Σ_{S_t} y_i a_i / |S_t|
        return theta + step, PerceptronState(state.count + 1, k.astype(jnp.int32))

    return Solver(_perceptron_init("normalized_batch_perceptron"), update)


@cached_factory
def perceptron(choice: Literal["first", "worst"] = "first") -> Solver:
    r"""The classical (Rosenblatt) perceptron: one mistaken sample per update.

    Data: ``run(solver, theta0, T, features, labels)`` with ``features`` (n, d) and
    ``labels`` in {-1, +1} (a {0, 1} encoding raises ValueError in ``init``, before ``run``
    or :func:`jaxrank.sweep.sweep` traces).

    .. math::
        \hat\theta_{t+1} = \hat\theta_t + y_j a_j, \qquad j \in S_t .

    The paper leaves the choice of :math:`j` open: ``"first"`` takes the smallest index in
    :math:`S_t`, ``"worst"`` the most negative margin (ties to the smallest index). Novikoff's
    theorem (Thm 5.2) bounds the number of updates by :math:`R^2/\mu^2`.

    Args:
      choice: the rule picking :math:`j \in S_t`.

    References:
      Rosenblatt 1958; Novikoff 1962; Tyurin 2024, Thm 5.2.
    """
    _checks.check_one_of(choice, ("first", "worst"), "perceptron(choice=...)")

    def update(theta, state, features, labels):
        m = margins(theta, features, labels)
        mistakes = m <= 0
        j = jnp.argmax(mistakes) if choice == "first" else jnp.argmin(m)
        any_mistake = jnp.any(mistakes)
        y_j = labels[j].astype(features.dtype)
        step = jnp.where(any_mistake, y_j, jnp.zeros((), features.dtype)) * features[j]
        return theta + step, PerceptronState(
            state.count + 1, jnp.sum(mistakes).astype(jnp.int32)
        )

    return Solver(_perceptron_init("perceptron"), update)


# --------------------------------------------------------------------------- separation


def _separated(theta, state, features, labels):
    """The stopping predicate of problem (1): every margin strictly positive."""
    return jnp.all(margins(theta, features, labels) > 0)


def _started_separated(theta, state, features, labels):
    """Problem (1) held at the iterate the last update started from (read from the state)."""
    return state.num_mistakes == 0


def iterations_to_separate(
    solver: Solver, features: jax.Array, labels: jax.Array, *, max_iters: int
) -> jax.Array:
    r"""First :math:`t \ge 0` with :math:`y_i a_i^\top\theta_t > 0` for all :math:`i`, from
    :math:`\theta_0 = 0`; ``-1`` if no :math:`t \le` ``max_iters`` solves problem (1).

    The test runs *before* the update at step :math:`t`, so a method done after two updates
    returns 2 (the paper's Table 1 convention). One ``lax.while_loop`` under ``jit``
    (:func:`~jaxrank.optim.run_until`); vmap it over step sizes by building the solver inside
    the mapped function.

    Cost: the solvers of this module record :math:`|S(\theta_t)|` of the iterate each update
    starts from (``state.num_mistakes``), computed from the margins the update needs anyway, so
    the test costs no extra pass over ``A``: the loop runs one update past the answer and reads
    the count from the state. Each iteration then reads ``A`` twice (:math:`A\theta_t` and
    :math:`A^\top r`) for LR+GD and the batch methods and once for the Perceptron, instead of
    once more for a separate test. The count is the same number either way (the same margins
    decide it). A solver whose state has no ``num_mistakes`` field is tested on the margins of
    each iterate instead.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxrank.optim import perceptron as P
      >>> A = jnp.array([[0.5, -1.0]] + [[-0.5, -1.0]] * 9); y = jnp.array([1.0] + [-1.0] * 9)
      >>> jax.vmap(lambda g: P.iterations_to_separate(P.normalized_lr_gd(g), A, y,
      ...                                             max_iters=1000))(jnp.array([100.0, 1.0]))
      Array([2, 7], dtype=int32)

    Args:
      solver: a perceptron-family :class:`~jaxrank.optim.Solver`.
      features: ``A``, shape ``(n, d)``.
      labels: ``y``, shape ``(n,)``, in {-1, +1}.
      max_iters: the iteration cap (static int).

    Returns:
      int32 scalar: the iteration count, or -1.

    Exactness: counts are exact where the trajectory is stable (small steps, the perceptrons,
    the worst-case data of Thm 5.1). Large-step runs are chaotic: each loss spike amplifies
    rounding, so the count can change by a few iterations with the summation order (``vmap``
    versus a single run, the row order of ``features``, the device) and with the precision
    (float32 versus float64; enable ``jax_enable_x64`` in your script for the paper's numbers).
    Report such counts as a distribution (e.g. over seeded row permutations), not one number.
    """
    _checks.check_positive_int(max_iters, "iterations_to_separate(max_iters=...)")
    theta0 = jnp.zeros(jnp.shape(features)[1:], jnp.result_type(features))
    state = jax.eval_shape(solver.init, theta0, features, labels)
    if not hasattr(state, "num_mistakes"):
        return run_until(solver, theta0, _separated, features, labels, max_steps=max_iters)[2]
    # After s updates the state holds |S(θ_{s-1})|: tests θ_0..θ_max_iters, as above.
    steps = run_until(solver, theta0, _started_separated, features, labels,
                      max_steps=max_iters + 1)[2]
    return jnp.where(steps > 0, steps - 1, -1).astype(jnp.int32)


# --------------------------------------------------------------------------- bounds


def batch_perceptron_bound(*, n: Any, radius: Any, mu: Any) -> Any:
    r"""Thm 3.3: Batch Perceptron solves (1) within :math:`n R^2/\mu^2` iterations.

    Keyword-only (``n``: samples, ``radius``: :math:`R = \max_i\|a_i\|`, ``mu``: margin
    :math:`\mu`), so swapped arguments cannot silently give a wrong bound.

    Example:
      >>> batch_perceptron_bound(n=1000, radius=1.0, mu=0.5)
      4000.0
    """
    return n * radius**2 / mu**2


def novikoff_bound(*, radius: Any, mu: Any) -> Any:
    r"""Thm 5.2 / 5.3: Perceptron and Normalized Batch Perceptron need :math:`\le R^2/\mu^2`.

    Keyword-only (``radius``: :math:`R`, ``mu``: :math:`\mu`).

    Example:
      >>> novikoff_bound(radius=1.0, mu=0.5)
      4.0
    """
    return radius**2 / mu**2


@_checks.renamed(step_size="learning_rate")
def normalized_lr_gd_bound(*, radius: Any, mu: Any, n: Any, learning_rate: Any) -> Any:
    r"""Thm 6.1: Normalized LR+GD needs :math:`\le R^2/\mu^2 + 2\log(2n-1)/(\gamma\mu^2)`.

    Keyword-only (``radius``: :math:`R`, ``mu``: :math:`\mu`, ``n``: samples, ``learning_rate``:
    :math:`\gamma`), so it cannot be confused with :func:`batch_perceptron_bound`'s order.

    Example:
      >>> round(float(normalized_lr_gd_bound(radius=1.0, mu=0.5, n=1, learning_rate=1.0)), 6)
      4.0
    """
    return radius**2 / mu**2 + 2.0 * jnp.log(2.0 * n - 1.0) / (learning_rate * mu**2)
