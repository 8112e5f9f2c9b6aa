r"""The test problems of Semenov, Jaggi, Doikov (arXiv:2506.13710) with their exact Hessians,
upper bounds and Gauss–Newton / Fisher approximations.

Each objective is ``fun(x, *data) -> scalar`` on a flat ``x`` of shape ``(n,)``; the matching
Hessian functions take the same arguments and return an ``(n, n)`` matrix (or its diagonal),
ready for :func:`jaxrank.optim.hessians.dense_hessian` / ``fixed_hessian`` / ``diagonal_hessian``.
Every name here is also importable from :mod:`jaxrank.optim.gn_newton`.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from jaxrank._numerics import binary_logistic

__all__ = [
    "log_sum_exp",
    "log_sum_exp_grad",
    "log_sum_exp_hessian",
    "lse_zero_shift",
    "lse_weighted_gauss_newton",
    "power_residual",
    "linear_residuals",
    "linear_equations",
    "linear_equations_hessian",
    "rosenbrock",
    "rosenbrock_residuals",
    "chebyshev_residuals",
    "chebyshev",
    "logistic_regression",
    "logistic_upper_bound",
    "softmax_regression",
    "logistic_hessian_diag",
    "softmax_hessian_diag",
    "softmax_weighted_gauss_newton",
    "tanh_residuals",
    "logistic_empirical_fisher",
    "softmax_empirical_fisher",
]

Array = jax.Array


def _weighted_gram(A: Array, w: Array) -> Array:
    r""":math:`A^\top \mathrm{Diag}(w) A` for ``A`` of shape ``(m, n)``.

    The scaled transpose :math:`A^\top\mathrm{Diag}(w)` is materialized (an
    ``optimization_barrier`` stops XLA from folding the transpose into the product): folded, the
    product contracts dimension 0 of both operands, and XLA:CPU's float64 kernel for that layout
    was 2.5–4× slower than for a plain row-major product (measured at n = m = 1000, where the
    extra copy costs ~1 % of the product). Same values up to summation order.
    """
    return jax.lax.optimization_barrier(A.T * w[None, :]) @ A


def log_sum_exp(x: Array, A: Array, b: Array, mu: float = 1.0) -> Array:
    r""":math:`f(x) = \mu \log\sum_i \exp((\langle a_i, x\rangle - b_i)/\mu)` (rows
    :math:`a_i` of ``A``, shape ``(m, n)``), overflow-free via ``logsumexp``."""
    return mu * jax.nn.logsumexp((A @ x - b) / mu)


def log_sum_exp_grad(x: Array, A: Array, b: Array, mu: float = 1.0) -> Array:
    r"""Closed form :math:`\nabla f = A^\top\pi`, :math:`\pi = \mathrm{softmax}((Ax - b)/\mu)`."""
    return A.T @ jax.nn.softmax((A @ x - b) / mu)


def log_sum_exp_hessian(x: Array, A: Array, b: Array, mu: float = 1.0) -> Array:
    r"""Closed form :math:`\nabla^2 f = \frac1\mu(A^\top\mathrm{Diag}(\pi)A -
    (A^\top\pi)(A^\top\pi)^\top)`."""
    pi = jax.nn.softmax((A @ x - b) / mu)
    Atp = A.T @ pi
    return (_weighted_gram(A, pi) - jnp.outer(Atp, Atp)) / mu


def lse_zero_shift(A: Array, b: Array, mu: float = 1.0) -> Array:
    r"""The official "zero oracle": :math:`A' = A - \mathbf 1 \nabla f(0)^\top`, so that
    :math:`\nabla f'(0) = 0` (the minimizer is :math:`x^* = 0`, :math:`f^* = f'(0)`)."""
    g0 = log_sum_exp_grad(jnp.zeros(A.shape[1], A.dtype), A, b, mu)
    return A - g0[None, :]


def power_residual(residual_fn: Callable[..., Array], p: float) -> Callable[..., Array]:
    r""":math:`f(x) = \frac1p\|u(x)\|^p` for ``residual_fn(x, *args) -> u``, written as
    :math:`\frac1p(\|u\|^2)^{p/2}` (smooth at :math:`u = 0` for :math:`p \ge 2`)."""

    def f(x, *args):
        u = residual_fn(x, *args)
        return jnp.vdot(u, u) ** (p / 2) / p

    return f


def linear_residuals(x: Array, A: Array, b: Array) -> Array:
    """:math:`u(x) = Ax - b`."""
    return A @ x - b


def linear_equations(x: Array, A: Array, b: Array, p: float = 4.0) -> Array:
    r""":math:`f(x) = \frac1p\|Ax - b\|^p` (the paper's "equations with linear operator")."""
    u = A @ x - b
    return jnp.vdot(u, u) ** (p / 2) / p


def linear_equations_hessian(x: Array, A: Array, b: Array, p: float = 4.0) -> Array:
    r"""Closed form :math:`\nabla^2 f = \|u\|^{p-2}A^\top A + (p-2)\|u\|^{p-4}(A^\top u)
    (A^\top u)^\top`, :math:`u = Ax - b`, of :func:`linear_equations` (the second term is 0
    where u = 0, its limit for p > 4; p = 4 has no singularity).

    One Gram product and an outer product, where ``jax.hessian`` pushes n tangents through the
    gradient (two products with A per tangent): the same matrix up to rounding, the form
    the official notebook and ``bench.gn_smoothness``'s NumPy reference use.

    Example:
      >>> A = jnp.array([[1.0, 2.0], [0.0, 1.0], [1.0, -1.0]]); b = jnp.array([1.0, 0.0, 2.0])
      >>> x = jnp.array([0.5, -0.5])
      >>> bool(jnp.allclose(linear_equations_hessian(x, A, b),
      ...                   jax.hessian(linear_equations)(x, A, b)))
      True
    """
    u = A @ x - b
    s = jnp.vdot(u, u)
    safe = jnp.where(s > 0, s, 1.0)
    Atu = A.T @ u
    rank_one = jnp.where(s > 0, (p - 2) * safe ** ((p - 4) / 2), 0.0)
    gram = _weighted_gram(A, jnp.ones(A.shape[0], A.dtype))
    return s ** ((p - 2) / 2) * gram + rank_one * jnp.outer(Atu, Atu)


def rosenbrock(x: Array, a: float = 1.0, b: float = 100.0) -> Array:
    r""":math:`(a - x_1)^2 + b(x_2 - x_1^2)^2`."""
    return (a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2


def rosenbrock_residuals(x: Array, a: float = 1.0, b: float = 100.0) -> Array:
    r""":math:`u = (a - x_1, \sqrt b (x_2 - x_1^2))`."""
    return jnp.stack([a - x[0], jnp.sqrt(b) * (x[1] - x[0] ** 2)])


def chebyshev_residuals(x: Array) -> Array:
    r"""Nesterov–Chebyshev–Rosenbrock: :math:`u_1 = \frac12(1 - x_1)`,
    :math:`u_i = x_i - (2x_{i-1}^2 - 1)`."""
    return jnp.concatenate([0.5 * (1 - x[:1]), x[1:] - (2 * x[:-1] ** 2 - 1)])


def chebyshev(x: Array, p: float = 4.0) -> Array:
    r""":math:`\frac1p\|u(x)\|^p` with :func:`chebyshev_residuals`; minimizer :math:`\mathbf 1`."""
    u = chebyshev_residuals(x)
    return jnp.vdot(u, u) ** (p / 2) / p


def logistic_regression(x: Array, A: Array, y: Array, reg: float = 0.0) -> Array:
    r""":math:`\frac1m\sum_i \log(1 + e^{-y_i\langle a_i, x\rangle}) + \frac{\rho}{2}\|x\|^2`,
    with the library's one logistic loss (optax's, finite for margins of any size)."""
    return jnp.mean(binary_logistic(y * (A @ x))) + 0.5 * reg * jnp.vdot(x, x)


def logistic_upper_bound(x: Array, A: Array, y: Array, reg: float = 0.0) -> Array:
    r"""The constant upper bound :math:`\frac{1}{4m}A^\top A + \rho I \succeq \nabla^2 f`."""
    return A.T @ A / (4 * A.shape[0]) + reg * jnp.eye(A.shape[1], dtype=A.dtype)


def softmax_regression(x: Array, A: Array, labels: Array, num_classes: int,
                       reg: float = 0.0) -> Array:
    r"""Multinomial logistic loss with flat parameters :math:`x = \mathrm{vec}(W)`,
    :math:`W \in \mathbb R^{d\times K}`: :math:`\frac1m\sum_i
    [\mathrm{lse}(W^\top a_i) - \langle w_{y_i}, a_i\rangle] + \frac\rho2\|W\|^2`."""
    W = x.reshape(A.shape[1], num_classes)
    nll = optax.softmax_cross_entropy_with_integer_labels(A @ W, labels)  # lse − target logit
    return jnp.mean(nll) + 0.5 * reg * jnp.vdot(x, x)


def logistic_hessian_diag(x: Array, A: Array, y: Array, reg: float = 0.0) -> Array:
    r"""Closed-form diagonal of the logistic Hessian,
    :math:`\frac1m\sum_i \sigma_i(1-\sigma_i) a_{ij}^2 + \rho` (:math:`O(md)`, no dense
    Hessian)."""
    s = jax.nn.sigmoid(y * (A @ x))
    return jnp.mean((s * (1 - s))[:, None] * A**2, axis=0) + reg


def softmax_hessian_diag(x: Array, A: Array, labels: Array, num_classes: int,
                         reg: float = 0.0) -> Array:
    r"""Closed-form diagonal of the softmax-regression Hessian (layout of
    :func:`softmax_regression`): entry :math:`(j, c)` is
    :math:`\frac1m\sum_i a_{ij}^2 p_{ic}(1 - p_{ic}) + \rho`."""
    P = jax.nn.softmax(A @ x.reshape(A.shape[1], num_classes), axis=-1)
    return (jnp.einsum("ij,ic->jc", A**2, P * (1 - P)) / A.shape[0]).reshape(-1) + reg


def softmax_weighted_gauss_newton(x: Array, A: Array, labels: Array, num_classes: int,
                                  reg: float = 0.0) -> Array:
    r"""Weighted Gauss–Newton of :func:`softmax_regression`: per sample the rank-one term
    :math:`-p_ip_i^\top` of :math:`\mathrm{Diag}(p_i) - p_ip_i^\top` is dropped, giving
    :math:`\frac1m\sum_i a_ia_i^\top \otimes \mathrm{Diag}(p_i) + \rho I \succeq \nabla^2 f`
    (layout of :func:`softmax_regression`, dense ``(dK, dK)``; the K diagonal blocks
    :math:`\frac1m A^\top\mathrm{Diag}(P_{:,c})A` come from one ``(dK × m) @ (m × d)``
    product).

    Example:
      >>> import jax.numpy as jnp
      >>> A = jnp.array([[1.0, 0.0], [0.0, 2.0]])
      >>> H = softmax_weighted_gauss_newton(jnp.zeros(4), A, jnp.array([0, 1]), 2)
      >>> H.diagonal().tolist()  # (1/m) Σ_i a_ij² p_ic with p_i = (½, ½)
      [0.25, 0.25, 1.0, 1.0]
    """
    m, d = A.shape
    P = jax.nn.softmax(A @ x.reshape(d, num_classes), axis=-1)
    Z = (A[:, :, None] * P[:, None, :]).reshape(m, d * num_classes)  # z_i = a_i ⊗ p_i
    # Σ_i a_ij p_ic a_il; the transpose is materialized as in _weighted_gram.
    blocks = (jax.lax.optimization_barrier(Z.T) @ A / m).reshape(d, num_classes, d)
    eye = jnp.eye(num_classes, dtype=blocks.dtype)
    H = blocks[:, :, :, None] * eye[None, :, None, :]  # (d, K, d, K)
    n = d * num_classes
    return H.reshape(n, n) + reg * jnp.eye(n, dtype=blocks.dtype)


# --------------------------------------------------------------------------- zero-residual problems


def tanh_residuals(x: Array, A: Array, y: Array) -> Array:
    r""":math:`u(x) = \tanh(Ax) - y` (a one-layer network fitted to targets ``y``). With
    ``y = tanh(A x*)`` the least-squares problem :math:`\frac12\|u\|^2` interpolates
    (:math:`f^* = 0`), so its Gauss–Newton matrix :math:`J^\top J` (``gauss_newton_fisher(...,
    p=2)``) differs from the Hessian by :math:`\sum_i u_i\nabla^2 u_i`, which vanishes at
    :math:`x^*` (the constant :math:`C_1` of the paper's condition is 0)."""
    return jnp.tanh(A @ x) - y


def logistic_empirical_fisher(x: Array, A: Array, y: Array, reg: float = 0.0) -> Array:
    r"""Empirical Fisher of :func:`logistic_regression`: the mean of the per-sample gradient
    outer products, :math:`\frac1m\sum_i \sigma(-y_i\langle a_i, x\rangle)^2 a_ia_i^\top +
    \rho I` (dense ``(n, n)``).

    Per sample the Hessian term is :math:`\sigma(m_i)\sigma(-m_i)a_ia_i^\top`
    (:math:`m_i = y_i\langle a_i, x\rangle`), so the error is at most
    :math:`\sigma(-m_i)\|a_i\|^2 \le \ell_i\|a_i\|^2`: :math:`\|\nabla^2 f - F\| \le
    R^2 f(x)`, i.e. the constant :math:`C_1` of the paper's condition is :math:`R^2 f^*`,
    zero on separable data (:math:`\rho = 0`).

    Example:
      >>> import jax.numpy as jnp
      >>> F = logistic_empirical_fisher(jnp.zeros(2), jnp.eye(2), jnp.array([1.0, -1.0]))
      >>> F.round(4).tolist()  # σ(0)² / m on the diagonal
      [[0.125, 0.0], [0.0, 0.125]]
    """
    s = jax.nn.sigmoid(-y * (A @ x))
    return _weighted_gram(A, s**2) / A.shape[0] + reg * jnp.eye(A.shape[1], dtype=A.dtype)


def softmax_empirical_fisher(x: Array, A: Array, labels: Array, num_classes: int,
                             reg: float = 0.0) -> Array:
    r"""Empirical Fisher of :func:`softmax_regression` (its layout):
    :math:`\frac1m\sum_i g_ig_i^\top + \rho I` with the per-sample gradients
    :math:`g_i = a_i \otimes (p_i - e_{y_i})` (dense ``(dK, dK)``). Its error against the
    Hessian :math:`\frac1m\sum_i a_ia_i^\top\otimes(\mathrm{Diag}(p_i) - p_ip_i^\top)` is
    :math:`O(1 - p_{i,y_i}) = O(\ell_i)` per sample, so :math:`C_1 \propto f^*`, zero on
    separable data (:math:`\rho = 0`).

    Example:
      >>> import jax.numpy as jnp
      >>> F = softmax_empirical_fisher(jnp.zeros(2), jnp.ones((1, 1)), jnp.array([0]), 2)
      >>> F.round(4).tolist()  # g = p − e_0 = (−½, ½)
      [[0.25, -0.25], [-0.25, 0.25]]
    """
    m, d = A.shape
    P = jax.nn.softmax(A @ x.reshape(d, num_classes), axis=-1)
    R = P - jax.nn.one_hot(labels, num_classes, dtype=P.dtype)
    Z = (A[:, :, None] * R[:, None, :]).reshape(m, d * num_classes)  # rows g_i
    n = d * num_classes
    return jax.lax.optimization_barrier(Z.T) @ Z / m + reg * jnp.eye(n, dtype=Z.dtype)



def lse_weighted_gauss_newton(x: Array, A: Array, b: Array, mu: float = 1.0) -> Array:
    r"""Weighted Gauss–Newton approximation of the log-sum-exp Hessian,
    :math:`\tilde H = \frac1\mu A^\top \mathrm{Diag}(\pi) A \succeq \nabla^2 f(x)` (it drops the
    rank-one term :math:`-\frac1\mu (A^\top\pi)(A^\top\pi)^\top`)."""
    pi = jax.nn.softmax((A @ x - b) / mu)
    return _weighted_gram(A, pi) / mu
