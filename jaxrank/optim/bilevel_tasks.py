r"""Bilevel problems of the BO-REP experiments: oracles, samplers and exact references.

Every oracle is a module-level function ``(x, y, batch) -> scalar`` and every sampler
``(key, data) -> batch``, so solvers built on them are cached and sweeps over seeds reuse one
compilation. Problem data (matrices, token arrays, hyperparameters such as the noise level or
the regularization) travel in ``data``/``batch``, never in closures.

* S0 :func:`quartic_problem` — a synthetic bilevel problem with closed-form hypergradient whose
  upper level :math:`\sum_i \phi(x_i)`, :math:`\phi(s) = s^4/4 - s^2/2`, is
  :math:`(L_0, L_1)`-smooth but not :math:`L`-smooth.
* S1 data hyper-cleaning: per-sample weight logits (upper) for a GRU classifier (lower; text
  tokens or image rows, :func:`init_classifier` / :func:`init_row_classifier`), validation CE
  on a clean split (upper).
* S2 hyperparameter optimization: a log-ℓ2 coefficient (upper) for the same classifier.
* S3 hyper-representation: a GRU encoder (upper), per-task linear heads (lower).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrank import _checks
from jaxrank.models.rnn import RowEncoder, TextEncoder
from jaxrank.optim.bilevel import lower_sgd

__all__ = [
    "phi", "phi_prime", "phi_second", "quartic_problem", "quartic_upper", "quartic_lower",
    "quartic_sampler", "quartic_y_star", "quartic_hypergradient", "encoder", "init_classifier",
    "classifier_logits", "init_row_classifier", "row_encoder", "accuracy", "clean_upper",
    "clean_lower", "hpo_upper", "hpo_lower",
    "minibatch_sampler", "rep_upper", "rep_lower", "task_sampler", "task_block",
    "split_tasks",
    "meta_test_accuracy",
]


# --------------------------------------------------------------------------- S0: quartic


def phi(s):
    r""":math:`\phi(s) = s^4/4 - s^2/2` (double well; :math:`\phi'' = 3s^2 - 1` is unbounded)."""
    return 0.25 * s**4 - 0.5 * s**2


def phi_prime(s):
    return s**3 - s


def phi_second(s):
    return 3 * s**2 - 1


def quartic_problem(seed: int, dim: int, *, mu: float = 1.0, ell: float = 4.0,
                    dtype: Any = np.float64) -> dict[str, np.ndarray]:
    r"""S0 data: :math:`H` (eigenvalues in :math:`[\mu, \ell]`), :math:`B`, :math:`y_{tgt}`.

    .. math::
        f(x, y) = \sum_i \phi(x_i) + \tfrac12\|y - y_{tgt}\|^2, \qquad
        g(x, y) = \tfrac12 y^\top H y - y^\top B x,

    so :math:`y^*(x) = H^{-1}Bx` and
    :math:`\nabla\Phi(x) = \phi'(x) + B^\top H^{-1}(H^{-1}Bx - y_{tgt})`.
    """
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    eig = np.linspace(mu, ell, dim)
    h = (q * eig) @ q.T
    b = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    y_target = rng.standard_normal(dim)
    return {"h": h.astype(dtype), "b": b.astype(dtype), "y_target": y_target.astype(dtype)}


def quartic_upper(x, y, batch):
    """:math:`F(x, y; \\xi) = f(x, y) + \\sigma\\langle\\xi_x, x\\rangle + \\sigma\\langle
    \\xi_y, y\\rangle` (unbiased gradient noise)."""
    val = jnp.sum(phi(x)) + 0.5 * jnp.sum((y - batch["y_target"]) ** 2)
    return val + jnp.vdot(batch["fx"], x) + jnp.vdot(batch["fy"], y)


def quartic_lower(x, y, batch):
    """:math:`G = \\tfrac12 y^\\top (H + S) y - y^\\top (B + E) x + \\langle\\zeta, y\\rangle`
    with zero-mean symmetric :math:`S`, :math:`E`, :math:`\\zeta` (noisy gradient, HVP and
    cross term)."""
    h = batch["h"] + batch["s"]
    return 0.5 * y @ h @ y - y @ (batch["b"] + batch["e"]) @ x + jnp.vdot(batch["gy"], y)


def quartic_sampler(key, data):
    """A batch for the S0 oracles: the problem plus Gaussian noise of level ``data["noise"]``."""
    d = data["h"].shape[0]
    k = jax.random.split(key, 5)
    sig = data["noise"]
    dt = data["h"].dtype
    s = jax.random.normal(k[0], (d, d), dt)
    return {
        "h": data["h"], "b": data["b"], "y_target": data["y_target"],
        "fx": sig * jax.random.normal(k[1], (d,), dt),
        "fy": sig * jax.random.normal(k[2], (d,), dt),
        "gy": sig * jax.random.normal(k[3], (d,), dt),
        "s": sig * (s + s.T) / (2 * np.sqrt(d)),
        "e": sig * jax.random.normal(k[4], (d, d), dt) / np.sqrt(d),
    }


def quartic_y_star(x, data):
    return jnp.linalg.solve(data["h"], data["b"] @ x)


def quartic_hypergradient(x, data):
    r"""Closed form :math:`\nabla\Phi(x) = \phi'(x) + B^\top H^{-1}(H^{-1}Bx - y_{tgt})`."""
    y = quartic_y_star(x, data)
    return phi_prime(x) + data["b"].T @ jnp.linalg.solve(data["h"], y - data["y_target"])


# --------------------------------------------------------------------------- text models


@functools.cache
def encoder(vocab_size: int, embed_dim: int, hidden: int) -> TextEncoder:
    return TextEncoder(vocab_size=vocab_size, embed_dim=embed_dim, hidden=hidden)


@functools.cache
def row_encoder(hidden: int) -> RowEncoder:
    return RowEncoder(hidden=hidden)


def _encode(enc_params, tokens):
    """Features of a text encoder (int tokens) or a row encoder (real (…, rows, cols) inputs),
    told apart by the parameters (an embedding table or not)."""
    hidden = enc_params["params"]["GRUCell_0"]["hn"]["kernel"].shape[-1]
    if "Embed_0" not in enc_params["params"]:
        module = row_encoder(hidden)
    else:
        emb = enc_params["params"]["Embed_0"]["embedding"]
        module = encoder(emb.shape[0], emb.shape[1], hidden)
    if all(_checks.is_concrete(v) for v in jax.tree.leaves((enc_params, tokens))):
        # eager (e.g. a solver's validation pass): flax's GRU scan would compile again on every
        # call; one jitted program per module instead. Traced calls are left as they were.
        return _apply_fn(module)(enc_params, tokens)
    return module.apply(enc_params, tokens)


@functools.cache
def _apply_fn(module):
    return jax.jit(module.apply)


@functools.cache
def _init_fn(module, shape: tuple[int, ...], dtype, fill: int = 0):
    """``init(key)``: ``module.init`` on a dummy input of ``shape``. flax runs the GRU's
    ``lax.scan`` to initialise, and eagerly that scan is compiled again on every call (a new
    closure each time), so a concrete key goes through one jitted program per (module, shape,
    dtype); a traced key (under a caller's ``jit`` or ``vmap``) is traced inline as before."""
    def init(key):
        return module.init(key, jnp.full(shape, fill, dtype))

    jitted = jax.jit(init)
    return lambda key: jitted(key) if _checks.is_concrete(key) else init(key)


def init_classifier(key, vocab_size: int, embed_dim: int, hidden: int, dtype=jnp.float32):
    """Parameters ``{"encoder": flax params, "w": (hidden,), "b": ()}`` of a GRU classifier."""
    params = _init_fn(encoder(vocab_size, embed_dim, hidden), (1, 4), jnp.int32, 1)(key)
    params = jax.tree.map(lambda v: v.astype(dtype), params)
    return {"encoder": params, "w": jnp.zeros(hidden, dtype), "b": jnp.zeros((), dtype)}


def init_row_classifier(key, rows: int, cols: int, hidden: int, dtype=jnp.float32):
    """Parameters ``{"encoder", "w", "b"}`` of a GRU classifier of (rows, cols) real inputs
    (an image read row by row); the oracles below accept it in place of the text classifier."""
    params = _init_fn(row_encoder(hidden), (1, rows, cols), jnp.dtype(dtype))(key)
    params = jax.tree.map(lambda v: v.astype(dtype), params)
    return {"encoder": params, "w": jnp.zeros(hidden, dtype), "b": jnp.zeros((), dtype)}


def classifier_logits(params, tokens):
    """Binary logits of the GRU classifier, shape ``tokens.shape[:-1]``."""
    return _encode(params["encoder"], tokens) @ params["w"] + params["b"]


def accuracy(params, tokens, labels):
    """Exact fraction of correct binary predictions (labels in {0, 1})."""
    pred = classifier_logits(params, tokens) > 0
    return jnp.mean(pred == (labels > 0))


def _ce(logits, labels):
    return optax.sigmoid_binary_cross_entropy(logits, labels.astype(logits.dtype))


def _sq_norm(tree):
    return sum(jnp.sum(v**2) for v in jax.tree.leaves(tree))


# --------------------------------------------------------------------------- S1: hyper-cleaning


def clean_lower(lam, params, batch):
    r""":math:`G(\lambda, w) = \frac1B\sum_{i\in\text{batch}} \sigma(\lambda_i)\,
    \ell_i(w) + \frac{\rho}{2}\|w\|^2` on the noisy training minibatch."""
    w = jax.nn.sigmoid(lam[batch["idx"]])
    ce = _ce(classifier_logits(params, batch["tok"]), batch["lab"])
    return jnp.mean(w * ce) + 0.5 * batch["reg"] * _sq_norm(params)


def clean_upper(lam, params, batch):
    """Validation CE on a clean minibatch (does not depend on the weights directly)."""
    return jnp.mean(_ce(classifier_logits(params, batch["vtok"]), batch["vlab"]))


@functools.cache
def minibatch_sampler(batch_size: int, val_batch_size: int):
    """``sampler(key, data)``: a training minibatch (with indices) and a validation minibatch."""

    def sampler(key, data):
        k1, k2 = jax.random.split(key)
        n = data["tok"].shape[0]
        nv = data["vtok"].shape[0]
        idx = jax.random.randint(k1, (batch_size,), 0, n)
        vidx = jax.random.randint(k2, (val_batch_size,), 0, nv)
        return {"idx": idx, "tok": data["tok"][idx], "lab": data["lab"][idx],
                "vtok": data["vtok"][vidx], "vlab": data["vlab"][vidx], "reg": data["reg"]}

    return sampler


# --------------------------------------------------------------------------- S2: HPO


def hpo_lower(log_reg, params, batch):
    r""":math:`G(\lambda, w) = \text{CE}_{train}(w) + \tfrac12 e^{\lambda}\|w\|^2`."""
    ce = jnp.mean(_ce(classifier_logits(params, batch["tok"]), batch["lab"]))
    return ce + 0.5 * jnp.exp(log_reg) * _sq_norm(params)


def hpo_upper(log_reg, params, batch):
    return jnp.mean(_ce(classifier_logits(params, batch["vtok"]), batch["vlab"]))


# --------------------------------------------------------------------------- S3: hyper-rep


def _head_ce(feats, head, labels):
    return jnp.mean(_ce(feats @ head[:-1] + head[-1], labels))


def rep_lower(enc_params, heads, batch):
    r""":math:`G = \frac1T\sum_{m\in\text{batch}}\big[\text{CE}_{support}(v_m) +
    \tfrac{\rho}{2}\|v_m\|^2\big]` (strongly convex in each head :math:`v_m`)."""
    t, k = batch["stok"].shape[:2]
    feats = _encode(enc_params, batch["stok"].reshape(t * k, *batch["stok"].shape[2:]))
    feats = feats.reshape(t, k, -1)
    h = heads[batch["task"]]
    ce = jax.vmap(_head_ce)(feats, h, batch["slab"])
    return jnp.mean(ce) + 0.5 * batch["reg"] * jnp.sum(h**2) / t


def rep_upper(enc_params, heads, batch):
    """Query CE of the batch's tasks with their current heads."""
    t, k = batch["qtok"].shape[:2]  # the query may be larger than the support
    feats = _encode(enc_params, batch["qtok"].reshape(t * k, *batch["qtok"].shape[2:]))
    feats = feats.reshape(t, k, -1)
    return jnp.mean(jax.vmap(_head_ce)(feats, heads[batch["task"]], batch["qlab"]))


@functools.cache
def task_sampler(tasks_per_batch: int):
    """``sampler(key, data)``: ``tasks_per_batch`` distinct training tasks of the pool."""

    def sampler(key, data):
        m = data["stok"].shape[0]
        task = jax.random.permutation(key, m)[:tasks_per_batch]
        return {"task": task, "stok": data["stok"][task], "slab": data["slab"][task],
                "qtok": data["qtok"][task], "qlab": data["qlab"][task], "reg": data["reg"]}

    return sampler


@_checks.renamed(head_lr="head_learning_rate")
def meta_test_accuracy(enc_params, tasks, *, reg, head_learning_rate, head_steps: int):
    """Mean query accuracy on new tasks: a zero-initialized linear head per task, fitted by
    ``head_steps`` full-batch GD steps on the support CE + ℓ2 (the same for every method)."""
    t, k = tasks["stok"].shape[:2]
    sf = _encode(enc_params, tasks["stok"].reshape(t * k, *tasks["stok"].shape[2:]))
    qf = _encode(enc_params, tasks["qtok"].reshape(t * k, *tasks["qtok"].shape[2:]))
    sf, qf = sf.reshape(t, -1, sf.shape[-1]), qf.reshape(t, -1, qf.shape[-1])
    sf, qf = jax.lax.stop_gradient(sf), jax.lax.stop_gradient(qf)

    def one(s, sl, q, ql):
        g = lambda _x, v, _b: _head_ce(s, v, sl) + 0.5 * reg * jnp.sum(v**2)  # noqa: E731
        v = lower_sgd(g, None, jnp.zeros(s.shape[-1] + 1, s.dtype), head_learning_rate,
                      head_steps, lambda j: None)
        return jnp.mean(((q @ v[:-1] + v[-1]) > 0) == (ql > 0))

    return jnp.mean(jax.vmap(one)(sf, tasks["slab"], qf, tasks["qlab"]))


@functools.cache
def task_block(tasks_per_batch: int):
    """``block(i, data)``: the ``i``-th fixed block of ``tasks_per_batch`` consecutive training
    tasks (the data partition of SABA's SAGA memories)."""

    def block(i, data):
        task = (i * tasks_per_batch + jnp.arange(tasks_per_batch)) % data["stok"].shape[0]
        return {"task": task, "stok": data["stok"][task], "slab": data["slab"][task],
                "qtok": data["qtok"][task], "qlab": data["qlab"][task], "reg": data["reg"]}

    return block


def split_tasks(batch):
    """One-task batches of a :func:`task_sampler` batch, stacked on a leading axis (the
    ``tasks=`` argument of :func:`jaxrank.optim.bilevel.maml`: each task adapts on its own)."""
    t = batch["task"].shape[0]
    out = {k: batch[k][:, None] for k in ("task", "stok", "slab", "qtok", "qlab")}
    out["reg"] = jnp.broadcast_to(batch["reg"], (t,))
    return out
