r"""Benchmark: the LR+GD γ sweep of the perceptron paper as one vmapped call.

``python -m bench.perceptron [--quick|--tiny] [--out PATH] [--device-note TEXT]``

What is timed (one process, one data set, compile excluded and recorded separately):

* ``vmap``      — the whole γ grid as one jitted ``jax.vmap`` of
  ``jaxrank.optim.run(perceptron.lr_gd(γ), 0, T, A, y)``: per step, ``A`` is read twice for all
  γ at once (two matrix-matrix products);
* ``loop_jit``  — the same ``run(lr_gd(γ))`` jitted once with γ traced, called per γ in a
  Python loop: ``A`` is read twice per step *per γ* (matrix-vector products);
* ``numpy``     — a plain float64 NumPy LR+GD per γ (its own reference implementation,
  :func:`numpy_lr_gd`), on the CPU whatever JAX's backend, with the faster of the default BLAS
  thread pool and one thread; timed on a prefix of T steps and scaled linearly (recorded);
* ``vmap_f32``  — ``vmap`` in float32, for scale only (the paper's large-γ runs need float64;
  on a GPU, float32 products may use TF32, see ``env.default_matmul_precision``).

Each is compared with the others (speed-ups) and with the machine's limit: the *algorithmic
minimum* traffic (``2·n·d·itemsize`` bytes per step and per pass over ``A``) divided by the time
gives effective GB/s, reported as a fraction of a memory bandwidth measured in the same run
(:func:`bench._common.memory_bandwidth`). A fraction above 1 means ``A`` was served from cache
(5000 × 784 float64 is 31 MB). The final θ of the float64 variants must agree (to 1e-9 for
γ <= 1; large steps amplify rounding at each loss spike, so γ > 1 only to 0.1), or the benchmark
fails before writing its record.

Data: Fashion-MNIST classes (3, 8), the first 2500 of each, pixels / 255, float64 (n = 5000,
d = 784), as in Fig 5; seeded Gaussian data of the same shape if the Debian package is absent.
``--quick``: 500 per class and T = 200; ``--tiny``: generated 200 × 50, T = 20 (for tests).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from threadpoolctl import threadpool_limits

from bench import _common
from jaxrank import data as D
from jaxrank.optim import perceptron as P
from jaxrank.optim import run

NAME = "perceptron"
GAMMAS = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)  # the paper's grid (Figs 1, 4, 5)


@dataclasses.dataclass(frozen=True)
class Config:
    mode: str
    num_steps: int  # T, iterations per γ
    n_per_class: int  # Fashion-MNIST rows per class (n = 2 · n_per_class)
    numpy_steps: int  # NumPy steps per γ actually timed; the time is scaled to num_steps
    repeats: int = 3
    warmup: int = 1
    gammas: tuple[float, ...] = GAMMAS
    classes: tuple[int, int] = (3, 8)
    d: int = 784
    generated: bool = False  # use seeded Gaussian data instead of Fashion-MNIST
    seed: int = 0
    # θ_T of the float64 variants must agree to rtol_stable for γ <= stable_max_step (measured
    # <= 1e-15). Larger steps amplify summation-order rounding at each loss spike (Thm 4.1):
    # measured up to 1e-2 along the γ = 100 trajectory, so they are held only to rtol_large_step.
    stable_max_step: float = 1.0
    rtol_stable: float = 1e-9
    rtol_large_step: float = 0.1
    bandwidth_bytes: int = 2**28  # 256 MB, far above the last-level cache
    flop_size: int = 1536  # square matrix product for the FLOP-rate yardstick
    # Grid-size curve: G points (γ × seeds) in one vmapped call, `curve_steps` steps each.
    curve_sizes: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    curve_steps: int = 100
    curve_loop_points: int = 4  # NumPy per-point loop: points timed (its cost per point is flat)


FULL = Config("full", num_steps=2000, n_per_class=2500, numpy_steps=200)
QUICK = Config("quick", num_steps=200, n_per_class=500, numpy_steps=200, flop_size=1024,
               curve_steps=50)
TINY = Config("tiny", num_steps=20, n_per_class=100, numpy_steps=10, d=50, generated=True,
              repeats=2, bandwidth_bytes=2**24, flop_size=256, curve_sizes=(1, 2, 4),
              curve_steps=10)


# --------------------------------------------------------------------------- data


def load_data(config: Config) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(A float64 (n, d), y ±1 (n,), description)``; Gaussian fallback if data are absent."""
    n = 2 * config.n_per_class
    note = "generated (--tiny)"
    if not config.generated:
        try:
            x, labels = D.load_fashion_mnist("train")
            a, y = D.binary_pair(x, labels, config.classes, n_per_class=config.n_per_class,
                                 scale=1 / 255, dtype=np.float64)
            return a, y, {"source": "fashion-mnist train", "classes": list(config.classes),
                          "n_per_class": config.n_per_class, "scale": "1/255"}
        except D.DataNotFoundError as e:
            note = f"Fashion-MNIST absent ({e}); seeded Gaussian data of the same shape"
            print(f"note: {note}", file=sys.stderr)
    a, y = D.gaussian_random_labels(config.seed, n, config.d, dtype=np.float64)
    return a, y, {"source": "gaussian_random_labels", "seed": config.seed, "note": note}


# --------------------------------------------------------------------------- variants


def numpy_lr_gd(a: np.ndarray, y: np.ndarray, step_size: float, num_steps: int,
                theta0: np.ndarray | None = None) -> np.ndarray:
    r"""Reference LR+GD in plain NumPy from θ_0 = 0 (the baseline, not jaxrank's code).

    .. math::
        \theta \leftarrow \theta - \gamma \nabla f(\theta), \qquad
        \nabla f(\theta) = -\tfrac1n A^\top\bigl(y \odot \sigma(-y \odot A\theta)\bigr)

    with the stable sigmoid :math:`\sigma(-m) = e/(1+e)` for :math:`m \ge 0` and
    :math:`1/(1+e)` otherwise, :math:`e = e^{-|m|}`. Two matrix-vector products per step.
    ``theta0`` defaults to 0.
    """
    n = a.shape[0]
    theta = np.zeros(a.shape[1], a.dtype) if theta0 is None else np.array(theta0, a.dtype)
    for _ in range(num_steps):
        m = y * (a @ theta)
        e = np.exp(-np.abs(m))
        w = np.where(m >= 0, e, 1.0) / (1.0 + e)  # σ(−m_i)
        theta -= step_size * (-(a.T @ (y * w)) / n)  # θ ← θ − γ ∇f(θ)
    return theta


def _final_theta(gamma, a, y, num_steps):
    """θ_T of jaxrank's LR+GD from θ_0 = 0: the code path the experiments use."""
    theta0 = jnp.zeros(a.shape[1], a.dtype)
    return run(P.lr_gd(gamma), theta0, num_steps, a, y)[0]


def _compile(fn, *args) -> tuple[Any, float]:
    """AOT-compile ``jax.jit(fn)`` for ``args``; return the executable and the seconds spent."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - t0


def time_jax(config: Config, a: np.ndarray, y: np.ndarray):
    """Time ``vmap``, ``loop_jit`` and ``vmap_f32``; data are jit arguments, never constants."""
    T, kw = config.num_steps, {"repeats": config.repeats, "warmup": config.warmup}
    sweep = lambda gs, a, y: jax.vmap(lambda g: _final_theta(g, a, y, T))(gs)
    one = lambda g, a, y: _final_theta(g, a, y, T)
    gammas = np.asarray(config.gammas, np.float64)
    timings, compile_s = {}, {}

    a64, y64, g64 = map(jax.device_put, (a, y, gammas))
    vmap_c, compile_s["vmap"] = _compile(sweep, g64, a64, y64)
    timings["vmap"] = _common.timeit(lambda: vmap_c(g64, a64, y64), **kw)

    g_each = [jax.device_put(g) for g in gammas]  # traced γ: one compilation for the loop
    loop_c, compile_s["loop_jit"] = _compile(one, g_each[0], a64, y64)
    timings["loop_jit"] = _common.timeit(
        lambda: jnp.stack([loop_c(g, a64, y64) for g in g_each]), **kw
    )

    a32, y32, g32 = (jax.device_put(v.astype(np.float32)) for v in (a, y, gammas))
    f32_c, compile_s["vmap_f32"] = _compile(sweep, g32, a32, y32)
    timings["vmap_f32"] = _common.timeit(lambda: f32_c(g32, a32, y32), **kw)
    return timings, compile_s


def time_numpy(config: Config, a: np.ndarray, y: np.ndarray):
    """Time the NumPy baseline; return ``(timing scaled to T, θ_T per γ, numpy facts)``.

    The baseline gets its best BLAS setting: one warmed-up sweep of ``numpy_steps`` per γ is
    timed with the default thread pool and with one thread, and the faster setting is kept (on a
    loaded machine multi-threaded OpenBLAS matrix-vector products can be many times slower).
    That setting is then timed ``repeats`` times and scaled linearly to T (the per-step cost is
    constant); one full-T run supplies θ_T for the agreement check and ``full_run_over_scaled``
    checks the linear scaling.
    """
    T, k = config.num_steps, min(config.numpy_steps, config.num_steps)
    sweep = lambda steps: np.stack([numpy_lr_gd(a, y, g, steps) for g in config.gammas])
    limits = {"default": None, "1": 1}  # BLAS threads; None leaves the pool as it is
    probe = {}
    for label, limit in limits.items():
        with threadpool_limits(limits=limit, user_api="blas"):
            probe[label] = _common.timeit(lambda: sweep(k), repeats=1, warmup=config.warmup)
    best = min(probe, key=lambda label: probe[label].median_s)
    with threadpool_limits(limits=limits[best], user_api="blas"):
        sub = _common.timeit(lambda: sweep(k), repeats=config.repeats, warmup=0)
        t0 = time.perf_counter()
        theta = sweep(T)
        full_s = time.perf_counter() - t0
    scale = T / k
    timing = _common.Timing(sub.median_s * scale, sub.min_s * scale,
                            [t * scale for t in sub.times_s], None)
    facts = {
        "scaled": k != T,
        "steps_timed_per_gamma": k,
        "scale_factor": scale,
        "blas_threads": best,
        "one_thread_over_default_speedup": probe["default"].median_s / probe["1"].median_s,
        "full_run_over_scaled": full_s / timing.median_s,
        "full_run_s": full_s,
    }
    return timing, theta, facts


def _rel_diff(a: Any, b: Any) -> np.ndarray:
    """‖a_γ − b_γ‖ / ‖b_γ‖ per γ (rows are γ)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    num = np.linalg.norm(a - b, axis=-1)
    return num / np.maximum(np.linalg.norm(b, axis=-1), np.finfo(np.float64).tiny)


def check_agreement(config: Config, thetas: dict[str, Any], f32: Any) -> dict[str, Any]:
    """Relative differences of θ_T between the float64 variants, per γ; raise if out of tolerance.

    ``thetas`` maps each float64 variant to its ``(len(gammas), d)`` final iterates. ``f32``
    (the float32 vmap) is compared with ``thetas["vmap"]`` and recorded, not enforced: float32
    saturates at large γ, which is why the paper runs in float64.
    """
    names = list(thetas)
    pairs = [(p, q) for i, p in enumerate(names) for q in names[i + 1 :]]
    stable = np.asarray(config.gammas) <= config.stable_max_step
    rtol = np.where(stable, config.rtol_stable, config.rtol_large_step)
    diffs = {f"{p}_vs_{q}": _rel_diff(thetas[p], thetas[q]) for p, q in pairs}
    finite = all(bool(np.all(np.isfinite(np.asarray(t)))) for t in thetas.values())
    bad = [f"{pair} at γ={g:g}: relative difference {v[i]:.3g} > rtol {rtol[i]:g}"
           for pair, v in diffs.items() for i, g in enumerate(config.gammas)
           if not v[i] <= rtol[i]]
    if not finite or bad:
        raise RuntimeError(
            f"bench.perceptron: the variants disagree (all θ_T finite: {finite}); "
            + "; ".join(bad)
        )
    return {
        "passed": True,
        "all_finite": finite,
        "gammas": config.gammas,
        "rtol_per_gamma": rtol,
        "rel_diff_per_gamma": diffs,
        "max_rel_diff_stable": max(float(np.max(v[stable], initial=0)) for v in diffs.values()),
        "max_rel_diff_large_step": max(
            float(np.max(v[~stable], initial=0)) for v in diffs.values()
        ),
        "vmap_f32_vs_vmap_per_gamma_not_enforced": _rel_diff(f32, thetas["vmap"]),
    }


def bench(config: Config) -> dict[str, Any]:
    """Run every variant, check agreement, and return the record (``env`` is added on write)."""
    jax.config.update("jax_enable_x64", True)  # the paper's runs are float64
    t_start, load_start = time.perf_counter(), os.getloadavg()
    a, y, data_info = load_data(config)
    (n, d), T, G = a.shape, config.num_steps, len(config.gammas)
    bandwidth = _common.memory_bandwidth(config.bandwidth_bytes)
    matmul = _common.flop_rate(config.flop_size)
    timings, compile_s = time_jax(config, a, y)
    curve = grid_curve(config, a, y, matmul["peak_float64_GFLOPs"])
    timings["numpy"], theta_np, numpy_facts = time_numpy(config, a, y)
    agreement = check_agreement(
        config,
        {"vmap": timings["vmap"].result, "loop_jit": timings["loop_jit"].result,
         "numpy": theta_np},
        timings["vmap_f32"].result,
    )

    # Minimum traffic: each LR+GD step reads A twice per γ (A θ, then Aᵀ w); vmap reads it twice
    # per step for all G step sizes at once. Flops: 2 products of 2·n·d per γ and step.
    flops = 4 * n * d * G * T
    passes = {"vmap": 2 * T, "vmap_f32": 2 * T, "loop_jit": 2 * G * T, "numpy": 2 * G * T}
    base, loop = timings["numpy"].median_s, timings["loop_jit"].median_s
    variants = {}
    for name, t in timings.items():
        on_host = name == "numpy" or jax.default_backend() == "cpu"
        nbytes = passes[name] * n * d * (4 if name == "vmap_f32" else 8)
        gbps = nbytes / t.median_s / _common.GB
        variants[name] = {
            "platform": "cpu" if name == "numpy" else jax.default_backend(),
            "dtype": "float32" if name == "vmap_f32" else "float64",
            "min_bytes": nbytes,
            "flops": flops,
            "effective_GBps": gbps,
            "fraction_of_bandwidth": gbps / bandwidth["host_GBps" if on_host else "device_GBps"],
            "GFLOPs": flops / t.median_s / 1e9,
            "fraction_of_flop_rate": flops / t.median_s / 1e9 / matmul[
                "peak_float32_GFLOPs" if name == "vmap_f32" else "peak_float64_GFLOPs"],
            "speedup_vs_numpy": base / t.median_s,
            "speedup_vs_loop_jit": loop / t.median_s,
        }
    return {
        "mode": config.mode,
        "config": dataclasses.asdict(config) | {"n": n, "d": d},
        "data": data_info,
        "numpy_timing": {k: v for k, v in numpy_facts.items() if k != "full_run_s"},
        "bandwidth": bandwidth,
        "matmul": matmul,
        "variants": variants,
        "ratios": {
            "vmap_over_loop_jit_speedup": loop / timings["vmap"].median_s,
            "vmap_over_numpy_speedup": base / timings["vmap"].median_s,
            "loop_jit_over_numpy_speedup": base / loop,
            "vmap_f32_over_vmap_speedup": timings["vmap"].median_s / timings["vmap_f32"].median_s,
        },
        "agreement": agreement,
        "grid_curve": {k: v for k, v in curve.items() if k not in ("rows", "layout_probe")}
        | {"rows": [{k: v for k, v in r.items() if k not in ("per_point_s", "compile_s")}
                    for r in curve["rows"]],
           "layout_probe_rows_over_cols_speedup": curve["layout_probe"]["rows_over_cols_speedup"],
           "layout_probe_G": curve["layout_probe"]["G"]},
        "volatile": {
            "grid_curve_per_point_s": {str(r["G"]): r["per_point_s"] for r in curve["rows"]},
            "grid_curve_compile_s": {str(r["G"]): r["compile_s"] for r in curve["rows"]},
            "layout_probe_min_s": curve["layout_probe"]["min_s"],
            "median_s": {k: t.median_s for k, t in timings.items()},
            "min_s": {k: t.min_s for k, t in timings.items()},
            "times_s": {k: t.times_s for k, t in timings.items()},
            "compile_s": compile_s,
            "numpy_full_run_s": numpy_facts["full_run_s"],
            "wall_s": time.perf_counter() - t_start,
            "load_avg_start": load_start,  # other jobs on the machine skew the times
        },
    }


# --------------------------------------------------------------------------- grid-size curve


def numpy_lr_gd_grid(a: np.ndarray, y: np.ndarray, step_sizes: np.ndarray, theta0: np.ndarray,
                     num_steps: int) -> np.ndarray:
    r"""The NumPy LR+GD of :func:`numpy_lr_gd` vectorised over a grid: all G points per step.

    .. math::
        M = (\Theta A^\top) \circ y, \quad W = \sigma(-M), \quad
        \Theta \leftarrow \Theta + \tfrac{\gamma}{n} (W \circ y) A

    with ``Θ`` of shape ``(G, d)``: two matrix-matrix products per step for the whole grid (the
    strongest plain-CPU peer of the vmapped sweep).
    """
    n = a.shape[0]
    theta = np.array(theta0, a.dtype)
    gam = np.asarray(step_sizes, a.dtype)[:, None]
    for _ in range(num_steps):
        m = (theta @ a.T) * y
        e = np.exp(-np.abs(m))
        w = np.where(m >= 0, e, 1.0) / (1.0 + e)  # σ(−m)
        theta += gam * ((w * y) @ a) / n  # Θ ← Θ − γ ∇f(Θ)
    return theta


def grid_points_for(config: Config, size: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``size`` points (γ × seeds): 2 seeds (1 for size 1) × size/2 step sizes in [1e-3, 1].

    The seed draws θ_0 = 1e-3·N(0, I) (seeded NumPy); step sizes stay <= 1 so that every
    variant must agree to ``rtol_stable`` (the cost per step does not depend on γ).
    """
    seeds = 1 if size == 1 else 2
    gammas = np.logspace(-3, 0, size // seeds)
    theta0 = np.stack([1e-3 * np.random.default_rng(config.seed + s).standard_normal(d)
                       for s in range(seeds)])
    return np.repeat(gammas, seeds), np.tile(theta0, (size // seeds, 1))


def _sweep_points(gs, th0s, a, y, num_steps):
    return jax.vmap(lambda g, t0: run(P.lr_gd(g), t0, num_steps, a, y)[0])(gs, th0s)


def _best_blas(fn: Any, repeats: int) -> tuple[_common.Timing, str]:
    """Time ``fn`` with the default BLAS pool and one thread; keep the faster (as the baseline)."""
    probe = {}
    for label, limit in {"default": None, "1": 1}.items():
        with threadpool_limits(limits=limit, user_api="blas"):
            probe[label] = _common.timeit(fn, repeats=1, warmup=1)
    best = min(probe, key=lambda label: probe[label].median_s)
    with threadpool_limits(limits={"default": None, "1": 1}[best], user_api="blas"):
        return _common.timeit(fn, repeats=repeats, warmup=0), best


def layout_probe(a: np.ndarray, size: int, repeats: int) -> dict[str, float]:
    """Seconds of one step's two products for ``size`` points, in two layouts, jitted (XLA CPU).

    ``rows``: ``Θ Aᵀ`` then ``W A`` (contraction over A's leading axis in the second product,
    what the vmapped library code lowers to); ``cols``: ``A Θᵀ`` then ``Aᵀ Wᵀ``.
    """
    n, d = a.shape
    rng = np.random.default_rng(0)
    theta, w = jnp.asarray(rng.standard_normal((size, d))), jnp.asarray(rng.random((size, n)))
    aj = jnp.asarray(a)
    rows = jax.jit(lambda th, w, a: (th @ a.T, w @ a))
    cols = jax.jit(lambda th, w, a: (a @ th.T, a.T @ w.T))
    return {name: _common.timeit(lambda f=f: f(theta, w, aj), repeats=repeats).min_s
            for name, f in (("rows", rows), ("cols", cols))}


def loop_body_census(compiled_text: str) -> dict[str, int]:
    """Instructions of the (first) ``while`` loop body of a compiled XLA program, by opcode
    (``fusion`` split by kind): what one step of the vmapped run executes."""
    body = re.search(r"while\(.*?body=%?([\w.\-]+)", compiled_text)
    if body is None:
        return {}
    block = re.search(r"^%?" + re.escape(body.group(1)) + r" \(.*?\n}", compiled_text,
                      re.S | re.M)
    census: dict[str, int] = {}
    for line in (block.group(0).splitlines()[1:] if block else []):
        op = re.search(r"= \S+ ([\w\-]+)\(", line)
        if op is None:
            continue
        name = op.group(1)
        if name == "fusion":
            kind = re.search(r"kind=(\w+)", line)
            name = f"fusion:{kind.group(1) if kind else '?'}"
        if name not in ("parameter", "get-tuple-element", "tuple", "constant"):
            census[name] = census.get(name, 0) + 1
    return census


def products_loop(size: int, num_steps: int):
    """``num_steps`` of the step's two matrix products alone (Θ Aᵀ, then W A, chained), no
    elementwise work: what the vmapped LR+GD step would cost if only its products counted."""
    def fn(theta, a):
        def body(_, th):
            return th - 1e-9 * ((th @ a.T) @ a)
        return jax.lax.fori_loop(0, num_steps, body, theta)
    return fn


def grid_curve(config: Config, a: np.ndarray, y: np.ndarray, peak_gflops: float
               ) -> dict[str, Any]:
    """Per-point cost of a G-point grid in one vmapped call, for G in ``config.curve_sizes``.

    Compared in the same run with the NumPy per-point loop (:func:`numpy_lr_gd`; its per-point
    cost does not depend on G, so it is timed on ``min(G, curve_loop_points)`` points), NumPy
    vectorised over the grid (:func:`numpy_lr_gd_grid`), and the float64 matrix-product rate.
    All run ``curve_steps`` steps (the vmapped call) or a prefix scaled linearly (NumPy).
    """
    (n, d), T = a.shape, config.curve_steps
    k = min(config.numpy_steps, T)
    kw = {"repeats": config.repeats, "warmup": config.warmup}
    a64, y64 = jax.device_put(a), jax.device_put(y)
    rows = []
    for size in config.curve_sizes:
        gs, th0 = grid_points_for(config, size, d)
        fn = lambda gs, th0, a, y: _sweep_points(gs, th0, a, y, T)
        compiled, compile_s = _compile(fn, gs, th0, a64, y64)
        gj, thj = jax.device_put(gs), jax.device_put(th0)
        t_vmap = _common.timeit(lambda c=compiled, g=gj, t=thj: c(g, t, a64, y64), **kw)
        m = min(size, config.curve_loop_points)
        t_loop, loop_blas = _best_blas(
            lambda gs=gs[:m], th0=th0[:m]: [numpy_lr_gd(a, y, g, k, t0)
                                            for g, t0 in zip(gs, th0, strict=True)],
            config.repeats)
        t_vec, vec_blas = _best_blas(lambda gs=gs, th0=th0: numpy_lr_gd_grid(a, y, gs, th0, k),
                                     config.repeats)
        theta_vec = numpy_lr_gd_grid(a, y, gs, th0, T)
        rel = float(np.max(_rel_diff(t_vmap.result, theta_vec)))
        if not rel <= config.rtol_stable:
            raise RuntimeError(f"bench.perceptron grid curve: vmap vs NumPy-vectorised θ_T differ "
                               f"by {rel:.3g} > rtol {config.rtol_stable:g} at G={size}")
        per_point = {
            "vmap": t_vmap.median_s / size,
            "numpy_loop": t_loop.median_s * (T / k) / m,
            "numpy_vectorised": t_vec.median_s * (T / k) / size,
        }
        flops_point = 4.0 * n * d * T  # two products of 2·n·d per step
        gflops = flops_point / per_point["vmap"] / 1e9
        rows.append({
            "G": size,
            "per_point_s": per_point,
            "vmap_over_numpy_loop": per_point["numpy_loop"] / per_point["vmap"],
            "vmap_over_numpy_vectorised": per_point["numpy_vectorised"] / per_point["vmap"],
            "vmap_GFLOPs": gflops,
            "vmap_fraction_of_flop_rate": gflops / peak_gflops,
            "numpy_vectorised_fraction_of_flop_rate":
                flops_point / per_point["numpy_vectorised"] / 1e9 / peak_gflops,
            "max_rel_diff_vs_numpy_vectorised": rel,
            "numpy_blas_threads": {"loop": loop_blas, "vectorised": vec_blas},
            "numpy_loop_points_timed": m,
            "compile_s": compile_s,
        })
        if size == (32 if 32 in config.curve_sizes else max(config.curve_sizes)):
            # where the step's time goes: the two products alone in the same loop shape
            prod_c, _ = _compile(products_loop(size, T), thj, a64)
            t_prod = _common.timeit(lambda c=prod_c, t=thj: c(t, a64), **kw)
            census = loop_body_census(compiled.as_text())
            profile = {
                "G": size,
                "loop_body_ops": census,
                "step_min_s": t_vmap.min_s / T,
                "products_only_step_min_s": t_prod.min_s / T,
                "products_share_of_step": t_prod.min_s / t_vmap.min_s,
                "products_fraction_of_flop_rate":
                    4.0 * n * d * size * T / t_prod.min_s / 1e9 / peak_gflops,
                "vmap_fraction_of_flop_rate_min": 4.0 * n * d * size * T / t_vmap.min_s / 1e9
                / peak_gflops,
            }
    probe_size = 32 if 32 in config.curve_sizes else max(config.curve_sizes)
    layout = layout_probe(a, probe_size, config.repeats)
    at = {r["G"]: r for r in rows}
    target = at.get(32, rows[-1])
    return {
        "steps": T,
        "numpy_steps_timed": k,
        "rows": rows,
        "peak_float64_GFLOPs": peak_gflops,
        "step_profile": profile,
        "layout_probe": {"G": probe_size, "min_s": layout,
                         "rows_over_cols_speedup": layout["cols"] / layout["rows"]},
        "target": {
            "G": target["G"],
            "vmap_over_numpy_loop": target["vmap_over_numpy_loop"],
            "vmap_fraction_of_flop_rate": target["vmap_fraction_of_flop_rate"],
            "goal_vmap_over_numpy_loop": 5.0,
            "goal_fraction_of_flop_rate": 0.6,
        },
    }


# --------------------------------------------------------------------------- CLI


def table_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, v in record["variants"].items():
        rows.append({
            "variant": name,
            "platform": v["platform"],
            "median_s": record["volatile"]["median_s"][name],
            "x_vs_numpy": v["speedup_vs_numpy"],
            "x_vs_loop_jit": v["speedup_vs_loop_jit"],
            "eff_GB/s": v["effective_GBps"],
            "frac_of_bw": v["fraction_of_bandwidth"],
            "GFLOP/s": v["GFLOPs"],
            "frac_of_flops": v["fraction_of_flop_rate"],
        })
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perceptron",
                                     description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="n=1000, T=200 (seconds)")
    size.add_argument("--tiny", action="store_true", help="generated 200x50, T=20 (tests)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"record path (default bench/results/{NAME}.json)")
    parser.add_argument("--device-note", default=None, help="free text stored in the record")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    config = TINY if args.tiny else QUICK if args.quick else FULL

    record = bench(config)
    record["command"] = " ".join(["python -m bench.perceptron", *argv])
    record["device_note"] = args.device_note
    bw = record["bandwidth"]
    print(f"bench.perceptron ({config.mode}): n={record['config']['n']}, d={config.d}, "
          f"T={config.num_steps}, {len(config.gammas)} step sizes, data: "
          f"{record['data']['source']}; JAX backend {jax.default_backend()} "
          f"({jax.devices()[0].device_kind})")
    print(f"memory bandwidth: host {bw['host_GBps']:.1f} GB/s (numpy read "
          f"{bw['numpy_read_GBps']:.1f}, copy {bw['numpy_copy_GBps']:.1f}, jax read "
          f"{bw['jax_read_GBps']:.1f}); JAX device {bw['device_GBps']:.1f} GB/s")
    mm = record["matmul"]
    print(f"matrix-product rate: float64 {mm['peak_float64_GFLOPs']:.1f} GFLOP/s, float32 "
          f"{mm['peak_float32_GFLOPs']:.1f} GFLOP/s (best of NumPy BLAS and XLA, "
          f"{mm['size']}x{mm['size']})")
    _common.print_table(table_rows(record))
    r, ag = record["ratios"], record["agreement"]
    print(f"vmap is {r['vmap_over_loop_jit_speedup']:.2f}x the per-γ jitted loop and "
          f"{r['vmap_over_numpy_speedup']:.2f}x NumPy; float32 vmap is "
          f"{r['vmap_f32_over_vmap_speedup']:.2f}x float64 vmap")
    print(f"agreement of θ_T, max relative difference: {ag['max_rel_diff_stable']:.1e} for "
          f"γ <= {config.stable_max_step:g} (rtol {config.rtol_stable:g}), "
          f"{ag['max_rel_diff_large_step']:.1e} for larger γ (rtol {config.rtol_large_step:g})")
    nt = record["numpy_timing"]
    print(f"numpy: BLAS threads {nt['blas_threads']} (1 thread is "
          f"{nt['one_thread_over_default_speedup']:.2f}x the default); timed "
          f"{nt['steps_timed_per_gamma']} steps per γ, scaled x{nt['scale_factor']:g} (a full run "
          f"took {nt['full_run_over_scaled']:.2f}x that)")
    gc = record["grid_curve"]
    print(f"grid-size curve ({gc['steps']} steps; per grid point, float64; FLOP rate "
          f"{gc['peak_float64_GFLOPs']:.1f} GFLOP/s):")
    _common.print_table([
        {"G": r["G"],
         "vmap_s/pt": record["volatile"]["grid_curve_per_point_s"][str(r["G"])]["vmap"],
         "x_vs_np_loop": r["vmap_over_numpy_loop"],
         "x_vs_np_vec": r["vmap_over_numpy_vectorised"],
         "GFLOP/s": r["vmap_GFLOPs"],
         "frac_flops": r["vmap_fraction_of_flop_rate"],
         "np_vec_frac": r["numpy_vectorised_fraction_of_flop_rate"]}
        for r in gc["rows"]])
    sp = gc["step_profile"]
    print(f"step profile at G={sp['G']}: loop body {sp['loop_body_ops']}; the two products "
          f"alone take {100 * sp['products_share_of_step']:.0f}% of the step (min times), at "
          f"{100 * sp['products_fraction_of_flop_rate']:.0f}% of the FLOP rate")
    tg = gc["target"]
    print(f"at G={tg['G']}: {tg['vmap_over_numpy_loop']:.2f}x the NumPy per-point loop (goal "
          f">= 5x), {100 * tg['vmap_fraction_of_flop_rate']:.0f}% of the float64 FLOP rate "
          f"(goal >= 60%); layout Θ·Aᵀ, W·A is {gc['layout_probe_rows_over_cols_speedup']:.2f}x "
          f"A·Θᵀ, Aᵀ·Wᵀ at G={gc['layout_probe_G']}")
    path = _common.write_record(NAME, record, args.out)
    print(f"record -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
