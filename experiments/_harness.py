"""Shared experiment harness: registry types, CLI, figure writer, run records, summaries.

Each paper is one module ``experiments/<slug>.py`` that defines ``PAPER = Paper(...)`` (a
registry of :class:`Figure` entries keyed by the paper's figure ids) and
``main = make_main(PAPER)``. This module owns everything around the science:

* the CLI ``python -m experiments.<slug> [--figure ID|all] [--smoke] [--out DIR] [--replot]``;
* figures as PNG + deterministic PDF (Agg backend, one style, no creation date);
* the JSON run record (``config``, ``env``, ``seeds``, ``results``, ``summary``, ``volatile``,
  ...), written atomically (temp file + rename);
* precision: JAX's x64 flag set from ``Config.dtype`` around each figure and restored after, so
  papers run in any order give the same records;
* a finiteness guard over every leaf of ``series`` and ``summary`` (nested dicts, ragged lists)
  that fails after the run naming the first non-finite entry; intended infinities are
  allow-listed by name in :attr:`Results.allow_nonfinite`;
* a visible "SMOKE" mark on every figure drawn from a smoke record;
* progress bars and small statistics over seeds (:func:`seed_summary`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as _dt
import fnmatch
import importlib
import importlib.metadata
import json
import math
import os
import pkgutil
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA_VERSION = 1
REPO_ROOT = Path(__file__).resolve().parent.parent
FIGURES_DIR = REPO_ROOT / "figures"
RECORD_KEYS = (
    "schema_version",
    "paper",
    "figure",
    "paper_ref",
    "title",
    "mode",
    "command",
    "config",
    "seeds",
    "env",
    "results",
    "summary",
    "volatile",
)

# --------------------------------------------------------------------------- registry


@dataclasses.dataclass(frozen=True)
class Figure:
    """One reproducible figure or table of a paper.

    Attributes:
      paper_ref: where it is in the paper, e.g. ``"Figure 5"`` or ``"Table 1"``; say
        ``"analogue of"`` when the data differ.
      title: one line shown in listings and on the figure.
      run: ``run(config) -> Results``; all computation, through ``jaxrank``.
      plot: ``plot(results_dict) -> matplotlib.figure.Figure``; reads only what ``run`` put in
        ``series``/``summary`` so ``--replot`` can redraw from the JSON record alone.
    """

    paper_ref: str
    title: str
    run: Callable[[Any], Results]
    plot: Callable[[Mapping[str, Any]], Any]


@dataclasses.dataclass
class Results:
    """What a figure's ``run`` returns: plotted series, claim scalars, seeds.

    Attributes:
      series: exactly what is plotted (arrays, nested dicts, ragged lists).
      summary: the values claims read (the same kinds of leaves).
      seeds: the seeds used, for the record.
      allow_nonfinite: names (``fnmatch`` patterns over the ``/``-joined path inside ``series``
        or ``summary``, e.g. ``"*/bound_mu_lower"``) whose NaN/inf values are intended; every
        other leaf must be finite or the harness refuses to write the record.
      compiler_options: the XLA compiler options the figure's programs were compiled with
        (``jax.jit(..., compiler_options=...)``), recorded in ``env.xla``; empty = XLA's
        defaults.
    """

    series: dict[str, Any]
    summary: dict[str, Any]
    seeds: list[int] = dataclasses.field(default_factory=list)
    allow_nonfinite: tuple[str, ...] = ()
    compiler_options: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Paper:
    """A paper's experiment module, as the harness sees it."""

    slug: str
    title: str
    reference: str
    figures: Mapping[str, Figure]
    full: Any
    smoke: Any
    setup: Callable[[Any], None] | None = None  # e.g. enable x64 for float64 configs


def discover() -> dict[str, Paper]:
    """Every ``experiments.<slug>`` module that defines ``PAPER``, keyed by slug."""
    import experiments

    papers = {}
    for info in pkgutil.iter_modules(experiments.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"experiments.{info.name}")
        paper = getattr(mod, "PAPER", None)
        if isinstance(paper, Paper):
            papers[paper.slug] = paper
    return papers


# --------------------------------------------------------------------------- numerics helpers


def to_jsonable(x: Any) -> Any:
    """NumPy/JAX values to plain JSON types; NaN/inf become the strings "nan"/"inf"/"-inf"."""
    if isinstance(x, Mapping):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return to_jsonable(dataclasses.asdict(x))
    if hasattr(x, "__array__") or isinstance(x, (np.generic,)):
        arr = np.asarray(x)
        if arr.ndim == 0:
            return to_jsonable(arr.item())
        return [to_jsonable(v) for v in arr.tolist()]
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(x, (bool, int, str)) or x is None:
        return x
    return str(x)


def from_json_number(x: Any) -> Any:
    """Inverse of :func:`to_jsonable` for scalars and nested lists (strings back to floats)."""
    if isinstance(x, str) and x in ("nan", "inf", "-inf"):
        return float(x)
    if isinstance(x, list):
        return [from_json_number(v) for v in x]
    if isinstance(x, dict):
        return {k: from_json_number(v) for k, v in x.items()}
    return x


def numeric_leaves(tree: Any, path: str = "") -> Iterator[tuple[str, np.ndarray]]:
    """``(path, float array)`` for every numeric leaf of nested dicts / lists / arrays.

    A list that NumPy can turn into one float array is one leaf; a ragged or mixed list is walked
    element by element (path ``name[i]``). Strings and ``None`` are not numbers and are skipped.
    """
    if isinstance(tree, Mapping):
        for k in sorted(tree, key=str):
            yield from numeric_leaves(tree[k], f"{path}/{k}" if path else str(k))
        return
    if tree is None or isinstance(tree, (str, bytes)):
        return
    try:
        arr = np.asarray(tree, dtype=float)
    except (TypeError, ValueError):
        if isinstance(tree, (list, tuple)):
            for i, v in enumerate(tree):
                yield from numeric_leaves(v, f"{path}[{i}]")
        return
    yield path, arr


def first_nonfinite(
    tree: Mapping[str, Any], allow: Sequence[str] = ()
) -> tuple[str, tuple[int, ...], str] | None:
    """The first leaf (sorted by path) holding NaN or ±inf outside the ``allow`` patterns:
    ``(path, index of the first bad entry, "NaN" | "inf" | "-inf")``, or ``None``."""
    for path, arr in numeric_leaves(tree):
        if any(fnmatch.fnmatchcase(path, pat) for pat in allow):
            continue
        if np.all(np.isfinite(arr)):
            continue
        if arr.ndim == 0:
            idx: tuple[int, ...] = ()
        else:
            idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        v = float(arr[idx])
        kind = "NaN" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return path, idx, kind
    return None


def first_nan(series: Mapping[str, Any]) -> tuple[str, tuple[int, ...]] | None:
    """The first series leaf holding a NaN or inf and its index (see :func:`first_nonfinite`)."""
    bad = first_nonfinite(series)
    return None if bad is None else bad[:2]


def log_grid(num_steps: int, max_points: int = 400) -> np.ndarray:
    """Sorted unique step indices 0..num_steps-1, linear at first then log-spaced.

    Used to store long trajectories compactly: every step up to ``max_points // 2``, then
    log-spaced indices to the end (the last step is always included).
    """
    if num_steps <= max_points:
        return np.arange(num_steps)
    head = np.arange(max_points // 2)
    tail = np.unique(np.geomspace(max_points // 2, num_steps - 1, max_points // 2).astype(int))
    return np.unique(np.concatenate([head, tail, [num_steps - 1]]))


def seed_summary(values: Any, axis: int = 0) -> dict[str, np.ndarray]:
    """Mean, sample std, standard error and a normal-approximation 95% CI over ``axis``.

    ``values`` has the seeds along ``axis``; with one seed the spread entries are 0.
    """
    x = np.asarray(values, dtype=float)
    n = x.shape[axis]
    mean = x.mean(axis=axis)
    std = x.std(axis=axis, ddof=1) if n > 1 else np.zeros_like(mean)
    sem = std / math.sqrt(n)
    return {"mean": mean, "std": std, "sem": sem, "lo": mean - 1.96 * sem, "hi": mean + 1.96 * sem}


def progress(iterable: Iterable[Any], desc: str, total: int | None = None) -> Iterable[Any]:
    """A tqdm progress bar on stderr (silent when ``JAXRANK_PROGRESS=0``)."""
    from tqdm.auto import tqdm

    disable = os.environ.get("JAXRANK_PROGRESS", "1") == "0"
    return tqdm(iterable, desc=desc, total=total, disable=disable, leave=False, file=sys.stderr)


# --------------------------------------------------------------------------- environment

# Outputs, not code: a record written earlier in the same session must not mark the next run's
# record dirty (figures, the claims report, the benchmark records).
DIRTY_EXCLUDES = ("figures", "paper_repro/REPORT.md", "bench/results")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _cpu() -> dict[str, Any]:
    """The CPU model, its vector instruction sets and core count (where a record was made)."""
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:  # not Linux: the platform string is all we have
        pass
    vector = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
                          "avx512_bf16", "amx_tile", "neon", "asimd", "sve") if f in flags]
    simd = {}
    try:  # NumPy's own view: the dispatch targets it found on this CPU
        simd = np.show_config(mode="dicts").get("SIMD Extensions", {})
    except Exception:  # pragma: no cover - older NumPy
        pass
    return {"model": model or platform.processor() or platform.machine(),
            "machine": platform.machine(), "cores": os.cpu_count(),
            "vector_isa": vector, "numpy_simd_found": list(simd.get("found", []))}


def _blas() -> list[dict[str, Any]]:
    """The BLAS libraries loaded (NumPy/SciPy's), with version, kernel and thread count."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return []
    return [{k: info.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                      "threading_layer", "prefix")}
            for info in threadpool_info() if info.get("user_api") == "blas"]


def _xla(compiler_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """XLA options in force: the process-wide flags and the figure's compiler options."""
    return {"XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
            "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", ""),
            "compiler_options": dict(compiler_options or {})}


def environment(compiler_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Versions, backend, git state, and the machine (CPU, vector ISA, BLAS and its threads,
    XLA options: ``compiler_options`` are the figure's own) for the run record."""
    import jax

    versions = {}
    # from the installed distributions' metadata: importing scikit-learn only for its version
    # costs ~2.5 s per process
    for name, dist in (("jax", "jax"), ("jaxlib", "jaxlib"), ("optax", "optax"),
                       ("flax", "flax"), ("numpy", "numpy"), ("scipy", "scipy"),
                       ("matplotlib", "matplotlib"), ("sklearn", "scikit-learn")):
        try:
            versions[name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - optional packages
            versions[name] = None
    # the records and the report are outputs: writing the first record must not make the next
    # one "dirty", so figures/ and paper_repro/REPORT.md are left out of the check
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ".",
                 *(f":(exclude){p}" for p in DIRTY_EXCLUDES))
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if dirty is None else bool(dirty),
        "python": platform.python_version(),
        "versions": versions,
        "backend": jax.default_backend(),
        "device_kind": jax.devices()[0].device_kind,
        "device_count": jax.device_count(),
        "x64": bool(jax.config.jax_enable_x64),
        "cpu": _cpu(),
        "blas": _blas(),
        "xla": _xla(compiler_options),
    }


# --------------------------------------------------------------------------- writing


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_record(path: Path, record: Mapping[str, Any]) -> None:
    text = json.dumps(to_jsonable(record), sort_keys=True, indent=1) + "\n"
    atomic_write_bytes(path, text.encode())


def read_record(path: Path) -> dict[str, Any]:
    with open(path) as f:
        return from_json_number(json.load(f))


def plot_style() -> dict[str, Any]:
    return {
        "figure.dpi": 100,
        "savefig.dpi": 130,
        "font.size": 9,
        "axes.titlesize": 9,
        "axes.labelsize": 9,
        "legend.fontsize": 7,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "lines.linewidth": 1.2,
        "svg.hashsalt": "jaxrank",
        "pdf.compression": 6,
    }


FIGURE_FORMATS = ("png", "pdf")
_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None}}


def save_figure(fig: Any, stem: Path, *, formats: Sequence[str] = FIGURE_FORMATS,
                dpi: float | None = None, tight: bool = True) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` atomically with reproducible bytes.

    ``formats``, ``dpi`` (default: the plot style's 130) and ``tight`` exist for the test suite,
    which draws every smoke figure but saves only a low-resolution PNG without the tight bounding
    box: rasterising and writing a PDF cost about 1.5 s of CPU per figure, and the tight box
    (a second pass that measures every text extent) about 1 s more; the full path is tested once
    on its own.
    """
    import io

    import matplotlib.pyplot as plt

    bad = [f for f in formats if f not in _METADATA]
    if bad or not formats:
        raise ValueError(f"`save_figure(formats=...)` must be a non-empty subset of "
                         f"{FIGURE_FORMATS}, got {tuple(formats)!r}")
    out = []
    for ext in formats:
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, metadata=_METADATA[ext],
                    bbox_inches="tight" if tight else None,
                    **({} if dpi is None else {"dpi": dpi}))
        path = stem.with_suffix(f".{ext}")
        atomic_write_bytes(path, buf.getvalue())
        out.append(path)
    plt.close(fig)
    return out


def render(fig_entry: Figure, record: Mapping[str, Any], stem: Path, *,
           formats: Sequence[str] = FIGURE_FORMATS, dpi: float | None = None,
           tight: bool = True) -> list[Path]:
    """Plot a record with the repository's plot style and save it (see :func:`save_figure`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context(plot_style()):
        fig = fig_entry.plot(record)
        if record.get("mode") == "smoke":
            smoke_mark(fig)
        return save_figure(fig, stem, formats=formats, dpi=dpi, tight=tight)


def smoke_mark(fig: Any) -> None:
    """The visible "SMOKE" watermark of a figure drawn from a smoke (tiny-config) record."""
    fig.text(0.5, 0.5, "SMOKE", transform=fig.transFigure, ha="center", va="center",
             rotation=20, fontsize=60, color="red", alpha=0.2, zorder=1000, weight="bold")
    fig.text(0.99, 0.99, "SMOKE run: tiny config, not the paper's results",
             transform=fig.transFigure, ha="right", va="top", fontsize=7, color="red")


# --------------------------------------------------------------------------- running


def concurrently(calls: Sequence[Callable[[], Any]], workers: int | None = None) -> list[Any]:
    """Run independent calls on a thread pool, one worker per usable core; results in call order.

    For programs that keep one core busy each (XLA:CPU runs a loop of small kernels on one
    thread): each call traces, compiles and runs its own programs and reads its result back
    (e.g. ``np.asarray``), so the programs of different calls run side by side. A program run
    from another thread gives the bits it gives alone (the same executable on the same inputs).
    Workers see JAX's global configuration (which :func:`precision` sets), not thread-local
    contexts such as ``jax.experimental.enable_x64()``.
    """
    if workers is None:  # the cores this process may run on (a cpuset may allow fewer)
        affinity = getattr(os, "sched_getaffinity", None)
        workers = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    workers = min(len(calls), workers)
    if workers <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda call: call(), calls))


class NonFiniteResultError(RuntimeError):
    pass


DTYPES = ("float32", "float64")


@contextlib.contextmanager
def precision(dtype: str | None) -> Iterator[None]:
    """Set JAX's x64 flag from a config's ``dtype`` for the duration of one figure, then restore.

    The harness owns precision: a paper's ``Config.dtype`` ("float32" or "float64") decides it,
    so running papers in any order gives the same records. ``None`` leaves the flag as it is.
    """
    import jax

    if dtype is None:
        yield
        return
    if dtype not in DTYPES:
        raise ValueError(f"`Config.dtype` must be one of {DTYPES}, got {dtype!r}")
    old = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", dtype == "float64")
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", old)


def run_figure(
    paper: Paper, fig_id: str, *, smoke: bool, out_dir: Path, command: str | None = None,
    formats: Sequence[str] = FIGURE_FORMATS, dpi: float | None = None, tight: bool = True,
) -> dict[str, Any]:
    """Compute one figure, write its record, PNG and PDF into ``out_dir``; return the record.

    ``formats``/``dpi``/``tight``: which images to write, at what resolution, with the tight
    bounding box or not (:func:`save_figure`).
    """
    config = paper.smoke if smoke else paper.full
    entry = paper.figures[fig_id]
    with precision(getattr(config, "dtype", None)):
        if paper.setup is not None:
            paper.setup(config)
        t0 = time.perf_counter()
        results = entry.run(config)
        wall = time.perf_counter() - t0
        # inside the precision block: env.x64 is what the run used
        env = environment(results.compiler_options)
    for section in ("series", "summary"):
        bad = first_nonfinite(getattr(results, section), results.allow_nonfinite)
        if bad is not None:
            name, idx, kind = bad
            raise NonFiniteResultError(
                f"{paper.slug}/{fig_id}: {section} {name!r} is {kind}, first at index {idx} "
                "(a diverged or ill-defined run; see the config, or list an intended infinity "
                "in `Results(allow_nonfinite=...)`)"
            )
    record = {
        "schema_version": SCHEMA_VERSION,
        "paper": paper.slug,
        "figure": fig_id,
        "paper_ref": entry.paper_ref,
        "title": entry.title,
        "mode": "smoke" if smoke else "full",
        "command": command
        or f"python -m experiments.{paper.slug} --figure {fig_id}" + (" --smoke" if smoke else ""),
        "config": dataclasses.asdict(config),
        "seeds": list(results.seeds),
        "env": env,
        "results": {"series": results.series},
        "summary": results.summary,
        "volatile": {
            "wall_time_s": round(wall, 3),
            "finished_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    }
    record = from_json_number(json.loads(json.dumps(to_jsonable(record))))
    write_record(out_dir / f"{fig_id}.json", record)
    render(entry, record, out_dir / fig_id, formats=formats, dpi=dpi, tight=tight)
    return record


def replot_figure(paper: Paper, fig_id: str, out_dir: Path) -> None:
    path = out_dir / f"{fig_id}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"--replot needs the run record {path}; run `python -m experiments.{paper.slug} "
            f"--figure {fig_id}` first"
        )
    render(paper.figures[fig_id], read_record(path), out_dir / fig_id)


def default_out(slug: str, smoke: bool) -> Path:
    return FIGURES_DIR / ("_smoke" if smoke else "") / slug


OVERWRITE_WARNING = (
    "Without --out, a FULL run writes to figures/<slug>/ and OVERWRITES the committed figures "
    "and run records (a --smoke run writes to figures/_smoke/<slug>/); pass --out DIR to write "
    "elsewhere."
)


def build_parser(
    papers: Mapping[str, Paper], prog: str, description: str | None = None
) -> argparse.ArgumentParser:
    ids = sorted({i for p in papers.values() for i in p.figures})
    if description is None:
        description = "\n".join(f"{p.title}\n  {p.reference}" for p in papers.values())
    parser = argparse.ArgumentParser(
        prog=prog, description=description, epilog=OVERWRITE_WARNING,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--figure", default="all", choices=["all", *ids], metavar="ID",
        help=f"figure id, or all (default); one of: {', '.join(ids)}",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny config (seconds), for tests")
    parser.add_argument(
        "--out", type=Path, default=None,
        help="output folder (default figures/<slug>: overwrites the committed records)",
    )
    parser.add_argument(
        "--replot", action="store_true", help="redraw from the JSON records, no compute"
    )
    return parser


def selected_figures(paper: Paper, figure: str) -> list[str]:
    """The ids of ``paper``'s figures that ``--figure figure`` selects ("all": every one)."""
    return list(paper.figures) if figure == "all" else [f for f in [figure] if f in paper.figures]


def main_for(
    papers: Mapping[str, Paper], argv: Sequence[str] | None, prog: str,
    description: str | None = None,
) -> int:
    """Run (or replot) the selected figures of ``papers`` in order.

    Precision is set per figure from each paper's ``Config.dtype`` by :func:`run_figure` (and
    restored after it), so the records do not depend on the order of ``papers``.
    """
    parser = build_parser(papers, prog, description)
    args = parser.parse_args(argv)
    for paper in papers.values():
        fig_ids = selected_figures(paper, args.figure)
        if not fig_ids:
            continue
        out = args.out
        if out is None:
            out = default_out(paper.slug, args.smoke)
        elif len(papers) > 1:
            out = out / paper.slug
        for fig_id in progress(fig_ids, desc=paper.slug):
            t0 = time.perf_counter()
            if args.replot:
                replot_figure(paper, fig_id, out)
                print(f"[{paper.slug}] {fig_id}: replotted -> {out / fig_id}.png")
                continue
            record = run_figure(paper, fig_id, smoke=args.smoke, out_dir=out)
            n_sum = len(record["summary"])
            print(
                f"[{paper.slug}] {fig_id} ({record['paper_ref']}): {n_sum} summary values, "
                f"{time.perf_counter() - t0:.1f}s -> {out / fig_id}.{{png,pdf,json}}",
                flush=True,
            )
    return 0


def main_all(papers: Mapping[str, Paper], argv: Sequence[str] | None, prog: str) -> int:
    """``python -m experiments all``: every paper in a fresh process of its own, in turn.

    One process for all seven papers does not survive: XLA:CPU keeps the machine code of every
    program it compiled mapped, and after anyloss and bo_rep (thousands of programs) LLVM failed
    with "Cannot allocate memory" and the process segfaulted, with 23 GB of RAM free (session 11,
    the first `make verify` in one piece; vm.max_map_count is 65530 here). A process per paper
    starts each paper clean, as ``python -m experiments SLUG`` does. ``--replot`` compiles
    nothing and runs here. The first paper that fails stops the run with its exit status.
    """
    args = build_parser(papers, prog).parse_args(argv)
    if args.replot:
        return main_for(papers, argv, prog)
    root = str(Path(__file__).resolve().parent.parent)  # the folder that holds `experiments`
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    for paper in papers.values():
        if not selected_figures(paper, args.figure):
            continue
        cmd = [sys.executable, "-m", f"experiments.{paper.slug}", "--figure", args.figure]
        if args.smoke:
            cmd.append("--smoke")
        if args.out is not None:
            cmd += ["--out", str(args.out / paper.slug)]
        returncode = subprocess.run(cmd, env=env, check=False).returncode
        if returncode:
            print(f"{prog}: {paper.slug} failed (exit status {returncode}); stopped",
                  file=sys.stderr, flush=True)
            return returncode
    return 0


def make_main(paper: Paper) -> Callable[[Sequence[str] | None], int]:
    """The ``main`` of ``experiments/<slug>.py``."""

    def main(argv: Sequence[str] | None = None) -> int:
        return main_for({paper.slug: paper}, argv, prog=f"python -m experiments.{paper.slug}",
                        description=f"{paper.title}\n  {paper.reference}")

    return main
