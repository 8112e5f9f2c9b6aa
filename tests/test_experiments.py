"""Smoke tests of every figure (SMOKE mode, generated data), the CLI and the record writer."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments import _harness

PAPERS = _harness.discover()
FIGURE_IDS = [(slug, fig) for slug, p in sorted(PAPERS.items()) for fig in p.figures]
REPO = Path(__file__).resolve().parent.parent


def test_every_paper_is_registered():
    assert "perceptron" in PAPERS
    for paper in PAPERS.values():
        assert paper.figures, paper.slug
        assert dataclasses.is_dataclass(paper.full) and dataclasses.is_dataclass(paper.smoke)


@pytest.mark.parametrize("slug, fig_id", FIGURE_IDS)
def test_smoke_figure(smoke_runs, slug, fig_id):
    out, records = smoke_runs(slug)
    rec = records[fig_id]
    for ext in ("png", "json"):  # the suite saves draft PNGs only (conftest.SMOKE_IMAGES)
        assert (out / slug / f"{fig_id}.{ext}").stat().st_size > 0
    on_disk = json.loads((out / slug / f"{fig_id}.json").read_text())
    assert set(on_disk) == set(_harness.RECORD_KEYS)
    assert on_disk["schema_version"] == _harness.SCHEMA_VERSION
    assert on_disk["mode"] == "smoke" and on_disk["paper"] == slug and on_disk["figure"] == fig_id
    assert on_disk["summary"], "a figure without summary scalars cannot back a claim"
    assert rec["env"]["x64"] is (rec["config"].get("dtype") == "float64")
    assert not list((out / slug).glob(".*.tmp")), "atomic writes must not leave temp files"


def test_pdf_and_png_bytes_are_deterministic(smoke_runs, tmp_path):
    _, records = smoke_runs("perceptron")
    paper = PAPERS["perceptron"]
    rec = records["thm41"]
    _harness.render(paper.figures["thm41"], rec, tmp_path / "a")
    _harness.render(paper.figures["thm41"], rec, tmp_path / "b")
    for ext in ("png", "pdf"):
        assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes()


def test_save_figure_formats_and_dpi(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(2, 2))
    assert _harness.save_figure(fig, tmp_path / "a", formats=("png",), dpi=20) == [
        tmp_path / "a.png"]
    assert not (tmp_path / "a.pdf").exists()
    with pytest.raises(ValueError, match=r"formats=.*\('svg',\)"):
        _harness.save_figure(plt.figure(), tmp_path / "b", formats=("svg",))


def test_cli_lists_papers_and_figures():
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-m", "experiments"], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert "perceptron:" in out and "tab1" in out and "fig5" in out


def test_cli_run_and_replot(tmp_path, monkeypatch):
    from experiments import perceptron

    monkeypatch.setenv("JAXRANK_PROGRESS", "0")
    assert perceptron.main(["--figure", "thm41", "--smoke", "--out", str(tmp_path)]) == 0
    png = tmp_path / "thm41.png"
    first = png.read_bytes()
    png.unlink()
    assert perceptron.main(["--figure", "thm41", "--replot", "--out", str(tmp_path)]) == 0
    assert png.read_bytes() == first
    with pytest.raises(FileNotFoundError, match="run `python -m experiments.perceptron"):
        perceptron.main(["--figure", "tab1", "--replot", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        perceptron.main(["--figure", "no_such_figure"])


@dataclasses.dataclass(frozen=True)
class _ToyCfg:
    steps: int = 3


def _toy_paper(series, summary, allow=()):
    def run(config):
        return _harness.Results(series=series, summary=summary, allow_nonfinite=allow)

    def plot(record):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1], label="y = x")
        ax.legend()
        return fig

    return _harness.Paper("toy", "toy", "toy", {"f": _harness.Figure("F", "t", run, plot)},
                          _ToyCfg(), _ToyCfg())


def test_nan_guard_names_series_and_step(tmp_path):
    paper = _toy_paper({"ok": [1.0, 2.0], "loss": [0.5, 0.1, float("nan")]}, {"x": 1})
    msg = r"series 'loss' is NaN, first at index \(2,\)"
    with pytest.raises(_harness.NonFiniteResultError, match=msg):
        _harness.run_figure(paper, "f", smoke=True, out_dir=tmp_path)
    assert not (tmp_path / "f.json").exists()


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "series, summary, where",
    [
        ({"a": [1.0, INF]}, {"x": 1}, r"series 'a' is inf, first at index \(1,\)"),
        ({"a": [1.0]}, {"x": -INF}, r"summary 'x' is -inf"),
        ({"a": [1.0]}, {"d": {"e": [0.0, NAN]}}, r"summary 'd/e' is NaN, first at index \(1,\)"),
        ({"r": [[1.0, 2.0], [3.0, NAN, 4.0]]}, {"x": 1}, r"series 'r\[1\]' is NaN"),
        ({"s": ["thm", 1.0, [2.0, INF]]}, {"x": 1}, r"series 's\[2\]' is inf"),
        ({"a": np.array([[1.0, 2.0], [NAN, 0.0]])}, {"x": 1}, r"'a' is NaN.*\(1, 0\)"),
    ],
)
def test_finiteness_guard_checks_every_leaf(tmp_path, series, summary, where):
    with pytest.raises(_harness.NonFiniteResultError, match=where):
        _harness.run_figure(_toy_paper(series, summary), "f", smoke=True, out_dir=tmp_path)
    assert not (tmp_path / "f.json").exists()


def test_allow_listed_infinities_are_written(tmp_path):
    paper = _toy_paper({"a": [1.0, 2.0]}, {"set/bound_mu_lower": INF, "set/n": 3},
                       allow=("*/bound_mu_lower",))
    rec = _harness.run_figure(paper, "f", smoke=True, out_dir=tmp_path)
    assert rec["summary"]["set/bound_mu_lower"] == INF
    assert json.loads((tmp_path / "f.json").read_text())["summary"]["set/bound_mu_lower"] == "inf"
    # the allow-list is by name: the same value under another name is refused
    bad = _toy_paper({"a": [1.0]}, {"set/bound": INF}, allow=("*/bound_mu_lower",))
    with pytest.raises(_harness.NonFiniteResultError, match="summary 'set/bound' is inf"):
        _harness.run_figure(bad, "f", smoke=True, out_dir=tmp_path)


# ------------------------------------------------------------------ precision


def _precision_paper(slug, dtype):
    @dataclasses.dataclass(frozen=True)
    class Cfg:
        dtype: str

    def run(config):
        import jax.numpy as jnp

        x = jnp.full(1000, 0.1)
        return _harness.Results(series={"x": [0.0, 1.0]},
                                summary={"dtype": str(x.dtype), "sum": float(jnp.sum(x)),
                                         "third": float(jnp.asarray(1.0) / 3)})

    def plot(record):
        import matplotlib.pyplot as plt

        return plt.subplots()[0]

    return _harness.Paper(slug, slug, slug, {"f": _harness.Figure("F", "t", run, plot)},
                          Cfg(dtype), Cfg(dtype))


def test_all_papers_give_the_same_records_in_any_order(tmp_path, monkeypatch):
    """`python -m experiments all` relies on run_figure setting precision per figure."""
    import jax

    monkeypatch.setenv("JAXRANK_PROGRESS", "0")
    p32, p64 = _precision_paper("a32", "float32"), _precision_paper("b64", "float64")
    before = bool(jax.config.jax_enable_x64)
    summaries = []
    for order, name in (((p32, p64), "fwd"), ((p64, p32), "rev")):
        papers = {p.slug: p for p in order}
        assert _harness.main_for(papers, ["--out", str(tmp_path / name)], prog="t") == 0
        assert bool(jax.config.jax_enable_x64) is before, "precision must be restored"
        summaries.append({slug: json.loads((tmp_path / name / slug / "f.json").read_text())
                          for slug in ("a32", "b64")})
    fwd, rev = summaries
    for slug in ("a32", "b64"):
        assert fwd[slug]["summary"] == rev[slug]["summary"]
        assert fwd[slug]["env"]["x64"] == rev[slug]["env"]["x64"] == (slug == "b64")
    assert fwd["a32"]["summary"]["dtype"] == "float32"
    assert fwd["b64"]["summary"]["dtype"] == "float64"
    assert fwd["a32"]["summary"]["third"] != fwd["b64"]["summary"]["third"]


def test_all_runs_each_paper_in_a_process_of_its_own(tmp_path, monkeypatch):
    """`experiments all` spawns `python -m experiments.SLUG` per selected paper (one process for
    seven papers ran out of memory maps for XLA's code); the first failure stops the run."""
    import subprocess

    calls = []

    def fake_run(cmd, env, check):
        calls.append(cmd)
        assert str(Path(_harness.__file__).resolve().parent.parent) in env["PYTHONPATH"]
        return subprocess.CompletedProcess(cmd, 3 if cmd[2] == "experiments.b64" else 0)

    monkeypatch.setattr(_harness.subprocess, "run", fake_run)
    papers = {p.slug: p for p in (_precision_paper("a32", "float32"),
                                  _precision_paper("b64", "float64"),
                                  _precision_paper("c64", "float64"))}
    assert _harness.main_all(papers, ["--smoke", "--out", str(tmp_path)], prog="t") == 3
    assert [c[1:] for c in calls] == [
        ["-m", "experiments.a32", "--figure", "all", "--smoke", "--out", str(tmp_path / "a32")],
        ["-m", "experiments.b64", "--figure", "all", "--smoke", "--out", str(tmp_path / "b64")],
    ]  # stopped after b64 failed; c64 never ran
    calls.clear()
    assert _harness.main_all(papers, ["--figure", "f"], prog="t") == 3
    assert [c[2:] for c in calls] == [["experiments.a32", "--figure", "f"],
                                      ["experiments.b64", "--figure", "f"]]


def test_all_runs_a_real_paper_in_a_subprocess(tmp_path, monkeypatch):
    """End to end: only compsum has a figure `gap`; it lands in OUT/compsum."""
    from experiments import __main__ as cli

    monkeypatch.setenv("JAXRANK_PROGRESS", "0")
    assert cli.main(["all", "--figure", "gap", "--smoke", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compsum"]
    assert json.loads((tmp_path / "compsum" / "gap.json").read_text())["mode"] == "smoke"


def test_precision_rejects_unknown_dtype():
    with pytest.raises(ValueError, match="Config.dtype"):
        with _harness.precision("bfloat16"):
            pass


# ------------------------------------------------------------------ git state, SMOKE mark


def test_git_dirty_ignores_figures_report_and_bench_records(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
                       cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    for rel in ("figures/p/f.json", "paper_repro/REPORT.md", "bench/results/b.json", "code.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("0\n")
    git("add", "-A")
    git("commit", "-qm", "init")
    monkeypatch.setattr(_harness, "REPO_ROOT", tmp_path)
    assert _harness.environment()["git_dirty"] is False
    (tmp_path / "figures/p/f.json").write_text("1\n")  # writing a record
    (tmp_path / "paper_repro/REPORT.md").write_text("1\n")  # and the report
    (tmp_path / "bench/results/b.json").write_text("1\n")  # one benchmark's record, then another
    assert _harness.environment()["git_dirty"] is False
    (tmp_path / "code.py").write_text("1\n")
    assert _harness.environment()["git_dirty"] is True


def test_smoke_figures_carry_a_visible_mark(tmp_path, monkeypatch):
    paper = _toy_paper({"a": [1.0]}, {"x": 1})
    drawn = []
    real_save = _harness.save_figure

    def capture(fig, stem, **kw):
        drawn.append([t.get_text() for t in fig.texts])
        return real_save(fig, stem, **kw)

    monkeypatch.setattr(_harness, "save_figure", capture)
    rec = _harness.run_figure(paper, "f", smoke=True, out_dir=tmp_path)
    _harness.render(paper.figures["f"], {**rec, "mode": "full"}, tmp_path / "full")
    smoke_texts, full_texts = drawn
    assert "SMOKE" in smoke_texts
    assert not any("SMOKE" in t for t in full_texts)
    assert (tmp_path / "f.png").read_bytes() != (tmp_path / "full.png").read_bytes()


# ------------------------------------------------------------------ config is authoritative


def _module_source_outside_config(slug):
    import ast
    import inspect

    mod = __import__(f"experiments.{slug}", fromlist=["PAPER"])
    src = inspect.getsource(mod)
    tree = ast.parse(src)
    lines = src.splitlines()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Config":
            del lines[node.lineno - 1 - len(node.decorator_list): node.end_lineno]
            break
    return "\n".join(lines)


@pytest.mark.parametrize("slug", sorted(PAPERS))
def test_every_config_field_is_read(slug):
    """A Config field nobody reads is a lie about what the run did (dtype: the harness)."""
    import re

    src = _module_source_outside_config(slug)
    claims = _harness.REPO_ROOT / "paper_repro" / f"{slug}.py"
    if claims.exists():
        src += "\n" + claims.read_text()
    unused = [
        f.name for f in dataclasses.fields(PAPERS[slug].full)
        if f.name != "dtype"
        and not re.search(rf"\.{f.name}\b|\[[\"']{f.name}[\"']\]", src)
    ]
    assert not unused, (
        f"experiments/{slug}.py and paper_repro/{slug}.py never read Config fields {unused}"
    )


def test_config_field_check_catches_an_unused_field():
    import re

    src = "x = config.used\n"
    assert re.search(r"\.used\b", src) and not re.search(r"\.unused\b", src)


def test_perceptron_config_step_sizes_reach_tab1_and_bounds():
    """Perturbing normalized_step_sizes / table1_lr_gd_step_sizes changes what tab1 computes."""
    from experiments import perceptron as E

    cfg = dataclasses.replace(E.SMOKE, normalized_step_sizes=(50.0, 5.0),
                              table1_lr_gd_step_sizes=(20.0,))
    grids = dict(E._tab1_grids(cfg))
    assert grids == {"normalized_lr_gd": (50.0, 5.0), "lr_gd": (20.0,)}
    src = _module_source_outside_config("perceptron")
    bounds_src = src[src.index("def run_bounds"):src.index("def plot_bounds")]
    assert "config.normalized_step_sizes" in bounds_src


# ------------------------------------------------------------------ keys


def test_key_builder():
    from experiments._keys import key

    assert key("fmnist", "lr_gd", 100.0, "iterations") == "fmnist/lr_gd/100/iterations"
    assert key("a", 0.1) == "a/0.1" and key("a", 1e10) == "a/1e+10" and key("a", 10) == "a/10"
    assert key(key("a", 1.0), "min") == "a/1/min"
    for bad in ((), ("",), ("a/",), (True,), (None,)):
        with pytest.raises((TypeError, ValueError), match="key"):
            key(*bad)


# ------------------------------------------------------------------ CLI front door


def test_experiments_help_lists_papers_and_figures(capsys):
    from experiments.__main__ import main

    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "python -m experiments" in out and "OVERWRITES" in out
    for slug, paper in PAPERS.items():
        assert f"{slug}: {paper.title}" in out
        for fig_id in paper.figures:
            assert fig_id in out


def test_experiments_unknown_paper_names_the_valid_ones(capsys):
    from experiments.__main__ import main

    assert main(["no_such_paper"]) == 2
    err = capsys.readouterr().err
    assert "unknown paper 'no_such_paper'" in err and "perceptron" in err and "all" in err


def test_experiments_slug_runs_and_unknown_figure_lists_ids(tmp_path, monkeypatch, capsys):
    from experiments.__main__ import main

    monkeypatch.setenv("JAXRANK_PROGRESS", "0")
    assert main(["perceptron", "--figure", "thm41", "--smoke", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "thm41.json").exists()
    with pytest.raises(SystemExit):
        main(["perceptron", "--figure", "no_such_figure"])
    err = capsys.readouterr().err
    assert "no_such_figure" in err and "tab1" in err and "thm41" in err


def test_paper_module_help_shows_title_and_overwrite_warning(capsys):
    from experiments import perceptron

    with pytest.raises(SystemExit) as exc:
        perceptron.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert perceptron.PAPER.title in out
    assert "OVERWRITES the committed figures" in out
    assert "Shared experiment harness" not in out


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    _harness.write_record(path, {"a": 1})

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        _harness.write_record(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}
    assert list(tmp_path.iterdir()) == [path]


def test_json_round_trip_of_special_floats():
    rec = {"x": np.array([1.0, np.nan, np.inf, -np.inf]), "n": np.int64(3), "t": (1, 2)}
    back = _harness.from_json_number(json.loads(json.dumps(_harness.to_jsonable(rec))))
    np.testing.assert_array_equal(back["x"], [1.0, np.nan, np.inf, -np.inf])
    assert back["n"] == 3 and back["t"] == [1, 2]


def test_log_grid_and_seed_summary():
    g = _harness.log_grid(10_000, 100)
    assert g[0] == 0 and g[-1] == 9_999 and np.all(np.diff(g) > 0) and len(g) <= 101
    np.testing.assert_array_equal(_harness.log_grid(7, 100), np.arange(7))
    x = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])
    s = _harness.seed_summary(x)
    np.testing.assert_allclose(s["mean"], [3.0, 6.0])
    np.testing.assert_allclose(s["std"], [2.0, 4.0])
    np.testing.assert_allclose(s["hi"] - s["lo"], 2 * 1.96 * s["std"] / np.sqrt(3))


# ------------------------------------------------------------------ cache wrappers carry a reason


def _caches_without_reason(src: str) -> list[str]:
    """Functions decorated with functools.cache / lru_cache whose decorator is not directly
    preceded by a ``# cached: <why>`` line (sweep and the solver factories key by value, so a
    cache in an experiment must say why identity matters: data loaded once, a jax.jit program)."""
    import ast

    lines = src.splitlines()
    bad = []
    for node in ast.walk(ast.parse(src)):
        if not isinstance(node, ast.FunctionDef):
            continue
        for dec in node.decorator_list:
            if "cache" in ast.unparse(dec):
                above = lines[dec.lineno - 2].strip() if dec.lineno >= 2 else ""
                if not (above.startswith("# cached:") and len(above) > len("# cached:") + 3):
                    bad.append(node.name)
    return bad


def test_every_experiment_cache_says_why_it_stays():
    bad = {p.name: names for p in sorted((REPO / "experiments").glob("*.py"))
           if (names := _caches_without_reason(p.read_text()))}
    assert not bad, f"cache wrappers without a '# cached: <why>' line above them: {bad}"


def test_cache_reason_check_catches_a_bare_cache():
    bare = "import functools\n\n\n@functools.cache\ndef f(n):\n    return n\n"
    lru = ("import functools\n# cached: loads data once\n@functools.lru_cache(maxsize=4)\n"
           "def g(n):\n    return n\n")
    assert _caches_without_reason(bare) == ["f"]
    assert _caches_without_reason(lru) == []


def test_concurrently_keeps_call_order_and_raises_errors():
    import threading
    import time

    threads = set()

    def call(i):
        def run():
            threads.add(threading.get_ident())
            time.sleep(0.01 * (3 - i))  # finish in reverse order
            return i * i
        return run

    assert _harness.concurrently([call(i) for i in range(4)], workers=2) == [0, 1, 4, 9]
    assert len(threads) == 2  # two workers, really side by side
    assert _harness.concurrently([call(1)], workers=4) == [1]  # one call: inline
    assert _harness.concurrently([]) == []

    def boom():
        raise ValueError("bad bucket")

    with pytest.raises(ValueError, match="bad bucket"):
        _harness.concurrently([call(0), boom], workers=2)
