r"""Benchmark: the comp-sum loss (value + gradient) against optax and against a τ loop.

``python -m bench.compsum [--tiny] [--out PATH] [--device-note TEXT]``

What is timed (one process, compile excluded; ratios are what to read, the machine is shared):

* ``comp_sum_tau1``  — ``jaxrank.losses.comp_sum_loss(τ=1)`` value and gradient (mean over the
  batch), against ``optax_ce`` — ``optax.softmax_cross_entropy_with_integer_labels``, the natural
  alternative for τ = 1: the overhead of the general, log-space, custom-JVP implementation;
* ``logsoftmax_tau1`` / ``logsoftmax_tau0.5`` — the pre-v2 implementation (−log p_y read off a
  materialised ``log_softmax``), the "before" of Performance v2, against today's ``comp_sum_tau*``
  (−log p_y from optax's cross-entropy: the "after");
* ``naive_tau0.5``   — the textbook form (p_y^{τ−1} − 1)/(1 − τ) from ``softmax`` at τ = 0.5,
  against ``comp_sum_tau0.5``;
* ``sweep_vmap``     — all five τ ∈ {0, .5, 1, 1.5, 2} as one jitted ``vmap``, against
  ``sweep_loop`` — one jitted call per τ from a Python loop.

The values of comp-sum at τ = 1 and optax must agree (1e-5, float32) before the record is
written. Data: seeded Gaussian logits (batch 4096 × 1000 classes; ``--tiny``: 64 × 10).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bench import _common
from jaxrank.losses import comp_sum_loss
from jaxrank.losses.comp_sum import _tempered

NAME = "compsum"
TAUS = (0.0, 0.5, 1.0, 1.5, 2.0)


def _vg(loss):
    return jax.jit(jax.value_and_grad(lambda h, y: jnp.mean(loss(h, y))))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compsum", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="64 × 10 logits (for tests)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--device-note", default="CPU only (no accelerator in this session)")
    args = parser.parse_args(argv)
    m, n, repeats = (64, 10, 3) if args.tiny else (4096, 1000, 15)
    rng = np.random.default_rng(0)
    h = jnp.asarray(rng.standard_normal((m, n)) * 3, jnp.float32)
    y = jnp.asarray(rng.integers(0, n, m), jnp.int32)

    def naive(h, y, tau=0.5):
        p_y = jax.nn.softmax(h)[jnp.arange(h.shape[0]), y]
        return (p_y ** (tau - 1) - 1) / (1 - tau)

    def logsoftmax_form(h, y, tau):  # pre-v2 comp_sum_loss: −log_softmax at y, then Φ^τ
        lsm = jax.nn.log_softmax(h, axis=-1)
        s = jnp.maximum(-jnp.take_along_axis(lsm, y[:, None], axis=-1)[:, 0], 0)
        return _tempered(s, jnp.asarray(tau, s.dtype))

    fns = {
        "optax_ce": _vg(optax.softmax_cross_entropy_with_integer_labels),
        "comp_sum_tau1": _vg(lambda h, y: comp_sum_loss(h, y, tau=1.0)),
        "comp_sum_tau0.5": _vg(lambda h, y: comp_sum_loss(h, y, tau=0.5)),
        "naive_tau0.5": _vg(naive),
        "logsoftmax_tau1": _vg(lambda h, y: logsoftmax_form(h, y, 1.0)),
        "logsoftmax_tau0.5": _vg(lambda h, y: logsoftmax_form(h, y, 0.5)),
    }
    per_tau = jax.jit(jax.value_and_grad(lambda h, y, t: jnp.mean(comp_sum_loss(h, y, tau=t))))
    taus = jnp.asarray(TAUS, jnp.float32)
    swept = jax.jit(jax.vmap(per_tau, in_axes=(None, None, 0)))
    v1, v2 = fns["optax_ce"](h, y)[0], fns["comp_sum_tau1"](h, y)[0]
    if not np.allclose(float(v1), float(v2), rtol=1e-5):
        print(f"comp_sum(τ=1) {float(v2)} != optax {float(v1)}", file=sys.stderr)
        return 1
    rows, times = [], {}
    for name, fn in fns.items():
        times[name] = _common.timeit(lambda fn=fn: fn(h, y), repeats=repeats).median_s
    for tau in TAUS:  # every τ against optax (target ≤ 1.3×)
        fn = _vg(lambda h, y, tau=tau: comp_sum_loss(h, y, tau=tau))
        times[f"comp_sum_tau{tau:g}"] = _common.timeit(lambda fn=fn: fn(h, y),
                                                       repeats=repeats).median_s
    times["sweep_vmap"] = _common.timeit(lambda: swept(h, y, taus), repeats=repeats).median_s
    times["sweep_loop"] = _common.timeit(
        lambda: [per_tau(h, y, t) for t in taus], repeats=repeats).median_s
    ratios = {
        "comp_sum_tau1/optax_ce": times["comp_sum_tau1"] / times["optax_ce"],
        "comp_sum_tau0.5/naive_tau0.5": times["comp_sum_tau0.5"] / times["naive_tau0.5"],
        "logsoftmax_tau1/optax_ce (before v2)": times["logsoftmax_tau1"] / times["optax_ce"],
        "comp_sum_tau1/logsoftmax_tau1 (after/before)": (times["comp_sum_tau1"]
                                                         / times["logsoftmax_tau1"]),
        **{f"comp_sum_tau{t:g}/optax_ce": times[f"comp_sum_tau{t:g}"] / times["optax_ce"]
           for t in TAUS},
        "sweep_vmap/sweep_loop": times["sweep_vmap"] / times["sweep_loop"],
    }
    for k, v in ratios.items():
        rows.append({"comparison": k, "time ratio": v})
    _common.print_table(rows)
    record = {
        "mode": "tiny" if args.tiny else "full",
        "config": {"batch": m, "classes": n, "taus": list(TAUS), "repeats": repeats,
                   "dtype": "float32"},
        "device_note": args.device_note,
        "ratios": ratios,
        "volatile": {"median_s": times},
    }
    path = _common.write_record(NAME, record, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
