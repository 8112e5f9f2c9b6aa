"""The omd_sea benchmark: a tiny run writes a well-formed record, and the NumPy reference is an
independent implementation that agrees with the library (no timing assertions)."""

import json

import jax
import numpy as np
import pytest

from bench import omd_sea as bo
from jaxrank.online import sea


@pytest.mark.slow  # three compilations; `python -m bench.omd_sea --tiny` by hand or make test-all
def test_tiny_record(tmp_path):
    out = tmp_path / "b.json"
    assert bo.main(["--tiny", "--out", str(out), "--device-note", "test"]) == 0
    rec = json.loads(out.read_text())
    assert {"schema_version", "benchmark", "mode", "command", "config", "variants", "ratios",
            "agreement", "numpy_timing", "env", "volatile", "device_note"} <= set(rec)
    assert rec["mode"] == "tiny" and rec["agreement"]["passed"]
    assert set(rec["variants"]) == {"vmap", "loop_jit", "numpy"}
    for v in rec["variants"].values():
        assert np.isfinite(v["speedup_vs_numpy"]) and v["speedup_vs_numpy"] > 0
    assert rec["variants"]["numpy"]["speedup_vs_numpy"] == 1.0


def test_numpy_reference_matches_library_regret():
    config = bo.TINY
    env, p, G = bo._setup(config)
    ys = np.asarray(sea.sample_rounds(env, p, jax.random.key(4), config.num_rounds))
    want = float(jax.jit(bo._regret_fn(config))(4))  # one compiled program
    assert abs(bo.numpy_regret(ys, config, G) - want) <= 1e-9 * abs(want)
