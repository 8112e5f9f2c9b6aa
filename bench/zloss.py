"""``python -m bench.zloss [--quick|--tiny] [--out PATH] [--device-note TEXT]``

Large-vocabulary output-layer step time vs the number of classes D (the Z-loss paper's One
Billion Word speed claim as a scaling law), measured side by side in one run:

* ``factored_zloss`` — the exact O(d²) factored layer (:func:`factored_output_layer`), state
  donated through :func:`scan_updates`;
* ``naive_softmax`` — explicit W, log-softmax, O(Dd) per example;
* ``hsoftmax`` — 2-level hierarchical softmax, O(√D d).

For every (d, m) it records seconds per SGD step, the log-log slope of time vs D per method and
the naive/factored and h-softmax/factored ratios at the largest D where both were measured.
The default (full) mode **measures** every point of the issue's grid, D ∈ {1e3, 1e4, 1e5, 1e6},
d ∈ {128, 256}, m ∈ {1, 32}, for all three methods, with fewer steps and one repetition where a
naive step is slow (``work`` and ``big_D``). ``--quick`` runs the naive layer only up to
``max_naive_D``; where a grid goes further, the naive time at the largest D is **extrapolated**
from the fitted slope and marked ``measured: false`` (never mixed with measured ratios). The
1-minute load average (``os.getloadavg``) is recorded per cell: absolute times are volatile
(shared CPU); ratios are the result. No GPU was available in this session (``env.backend``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Sequence

import numpy as np

from bench import _common
from experiments.zloss import loglog_slope, time_step


@dataclasses.dataclass(frozen=True)
class Config:
    mode: str
    sizes: tuple[int, ...]
    dims: tuple[int, ...]
    batches: tuple[int, ...]
    max_naive_D: int
    work: float          # D·d·m·steps per naive timing run
    steps: int           # factored / h-softmax steps per timed call
    repeats: int         # timed calls per point (best of), after one compiling call
    big_D: int = 0       # from this D on (if > 0), naive points use 1 timed call


FULL = Config("full", (1000, 10000, 100000, 1000000), (128, 256), (1, 32),
              max_naive_D=1000000, work=5e8, steps=50, repeats=2, big_D=100000)
QUICK = dataclasses.replace(FULL, mode="quick", max_naive_D=300000, work=1e9, steps=100,
                            big_D=0)
TINY = Config("tiny", (200, 2000), (8,), (1, 4), max_naive_D=2000, work=1e5, steps=5, repeats=1)
METHODS = ("factored_zloss", "naive_softmax", "hsoftmax")


def measure(config: Config) -> dict:
    cells = {}
    for d in config.dims:
        for m in config.batches:
            times = {meth: {} for meth in METHODS}
            load = {"start": os.getloadavg()[0]}
            for size in config.sizes:
                for meth in METHODS:
                    repeats = config.repeats
                    if meth == "naive_softmax":
                        if size > config.max_naive_D:
                            continue
                        steps = int(np.clip(config.work / (size * d * m), 2, config.steps))
                        if config.big_D and size >= config.big_D:
                            repeats = 1
                    else:
                        steps = config.steps
                    times[meth][size] = time_step(meth, size, d, m, steps, repeats)
                    print(f"d={d} m={m} D={size} {meth}: {times[meth][size] * 1e3:.3f} ms/step",
                          file=sys.stderr, flush=True)
            load["end"] = os.getloadavg()[0]
            cell = {"s_per_step": {meth: {str(k): v for k, v in t.items()}
                                   for meth, t in times.items()},
                    "load_avg_1min": load}
            slopes = {meth: loglog_slope(list(t), list(t.values())) for meth, t in times.items()}
            cell["loglog_slope"] = slopes
            big = max(config.sizes)
            big_naive = max(times["naive_softmax"])
            cell["ratio_naive_over_factored"] = {
                "at_D": big_naive, "measured": True,
                "value": times["naive_softmax"][big_naive] / times["factored_zloss"][big_naive]}
            if big_naive < big:
                t_ex = times["naive_softmax"][big_naive] * (big / big_naive) ** max(
                    slopes["naive_softmax"], 0.0)
                cell["ratio_naive_over_factored_extrapolated"] = {
                    "at_D": big, "measured": False, "from_D": big_naive,
                    "value": t_ex / times["factored_zloss"][big]}
            cell["ratio_hsoftmax_over_factored"] = {
                "at_D": big, "value": times["hsoftmax"][big] / times["factored_zloss"][big]}
            cells[f"d{d}/m{m}"] = cell
    return cells


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.zloss", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="naive only up to 3e5 (D = 1e6 extrapolated), more steps")
    size.add_argument("--tiny", action="store_true", help="seconds, for tests")
    parser.add_argument("--out", default=None, help="record path (default bench/results/)")
    parser.add_argument("--device-note", default="CPU only: no GPU in this session")
    args = parser.parse_args(argv)
    config = TINY if args.tiny else QUICK if args.quick else FULL
    t0 = time.perf_counter()
    load_start = list(os.getloadavg())
    cells = measure(config)
    rows = []
    for key, cell in cells.items():
        r = cell["ratio_naive_over_factored"]
        rows.append({"cell": key, **{f"slope_{m}": round(v, 3)
                                     for m, v in cell["loglog_slope"].items()},
                     "naive/fact": f"{r['value']:.0f}x @D={r['at_D']:g}",
                     "hs/fact": f"{cell['ratio_hsoftmax_over_factored']['value']:.1f}x"})
    _common.print_table(rows)
    command = "python -m bench.zloss" + (" --tiny" if args.tiny else " --quick" if args.quick
                                         else "") + f" --device-note {args.device_note}"
    record = {"command": command, "mode": config.mode, "config": dataclasses.asdict(config),
              "device_note": args.device_note, "cells": cells,
              "volatile": {"wall_time_s": round(time.perf_counter() - t0, 1),
                           "load_avg_start": load_start}}
    path = _common.write_record("zloss", record, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
