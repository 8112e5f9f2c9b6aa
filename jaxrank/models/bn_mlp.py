r"""A tiny batch-normalised MLP trained with minibatch Adam, in pure JAX (the AnyLoss MLP).

The official AnyLoss MLP (Han, Moniz, Chawla, KDD 2024; Keras code ``doheonhan/anyloss``) is

.. math::
    h = x W_1 + b_1 \in \mathbb R^{H},\quad
    \tilde h = \gamma \odot \frac{h - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta,\quad
    z = \sigma(\tilde h)^\top w_2 + b_2,

i.e. ``Dense(H=2, he_normal) → BatchNorm → sigmoid → Dense(1)``, whose output :math:`z` is a
logit (the sigmoid output unit is folded into the losses, which take logits) or, for the MSE
baseline, the linear output itself. It is trained with Adam for a number of epochs on shuffled
minibatches of a fraction of the training set.

Everything takes a row mask ``where`` so that data sets, folds and padding ``vmap``: masked rows
never enter a batch, and batch-norm statistics are means over the unmasked rows only
(:func:`masked_batch_norm`). Initialisation and shuffling are drawn per feature / per row index
(threefry is prefix-stable), so padding a data set with zero columns or empty rows leaves its
training trajectory unchanged (tested).

Keras conventions kept: batch norm with ``momentum = 0.99`` and ``epsilon = 1e-3``, batch
statistics (biased variance) in training and the moving averages at inference; Adam with
``epsilon = 1e-7``; ``he_normal`` (truncated normal, fan-in of the real features) for
:math:`W_1`, ``glorot_uniform`` for :math:`w_2`, zero biases; the training set is reshuffled
every epoch and the last minibatch of an epoch may be partial. Reading [UNVERIFIED]: the
minibatch size is :math:`\max(1, \lfloor f\, n_{train} \rfloor)` for a batch fraction
:math:`f` (the official code's "5 % of the training fold").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxrank import _checks
from jaxrank.optim import Solver, run

__all__ = [
    "BNMLPParams",
    "BatchNormStats",
    "BNMLPState",
    "masked_batch_norm",
    "random_row_order",
    "init_bn_mlp",
    "bn_mlp_apply",
    "bn_mlp_solver",
    "fit_bn_mlp",
]

LossFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
_TRUNC_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]


class BNMLPParams(NamedTuple):
    """Trainable parameters: ``w1 (d, H)``, ``b1 (H,)``, batch-norm ``scale``/``offset``
    :math:`\\gamma, \\beta` ``(H,)``, output weights ``w2 (H,)`` and bias ``b2 ()``."""

    w1: jax.Array
    b1: jax.Array
    scale: jax.Array
    offset: jax.Array
    w2: jax.Array
    b2: jax.Array


class BatchNormStats(NamedTuple):
    """Moving averages of the batch-norm mean and variance, ``(H,)`` each."""

    mean: jax.Array
    var: jax.Array


class BNMLPState(NamedTuple):
    """Training state: optimizer steps taken, Adam state, moving batch-norm statistics, and the
    loss of the last minibatch."""

    count: jax.Array
    opt_state: Any
    stats: BatchNormStats
    loss: jax.Array


_ORDER_INDEX_BITS = 16  # row-index bits of a sort key while n <= 2**16 (fixed: padding-stable)


def random_row_order(key: jax.Array, n: int) -> jax.Array:
    r"""A uniformly random order of ``n`` rows, drawn per row index, by single-key sorts.

    Round :math:`r` draws 32 random bits per *row* (threefry, so row :math:`i`'s bits do not depend
    on ``n``), keeps the high :math:`32 - k` of them and puts the row's position in the current
    order in the low :math:`k` bits; one sort of these ``uint32`` keys orders the rows by their
    draws, ties broken by the previous round's order. After :math:`R` rounds two rows keep an
    order not set by the draws only if they tied in every round, probability
    :math:`2^{-R(32-k)}` per pair; :math:`R` is the smallest with
    :math:`2^{R(32-k)} \ge n^3`, the criterion of ``jax.random.permutation``
    (:math:`k = 16`, :math:`R = 3` for every :math:`n \le 2^{16}`: at most
    :math:`n^2/2 \cdot 2^{-48} \approx 1.4\cdot 10^{-7}` such pairs per draw at
    :math:`n = 9000`; the float32 ``argsort(uniform)`` it replaces left about :math:`n^2 2^{-24}
    \approx 4.8` ties to the row index). One-operand sorts are what make it fast: on XLA:CPU a
    key–value sort (``argsort``) of :math:`10^4` rows cost about 5–7× one sort of packed keys
    in our measurements, so the three rounds together take about half of one ``argsort``.

    Because every draw belongs to a row and ties follow the previous order, appending rows
    (padding) leaves the relative order of the original rows unchanged while :math:`n \le 2^{16}`
    (above, :math:`k = \lceil \log_2 n \rceil`, stable within a power-of-two bracket).

    Args:
      key: a ``jax.random`` key.
      n: number of rows (static), at most :math:`2^{31}`.

    Returns:
      ``int32`` array of shape ``(n,)``, a permutation of ``0 … n-1``.

    Example:
      >>> import jax, numpy as np
      >>> order = random_row_order(jax.random.key(0), 5)
      >>> sorted(np.asarray(order).tolist())
      [0, 1, 2, 3, 4]
    """
    _checks.check_positive_int(n, "random_row_order(n=...)")
    n = int(n)
    if n > 2**31:
        raise ValueError(f"`random_row_order(n=...)` must be at most 2**31, got {n}")
    # k and R depend on n only above 2**16, so padding below it draws the same order
    k = max(_ORDER_INDEX_BITS, math.ceil(math.log2(n)))
    rounds = math.ceil(3 * k / (32 - k))
    low = jnp.uint32((1 << k) - 1)
    position = jax.lax.iota(jnp.uint32, n)
    first, *later = jax.random.split(key, rounds)
    # round 1: rows are in index order, so a row's draw is at its own position (no gathers)
    order = jax.lax.sort((jax.random.bits(first, (n,), jnp.uint32) & ~low) | position) & low
    for round_key in later:
        draws = jax.random.bits(round_key, (n,), jnp.uint32)[order]
        order = order[jax.lax.sort((draws & ~low) | position) & low]
    return order.astype(jnp.int32)


def masked_batch_norm(
    h: jax.Array,
    scale: jax.Array,
    offset: jax.Array,
    *,
    where: jax.Array | None = None,
    epsilon: float = 1e-3,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""Batch normalisation with the statistics of the unmasked rows only.

    .. math::
        \mu = \frac{\sum_i w_i h_i}{\sum_i w_i},\quad
        \sigma^2 = \frac{\sum_i w_i (h_i - \mu)^2}{\sum_i w_i},\quad
        \tilde h_i = \gamma \frac{h_i - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta.

    Args:
      h: pre-activations, shape ``(n, H)``.
      scale, offset: :math:`\gamma, \beta`, shape ``(H,)``.
      where: optional ``(n,)`` boolean row mask (padding, rows outside the minibatch).
      epsilon: :math:`\epsilon` (Keras default 1e-3).

    Returns:
      ``(h_tilde, mu, sigma2)``; masked rows are normalised too (with the unmasked statistics).

    Example:
      >>> import jax.numpy as jnp
      >>> h = jnp.array([[1.0], [3.0], [100.0]])
      >>> out, mu, var = masked_batch_norm(h, jnp.ones(1), jnp.zeros(1),
      ...                                  where=jnp.array([True, True, False]))
      >>> float(mu[0]), float(var[0])
      (2.0, 1.0)
    """
    w = (jnp.ones(h.shape[:1], h.dtype) if where is None else where.astype(h.dtype))[:, None]
    count = jnp.maximum(jnp.sum(w), 1.0)
    mu = jnp.sum(w * h, axis=0) / count
    var = jnp.sum(w * (h - mu[None]) ** 2, axis=0) / count
    out = (scale * jax.lax.rsqrt(var + epsilon))[None] * (h - mu[None]) + offset[None]
    return out, mu, var


def init_bn_mlp(
    key: jax.Array,
    num_features: int | jax.Array,
    *,
    hidden: int = 2,
    max_features: int | None = None,
    dtype: Any = None,
) -> BNMLPParams:
    r"""Keras-style initial parameters: :math:`W_1` he_normal, :math:`w_2` glorot_uniform.

    :math:`W_1[i, j] \sim \mathcal N_{[-2, 2]}(0, 1) \cdot \sqrt{2 / d} / 0.8796` (truncated
    normal, fan-in :math:`d` = ``num_features``), :math:`w_2 \sim U(\pm\sqrt{6 / (H + 1)})`,
    :math:`\gamma = 1`, biases and :math:`\beta` zero.

    Args:
      key: PRNG key.
      num_features: the real number of features :math:`d` (may be traced, for padded sets).
      hidden: :math:`H` (official: 2).
      max_features: padded width (static); rows ``≥ num_features`` of :math:`W_1` are zero and
        the others do not depend on the padding. Default ``num_features``.
      dtype: float dtype (default: JAX's default float).

    Example:
      >>> import jax
      >>> p = init_bn_mlp(jax.random.key(0), 3, max_features=5)
      >>> p.w1.shape, float(abs(p.w1[3:]).sum())
      ((5, 2), 0.0)
    """
    _checks.check_positive_int(hidden, "init_bn_mlp(hidden=...)")
    width = num_features if max_features is None else max_features
    _checks.check_positive_int(width, "init_bn_mlp(max_features=...)")
    if _checks.is_concrete(num_features):
        _checks.check_positive_int(int(num_features), "init_bn_mlp(num_features=...)")
        if int(num_features) > width:
            raise ValueError(f"`init_bn_mlp(num_features=...)` must be at most max_features="
                             f"{width}, got {int(num_features)}")
    dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
    k1, k2 = jax.random.split(key)
    d = jnp.asarray(num_features, dtype)
    # per-index draws (threefry is prefix-stable): padding does not change the real rows
    w1 = jax.random.truncated_normal(k1, -2.0, 2.0, (width, hidden), dtype)
    w1 = w1 * (jnp.sqrt(2.0 / d) / _TRUNC_STD)
    w1 = jnp.where(jnp.arange(width)[:, None] < num_features, w1, 0.0)
    lim = math.sqrt(6.0 / (hidden + 1))
    w2 = jax.random.uniform(k2, (hidden,), dtype, -lim, lim)
    zeros = jnp.zeros(hidden, dtype)
    return BNMLPParams(w1, zeros, jnp.ones(hidden, dtype), zeros, w2, jnp.zeros((), dtype))


def bn_mlp_apply(
    params: BNMLPParams,
    stats: BatchNormStats,
    x: jax.Array,
    *,
    train: bool,
    where: jax.Array | None = None,
    momentum: float = 0.99,
    epsilon: float = 1e-3,
) -> tuple[jax.Array, BatchNormStats]:
    r"""Output :math:`z` of the MLP on rows ``x (n, d)``, and the updated moving statistics.

    ``train=True`` normalises with the statistics of the unmasked rows and returns
    :math:`\bar\mu \leftarrow m\bar\mu + (1 - m)\mu` (same for :math:`\sigma^2`);
    ``train=False`` normalises with the moving statistics and returns them unchanged.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> p = init_bn_mlp(jax.random.key(0), 3)
      >>> s = BatchNormStats(jnp.zeros(2), jnp.ones(2))
      >>> z, s2 = bn_mlp_apply(p, s, jnp.ones((4, 3)), train=False)
      >>> z.shape
      (4,)
    """
    h = x @ params.w1 + params.b1[None]
    if train:
        ht, mu, var = masked_batch_norm(h, params.scale, params.offset, where=where,
                                        epsilon=epsilon)
        stats = BatchNormStats(momentum * stats.mean + (1 - momentum) * mu,
                               momentum * stats.var + (1 - momentum) * var)
    else:
        inv = params.scale * jax.lax.rsqrt(stats.var + epsilon)
        ht = inv[None] * (h - stats.mean[None]) + params.offset[None]
    return jax.nn.sigmoid(ht) @ params.w2 + params.b2, stats


def bn_mlp_solver(
    loss_fn: LossFn,
    *,
    learning_rate: float | jax.Array,
    batch_fraction: float | jax.Array,
    max_batch_fraction: float | None = None,
    momentum: float = 0.99,
    epsilon: float = 1e-3,
    adam_epsilon: float = 1e-7,
    num_models: int | None = None,
) -> Solver:
    r"""One *epoch* of minibatch Adam per ``update``: a :class:`~jaxrank.optim.Solver`.

    ``update(params, state, x, y, train_mask, key)`` shuffles the training rows
    (``train_mask``) with ``key``, cuts them into :math:`\lceil n_{train}/b \rceil` minibatches
    of :math:`b = \max(1, \lfloor f\, n_{train} \rfloor)` rows (the last may be partial), and
    takes one Adam step per minibatch on ``loss_fn(z, y_batch, valid)`` (a scalar of the batch's
    outputs, labels and row mask), updating the moving batch-norm statistics. Drive it with
    ``jaxrank.optim.run(solver, params, epochs, x, y, train_mask, key=key)``.

    Args:
      loss_fn: ``loss_fn(outputs (b,), labels (b,), where (b,)) -> scalar``.
      learning_rate: Adam step size :math:`\eta` (may be traced).
      batch_fraction: :math:`f \in (0, 1]` (may be traced when ``max_batch_fraction`` is given).
      max_batch_fraction: static upper bound on :math:`f`; it fixes the padded minibatch shape
        :math:`\lceil f_{max} n \rceil` (``n`` = rows of ``x``, padding included). Default
        ``batch_fraction``, which must then be a Python number.
      momentum, epsilon: batch-norm moving-average momentum and :math:`\epsilon`.
      adam_epsilon: Adam's :math:`\hat\epsilon` (Keras 1e-7).
      num_models: train this many independent models :math:`M` at once on the *same*
        minibatches (static; default ``None``: one model). Parameters, Adam state and moving
        statistics then carry a leading model axis of length :math:`M` (stack the initial
        parameters), ``learning_rate`` may be an array of shape ``(M,)``, and ``loss_fn``
        receives the outputs of all models, shape ``(M, b)``, and returns the *sum* of the
        models' losses, each a function of its own row only (e.g. one loss per model): model
        :math:`m` then takes exactly the steps it would take alone. ``state.loss`` is that sum.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> loss = lambda z, y, w: jnp.sum(w * (z - y) ** 2) / jnp.sum(w)
      >>> solver = bn_mlp_solver(loss, learning_rate=0.01, batch_fraction=0.5)
      >>> x, y = jnp.ones((6, 3)), jnp.ones(6)
      >>> p, s, _ = run(solver, init_bn_mlp(jax.random.key(0), 3), 2, x, y, jnp.ones(6, bool),
      ...               key=jax.random.key(1))
      >>> int(s.count)  # 2 epochs × 2 minibatches of 3 rows
      4
    """
    if not callable(loss_fn):
        raise TypeError(f"`bn_mlp_solver(loss_fn=...)` must be callable, got {type(loss_fn)}")
    fmax = batch_fraction if max_batch_fraction is None else max_batch_fraction
    if isinstance(fmax, bool) or not isinstance(fmax, (int, float)) or not 0 < fmax <= 1:
        name = "batch_fraction" if max_batch_fraction is None else "max_batch_fraction"
        raise ValueError(f"`bn_mlp_solver({name}=...)` must be a Python number in (0, 1], "
                         f"got {fmax!r}")
    if _checks.is_concrete(batch_fraction) and not 0 < float(batch_fraction) <= fmax:
        raise ValueError(f"`bn_mlp_solver(batch_fraction=...)` must lie in (0, {fmax}], got "
                         f"{float(batch_fraction)}")
    _checks.check_positive(learning_rate, "bn_mlp_solver(learning_rate=...)")
    if num_models is not None:
        _checks.check_positive_int(num_models, "bn_mlp_solver(num_models=...)")
    shapes = ((),) if num_models is None else ((), (num_models,))
    if jnp.shape(learning_rate) not in shapes:
        raise ValueError("`bn_mlp_solver(learning_rate=...)` must be a scalar" + (
            "" if num_models is None else f" or have shape ({num_models},)") +
            f", got shape {jnp.shape(learning_rate)}")
    if num_models is None:
        optimizer = optax.adam(learning_rate, eps=adam_epsilon)
        init_opt, apply = optimizer.init, bn_mlp_apply
        update_opt = optimizer.update
    else:
        lrs = jnp.broadcast_to(jnp.asarray(learning_rate), (num_models,))

        def _adam_update(grads, opt_state, params, lr):
            return optax.adam(lr, eps=adam_epsilon).update(grads, opt_state, params)

        init_opt = jax.vmap(optax.adam(1.0, eps=adam_epsilon).init)  # the state has no lr

        def update_opt(grads, opt_state, params):
            return jax.vmap(_adam_update)(grads, opt_state, params, lrs)

        def apply(p, stats, x, **kw):
            return jax.vmap(lambda p_, s_: bn_mlp_apply(p_, s_, x, **kw))(p, stats)

    def init(params, *args):
        dtype = params.w1.dtype
        h = params.b1.shape  # (H,), or (M, H) for num_models
        return BNMLPState(jnp.zeros((), jnp.int32), init_opt(params),
                          BatchNormStats(jnp.zeros(h, dtype), jnp.ones(h, dtype)),
                          jnp.full((), jnp.nan, dtype))

    def update(params, state, x, y, train_mask, key):
        n = x.shape[0]
        max_batch = max(1, math.ceil(fmax * n))
        n_train = jnp.sum(train_mask.astype(jnp.int32))
        b = jnp.maximum(1, jnp.floor(batch_fraction * n_train).astype(jnp.int32))
        # training rows first, in a random order drawn per row index (random_row_order); the
        # sort does not see the mask, so it is shared by whatever is vmapped over masks (data
        # sets, padding); the mask only enters a linear-time stable partition.
        perm = random_row_order(key, n)
        is_train = train_mask[perm]
        dest = jnp.where(is_train, jnp.cumsum(is_train) - 1, n_train + jnp.cumsum(~is_train) - 1)
        order = jnp.zeros_like(perm).at[dest].set(perm, unique_indices=True)
        offsets = jnp.arange(max_batch)

        def minibatch(j, carry):
            params, count, opt_state, stats, _ = carry
            pos = j * b + offsets
            valid = (offsets < b) & (pos < n_train)
            idx = order[jnp.minimum(pos, n - 1)]
            xb, yb = x[idx], y[idx]

            def objective(p):
                z, new_stats = apply(p, stats, xb, train=True, where=valid,
                                     momentum=momentum, epsilon=epsilon)
                return loss_fn(z, yb, valid), new_stats

            (loss, stats), grads = jax.value_and_grad(objective, has_aux=True)(params)
            updates, opt_state = update_opt(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            return params, count + 1, opt_state, stats, loss.astype(state.loss.dtype)

        carry = (params, state.count, state.opt_state, state.stats, state.loss)
        params, *rest = jax.lax.fori_loop(0, (n_train + b - 1) // b, minibatch, carry)
        return params, BNMLPState(*rest)

    def validate(params, x, y, train_mask, *step):
        # ``loss_fn`` once, eagerly, on every row (run calls this before tracing, on concrete
        # data only): its own checks (labels in {0, 1} for AnyLoss/BCE) raise their message.
        dtype = params.w1.dtype
        h = params.b1.shape
        stats = BatchNormStats(jnp.zeros(h, dtype), jnp.ones(h, dtype))
        z, _ = apply(params, stats, x, train=False)
        loss_fn(z, y, train_mask)

    return Solver(init, update, validate)


def fit_bn_mlp(
    loss_fn: LossFn,
    params: BNMLPParams,
    x: jax.Array,
    y: jax.Array,
    train_mask: jax.Array,
    *,
    key: jax.Array,
    learning_rate: float | jax.Array,
    batch_fraction: float | jax.Array,
    epochs: int,
    **kwargs: Any,
) -> tuple[BNMLPParams, BNMLPState]:
    r"""Train the MLP for ``epochs`` epochs of minibatch Adam (:func:`bn_mlp_solver`).

    Epoch :math:`t` shuffles with ``fold_in(key, t)``. ``kwargs`` go to :func:`bn_mlp_solver`.
    On concrete data, ``loss_fn`` is first evaluated once on every row (eagerly, result
    discarded), so its own checks (labels in {0, 1} for AnyLoss/BCE) raise before training.
    Returns the final parameters and :class:`BNMLPState` (its ``stats`` are the moving
    batch-norm statistics used by ``bn_mlp_apply(..., train=False)``).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> x = jax.random.normal(jax.random.key(0), (40, 2)); y = (x[:, 0] > 0).astype(float)
      >>> loss = lambda z, y, w: jnp.sum(w * (jax.nn.softplus(z) - y * z)) / jnp.sum(w)
      >>> p, s = fit_bn_mlp(loss, init_bn_mlp(jax.random.key(1), 2), x, y, jnp.ones(40, bool),
      ...                   key=jax.random.key(2), learning_rate=0.05, batch_fraction=0.25,
      ...                   epochs=30)
      >>> z, _ = bn_mlp_apply(p, s.stats, x, train=False)
      >>> float(jnp.mean((z > 0) == (y > 0))) > 0.9
      True

    References:
      Han, Moniz, Chawla (KDD 2024), the MLP of the official code (Dense(2) → BatchNorm →
      sigmoid → Dense(1), Adam, 100 epochs, minibatches of 5 % of the training fold).
    """
    _checks.check_positive_int(epochs, "fit_bn_mlp(epochs=...)")
    solver = bn_mlp_solver(loss_fn, learning_rate=learning_rate, batch_fraction=batch_fraction,
                           **kwargs)
    params, state, _ = run(solver, params, epochs, x, y, train_mask, key=key)
    return params, state
