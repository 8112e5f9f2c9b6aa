"""Hao, Gong, Liu 2024, "Bilevel Optimization under Unbounded Smoothness: A New Algorithm and
Convergence Analysis" (ICLR 2024, arXiv:2401.09587): BO-REP and its baselines.

CPU-offline substitutes for the paper's experiments (paper_repro/bo_rep.md lists every change):

* ``s0``    synthetic bilevel problem with an (L0, L1)-smooth, not L-smooth upper level and a
            closed-form hypergradient: ‖∇Φ(x_t)‖ vs oracle calls for every method, the upper
            step-size sensitivity grid, and BO-REP's update period I;
* ``s1``    data hyper-cleaning (the paper's Sentiment140 task) on the VADER corpora with a small
            GRU (embeddings learned from scratch), fixed label noise p, clean validation split;
* ``s2``    hyperparameter optimization: the log ℓ2 coefficient of the same GRU classifier;
* ``s3``    hyper-representation: a GRU encoder (upper) and per-task linear heads (lower) on
            few-shot tasks drawn from the four VADER domains; meta-test accuracy.

Command: ``python -m experiments.bo_rep [--figure s0|s1|s2|s3|all] [--smoke]``. float32 (the
paper's GPU runs are float32). Seeds are one vmapped call per method. FULL needs the VADER sdist
(see jaxrank/data/sentiment.py); SMOKE uses synthetic token sequences. Expected time (2 cores,
alone): an estimated 12-19 minutes in FULL with the S1/S2 step-size grids (measured only under
load; see paper_repro/bo_rep.md), under a minute in SMOKE.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments import _harness
from experiments._harness import Figure, Paper, Results
from jaxrank.data import sentiment as TX
from jaxrank.optim import bilevel as B
from jaxrank.optim import bilevel_tasks as T
from jaxrank.optim import from_optax, run
from jaxrank.sweep import sweep

# --------------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class Config:
    dtype: str = "float32"
    seeds: tuple[int, ...] = (0, 1, 2)
    # S0 -------------------------------------------------------------------
    s0_dim: int = 10
    s0_noise: float = 0.1
    s0_x0: float = 3.0  # every coordinate of x_0 (far out, where φ'' is large)
    s0_steps: int = 1000
    s0_step_sizes: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    s0_eps: float = 1.0  # success: mean ‖∇Φ‖ over the last 10% of steps ≤ eps
    s0_curve_lr: float = 0.01  # the step size of the ‖∇Φ‖-vs-oracle-calls panel
    s0_periods: tuple[int, ...] = (1, 2, 4, 8, 16)
    s0_lower_lr: float = 0.2
    s0_momentum: float = 0.9
    s0_period: int = 2
    s0_lower_steps: int = 2
    s0_refine: int = 10
    s0_neumann: int = 10
    s0_saba_blocks: int = 32
    s0_methods: tuple[str, ...] = ("bo_rep", "soba", "ma_soba", "stocbio", "ttsa", "saba",
                                   "sustain", "vrbo")
    s0_vrbo_period: int = 10  # VRBO checkpoint period q (large batch = 4 minibatches)
    s0_sustain_correction: float = 0.5  # SUSTAIN momentum weight η (decayed as (t+1)^(-2/3))
    # text data (S1-S3) -------------------------------------------------------
    text_source: str = "vader"  # or "synthetic"
    vocab_size: int = 2000
    max_len: int = 20
    embed_dim: int = 16
    hidden: int = 16
    data_seed: int = 0
    # S1 hyper-cleaning -------------------------------------------------------
    s1_noise: tuple[float, ...] = (0.1, 0.3)
    s1_n_train: int = 1500
    s1_n_val: int = 300
    s1_n_test: int = 1000
    s1_batch: int = 32
    s1_epochs: int = 8
    s1_methods: tuple[str, ...] = ("bo_rep", "soba", "ma_soba", "stocbio", "ttsa", "saba")
    s1_evals_per_epoch: int = 1
    s1_reg: float = 1e-4
    # Step-size selection (S1 and S2), always by mean-over-seeds final VALIDATION accuracy:
    # (1) the lower step γ shared by every method (y, z and Neumann steps) is the best of this
    #     grid for plain single-level SGD on the (noisy) training set ("erm", also a reference);
    # (2) each method's upper step is the best of its own 3-point grid, center × (0.1, 1, 10)
    #     (same size and span for every method; BO-REP's step is the normalized step length).
    s1_lower_lrs: tuple[float, ...] = (0.5, 1.0, 2.0)
    s1_upper_lr: tuple[tuple[str, float], ...] = (
        ("bo_rep", 1.0), ("soba", 100.0), ("ma_soba", 100.0), ("stocbio", 100.0),
        ("ttsa", 100.0), ("saba", 100.0))
    upper_lr_factors: tuple[float, ...] = (0.1, 1.0, 10.0)
    # S2 HPO -----------------------------------------------------------------
    s2_n_train: int = 500
    s2_noise: float = 0.2
    s2_epochs: int = 20
    s2_methods: tuple[str, ...] = ("bo_rep", "soba", "ma_soba", "stocbio", "ttsa")
    s2_log_reg0: float = -7.0
    s2_upper_lr: tuple[tuple[str, float], ...] = (
        ("bo_rep", 0.05), ("soba", 1.0), ("ma_soba", 1.0), ("stocbio", 1.0), ("ttsa", 1.0))
    # S3 hyper-representation --------------------------------------------------
    s3_train_tasks: int = 32
    s3_test_tasks: int = 32
    s3_shots: int = 10  # support = query = shots (class-balanced)
    s3_tasks_per_batch: int = 4
    s3_steps: int = 150
    s3_methods: tuple[str, ...] = ("bo_rep", "anil", "ma_soba", "stocbio")
    s3_evals: int = 5
    s3_reg: float = 0.1
    s3_lower_lr: float = 0.5
    s3_head_steps: int = 100
    s3_upper_lr: tuple[tuple[str, float], ...] = (
        ("bo_rep", 0.05), ("anil", 0.1), ("ma_soba", 0.1), ("stocbio", 0.1))


FULL = Config()
# SMOKE keeps every code path of every figure but few methods: on 2 shared CPU cores each GRU
# solver's compilation (HVPs through a scan) costs ~15 s of CPU time.
SMOKE = dataclasses.replace(
    FULL, seeds=(0, 1), s0_dim=4, s0_steps=60, s0_step_sizes=(0.01, 1.0), s0_periods=(1, 4),
    s0_saba_blocks=4, text_source="synthetic", vocab_size=60, max_len=8, embed_dim=4, hidden=4,
    s1_noise=(0.3,), s1_n_train=64, s1_n_val=32, s1_n_test=64, s1_batch=16, s1_epochs=1,
    s1_lower_lrs=(0.5, 2.0), upper_lr_factors=(1.0, 10.0), s2_n_train=64, s2_epochs=1,
    s3_train_tasks=4, s3_test_tasks=4, s3_shots=4, s3_tasks_per_batch=2, s3_steps=4, s3_evals=2,
    s3_head_steps=5, s0_methods=("bo_rep", "sustain"), s1_methods=("bo_rep",),
    s2_methods=("bo_rep",),
    s3_methods=("bo_rep",))

NAMES = {"bo_rep": "BO-REP", "soba": "SOBA", "ma_soba": "MA-SOBA", "stocbio": "StocBiO",
         "ttsa": "TTSA", "saba": "SABA", "anil": "ANIL", "sustain": "SUSTAIN", "vrbo": "VRBO",
         "erm": "single-level SGD"}


def key(*parts: Any) -> str:
    """The summary key shared by the experiments and paper_repro/bo_rep.py."""
    return "/".join(str(p) for p in parts)


# --------------------------------------------------------------------------- solvers


def make_solver(method: str, upper, lower, sampler, *, upper_lr, lower_lr, momentum=0.9,
                period=2, lower_steps=2, refine=10, neumann=10, block=None, num_blocks=1,
                vrbo_period=10, sustain_correction=0.5):
    """One solver per method name with the shared schedule (every task uses this)."""
    if method == "bo_rep":
        return B.bo_rep(upper, lower, learning_rate=upper_lr, momentum=momentum,
                        lower_lr=lower_lr, z_lr=lower_lr, period=period, lower_steps=lower_steps,
                        refine_steps=refine, refine_epochs=2, sampler=sampler)
    if method == "soba":
        return B.soba(upper, lower, learning_rate=upper_lr, lower_lr=lower_lr, sampler=sampler)
    if method == "ma_soba":
        return B.ma_soba(upper, lower, learning_rate=upper_lr, lower_lr=lower_lr,
                         momentum=momentum, sampler=sampler)
    if method == "stocbio":
        return B.stocbio(upper, lower, learning_rate=upper_lr, lower_lr=lower_lr,
                         inner_steps=lower_steps, neumann_lr=lower_lr, neumann_steps=neumann,
                         sampler=sampler)
    if method == "ttsa":
        return B.ttsa(upper, lower, learning_rate=upper_lr, lower_lr=lower_lr,
                      neumann_lr=lower_lr, neumann_max=neumann, sampler=sampler)
    if method == "saba":
        return B.saba(upper, lower, learning_rate=upper_lr, lower_lr=lower_lr, block=block,
                      num_blocks=num_blocks)
    if method == "sustain":
        return B.sustain(upper, lower, learning_rate=upper_lr, lower_lr=lower_lr,
                         correction=sustain_correction, neumann_lr=lower_lr,
                         neumann_steps=neumann, sampler=sampler)
    if method == "vrbo":
        return B.vrbo(upper, lower, learning_rate=upper_lr, lower_lr=lower_lr,
                      inner_steps=lower_steps, period=vrbo_period, neumann_lr=lower_lr,
                      neumann_steps=neumann, checkpoint_batches=4, sampler=sampler)
    if method == "anil":
        return B.anil(upper, lower, learning_rate=upper_lr, inner_lr=lower_lr,
                      inner_steps=3 * lower_steps, sampler=sampler)
    raise ValueError(f"unknown method {method!r}")


def _finite_or_inf(a):
    a = np.asarray(a, float)
    return np.where(np.isfinite(a), a, np.inf)


# --------------------------------------------------------------------------- S0


def _s0_block(i, data):
    return T.quartic_sampler(jax.random.key(i), data)


def _s0_record(params, state, data, key):
    return (jnp.linalg.norm(T.quartic_hypergradient(params[0], data)), state.oracle_calls)


@functools.cache
def _s0_fn(method: str, config: Config, period: int | None = None):
    def one(data, step_size, seed):
        solver = make_solver(
            method, T.quartic_upper, T.quartic_lower, T.quartic_sampler, upper_lr=step_size,
            lower_lr=config.s0_lower_lr, momentum=config.s0_momentum,
            period=config.s0_period if period is None else period,
            lower_steps=config.s0_lower_steps, refine=config.s0_refine,
            neumann=config.s0_neumann, block=_s0_block, num_blocks=config.s0_saba_blocks,
            vrbo_period=config.s0_vrbo_period, sustain_correction=config.s0_sustain_correction)
        dt = data["h"].dtype
        d = data["h"].shape[0]
        x0 = jnp.full((d,), config.s0_x0, dt)
        _, _, (gn, calls) = run(solver, (x0, jnp.zeros((d,), dt)), config.s0_steps, data,
                                key=jax.random.fold_in(jax.random.key(seed), 17),
                                record=_s0_record)
        return gn, calls

    return one


def run_s0(config: Config) -> Results:
    dt = np.dtype(config.dtype)
    data = {k: jnp.asarray(v) for k, v in T.quartic_problem(0, config.s0_dim, dtype=dt).items()}
    data["noise"] = jnp.asarray(config.s0_noise, dt)
    grid = _harness.log_grid(config.s0_steps, 200)
    tail = max(1, config.s0_steps // 10)
    series: dict[str, Any] = {"steps": grid, "step_sizes": list(config.s0_step_sizes),
                              "periods": list(config.s0_periods)}
    summary: dict[str, Any] = {}
    g0 = float(np.linalg.norm(T.quartic_hypergradient(jnp.full(config.s0_dim, config.s0_x0, dt),
                                                      data)))
    summary[key("s0", "initial_grad_norm")] = g0
    for method in _harness.progress(config.s0_methods, "s0"):
        gn, calls = sweep(_s0_fn(method, config), {"step_size": list(config.s0_step_sizes),
                                                   "seed": list(config.seeds)}, data)
        gn = _finite_or_inf(gn)  # (lr, seed, T); diverged runs are +inf, never NaN
        final = np.mean(gn[:, :, -tail:], axis=-1)
        final = np.where(np.isfinite(final), final, np.inf)
        med = np.median(final, axis=1)
        for lr, v in zip(config.s0_step_sizes, med, strict=True):
            summary[key("s0", method, "final_grad_norm", lr)] = float(v)
        series[key(method, "final_median")] = med
        i = config.s0_step_sizes.index(config.s0_curve_lr)
        series[key(method, "curve")] = np.median(gn[i][:, grid], axis=0)
        series[key(method, "calls")] = np.asarray(calls)[i, 0][grid]
    for period in config.s0_periods:
        gn, calls = sweep(_s0_fn("bo_rep", config, period),
                          {"step_size": [config.s0_curve_lr], "seed": list(config.seeds)}, data)
        gn = _finite_or_inf(gn)[0]
        v = float(np.median(np.mean(gn[:, -tail:], axis=-1)))
        summary[key("s0", "period", period, "final_grad_norm")] = v
        summary[key("s0", "period", period, "oracle_calls")] = int(np.asarray(calls)[0, 0, -1])
        series[key("period", period, "curve")] = np.median(gn[:, grid], axis=0)
    summary[key("s0", "eps")] = config.s0_eps
    # A diverged run (‖∇Φ‖ overflowing at a too-large step) is a measured outcome of claim C2,
    # recorded as inf, not a harness error.
    return Results(series, summary, list(config.seeds),
                   allow_nonfinite=("*/final_median", "s0/*/final_grad_norm/*", "*/curve"))


def plot_s0(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    cfg = record["config"]
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    for m in cfg["s0_methods"]:
        ax[0].semilogy(s[key(m, "calls")], np.maximum(s[key(m, "curve")], 1e-8), label=NAMES[m])
        ax[1].loglog(s["step_sizes"], np.minimum(s[key(m, "final_median")], 1e6), "o-",
                     label=NAMES[m])
    ax[0].set(xlabel="oracle calls", ylabel="‖∇Φ(x_t)‖ (median over seeds)",
              title=f"S0, upper step {cfg['s0_curve_lr']}")
    ax[1].axhline(cfg["s0_eps"], color="k", ls=":", lw=0.8)
    ax[1].set(xlabel="upper step size (η or α)", ylabel="final ‖∇Φ‖ (inf/diverged clipped 1e6)",
              title="step-size sensitivity")
    for p in s["periods"]:
        ax[2].semilogy(s["steps"], np.maximum(s[key("period", p, "curve")], 1e-8), label=f"I={p}")
    ax[2].set(xlabel="step t", ylabel="‖∇Φ(x_t)‖", title="BO-REP, update period I")
    for a in ax:
        a.legend()
    fig.suptitle(record["title"])
    return fig


# --------------------------------------------------------------------------- text data


@functools.cache
def _text_pool(config: Config):
    """(tokens, labels, domains) of the whole pool, vocabulary from a fixed training part."""
    if config.text_source == "synthetic":
        return TX.synthetic_sentiment(config.data_seed, 4000, vocab_size=config.vocab_size,
                                      max_len=config.max_len)
    texts, labels, domains = [], [], []
    for d, name in enumerate(TX.VADER_DOMAINS):
        t, s = TX.load_vader(name)
        keep = s != 0
        texts += [TX.tokenize(x) for x, k in zip(t, keep, strict=True) if k]
        labels.append((s[keep] > 0).astype(np.int32))
        domains.append(np.full(int(keep.sum()), d, np.int32))
    labels, domains = np.concatenate(labels), np.concatenate(domains)
    perm = np.random.default_rng(config.data_seed).permutation(len(texts))
    texts = [texts[i] for i in perm]
    vocab = TX.build_vocab(texts[: len(texts) // 2], config.vocab_size)
    return TX.encode(texts, vocab, config.max_len), labels[perm], domains[perm]


def _classification_split(config: Config, n_train: int, noise: float):
    tok, lab, _ = _text_pool(config)
    rng = np.random.default_rng(config.data_seed + 1)
    perm = rng.permutation(len(lab))
    tr, va = perm[:n_train], perm[n_train:n_train + config.s1_n_val]
    te = perm[n_train + config.s1_n_val: n_train + config.s1_n_val + config.s1_n_test]
    flip = np.random.default_rng(config.data_seed + 2).random(n_train) < noise
    noisy = np.where(flip, 1 - lab[tr], lab[tr]).astype(np.int32)
    return {"tok": tok[tr], "lab": noisy, "vtok": tok[va], "vlab": lab[va],
            "reg": np.asarray(config.s1_reg, config.dtype)}, (tok[te], lab[te]), ~flip


def _auroc(scores, positive):
    """Probability that a random positive outranks a random negative (ties count 1/2)."""
    s = np.asarray(scores, float)
    pos, neg = s[positive], s[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    # average ranks for ties
    _, inv, counts = np.unique(allv, return_inverse=True, return_counts=True)
    cum = np.cumsum(counts)
    avg = cum - (counts - 1) / 2.0
    ranks[order] = avg[inv]
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _eval_record(every: int):
    def record(params, state, data, key):
        del key
        acc = jax.lax.cond(state.count % every == 0,
                           lambda: T.accuracy(params[1], data["ttok"], data["tlab"]),
                           lambda: jnp.asarray(-1.0, jnp.float32))
        return acc.astype(jnp.float32)

    return record


def _erm_loss(params, data, key, *, sampler):
    """Single-level training loss: unweighted CE on a (noisy) training minibatch + ρ/2‖w‖²."""
    batch = sampler(key, data)
    return T.hpo_lower(jnp.log(batch["reg"]), params[1], batch)


@functools.cache
def _clf_fn(task: str, method: str, config: Config, steps: int, every: int):
    """``one(data, x0, lower_lr, upper_lr=..., seed=...) -> (test-acc curve, final val acc,
    final test acc, final x)``; both step sizes are traced, so a grid × seeds is one vmap."""
    upper, lower = (T.clean_upper, T.clean_lower) if task == "s1" else (T.hpo_upper, T.hpo_lower)
    sampler = T.minibatch_sampler(config.s1_batch, config.s1_batch)
    record = _eval_record(every)

    def block(i, data):
        return sampler(jax.random.key(i), data)

    def one(data, x0, lower_lr, upper_lr, seed):
        n = data["tok"].shape[0]
        if method == "erm":  # plain minibatch SGD on the training loss (x unused and fixed)
            solver = from_optax(optax.sgd(lower_lr),
                                functools.partial(_erm_loss, sampler=sampler))
        else:
            solver = make_solver(method, upper, lower, sampler, upper_lr=upper_lr,
                                 lower_lr=lower_lr, momentum=0.9, period=2, lower_steps=2,
                                 refine=10, neumann=5, block=block,
                                 num_blocks=max(1, n // config.s1_batch))
        w0 = T.init_classifier(jax.random.key(seed), config.vocab_size, config.embed_dim,
                               config.hidden, jnp.dtype(config.dtype))
        (x, w), _, accs = run(solver, (x0, w0), steps, data, key=jax.random.key(1000 + seed),
                              record=record)
        return (accs, T.accuracy(w, data["vtok"], data["vlab"]),
                T.accuracy(w, data["ttok"], data["tlab"]), x)

    return one


def _run_clf(task: str, config: Config, data, test, x0, methods, upper_lrs, epochs, n_train,
             series, summary, prefix):
    """Step-size selection by validation accuracy, then the selected runs' curves/summaries.

    Returns ``{method: final x at the selected step, per seed}``."""
    steps_per_epoch = max(1, n_train // config.s1_batch)
    steps = steps_per_epoch * epochs
    every = max(1, steps_per_epoch // config.s1_evals_per_epoch)
    data = {k: jnp.asarray(v) for k, v in data.items()} | {
        "ttok": jnp.asarray(test[0]), "tlab": jnp.asarray(test[1])}
    ev = np.arange(0, steps, every)
    series["epochs"] = np.concatenate([ev, [steps]]) / steps_per_epoch
    seeds = list(config.seeds)
    dt = config.dtype
    out = {}

    def one_method(method, lower_lr, grid):
        accs, val, test_acc, x = sweep(_clf_fn(task, method, config, steps, every),
                                       {"upper_lr": np.asarray(grid, dt), "seed": seeds},
                                       data, jnp.asarray(x0), jnp.asarray(lower_lr, dt))
        val_mean = np.asarray(val).mean(axis=1)  # (grid,): mean over seeds
        best = int(np.argmax(val_mean))  # first best on ties
        curve = np.concatenate([np.asarray(accs)[best][:, ev],
                                np.asarray(test_acc)[best][:, None]], axis=1)
        series[key(*prefix, method, "test_acc")] = curve.mean(axis=0)
        summary[key(task, *prefix, method, "final_test_acc")] = [float(v) for v in curve[:, -1]]
        summary[key(task, *prefix, method, "final_val_acc")] = [
            float(v) for v in np.asarray(val)[best]]
        summary[key(task, *prefix, method, "selected_lr")] = float(grid[best])
        summary[key(task, *prefix, method, "lr_grid")] = [float(g) for g in grid]
        summary[key(task, *prefix, method, "val_acc_grid")] = [float(v) for v in val_mean]
        return np.asarray(x)[best]

    # (1) the shared lower step: plain single-level SGD, grid over its only step size.
    lrs = list(config.s1_lower_lrs)
    erm = functools.partial(_clf_fn(task, "erm", config, steps, every), upper_lr=1.0)  # unused
    accs, val, test_acc, _ = sweep(erm, {"lower_lr": np.asarray(lrs, dt), "seed": seeds},
                                   data, jnp.asarray(x0))
    val_mean = np.asarray(val).mean(axis=1)
    best = int(np.argmax(val_mean))
    lower_lr = lrs[best]
    curve = np.concatenate([np.asarray(accs)[best][:, ev], np.asarray(test_acc)[best][:, None]],
                           axis=1)
    series[key(*prefix, "erm", "test_acc")] = curve.mean(axis=0)
    summary[key(task, *prefix, "erm", "final_test_acc")] = [float(v) for v in curve[:, -1]]
    summary[key(task, *prefix, "erm", "final_val_acc")] = [float(v) for v in np.asarray(val)[best]]
    summary[key(task, *prefix, "erm", "lr_grid")] = [float(g) for g in lrs]
    summary[key(task, *prefix, "erm", "val_acc_grid")] = [float(v) for v in val_mean]
    summary[key(task, *prefix, "lower_lr")] = float(lower_lr)
    # (2) each method's upper step, with the shared lower step.
    centers = dict(upper_lrs)
    for method in _harness.progress(methods, task):
        grid = [centers[method] * f for f in config.upper_lr_factors]
        out[method] = one_method(method, lower_lr, grid)
    return out


def run_s1(config: Config) -> Results:
    series: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    for p in config.s1_noise:
        data, test, clean = _classification_split(config, config.s1_n_train, p)
        x0 = np.zeros(config.s1_n_train, config.dtype)
        lam = _run_clf("s1", config, data, test, x0, config.s1_methods, config.s1_upper_lr,
                       config.s1_epochs, config.s1_n_train, series, summary, (p,))
        for method, x in lam.items():
            au = [_auroc(x[s], clean) for s in range(x.shape[0])]
            summary[key("s1", p, method, "weight_auroc")] = au
    return Results(series, summary, list(config.seeds))


def run_s2(config: Config) -> Results:
    data, test, _ = _classification_split(config, config.s2_n_train, config.s2_noise)
    x0 = np.asarray(config.s2_log_reg0, config.dtype)
    data["reg"] = np.asarray(np.exp(config.s2_log_reg0), config.dtype)  # erm's fixed ρ = e^{λ0}
    series: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    lam = _run_clf("s2", config, data, test, x0, config.s2_methods, config.s2_upper_lr,
                   config.s2_epochs, config.s2_n_train, series, summary, ())
    for method, x in lam.items():
        summary[key("s2", method, "final_log_reg")] = [float(v) for v in x]
    return Results(series, summary, list(config.seeds))


def plot_clf(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    fig_id = record["figure"]
    prefixes = ([f"{p}/" for p in record["config"]["s1_noise"]] if fig_id == "s1" else [""])
    methods = record["config"][f"{fig_id}_methods"]
    fig, axes = plt.subplots(1, len(prefixes), figsize=(5.5 * len(prefixes), 3.6), squeeze=False)
    for ax, pre in zip(axes[0], prefixes, strict=True):
        for m in ("erm", *methods):
            ax.plot(s["epochs"], s[f"{pre}{m}/test_acc"], "o-" if m != "erm" else "k--", ms=3,
                    label=NAMES[m])
        ax.set(xlabel="epoch", ylabel="test accuracy (mean over seeds, val-selected step)",
               title=f"noise p = {pre[:-1]}" if pre else "HPO (log ℓ2 coefficient)")
        ax.legend()
    fig.suptitle(record["title"])
    return fig


# --------------------------------------------------------------------------- S3


def _tasks(config: Config, num: int, part: int, seed: int):
    """``num`` class-balanced binary tasks, one domain each, from half ``part`` of the pool."""
    tok, lab, dom = _text_pool(config)
    half = np.arange(len(lab)) % 2 == part
    rng = np.random.default_rng(seed)
    k = config.s3_shots
    out = {n: [] for n in ("stok", "slab", "qtok", "qlab")}
    for t in range(num):
        d = t % 4
        chosen = []
        for c in (0, 1):
            pool = np.flatnonzero(half & (dom == d) & (lab == c))
            chosen.append(rng.choice(pool, k, replace=False))
        idx = np.stack(chosen, 1)  # (k, 2): k//2 of each class into support and query
        sup = np.concatenate([idx[: k // 2, 0], idx[: k // 2, 1]])
        qry = np.concatenate([idx[k // 2:, 0], idx[k // 2:, 1]])
        for name, ids in (("s", sup), ("q", qry)):
            out[name + "tok"].append(tok[ids])
            out[name + "lab"].append(lab[ids])
    return {n: np.stack(v) for n, v in out.items()}


@functools.cache
def _s3_fn(method: str, config: Config, upper_lr: float):
    sampler = T.task_sampler(config.s3_tasks_per_batch)
    every = max(1, config.s3_steps // config.s3_evals)

    def evaluate(enc, test):
        return T.meta_test_accuracy(enc, test, reg=config.s3_reg, head_lr=config.s3_lower_lr,
                                    head_steps=config.s3_head_steps).astype(jnp.float32)

    def record(params, state, data, key):
        return jax.lax.cond(state.count % every == 0, lambda: evaluate(params[0], data["test"]),
                            lambda: jnp.asarray(-1.0, jnp.float32))

    def one(data, seed):
        solver = make_solver(method, T.rep_upper, T.rep_lower, sampler, upper_lr=upper_lr,
                             lower_lr=config.s3_lower_lr, momentum=0.9, period=2, lower_steps=2,
                             refine=10, neumann=5)
        clf = T.init_classifier(jax.random.key(seed), config.vocab_size, config.embed_dim,
                                config.hidden, jnp.dtype(config.dtype))
        heads = jnp.zeros((data["stok"].shape[0], config.hidden + 1), jnp.dtype(config.dtype))
        (enc, _), _, accs = run(solver, (clf["encoder"], heads), config.s3_steps, data,
                                key=jax.random.key(2000 + seed), record=record)
        return accs, evaluate(enc, data["test"])

    return one


def run_s3(config: Config) -> Results:
    train = _tasks(config, config.s3_train_tasks, 0, config.data_seed + 3)
    test = _tasks(config, config.s3_test_tasks, 1, config.data_seed + 4)
    data = {k: jnp.asarray(v) for k, v in train.items()}
    data["reg"] = jnp.asarray(config.s3_reg, config.dtype)
    data["test"] = {k: jnp.asarray(v) for k, v in test.items()}
    every = max(1, config.s3_steps // config.s3_evals)
    ev = np.arange(0, config.s3_steps, every)
    series: dict[str, Any] = {"steps": np.concatenate([ev, [config.s3_steps]])}
    summary: dict[str, Any] = {}
    lrs = dict(config.s3_upper_lr)
    for method in _harness.progress(config.s3_methods, "s3"):
        accs, final = sweep(_s3_fn(method, config, lrs[method]), {"seed": list(config.seeds)},
                            data)
        curve = np.concatenate([np.asarray(accs)[:, ev], np.asarray(final)[:, None]], axis=1)
        series[key(method, "meta_test_acc")] = curve.mean(axis=0)
        summary[key("s3", method, "final_meta_test_acc")] = [float(v) for v in curve[:, -1]]
    return Results(series, summary, list(config.seeds))


def plot_s3(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for m in record["config"]["s3_methods"]:
        ax.plot(s["steps"], s[key(m, "meta_test_acc")], "o-", ms=3, label=NAMES[m])
    ax.set(xlabel="outer iteration", ylabel="meta-test accuracy (mean over seeds)")
    ax.legend()
    fig.suptitle(record["title"])
    return fig


FIGURES = {
    "s0": Figure("analogue of the theory (Thm 1, Assumption 1): synthetic (L0,L1)-smooth bilevel",
                 "S0: ‖∇Φ‖ vs oracle calls, step-size sensitivity, period I", run_s0, plot_s0),
    "s1": Figure("analogue of the data hyper-cleaning figure (Sentiment140 -> VADER corpora)",
                 "S1: data hyper-cleaning, GRU on VADER text", run_s1, plot_clf),
    "s2": Figure("analogue of the hyperparameter-optimization figure (Amazon -> VADER)",
                 "S2: hyperparameter optimization (log ℓ2 coefficient)", run_s2, plot_clf),
    "s3": Figure("analogue of the hyper-representation figure (Amazon domains -> VADER domains)",
                 "S3: hyper-representation, per-task linear heads", run_s3, plot_s3),
}

PAPER = Paper(
    slug="bo_rep",
    title="Bilevel Optimization under Unbounded Smoothness (Hao, Gong, Liu, ICLR 2024)",
    reference="J. Hao, X. Gong, M. Liu. Bilevel Optimization under Unbounded Smoothness: A New "
    "Algorithm and Convergence Analysis. ICLR 2024, arXiv:2401.09587",
    figures=FIGURES,
    full=FULL,
    smoke=SMOKE,
)

main = _harness.make_main(PAPER)

if __name__ == "__main__":
    raise SystemExit(main())
