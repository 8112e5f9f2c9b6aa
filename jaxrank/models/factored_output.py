r"""Output layers for very many classes: the exact O(d²) factored spherical layer and baselines.

Three layers share one functional interface, :class:`OutputLayer` ``(init, forward, update,
weights)``, for the last linear map :math:`o = W h` (:math:`W \in \mathbb{R}^{D \times d}`)
trained by plain SGD on a loss summed over the minibatch (the convention of the official
``lst`` op):

* :func:`factored_output_layer` — Vincent et al. (2015): :math:`W = V U + 1\omega^\top` is never
  formed; loss, :math:`\nabla_h L` and the exact SGD update cost :math:`O(d^2)` per example
  (:math:`O(m d^2 + m^2 d)` per minibatch, Woodbury), independent of :math:`D`, for any loss of
  the spherical family (:func:`jaxrank.losses.spherical_stats_loss`);
* :func:`naive_output_layer` — the :math:`O(Dd)` reference with identical semantics (computes
  :math:`o`, the gradient :math:`G`, :math:`G W` and :math:`W - \eta G^\top H`); it also takes
  the non-spherical log-softmax;
* :func:`hierarchical_softmax_layer` — a 2-level hierarchical softmax
  (:math:`\lceil\sqrt D\rceil` clusters), :math:`O(\sqrt D d)` per example.

Run many steps with :func:`scan_updates`, which jits a ``lax.scan`` over minibatches with the
state's buffers **donated**, so the row update ``V.at[c].add(...)`` happens in place. Without
donation XLA copies :math:`V` (:math:`D \times d`) on every call and the method silently becomes
:math:`O(Dd)` again.

References:
  P. Vincent, A. de Brébisson, X. Bouthillier, "Efficient Exact Gradient Update for training
  Deep Networks with Very Large Sparse Targets", NIPS 2015, Sec. 3 (Algorithm 1) and its
  extension arXiv:1606.08061 (spherical family, Woodbury minibatch update); official code
  ``pascal20100/factored_output_layer`` (``TFactoredSphericalLayer.h``).
  A. de Brébisson, P. Vincent, arXiv:1604.08859 (Z-loss, One Billion Word timing, Sec. 4).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrank import _checks, _validate
from jaxrank._cache import _Static
from jaxrank.losses import spherical as S

__all__ = [
    "FactoredState",
    "NaiveState",
    "HSoftmaxState",
    "OutputLayer",
    "factored_output_layer",
    "naive_output_layer",
    "hierarchical_softmax_layer",
    "scan_updates",
    "unfactorize",
]


class FactoredState(NamedTuple):
    r"""State of the factored layer: :math:`W = V U + 1\omega^\top` with its bookkeeping.

    Attributes:
      V: ``(D, d)`` the factor whose rows the sparse target part updates.
      U: ``(d, d)`` the multiplicative factor.
      U_inv_T: ``(d, d)`` :math:`U^{-\top}`, kept by Sherman–Morrison/Woodbury updates.
      Q: ``(d, d)`` the Gram matrix :math:`W^\top W`.
      omega: ``(d,)`` :math:`\omega`, the dense "all-ones" part of :math:`W`.
      w_bar: ``(d,)`` :math:`\bar w = W^\top 1`, the sum of the rows of :math:`W`.
      step: number of updates done (int32 scalar).
    """

    V: jax.Array
    U: jax.Array
    U_inv_T: jax.Array
    Q: jax.Array
    omega: jax.Array
    w_bar: jax.Array
    step: jax.Array


class NaiveState(NamedTuple):
    """State of the naive layer: the explicit ``(D, d)`` weight matrix and a step counter."""

    W: jax.Array
    step: jax.Array


class HSoftmaxState(NamedTuple):
    """2-level hierarchical softmax: cluster weights ``(C, d)``, within-cluster ``(C, K, d)``."""

    W1: jax.Array
    W2: jax.Array
    step: jax.Array


class OutputLayer(NamedTuple):
    """A functional output layer.

    Attributes:
      init: ``init(W) -> state`` from an explicit ``(D, d)`` matrix (the hierarchical softmax
        takes ``init(key, dim, dtype)``).
      forward: ``forward(state, h, labels) -> (loss, grad_h)``; ``h`` is ``(m, d)``, ``labels``
        ``(m,)``; ``loss`` per example ``(m,)`` and ``grad_h`` ``(m, d)``.
      update: ``update(state, h, labels) -> (state, loss, grad_h)``: forward, backward and one
        SGD step :math:`W \\leftarrow W - \\eta \\sum_i g_i h_i^\\top` on the summed loss.
      weights: ``weights(state) -> W`` ``(D, d)``, the explicit matrix (O(Dd); for tests).
    """

    init: Callable[..., Any]
    forward: Callable[..., tuple[jax.Array, jax.Array]]
    update: Callable[..., tuple[Any, jax.Array, jax.Array]]
    weights: Callable[[Any], jax.Array]


def _stats_loss(loss: str | Callable, hyper: dict[str, Any], fn: str) -> Callable:
    if callable(loss):
        if hyper:
            raise TypeError(f"`{fn}(loss=<callable>)` takes no hyperparameters, got {hyper}")
        return loss
    if loss not in S.SPHERICAL_LOSSES:
        raise ValueError(
            f"`{fn}(loss=...)` must be one of {S.SPHERICAL_LOSSES} (a spherical loss) or a "
            f"callable F(s, q, o_c, D), got {loss!r}"
        )
    return S.spherical_stats_loss(loss, **hyper)


def _check_batch(h: Any, labels: Any, num_classes: int, fn: str, width: int | None = None
                 ) -> None:
    _checks.check_rank(h, 2, f"{fn}(h=...)")
    if width is not None and jnp.shape(h)[1] != width:
        raise ValueError(f"`{fn}(h=...)` must have width d = {width} (the columns of W), got "
                         f"shape {tuple(jnp.shape(h))}")
    _checks.check_rank(labels, 1, f"{fn}(labels=...)")
    _checks.check_same_leading_dim(h, labels, f"{fn}(h=...)", f"{fn}(labels=...)")
    S._check_labels(labels, num_classes, f"{fn}(labels=...)")


def _own(W: Any, copy: bool) -> jax.Array:
    """``W`` as a buffer the layer owns: :func:`scan_updates` donates the state, and a state
    sharing the caller's array would delete it (``RuntimeError: Array has been deleted`` far
    away). A concrete ``jax.Array`` is copied unless ``copy=False`` (the caller hands ``W``
    over: at :math:`D = 10^6` the copy doubles the memory of ``W`` while the caller holds it).
    NumPy input is copied to the device anyway."""
    if copy and isinstance(W, jax.Array) and _checks.is_concrete(W):
        return jnp.array(W, copy=True)
    return jnp.asarray(W)


def _check_matrix(W: Any, fn: str) -> None:
    _checks.check_rank(W, 2, f"{fn}(W=...)")
    _checks.check_floating(W, f"{fn}(W=...)")
    if W.shape[0] < 2:
        raise ValueError(f"`{fn}(W=...)` must have at least 2 rows (classes), got {W.shape}")


def _check_rate(learning_rate: Any, where: str) -> None:
    if not callable(learning_rate):  # else a schedule ``step -> η`` (an optax schedule)
        _checks.check_positive(learning_rate, where)


def _rate_at(learning_rate: Any, step: jax.Array, dtype: Any) -> Any:
    """η of the update with ``step`` updates done: a constant as it is (the computation is the
    one a constant always ran), a schedule evaluated at ``step`` in the weights' dtype."""
    if callable(learning_rate):
        return jnp.asarray(learning_rate(step), dtype)
    return learning_rate


# --------------------------------------------------------------------------- factored layer


def factored_output_layer(
    loss: str | Callable = "z_loss",
    *,
    learning_rate: float,
    stabilize_every: int = 100,
    **hyper: Any,
) -> OutputLayer:
    r"""The exact factored output layer of Vincent et al. (2015) for a spherical loss.

    With :math:`W = VU + 1\omega^\top`, :math:`Q = W^\top W`, :math:`\bar w = W^\top 1`, a
    minibatch :math:`H \in \mathbb{R}^{m\times d}` with targets :math:`c_i`:

    .. math::
        W_{c} = V_{c} U + \omega,\quad o_{c_i} = W_{c_i}\!\cdot h_i,\quad s_i = \bar w\cdot h_i,
        \quad q_i = h_i^\top Q h_i,

    loss :math:`L_i = F(s_i, q_i, o_{c_i})` with :math:`g_i = \alpha_i 1 + \beta_i o_i +
    \gamma_i e_{c_i}`, :math:`\nabla_{h_i} L = W^\top g_i = \alpha_i \bar w + \beta_i Q h_i +
    \gamma_i W_{c_i}`, and the SGD step :math:`W \leftarrow W - \eta \sum_i g_i h_i^\top`
    carried out as (:math:`B = \mathrm{diag}(\beta)`, :math:`Y = [\nabla_{h_i}L]_i`,
    :math:`(GG^\top)_{ij} = g_i\cdot g_j` from :math:`s, \alpha, \beta, \gamma`,
    :math:`HQH^\top` and :math:`o_i[c_j]`):

    .. math::
        Q &\leftarrow Q - \eta (H^\top Y + Y^\top H) + \eta^2 H^\top (G G^\top) H,\\
        \bar w &\leftarrow \bar w - \eta H^\top(\alpha D + \beta\odot s + \gamma),\\
        U &\leftarrow U (I - \eta H^\top B H),\qquad
        U^{-\top} \leftarrow U^{-\top} + \eta\, U^{-\top} H^\top (I_m - \eta B H H^\top)^{-1} B H,\\
        \omega &\leftarrow \omega - \eta\,(H^\top B H \omega + H^\top \alpha),\qquad
        V_{c_i} \leftarrow V_{c_i} - \eta \gamma_i\, U_{\text{new}}^{-\top} h_i.

    For :math:`m = 1` the :math:`U^{-\top}` update is Sherman–Morrison. Every
    ``stabilize_every`` updates :math:`U^{-\top}` is recomputed as :math:`\mathrm{inv}(U)^\top`
    (:math:`O(d^3)`) and :math:`Q` re-symmetrised, as the official code does periodically;
    :func:`unfactorize` (:math:`V \leftarrow VU`, :math:`O(Dd^2)`) is available for long runs.
    The official singular-value stabilisation of :math:`U` is not reproduced (our runs never
    needed it; a reasonable reading of "periodic numerical stabilisation").

    Args:
      loss: a name from :data:`jaxrank.losses.spherical.SPHERICAL_LOSSES` or a callable
        ``F(s, q, o_c, D)``.
      learning_rate: SGD step :math:`\eta > 0`, or a schedule ``step -> η`` (e.g. an
        ``optax`` schedule) of the updates done.
      stabilize_every: period (in updates) of the :math:`U^{-\top}` recomputation.
      **hyper: the loss's hyperparameters (``a``, ``b`` for the Z-loss; ``eps``).

    Returns:
      :class:`OutputLayer`; ``init(W)`` sets :math:`V = W, U = U^{-\top} = I, \omega = 0`,
      with ``V`` a copy of a caller's ``jax.Array`` (``init(W, copy=False)`` hands ``W`` over
      instead, saving one :math:`D \times d` buffer; :func:`scan_updates` then deletes it).

    Example:
      >>> import numpy as np
      >>> W = jnp.asarray(np.random.default_rng(0).normal(size=(50, 4)))
      >>> layer = factored_output_layer("z_loss", learning_rate=0.1)
      >>> state = layer.init(W)
      >>> update = jax.jit(layer.update)  # eagerly, each small op would compile on its own
      >>> state, loss, grad_h = update(state, jnp.ones((2, 4)), jnp.array([3, 7]))
      >>> loss.shape, grad_h.shape
      ((2,), (2, 4))

    References:
      NIPS 2015 Sec. 3.3–3.5 (updates of U, U^{-T}, Q, V); arXiv:1606.08061 (spherical family,
      ω and w̄, minibatch Woodbury).
    """
    fn = "factored_output_layer"
    stats_loss = _stats_loss(loss, hyper, fn)
    _check_rate(learning_rate, f"{fn}(learning_rate=...)")
    _checks.check_positive_int(stabilize_every, f"{fn}(stabilize_every=...)")

    def init(W: jax.Array, *, copy: bool = True) -> FactoredState:
        W = _own(W, copy)
        _check_matrix(W, f"{fn}.init")
        d = W.shape[1]
        # separate buffers (U and U^{-T} are donated separately under scan_updates)
        return FactoredState(
            V=W, U=jnp.eye(d, dtype=W.dtype), U_inv_T=jnp.array(jnp.eye(d, dtype=W.dtype)),
            Q=W.T @ W, omega=jnp.zeros(d, W.dtype),
            w_bar=jnp.sum(W, axis=0), step=jnp.zeros((), jnp.int32))

    def _forward(state: FactoredState, h: jax.Array, labels: jax.Array):
        D = state.V.shape[0]
        Wc = state.V[labels] @ state.U + state.omega[None]       # rows W_c = V_c U + ω, O(m d²)
        HQ = h @ state.Q
        s = h @ state.w_bar                                  # s = w̄·h
        q = jnp.sum(HQ * h, axis=-1)                         # q = hᵀ Q h
        o_c = jnp.sum(Wc * h, axis=-1)                       # o_c = W_c·h
        loss, al, be, ga = S.spherical_coefficients(stats_loss, s, q, o_c, D)
        grad_h = al[:, None] * state.w_bar[None] + be[:, None] * HQ + ga[:, None] * Wc  # ∇_h = Wᵀg
        return loss, grad_h, (Wc, HQ, s, o_c, al, be, ga)

    def forward(state: FactoredState, h: jax.Array, labels: jax.Array):
        _check_batch(h, labels, state.V.shape[0], f"{fn}.forward", state.U.shape[0])
        loss, grad_h, _ = _forward(state, h, labels)
        return loss, grad_h

    def update(state: FactoredState, h: jax.Array, labels: jax.Array):
        lr = _rate_at(learning_rate, state.step, state.V.dtype)
        D = state.V.shape[0]
        _check_batch(h, labels, D, f"{fn}.update", state.U.shape[0])
        loss, Y, (Wc, HQ, s, o_c, al, be, ga) = _forward(state, h, labels)
        m = h.shape[0]
        # Gram matrix of the output gradients, g_i·g_j, from O(m² d) quantities.
        OO = HQ @ h.T                                        # o_i·o_j = h_iᵀ Q h_j
        Oc = h @ Wc.T                                        # Oc[i, j] = o_i[c_j]
        same = (labels[:, None] == labels[None, :]).astype(h.dtype)
        GG = (D * jnp.outer(al, al) + jnp.outer(al, be * s) + jnp.outer(be * s, al)
              + jnp.outer(al, ga) + jnp.outer(ga, al) + jnp.outer(be, be) * OO
              + jnp.outer(be, ga) * Oc + jnp.outer(ga, be) * Oc.T + jnp.outer(ga, ga) * same)
        HtY = h.T @ Y
        Q = state.Q - lr * (HtY + HtY.T) + lr**2 * (h.T @ (GG @ h))          # step 1
        w_bar = state.w_bar - lr * h.T @ (al * D + be * s + ga)              # step 2
        BH = be[:, None] * h
        U = state.U - lr * (state.U @ h.T) @ BH                              # step 3: U(I-ηHᵀBH)
        K = jnp.eye(m, dtype=h.dtype) - lr * BH @ h.T                        # I_m - η B H Hᵀ
        U_inv_T = state.U_inv_T + lr * (state.U_inv_T @ h.T) @ jnp.linalg.solve(K, BH)
        omega = state.omega - lr * (BH.T @ (h @ state.omega) + h.T @ al)     # step 4
        rows = h @ U_inv_T.T                                                 # U_new^{-T} h_i
        V = state.V.at[labels].add(-lr * ga[:, None] * rows)                 # step 5 (in place)
        step = state.step + 1

        def stabilize(args):
            U_, U_inv_T_, Q_ = args
            return U_, jnp.linalg.inv(U_).T, 0.5 * (Q_ + Q_.T)

        U, U_inv_T, Q = jax.lax.cond(
            step % stabilize_every == 0, stabilize, lambda args: args, (U, U_inv_T, Q))
        return FactoredState(V, U, U_inv_T, Q, omega, w_bar, step), loss, Y

    def weights(state: FactoredState) -> jax.Array:
        return state.V @ state.U + state.omega[None]

    return OutputLayer(init, forward, update, weights)


def unfactorize(state: FactoredState) -> FactoredState:
    r"""Fold :math:`U` into :math:`V`: :math:`V \leftarrow VU`, :math:`U = U^{-\top} = I`
    (:math:`O(Dd^2)`; :math:`W`, :math:`Q`, :math:`\bar w`, :math:`\omega` unchanged).

    Example:
      >>> layer = factored_output_layer("squared_error", learning_rate=0.1)
      >>> st = layer.init(jnp.ones((3, 2)))
      >>> bool(jnp.allclose(layer.weights(unfactorize(st)), 1.0))
      True
    """
    d, dt = state.U.shape[0], state.U.dtype
    return state._replace(V=state.V @ state.U, U=jnp.eye(d, dtype=dt),
                          U_inv_T=jnp.array(jnp.eye(d, dtype=dt)))


# --------------------------------------------------------------------------- naive reference


def naive_output_layer(
    loss: str | Callable = "z_loss", *, learning_rate: float, **hyper: Any
) -> OutputLayer:
    r"""The :math:`O(Dd)` reference: explicit :math:`W`, the semantics of the official
    ``numpy_bprop_update``.

    .. math::
        O = H W^\top,\quad G = \frac{\partial \sum_i L(o_i, c_i)}{\partial O},\quad
        \nabla_H = G W,\quad W \leftarrow W - \eta\, G^\top H.

    :math:`G` comes from automatic differentiation of the *direct* loss (e.g.
    :func:`jaxrank.losses.z_loss`), so comparing with :func:`factored_output_layer` tests the
    statistics form and the closed-form coefficients independently.

    Args:
      loss: ``"log_softmax"`` or a spherical name, or a callable ``loss(logits, labels)``.
      learning_rate: SGD step :math:`\eta > 0`, or a schedule ``step -> η`` (e.g. an
        ``optax`` schedule) of the updates done.
      **hyper: the loss's hyperparameters.

    Example:
      >>> layer = naive_output_layer("log_softmax", learning_rate=0.1)
      >>> st, loss, gh = jax.jit(layer.update)(layer.init(jnp.zeros((5, 3))), jnp.ones((1, 3)),
      ...                                      jnp.array([2]))
      >>> round(float(loss[0]), 4)  # log 5
      1.6094
    """
    fn = "naive_output_layer"
    _check_rate(learning_rate, f"{fn}(learning_rate=...)")
    if callable(loss):
        direct = loss
    else:
        if loss not in (*S.SPHERICAL_LOSSES, "log_softmax"):
            raise ValueError(
                f"`{fn}(loss=...)` must be 'log_softmax', one of {S.SPHERICAL_LOSSES}, or a "
                f"callable, got {loss!r}"
            )
        direct = S.spherical_loss(loss, **hyper)

    def init(W: jax.Array, *, copy: bool = True) -> NaiveState:
        W = _own(W, copy)
        _check_matrix(W, f"{fn}.init")
        return NaiveState(W, jnp.zeros((), jnp.int32))

    def _fwd(state, h, labels):
        O = h @ state.W.T
        loss_, vjp = jax.vjp(lambda o: direct(o, labels), O)
        (G,) = vjp(jnp.ones_like(loss_))
        return loss_, G, G @ state.W

    def forward(state: NaiveState, h: jax.Array, labels: jax.Array):
        _check_batch(h, labels, state.W.shape[0], f"{fn}.forward", state.W.shape[1])
        loss_, _, grad_h = _fwd(state, h, labels)
        return loss_, grad_h

    def update(state: NaiveState, h: jax.Array, labels: jax.Array):
        lr = _rate_at(learning_rate, state.step, state.W.dtype)
        _check_batch(h, labels, state.W.shape[0], f"{fn}.update", state.W.shape[1])
        loss_, G, grad_h = _fwd(state, h, labels)
        return NaiveState(state.W - lr * G.T @ h, state.step + 1), loss_, grad_h

    return OutputLayer(init, forward, update, lambda state: state.W)


# --------------------------------------------------------------------------- hierarchical softmax


def hierarchical_softmax_layer(num_classes: int, *, learning_rate: float) -> OutputLayer:
    r"""A 2-level hierarchical softmax with :math:`C = \lceil\sqrt D\rceil` clusters of
    :math:`K = \lceil D/C\rceil` classes (class :math:`c` is in cluster :math:`c // K`).

    .. math::
        -\log p(c \mid h) = -\log \mathrm{softmax}(W_1 h)_{c // K}
                            - \log \mathrm{softmax}(W_2[c // K]\, h)_{c \bmod K},

    with the padding classes of the last cluster masked out. SGD on the summed loss touches
    only :math:`W_1` and the target clusters' blocks of :math:`W_2` (scatter-add, in place under
    :func:`scan_updates`): :math:`O((C + K) d)` per example.

    Args:
      num_classes: :math:`D \ge 2`.
      learning_rate: SGD step :math:`\eta > 0`, or a schedule ``step -> η`` (e.g. an
        ``optax`` schedule) of the updates done.

    Returns:
      :class:`OutputLayer`; ``init(key, dim, dtype=jnp.float32)`` draws
      :math:`N(0, 1/d)` weights; ``weights(state)`` returns the ``(C, K, d)`` blocks.

    Example:
      >>> layer = hierarchical_softmax_layer(10, learning_rate=0.1)
      >>> st = jax.jit(layer.init, static_argnums=1)(jax.random.key(0), 3)
      >>> st = st._replace(W1=0 * st.W1, W2=0 * st.W2)
      >>> loss, gh = jax.jit(layer.forward)(st, jnp.ones((1, 3)), jnp.array([0]))
      >>> round(float(loss[0]), 4)  # log C + log K = log 4 + log 3 (C = 4 clusters of K = 3)
      2.4849

    References:
      Morin & Bengio 2005; the ``h_softmax`` baseline of the official timing example.
    """
    fn = "hierarchical_softmax_layer"
    _checks.check_positive_int(num_classes, f"{fn}(num_classes=...)")
    if num_classes < 2:
        raise ValueError(f"`{fn}(num_classes=...)` must be at least 2, got {num_classes}")
    _check_rate(learning_rate, f"{fn}(learning_rate=...)")
    D = num_classes
    C = math.ceil(math.sqrt(D))
    K = math.ceil(D / C)

    def init(key: jax.Array, dim: int, dtype: Any = jnp.float32) -> HSoftmaxState:
        _checks.check_positive_int(dim, f"{fn}.init(dim=...)")
        k1, k2 = jax.random.split(key)
        scale = 1 / math.sqrt(dim)
        return HSoftmaxState(scale * jax.random.normal(k1, (C, dim), dtype),
                             scale * jax.random.normal(k2, (C, K, dim), dtype),
                             jnp.zeros((), jnp.int32))

    def _loss(W1, W2c, h, labels):
        cl, within = labels // K, labels % K
        top = h @ W1.T                                                       # (m, C)
        low = jnp.einsum("mkd,md->mk", W2c, h)                               # (m, K)
        valid = cl[:, None] * K + jnp.arange(K)[None, :] < D
        low = jnp.where(valid, low, -jnp.inf)
        l1 = jax.nn.logsumexp(top, axis=-1) - jnp.take_along_axis(top, cl[:, None], -1)[:, 0]
        l2 = (jax.nn.logsumexp(low, axis=-1)
              - jnp.take_along_axis(low, within[:, None], -1)[:, 0])
        return l1 + l2

    def _fwd(state, h, labels):
        W2c = state.W2[labels // K]
        loss, vjp = jax.vjp(lambda a, b, c: _loss(a, b, c, labels), state.W1, W2c, h)
        g1, g2c, gh = vjp(jnp.ones_like(loss))
        return loss, g1, g2c, gh

    def forward(state: HSoftmaxState, h: jax.Array, labels: jax.Array):
        _check_batch(h, labels, D, f"{fn}.forward", state.W1.shape[1])
        loss, _, _, gh = _fwd(state, h, labels)
        return loss, gh

    def update(state: HSoftmaxState, h: jax.Array, labels: jax.Array):
        lr = _rate_at(learning_rate, state.step, state.W1.dtype)
        _check_batch(h, labels, D, f"{fn}.update", state.W1.shape[1])
        loss, g1, g2c, gh = _fwd(state, h, labels)
        W2 = state.W2.at[labels // K].add(-lr * g2c)
        return HSoftmaxState(state.W1 - lr * g1, W2, state.step + 1), loss, gh

    return OutputLayer(init, forward, update, lambda state: state.W2)


# --------------------------------------------------------------------------- driver


@functools.lru_cache(maxsize=64)
def _scan_fn(update: Callable, donate: bool) -> Callable:
    def many(state, hs, labels):
        def body(st, xs):
            st, loss, _ = update(st, *xs)
            return st, jnp.sum(loss)

        return jax.lax.scan(body, state, (hs, labels))

    return jax.jit(many, donate_argnums=(0,) if donate else ())


def scan_updates(
    layer: OutputLayer, state: Any, hs: jax.Array, labels: jax.Array, *, donate: bool = True
) -> tuple[Any, jax.Array]:
    """Apply ``layer.update`` to ``T`` minibatches in one jitted ``lax.scan``.

    With ``donate=True`` (the default) the state's buffers are donated: the caller's ``state``
    is consumed (do not reuse it) and ``V`` is updated in place, which is what keeps the
    factored layer's cost independent of :math:`D`.

    Args:
      layer: an :class:`OutputLayer`.
      state: its state.
      hs: ``(T, m, d)`` hidden vectors.
      labels: ``(T, m)`` integer targets.
      donate: donate ``state`` to the computation.

    Returns:
      ``(final_state, losses)`` with ``losses`` the ``(T,)`` summed minibatch losses.

    Example:
      >>> layer = factored_output_layer("squared_error", learning_rate=0.01)
      >>> st, losses = scan_updates(layer, layer.init(jnp.ones((6, 2))), jnp.ones((3, 1, 2)),
      ...                           jnp.zeros((3, 1), jnp.int32))
      >>> losses.shape
      (3,)
    """
    _checks.check_rank(hs, 3, "scan_updates(hs=...)")
    _checks.check_rank(labels, 2, "scan_updates(labels=...)")
    dims = _state_dims(state)
    if dims is not None:
        num_classes, width = dims
        if jnp.shape(hs)[2] != width:
            raise ValueError(f"`scan_updates(hs=...)` must have width d = {width} (the columns "
                             f"of W), got shape {tuple(jnp.shape(hs))}")
        # Values checked here, before the jitted scan, where they are still concrete (inside
        # it an out-of-range label would be clamped by the gather).
        S._check_labels(labels, num_classes, "scan_updates(labels=...)")
    if _validate.checked_mode():
        return _validate.unjitted(_scan_fn(_Static(layer.update), False))(state, hs, labels)
    return _scan_fn(_Static(layer.update), donate)(state, hs, labels)  # cached by value


def _state_dims(state: Any) -> tuple[int, int] | None:
    """``(D, d)`` of a factored or naive layer's state (``None`` for other states)."""
    if isinstance(state, FactoredState):
        return int(state.V.shape[0]), int(state.U.shape[0])
    if isinstance(state, NaiveState):
        return int(state.W.shape[0]), int(state.W.shape[1])
    return None
