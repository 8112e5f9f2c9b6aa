"""Numerics policy for the whole suite.

float64 is on so identities can be checked to 1e-10; rank promotion raises so the `(n,)` vs
`(n, 1)` broadcasting bug of logistic regression fails loudly. float32 behaviour is tested with
explicit float32 inputs. XLA's backend optimisations are off unless JAXRANK_TEST_XLA_OPT=1.
"""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# XLA:CPU's MLIR fusion emitters take about twice the backend compile time of the classic
# (elemental) emitters on the suite's hundreds of tiny programs (tests/zloss: backend compile
# 24.3 -> 12.1 s, wall 35 -> 24 s); the results differ in rounding at most, which every named
# tolerance covers. Like the optimisation level below, `make test-all` (JAXRANK_TEST_XLA_OPT=1)
# keeps XLA's defaults, the programs that users run. Read when the backend starts, so it must be
# in the environment before the first array is made (subprocesses inherit it).
if os.environ.get("JAXRANK_TEST_XLA_OPT", "0") != "1":
    _flag = "--xla_cpu_use_fusion_emitters=false"
    if _flag not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_flag}".strip()

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
# The suite is compile-bound: hundreds of tiny programs, each compiled once. XLA's backend
# optimisations cost ~35% of the smoke figures' wall time and buy nothing at these sizes, so
# `make test` skips them; `make test-all` (and JAXRANK_TEST_XLA_OPT=1) tests the optimised
# programs that users run.
if os.environ.get("JAXRANK_TEST_XLA_OPT", "0") != "1":
    jax.config.update("jax_disable_most_optimizations", True)

# A compilation cache for this run only: created empty when the run starts (the first process
# that loads this file: the xdist controller, or the only process), shared by the run's workers
# through the environment, deleted when the run ends (pytest_unconfigure). Every run starts cold,
# as on a fresh clone; within the run, a program whose HLO was already compiled (by the other
# worker, or here under another Python function object: the jit cache keys on identity, this
# cache on the program) is loaded instead of compiled again. Session 12: make test 496 → 403 s,
# 912 → 737 CPU-s (bo_rep smoke 65 → 41 s, anyloss 58 → 39 s). The executables are the ones a
# compile would make, so no result changes; JAXRANK_TEST_NO_CACHE=1 turns it off.
COMPILATION_CACHE_ENV = "JAXRANK_TEST_COMPILATION_CACHE"
_OWNS_COMPILATION_CACHE = False
if os.environ.get("JAXRANK_TEST_NO_CACHE", "0") != "1":
    import tempfile  # noqa: E402

    if not os.environ.get(COMPILATION_CACHE_ENV):
        os.environ[COMPILATION_CACHE_ENV] = tempfile.mkdtemp(prefix="jaxrank-test-xla-cache-")
        _OWNS_COMPILATION_CACHE = True
    jax.config.update("jax_compilation_cache_dir", os.environ[COMPILATION_CACHE_ENV])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_unconfigure(config):
    if _OWNS_COMPILATION_CACHE:
        import shutil

        shutil.rmtree(os.environ.pop(COMPILATION_CACHE_ENV), ignore_errors=True)


import fcntl  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import struct  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def write_idx(path, arr) -> None:
    """Write a uint8 array in the IDX format (gzip), as the Debian Fashion-MNIST files are."""
    arr = np.asarray(arr, np.uint8)
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.tobytes())


@pytest.fixture(scope="session")
def fake_fashion_mnist(tmp_path_factory):
    """A tiny generated Fashion-MNIST (200 train / 50 test images) in the real file format.

    Tests never read /usr/share/datasets: CI may lack the Debian package. The class signal is
    a brightness offset so that pairs are separable.
    """
    root = tmp_path_factory.mktemp("fashion-mnist")
    rng = np.random.default_rng(0)
    for split, n in (("train", 400), ("t10k", 100)):
        labels = np.tile(np.arange(10, dtype=np.uint8), n // 10)
        images = rng.integers(0, 60, size=(n, 28, 28)) + 20 * labels[:, None, None]
        write_idx(root / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


# Every smoke figure is drawn, but saved as a draft PNG only: PNG + PDF at full resolution cost
# ~2 s of CPU per figure (~110 s of the suite), the tight bounding box ~1 s more (session 11:
# gn's lse/softmax/fmnist, 3.8 s of savefig, 3.5 s of it measuring text extents);
# test_pdf_and_png_bytes_are_deterministic renders both formats at full resolution, tight.
SMOKE_IMAGES = {"formats": ("png",), "dpi": 40, "tight": False}


class SmokeRuns:
    """Every figure of a paper, run once in SMOKE mode on first use: ``runs(slug)``.

    Lazy per paper, and once per pytest session even under pytest-xdist (``make test`` runs two
    workers): the figures go to a directory that all workers share, and a file lock per paper
    lets the first worker that needs a paper run it; a worker that needs a paper another one is
    running first runs a pending paper of its own, then waits and reads the records.
    """

    def __init__(self, fashion_dir, out):
        self.fashion_dir, self.out, self._records = fashion_dir, out, {}

    def __call__(self, slug):
        """``(out_dir, {fig_id: record})`` of paper ``slug``; figures land in out_dir/slug."""
        if slug not in self._records:
            self._records[slug] = self._load_or_run(slug)
        return self.out, self._records[slug]

    def _load_or_run(self, slug):
        from experiments import _harness

        papers = _harness.discover()
        if not self._ensure(papers[slug], block=False):
            # another worker is running `slug`: run the next pending paper meanwhile, then wait
            for other in papers.values():
                if not (self.out / f".{other.slug}.done").exists():
                    if self._ensure(other, block=False):
                        break
            self._ensure(papers[slug], block=True)
        return {fig_id: json.loads((self.out / slug / f"{fig_id}.json").read_text())
                for fig_id in papers[slug].figures}

    def _ensure(self, paper, *, block):
        """Make sure ``paper``'s figures are on disk; False if another worker holds its lock."""
        lock = open(self.out / f".{paper.slug}.lock", "w")  # noqa: SIM115 (closed below)
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
            except BlockingIOError:
                return False
            done = self.out / f".{paper.slug}.done"
            if not done.exists():
                self._run(paper)
                done.touch()
        return True

    def _run(self, paper):
        from experiments import _harness

        old = os.environ.get("JAXRANK_FASHION_MNIST_DIR")
        os.environ["JAXRANK_FASHION_MNIST_DIR"] = str(self.fashion_dir)
        os.environ.setdefault("JAXRANK_PROGRESS", "0")
        try:
            for fig_id in paper.figures:
                _harness.run_figure(paper, fig_id, smoke=True, out_dir=self.out / paper.slug,
                                    **SMOKE_IMAGES)
        finally:
            if old is None:
                os.environ.pop("JAXRANK_FASHION_MNIST_DIR", None)
            else:
                os.environ["JAXRANK_FASHION_MNIST_DIR"] = old
            jax.config.update("jax_enable_x64", True)  # experiments may set their own precision


@pytest.fixture(scope="session")
def smoke_runs(fake_fashion_mnist, tmp_path_factory):
    """The session's :class:`SmokeRuns`: ``out, records = smoke_runs("perceptron")``."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's directory, shared by its workers
    out = root / "smoke"
    out.mkdir(exist_ok=True)
    return SmokeRuns(fake_fashion_mnist, out)


def pytest_collection_modifyitems(config, items):
    """Longest work first: each paper's smoke figures are the suite's largest indivisible units
    (up to a minute each), so a paper started last leaves the other worker idle that long. xdist
    hands tests out in collection order; the small tests then fill the tail.

    Papers are not pinned to a worker: xdist 3.8's ``--dist loadgroup`` renames ``item._nodeid``,
    which pytest 9 no longer reads, so its groups never form. :class:`SmokeRuns` balances instead:
    a worker that needs a paper another worker is running runs a pending paper meanwhile.
    """
    smoke_slug = {}
    for item in items:
        if "smoke_runs" in getattr(item, "fixturenames", ()):
            callspec = getattr(item, "callspec", None)
            slug = callspec.params.get("slug") if callspec is not None else None
            smoke_slug[item.nodeid] = slug or "perceptron"
    items.sort(key=lambda it: -SMOKE_COST_S.get(smoke_slug.get(it.nodeid), -1.0))


# Seconds of each paper's smoke figures under the suite's XLA settings (session 9, `make test`
# durations); only the order matters.
SMOKE_COST_S = {"omd_sea": 64.0, "gn_smoothness": 43.0, "perceptron": 40.0, "bo_rep": 39.0,
                "anyloss": 35.0, "zloss": 27.0, "compsum": 27.0}
