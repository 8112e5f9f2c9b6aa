"""``python -m bench.anyloss [--tiny] [--out PATH]``: cost of AnyLoss vs BCE vs SOL (E4, §4.3).

Two side-by-side comparisons in one run, reported as ratios to BCE (absolute times under
``volatile``):

* ``loss_grad``: one jitted value-and-gradient of the loss w.r.t. the logits of a batch of
  ``n`` examples (the cost a loss adds to any model);
* ``slp_fit``: the whole 10-fold SLP fit of the experiment (full-batch GD, ``steps``
  iterations, folds ``vmap``-ped), as in ``experiments.anyloss`` figure ``e4``: each loss its
  own compiled program (since Performance v2);
* ``shared_over_own``: the same fit through the former single program that picks the loss by a
  ``lax.switch`` (E1/E2 still use it: one compilation for all losses), over the own-program
  time, per loss: the overhead that E4 had before Performance v2.

Each variant is compiled beforehand and the timings are interleaved (median of ``repeats``), so
drifting load hits every loss alike. The paper reports AnyLoss ≈ 1.0× BCE and SOL ≈ 1.1–1.2×
(Keras). No GPU is lent to this session: CPU only.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from bench import _common
from experiments import anyloss as E

AL = importlib.import_module("jaxrank.losses.anyloss")

LOSS_FNS = {
    "bce": lambda z, y: jnp.mean(AL.binary_cross_entropy(z, y)),
    "mse": lambda z, y: jnp.mean(AL.mse_loss(z, y, signed=True)),
    "anyloss_acc": lambda z, y: AL.anyloss(z, y, metric="accuracy"),
    "anyloss_f1": lambda z, y: AL.anyloss(z, y, metric="f1"),
    "anyloss_gmean": lambda z, y: AL.anyloss(z, y, metric="gmean"),
    "anyloss_bacc": lambda z, y: AL.anyloss(z, y, metric="balanced_accuracy"),
    "sol_f1": lambda z, y: AL.score_oriented_loss(z, y, metric="f1"),
}


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    n_grad: int = 1_000_000
    repeats: int = 7
    fit_sets: tuple[str, ...] = ("random", "breast")
    smoke_protocol: bool = False  # the experiment's SMOKE folds/steps (shares its compilation)


FULL = BenchConfig()
TINY = BenchConfig(n_grad=2000, repeats=2, fit_sets=("breast",), smoke_protocol=True)


def bench_loss_grad(n: int, repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    z = jnp.asarray(rng.normal(0, 3, n), jnp.float32)
    y = jnp.asarray((rng.random(n) < 0.1).astype(np.int32))
    fns = {k: jax.jit(jax.value_and_grad(f)) for k, f in LOSS_FNS.items()}
    for f in fns.values():
        jax.block_until_ready(f(z, y))
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(z, y))
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.anyloss", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="small sizes (tests)")
    parser.add_argument("--out", type=Path, default=None, help="record path")
    parser.add_argument("--device-note", default=None, help="free text stored in the record")
    args = parser.parse_args(argv)
    cfg = TINY if args.tiny else FULL
    grad = bench_loss_grad(cfg.n_grad, cfg.repeats)
    exp_cfg = E.SMOKE if cfg.smoke_protocol else E.FULL
    losses = ("bce", "mse", "anyloss_acc", "anyloss_f1", "anyloss_gmean", "anyloss_bacc",
              "sol_acc", "sol_f1", "sol_bacc")
    fits, shared = {}, {}
    for name in cfg.fit_sets:
        x, y = E.e2_dataset(name, exp_cfg)
        reps = E.time_losses(x, y, losses, exp_cfg, cfg.repeats)
        fits[name] = {n: float(np.median(v)) for n, v in reps.items()}
        reps = E.time_losses(x, y, losses, exp_cfg, cfg.repeats, shared_program=True)
        shared[name] = {n: float(np.median(v)) for n, v in reps.items()}
    ratios = {"loss_grad": {k: v / grad["bce"] for k, v in grad.items()}}
    for name, t in fits.items():
        ratios[f"slp_fit/{name}"] = {k: v / t["bce"] for k, v in t.items()}
        ratios[f"slp_fit_shared_program/{name}"] = {k: v / shared[name]["bce"]
                                                    for k, v in shared[name].items()}
        ratios[f"shared_over_own/{name}"] = {k: shared[name][k] / v for k, v in t.items()}
    rows = [{"comparison": c, **{k: round(v, 3) for k, v in r.items()}}
            for c, r in ratios.items()]
    _common.print_table(rows)
    cmd = "python -m bench.anyloss" + (" --tiny" if args.tiny else "")
    if args.device_note:
        cmd += f" --device-note {args.device_note}"
    record = {
        "command": cmd,
        "mode": "tiny" if args.tiny else "full",
        "config": dataclasses.asdict(cfg),
        "device_note": args.device_note or "CPU only (no accelerator lent to this session)",
        "ratios": ratios,
        "volatile": {"loss_grad_s": grad, "slp_fit_s": fits, "slp_fit_shared_s": shared},
    }
    path = _common.write_record("anyloss", record, args.out)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
