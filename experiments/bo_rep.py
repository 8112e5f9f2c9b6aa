"""Hao, Gong, Liu 2024, "Bilevel Optimization under Unbounded Smoothness: A New Algorithm and
Convergence Analysis" (ICLR 2024, arXiv:2401.09587): BO-REP and its baselines.

CPU-offline substitutes for the paper's experiments (paper_repro/bo_rep.md lists every change):

* ``s0``    synthetic bilevel problem with an (L0, L1)-smooth, not L-smooth upper level and a
            closed-form hypergradient: ‖∇Φ(x_t)‖ vs oracle calls for every method, the upper
            step-size sensitivity grid, and BO-REP's update period I;
* ``s1``    data hyper-cleaning (the paper's Sentiment140 task) on sklearn's 8×8 digits read row
            by row by a small GRU: binary "digit ≥ 5", fixed label noise p, clean validation;
* ``s2``    hyperparameter optimization: the log ℓ2 coefficient of the same GRU classifier on
            100 clean training images;
* ``s3``    hyper-representation: a GRU encoder (upper) and per-task linear heads (lower) on
            digit-pair few-shot tasks; meta-test accuracy of a fresh head per task.

Every method of S1-S3 is tuned by the same protocol (:func:`_tune`: upper × lower step grid on
validation, widened once beyond a selected edge); every record stores the constant predictor's
accuracy (``…/constant_acc``) and each run's ‖x_T − x_0‖ (``…/upper_move``).

Command: ``python -m experiments.bo_rep [--figure s0|s1|s2|s3|all] [--smoke]``. float32 (the
paper's GPU runs are float32). Seeds and step grids are one vmapped call per method. The digits
ship with scikit-learn (nothing is downloaded). Expected time (2 cores): unmeasured alone; under
load 12-21 the figures took 714/603/896/816 s (see paper_repro/bo_rep.md).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments import _harness
from experiments._harness import Figure, Paper, Results
from experiments._keys import key, pystr
from jaxrank.data import images as IM
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
    # Each family has its own step grid: the un-normalized baselines' α is a multiplier of the
    # gradient, BO-REP's η a distance per step (‖x₀ − x*‖ ≈ 6.3 needs η ≥ 0.0063 in 1,000 steps).
    s0_step_sizes: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    # 0.3 added in session 14: one step beyond the top edge, where 0.2 had been selected
    s0_bo_rep_step_sizes: tuple[float, ...] = (0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3)
    s0_eps: float = 1.0  # ε of the steps-to-ε comparison (first t with ‖∇Φ(x_t)‖ ≤ ε)
    s0_eps_grid: tuple[float, ...] = (4.0, 2.0, 1.0, 0.5, 0.25)  # iterations-vs-ε slope
    s0_curve_lr: float = 0.01  # BO-REP's η of the update-period panel
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
    # digits data (S1-S3): sklearn's 8×8 digits read row by row (8 steps of 8 pixels) -----
    hidden: int = 16  # GRU state width of the classifier / encoder
    data_seed: int = 0
    # Step-size tuning, the same protocol for every method of S1, S2 and S3 (ERM included):
    # a grid of upper step × lower step, upper = the method's center × upper_lr_factors,
    # lower ∈ `<task>_lower_lrs` (TTSA's: the initial value of its decaying lower step); the
    # point with the best mean-over-seeds final VALIDATION accuracy is selected. Where it lies
    # on an edge of either axis, the grid is widened once by one step beyond that edge (the
    # ratio of the axis's two nearest points) and the selection repeated (recorded: `widened`).
    upper_lr_factors: tuple[float, ...] = (0.1, 1.0, 10.0)
    # S1 hyper-cleaning: binary "digit ≥ 5", fixed label flips with probability p ------------
    s1_noise: tuple[float, ...] = (0.3,)
    s1_n_train: int = 900
    s1_n_val: int = 300
    s1_n_test: int = 597
    s1_batch: int = 32
    s1_epochs: int = 8
    s1_methods: tuple[str, ...] = ("bo_rep", "soba", "ma_soba", "stocbio", "ttsa", "saba")
    s1_evals_per_epoch: int = 1
    s1_reg: float = 1e-4
    s1_lower_lrs: tuple[float, ...] = (0.5, 2.0)
    s1_upper_lr: tuple[tuple[str, float], ...] = (
        ("bo_rep", 1.0), ("soba", 100.0), ("ma_soba", 100.0), ("stocbio", 100.0),
        ("ttsa", 100.0), ("saba", 100.0))
    # S2 HPO: few clean examples, many parameters; the upper variable is log ρ of ρ/2‖w‖² ------
    s2_n_train: int = 100
    s2_noise: float = 0.0
    s2_epochs: int = 100
    s2_methods: tuple[str, ...] = ("bo_rep", "soba", "ma_soba", "stocbio", "ttsa")
    s2_log_reg0: float = -7.0
    s2_lower_lrs: tuple[float, ...] = (0.5, 2.0)
    s2_log_reg_grid: tuple[float, ...] = (-7.0, -5.0, -3.0, -1.0)  # ERM at fixed ρ: does ρ matter?
    s2_upper_lr: tuple[tuple[str, float], ...] = (
        ("bo_rep", 0.05), ("soba", 1.0), ("ma_soba", 1.0), ("stocbio", 1.0), ("ttsa", 1.0))
    # S3 hyper-representation: digit-pair tasks (a vs b), disjoint images for train/val/test --
    s3_train_tasks: int = 32
    s3_val_tasks: int = 16
    s3_test_tasks: int = 32
    s3_shots: int = 5  # support images per class
    s3_queries: int = 5  # query images per class
    s3_tasks_per_batch: int = 4
    s3_steps: int = 150
    s3_methods: tuple[str, ...] = ("bo_rep", "anil", "maml", "soba", "ma_soba", "stocbio",
                                   "ttsa", "saba")
    s3_evals: int = 5
    s3_reg: float = 0.1
    s3_lower_lrs: tuple[float, ...] = (0.5, 2.0)
    # MAML's inner steps move the GRU encoder too (the others' move heads only): its own grid,
    # an order of magnitude lower (the paper's tuned MAML pair is (0.05, 0.1), its grid
    # {0.001, ..., 0.5}). First-order MAML (FOMAML), the same K = 6 inner steps as ANIL.
    s3_maml_lower_lrs: tuple[float, ...] = (0.05, 0.5)
    s3_head_lr: float = 0.5  # meta-test head: fixed, identical for every method
    s3_head_steps: int = 100
    s3_time_repeats: int = 3  # timed runs per method (the fastest is kept) for the time panel
    s3_upper_lr: tuple[tuple[str, float], ...] = (
        ("bo_rep", 0.05), ("anil", 0.1), ("maml", 0.1), ("soba", 0.1), ("ma_soba", 0.1),
        ("stocbio", 0.1), ("ttsa", 0.1), ("saba", 0.1))


FULL = Config()
# SMOKE keeps every code path of every figure but few methods: on 2 shared CPU cores each GRU
# solver's compilation (HVPs through a scan) costs ~15 s of CPU time.
SMOKE = dataclasses.replace(
    FULL, seeds=(0, 1), s0_dim=4, s0_steps=60, s0_step_sizes=(0.01, 1.0),
    s0_bo_rep_step_sizes=(0.01, 0.1), s0_periods=(1, 2), s0_eps_grid=(2.0, 1.0),
    s0_saba_blocks=4, hidden=4,
    s1_noise=(0.3,), s1_n_train=64, s1_n_val=32, s1_n_test=64, s1_batch=16, s1_epochs=1,
    s1_lower_lrs=(2.0,), upper_lr_factors=(1.0, 10.0), s2_n_train=32, s2_epochs=1,
    s2_log_reg_grid=(-1.0,), s2_lower_lrs=(2.0,),
    s3_train_tasks=4, s3_val_tasks=2, s3_test_tasks=2, s3_shots=2, s3_queries=2,
    s3_tasks_per_batch=2, s3_steps=4, s3_evals=2, s3_lower_lrs=(0.5,),
    s3_head_steps=5, s3_time_repeats=1, s3_maml_lower_lrs=(0.05,),
    s0_methods=("bo_rep", "sustain"), s1_methods=("bo_rep",),
    s2_methods=("bo_rep",),
    s3_methods=("bo_rep",))  # MAML on the S3 oracles: tests/bo_rep/test_bilevel.py

NAMES = {"bo_rep": "BO-REP", "soba": "SOBA", "ma_soba": "MA-SOBA", "stocbio": "StocBiO",
         "ttsa": "TTSA", "saba": "SABA", "anil": "ANIL", "maml": "MAML", "sustain": "SUSTAIN",
         "vrbo": "VRBO",
         "erm": "single-level SGD"}


# --------------------------------------------------------------------------- solvers


def make_solver(method: str, upper, lower, sampler, *, upper_lr, lower_lr, momentum=0.9,
                period=2, lower_steps=2, refine=10, neumann=10, block=None, num_blocks=1,
                vrbo_period=10, sustain_correction=0.5, tasks=None):
    """One solver per method name with the shared schedule (every task uses this)."""
    if method == "bo_rep":
        return B.bo_rep(upper, lower, learning_rate=upper_lr, momentum=momentum,
                        lower_learning_rate=lower_lr, z_learning_rate=lower_lr, period=period,
                        lower_steps=lower_steps, refine_steps=refine, refine_epochs=2,
                        sampler=sampler)
    if method == "soba":
        return B.soba(upper, lower, learning_rate=upper_lr, lower_learning_rate=lower_lr,
                      sampler=sampler)
    if method == "ma_soba":
        return B.ma_soba(upper, lower, learning_rate=upper_lr, lower_learning_rate=lower_lr,
                         momentum=momentum, sampler=sampler)
    if method == "stocbio":
        return B.stocbio(upper, lower, learning_rate=upper_lr, lower_learning_rate=lower_lr,
                         inner_steps=lower_steps, neumann_learning_rate=lower_lr,
                         neumann_steps=neumann, sampler=sampler)
    if method == "ttsa":
        return B.ttsa(upper, lower, learning_rate=upper_lr, lower_learning_rate=lower_lr,
                      neumann_learning_rate=lower_lr, neumann_max=neumann, sampler=sampler)
    if method == "saba":
        return B.saba(upper, lower, learning_rate=upper_lr, lower_learning_rate=lower_lr,
                      block=block, num_blocks=num_blocks)
    if method == "sustain":
        return B.sustain(upper, lower, learning_rate=upper_lr, lower_learning_rate=lower_lr,
                         correction=sustain_correction, neumann_learning_rate=lower_lr,
                         neumann_steps=neumann, sampler=sampler)
    if method == "vrbo":
        return B.vrbo(upper, lower, learning_rate=upper_lr, lower_learning_rate=lower_lr,
                      inner_steps=lower_steps, period=vrbo_period, neumann_learning_rate=lower_lr,
                      neumann_steps=neumann, checkpoint_batches=4, sampler=sampler)
    if method == "anil":
        return B.anil(upper, lower, learning_rate=upper_lr, inner_learning_rate=lower_lr,
                      inner_steps=3 * lower_steps, sampler=sampler)
    if method == "maml":
        return B.maml(upper, lower, learning_rate=upper_lr, inner_learning_rate=lower_lr,
                      inner_steps=3 * lower_steps, first_order=True, tasks=tasks,
                      sampler=sampler)
    raise ValueError(f"unknown method {method!r}")


def _finite_or_inf(a):
    a = np.asarray(a, float)
    return np.where(np.isfinite(a), a, np.inf)


# --------------------------------------------------------------------------- S0


def _s0_block(i, data):
    return T.quartic_sampler(jax.random.key(i), data)


def _s0_record(params, state, data, key):
    return (jnp.linalg.norm(T.quartic_hypergradient(params[0], data)), state.oracle_calls)


def _s0_fn(method: str, config: Config, period: int | None = None, refine: int | None = None):
    def one(data, step_size, seed):
        solver = make_solver(
            method, T.quartic_upper, T.quartic_lower, T.quartic_sampler, upper_lr=step_size,
            lower_lr=config.s0_lower_lr, momentum=config.s0_momentum,
            period=config.s0_period if period is None else period,
            lower_steps=config.s0_lower_steps,
            refine=config.s0_refine if refine is None else refine,
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


def _first_hit(gn, eps):
    """Index of the first step with ‖∇Φ‖ ≤ eps along the last axis; -1 where never."""
    hit = gn <= eps
    return np.where(hit.any(axis=-1), hit.argmax(axis=-1), -1)


def run_s0(config: Config) -> Results:
    """Each method on its own step grid × seeds (one vmapped call); per step size the median
    final ‖∇Φ‖, per seed the iterations and oracle calls to ‖∇Φ‖ ≤ ε; each method's best step
    size is the one with the fewest median oracle calls to ε (unreached seeds count as ∞)."""
    if config.s0_period not in config.s0_periods:  # the ablation's refined arm is that run
        raise ValueError(f"`Config.s0_period` must be one of `Config.s0_periods` "
                         f"{tuple(config.s0_periods)}, got {config.s0_period}")
    dt = np.dtype(config.dtype)
    data = {k: jnp.asarray(v) for k, v in T.quartic_problem(0, config.s0_dim, dtype=dt).items()}
    data["noise"] = jnp.asarray(config.s0_noise, dt)
    grid = _harness.log_grid(config.s0_steps, 200)
    tail = max(1, config.s0_steps // 10)
    series: dict[str, Any] = {"steps": grid, "periods": list(config.s0_periods)}
    summary: dict[str, Any] = {}
    x0 = jnp.full(config.s0_dim, config.s0_x0, dt)
    summary[key("s0", "initial_grad_norm")] = float(np.linalg.norm(
        T.quartic_hypergradient(x0, data)))

    def run_method(method, steps, period=None, refine=None):
        fn = _s0_fn(method, config, period, refine)
        gn, calls = sweep(fn, {"step_size": steps, "seed": list(config.seeds)}, data)
        return _finite_or_inf(gn), np.asarray(calls)  # (lr, seed, T); diverged: +inf, not NaN

    # every method's sweep and every period's, side by side (one per core)
    grids = [list(config.s0_bo_rep_step_sizes if m == "bo_rep" else config.s0_step_sizes)
             for m in config.s0_methods]
    runs = _harness.concurrently(
        [functools.partial(run_method, m, g) for m, g in zip(config.s0_methods, grids,
                                                              strict=True)]
        + [functools.partial(run_method, "bo_rep", [config.s0_curve_lr], period)
           for period in config.s0_periods]
        # the initialization-refinement ablation: BO-REP at (η, I) = (s0_curve_lr, s0_period)
        # without the Epoch-SGD refinement of y_0; the refined arm is the period run at I
        + [functools.partial(run_method, "bo_rep", [config.s0_curve_lr], config.s0_period, 0)])
    for method, steps, (gn, calls) in zip(config.s0_methods, grids,
                                          runs[:len(config.s0_methods)], strict=True):
        final = np.mean(gn[:, :, -tail:], axis=-1)
        final = np.where(np.isfinite(final), final, np.inf)
        med = np.median(final, axis=1)
        summary[key("s0", method, "step_sizes")] = steps
        for lr, v in zip(steps, med, strict=True):
            summary[key("s0", method, "final_grad_norm", pystr(lr))] = float(v)
        series[key(method, "step_sizes")] = steps
        series[key(method, "final_median")] = med
        # oracle calls to ‖∇Φ‖ ≤ ε for each ε of the grid, per step size and seed (∞: never)
        to_eps = {}
        for eps in sorted({*config.s0_eps_grid, config.s0_eps}):
            t = _first_hit(gn, eps)  # (lr, seed)
            c = np.where(t >= 0, np.take_along_axis(calls, np.maximum(t, 0)[..., None],
                                                    axis=-1)[..., 0], np.inf)
            to_eps[eps] = (t, c)
            med_c = np.median(c, axis=1)
            b = int(np.argmin(med_c))  # first best on ties (the smaller step)
            summary[key("s0", method, "calls_to_eps", pystr(eps))] = [float(v) for v in c[b]]
            summary[key("s0", method, "steps_to_eps", pystr(eps))] = [
                float(v) if v >= 0 else float("inf") for v in t[b]]
            summary[key("s0", method, "best_step_size", pystr(eps))] = steps[b]
        b = steps.index(summary[key("s0", method, "best_step_size", pystr(config.s0_eps))])
        summary[key("s0", method, "best_final_grad_norm")] = float(np.min(med))
        summary[key("s0", method, "oracle_calls_total")] = int(calls[b, 0, -1])
        series[key(method, "curve")] = np.median(gn[b][:, grid], axis=0)
        series[key(method, "calls")] = calls[b, 0][grid]
    n_methods, n_periods = len(config.s0_methods), len(config.s0_periods)
    period_runs = runs[n_methods:n_methods + n_periods]
    for period, (gn, calls) in zip(config.s0_periods, period_runs, strict=True):
        gn = gn[0]
        v = float(np.median(np.mean(gn[:, -tail:], axis=-1)))
        summary[key("s0", "period", pystr(period), "final_grad_norm")] = v
        summary[key("s0", "period", pystr(period), "oracle_calls")] = int(
            np.asarray(calls)[0, 0, -1])
        series[key("period", pystr(period), "curve")] = np.median(gn[:, grid], axis=0)
    refined = period_runs[config.s0_periods.index(config.s0_period)]
    for r, (gn, calls) in zip((config.s0_refine, 0), (refined, runs[-1]), strict=True):
        gn, calls = gn[0], np.asarray(calls)[0]        # (seed, T) at the one step size
        pre = ("s0", "refine_ablation", pystr(r))
        summary[key(*pre, "final_grad_norm")] = float(np.median(np.mean(gn[:, -tail:],
                                                                        axis=-1)))
        t = _first_hit(gn, config.s0_eps)
        summary[key(*pre, "calls_to_eps", pystr(config.s0_eps))] = [
            float(calls[i, v]) if v >= 0 else float("inf") for i, v in enumerate(t)]
        summary[key(*pre, "oracle_calls")] = int(calls[0, -1])
        series[key("refine", pystr(r), "curve")] = np.median(gn[:, grid], axis=0)
    summary[key("s0", "eps")] = config.s0_eps
    summary[key("s0", "eps_grid")] = list(config.s0_eps_grid)
    # A diverged run (‖∇Φ‖ overflowing at a too-large step) is a measured outcome, recorded as
    # inf, not a harness error; so is a run that never reaches ε (calls/steps to ε = inf).
    return Results(series, summary, list(config.seeds),
                   allow_nonfinite=("*/final_median", "s0/*/final_grad_norm/*", "*/curve",
                                    "s0/*/calls_to_eps/*", "s0/*/steps_to_eps/*",
                                    "s0/*/best_final_grad_norm"))


def plot_s0(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    cfg = record["config"]
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    for m in cfg["s0_methods"]:
        ax[0].semilogy(s[key(m, "calls")], np.maximum(s[key(m, "curve")], 1e-8), label=NAMES[m])
        ax[1].loglog(s[key(m, "step_sizes")], np.minimum(s[key(m, "final_median")], 1e6), "o-",
                     label=NAMES[m])
    ax[0].set(xlabel="oracle calls", ylabel="‖∇Φ(x_t)‖ (median over seeds)",
              title="S0, each method at its own best step")
    ax[1].axhline(cfg["s0_eps"], color="k", ls=":", lw=0.8)
    ax[1].set(xlabel="upper step (BO-REP: η, a distance; others: α)",
              ylabel="final ‖∇Φ‖ (inf/diverged clipped 1e6)",
              title="step-size sensitivity")
    for p in s["periods"]:
        ax[2].semilogy(s["steps"], np.maximum(s[key("period", pystr(p), "curve")], 1e-8),
                       label=f"I={p}")
    no_refine = key("refine", pystr(0), "curve")
    if no_refine in s:  # the initialization-refinement ablation (records since session 14)
        ax[2].semilogy(s["steps"], np.maximum(s[no_refine], 1e-8), "k:",
                       label=f"I={cfg['s0_period']}, no refinement")
    ax[2].set(xlabel="step t", ylabel="‖∇Φ(x_t)‖",
              title=f"BO-REP at η = {cfg['s0_curve_lr']:g}: update period I")
    for a in ax:
        a.legend()
    fig.suptitle(record["title"])
    return fig


# --------------------------------------------------------------------------- digits data


# cached: loads the digits once (the classification splits and s3's tasks read them)
@functools.cache
def _digits(config: Config):
    """sklearn's 8×8 digits as (N, 8, 8) row sequences in [0, 1], shuffled by ``data_seed``."""
    x, y = IM.load_digits()
    x = (x / 16.0).reshape(-1, 8, 8).astype(config.dtype)
    perm = np.random.default_rng(config.data_seed).permutation(len(y))
    return x[perm], y[perm].astype(np.int32)


def _constant_acc(labels) -> float:
    """Accuracy of the best constant predictor on binary ``labels`` (the majority share)."""
    m = float(np.mean(np.asarray(labels) > 0))
    return max(m, 1.0 - m)


def _classification_split(config: Config, n_train: int, noise: float):
    """Binary "digit ≥ 5": the first ``n_train`` images (labels flipped with probability
    ``noise``) for training, then a clean validation and a clean test set at the end of the
    shuffled pool (the same images for S1 and S2)."""
    x, y = _digits(config)
    lab = (y >= 5).astype(np.int32)
    nv, nt = config.s1_n_val, config.s1_n_test
    if n_train + nv + nt > len(y):
        raise ValueError(f"n_train + s1_n_val + s1_n_test must be ≤ {len(y)}, got "
                         f"{n_train} + {nv} + {nt}")
    te = np.arange(len(y) - nt, len(y))
    va = np.arange(len(y) - nt - nv, len(y) - nt)
    tr = np.arange(n_train)
    flip = np.random.default_rng(config.data_seed + 2).random(n_train) < noise
    noisy = np.where(flip, 1 - lab[tr], lab[tr]).astype(np.int32)
    return ({"tok": x[tr], "lab": noisy, "vtok": x[va], "vlab": lab[va],
             "reg": np.asarray(config.s1_reg, config.dtype)},
            (x[te], lab[te]), ~flip, _constant_acc(lab[te]))


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


def _tree_dist(a, b):
    """‖a − b‖ over every leaf of two pytrees of the same structure."""
    return jnp.sqrt(sum(jnp.sum((u - v) ** 2) for u, v in
                        zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)))


# --------------------------------------------------------------------------- tuning


def _tune(fn, ups, lows, seeds, args, dtype, *, widen=True):
    """The shared step-size protocol (every method of S1-S3, ERM included).

    Runs ``fn(*args, ups, lows, point=i, seed=s)`` on the grid ``ups × lows`` × seeds as one
    vmapped call, selects the point with the best mean-over-seeds ``val``, and where that point
    lies on an edge of an axis with ≥ 2 values widens that axis once by one step beyond the edge
    (a second call of the same shape: no recompilation) and selects again.

    Returns ``(runs, best, widened)``: ``runs`` a list of ``((upper, lower), out)`` with ``out``
    the per-seed outputs, ``best`` the selected index, ``widened`` e.g. ``["upper above"]``."""
    pairs = [(float(u), float(lo)) for u in ups for lo in lows]
    n = len(pairs)

    def evaluate(pts):
        res = []
        for c in range(0, len(pts), n):
            chunk = pts[c:c + n]
            padded = chunk + [chunk[-1]] * (n - len(chunk))
            out = sweep(fn, {"point": np.arange(n), "seed": list(seeds)}, *args,
                        jnp.asarray([p[0] for p in padded], dtype),
                        jnp.asarray([p[1] for p in padded], dtype))
            res += [(p, jax.tree.map(lambda a, i=i: np.asarray(a)[i], out))
                    for i, p in enumerate(chunk)]
        return res

    def select(res):
        vals = [float(np.mean(o["val"])) for _, o in res]
        return int(np.argmax(vals))  # first best on ties

    runs = evaluate(pairs)
    best = select(runs)
    widened = []
    if widen:
        u, lo = runs[best][0]
        new = []
        for name, axis, v, idx in (("upper", sorted(set(ups)), u, 0),
                                   ("lower", sorted(set(lows)), lo, 1)):
            if len(axis) < 2:
                continue
            for side, edge, ratio in (("below", axis[0], axis[0] / axis[1]),
                                      ("above", axis[-1], axis[-1] / axis[-2])):
                if v == edge:
                    widened.append(f"{name} {side}")
                    other = lows if idx == 0 else ups
                    for o in other:
                        pt = (edge * ratio, float(o)) if idx == 0 else (float(o), edge * ratio)
                        new.append(pt)
        if new:
            runs += evaluate(new)
            best = select(runs)
    return runs, best, widened


def _record_tuning(summary, prefix, runs, best, widened):
    (u, lo), out = runs[best]
    summary[key(*prefix, "selected_lr")] = u
    summary[key(*prefix, "selected_lower_lr")] = lo
    summary[key(*prefix, "lr_grid")] = [[p[0], p[1]] for p, _ in runs]
    summary[key(*prefix, "val_acc_grid")] = [float(np.mean(o["val"])) for _, o in runs]
    summary[key(*prefix, "widened")] = list(widened)
    summary[key(*prefix, "final_val_acc")] = [float(v) for v in out["val"]]
    summary[key(*prefix, "final_test_acc")] = [float(v) for v in out["test"]]
    summary[key(*prefix, "upper_move")] = [float(v) for v in out["move"]]
    return out


# --------------------------------------------------------------------------- S1, S2


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


def _clf_fn(task: str, method: str, config: Config, steps: int, every: int):
    """``one(data, x0, ups, lows, point=, seed=) -> {curve, val, test, x, move}`` at the step
    pair ``(ups[point], lows[point])`` (traced, so a grid × seeds is one vmap). For ``erm``
    (plain single-level SGD; x unused) ``ups[point]`` is the fixed log ρ."""
    upper, lower = (T.clean_upper, T.clean_lower) if task == "s1" else (T.hpo_upper, T.hpo_lower)
    sampler = T.minibatch_sampler(config.s1_batch, config.s1_batch)
    record = _eval_record(every)

    def block(i, data):
        return sampler(jax.random.key(i), data)

    def one(data, x0, ups, lows, point, seed):
        upper_lr, lower_lr = ups[point], lows[point]
        n = data["tok"].shape[0]
        if method == "erm":
            data = data | {"reg": jnp.exp(upper_lr).astype(data["reg"].dtype)}
            solver = from_optax(optax.sgd(lower_lr),
                                functools.partial(_erm_loss, sampler=sampler))
        else:
            solver = make_solver(method, upper, lower, sampler, upper_lr=upper_lr,
                                 lower_lr=lower_lr, momentum=0.9, period=2, lower_steps=2,
                                 refine=10, neumann=5, block=block,
                                 num_blocks=max(1, n // config.s1_batch))
        w0 = T.init_row_classifier(jax.random.key(seed), 8, 8, config.hidden,
                                   jnp.dtype(config.dtype))
        (x, w), _, accs = run(solver, (x0, w0), steps, data, key=jax.random.key(1000 + seed),
                              record=record)
        return {"curve": accs, "val": T.accuracy(w, data["vtok"], data["vlab"]),
                "test": T.accuracy(w, data["ttok"], data["tlab"]), "x": x,
                "move": jnp.linalg.norm(jnp.ravel(x - x0))}

    return one


def _run_clf(task: str, config: Config, data, test, x0, methods, upper_lrs, lower_lrs, epochs,
             n_train, log_reg, series, summary, prefix):
    """Every method (and the single-level reference) tuned by :func:`_tune`, then recorded.

    Returns ``{method: final x at the selected steps, per seed}``."""
    steps_per_epoch = max(1, n_train // config.s1_batch)
    steps = steps_per_epoch * epochs
    every = max(1, steps_per_epoch // config.s1_evals_per_epoch)
    data = {k: jnp.asarray(v) for k, v in data.items()} | {
        "ttok": jnp.asarray(test[0]), "tlab": jnp.asarray(test[1])}
    ev = np.arange(0, steps, every)
    series["epochs"] = np.concatenate([ev, [steps]]) / steps_per_epoch
    seeds = list(config.seeds)
    dt = jnp.dtype(config.dtype)
    args = (data, jnp.asarray(x0))
    out = {}

    def keep(method, res):
        curve = np.concatenate([np.asarray(res["curve"])[:, ev],
                                np.asarray(res["test"])[:, None]], axis=1)
        series[key(*prefix, method, "test_acc")] = curve.mean(axis=0)

    # the single-level reference (plain SGD on the noisy training loss at fixed ρ) and every
    # method, tuned side by side (one per core)
    tuned = _harness.concurrently(
        [functools.partial(_tune, _clf_fn(task, "erm", config, steps, every), [log_reg],
                           lower_lrs, seeds, args, dt)]
        + [functools.partial(_tune, _clf_fn(task, method, config, steps, every),
                             [dict(upper_lrs)[method] * f for f in config.upper_lr_factors],
                             lower_lrs, seeds, args, dt) for method in methods])
    runs, best, wid = tuned[0]
    keep("erm", _record_tuning(summary, (task, *prefix, "erm"), runs, best, wid))
    for method, (runs, best, wid) in zip(methods, tuned[1:], strict=True):
        res = _record_tuning(summary, (task, *prefix, method), runs, best, wid)
        keep(method, res)
        out[method] = np.asarray(res["x"])
    return out


def run_s1(config: Config) -> Results:
    series: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    for p in config.s1_noise:
        data, test, clean, const = _classification_split(config, config.s1_n_train, p)
        summary[key("s1", pystr(p), "constant_acc")] = const
        x0 = np.zeros(config.s1_n_train, config.dtype)
        lam = _run_clf("s1", config, data, test, x0, config.s1_methods, config.s1_upper_lr,
                       config.s1_lower_lrs, config.s1_epochs, config.s1_n_train,
                       float(np.log(config.s1_reg)), series, summary, (pystr(p),))
        for method, x in lam.items():
            au = [_auroc(x[s], clean) for s in range(x.shape[0])]
            summary[key("s1", pystr(p), method, "weight_auroc")] = au
    # Is the task learnable? The single-level reference on the same images with their true
    # labels (no flips), tuned the same way: `s1/clean/erm/...` (no upper level, x unused).
    data, test, _, _ = _classification_split(config, config.s1_n_train, 0.0)
    _run_clf("s1", config, data, test, np.zeros(config.s1_n_train, config.dtype), (), {},
             config.s1_lower_lrs, config.s1_epochs, config.s1_n_train,
             float(np.log(config.s1_reg)), series, summary, ("clean",))
    return Results(series, summary, list(config.seeds))


def run_s2(config: Config) -> Results:
    data, test, _, const = _classification_split(config, config.s2_n_train, config.s2_noise)
    x0 = np.asarray(config.s2_log_reg0, config.dtype)
    series: dict[str, Any] = {}
    summary: dict[str, Any] = {key("s2", "constant_acc"): const}
    lam = _run_clf("s2", config, data, test, x0, config.s2_methods, config.s2_upper_lr,
                   config.s2_lower_lrs, config.s2_epochs, config.s2_n_train,
                   config.s2_log_reg0, series, summary, ())
    for method, x in lam.items():
        summary[key("s2", method, "final_log_reg")] = [float(v) for v in x]
    # Does ρ matter? Single-level SGD at the reference's lower step, at fixed ρ on a grid.
    steps_per_epoch = max(1, config.s2_n_train // config.s1_batch)
    steps = steps_per_epoch * config.s2_epochs
    d = {k: jnp.asarray(v) for k, v in data.items()} | {
        "ttok": jnp.asarray(test[0]), "tlab": jnp.asarray(test[1])}
    runs, _, _ = _tune(_clf_fn("s2", "erm", config, steps, steps_per_epoch),
                       list(config.s2_log_reg_grid),
                       [summary[key("s2", "erm", "selected_lower_lr")]], list(config.seeds),
                       (d, jnp.asarray(x0)), jnp.dtype(config.dtype), widen=False)
    summary[key("s2", "erm", "log_reg_grid")] = list(config.s2_log_reg_grid)
    summary[key("s2", "erm", "val_acc_by_log_reg")] = [float(np.mean(o["val"])) for _, o in runs]
    summary[key("s2", "erm", "test_acc_by_log_reg")] = [float(np.mean(o["test"]))
                                                        for _, o in runs]
    return Results(series, summary, list(config.seeds))


def plot_clf(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    summ = record["summary"]
    fig_id = record["figure"]
    prefixes = ([(pystr(p),) for p in record["config"]["s1_noise"]] if fig_id == "s1" else [()])
    methods = record["config"][f"{fig_id}_methods"]
    fig, axes = plt.subplots(1, len(prefixes), figsize=(5.5 * len(prefixes), 3.6), squeeze=False)
    for ax, pre in zip(axes[0], prefixes, strict=True):
        for m in ("erm", *methods):
            ax.plot(s["epochs"], s[key(*pre, m, "test_acc")], "o-" if m != "erm" else "k--", ms=3,
                    label=NAMES[m])
        ax.axhline(summ[key(fig_id, *pre, "constant_acc")], color="grey", ls=":", lw=0.8,
                   label="constant predictor")
        ax.set(xlabel="epoch", ylabel="test accuracy (mean over seeds, val-selected steps)",
               title=f"noise p = {pre[0]}" if pre else "HPO (log ℓ2 coefficient)")
        ax.legend(fontsize=7)
    fig.suptitle(record["title"])
    return fig


# --------------------------------------------------------------------------- S3


def _pair_tasks(config: Config, num: int, part: int, seed: int):
    """``num`` binary digit-pair tasks (a vs b, a ≠ b; label 1 for a) from the images of
    ``part`` (index mod 3: 0 train, 1 validation, 2 test), class-balanced support and query."""
    x, y = _digits(config)
    mask = np.arange(len(y)) % 3 == part
    rng = np.random.default_rng(seed)
    pairs = [(a, b) for a in range(10) for b in range(a + 1, 10)]
    order = np.concatenate([rng.permutation(len(pairs)) for _ in range(num // len(pairs) + 1)])
    k, q = config.s3_shots, config.s3_queries
    out = {n: [] for n in ("stok", "slab", "qtok", "qlab")}
    for t in range(num):
        a, b = pairs[order[t]]
        if rng.random() < 0.5:
            a, b = b, a
        ids = [rng.choice(np.flatnonzero(mask & (y == c)), k + q, replace=False) for c in (a, b)]
        sup = np.concatenate([ids[0][:k], ids[1][:k]])
        qry = np.concatenate([ids[0][k:], ids[1][k:]])
        out["stok"].append(x[sup])
        out["slab"].append(np.repeat(np.array([1, 0], np.int32), k))
        out["qtok"].append(x[qry])
        out["qlab"].append(np.repeat(np.array([1, 0], np.int32), q))
    return {n: np.stack(v) for n, v in out.items()}


S3_REFINE = 10  # BO-REP's Epoch-SGD refinement steps on S3 (the shared schedule of make_solver)


def _s3_fn(method: str, config: Config, refine: int = S3_REFINE):
    every = max(1, config.s3_steps // config.s3_evals)

    def evaluate(enc, tasks):
        return T.meta_test_accuracy(enc, tasks, reg=config.s3_reg,
                                    head_learning_rate=config.s3_head_lr,
                                    head_steps=config.s3_head_steps).astype(jnp.float32)

    def record(params, state, data, key):
        return jax.lax.cond(state.count % every == 0, lambda: evaluate(params[0], data["test"]),
                            lambda: jnp.asarray(-1.0, jnp.float32))

    def one(data, ups, lows, point, seed):
        solver, params, key_ = _s3_start(method, config, data, ups[point], lows[point], seed,
                                         refine)
        (enc, _), _, accs = run(solver, params, config.s3_steps, data, key=key_, record=record)
        return {"curve": accs, "val": evaluate(enc, data["val"]),
                "test": evaluate(enc, data["test"]), "move": _tree_dist(enc, params[0])}

    return one


def _s3_start(method: str, config: Config, data, upper_lr, lower_lr, seed,
              refine: int = S3_REFINE):
    """``(solver, (encoder₀, heads₀), key)`` of one S3 run (shared by the curves and the timing)."""
    nb = max(1, config.s3_train_tasks // config.s3_tasks_per_batch)
    solver = make_solver(method, T.rep_upper, T.rep_lower,
                         T.task_sampler(config.s3_tasks_per_batch), upper_lr=upper_lr,
                         lower_lr=lower_lr, momentum=0.9, period=2, lower_steps=2,
                         refine=refine, neumann=5, block=T.task_block(config.s3_tasks_per_batch),
                         num_blocks=nb, tasks=T.split_tasks)
    clf = T.init_row_classifier(jax.random.key(seed), 8, 8, config.hidden, jnp.dtype(config.dtype))
    heads = jnp.zeros((data["stok"].shape[0], config.hidden + 1), jnp.dtype(config.dtype))
    return solver, (clf["encoder"], heads), jax.random.key(2000 + seed)


def _s3_seconds_per_step(config: Config, data, selected) -> dict[str, float]:
    """Training seconds per outer step of each method at its selected step sizes (the paper's
    accuracy-vs-running-time view): one seed, no evaluation, the compiled loop run
    ``s3_time_repeats`` times after a warm-up; the fastest run over ``s3_steps``. The programs
    compile side by side, then run one at a time (each alone on the machine)."""
    dt = jnp.dtype(config.dtype)
    seed = config.seeds[0]

    def program(method):
        def train(data, upper_lr, lower_lr):
            solver, params, key_ = _s3_start(method, config, data, upper_lr, lower_lr, seed)
            return run(solver, params, config.s3_steps, data, key=key_)[0]

        u, lo = selected[method]
        args = (data, jnp.asarray(u, dt), jnp.asarray(lo, dt))
        return jax.jit(train).lower(*args).compile(), args

    compiled = _harness.concurrently([functools.partial(program, m) for m in selected])
    out = {}
    for method, (fn, args) in zip(selected, compiled, strict=True):
        jax.block_until_ready(fn(*args))  # warm-up
        times = []
        for _ in range(config.s3_time_repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(fn(*args))
            times.append(time.perf_counter() - t0)
        out[method] = min(times) / config.s3_steps
    return out


def run_s3(config: Config) -> Results:
    train = _pair_tasks(config, config.s3_train_tasks, 0, config.data_seed + 3)
    val = _pair_tasks(config, config.s3_val_tasks, 1, config.data_seed + 4)
    test = _pair_tasks(config, config.s3_test_tasks, 2, config.data_seed + 5)
    data = {k: jnp.asarray(v) for k, v in train.items()}
    data["reg"] = jnp.asarray(config.s3_reg, config.dtype)
    data["val"] = {k: jnp.asarray(v) for k, v in val.items()}
    data["test"] = {k: jnp.asarray(v) for k, v in test.items()}
    every = max(1, config.s3_steps // config.s3_evals)
    ev = np.arange(0, config.s3_steps, every)
    series: dict[str, Any] = {"steps": np.concatenate([ev, [config.s3_steps]])}
    summary: dict[str, Any] = {
        key("s3", "constant_acc"): float(np.mean([_constant_acc(q) for q in test["qlab"]]))}
    lrs = dict(config.s3_upper_lr)
    tuned = _harness.concurrently([  # every method tuned side by side (one per core)
        functools.partial(_tune, _s3_fn(method, config),
                          [lrs[method] * f for f in config.upper_lr_factors],
                          list(config.s3_maml_lower_lrs if method == "maml" else
                               config.s3_lower_lrs), list(config.seeds), (data,),
                          jnp.dtype(config.dtype)) for method in config.s3_methods])
    selected = {}
    for method, (runs, best, wid) in zip(config.s3_methods, tuned, strict=True):
        res = _record_tuning(summary, ("s3", method), runs, best, wid)
        curve = np.concatenate([np.asarray(res["curve"])[:, ev],
                                np.asarray(res["test"])[:, None]], axis=1)
        series[key(method, "meta_test_acc")] = curve.mean(axis=0)
        summary[key("s3", method, "final_meta_test_acc")] = [float(v) for v in curve[:, -1]]
        selected[method] = runs[best][0]
    if "bo_rep" in selected:  # the refinement ablation: BO-REP at its selected pair, refine = 0
        u, lo = selected["bo_rep"]
        runs, _, _ = _tune(_s3_fn("bo_rep", config, refine=0), [u], [lo], list(config.seeds),
                           (data,), jnp.dtype(config.dtype), widen=False)
        for r, acc in ((S3_REFINE, summary[key("s3", "bo_rep", "final_meta_test_acc")]),
                       (0, [float(v) for v in runs[0][1]["test"]])):
            summary[key("s3", "refine_ablation", pystr(r), "final_meta_test_acc")] = acc
        curve = np.concatenate([np.asarray(runs[0][1]["curve"])[:, ev],
                                np.asarray(runs[0][1]["test"])[:, None]], axis=1)
        series[key("refine", "0", "meta_test_acc")] = curve.mean(axis=0)
    # wall-clock (machine-dependent; no claim reads it): the x axis of the time panel
    for method, sec in _s3_seconds_per_step(config, data, selected).items():
        summary[key("s3", method, "seconds_per_step")] = sec
    return Results(series, summary, list(config.seeds))


def plot_s3(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s, summ = record["results"]["series"], record["summary"]
    fig, (ax, ax_t) = plt.subplots(1, 2, figsize=(11.0, 3.6))
    for m in record["config"]["s3_methods"]:
        acc = s[key(m, "meta_test_acc")]
        ax.plot(s["steps"], acc, "o-", ms=3, label=NAMES[m])
        sec = summ.get(key("s3", m, "seconds_per_step"))
        if sec is not None:  # records before the time panel have no timing
            ax_t.plot(np.asarray(s["steps"]) * sec, acc, "o-", ms=3, label=NAMES[m])
    if key("refine", "0", "meta_test_acc") in s:
        ax.plot(s["steps"], s[key("refine", "0", "meta_test_acc")], "k:", lw=1,
                label="BO-REP without refinement")
    for a in (ax, ax_t):
        a.axhline(summ[key("s3", "constant_acc")], color="grey", ls=":", lw=0.8,
                  label="constant predictor")
        a.set(ylabel="meta-test accuracy (mean over seeds)")
    ax.set(xlabel="outer iteration")
    ax_t.set(xlabel="training time, s (outer steps × measured s/step; evaluation excluded)",
             title="the same curves against wall-clock time (this machine)")
    ax.legend(fontsize=7)
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
