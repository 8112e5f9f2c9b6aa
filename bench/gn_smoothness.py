"""``python -m bench.gn_smoothness [--tiny] [--out PATH] [--device-note TEXT]``

Per-iteration time of our jitted Algorithm 1 (``jaxrank.optim.gn_newton.grad_reg_newton``, one
``lax.scan`` with the radius search as a ``lax.while_loop``) against a NumPy/SciPy
implementation of the same algorithm (the official code's approach: a Python loop, SciPy
``cho_factor``/``cho_solve`` per trial), side by side in one run, on

* log-sum-exp, n = m = 1000, B = AAᵀ, exact and weighted Gauss–Newton Hessians;
* linear-operator equations p = 4, A 100×200, B = AᵀA + 1e-8 I, exact and rank-one Fisher
  (Sherman–Morrison) Hessians.

Both start from the notebook's data (seed 3124) and must produce the same f(x_k) trajectory
(checked, rtol 1e-6). Ratios = NumPy time / JAX time. ``ratios_before`` times, in the same run
and interleaved round by round with the other two, the path before issue 20 (the solver's
``init`` dispatched op by op, ``init.eager``, then the same compiled loop); its trajectory must
equal today's bit for bit. ``trials_per_iter`` counts the radius search's trials. float64,
CPU unless run on a device, one BLAS thread on both sides (threadpoolctl; JAX's CPU LAPACK
calls go through the same OpenBLAS).

The record also holds

* ``profile``: where an outer iteration's time goes on the log-sum-exp n = 1000 case, JAX vs
  NumPy/SciPy: the Hessian build (a weighted Gram matrix AᵀDiag(π)A), one Cholesky of
  H + λB, one triangular solve pair, one ``eigh`` (what reusing an eigendecomposition across
  the search's trials would cost), and the search's trials and factorizations per outer
  iteration; plus ``gram_folded_s``: the same Gram product written ``(Aᵀ * π) @ A`` without
  the materialized transpose (the pre-fix code), to keep the cause of the old gap on record;
* ``yardstick``: the machine's float64 dense-product rate (``_common.flop_rate``), NumPy and
  jitted JAX, as the ceiling the Hessian build is compared against.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg as sla
from scipy.special import logsumexp, softmax

from bench import _common
from jaxrank.optim import gn_newton as G
from jaxrank.optim import run
from jaxrank.problems import gn_functions


@dataclasses.dataclass(frozen=True)
class Config:
    lse_n: int = 1000
    p4_rows: int = 100
    p4_cols: int = 200
    iters: int = 6
    repeats: int = 5
    rtol: float = 1e-6
    flop_size: int = 1000


FULL = Config()
TINY = Config(lse_n=40, p4_rows=10, p4_cols=20, iters=5, repeats=1, flop_size=64)


# --------------------------------------------------------------------------- NumPy reference


def numpy_alg1(f, grad, hess_solve, x0, B, iters, gamma0=1.0, eps=1e-8, gamma_min=1e-9):
    """Algorithm 1 in NumPy/SciPy: ``hess_solve(x) -> solve(lam, g)`` per outer iteration."""
    L = np.linalg.cholesky(B)

    def dual_sq(g):
        w = sla.solve_triangular(L, g, lower=True)
        return w @ w

    x = x0.copy()
    fx, g = f(x), grad(x)
    gn = np.sqrt(dual_sq(g))
    gamma = gamma0
    values = [fx]
    for _ in range(iters):
        solve = hess_solve(x)
        for _trial in range(41):
            lam = gn / (gamma + eps)
            d = -solve(lam, g)
            f_new, g_new = f(x + d), grad(x + d)
            gsq = dual_sq(g_new)
            if fx - f_new >= gsq / (8 * lam):
                gamma = max(2 * gamma, gamma_min)
                break
            gamma /= 2
        x = x + d
        fx, g, gn = f_new, g_new, np.sqrt(gsq)
        values.append(fx)
    return np.asarray(values)


def dense_solver(H, B):
    def solve(lam, g):
        return sla.cho_solve(sla.cho_factor(H + lam * B), g)

    return solve


def lse_problem(n, seed=3124):
    rng = np.random.RandomState(seed)
    A = rng.rand(n, n) * 2 - 1
    b = rng.rand(n) * 2 - 1
    M = A.T
    g0 = M.T @ softmax(-b)
    Mz = M - g0[None, :]
    B = A @ A.T
    return Mz, b, B


def lse_numpy(Mz, b):
    def f(x):
        return logsumexp(Mz @ x - b)

    def grad(x):
        return Mz.T @ softmax(Mz @ x - b)

    def exact(x):
        pi = softmax(Mz @ x - b)
        Atp = Mz.T @ pi
        return (Mz.T * pi) @ Mz - np.outer(Atp, Atp)

    def wgn(x):
        pi = softmax(Mz @ x - b)
        return (Mz.T * pi) @ Mz

    return f, grad, exact, wgn


def p4_problem(rows, cols, seed=3124):
    rng = np.random.RandomState(seed)
    A = rng.rand(rows, cols) * 2 - 1
    b = rng.rand(rows) * 2 - 1
    return A, b, A.T @ A + 1e-8 * np.eye(cols)


def p4_numpy(A, b, B, p=4.0):
    def f(x):
        u = A @ x - b
        return (u @ u) ** (p / 2) / p

    def grad(x):
        u = A @ x - b
        return np.linalg.norm(u) ** (p - 2) * A.T @ u

    def exact(x):
        u = A @ x - b
        nu = np.linalg.norm(u)
        Au = A.T @ u
        return nu ** (p - 2) * A.T @ A + (p - 2) * nu ** (p - 4) * np.outer(Au, Au)

    Binv_chol = sla.cho_factor(B)

    def fisher_solve(x):
        u = A @ x - b
        v = A.T @ u
        alpha = (p - 2) * np.linalg.norm(u) ** (p - 4)
        Bv = sla.cho_solve(Binv_chol, v)

        def solve(lam, g):
            Bg = sla.cho_solve(Binv_chol, g)
            return (Bg - alpha * (v @ Bg) / (lam + alpha * (v @ Bv)) * Bv) / lam

        return solve

    return f, grad, exact, fisher_solve


# --------------------------------------------------------------------------- JAX side


def _values(x, s, *args):
    return s.value


def jax_values(solver, x0, iters, *args):
    x, s, traj = run(solver, x0, iters, *args, record=_values)
    return jnp.concatenate([traj, s.value[None]])


def jax_values_before(solver, x0, iters, *args):
    """The pre-issue-20 path: ``init`` op by op (``init.eager``), then the same compiled loop."""
    state = solver.init.eager(x0, *args)
    x, s, traj = run(solver, x0, iters, *args, record=_values, state=state)
    return jnp.concatenate([traj, s.value[None]])


def _lin4(x, A, b):
    return G.linear_equations(x, A, b, 4.0)


def _lin4_hessian(x, A, b):
    return gn_functions.linear_equations_hessian(x, A, b, 4.0)


def _gram_folded(A, w):
    """The pre-fix Hessian product: XLA folds the transpose into the contraction."""
    return (A.T * w[None, :]) @ A


def _trials(x, s, *args):
    return s.trials, s.factorizations


def profile(config: Config) -> dict:
    """Per-component times on the log-sum-exp case (n = ``lse_n``), JAX vs NumPy/SciPy."""
    n, r = config.lse_n, max(config.repeats, 3)
    Mz, b, B = lse_problem(n)
    f, grad, exact, _ = lse_numpy(Mz, b)
    x = np.full(n, 0.1)
    H = exact(x)
    pi = softmax(Mz @ x - b)
    Mj, bj, Bj, Hj, xj, pj = map(jnp.asarray, (Mz, b, B, H, x, pi))
    hess = jax.jit(G.log_sum_exp_hessian)
    folded = jax.jit(_gram_folded)
    gram = jax.jit(G._weighted_gram)
    chol = jax.jit(lambda H, B: jnp.linalg.cholesky(H + 0.1 * B))
    L = chol(Hj, Bj)
    cho_solve = jax.jit(lambda L, g: jax.scipy.linalg.cho_solve((L, True), g))
    eigh = jax.jit(jnp.linalg.eigh)
    c = sla.cho_factor(H + 0.1 * B)

    def best(fn):
        return _common.timeit(fn, repeats=r).min_s

    out = {
        "hessian_build_s": {"jax": best(lambda: hess(xj, Mj, bj)),
                            "numpy": best(lambda: exact(x))},
        "gram_s": {"jax": best(lambda: gram(Mj, pj)), "numpy": best(lambda: (Mz.T * pi) @ Mz)},
        "gram_folded_s": {"jax": best(lambda: folded(Mj, pj))},
        "cholesky_s": {"jax": best(lambda: chol(Hj, Bj)),
                       "scipy": best(lambda: sla.cho_factor(H + 0.1 * B))},
        "cho_solve_s": {"jax": best(lambda: cho_solve(L, xj)),
                        "scipy": best(lambda: sla.cho_solve(c, x))},
        "eigh_s": {"jax": best(lambda: eigh(Hj)), "numpy": best(lambda: np.linalg.eigh(H))},
    }
    solver = G.grad_reg_newton(G.log_sum_exp, hessian=G.log_sum_exp_hessian, metric=B)
    _, s, _ = run(solver, jnp.ones(n), config.iters, Mj, bj, 1.0, record=_trials)
    out["lse_exact_trials_per_iter"] = float(s.trials) / config.iters
    out["lse_exact_factorizations_per_trial"] = float(s.factorizations) / float(s.trials)
    out["flops_gram"] = 2.0 * n**3
    return out


def _interleaved(fns, *, repeats: int) -> list:
    """``_common.timeit`` of each of ``fns``, their calls alternating round by round."""
    results = [jax.block_until_ready(fn()) for fn in fns]  # warm-up (compilation)
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            results[i] = jax.block_until_ready(fn())
            times[i].append(time.perf_counter() - t0)
    return [_common.Timing(statistics.median(t), min(t), t, res)
            for t, res in zip(times, results, strict=True)]


def bench(config: Config) -> dict:
    from threadpoolctl import threadpool_limits

    cases = {}
    with threadpool_limits(limits=1, user_api="blas"):
        Mz, b, B = lse_problem(config.lse_n)
        f, grad, exact, wgn = lse_numpy(Mz, b)
        args = (jnp.asarray(Mz), jnp.asarray(b), 1.0)
        x0 = np.ones(config.lse_n)
        cases["lse_exact"] = (
            lambda T: numpy_alg1(f, grad, lambda x: dense_solver(exact(x), B), x0, B, T),
            G.grad_reg_newton(G.log_sum_exp, hessian=G.log_sum_exp_hessian, metric=B), args, x0)
        cases["lse_wgn"] = (
            lambda T: numpy_alg1(f, grad, lambda x: dense_solver(wgn(x), B), x0, B, T),
            G.grad_reg_newton(G.log_sum_exp, hessian=G.lse_weighted_gauss_newton, metric=B),
            args, x0)
        A, bb, Bp = p4_problem(config.p4_rows, config.p4_cols)
        f4, g4, h4, fs4 = p4_numpy(A, bb, Bp)
        args4 = (jnp.asarray(A), jnp.asarray(bb))
        x04 = np.ones(config.p4_cols)
        cases["p4_exact"] = (
            lambda T: numpy_alg1(f4, g4, lambda x: dense_solver(h4(x), Bp), x04, Bp, T),
            G.grad_reg_newton(_lin4, metric=Bp), args4, x04)
        # the same algorithm with the closed-form Hessian, as the NumPy reference builds it
        # (p4_exact keeps jax.hessian, the solver's default, which the experiments use)
        cases["p4_exact_closed_form"] = (
            lambda T: numpy_alg1(f4, g4, lambda x: dense_solver(h4(x), Bp), x04, Bp, T),
            G.grad_reg_newton(_lin4, hessian=_lin4_hessian, metric=Bp), args4, x04)
        cases["p4_fisher"] = (
            lambda T: numpy_alg1(f4, g4, fs4, x04, Bp, T),
            G.grad_reg_newton(_lin4, hessian=G.fisher_term(G.linear_residuals, 4.0), metric=Bp),
            args4, x04)
        rows, volatile, agreement = [], {}, {}
        T, r = config.iters, config.repeats
        for name, (np_fn, solver, jargs, x0c) in cases.items():
            t0 = time.perf_counter()
            jax.block_until_ready(jax_values(solver, jnp.asarray(x0c), T, *jargs))
            compile_s = time.perf_counter() - t0

            def jx_fn(steps, s=solver, a=jargs, x=x0c):
                return jax_values(s, jnp.asarray(x), steps, *a)

            # Totals include each side's set-up: our eager ``init`` (value_and_grad dispatched
            # op by op, Cholesky of B) and NumPy's (the same by hand). The JAX ``init`` is also
            # timed alone, since on the small p = 4 cases it is most of the total.
            def old_fn(steps, s=solver, a=jargs, x=x0c):
                return jax_values_before(s, jnp.asarray(x), steps, *a)

            # The three sides are timed in turn, ``r`` rounds of (NumPy, JAX before, JAX now),
            # so a load change on this shared machine hits all three alike.
            t_np, t_old, t_jx = _interleaved([lambda f=np_fn: f(T), lambda: old_fn(T),
                                              lambda: jx_fn(T)], repeats=r)
            t_init, t_init_old = _interleaved(
                [lambda s=solver, a=jargs, x=x0c: s.init(jnp.asarray(x), *a),
                 lambda s=solver, a=jargs, x=x0c: s.init.eager(jnp.asarray(x), *a)], repeats=r)
            v_np, v_jx = np.asarray(t_np.result), np.asarray(t_jx.result)
            rel = float(np.max(np.abs(v_np - v_jx) / np.maximum(np.abs(v_np), 1e-300)))
            same = bool(np.array_equal(np.asarray(t_old.result), v_jx))
            agreement[name] = {"max_rel_diff_f": rel, "passed": bool(rel <= config.rtol) and same,
                               "before_after_bitwise_equal": same}
            loop = max(t_jx.median_s - t_init.median_s, 1e-9)
            _, s_end, _ = run(solver, jnp.asarray(x0c), T, *jargs)
            rows.append({"case": name, "numpy_s_per_iter": t_np.median_s / T,
                         "jax_s_per_iter": t_jx.median_s / T,
                         "speedup_jax_vs_numpy": t_np.median_s / t_jx.median_s,
                         "speedup_before": t_np.median_s / t_old.median_s,
                         "jax_init_s": t_init.median_s, "jax_init_before_s": t_init_old.median_s,
                         "jax_loop_s_per_iter": loop / T,
                         "trials_per_iter": float(s_end.trials) / T,
                         "max_rel_diff_f": rel})
            volatile[name] = {"numpy_median_s": t_np.median_s, "jax_median_s": t_jx.median_s,
                              "jax_before_median_s": t_old.median_s,
                              "jax_init_median_s": t_init.median_s,
                              "jax_init_before_median_s": t_init_old.median_s,
                              "numpy_min_s": t_np.min_s, "jax_min_s": t_jx.min_s,
                              "jax_before_min_s": t_old.min_s,
                              "jax_compile_plus_first_run_s": compile_s}
        prof = profile(config)
        yard = _common.flop_rate(config.flop_size, repeats=max(config.repeats, 3))
    return {"rows": rows, "volatile": volatile, "agreement": agreement, "profile": prof,
            "yardstick": yard}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gn_smoothness", description=__doc__)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--out", default=None)
    parser.add_argument("--device-note", default="CPU only (no accelerator used)")
    args = parser.parse_args(argv)
    config = TINY if args.tiny else FULL
    old = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", True)  # the benchmark compares float64 trajectories
    try:
        out = bench(config)
    finally:
        jax.config.update("jax_enable_x64", old)
    _common.print_table(out["rows"])
    print({k: v for k, v in out["profile"].items()})
    print({k: v for k, v in out["yardstick"].items() if "GFLOP" in k})
    failed = [k for k, v in out["agreement"].items() if not v["passed"]]
    record = {
        "command": "python -m bench.gn_smoothness" + (" --tiny" if args.tiny else "")
        + (f" --device-note {args.device_note}" if argv and "--device-note" in argv else ""),
        "mode": "tiny" if args.tiny else "full",
        "config": dataclasses.asdict(config),
        "device_note": args.device_note,
        "ratios": {r["case"]: r["speedup_jax_vs_numpy"] for r in out["rows"]},
        "ratios_before": {r["case"]: r["speedup_before"] for r in out["rows"]},
        "jax_init_share": {r["case"]: r["jax_init_s"] / (r["jax_s_per_iter"] * config.iters)
                           for r in out["rows"]},
        "jax_init_speedup": {r["case"]: r["jax_init_before_s"] / r["jax_init_s"]
                             for r in out["rows"]},
        "trials_per_iter": {r["case"]: r["trials_per_iter"] for r in out["rows"]},
        "profile_ratios": {
            "hessian_build_numpy_over_jax": out["profile"]["hessian_build_s"]["numpy"]
            / out["profile"]["hessian_build_s"]["jax"],
            "gram_folded_over_materialized_jax": out["profile"]["gram_folded_s"]["jax"]
            / out["profile"]["gram_s"]["jax"],
            "eigh_over_cholesky_jax": out["profile"]["eigh_s"]["jax"]
            / out["profile"]["cholesky_s"]["jax"],
            "gram_jax_GFLOPs_over_numpy_f64": out["profile"]["flops_gram"]
            / out["profile"]["gram_s"]["jax"] / 1e9
            / out["yardstick"]["numpy_float64_GFLOPs"],
        },
        "search": {"lse_exact_trials_per_iter": out["profile"]["lse_exact_trials_per_iter"],
                   "lse_exact_factorizations_per_trial":
                       out["profile"]["lse_exact_factorizations_per_trial"]},
        "agreement": out["agreement"],
        "volatile": {"timings": out["volatile"], "profile": out["profile"],
                     "yardstick_flop_rate": out["yardstick"],
                     "gram_GFLOPs": {k: out["profile"]["flops_gram"] / v / 1e9
                                     for k, v in out["profile"]["gram_s"].items()},
                     "per_iter": {r["case"]: {"numpy_s": r["numpy_s_per_iter"],
                                              "jax_s": r["jax_s_per_iter"],
                                              "jax_loop_s": r["jax_loop_s_per_iter"]}
                                  for r in out["rows"]}},
    }
    path = _common.write_record("gn_smoothness", record, args.out)
    print(f"wrote {path}")
    if failed:
        print(f"trajectories disagree: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
