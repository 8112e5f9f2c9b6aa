"""Chen, Zhang, Tu, Zhao, Zhang 2023, "Optimistic Online Mirror Descent for Bridging Stochastic and
Adversarial Online Convex Optimization" (ICML 2023, arXiv:2302.04552; JMLR 2024).

The paper is theoretical and has no experiments: every figure here is a *designed test of its
theorems* on synthetic SEA environments with closed-form σ², Σ² (our design, documented in
paper_repro/omd_sea.md):

* ``f1``  regret vs T (log-log) on seven linear SEA environments (iid noisy / iid small noise /
          slow rotation / K switches / alternation / corrupted iid / random order), OMD vs OGD,
          AdaGrad-norm and optimistic FTRL; the convex theorem's bound D(√σ²₁:T + √Σ²₁:T).
* ``f2``  interpolation heat map: E[R_T] / (D(√σ²₁:T + √Σ²₁:T) + LD²) over a (noise s) ×
          (alternation amplitude a) grid, quadratic losses, OMD and OGD.
* ``f3``  strongly convex (quadratic, λ = 1): OMD and OGD with η_t = 1/(λt), regret vs log T.
* ``f4``  exp-concave (online least squares): optimistic ONS vs ONS, regret vs T, with Hazan et
          al.'s ε = 1/(γ²D²) and, at s = 0.5, also ε = 1/γ (U_1 = I), whose transient ε/s² ≪ T.
* ``f4_long`` F4's s = 0.5 case with Hazan et al.'s ε over T = 2·10⁵ rounds (5 seeds), so that
          the last decade [T/10, T] starts past ONS's transient ε/s² ≈ 1.9·10⁴.
* ``f5``  dynamic regret (K-switch quadratic): the OMD ensemble vs every fixed-step OMD of its
          grid vs OGD, against √((1 + P_T + σ² + Σ²)(1 + P_T)).
* ``f6``  online-to-batch: F(x̄_T) − F* vs T for iid quadratic and linear losses, s = 0 and s > 0.
* ``f7``  regret vs T (log-log) on streaming logistic classification (iid / K switches /
          alternation), OMD vs OGD, AdaGrad-norm and optimistic FTRL, against the convex bound
          D(√σ²₁:T + √Σ²₁:T) + LD² with σ², Σ² estimated by Monte Carlo and the comparator by
          projected Newton with a duality-gap certificate. ONS is left out: with Gaussian
          features the logistic loss has no exp-concavity constant α on the whole support.
* ``f8``  strongly convex (quadratic, λ = 1) with σ²₁:T ≪ T·σ²_max: a burst of B very noisy
          rounds (s = 1, σ²_max = 10) at the start of a quiet run, B = 1 … T; E[R_T] of OMD and
          OGD (η_t = 1/(λt)) against both bounds, (σ²_max + Σ²_max)(1 + log((σ²₁:T + Σ²₁:T)/
          (σ²_max + Σ²_max))) (this paper) and (σ²_max + Σ²_max)(1 + log T) (Sachs et al.).
* ``f9``  individually non-convex f_t with convex expectation (``sea.nonconvex_quadratic``,
          random curvature ±κ, κ = 2): OMD and OGD regret vs T against the convex bound.

* ``f10`` the implicit update for non-smooth f_t (JMLR version): f_t(x) = ‖x − c_t − ξ_t‖₁ on
          the box [−R, R]^d (``sea.absolute``: exact prox, exact median comparator, σ̃² = σ² and
          Σ̃² = Σ² in closed form), fixed / iid / corrupted; ``omd.implicit_omd`` with the exact
          prox and three hints against explicit OGD and optimistic OMD, against
          D(√σ̃²₁:T + √Σ̃²₁:T) + D² (the form and constants are our reading).

Command: ``python -m experiments.omd_sea [--figure ID|all] [--smoke]``. float64 throughout (regret
is a difference of sums of 10⁵ losses). Each figure's grid (cases × seeds, or step sizes × seeds)
is one compiled, vmapped call through :func:`jaxrank.sweep.sweep` (all methods of a figure in one
compiled function). Measured on the 2 shared CPU cores at load average 12-16: FULL 1001 s wall
(about a third of it CPU time for this process, so about 5-6 minutes alone); SMOKE 5.6 min wall,
95 s CPU, almost all XLA compilation. Alone on the idle machine f1-f6 took 200 s. With f7
(session 3, load 12-17): FULL 706 s wall, 249 s CPU (f7 183 s wall; about 70 s alone); SMOKE of
f7 alone 19 s wall at load 9 with the test suite's XLA settings (compilation).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _harness, _keys
from experiments._harness import Figure, Paper, Results
from jaxrank.online import sea
from jaxrank.optim import omd
from jaxrank.sweep import sweep

# --------------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class Config:
    dtype: str = "float64"  # regret = difference of sums over up to 1e5 rounds
    num_seeds: int = 20
    dim: int = 10
    radius: float = 1.0
    num_chunks: int = 100  # regret is evaluated at T_k = kT/num_chunks
    delta: float = 1.0  # δ of the adaptive step
    # f1: linear losses, seven schedules (the last is the random order model)
    f1_rounds: int = 100_000
    f1_center: float = 0.5
    f1_noise_small: float = 0.05
    f1_noise_large: float = 0.3
    f1_switches: int = 4
    f1_corruption_fraction: float = 0.01
    # f2: quadratic losses, noise × alternation amplitude
    f2_rounds: int = 10_000
    f2_noises: tuple[float, ...] = (0.0, 0.01, 0.03, 0.1, 0.3)
    f2_amplitudes: tuple[float, ...] = (0.0, 0.01, 0.03, 0.1, 0.3)
    f2_band: tuple[float, float] = (0.01, 10.0)  # claim C5's band for E[R_T]/bound
    # f3: strongly convex quadratic
    f3_rounds: int = 100_000
    f3_noises: tuple[float, ...] = (0.0, 0.05, 0.2)
    f3_switches: int = 10
    # f4: online least squares (exp-concave)
    f4_rounds: int = 10_000
    f4_dim: int = 5
    f4_noises: tuple[float, ...] = (0.0, 0.1, 0.5)
    f4_center: float = 0.5
    # ...and at these noises with ε = 1/γ (U_1 = γεI = I), whose transient ε/s² ≪ T
    f4_identity_noises: tuple[float, ...] = (0.5,)
    # f4_long: F4's Hazan et al. ε at these noises, run past ONS's transient ε/s² (≈ 1.9·10⁴
    # rounds at s = 0.5, more than F4's T/10 = 10³): T/10 = 2·10⁴ (s = 0.1 would need 3.8·10⁶)
    f4_long_rounds: int = 200_000
    f4_long_noises: tuple[float, ...] = (0.5,)
    f4_long_seeds: int = 5  # 20× F4's rounds: fewer seeds keep omd_sea within its budget
    # f5: dynamic regret
    f5_rounds: int = 10_000
    f5_switches: tuple[int, ...] = (2, 8, 32)
    f5_noise: float = 0.05
    f5_min_step: float = 1.0 / 64
    f5_num_learners: int = 8
    f5_meta_rate: float = 1.0
    # f6: online-to-batch
    f6_rounds: int = 100_000
    f6_noises: tuple[float, ...] = (0.0, 0.3)
    f6_dim: int = 5
    # f7: streaming logistic classification (σ², Σ² by Monte Carlo, comparator by Newton)
    f7_rounds: int = 20_000
    f7_center: float = 0.5
    f7_noise: float = 0.3  # iid and switches; alternation is noise-free (σ = 0)
    f7_switches: int = 4
    f7_methods: tuple[str, ...] = ("omd", "ogd", "adagrad", "oftrl")
    f7_num_horizons: int = 10  # log-spaced in [T/100, T]
    f7_newton_iters: int = 6  # per Hessian
    f7_hessian_updates: int = 2  # per horizon (warm-started)
    f7_mc_samples: int = 4000
    f7_mc_directions: int = 32  # random unit directions (± each, radii R and R/2) + ±e_i + 0
    # f8: strongly convex, a burst of B very noisy rounds at the start of a quiet run
    f8_rounds: int = 20_000
    f8_noise: float = 1.0  # σ²_max = d s² = 10 on the noisy rounds, 0 afterwards
    f8_noisy_rounds: tuple[int, ...] = (1, 4, 16, 64, 256, 1024, 4096, 20_000)
    # f9: individually non-convex f_t (random curvature ±κ), convex F_t
    f9_rounds: int = 20_000
    f9_curvature: float = 2.0
    f9_noise: float = 0.1
    f9_switches: int = 4
    f9_methods: tuple[str, ...] = ("omd", "ogd")
    # f10: non-smooth f_t = ‖x − y_t‖₁ on the box [−R, R]^d; implicit (exact prox) vs explicit
    f10_rounds: int = 20_000
    f10_noise: float = 0.1  # iid case (σ̃² = d); fixed and corrupted are noise-free
    f10_corruption_fraction: float = 0.01
    f10_methods: tuple[str, ...] = ("implicit", "implicit_opt", "implicit_lastgrad", "ogd",
                                    "omd")


FULL = Config()
SMOKE = dataclasses.replace(
    FULL, num_seeds=3, num_chunks=10, f1_rounds=1000, f2_rounds=500, f2_noises=(0.0, 0.1),
    f2_amplitudes=(0.0, 0.1), f3_rounds=1000, f4_rounds=500, f4_long_rounds=1000,
    f4_long_seeds=2, f5_rounds=500,
    f5_switches=(2, 8), f6_rounds=1000, f7_rounds=400, f7_methods=("omd",), f7_num_horizons=4,
    f7_newton_iters=3, f7_hessian_updates=1, f7_mc_samples=64, f7_mc_directions=2,
    # f8 shares f3's compiled program (same rounds, 4 cases × 3 seeds)
    f8_rounds=1000, f8_noisy_rounds=(1, 16, 256, 1000), f9_rounds=500,
    f9_methods=("omd",), f10_rounds=500,
    f10_methods=("implicit", "implicit_opt", "ogd", "omd"),  # the methods C21-C23 read
)

METHOD_LABELS = {
    "omd": "optimistic OMD (adaptive η)",
    "ogd": "OGD (η = D/(G√t))",
    "adagrad": "AdaGrad-norm OGD",
    "oftrl": "optimistic FTRL (adaptive η)",
    "omd_sc": "optimistic OMD (η = 1/(λt))",
    "ogd_sc": "OGD (η = 1/(λt))",
    "ons": "ONS",
    "oons": "optimistic ONS",
    "ensemble": "OMD ensemble + optimistic Hedge",
    "implicit": "implicit update, no hint (η = D/(G√t))",
    "implicit_opt": "implicit update, hint (x̂_{t-1} − x̂_t)/η",
    "implicit_lastgrad": "implicit update, hint ∇f_{t-1}(x_{t-1})",
}


def _seeds(config: Config) -> np.ndarray:
    return np.arange(config.num_seeds)


def _stack(params: list[sea.SEAParams]) -> sea.SEAParams:
    return jax.tree.map(lambda *v: jnp.stack(v), *params)


def _take(table: sea.SEAParams, i: jax.Array) -> sea.SEAParams:
    return jax.tree.map(lambda v: v[i], table)


def _x1(dim: int, radius: float, dtype=jnp.float64) -> jax.Array:
    """Every learner starts at the boundary point R e_d (so that the start costs something)."""
    return jnp.zeros(dim, dtype).at[-1].set(radius)


def _learner(method: str, env: sea.Environment, p: sea.SEAParams, grad_bound, config: Config,
             extra: Any = None):
    D, domain = env.diameter, env.feasible_set  # the ball of radius R; f10: the box [-R, R]^d
    if method in IMPLICIT_HINT:
        return omd.implicit_omd(omd.sqrt_decay_step(D, grad_bound), env.round_loss,
                                projection=domain, hint=IMPLICIT_HINT[method],
                                prox=env.round_prox)
    if method == "omd":
        return omd.optimistic_omd(omd.adaptive_step(D, grad_bound, config.delta), projection=domain)
    if method == "oftrl":
        return omd.optimistic_ftrl(omd.adaptive_step(D, grad_bound, config.delta),
                                   projection=domain)
    if method == "ogd":
        return omd.ogd(omd.sqrt_decay_step(D, grad_bound), projection=domain)
    if method == "adagrad":
        return omd.adagrad_norm(D, projection=domain)
    if method == "omd_sc":
        return omd.optimistic_omd(omd.strongly_convex_step(1.0), projection=domain)
    if method == "ogd_sc":
        return omd.ogd(omd.strongly_convex_step(1.0), projection=domain)
    if method in ("ons", "oons"):
        gamma, eps = extra
        return omd.ons(gamma, eps, projection=domain, optimistic=method == "oons")
    if method == "omd_fixed":
        return omd.optimistic_omd(extra, projection=domain)
    if method == "ensemble":
        return omd.omd_ensemble(config.f5_min_step, config.f5_num_learners,
                                meta_learning_rate=config.f5_meta_rate / (grad_bound * D),
                                projection=domain)
    raise ValueError(f"unknown method {method!r}")


# --------------------------------------------------------------------------- static regret grid


def _env(env_name: str, dim: int, config: Config) -> sea.Environment:
    if env_name == "nonconvex_quadratic":
        return sea.nonconvex_quadratic(dim, config.radius, config.f9_curvature)
    return sea.ENVIRONMENTS[env_name](dim, config.radius)


def _regret_fn(env_name: str, methods: tuple[str, ...], num_rounds: int, config: Config):
    """The per-point function ``(table, grad_bound, extra, case, seed) -> R_{T_k}`` of every
    method, shape (methods, K), for sweep (which keys it by value): one compilation per figure,
    comparator shared."""
    dim = config.f4_dim if env_name == "least_squares" else config.dim
    env = _env(env_name, dim, config)
    K = config.num_chunks

    def one(table, grad_bound, extra, case, seed):
        p = _take(table, case)
        key = jax.random.key(seed)
        ex = None if extra is None else jax.tree.map(lambda v: v[case], extra)
        # play first: sweep's validation pass stops at the first `run` (inside play), so the
        # comparator is not also evaluated eagerly there
        losses = [sea.play(_learner(method, env, p, grad_bound, config, ex), env, p,
                           _x1(dim, config.radius), key, num_rounds)[2] for method in methods]
        _, _, best = sea.prefix_best_fixed(env, p, key, num_rounds, K)
        return jnp.stack([sea.regret_curve(loss, best, K) for loss in losses])

    return one


def regret_grid(env_name, methods, params, num_rounds, config, grad_bound, extra=None):
    """R_{T_k} for every case × seed × method: (cases, seeds, methods, K), one sharded vmapped
    call (all methods of a figure in one compiled function)."""
    fn = _regret_fn(env_name, tuple(methods), num_rounds, config)
    table = _stack(params)
    return sweep(fn, {"case": np.arange(len(params)), "seed": _seeds(config)}, table,
                 jnp.asarray(grad_bound), extra)


@functools.partial(jax.jit, static_argnames=("env", "num_rounds"))
def _cumulative_jit(env, params, num_rounds):
    ts = jnp.arange(1, num_rounds + 1, dtype=jnp.int32)
    s2 = jax.vmap(lambda t: env.sigma2(params, t))(ts)
    v2 = jax.vmap(lambda t: env.variation2(params, t))(ts)
    return jnp.cumsum(s2), jnp.cumsum(v2), jnp.max(s2), jnp.max(v2[1:])


def _cumulative(env, params, num_rounds, num_chunks):
    """σ²_{1:T_k}, Σ²_{1:T_k} at the K horizons (closed forms)."""
    s2, v2, _, _ = _cumulative_jit(env, params, num_rounds)
    size = num_rounds // num_chunks
    idx = size * np.arange(1, num_chunks + 1) - 1
    return np.asarray(s2)[idx], np.asarray(v2)[idx]


# A log-log slope is undefined (NaN) when some regret is <= 0 (e.g. negative static regret under
# rotation/switches): a measured outcome, recorded as NaN, not a harness error.
_UNDEFINED_SLOPES = ("*/slope", "*/exponent")


def _slope(x, y) -> float:
    """Least-squares slope of log y on log x (NaN if any y ≤ 0)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if np.any(y <= 0):
        return float("nan")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _last_decade(horizons) -> np.ndarray:
    h = np.asarray(horizons)
    return h >= h[-1] / 10


# --------------------------------------------------------------------------- f1


def _f1_cases(config: Config) -> dict[str, sea.SEAParams]:
    T, d = config.f1_rounds, config.dim
    c = jnp.zeros(d).at[0].set(config.f1_center)
    small, large = config.f1_noise_small, config.f1_noise_large
    return {
        "iid_noisy": sea.sea_params(jnp.zeros(d), horizon=T, noise=large),
        "iid_small": sea.sea_params(c, horizon=T, noise=small),
        "rotation": sea.sea_params(c, horizon=T, noise=0.0, schedule="rotation",
                                   period=4.0 * T),
        "switches": sea.sea_params(c, horizon=T, noise=small, schedule="switches",
                                   switches=config.f1_switches),
        "alternation": sea.sea_params(c, horizon=T, noise=0.0, schedule="alternation"),
        "corrupted": sea.sea_params(c, horizon=T, noise=small, schedule="corrupted",
                                    corruption=int(config.f1_corruption_fraction * T)),
        # ROM: alternation's set of centres in one fixed pseudo-random order (noise-free, so the
        # seeds coincide, as for alternation)
        "random_order": sea.sea_params(c, horizon=T, noise=0.0, schedule="random_order",
                                       order_seed=0),
    }


F1_METHODS = ("omd", "ogd", "adagrad", "oftrl")


def run_f1(config: Config) -> Results:
    env = sea.linear(config.dim, config.radius)
    cases = _f1_cases(config)
    names, params = list(cases), list(cases.values())
    T, K, D = config.f1_rounds, config.num_chunks, 2 * config.radius
    G = max(float(env.grad_bound(p)) for p in params)
    horizons = (T // K) * np.arange(1, K + 1)
    series: dict[str, Any] = {"horizons": horizons}
    summary: dict[str, Any] = {"rounds": T, "grad_bound": G}
    regs = regret_grid("linear", F1_METHODS, params, T, config, G)  # (cases, seeds, M, K)
    for j, method in enumerate(F1_METHODS):
        for i, name in enumerate(names):
            st = _harness.seed_summary(regs[i, :, j])
            series[_keys.key(name, method, "mean")] = st["mean"]
            series[_keys.key(name, method, "sem")] = st["sem"]
            summary[_keys.key("f1", name, method, "regret")] = float(st["mean"][-1])
            summary[_keys.key("f1", name, method, "regret_sem")] = float(st["sem"][-1])
            summary[_keys.key("f1", name, method, "regret_tenth")] = float(
                st["mean"][K // 10 - 1])
            mask = _last_decade(horizons)
            summary[_keys.key("f1", name, method, "slope")] = _slope(
                horizons[mask], st["mean"][mask])
    for name, p in cases.items():
        s2, v2 = _cumulative(env, p, T, K)
        bound = D * (np.sqrt(s2) + np.sqrt(v2))  # L = 0 for linear losses
        series[_keys.key(name, "bound")] = bound
        summary[_keys.key("f1", name, "sigma2")] = float(s2[-1])
        summary[_keys.key("f1", name, "variation2")] = float(v2[-1])
        summary[_keys.key("f1", name, "bound")] = float(bound[-1])
    return Results(series=series, summary=summary, seeds=_seeds(config).tolist(),
                   allow_nonfinite=_UNDEFINED_SLOPES)


def plot_f1(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    names = ["iid_noisy", "iid_small", "rotation", "switches", "alternation", "corrupted",
             "random_order"]
    fig, axes = plt.subplots(2, 4, figsize=(14, 6.5))
    axes.ravel()[-1].set_axis_off()
    h = np.asarray(s["horizons"])
    for ax, name in zip(axes.ravel(), names, strict=False):
        for method in F1_METHODS:
            m = np.asarray(s[_keys.key(name, method, "mean")])
            ax.plot(h, m, label=METHOD_LABELS[method])
        ax.plot(h, s[_keys.key(name, "bound")], "k--", label="D(√σ²₁:T + √Σ²₁:T)")
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_title(name)
        ax.set_xlabel("T")
        ax.set_ylabel("E[R_T]")
    axes[0, 0].legend()
    fig.suptitle(record["title"])
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- f2


def run_f2(config: Config) -> Results:
    env = sea.quadratic(config.dim, config.radius)
    T, K, D, L = config.f2_rounds, config.num_chunks, 2 * config.radius, env.smoothness
    e1 = jnp.zeros(config.dim).at[0].set(1.0)
    grid = [(s, a) for s in config.f2_noises for a in config.f2_amplitudes]
    params = [sea.sea_params(a * e1, horizon=T, noise=s, schedule="alternation")
              for s, a in grid]
    G = max(float(env.grad_bound(p)) for p in params)
    shape = (len(config.f2_noises), len(config.f2_amplitudes))
    series: dict[str, Any] = {"noises": config.f2_noises, "amplitudes": config.f2_amplitudes}
    summary: dict[str, Any] = {"rounds": T, "grad_bound": G}
    bounds = np.array([
        D * sum(np.sqrt(v[-1]) for v in _cumulative(env, p, T, K)) + L * D**2 for p in params])
    series["bound"] = bounds.reshape(shape)
    regs = regret_grid("quadratic", ("omd", "ogd"), params, T, config, G)
    for j, method in enumerate(("omd", "ogd")):
        reg = regs[:, :, j, -1]  # (cases, seeds)
        mean = reg.mean(axis=1)
        ratio = mean / bounds
        series[_keys.key(method, "regret")] = mean.reshape(shape)
        series[_keys.key(method, "ratio")] = ratio.reshape(shape)
        for (s, a), m, r, sem in zip(grid, mean, ratio, reg.std(axis=1, ddof=1)
                                     / np.sqrt(reg.shape[1]), strict=True):
            summary[_keys.key("f2", f"s={s:g}", f"a={a:g}", method, "regret")] = float(m)
            summary[_keys.key("f2", f"s={s:g}", f"a={a:g}", method, "regret_sem")] = float(sem)
            summary[_keys.key("f2", f"s={s:g}", f"a={a:g}", method, "ratio")] = float(r)
    for (s, a), b in zip(grid, bounds, strict=True):
        summary[_keys.key("f2", f"s={s:g}", f"a={a:g}", "bound")] = float(b)
    return Results(series=series, summary=summary, seeds=_seeds(config).tolist(),
                   allow_nonfinite=_UNDEFINED_SLOPES)


def plot_f2(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    noises, amps = s["noises"], s["amplitudes"]
    panels = [("omd/regret", "OMD E[R_T]"), ("omd/ratio", "OMD E[R_T] / bound"),
              ("ogd/ratio", "OGD E[R_T] / bound")]
    for ax, (k, title) in zip(axes, panels, strict=True):
        v = np.asarray(s[k], float)
        im = ax.imshow(np.log10(np.maximum(np.abs(v), 1e-12)), origin="lower", cmap="viridis")
        for i in range(v.shape[0]):
            for j in range(v.shape[1]):
                ax.text(j, i, f"{v[i, j]:.2g}", ha="center", va="center", fontsize=6,
                        color="w")
        ax.set_xticks(range(len(amps)), [f"{a:g}" for a in amps])
        ax.set_yticks(range(len(noises)), [f"{n:g}" for n in noises])
        ax.set_xlabel("alternation amplitude a (drift)")
        ax.set_ylabel("noise s")
        ax.set_title(title + " (log10 colour)")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(record["title"] + "; bound = D(√σ²₁:T + √Σ²₁:T) + LD²")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- f3


def _f3_cases(config: Config) -> dict[str, sea.SEAParams]:
    T, d = config.f3_rounds, config.dim
    c = jnp.zeros(d).at[0].set(0.5)
    out = {f"s={s:g}": sea.sea_params(c, horizon=T, noise=s) for s in config.f3_noises}
    out["switches"] = sea.sea_params(c, horizon=T, noise=0.0, schedule="switches",
                                     switches=config.f3_switches)
    return out


def run_f3(config: Config) -> Results:
    env = sea.quadratic(config.dim, config.radius)
    cases = _f3_cases(config)
    T, K = config.f3_rounds, config.num_chunks
    horizons = (T // K) * np.arange(1, K + 1)
    series: dict[str, Any] = {"horizons": horizons}
    summary: dict[str, Any] = {"rounds": T}
    G = max(float(env.grad_bound(p)) for p in cases.values())
    regs = regret_grid("quadratic", ("omd_sc", "ogd_sc"), list(cases.values()), T, config, G)
    for j, method in enumerate(("omd_sc", "ogd_sc")):
        for i, name in enumerate(cases):
            st = _harness.seed_summary(regs[i, :, j])
            series[_keys.key(name, method, "mean")] = st["mean"]
            mask = _last_decade(horizons)
            lo, hi = np.flatnonzero(mask)[0], K - 1
            # slope of E[R_T] against ln T over the last decade, and log-log growth exponent
            summary[_keys.key("f3", name, method, "log_slope")] = float(
                (st["mean"][hi] - st["mean"][lo]) / np.log(horizons[hi] / horizons[lo]))
            summary[_keys.key("f3", name, method, "exponent")] = _slope(
                horizons[mask], st["mean"][mask])
            summary[_keys.key("f3", name, method, "regret")] = float(st["mean"][-1])
            summary[_keys.key("f3", name, method, "regret_tenth")] = float(st["mean"][lo])
            summary[_keys.key("f3", name, method, "regret_sem")] = float(st["sem"][-1])
    for name, p in cases.items():
        _, _, s2max, v2max = _cumulative_jit(env, p, T)
        summary[_keys.key("f3", name, "sigma2_max")] = float(s2max)
        summary[_keys.key("f3", name, "variation2_max_after_1")] = float(v2max)
    return Results(series=series, summary=summary, seeds=_seeds(config).tolist(),
                   allow_nonfinite=_UNDEFINED_SLOPES)


def plot_f3(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    h = np.asarray(s["horizons"])
    names = sorted({k.split("/")[0] for k in s if k.endswith("/mean")})
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4))
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        for method in ("omd_sc", "ogd_sc"):
            ax.plot(h, s[_keys.key(name, method, "mean")], label=METHOD_LABELS[method])
        ax.set_xscale("log")
        ax.set_title(name)
        ax.set_xlabel("T (log)")
        ax.set_ylabel("E[R_T]")
    np.atleast_1d(axes)[0].legend()
    fig.suptitle(record["title"])
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- f4


def _ons_constants(env, p, radius, dim):
    """γ = ½ min(1/(4GD), α), ε = 1/(γ²D²) (Hazan et al. 2007) with α = 1/max(⟨a,x⟩ − b)²."""
    D = 2 * radius
    G = float(env.grad_bound(p))
    c = float(jnp.linalg.norm(p.center))
    alpha = 1.0 / (np.sqrt(dim) * (radius + c) + float(p.noise)) ** 2
    gamma = 0.5 * min(1.0 / (4 * G * D), alpha)
    return gamma, 1.0 / (gamma**2 * D**2)


def f4_identity_name(noise: float) -> str:
    """F4's case name for noise s with ε = 1/γ (shared with paper_repro/omd_sea.py)."""
    return f"s={noise:g},U1=I"


def _ls_cases(config: Config, T: int, noises) -> tuple[Any, jax.Array, dict, list]:
    """F4's least-squares environment, centre, cases ``s=<noise>`` over ``T`` rounds and their
    (γ, ε) with Hazan et al.'s ε."""
    d = config.f4_dim
    env = sea.least_squares(d, config.radius)
    c = jnp.zeros(d).at[0].set(config.f4_center)
    cases = {f"s={s:g}": sea.sea_params(c, horizon=T, noise=s) for s in noises}
    return env, c, cases, [_ons_constants(env, p, config.radius, d) for p in cases.values()]


def run_f4(config: Config) -> Results:
    T = config.f4_rounds
    env, c, cases, consts = _ls_cases(config, T, config.f4_noises)
    for s_ in config.f4_identity_noises:  # same γ, ε = 1/γ: the metric starts at U_1 = I
        p = sea.sea_params(c, horizon=T, noise=s_)
        gamma, _ = _ons_constants(env, p, config.radius, config.f4_dim)
        cases[f4_identity_name(s_)] = p
        consts.append((gamma, 1.0 / gamma))
    return _ons_regret("f4", env, cases, consts, T, config)


def run_f4_long(config: Config) -> Results:
    """F4's cases with Hazan et al.'s ε at ``f4_long_noises``, over ``f4_long_rounds`` rounds
    (``f4_long_seeds`` seeds): the last decade [T/10, T] starts past ONS's transient ε/s²."""
    T = config.f4_long_rounds
    env, _, cases, consts = _ls_cases(config, T, config.f4_long_noises)
    return _ons_regret("f4_long", env, cases, consts, T,
                       dataclasses.replace(config, num_seeds=config.f4_long_seeds))


def _ons_regret(fig: str, env, cases, consts, T: int, config: Config) -> Results:
    """ONS and optimistic ONS on the least-squares ``cases`` with their (γ, ε) ``consts``:
    regret curves, last-decade log-log slopes and the cases' constants, keyed under ``fig``."""
    K = config.num_chunks
    extra = (jnp.asarray([g for g, _ in consts]), jnp.asarray([e for _, e in consts]))
    horizons = (T // K) * np.arange(1, K + 1)
    series: dict[str, Any] = {"horizons": horizons}
    summary: dict[str, Any] = {"rounds": T, "dim": config.f4_dim}
    regs = regret_grid("least_squares", ("ons", "oons"), list(cases.values()), T, config, 1.0,
                       extra)
    for j, method in enumerate(("ons", "oons")):
        for i, name in enumerate(cases):
            st = _harness.seed_summary(regs[i, :, j])
            series[_keys.key(name, method, "mean")] = st["mean"]
            mask = _last_decade(horizons)
            summary[_keys.key(fig, name, method, "exponent")] = _slope(
                horizons[mask], st["mean"][mask])
            summary[_keys.key(fig, name, method, "regret")] = float(st["mean"][-1])
            summary[_keys.key(fig, name, method, "regret_sem")] = float(st["sem"][-1])
    for (name, p), (gamma, eps) in zip(cases.items(), consts, strict=True):
        s2, v2, _, _ = _cumulative_jit(env, p, T)
        summary[_keys.key(fig, name, "gamma")] = gamma
        summary[_keys.key(fig, name, "epsilon")] = eps
        summary[_keys.key(fig, name, "noise")] = float(p.noise)
        summary[_keys.key(fig, name, "log_sigma_plus_variation")] = float(
            np.log(s2[-1] + v2[-1]))
    return Results(series=series, summary=summary, seeds=_seeds(config).tolist(),
                   allow_nonfinite=_UNDEFINED_SLOPES)


def plot_f4(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    h = np.asarray(s["horizons"])
    names = sorted({k.split("/")[0] for k in s if k.endswith("/mean")})
    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 3.4))
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        for method in ("ons", "oons"):
            ax.plot(h, s[_keys.key(name, method, "mean")], label=METHOD_LABELS[method])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"least squares, {name}")
        ax.set_xlabel("T")
        ax.set_ylabel("E[R_T]")
    np.atleast_1d(axes)[0].legend()
    fig.suptitle(record["title"])
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- f5


def _dynamic_record(env):
    def record(x, state, p, t, key):
        z = env.sample(p, key, t)
        return env.loss(x, z) - env.loss(env.minimizer(p, t), z)

    return record


def _dynamic_fn(config: Config):
    """Per point: dynamic regret of the ensemble, of OGD and of fixed-step OMD on every step of
    the ensemble's grid (vmapped), one compiled function."""
    env = sea.quadratic(config.dim, config.radius)
    record = _dynamic_record(env)
    T = config.f5_rounds

    def dyn(method, p, grad_bound, key, step=None):
        tx = _learner(method, env, p, grad_bound, config, step)
        _, _, gaps = sea.play(tx, env, p, _x1(config.dim, config.radius), key, T, record=record)
        return jnp.sum(gaps)

    def one(table, grad_bound, steps, case, seed):
        p = _take(table, case)
        key = jax.random.key(seed)
        fixed = jax.vmap(lambda eta: dyn("omd_fixed", p, grad_bound, key, eta))(steps)
        return dyn("ensemble", p, grad_bound, key), dyn("ogd", p, grad_bound, key), fixed

    return one


@functools.partial(jax.jit, static_argnames=("num_rounds", "radius"))
def _path_length(params, num_rounds, radius):
    env = sea.quadratic(params.center.shape[0], radius)
    us = jax.vmap(lambda t: env.minimizer(params, t))(jnp.arange(1, num_rounds + 1))
    return jnp.sum(jnp.sqrt(jnp.sum(jnp.square(jnp.diff(us, axis=0)), axis=1)))


def run_f5(config: Config) -> Results:
    env = sea.quadratic(config.dim, config.radius)
    T = config.f5_rounds
    c = jnp.zeros(config.dim).at[0].set(0.5)
    cases = {f"K={k}": sea.sea_params(c, horizon=T, noise=config.f5_noise, schedule="switches",
                                      switches=k) for k in config.f5_switches}
    params = list(cases.values())
    G = max(float(env.grad_bound(p)) for p in params)
    steps = config.f5_min_step * 2.0 ** np.arange(config.f5_num_learners)
    ens, ogd_, fixed = sweep(_dynamic_fn(config),
                             {"case": np.arange(len(params)), "seed": _seeds(config)},
                             _stack(params), jnp.asarray(G), jnp.asarray(steps))
    out = {"ensemble": ens, "ogd": ogd_}  # (cases, seeds); fixed: (cases, seeds, steps)
    series: dict[str, Any] = {"switches": list(config.f5_switches), "steps": steps}
    summary: dict[str, Any] = {"rounds": T}
    for i, (name, p) in enumerate(cases.items()):
        path = float(_path_length(p, T, config.radius))
        s2, v2, _, _ = _cumulative_jit(env, p, T)
        bound = float(np.sqrt((1 + path + s2[-1] + v2[-1]) * (1 + path)))
        fixed_mean = fixed[i].mean(axis=0)
        best = int(np.argmin(fixed_mean))
        summary[_keys.key("f5", name, "path_length")] = path
        summary[_keys.key("f5", name, "bound")] = bound
        summary[_keys.key("f5", name, "best_fixed_step")] = float(steps[best])
        summary[_keys.key("f5", name, "best_fixed")] = float(fixed_mean[best])
        summary[_keys.key("f5", name, "best_fixed_sem")] = float(
            fixed[i, :, best].std(ddof=1) / np.sqrt(fixed.shape[1]))
        for method in ("ensemble", "ogd"):
            m = out[method][i]
            summary[_keys.key("f5", name, method)] = float(m.mean())
            summary[_keys.key("f5", name, method, "sem")] = float(
                m.std(ddof=1) / np.sqrt(len(m)))
        series[_keys.key(name, "fixed")] = fixed_mean
        series[_keys.key(name, "ensemble")] = float(out["ensemble"][i].mean())
        series[_keys.key(name, "ogd")] = float(out["ogd"][i].mean())
        series[_keys.key(name, "bound")] = bound
    return Results(series=series, summary=summary, seeds=_seeds(config).tolist(),
                   allow_nonfinite=_UNDEFINED_SLOPES)


def plot_f5(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    names = [f"K={k}" for k in s["switches"]]
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.4))
    steps = np.asarray(s["steps"])
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        ax.plot(steps, s[_keys.key(name, "fixed")], "o-", label="fixed-step OMD (grid)")
        ax.axhline(s[_keys.key(name, "ensemble")], color="C1", label="ensemble")
        ax.axhline(s[_keys.key(name, "ogd")], color="C2", label="OGD D/(G√t)")
        ax.axhline(s[_keys.key(name, "bound")], color="k", ls="--",
                   label="√((1+P+σ²+Σ²)(1+P))")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("base step η")
        ax.set_ylabel("E[dynamic regret]")
        ax.set_title(f"K-switch quadratic, {name}")
    np.atleast_1d(axes)[0].legend()
    fig.suptitle(record["title"])
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- f6


def _o2b_fn(config: Config):
    """Per point: F(x̄_{T_k}) − F* and E[Σ_t (f_t(x_t) − f_t(x*))]/T_k for OMD on the iid
    quadratic and linear environments (one compiled function for both)."""
    T, K = config.f6_rounds, config.num_chunks
    size = T // K
    n = size * jnp.arange(1, K + 1)

    def per_env(env_name, p, grad_bound, key):
        env = sea.ENVIRONMENTS[env_name](config.f6_dim, config.radius)

        def record(x, state, p, t, key):
            z = env.sample(p, key, t)
            return x, env.loss(x, z) - env.loss(env.minimizer(p, t), z)

        tx = _learner("omd", env, p, grad_bound, config)
        _, _, (xs, gaps) = sea.play(tx, env, p, _x1(config.f6_dim, config.radius), key, T,
                                    record=record)
        xbar = jnp.cumsum(xs.reshape(K, size, -1).sum(axis=1), axis=0) / n[:, None]
        fx = jax.vmap(lambda x: _expected_loss(env_name, x, p))(xbar)
        gap = fx - _expected_loss(env_name, env.minimizer(p, 1), p)
        return gap, jnp.cumsum(gaps.reshape(K, size).sum(axis=1)) / n

    def one(table, grad_bounds, case, seed):
        p = _take(table, case)
        key = jax.random.key(seed)
        return {name: per_env(name, p, grad_bounds[i], key)
                for i, name in enumerate(F6_ENVS)}

    return one


F6_ENVS = ("quadratic", "linear")


def _expected_loss(env_name, x, p):
    """F(x) up to a constant (iid): ½‖x − c‖² (quadratic) or ⟨c, x⟩ (linear)."""
    if env_name == "quadratic":
        return 0.5 * jnp.sum(jnp.square(x - p.center))
    return jnp.dot(p.center, x)


def run_f6(config: Config) -> Results:
    T, K, d = config.f6_rounds, config.num_chunks, config.f6_dim
    c = jnp.zeros(d).at[0].set(0.5)
    horizons = (T // K) * np.arange(1, K + 1)
    series: dict[str, Any] = {"horizons": horizons}
    summary: dict[str, Any] = {"rounds": T}
    mask = _last_decade(horizons)
    params = [sea.sea_params(c, horizon=T, noise=s) for s in config.f6_noises]
    grad_bounds = [max(float(sea.ENVIRONMENTS[e](d, config.radius).grad_bound(p))
                       for p in params) for e in F6_ENVS]
    out = sweep(_o2b_fn(config), {"case": np.arange(len(params)), "seed": _seeds(config)},
                _stack(params), jnp.asarray(grad_bounds))
    for env_name in F6_ENVS:
        gap, reg = out[env_name]
        for i, s in enumerate(config.f6_noises):
            name = _keys.key(env_name, f"s={s:g}")
            g_st, r_st = _harness.seed_summary(gap[i]), _harness.seed_summary(reg[i])
            series[_keys.key(name, "gap")] = g_st["mean"]
            series[_keys.key(name, "regret_over_T")] = r_st["mean"]
            summary[_keys.key("f6", name, "slope")] = _slope(horizons[mask],
                                                               g_st["mean"][mask])
            summary[_keys.key("f6", name, "gap")] = float(g_st["mean"][-1])
            # o2b: E[F(x̄_T)] − F* ≤ E[Σ(f_t(x_t) − f_t(x*))]/T, checked at every horizon
            diff = gap[i] - reg[i]  # per seed, ≤ 0 in expectation
            d_st = _harness.seed_summary(diff)
            summary[_keys.key("f6", name, "o2b_max_excess")] = float(np.max(d_st["mean"]))
            summary[_keys.key("f6", name, "o2b_max_excess_z")] = float(np.max(
                d_st["mean"] / np.maximum(d_st["sem"], 1e-300)))
    return Results(series=series, summary=summary, seeds=_seeds(config).tolist(),
                   allow_nonfinite=_UNDEFINED_SLOPES)


def plot_f6(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    h = np.asarray(s["horizons"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, env_name in zip(axes, ("quadratic", "linear"), strict=True):
        for j, k in enumerate(sorted(x for x in s if x.startswith(env_name) and
                                     x.endswith("/gap"))):
            name = k.removesuffix("/gap")
            ax.plot(h, np.maximum(np.asarray(s[k], float), 1e-16), color=f"C{j}",
                    label=f"F(x̄_T) − F*, {name.split('/')[1]}")
            ax.plot(h, np.maximum(np.asarray(s[_keys.key(name, "regret_over_T")], float),
                                  1e-16), color=f"C{j}", ls="--", label="E[R_T(x*)]/T")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"online-to-batch, iid {env_name}")
        ax.set_xlabel("T")
        ax.legend()
    fig.suptitle(record["title"])
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- f7

F7_CASES = ("iid", "switches", "alternation")


def _f7_horizons(config: Config) -> np.ndarray:
    T = config.f7_rounds
    return np.unique(np.round(np.geomspace(T / 100, T, config.f7_num_horizons))).astype(int)


def _f7_cases(config: Config) -> dict[str, sea.SEAParams]:
    T, d, s = config.f7_rounds, config.dim, config.f7_noise
    c = jnp.zeros(d).at[0].set(config.f7_center)
    return {
        "iid": sea.sea_params(c, horizon=T, noise=s),
        "switches": sea.sea_params(c, horizon=T, noise=s, schedule="switches",
                                   switches=config.f7_switches),
        "alternation": sea.sea_params(c, horizon=T, noise=0.0, schedule="alternation"),
    }


def _f7_grad_bound(p: sea.SEAParams, dim: int) -> float:
    """G for the step sizes: ‖∇f_t‖ ≤ ‖a_t‖ ≤ ‖c‖ + s‖g‖, and P(‖g‖ > √d + 3) ≤ e^{-4.5} for
    g ~ N(0, I_d): a high-probability bound (Gaussian features have no almost-sure one, A1)."""
    return float(np.linalg.norm(np.asarray(p.center)) + float(p.noise) * (np.sqrt(dim) + 3))


def _f7_smoothness(p: sea.SEAParams) -> float:
    """L of F_t: ∇²F = E[σ'(m) (c + s h)(c + s h)ᵀ] ⪯ ¼(ccᵀ + s²I), so L = (‖c‖² + s²)/4."""
    return 0.25 * (float(np.sum(np.square(np.asarray(p.center)))) + float(p.noise) ** 2)


def _f7_points(config: Config) -> np.ndarray:
    """The grid that replaces max/sup over X in σ_t², Σ_t²: seeded random unit directions and
    ±e_i, each at radii R and R/2 and with both signs, plus the origin."""
    d, R = config.dim, config.radius
    rng = np.random.default_rng(7)
    u = rng.normal(size=(config.f7_mc_directions, d))
    u = np.vstack([u / np.linalg.norm(u, axis=1, keepdims=True), np.eye(d)])
    u = np.vstack([u, -u])
    return np.vstack([R * u, 0.5 * R * u, np.zeros((1, d))])


def _logistic_fn(config: Config):
    """Per point: R_{T_k} of every method at the log-spaced horizons (methods, K) and the
    comparator's certificate gaps (K,), one compiled function."""
    env = sea.logistic(config.dim, config.radius)
    T = config.f7_rounds
    horizons = _f7_horizons(config)

    def one(table, grad_bounds, case, seed):
        p = _take(table, case)
        key = jax.random.key(seed)
        # play first (see _regret_fn): validation stops before the comparator is evaluated
        losses = [sea.play(_learner(method, env, p, grad_bounds[case], config), env, p,
                           _x1(config.dim, config.radius), key, T)[2]
                  for method in config.f7_methods]
        zs = sea.sample_rounds(env, p, key, T)
        _, best, gaps = sea.best_fixed_newton(env, zs, jnp.asarray(horizons),
                                              num_iters=config.f7_newton_iters,
                                              hessian_updates=config.f7_hessian_updates)
        return jnp.stack([jnp.cumsum(loss)[horizons - 1] - best for loss in losses]), gaps

    return one


def run_f7(config: Config) -> Results:
    env = sea.logistic(config.dim, config.radius)
    cases = _f7_cases(config)
    params = list(cases.values())
    T, D = config.f7_rounds, 2 * config.radius
    horizons = _f7_horizons(config)
    grad_bounds = [_f7_grad_bound(p, config.dim) for p in params]
    regs, gaps = sweep(_logistic_fn(config), {"case": np.arange(len(params)),
                                              "seed": _seeds(config)},
                       _stack(params), jnp.asarray(grad_bounds))  # (cases, seeds, M, K), (.., K)
    points = jnp.asarray(_f7_points(config))
    series: dict[str, Any] = {"horizons": horizons}
    summary: dict[str, Any] = {"rounds": T, "mc_samples": config.f7_mc_samples,
                               "mc_points": int(points.shape[0])}
    mask = _last_decade(horizons)
    for i, (name, p) in enumerate(cases.items()):
        mc = sea.monte_carlo_cumulative(env, p, jax.random.key(10_000 + i), T, points,
                                        config.f7_mc_samples)
        s2 = np.cumsum(mc["sigma2"])[horizons - 1]
        v2 = np.cumsum(mc["variation2"])[horizons - 1]
        L = _f7_smoothness(p)
        bound = D * (np.sqrt(s2) + np.sqrt(v2)) + L * D**2
        gap = np.asarray(gaps[i]).max(axis=0)  # worst seed per horizon
        series[_keys.key(name, "bound")] = bound
        series[_keys.key(name, "sigma2")] = s2
        series[_keys.key(name, "variation2")] = v2
        series[_keys.key(name, "comparator_gap")] = gap
        for key_, v in (("sigma2", s2[-1]), ("variation2", v2[-1]), ("bound", bound[-1]),
                        ("smoothness", L), ("grad_bound", grad_bounds[i]),
                        ("comparator_gap_max", gap.max()),
                        ("mc_estimates", mc["num_estimates"])):
            summary[_keys.key("f7", name, key_)] = float(v)
        for j, method in enumerate(config.f7_methods):
            st = _harness.seed_summary(regs[i, :, j])
            upper = st["mean"] + gap  # certified: the comparator value is within gap of min
            series[_keys.key(name, method, "mean")] = st["mean"]
            series[_keys.key(name, method, "sem")] = st["sem"]
            summary[_keys.key("f7", name, method, "regret")] = float(st["mean"][-1])
            summary[_keys.key("f7", name, method, "regret_sem")] = float(st["sem"][-1])
            summary[_keys.key("f7", name, method, "slope")] = _slope(
                horizons[mask], st["mean"][mask])
            summary[_keys.key("f7", name, method, "ratio_max")] = float(np.max(upper / bound))
            summary[_keys.key("f7", name, method, "ratio_final")] = float(upper[-1]
                                                                            / bound[-1])
    return Results(series=series, summary=summary, seeds=_seeds(config).tolist(),
                   allow_nonfinite=_UNDEFINED_SLOPES)


def plot_f7(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    h = np.asarray(s["horizons"])
    fig, axes = plt.subplots(1, len(F7_CASES), figsize=(3.8 * len(F7_CASES), 3.6))
    for ax, name in zip(np.atleast_1d(axes), F7_CASES, strict=True):
        for method in record["config"]["f7_methods"]:
            ax.plot(h, s[_keys.key(name, method, "mean")], "o-", ms=3,
                    label=METHOD_LABELS[method])
        ax.plot(h, s[_keys.key(name, "bound")], "k--",
                label="D(√σ²₁:T + √Σ²₁:T) + LD² (Monte Carlo σ², Σ²)")
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_title(f"streaming logistic, {name}")
        ax.set_xlabel("T")
        ax.set_ylabel("E[R_T]")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.suptitle(record["title"])
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- f8


def f8_name(noisy_rounds: int) -> str:
    """F8's case name for a burst of B noisy rounds (shared with paper_repro/omd_sea.py)."""
    return f"B={noisy_rounds}"


def _f8_cases(config: Config) -> dict[str, sea.SEAParams]:
    T, d = config.f8_rounds, config.dim
    c = jnp.zeros(d).at[0].set(0.5)
    return {f8_name(b): sea.sea_params(c, horizon=T, noise=config.f8_noise, noisy_rounds=b)
            for b in config.f8_noisy_rounds}


F8_METHODS = ("omd_sc", "ogd_sc")


def run_f8(config: Config) -> Results:
    env = sea.quadratic(config.dim, config.radius)
    cases = _f8_cases(config)
    T = config.f8_rounds
    regs = regret_grid("quadratic", F8_METHODS, list(cases.values()), T, config, 1.0)
    series: dict[str, Any] = {"noisy_rounds": list(config.f8_noisy_rounds)}
    summary: dict[str, Any] = {"rounds": T, "strong_convexity": 1.0}
    for i, (name, p) in enumerate(cases.items()):
        s2, v2, s2max, v2max = (np.asarray(v) for v in _cumulative_full(env, p, T))
        peak = float(s2max + v2max)
        total = float(s2 + v2)
        # λ = 1. ICML abstract: min{log(σ²₁:T + Σ²₁:T), (σ²_max + Σ²_max) log T}; JMLR/arXiv v3
        # abstract: (σ²_max + Σ²_max) log((σ²₁:T + Σ²₁:T)/(σ²_max + Σ²_max)); Sachs et al.:
        # (σ²_max + Σ²_max) log T. "1 +" inside: the O(·) hides an additive constant.
        new = peak * (1.0 + np.log(total / peak))
        old = peak * (1.0 + np.log(T))
        for k, v in (("sigma2", s2), ("variation2", v2), ("sigma2_max", s2max),
                     ("variation2_max", v2max), ("bound_new", new), ("bound_old", old)):
            summary[_keys.key("f8", name, k)] = float(v)
        for j, method in enumerate(F8_METHODS):
            st = _harness.seed_summary(regs[i, :, j])
            r, se = float(st["mean"][-1]), float(st["sem"][-1])
            summary[_keys.key("f8", name, method, "regret")] = r
            summary[_keys.key("f8", name, method, "regret_sem")] = se
            summary[_keys.key("f8", name, method, "ratio_new")] = r / new
            summary[_keys.key("f8", name, method, "ratio_old")] = r / old
            series[_keys.key(name, method, "mean")] = st["mean"]
    for method in F8_METHODS:
        series[_keys.key(method, "regret")] = [summary[_keys.key("f8", n, method, "regret")]
                                                 for n in cases]
    for k in ("sigma2", "bound_new", "bound_old"):
        series[k] = [summary[_keys.key("f8", n, k)] for n in cases]
    return Results(series=series, summary=summary, seeds=_seeds(config).tolist(),
                   allow_nonfinite=_UNDEFINED_SLOPES)


@functools.partial(jax.jit, static_argnames=("env", "num_rounds"))
def _cumulative_full(env, params, num_rounds):
    """σ²₁:T, Σ²₁:T, σ²_max and Σ²_max over all T rounds (Σ²_1 included)."""
    ts = jnp.arange(1, num_rounds + 1, dtype=jnp.int32)
    s2 = jax.vmap(lambda t: env.sigma2(params, t))(ts)
    v2 = jax.vmap(lambda t: env.variation2(params, t))(ts)
    return jnp.sum(s2), jnp.sum(v2), jnp.max(s2), jnp.max(v2)


def plot_f8(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    x = np.asarray(s["sigma2"], float)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ax = axes[0]
    for method in F8_METHODS:
        ax.plot(x, s[_keys.key(method, "regret")], "o-", label=METHOD_LABELS[method])
    ax.plot(x, s["bound_new"], "k--", label="(σ²max+Σ²max)(1 + log((σ²₁:T+Σ²₁:T)/(σ²max+Σ²max)))")
    ax.plot(x, s["bound_old"], "k:", label="(σ²max+Σ²max)(1 + log T) (Sachs et al.)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("σ²₁:T (B noisy rounds × σ²max)")
    ax.set_ylabel("E[R_T]")
    ax.set_title("burst of B noisy rounds, then quiet")
    ax.legend(fontsize=7)
    ax = axes[1]
    for method in F8_METHODS:
        r = np.asarray(s[_keys.key(method, "regret")], float)
        ax.plot(x, r / np.asarray(s["bound_new"]), "o-", label=f"{method} / new bound")
        ax.plot(x, r / np.asarray(s["bound_old"]), "s:", label=f"{method} / old bound")
    ax.set_xscale("log")
    ax.set_xlabel("σ²₁:T")
    ax.set_ylabel("E[R_T] / bound")
    ax.legend(fontsize=7)
    fig.suptitle(record["title"])
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- f9

F9_CASES = ("iid", "switches", "alternation")


def _f9_cases(config: Config) -> dict[str, sea.SEAParams]:
    T, d, s = config.f9_rounds, config.dim, config.f9_noise
    c = jnp.zeros(d).at[0].set(0.5)
    return {
        "iid": sea.sea_params(c, horizon=T, noise=s),
        "switches": sea.sea_params(c, horizon=T, noise=s, schedule="switches",
                                   switches=config.f9_switches),
        "alternation": sea.sea_params(c, horizon=T, noise=0.0, schedule="alternation"),
    }


def run_f9(config: Config) -> Results:
    env = _env("nonconvex_quadratic", config.dim, config)
    cases = _f9_cases(config)
    params = list(cases.values())
    T, K, D, L = config.f9_rounds, config.num_chunks, 2 * config.radius, env.smoothness
    G = max(float(env.grad_bound(p)) for p in params)
    horizons = (T // K) * np.arange(1, K + 1)
    series: dict[str, Any] = {"horizons": horizons}
    summary: dict[str, Any] = {"rounds": T, "grad_bound": G, "curvature": config.f9_curvature}
    regs = regret_grid("nonconvex_quadratic", config.f9_methods, params, T, config, G)
    for i, (name, p) in enumerate(cases.items()):
        s2, v2 = _cumulative(env, p, T, K)
        bound = D * (np.sqrt(s2) + np.sqrt(v2)) + L * D**2
        series[_keys.key(name, "bound")] = bound
        for k, v in (("sigma2", s2[-1]), ("variation2", v2[-1]), ("bound", bound[-1])):
            summary[_keys.key("f9", name, k)] = float(v)
        for j, method in enumerate(config.f9_methods):
            _regret_against_bound("f9", name, method, regs[i, :, j], bound, series, summary)
    return Results(series=series, summary=summary, seeds=_seeds(config).tolist(),
                   allow_nonfinite=_UNDEFINED_SLOPES)


def _regret_against_bound(fig_id, name, method, regrets, bound, series, summary):
    """E[R_{T_k}] over seeds (mean and SE series), its value at T and the largest ratio to
    ``bound`` over the horizons (with the SE at that horizon); returns the seed summary."""
    st = _harness.seed_summary(regrets)
    series[_keys.key(name, method, "mean")] = st["mean"]
    series[_keys.key(name, method, "sem")] = st["sem"]
    summary[_keys.key(fig_id, name, method, "regret")] = float(st["mean"][-1])
    summary[_keys.key(fig_id, name, method, "regret_sem")] = float(st["sem"][-1])
    k = int(np.argmax(st["mean"] / bound))
    summary[_keys.key(fig_id, name, method, "ratio_max")] = float(st["mean"][k] / bound[k])
    summary[_keys.key(fig_id, name, method, "ratio_max_sem")] = float(st["sem"][k] / bound[k])
    return st


def _plot_regret_panels(record, cases, methods, bound_label, title, yscale):
    """One panel per case: each method's E[R_T] and the bound against T (log T axis)."""
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    h = np.asarray(s["horizons"])
    fig, axes = plt.subplots(1, len(cases), figsize=(3.8 * len(cases), 3.6))
    for ax, name in zip(np.atleast_1d(axes), cases, strict=True):
        for method in methods:
            ax.plot(h, s[_keys.key(name, method, "mean")], label=METHOD_LABELS[method])
        ax.plot(h, s[_keys.key(name, "bound")], "k--", label=bound_label)
        ax.set_xscale("log")
        ax.set_yscale(*yscale[:1], **yscale[1])
        ax.set_title(title(name))
        ax.set_xlabel("T")
        ax.set_ylabel("E[R_T]")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.suptitle(record["title"])
    fig.tight_layout()
    return fig


def plot_f9(record: Mapping[str, Any]):
    kappa = record["config"]["f9_curvature"]
    return _plot_regret_panels(record, F9_CASES, record["config"]["f9_methods"],
                               "D(√σ²₁:T + √Σ²₁:T) + LD²",
                               lambda name: f"non-convex f_t (κ = {kappa:g}), {name}",
                               ("symlog", {"linthresh": 1.0}))


# --------------------------------------------------------------------------- f10

F10_CASES = ("fixed", "iid", "corrupted")
# the implicit update's methods: hint of implicit_omd (all with OGD's η_t = D/(G√t))
IMPLICIT_HINT = {"implicit": "none", "implicit_opt": "prox_gradient",
                 "implicit_lastgrad": "last_gradient"}


def _f10_cases(config: Config) -> dict[str, sea.SEAParams]:
    T, d = config.f10_rounds, config.dim
    c = jnp.zeros(d).at[0].set(0.5)
    return {
        "fixed": sea.sea_params(c, horizon=T),
        "iid": sea.sea_params(c, horizon=T, noise=config.f10_noise),
        "corrupted": sea.sea_params(c, horizon=T, schedule="corrupted",
                                    corruption=int(config.f10_corruption_fraction * T)),
    }


def run_f10(config: Config) -> Results:
    env = _env("absolute", config.dim, config)
    cases = _f10_cases(config)
    params = list(cases.values())
    T, K = config.f10_rounds, config.num_chunks
    D = env.diameter  # the box's: 2R√d
    G = max(float(env.grad_bound(p)) for p in params)
    horizons = (T // K) * np.arange(1, K + 1)
    series: dict[str, Any] = {"horizons": horizons}
    summary: dict[str, Any] = {"rounds": T, "grad_bound": G, "diameter": D}
    regs = regret_grid("absolute", config.f10_methods, params, T, config, G)
    mask = _last_decade(horizons)
    for i, (name, p) in enumerate(cases.items()):
        s2, v2 = _cumulative(env, p, T, K)  # σ̃² = σ², Σ̃² = Σ² for this environment
        bound = D * (np.sqrt(s2) + np.sqrt(v2)) + D**2
        series[_keys.key(name, "bound")] = bound
        for k, v in (("sigma2", s2[-1]), ("variation2", v2[-1]), ("bound", bound[-1])):
            summary[_keys.key("f10", name, k)] = float(v)
        for j, method in enumerate(config.f10_methods):
            st = _regret_against_bound("f10", name, method, regs[i, :, j], bound, series,
                                       summary)
            summary[_keys.key("f10", name, method, "regret_tenth")] = float(
                st["mean"][K // 10 - 1])
            summary[_keys.key("f10", name, method, "slope")] = _slope(
                horizons[mask], st["mean"][mask])
    return Results(series=series, summary=summary, seeds=_seeds(config).tolist(),
                   allow_nonfinite=_UNDEFINED_SLOPES)


def plot_f10(record: Mapping[str, Any]):
    return _plot_regret_panels(record, F10_CASES, record["config"]["f10_methods"],
                               "D(√σ̃²₁:T + √Σ̃²₁:T) + D²",
                               lambda name: f"f_t = ‖x − c_t − ξ_t‖₁ on a box, {name}",
                               ("log", {}))


# --------------------------------------------------------------------------- registry

FIGURES: dict[str, Figure] = {
    "f1": Figure("Convex theorem (static regret O(√σ²₁:T + √Σ²₁:T)); designed test, no paper "
                 "figure", "F1: regret vs T, linear SEA environments", run_f1, plot_f1),
    "f2": Figure("Convex theorem, interpolation between stochastic and adversarial; designed "
                 "test", "F2: E[R_T] / bound over noise × drift", run_f2, plot_f2),
    "f3": Figure("Strongly convex theorem (logarithmic regret); designed test",
                 "F3: strongly convex quadratic, η_t = 1/(λt)", run_f3, plot_f3),
    "f4": Figure("Exp-concave theorem (O((d/α) log(σ²+Σ²))); designed test",
                 "F4: online least squares, optimistic ONS vs ONS", run_f4, plot_f4),
    "f4_long": Figure("Exp-concave theorem (O((d/α) log(σ²+Σ²))) past ONS's transient, "
                      "Hazan et al.'s ε; designed test",
                      "F4 long: online least squares past the transient, optimistic ONS vs ONS",
                      run_f4_long, plot_f4),
    "f5": Figure("Dynamic regret theorem (JMLR); designed test",
                 "F5: dynamic regret of the OMD ensemble", run_f5, plot_f5),
    "f6": Figure("Online-to-batch corollary; designed test",
                 "F6: online-to-batch convergence of the averaged iterate", run_f6, plot_f6),
    "f7": Figure("Convex theorem on streaming logistic classification (σ², Σ² by Monte "
                 "Carlo); designed test, no paper figure",
                 "F7: regret vs T, streaming logistic SEA environments", run_f7, plot_f7),
    "f8": Figure("Strongly convex theorem: regret in log σ²₁:T, not σ²_max log T (a burst of "
                 "B noisy rounds, then quiet); designed test, no paper figure",
                 "F8: strongly convex quadratic, B very noisy rounds in a quiet run", run_f8,
                 plot_f8),
    "f9": Figure("Convex theorem with individually non-convex f_t (convex F_t); designed test, "
                 "no paper figure", "F9: regret vs T, non-convex f_t with convex expectation",
                 run_f9, plot_f9),
    "f10": Figure("Implicit update for non-smooth f_t (JMLR version), regret in σ̃², Σ̃²; "
                  "designed test, no paper figure",
                  "F10: implicit vs explicit updates, f_t = ‖x − c_t − ξ_t‖₁ on a box", run_f10,
                  plot_f10),
}

PAPER = Paper(
    slug="omd_sea",
    title="Optimistic OMD in the SEA model (Chen et al., ICML 2023 / JMLR 2024)",
    reference="S. Chen, Y.-J. Zhang, W.-W. Tu, P. Zhao, L. Zhang. Optimistic Online Mirror "
    "Descent for Bridging Stochastic and Adversarial Online Convex Optimization. ICML 2023, "
    "arXiv:2302.04552; JMLR 25(178), 2024",
    figures=FIGURES,
    full=FULL,
    smoke=SMOKE,
)

main = _harness.make_main(PAPER)

if __name__ == "__main__":
    raise SystemExit(main())
