"""The benchmark's --tiny mode writes a well-formed record (no timing assertions)."""

import json

import numpy as np
import pytest

from bench import zloss as bz


@pytest.mark.slow  # 12 compilations; minutes on a loaded 2-core machine
def test_zloss_bench_tiny_record(tmp_path):
    out = tmp_path / "z.json"
    assert bz.main(["--tiny", "--out", str(out), "--device-note", "test"]) == 0
    rec = json.loads(out.read_text())
    assert rec["benchmark"] == "zloss" and rec["mode"] == "tiny"
    assert set(rec["cells"]) == {"d8/m1", "d8/m4"}
    for cell in rec["cells"].values():
        assert set(cell["loglog_slope"]) == set(bz.METHODS)
        assert np.isfinite(cell["ratio_naive_over_factored"]["value"])
        assert cell["ratio_naive_over_factored"]["measured"] is True


@pytest.mark.slow  # 9 compilations (3 layers × scan, eval, weights); ~20 s on a loaded machine
def test_zloss_time_to_target_tiny_record(tmp_path):
    out = tmp_path / "t.json"
    assert bz.main(["--time-to-target", "--tiny", "--out", str(out), "--device-note", "t"]) == 0
    rec = json.loads(out.read_text())
    assert rec["mode"] == "tiny"
    assert rec["config"]["target_top20_error"] == bz.TTT.target_top20_error
    for meth in bz.TTT_METHODS:
        curve = rec["methods"][meth]["curve"]
        assert len(curve["wall_s"]) == len(curve["steps"]) == len(curve["top20_error"]) >= 2
        assert np.all(np.diff(curve["steps"]) > 0) and np.all(np.diff(curve["wall_s"]) >= 0)
        # training moves the held-out error below its value at the initial weights
        assert curve["top20_error"][-1] < curve["top20_error"][0]
    # the factored and naive Z-loss layers follow the same SGD trajectory (same data, lr)
    fz, nz = (rec["methods"][m]["curve"] for m in ("factored_zloss", "naive_zloss"))
    assert fz["steps"] == nz["steps"]
    np.testing.assert_allclose(fz["top20_error"], nz["top20_error"], atol=1 / 64)
