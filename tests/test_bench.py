"""Smoke tests of the benchmarks: a tiny run writes a well-formed record. No timing assertions
(benchmarks are run by hand, ``python -m bench.<name>``, never timed inside the suite)."""

import dataclasses
import json

import numpy as np
import pytest

from bench import perceptron as bp

VARIANTS = {"vmap", "loop_jit", "numpy", "vmap_f32"}


def test_perceptron_tiny_record(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert bp.main(["--tiny", "--out", str(out), "--device-note", "test"]) == 0
    rec = json.loads(out.read_text())
    assert {"schema_version", "benchmark", "command", "mode", "config", "data", "bandwidth",
            "variants", "ratios", "agreement", "numpy_timing", "env", "volatile",
            "device_note"} <= set(rec)
    assert rec["benchmark"] == "perceptron" and rec["mode"] == "tiny"
    assert rec["device_note"] == "test" and rec["command"].endswith("--device-note test")
    assert set(rec["variants"]) == VARIANTS
    for v in rec["variants"].values():
        for key in ("effective_GBps", "fraction_of_bandwidth", "GFLOPs", "speedup_vs_numpy",
                    "speedup_vs_loop_jit"):
            assert np.isfinite(v[key]) and v[key] > 0, key
    assert rec["variants"]["numpy"]["speedup_vs_numpy"] == pytest.approx(1.0)
    # vmap reads A twice per step for all γ; the per-γ variants G times as often.
    G = len(rec["config"]["gammas"])
    assert rec["variants"]["loop_jit"]["min_bytes"] == G * rec["variants"]["vmap"]["min_bytes"]
    ag = rec["agreement"]
    assert ag["passed"] and ag["all_finite"]
    assert set(ag["rel_diff_per_gamma"]) == {"vmap_vs_loop_jit", "vmap_vs_numpy",
                                             "loop_jit_vs_numpy"}
    assert ag["max_rel_diff_stable"] <= rec["config"]["rtol_stable"]
    for key in ("host_GBps", "device_GBps", "numpy_read_GBps", "jax_read_GBps"):
        assert rec["bandwidth"][key] > 0
    assert {"backend", "device_kind", "git_commit", "cpu_count"} <= set(rec["env"])
    assert set(rec["volatile"]["median_s"]) == VARIANTS
    assert rec["matmul"]["peak_float64_GFLOPs"] > 0
    assert all(v["fraction_of_flop_rate"] > 0 for v in rec["variants"].values())
    assert set(rec["volatile"]["compile_s"]) == {"vmap", "loop_jit", "vmap_f32"}
    gc = rec["grid_curve"]
    assert [r["G"] for r in gc["rows"]] == list(bp.TINY.curve_sizes)
    for r in gc["rows"]:
        for key in ("vmap_over_numpy_loop", "vmap_over_numpy_vectorised", "vmap_GFLOPs",
                    "vmap_fraction_of_flop_rate", "numpy_vectorised_fraction_of_flop_rate"):
            assert np.isfinite(r[key]) and r[key] > 0, key
        assert r["max_rel_diff_vs_numpy_vectorised"] <= rec["config"]["rtol_stable"]
    assert gc["target"]["G"] == bp.TINY.curve_sizes[-1]  # no G = 32 in the tiny grid
    assert gc["layout_probe_rows_over_cols_speedup"] > 0
    sp = gc["step_profile"]  # the loop body was found and the products timed alone
    assert sp["G"] == bp.TINY.curve_sizes[-1] and sum(sp["loop_body_ops"].values()) >= 2
    assert 0 < sp["products_share_of_step"] and sp["products_fraction_of_flop_rate"] > 0
    assert set(rec["volatile"]["grid_curve_per_point_s"]) == {str(g) for g in bp.TINY.curve_sizes}
    out = capsys.readouterr().out
    assert "vmap" in out and "grid-size curve" in out


def test_loop_body_census_counts_the_while_body_only():
    text = """HloModule m
%body.1 (p: (s64[], f64[4])) -> (s64[], f64[4]) {
  %p = (s64[], f64[4]) parameter(0)
  %a = f64[4]{0} fusion(%x), kind=kCustom, calls=%f
  %b = f64[4]{0} fusion(%a), kind=kLoop, calls=%g
  %c = f64[4]{0} dot(%a, %b)
  ROOT %t = (s64[], f64[4]) tuple(%i, %c)
}
ENTRY %main (x: f64[4]) -> f64[4] {
  %e = f64[4]{0} exponential(%x)
  %w = (s64[], f64[4]) while(%init), condition=%cond, body=%body.1
}
"""
    assert bp.loop_body_census(text) == {"fusion:kCustom": 1, "fusion:kLoop": 1, "dot": 1}
    assert bp.loop_body_census("ENTRY %main () -> f64[] {\n}") == {}


def test_grid_points_are_gamma_by_seed():
    gs, th0 = bp.grid_points_for(bp.TINY, 8, 5)
    assert gs.shape == (8,) and th0.shape == (8, 5)
    assert len(set(gs.tolist())) == 4 and np.all(gs <= 1.0)  # 4 step sizes × 2 seeds
    assert len({tuple(t) for t in th0.tolist()}) == 2
    gs1, th1 = bp.grid_points_for(bp.TINY, 1, 5)
    assert gs1.shape == (1,) and th1.shape == (1, 5)


def test_numpy_grid_reference_matches_per_point_loop():
    rng = np.random.default_rng(0)
    a, y = rng.standard_normal((30, 4)), np.sign(rng.standard_normal(30))
    gs, th0 = bp.grid_points_for(bp.TINY, 4, 4)
    got = bp.numpy_lr_gd_grid(a, y, gs, th0, 7)
    want = np.stack([bp.numpy_lr_gd(a, y, g, 7, t) for g, t in zip(gs, th0, strict=True)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert not np.allclose(got, th0)  # the runs moved


def test_numpy_reference_matches_closed_form_first_step():
    # From θ_0 = 0 every σ(−m_i) = 1/2, so θ_1 = γ/(2n) Σ_i y_i a_i.
    a, y = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]]), np.array([1.0, -1.0, 1.0])
    np.testing.assert_allclose(bp.numpy_lr_gd(a, y, 3.0, 1), 3.0 / 6 * (y @ a), rtol=1e-15)


def test_agreement_check_fails_loudly():
    config = dataclasses.replace(bp.TINY, gammas=(0.1, 100.0))
    good = np.ones((2, 3))
    ok = bp.check_agreement(config, {"vmap": good, "loop_jit": good, "numpy": good}, good)
    assert ok["passed"]
    off = good * np.array([[1.0], [1.05]])  # 5% at γ = 100: within the large-step tolerance
    assert bp.check_agreement(config, {"vmap": good, "loop_jit": off, "numpy": good}, good)
    bad = good * np.array([[1.0 + 1e-6], [1.0]])  # 1e-6 at γ = 0.1: out of rtol_stable
    with pytest.raises(RuntimeError, match=r"vmap_vs_loop_jit at γ=0.1"):
        bp.check_agreement(config, {"vmap": good, "loop_jit": bad, "numpy": good}, good)
    nan = good * np.array([[np.nan], [1.0]])
    with pytest.raises(RuntimeError, match="finite: False"):
        bp.check_agreement(config, {"vmap": good, "loop_jit": good, "numpy": nan}, good)
