"""The comp-sum benchmark's tiny mode writes a well-formed record (no timing assertions)."""

import json

from bench import compsum as bc


def test_compsum_bench_tiny_record(tmp_path):
    out = tmp_path / "compsum.json"
    assert bc.main(["--tiny", "--out", str(out), "--device-note", "test"]) == 0
    rec = json.loads(out.read_text())
    assert rec["benchmark"] == "compsum" and rec["mode"] == "tiny"
    assert {"comp_sum_tau1/optax_ce", "comp_sum_tau0.5/naive_tau0.5", "sweep_vmap/sweep_loop",
            "logsoftmax_tau1/optax_ce (before v2)",
            "comp_sum_tau1/logsoftmax_tau1 (after/before)"} <= set(rec["ratios"])
    assert {f"comp_sum_tau{t:g}/optax_ce" for t in bc.TAUS} <= set(rec["ratios"])
    assert all(v > 0 for v in rec["ratios"].values())
