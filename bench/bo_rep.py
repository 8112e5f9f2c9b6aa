"""``python -m bench.bo_rep [--tiny] [--out PATH] [--device-note TEXT]``

BO-REP (Hao, Gong, Liu 2024) on the S0 synthetic (L0, L1)-smooth bilevel problem of
``experiments/bo_rep.py``: the upper step-size grid × seeds as ONE jitted, vmapped call of
``jaxrank.optim.run`` (``vmap``) against the same run jitted once with the step size traced and
called per (step size, seed) in Python (``loop_jit``, what the official PyTorch code does: one run
per configuration), and against a plain NumPy implementation of the same BO-REP run with the S0
oracles written out by hand (``numpy``: a Python loop per run, the natural non-JAX alternative),
and, when ``torch`` is installed, against the same run in PyTorch eager mode on the CPU with
autograd oracles (``torch_eager``: the official code's framework; per-iteration times side by
side). torch is a bench-only optional extra (``pip install -e '.[bench]'``; its PyPI wheel pulls
several GB of CUDA libraries): never needed by ``make test`` or ``make repro``; without it the
record says so and has no torch variant.
The JAX solver is built by ``experiments.bo_rep.make_solver`` on the
``jaxrank.optim.bilevel_tasks`` quartic problem; the NumPy loop below is a second, independent
implementation kept here only as the benchmark's reference (the library holds the algorithm).

The NumPy runs consume the very same oracle noise as the JAX runs: every minibatch the solver
draws (refinement, periodic lower steps, z-step, hypergradient; key streams of
``jaxrank.optim.bilevel``) is pre-drawn by JAX, untimed, so the NumPy trajectory is the same
trajectory and its timing *excludes* noise generation (the JAX variants include it: a bias in
NumPy's favour, stated in the record). ``numpy_rng`` is the same NumPy loop drawing its noise
with ``numpy.random.default_rng`` inside the timer (a different noise stream, so timed but not
compared): the like-for-like cost of a NumPy user's run. float64 (an entry point, like the
harness). ``vmap`` and ``loop_jit`` must agree on the final upper-level iterates x_T to ``rtol``
(relative, max over the grid); NumPy must agree with JAX on x after the first ``agree_steps``
steps to ``rtol_numpy`` (beyond that, float64 roundoff differences between NumPy and XLA grow
exponentially on this non-convex problem, so x_T itself differs at O(0.1); the gap is recorded);
non-finite entries must coincide. The yardstick is the memory bandwidth measured in the same run
(``bandwidth``). Absolute times are under ``volatile``; ratios are the result. No GPU was
available when this was written.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bench import _common
from experiments import bo_rep as E
from jaxrank.optim import bilevel_tasks as T
from jaxrank.optim import run as run_solver


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    dim: int = E.FULL.s0_dim
    steps: int = E.FULL.s0_steps
    step_sizes: tuple[float, ...] = E.FULL.s0_step_sizes
    seeds: tuple[int, ...] = E.FULL.seeds
    repeats: int = 3
    rtol: float = 1e-7
    # NumPy vs XLA: the same float64 trajectory up to operation order over the first
    # `agree_steps` steps (measured ~1e-15 at step 60); later, roundoff differences grow
    # exponentially on the non-convex problem (2e-6 at step 200 for the largest step, O(0.1)
    # at T = 1,000; the full-length gap is recorded).
    rtol_numpy: float = 1e-8
    agree_steps: int = 50
    bandwidth_bytes: int = 2**28


FULL = BenchConfig()
TINY = dataclasses.replace(FULL, dim=4, steps=60, step_sizes=(0.01, 1.0), seeds=(0, 1),
                           repeats=1, bandwidth_bytes=2**24)


def _exp_config(config: BenchConfig) -> E.Config:
    return dataclasses.replace(E.FULL, s0_dim=config.dim, s0_steps=config.steps,
                               s0_step_sizes=config.step_sizes, seeds=config.seeds)


def _data(config: BenchConfig) -> dict[str, jax.Array]:
    data = {k: jnp.asarray(v) for k, v in
            T.quartic_problem(0, config.dim, dtype=np.float64).items()}
    data["noise"] = jnp.asarray(E.FULL.s0_noise, jnp.float64)
    return data


#: PRNG implementations timed for the oracle noise (``jax.random.key(seed, impl=...)``; None:
#: JAX's default, threefry2x32, what ``experiments.bo_rep`` and its records use). Another impl
#: gives a *different* noise stream (same distribution), so its runs are timed, not compared.
KEY_IMPLS = (None, "rbg", "unsafe_rbg")


def fixed_noise_sampler(key, data):
    """The S0 batch with the noise fields read from ``data["fixed"]`` (drawn once, outside the
    timer) and the key unused: the oracles' arithmetic without any random-number generation
    (the compute-only JAX variant; XLA drops the unused key derivations)."""
    del key
    return {"h": data["h"], "b": data["b"], "y_target": data["y_target"], **data["fixed"]}


def _final_fn(config: BenchConfig, impl: str | None = None, sampler=T.quartic_sampler):
    """(data, step_size, seed) -> final upper iterate x_T, built like ``experiments.bo_rep``;
    ``impl`` picks the key's PRNG implementation (None: the default, threefry2x32)."""
    c = _exp_config(config)
    make_key = jax.random.key if impl is None else (lambda s: jax.random.key(s, impl=impl))

    def final(data, step_size, seed):
        solver = E.make_solver(
            "bo_rep", T.quartic_upper, T.quartic_lower, sampler, upper_lr=step_size,
            lower_lr=c.s0_lower_lr, momentum=c.s0_momentum, period=c.s0_period,
            lower_steps=c.s0_lower_steps, refine=c.s0_refine, neumann=c.s0_neumann)
        d = data["h"].shape[0]
        x0 = jnp.full((d,), c.s0_x0, data["h"].dtype)
        params = run_solver(solver, (x0, jnp.zeros((d,), data["h"].dtype)), c.s0_steps, data,
                            key=jax.random.fold_in(make_key(seed), 17))[0]
        return params[0]

    return final


def agreement(x: np.ndarray, ref: np.ndarray, rtol: float) -> float:
    """Max relative difference of final iterates ``x`` vs ``ref``; raises beyond ``rtol``.

    Non-finite entries (diverged runs) must sit at the same places in both.
    """
    x, ref = np.asarray(x, float), np.asarray(ref, float)
    if x.shape != ref.shape:
        raise RuntimeError(f"final iterates differ in shape: {x.shape} vs {ref.shape}")
    fin = np.isfinite(ref)
    if not np.array_equal(fin, np.isfinite(x)):
        raise RuntimeError("final iterates differ in which runs are finite")
    scale = np.maximum(np.abs(ref[fin]), 1.0)
    rel = float(np.max(np.abs(x[fin] - ref[fin]) / scale, initial=0.0))
    if not rel <= rtol:
        raise RuntimeError(f"variants disagree on the final x_T: rel diff {rel:.3g} > {rtol}")
    return rel


# --------------------------------------------------------------------------- NumPy reference


def _predraw(config: BenchConfig, data, seeds) -> dict[int, dict[str, Any]]:
    """Every S0 minibatch one BO-REP run draws, from the solver's own key streams (untimed).

    One compiled call for all ``seeds``. Returns, per seed, NumPy arrays: ``refine``
    (T1(2^E − 1) batches at t = 0), ``lower`` (T, N), ``z`` (T,) and ``hyper`` (T,) batches
    (only the noise fields; H, B, y_tgt are constant).
    """
    from jaxrank.optim import bilevel as B

    c = _exp_config(config)
    noise_keys = ("fx", "fy", "gy", "s", "e")
    n_refine = c.s0_refine * (2**2 - 1)  # refine_epochs = 2 in make_solver

    def draw(k_t, stream, i):
        b = T.quartic_sampler(jax.random.fold_in(jax.random.fold_in(k_t, stream), i), data)
        return {n: b[n] for n in noise_keys}

    def one(seed):
        key = jax.random.fold_in(jax.random.key(seed), 17)  # as experiments.bo_rep._s0_fn

        def per_step(t):
            k_t = jax.random.fold_in(key, t)  # run()'s per-step key
            lower = jax.vmap(lambda j: draw(k_t, B._LOWER, j))(jnp.arange(c.s0_lower_steps))
            return lower, draw(k_t, B._ZSTEP, 0), draw(k_t, B._HYPER, 0)

        lower, z, hyper = jax.vmap(per_step)(jnp.arange(c.s0_steps))
        k0 = jax.random.fold_in(key, 0)
        refine = jax.vmap(lambda i: draw(k0, B._REFINE, i))(jnp.arange(n_refine))
        return {"refine": refine, "lower": lower, "z": z, "hyper": hyper}

    seeds = [int(s) for s in seeds]
    out = jax.tree.map(np.asarray, jax.jit(jax.vmap(one))(jnp.asarray(seeds)))
    return {s: jax.tree.map(lambda a, i=i: a[i], out) for i, s in enumerate(seeds)}


def numpy_draws(config: BenchConfig, data: dict[str, np.ndarray], seed: int) -> dict[str, Any]:
    """The same minibatch noise as :func:`_predraw` (distribution of
    ``bilevel_tasks.quartic_sampler``), drawn by NumPy's default generator: what a NumPy user
    would write; a different trajectory, so timed but not compared."""
    c = _exp_config(config)
    rng = np.random.default_rng(seed)
    d, sig = data["h"].shape[0], float(data["noise"])

    def draw(*lead):
        s = rng.standard_normal((*lead, d, d))
        return {"fx": sig * rng.standard_normal((*lead, d)),
                "fy": sig * rng.standard_normal((*lead, d)),
                "gy": sig * rng.standard_normal((*lead, d)),
                "s": sig * (s + np.swapaxes(s, -1, -2)) / (2 * np.sqrt(d)),
                "e": sig * rng.standard_normal((*lead, d, d)) / np.sqrt(d)}

    return {"refine": draw(c.s0_refine * 3), "lower": draw(c.s0_steps, c.s0_lower_steps),
            "z": draw(c.s0_steps), "hyper": draw(c.s0_steps)}


def numpy_bo_rep(data: dict[str, np.ndarray], step_size: float, draws: dict[str, Any],
                 config: BenchConfig) -> np.ndarray:
    """One BO-REP run on S0 in plain NumPy (the benchmark's reference); returns x_T.

    The S0 oracles by hand: ∇_x F = x³ − x + ξ_x, ∇_y F = y − y_tgt + ξ_y,
    ∇_y G = (H + S)y − (B + E)x + ζ, ∇²_yy G z = (H + S)z, ∇²_xy G z = −(B + E)ᵀz; then the
    refinement (Epoch-SGD, 2 epochs), periodic lower SGD, z-step, momentum, normalized x step.
    """
    c = _exp_config(config)
    h, b, y_tgt = data["h"], data["b"], data["y_target"]
    gamma, beta, eta = c.s0_lower_lr, c.s0_momentum, step_size
    d = h.shape[0]
    x = np.full(d, c.s0_x0)
    y = np.zeros(d)
    z = np.zeros(d)
    m = np.zeros(d)

    def grad_y_g(x, y, n, i):
        return (h + n["s"][i]) @ y - (b + n["e"][i]) @ x + n["gy"][i]

    ref = draws["refine"]
    offset = 0
    for k in range(2):  # Epoch-SGD: T1·2^k steps at γ/2^k, epoch average
        steps, lr = c.s0_refine * 2**k, gamma / 2**k
        avg = np.zeros(d)
        for j in range(steps):
            y = y - lr * grad_y_g(x, y, ref, offset + j)
            avg += y / steps
        y, offset = avg, offset + steps
    low, zb, hb = draws["lower"], draws["z"], draws["hyper"]
    tiny = np.finfo(np.float64).tiny
    for t in range(c.s0_steps):
        if t % c.s0_period == 0:
            lo = {n: v[t] for n, v in low.items()}
            for j in range(c.s0_lower_steps):
                y = y - gamma * grad_y_g(x, y, lo, j)
        s, fy = zb["s"][t], zb["fy"][t]
        z = z - gamma * ((h + s) @ z - (y - y_tgt + fy))
        e, fx = hb["e"][t], hb["fx"][t]
        grad = x**3 - x + fx + (b + e).T @ z
        m = beta * m + (1 - beta) * grad
        x = x - eta * m / max(np.linalg.norm(m), tiny)
    return x


def _torch():
    """``torch`` if installed (a bench-only optional extra, never needed by the tests or the
    figures), else ``None``."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_draws(draws: dict[str, Any]) -> dict[str, Any]:
    """The pre-drawn NumPy noise as float64 torch tensors (converted once, untimed)."""
    torch = _torch()
    return {part: {n: torch.from_numpy(np.array(v, dtype=np.float64)) for n, v in batch.items()}
            for part, batch in draws.items()}


def torch_bo_rep(data: dict[str, np.ndarray], step_size: float, draws: dict[str, Any],
                 config: BenchConfig) -> np.ndarray:
    """One BO-REP run on S0 in PyTorch eager mode, the official code's framework and approach:
    F and G are written as losses and every oracle comes from ``torch.autograd.grad`` (∇_y G;
    the Hessian-vector product ∇²_yy G z and the cross term ∇²_xy G z by double backward), one
    Python iteration per step. Same schedule and the same pre-drawn noise (``torch_draws``) as
    :func:`numpy_bo_rep`; float64 on the CPU. Returns x_T."""
    torch = _torch()
    c = _exp_config(config)
    f64 = torch.float64
    h, b, y_tgt = (torch.tensor(np.array(data[k], dtype=np.float64), dtype=f64)
                   for k in ("h", "b", "y_target"))
    gamma, beta, eta = c.s0_lower_lr, c.s0_momentum, step_size
    d = h.shape[0]

    def upper(x, y, n, i):  # F(x, y; ξ) = Σ φ(x) + ½‖y − y_tgt‖² + ⟨ξ_x, x⟩ + ⟨ξ_y, y⟩
        return (torch.sum(0.25 * x**4 - 0.5 * x**2) + 0.5 * torch.sum((y - y_tgt) ** 2)
                + torch.dot(n["fx"][i], x) + torch.dot(n["fy"][i], y))

    def lower(x, y, n, i):  # G(x, y; ζ) = ½ yᵀ(H + S)y − yᵀ(B + E)x + ⟨ζ, y⟩
        return (0.5 * y @ (h + n["s"][i]) @ y - y @ (b + n["e"][i]) @ x
                + torch.dot(n["gy"][i], y))

    def grad_y_g(x, y, n, i):
        y = y.detach().requires_grad_(True)
        return torch.autograd.grad(lower(x, y, n, i), y)[0]

    x = torch.full((d,), c.s0_x0, dtype=f64)
    y = torch.zeros(d, dtype=f64)
    z = torch.zeros(d, dtype=f64)
    m = torch.zeros(d, dtype=f64)
    ref = draws["refine"]
    offset = 0
    for k in range(2):  # Epoch-SGD: T1·2^k steps at γ/2^k, epoch average
        steps, lr = c.s0_refine * 2**k, gamma / 2**k
        avg = torch.zeros(d, dtype=f64)
        for j in range(steps):
            y = y - lr * grad_y_g(x, y, ref, offset + j)
            avg = avg + y / steps
        y, offset = avg, offset + steps
    low, zb, hb = draws["lower"], draws["z"], draws["hyper"]
    tiny = float(np.finfo(np.float64).tiny)
    for t in range(c.s0_steps):
        if t % c.s0_period == 0:
            lo = {n: v[t] for n, v in low.items()}
            for j in range(c.s0_lower_steps):
                y = y - gamma * grad_y_g(x, y, lo, j)
        # z-step: z ← z − γ(∇²_yy G z − ∇_y F), both on the z batch
        yv = y.detach().requires_grad_(True)
        g_y = torch.autograd.grad(lower(x, yv, zb, t), yv, create_graph=True)[0]
        hvp = torch.autograd.grad(g_y @ z, yv)[0]
        f_y = torch.autograd.grad(upper(x, yv, zb, t), yv)[0]
        z = z - gamma * (hvp - f_y)
        # hypergradient ∇_x F − ∇²_xy G z on the hyper batch, momentum, normalized x step
        xv = x.detach().requires_grad_(True)
        yv = y.detach().requires_grad_(True)
        g_y = torch.autograd.grad(lower(xv, yv, hb, t), yv, create_graph=True)[0]
        cross = torch.autograd.grad(g_y @ z, xv)[0]
        f_x = torch.autograd.grad(upper(xv, y, hb, t), xv)[0]
        m = beta * m + (1 - beta) * (f_x - cross)
        x = x - eta * m / max(float(torch.linalg.vector_norm(m)), tiny)
    return x.numpy()


def run(config: BenchConfig) -> dict[str, Any]:
    data = _data(config)
    final = _final_fn(config)
    grid = list(itertools.product(config.step_sizes, config.seeds))
    lrs = jnp.asarray([g[0] for g in grid], jnp.float64)
    seeds = jnp.asarray([g[1] for g in grid])
    pairs = list(zip(list(lrs), list(seeds), strict=True))  # device scalars, split untimed
    # compute-only JAX: one batch of noise drawn once (untimed), read by every oracle call
    noise = T.quartic_sampler(jax.random.key(0), data)
    fixed_data = {**data, "fixed": {k: noise[k] for k in ("fx", "fy", "gy", "s", "e")}}
    compile_s: dict[str, float] = {}
    fns: dict[str, Any] = {}

    def add(suffix, fn, arg):  # vmap over the grid and the per-run jitted loop, compiled AOT
        t0 = time.perf_counter()
        v_c = jax.jit(jax.vmap(fn, in_axes=(None, 0, 0))).lower(arg, lrs, seeds).compile()
        compile_s["vmap" + suffix] = time.perf_counter() - t0
        t0 = time.perf_counter()
        s_c = jax.jit(fn).lower(arg, lrs[0], seeds[0]).compile()
        compile_s["loop_jit" + suffix] = time.perf_counter() - t0
        fns["vmap" + suffix] = lambda: v_c(arg, lrs, seeds)
        fns["loop_jit" + suffix] = lambda: jnp.stack([s_c(arg, lr, s) for lr, s in pairs])

    add("", final, data)
    for impl in KEY_IMPLS[1:]:
        add(f"_{impl}", _final_fn(config, impl), data)
    add("_fixed_noise", _final_fn(config, sampler=fixed_noise_sampler), fixed_data)

    np_data = {k: np.asarray(v) for k, v in data.items()}
    draws = _predraw(config, data, config.seeds)  # untimed
    np_grid = [(float(g[0]), draws[g[1]]) for g in grid]
    fns.update({
           "numpy": lambda: np.stack([numpy_bo_rep(np_data, lr, dr, config)
                                      for lr, dr in np_grid]),
           "numpy_rng": lambda: np.stack([numpy_bo_rep(np_data, float(lr),
                                                       numpy_draws(config, np_data, int(s)),
                                                       config) for lr, s in grid])})
    torch = _torch()
    if torch is not None:
        th_grid = [(lr, torch_draws(dr)) for lr, dr in np_grid]  # untimed conversion
        fns["torch_eager"] = lambda: np.stack([torch_bo_rep(np_data, lr, dr, config)
                                               for lr, dr in th_grid])
    times: dict[str, list[float]] = {k: [] for k in fns}
    results: dict[str, Any] = {}
    first: dict[str, np.ndarray] = {}
    for name, fn in fns.items():  # warm-up
        results[name] = jax.block_until_ready(fn())
        first[name] = np.asarray(results[name])
    for _ in range(config.repeats):  # interleaved repeats
        for name, fn in fns.items():
            t = _common.timeit(fn, repeats=1, warmup=0)
            times[name].append(t.median_s)
            results[name] = t.result
    med = {k: float(np.median(v)) for k, v in times.items()}
    rel = agreement(np.asarray(results["vmap"]), np.asarray(results["loop_jit"]), config.rtol)
    # Other key impls: a different noise stream (not compared with threefry's runs); each must
    # repeat itself bitwise (same key -> same x_T), and its vmap vs loop gap is recorded.
    prng: dict[str, Any] = {}
    for impl in ("threefry2x32", *KEY_IMPLS[1:], "fixed_noise"):
        sfx = "" if impl == "threefry2x32" else f"_{impl}"
        names = ("vmap" + sfx, "loop_jit" + sfx)
        if not all(np.array_equal(first[k], np.asarray(results[k]), equal_nan=True)
                   for k in names):
            raise RuntimeError(f"bench.bo_rep: {impl} runs are not deterministic")
        v, lo = np.asarray(results[names[0]]), np.asarray(results[names[1]])
        fin = np.isfinite(lo) & np.isfinite(v)
        prng[impl] = {
            "deterministic": True,
            "finite_fraction": float(np.mean(np.isfinite(lo))),
            "max_rel_diff_vmap_vs_loop_jit": float(np.max(
                np.abs(v[fin] - lo[fin]) / np.maximum(np.abs(lo[fin]), 1.0), initial=0.0)),
            "loop_jit_over_numpy_rng": med["numpy_rng"] / med[names[1]],
            "vmap_over_numpy_rng": med["numpy_rng"] / med[names[0]],
            "loop_jit_speedup_over_threefry": med["loop_jit"] / med[names[1]]}
    # NumPy vs XLA: identical for the first steps, then float64 roundoff differences grow
    # exponentially (normalized momentum on a double well: m/‖m‖ is sensitive when ‖m‖ is
    # small), so the trajectory check is on the first `agree_steps` steps, untimed; the
    # full-length gap is recorded as information.
    p_steps = min(config.agree_steps, config.steps)
    prefix = dataclasses.replace(config, steps=p_steps)
    x_p = jax.jit(jax.vmap(_final_fn(prefix), in_axes=(None, 0, 0)))(data, lrs, seeds)
    x_p_np = np.stack([numpy_bo_rep(np_data, lr, dr, prefix) for lr, dr in np_grid])
    rel_np = agreement(x_p_np, np.asarray(x_p), config.rtol_numpy)
    torch_info: dict[str, Any] = {
        "available": torch is not None,
        "note": ("PyTorch eager mode on the CPU, float64, oracles by torch.autograd.grad "
                 "(double backward for the Hessian-vector and cross products), one Python "
                 "iteration per step: the official code's framework and approach "
                 "(bench.bo_rep.torch_bo_rep); same pre-drawn noise as `numpy`"
                 if torch is not None else
                 "torch is not installed: no PyTorch comparison in this record (torch is a "
                 "bench-only optional extra: pip install -e '.[bench]')")}
    if torch is not None:
        x_p_th = np.stack([torch_bo_rep(np_data, lr, torch_draws(dr), prefix)
                           for lr, dr in np_grid])
        torch_info.update({
            "version": torch.__version__, "num_threads": torch.get_num_threads(),
            "max_rel_diff_x_at_agree_steps": agreement(x_p_th, np.asarray(x_p),
                                                       config.rtol_numpy)})
    full = np.asarray(results["loop_jit"])
    gap_np = float(np.max(np.abs(np.asarray(results["numpy"]) - full)
                          / np.maximum(np.abs(full), 1.0)))
    bw = _common.memory_bandwidth(config.bandwidth_bytes, repeats=3)
    runs = len(grid)
    variants = {
        name: {"runs": runs, "steps_per_s": runs * config.steps / s,
               "s_per_iteration": s / (runs * config.steps),
               "x_vs_loop_jit": med["loop_jit"] / s, "x_vs_numpy": med["numpy"] / s,
               "x_vs_numpy_rng": med["numpy_rng"] / s}
        for name, s in med.items()
    }
    return {
        "config": dataclasses.asdict(config),
        "variants": variants,
        "ratios": {"vmap_over_loop_jit": med["loop_jit"] / med["vmap"],
                   "vmap_over_numpy": med["numpy"] / med["vmap"],
                   "loop_jit_over_numpy": med["numpy"] / med["loop_jit"],
                   "vmap_over_numpy_rng": med["numpy_rng"] / med["vmap"],
                   "loop_jit_over_numpy_rng": med["numpy_rng"] / med["loop_jit"],
                   "loop_jit_unsafe_rbg_over_numpy_rng":
                       med["numpy_rng"] / med["loop_jit_unsafe_rbg"],
                   "loop_jit_rbg_over_numpy_rng": med["numpy_rng"] / med["loop_jit_rbg"],
                   # compute-only: neither side generates noise inside its timer
                   "compute_only_loop_jit_over_numpy":
                       med["numpy"] / med["loop_jit_fixed_noise"],
                   "compute_only_vmap_over_numpy": med["numpy"] / med["vmap_fixed_noise"],
                   "rng_share_of_loop_jit": 1.0 - med["loop_jit_fixed_noise"] / med["loop_jit"],
                   **({"loop_jit_over_torch_eager": med["torch_eager"] / med["loop_jit"],
                       "vmap_over_torch_eager": med["torch_eager"] / med["vmap"]}
                      if "torch_eager" in med else {})},
        "prng": {"impls": prng,
                 "note": "the default key (threefry2x32) gives the records' streams; rbg and "
                         "unsafe_rbg keys (jax.random.key(seed, impl=...), passed by the caller; "
                         "the library never flips JAX's flags) give different noise streams of "
                         "the same distribution: timed, checked for determinism, not compared. "
                         "fixed_noise: one noise batch drawn once outside the timer and reused "
                         "by every oracle call (no random-number generation in the loop): the "
                         "compute-only JAX variant, against `numpy` (noise pre-drawn outside "
                         "its timer too)"},
        "torch": torch_info,
        "agreement": {"max_rel_diff_final_x": rel, "rtol": config.rtol, "passed": True,
                      "numpy_max_rel_diff_x_at_agree_steps": rel_np,
                      "numpy_rtol": config.rtol_numpy, "agree_steps": p_steps,
                      "numpy_max_rel_diff_final_x_T": gap_np,
                      "scale": "max(|x|, 1)"},
        "bandwidth": bw,
        "numpy": "plain NumPy BO-REP loop (bench.bo_rep.numpy_bo_rep), one Python loop per run, "
                 "same oracle noise pre-drawn by JAX outside the timer (JAX variants draw it "
                 "inside theirs); numpy_rng: the same loop drawing its noise with NumPy's "
                 "default_rng inside the timer (a different noise stream: timed, not compared)",
        "volatile": {"median_s": med, "times_s": times,
                     "compile_s": compile_s},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bo_rep", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="d = 4, T = 60, 2 × 2 grid (the test)")
    parser.add_argument("--out", default=None, help="record path (default bench/results)")
    parser.add_argument("--device-note", default="", help="free text kept in the record")
    args = parser.parse_args(argv)
    config = TINY if args.tiny else FULL
    jax.config.update("jax_enable_x64", True)  # an entry point, like the harness: float64 runs
    out = run(config)
    cmd = "python -m bench.bo_rep" + (" --tiny" if args.tiny else "")
    if args.device_note:
        cmd += f" --device-note {args.device_note}"
    out.update({"mode": "tiny" if args.tiny else "full", "command": cmd,
                "device_note": args.device_note})
    path = _common.write_record("bo_rep", out, None if args.out is None else args.out)
    _common.print_table([{"variant": k, **v} for k, v in out["variants"].items()])
    print(f"max rel diff of final x_T: {out['agreement']['max_rel_diff_final_x']:.3g} "
          f"(rtol {config.rtol})", file=sys.stderr)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
