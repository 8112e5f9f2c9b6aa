"""The bo_rep benchmark: a tiny run writes a well-formed record (the NumPy reference ran the same
trajectory), and its agreement check fails on perturbed or mismatched final iterates (no timing
assertions)."""

import json

import numpy as np
import pytest

from bench import bo_rep as bb


@pytest.mark.slow  # compile-bound (~10 s on 2 cores); `make test-all` runs it
def test_tiny_record(tmp_path):
    out = tmp_path / "b.json"
    assert bb.main(["--tiny", "--out", str(out), "--device-note", "test"]) == 0
    rec = json.loads(out.read_text())
    assert {"schema_version", "benchmark", "mode", "command", "config", "variants", "ratios",
            "agreement", "bandwidth", "env", "volatile", "device_note"} <= set(rec)
    assert rec["benchmark"] == "bo_rep" and rec["mode"] == "tiny"
    assert rec["agreement"]["passed"]
    assert rec["agreement"]["max_rel_diff_final_x"] <= rec["agreement"]["rtol"]
    has_torch = bb._torch() is not None
    assert rec["torch"]["available"] is has_torch
    jax_variants = {f"{kind}{sfx}" for kind in ("vmap", "loop_jit")
                    for sfx in ("", "_rbg", "_unsafe_rbg", "_fixed_noise")}
    assert set(rec["variants"]) == jax_variants | {"numpy", "numpy_rng"} | (
        {"torch_eager"} if has_torch else set())
    if has_torch:  # PyTorch eager ran the same trajectory too
        assert rec["torch"]["max_rel_diff_x_at_agree_steps"] <= agree_rtol(rec)
        assert rec["ratios"]["loop_jit_over_torch_eager"] > 0
    else:
        assert "not installed" in rec["torch"]["note"]
    # the NumPy loop ran the same trajectory (same pre-drawn oracle noise)
    agree = rec["agreement"]
    assert agree["numpy_max_rel_diff_x_at_agree_steps"] <= agree["numpy_rtol"]
    assert agree["agree_steps"] == min(bb.TINY.agree_steps, bb.TINY.steps)
    runs = len(bb.TINY.step_sizes) * len(bb.TINY.seeds)
    for v in rec["variants"].values():
        assert v["runs"] == runs and np.isfinite(v["x_vs_loop_jit"]) and v["x_vs_loop_jit"] > 0
    assert rec["variants"]["loop_jit"]["x_vs_loop_jit"] == 1.0
    assert set(rec["volatile"]["compile_s"]) == jax_variants
    # every key impl repeated itself bitwise; only threefry (the records' stream) is compared
    impls = rec["prng"]["impls"]
    assert set(impls) == {"threefry2x32", "rbg", "unsafe_rbg", "fixed_noise"}
    assert all(v["deterministic"] and v["finite_fraction"] == 1.0 for v in impls.values())
    assert impls["threefry2x32"]["max_rel_diff_vmap_vs_loop_jit"] <= rec["agreement"]["rtol"]
    assert 0.0 < rec["ratios"]["rng_share_of_loop_jit"] < 1.0


@pytest.mark.slow  # compiles the noise pre-draw and a float64 run (> 3 s on 2 shared cores)
def test_numpy_reference_departs_when_its_noise_is_perturbed():
    """The NumPy loop really consumes the pre-drawn noise (a changed draw changes x_T)."""
    import jax
    import jax.numpy as jnp

    cfg = bb.TINY
    data = bb._data(cfg)
    draws = bb._predraw(cfg, data, [0])[0]
    np_data = {k: np.asarray(v) for k, v in data.items()}
    x = bb.numpy_bo_rep(np_data, 0.01, draws, cfg)
    ref = np.asarray(jax.jit(bb._final_fn(cfg))(data, jnp.asarray(0.01), 0))
    assert bb.agreement(x, ref, cfg.rtol_numpy) <= cfg.rtol_numpy
    draws["hyper"]["fx"] = draws["hyper"]["fx"] + 1e-3
    with pytest.raises(RuntimeError, match="disagree"):
        bb.agreement(bb.numpy_bo_rep(np_data, 0.01, draws, cfg), ref, cfg.rtol_numpy)


def agree_rtol(rec):
    return rec["agreement"]["numpy_rtol"]


@pytest.mark.slow  # compiles the noise pre-draw and a float64 run (> 3 s on 2 shared cores)
def test_torch_reference_follows_jax_and_departs_when_its_noise_is_perturbed():
    """PyTorch eager (autograd oracles) runs the JAX trajectory on the same noise, and really
    consumes that noise (a changed draw changes x_T). Skipped without the `bench` extra."""
    pytest.importorskip("torch")
    import jax
    import jax.numpy as jnp

    cfg = bb.TINY
    data = bb._data(cfg)
    draws = bb._predraw(cfg, data, [1])[1]
    np_data = {k: np.asarray(v) for k, v in data.items()}
    ref = np.asarray(jax.jit(bb._final_fn(cfg))(data, jnp.asarray(0.01), 1))
    x = bb.torch_bo_rep(np_data, 0.01, bb.torch_draws(draws), cfg)
    assert bb.agreement(x, ref, cfg.rtol_numpy) <= cfg.rtol_numpy
    draws["z"]["s"] = draws["z"]["s"] * 1.01
    with pytest.raises(RuntimeError, match="disagree"):
        bb.agreement(bb.torch_bo_rep(np_data, 0.01, bb.torch_draws(draws), cfg), ref,
                     cfg.rtol_numpy)


def test_agreement_raises_on_perturbed_result():
    ref = np.linspace(-2.0, 3.0, 12).reshape(4, 3)
    assert bb.agreement(ref.copy(), ref, 1e-7) == 0.0
    bad = ref.copy()
    bad[1, 2] += 1e-4
    with pytest.raises(RuntimeError, match="disagree"):
        bb.agreement(bad, ref, 1e-7)
    diverged = ref.copy()
    diverged[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="finite"):
        bb.agreement(diverged, ref, 1e-7)
