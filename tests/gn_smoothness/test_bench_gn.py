"""The benchmark's tiny mode writes a well-formed record and its NumPy reference agrees."""

import json

import numpy as np
import pytest

from bench import gn_smoothness as bg


@pytest.mark.slow
def test_tiny_record(tmp_path):
    out = tmp_path / "b.json"
    assert bg.main(["--tiny", "--out", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["mode"] == "tiny" and rec["benchmark"] == "gn_smoothness"
    assert set(rec["ratios"]) == {"lse_exact", "lse_wgn", "p4_exact", "p4_exact_closed_form",
                                  "p4_fisher"}
    assert all(v["passed"] for v in rec["agreement"].values())
    assert all(np.isfinite(v) and v > 0 for v in rec["ratios"].values())


def test_numpy_reference_sherman_morrison_matches_dense():
    A, b, B = bg.p4_problem(6, 9)
    B = B + np.eye(9)  # well conditioned (the problem's B = AᵀA + 1e-8 I has cond ≈ 1e9)
    f, grad, exact, fisher_solve = bg.p4_numpy(A, b, B)
    x = np.ones(9)
    u = A @ x - b
    v = A.T @ u
    F = 2 * np.linalg.norm(u) ** 0 * np.outer(v, v)  # (p − 2)‖u‖^{p−4} with p = 4
    g = grad(x)
    np.testing.assert_allclose(fisher_solve(x)(0.3, g), np.linalg.solve(F + 0.3 * B, g),
                               rtol=1e-9)
