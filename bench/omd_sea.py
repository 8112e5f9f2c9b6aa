"""``python -m bench.omd_sea [--tiny] [--out PATH] [--device-note TEXT]``

Optimistic OMD regret runs in the SEA model: our jitted, seed-vmapped run
(``jaxrank.online.sea.play`` = one ``jaxrank.optim.run`` scan per seed, inside one ``vmap``)
against the same run jitted once and called per seed in Python, and against a plain NumPy loop
over seeds and rounds. Quadratic SEA losses f_t(x) = ½‖x − c − ξ_t‖², ξ_t = s·Rademacher, on the
unit ball, adaptive step η_t = D/√(δ + 4G² + V̄_{t−1}), float64.

The NumPy loop receives the round data pre-sampled (``sea.sample_rounds``, not timed); the JAX
variants sample inside the scan, so the comparison is, if anything, tilted toward NumPy. The NumPy
time is measured on the first ``numpy_rounds`` rounds of every seed and scaled to T. All three must
agree on E[R_T] to 1e-9 (relative). Absolute times are under ``volatile``; ratios are the result.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bench import _common
from jaxrank.online import sea
from jaxrank.optim import omd


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    dim: int = 10
    radius: float = 1.0
    noise: float = 0.1
    num_rounds: int = 20_000
    num_seeds: int = 20
    numpy_rounds: int = 2_000
    delta: float = 1.0
    repeats: int = 3
    rtol: float = 1e-9


FULL = BenchConfig()
TINY = dataclasses.replace(FULL, num_rounds=100, num_seeds=2, numpy_rounds=100, repeats=1)


def _setup(config: BenchConfig):
    env = sea.quadratic(config.dim, config.radius)
    c = jnp.zeros(config.dim).at[0].set(0.5)
    p = sea.sea_params(c, horizon=config.num_rounds, noise=config.noise)
    return env, p, float(env.grad_bound(p))


def _regret_fn(config: BenchConfig):
    env, p, G = _setup(config)
    tx = omd.optimistic_omd(omd.adaptive_step(2 * config.radius, G, config.delta),
                            projection=omd.ball(config.radius))
    x1 = jnp.zeros(config.dim).at[-1].set(config.radius)

    def regret(seed):
        key = jax.random.key(seed)
        _, _, losses = sea.play(tx, env, p, x1, key, config.num_rounds)
        _, _, best = sea.prefix_best_fixed(env, p, key, config.num_rounds, 1)
        return jnp.sum(losses) - best[0]

    return regret


def numpy_regret(ys: np.ndarray, config: BenchConfig, grad_bound: float,
                 num_rounds: int | None = None) -> float:
    """Plain NumPy optimistic OMD on pre-sampled targets ``ys`` (T, d); regret over the first
    ``num_rounds`` rounds against the best fixed point of those rounds."""
    T = ys.shape[0] if num_rounds is None else num_rounds
    R, D = config.radius, 2 * config.radius
    x_hat = np.zeros(config.dim)
    x_hat[-1] = R
    hint, v, total = np.zeros(config.dim), 0.0, 0.0
    eta = D / np.sqrt(config.delta + 4 * grad_bound**2)
    x = x_hat.copy()
    for t in range(T):
        y = ys[t]
        diff = x - y
        total += 0.5 * diff @ diff
        g = diff
        dev = g - hint
        v += dev @ dev
        z = x_hat - eta * g
        n = np.sqrt(z @ z)
        x_hat = z if n <= R else z * (R / n)
        hint = g
        eta = D / np.sqrt(config.delta + 4 * grad_bound**2 + v)
        z = x_hat - eta * hint
        n = np.sqrt(z @ z)
        x = z if n <= R else z * (R / n)
    mean = ys[:T].mean(axis=0)
    u = mean * min(1.0, R / max(np.linalg.norm(mean), 1e-300))
    best = 0.5 * np.sum((u - ys[:T]) ** 2)
    return total - best


def run(config: BenchConfig) -> dict[str, Any]:
    env, p, G = _setup(config)
    seeds = jnp.arange(config.num_seeds)
    regret = _regret_fn(config)
    vmapped = jax.jit(jax.vmap(regret))
    per_seed = jax.jit(regret)

    t0 = time.perf_counter()
    vmapped.lower(seeds).compile()
    compile_vmap = time.perf_counter() - t0
    t0 = time.perf_counter()
    per_seed.lower(seeds[0]).compile()
    compile_loop = time.perf_counter() - t0

    t_vmap = _common.timeit(lambda: vmapped(seeds), repeats=config.repeats)
    t_loop = _common.timeit(lambda: jnp.stack([per_seed(s) for s in seeds]),
                            repeats=config.repeats)
    ys = [np.asarray(sea.sample_rounds(env, p, jax.random.key(int(s)), config.num_rounds))
          for s in seeds]
    n_np = min(config.numpy_rounds, config.num_rounds)
    t_np = _common.timeit(lambda: [numpy_regret(y, config, G, n_np) for y in ys],
                          repeats=config.repeats, warmup=0)
    numpy_s = t_np.median_s * config.num_rounds / n_np
    r_np = np.array([numpy_regret(y, config, G) for y in ys])
    r_vmap, r_loop = np.asarray(t_vmap.result), np.asarray(t_loop.result)
    rel = {
        "vmap_vs_numpy": float(np.max(np.abs(r_vmap - r_np) / np.maximum(np.abs(r_np), 1e-12))),
        "vmap_vs_loop_jit": float(np.max(np.abs(r_vmap - r_loop)
                                         / np.maximum(np.abs(r_loop), 1e-12))),
    }
    agreement = {"rel_diff": rel, "passed": max(rel.values()) <= config.rtol,
                 "mean_regret": float(r_vmap.mean())}
    if not agreement["passed"]:
        raise RuntimeError(f"variants disagree on E[R_T]: {rel} (rtol {config.rtol})")
    times = {"vmap": t_vmap.median_s, "loop_jit": t_loop.median_s, "numpy": numpy_s}
    rounds = config.num_rounds * config.num_seeds
    variants = {
        name: {"rounds_per_s": rounds / s, "speedup_vs_numpy": numpy_s / s,
               "speedup_vs_loop_jit": t_loop.median_s / s}
        for name, s in times.items()
    }
    return {
        "config": dataclasses.asdict(config),
        "variants": variants,
        "ratios": {"vmap_over_numpy": numpy_s / t_vmap.median_s,
                   "vmap_over_loop_jit": t_loop.median_s / t_vmap.median_s},
        "agreement": agreement,
        "numpy_timing": {"timed_rounds": n_np, "scaled_to": config.num_rounds},
        "volatile": {"median_s": times, "compile_s": {"vmap": compile_vmap,
                                                      "loop_jit": compile_loop}},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.omd_sea", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="T = 100, 2 seeds (the test)")
    parser.add_argument("--out", default=None, help="record path (default bench/results)")
    parser.add_argument("--device-note", default="", help="free text kept in the record")
    args = parser.parse_args(argv)
    config = TINY if args.tiny else FULL
    jax.config.update("jax_enable_x64", True)  # an entry point, like the harness: float64 runs
    out = run(config)
    cmd = "python -m bench.omd_sea" + (" --tiny" if args.tiny else "")
    if args.device_note:
        cmd += f" --device-note {args.device_note}"
    out.update({"mode": "tiny" if args.tiny else "full", "command": cmd,
                "device_note": args.device_note})
    path = _common.write_record("omd_sea", out, None if args.out is None else args.out)
    _common.print_table([{"variant": k, **v} for k, v in out["variants"].items()])
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
