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
