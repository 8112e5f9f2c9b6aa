"""Helpers shared by the benchmarks: timing, the memory-bandwidth yardstick, records, tables.

House rules: compare side by side *in one run* against the natural
alternative and against the machine's limit, report ratios rather than absolute times (the
machines are shared and noisy), and keep absolute times under the record's ``volatile`` key.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _harness

__all__ = [
    "RESULTS_DIR",
    "Timing",
    "timeit",
    "memory_bandwidth",
    "flop_rate",
    "machine_info",
    "write_record",
    "print_table",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SCHEMA_VERSION = 1
GB = 1e9  # bandwidths are in GB/s = 1e9 bytes/s


class Timing(NamedTuple):
    """Wall times of ``repeats`` calls after ``warmup`` untimed calls, and the last result."""

    median_s: float
    min_s: float
    times_s: list[float]
    result: Any


def timeit(fn: Callable[[], Any], *, repeats: int, warmup: int = 1) -> Timing:
    """Time ``fn()``; the result is passed through ``jax.block_until_ready`` inside the timer.

    JAX dispatches asynchronously, so without the block a call would time only the dispatch.
    Compilation belongs in the warm-up (or in an AOT ``lower().compile()`` timed separately).
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"`timeit(repeats=..., warmup=...)` must be >= 1 and >= 0, got "
                         f"{repeats} and {warmup}")
    result = None
    for _ in range(warmup):
        result = jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return Timing(statistics.median(times), min(times), times, result)


def _numpy_bandwidth_times(nbytes: int, repeats: int) -> tuple[float, float]:
    """Best seconds of ``x.sum()`` and ``np.add(x, 0, out=y)``, float64 arrays of ``nbytes``."""
    x = np.full(nbytes // 8, 1.0)
    y = np.empty_like(x)
    read = timeit(lambda: x.sum(), repeats=repeats)
    copy = timeit(lambda: np.add(x, 0.0, out=y), repeats=repeats)
    return read.min_s, copy.min_s


def memory_bandwidth(
    nbytes: int = 2**28, *, repeats: int = 5, device_nbytes: int | None = None
) -> dict[str, Any]:
    """Measure the memory bandwidth this run is compared against, in GB/s (best of ``repeats``).

    * ``numpy_read``: ``x.sum()`` over a float64 array of ``nbytes`` (bytes read = ``nbytes``);
    * ``numpy_copy``: ``np.add(x, 0, out=y)``, counted as ``2 * nbytes`` (read + write; the
      write-allocate reads a CPU may add are not counted, so this is a lower bound);
    * ``jax_read``: a jitted ``jnp.sum`` over ``device_nbytes`` on JAX's default device (the
      device's own bandwidth on an accelerator; default 8x ``nbytes`` there, to dwarf the
      launch latency).

    ``host_GBps`` is the best host figure (the JAX one included when JAX runs on the CPU) and
    ``device_GBps`` the figure for JAX's default device. Use arrays much larger than the last
    level cache (256 MB by default), or the numbers measure the cache.
    """
    on_cpu = jax.default_backend() == "cpu"
    if device_nbytes is None:
        device_nbytes = nbytes if on_cpu else 8 * nbytes
    read_s, copy_s = _numpy_bandwidth_times(nbytes, repeats)
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    total = jax.jit(jnp.sum)
    xj = jnp.ones(device_nbytes // jnp.dtype(dtype).itemsize, dtype)
    jread_s = timeit(lambda: total(xj), repeats=max(repeats, 10)).min_s
    xj.delete()
    out = {
        "numpy_read_GBps": nbytes / read_s / GB,
        "numpy_copy_GBps": 2 * nbytes / copy_s / GB,
        "jax_read_GBps": device_nbytes / jread_s / GB,
        "array_bytes": nbytes,
        "device_array_bytes": device_nbytes,
        "jax_backend": jax.default_backend(),
        "repeats": repeats,
    }
    host = [out["numpy_read_GBps"], out["numpy_copy_GBps"]]
    out["host_GBps"] = max(host + ([out["jax_read_GBps"]] if on_cpu else []))
    out["device_GBps"] = out["host_GBps"] if on_cpu else out["jax_read_GBps"]
    return out


_jit_dot = jax.jit(jnp.dot)


def flop_rate(size: int = 1536, *, repeats: int = 5) -> dict[str, Any]:
    """Measure the dense matrix-product rate this run is compared against, in GFLOP/s.

    A square ``size``-by-``size`` product (``2·size³`` flops), best of ``repeats``, through
    NumPy's BLAS on the host and through a jitted ``jnp.dot`` on JAX's default device, in
    float64 and float32. ``peak_<dtype>`` is the best of them on the device JAX runs on (plus
    NumPy when that device is the CPU): the practical FLOP ceiling of the machine.
    """
    on_cpu = jax.default_backend() == "cpu"
    flops = 2.0 * size**3
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {"size": size, "repeats": repeats}
    for dtype in ("float64", "float32"):
        a = rng.random((size, size)).astype(dtype)
        b = rng.random((size, size)).astype(dtype)
        t = timeit(lambda a=a, b=b: a @ b, repeats=repeats)
        out[f"numpy_{dtype}_GFLOPs"] = flops / t.min_s / 1e9
        if dtype == "float64" and not jax.config.jax_enable_x64:
            continue
        aj, bj = jnp.asarray(a), jnp.asarray(b)
        t = timeit(lambda aj=aj, bj=bj: _jit_dot(aj, bj), repeats=repeats)
        out[f"jax_{dtype}_GFLOPs"] = flops / t.min_s / 1e9
        cands = [out[f"jax_{dtype}_GFLOPs"]] + ([out[f"numpy_{dtype}_GFLOPs"]] if on_cpu else [])
        out[f"peak_{dtype}_GFLOPs"] = max(cands)
    return out


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def machine_info() -> dict[str, Any]:
    """CPU count and model, last-level cache size, and the BLAS thread pools NumPy uses."""
    model = None
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": model or platform.processor() or None,
        "l3_cache": _read("/sys/devices/system/cpu/cpu0/cache/index3/size"),
        "platform": platform.platform(),
        "jax_devices": [str(d) for d in jax.devices()],
        "default_matmul_precision": jax.config.jax_default_matmul_precision,
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: p.get(k) for k in ("internal_api", "num_threads", "version")}
            for p in threadpool_info()
        ]
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        info["blas"] = None
    return info


def write_record(name: str, record: Mapping[str, Any], path: Path | None = None) -> Path:
    """Write ``record`` to ``path`` (default ``bench/results/<name>.json``) atomically.

    Adds ``schema_version``, ``benchmark`` and ``env`` (git commit, versions, backend, device
    kind, CPU/BLAS) and stamps ``volatile.finished_utc`` and ``volatile.load_avg_end``; keys are
    sorted so re-runs diff cleanly outside ``volatile``.
    """
    path = RESULTS_DIR / f"{name}.json" if path is None else Path(path)
    full = {
        "schema_version": SCHEMA_VERSION,
        "benchmark": name,
        **record,
        "env": {**_harness.environment(), **machine_info()},
    }
    full["volatile"] = {
        **dict(record.get("volatile", {})),
        "finished_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_avg_end": os.getloadavg(),
    }
    _harness.write_record(path, full)
    return path


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if np.isfinite(v) else str(v)
    return "-" if v is None else str(v)


def print_table(rows: Sequence[Mapping[str, Any]], file=None) -> None:
    """Print dicts sharing the first row's keys as an aligned text table (floats to 3 s.f.)."""
    if not rows:
        return
    cols = list(rows[0])
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]

    def line(xs):
        pairs = enumerate(zip(xs, widths, strict=True))
        return "  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in pairs)

    print(line(cols), file=file)
    print(line(["-" * w for w in widths]), file=file)
    for row in cells:
        print(line(row), file=file)
