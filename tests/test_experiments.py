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
def test_smoke_figure(smoke_records, slug, fig_id):
    out, records = smoke_records
    rec = records[(slug, fig_id)]
    for ext in ("png", "pdf", "json"):
        assert (out / slug / f"{fig_id}.{ext}").stat().st_size > 0
    on_disk = json.loads((out / slug / f"{fig_id}.json").read_text())
    assert set(on_disk) == set(_harness.RECORD_KEYS)
    assert on_disk["schema_version"] == _harness.SCHEMA_VERSION
    assert on_disk["mode"] == "smoke" and on_disk["paper"] == slug and on_disk["figure"] == fig_id
    assert on_disk["summary"], "a figure without summary scalars cannot back a claim"
    assert rec["env"]["x64"] is (rec["config"].get("dtype") == "float64")
    assert not list((out / slug).glob(".*.tmp")), "atomic writes must not leave temp files"


def test_pdf_and_png_bytes_are_deterministic(smoke_records, tmp_path):
    out, records = smoke_records
    paper = PAPERS["perceptron"]
    rec = records[("perceptron", "thm41")]
    _harness.render(paper.figures["thm41"], rec, tmp_path / "a")
    _harness.render(paper.figures["thm41"], rec, tmp_path / "b")
    for ext in ("png", "pdf"):
        assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes()


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


def test_nan_guard_names_series_and_step(tmp_path):
    def run(config):
        return _harness.Results(series={"ok": [1.0, 2.0], "loss": [0.5, 0.1, float("nan")]},
                                summary={"x": 1})

    @dataclasses.dataclass(frozen=True)
    class Cfg:
        steps: int = 3

    paper = _harness.Paper("toy", "toy", "toy", {"f": _harness.Figure("F", "t", run, None)},
                           Cfg(), Cfg())
    msg = r"'loss' is NaN, first at index \(2,\)"
    with pytest.raises(_harness.NonFiniteResultError, match=msg):
        _harness.run_figure(paper, "f", smoke=True, out_dir=tmp_path)
    assert not (tmp_path / "f.json").exists()


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
