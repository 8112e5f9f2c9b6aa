"""Every compsum claim flips on a perturbed record, and says how many cases it decided."""

import copy
import json
from pathlib import Path

import pytest

from paper_repro import compsum as P

RECORDS = Path(__file__).resolve().parents[2] / "figures" / "compsum"


def _records(*fids):
    recs = {}
    for fid in fids:
        path = RECORDS / f"{fid}.json"
        if not path.exists():
            pytest.skip(f"committed record {path} missing")
        recs[fid] = json.loads(path.read_text())
    return recs


def _status(claim, recs):
    return next(c for c in P.CLAIMS if c.id == claim).evaluate(recs)


def test_c1_flips_when_gamma_depends_on_n_for_tau_below_one():
    recs = _records("theory")
    out = _status("C1", recs)
    assert out.decided == out.cases == len(recs["theory"]["config"]["taus"])
    bad = copy.deepcopy(recs)
    bad["theory"]["summary"]["n100/tau0/Gamma_at_0.01"] += 0.05
    flipped = _status("C1", bad)
    assert flipped.status != "reproduced" and "τ=0 flat" in flipped.measured


def test_c2_flips_when_sqrt_form_undercuts_gamma():
    recs = _records("theory")
    out = _status("C2", recs)
    assert out.decided == out.cases
    bad = copy.deepcopy(recs)
    bad["theory"]["summary"]["n10/tau1.5/sqrt_minus_gamma_min"] = -0.01
    assert _status("C2", bad).status in ("partly reproduced", "not reproduced")


def test_c3_flips_on_a_violation():
    recs = _records("bound_check")
    out = _status("C3", recs)
    cfg = recs["bound_check"]["config"]
    assert out.decided == len(cfg["bound_classes"]) * len(cfg["taus"])
    bad = copy.deepcopy(recs)
    bad["bound_check"]["summary"]["n3/tau1/violations"] = 2
    assert _status("C3", bad).status != out.status or out.status != "reproduced"
    assert "n3/tau1" in _status("C3", bad).measured


def test_c4_flips_when_gap_rises():
    recs = _records("gap")
    out = _status("C4", recs)
    cfg = recs["gap"]["config"]
    assert out.decided == len(cfg["gap_classes"]) * len(cfg["gap_bounds"])
    good, bad = copy.deepcopy(recs), copy.deepcopy(recs)
    for k in list(good["gap"]["summary"]):
        if k.endswith("max_increase"):
            good["gap"]["summary"][k] = -0.1
            bad["gap"]["summary"][k] = 1.0
    assert _status("C4", good).status == "reproduced"
    assert _status("C4", bad).status == "not reproduced"


def _set_errors(rec, name, tau, values):
    rec["e1"]["summary"][f"{name}/tau{tau}/errors"] = values


def test_c5_flips_when_logistic_is_far_worse():
    recs = _records("e1")
    out = _status("C5", recs)
    assert out.decided == len(recs["e1"]["summary"]["datasets"])
    bad = copy.deepcopy(recs)
    for name in bad["e1"]["summary"]["datasets"]:
        _set_errors(bad, name, "1", [0.9, 0.91, 0.92])
        _set_errors(bad, name, "0.5", [0.1, 0.11, 0.12])
    assert _status("C5", bad).status == "not reproduced"
    good = copy.deepcopy(recs)
    for name in good["e1"]["summary"]["datasets"]:
        _set_errors(good, name, "1", [0.0, 0.0, 0.0])
    assert _status("C5", good).status == "reproduced"


def test_c6_flips_with_the_gap_ordering():
    recs = _records("e1")
    out = _status("C6", recs)
    assert out.cases == 2 and out.decided >= 1
    good, bad = copy.deepcopy(recs), copy.deepcopy(recs)
    for rec, (small, large) in ((good, (0.0, 0.5)), (bad, (0.5, 0.0))):
        for name in rec["e1"]["summary"]["datasets"]:
            _set_errors(rec, name, "1", [0.1, 0.1, 0.1])
            big = name in ("mix100", "letter")
            _set_errors(rec, name, "2", [0.1 + (large if big else small)] * 3)
    assert _status("C6", good).status == "reproduced"
    assert _status("C6", bad).status == "not reproduced"


def _c7_set(rec, name, method, metric, vals, nu=None, beta=None):
    key = (method if nu is None and beta is None else f"{method}/nu{P._k(nu)}" if beta is None
           else f"{method}/beta{P._k(beta)}")
    rec["e2"]["summary"][f"{name}/{key}/{metric}"] = vals


def test_c7_flips_and_counts_undecided():
    recs = _records("e2")
    out = _status("C7", recs)
    assert out.cases == 2 * len(recs["e2"]["summary"]["datasets"])
    s = recs["e2"]["summary"]
    good, bad, tie = (copy.deepcopy(recs) for _ in range(3))
    for name in s["datasets"]:
        nu, beta = P.selected_nu(s, name), P.selected_beta(s, name)
        for metric in ("clean", "robust_margin"):
            for rec, a, b in ((good, [0.9, 0.91, 0.92], [0.5, 0.52, 0.51]),
                              (bad, [0.5, 0.52, 0.51], [0.9, 0.91, 0.92]),
                              (tie, [0.5, 0.6, 0.4], [0.5, 0.4, 0.6])):
                _c7_set(rec, name, "adv_comp_sum_tau1", metric, a, nu)
                _c7_set(rec, name, "trades", metric, b, beta=beta)
    assert _status("C7", good).status == "reproduced"
    assert _status("C7", bad).status == "not reproduced"
    t = _status("C7", tie)
    assert t.status == "undecided" and t.decided == 0


def test_c7_uses_the_nu_selected_on_validation_never_on_test():
    recs = _records("e2")
    s = recs["e2"]["summary"]
    base = _status("C7", recs)
    test_only, val_win, inconsistent = (copy.deepcopy(recs) for _ in range(3))
    for name in s["datasets"]:
        sel = P.selected_nu(s, name)
        other = next(nu for nu in s["nus"] if nu != sel)
        for rec in (test_only, val_win, inconsistent):
            for metric in ("clean", "robust_margin"):  # a non-selected ν excellent on test
                _c7_set(rec, name, "adv_comp_sum_tau1", metric, [0.995] * 3, other)
        for rec in (val_win, inconsistent):  # ... and now also best on validation
            _c7_set(rec, name, "adv_comp_sum_tau1", "val_robust_margin", [1.0] * 3, other)
        val_win["e2"]["summary"][f"{name}/adv_comp_sum_tau1/nu"] = other
    same = _status("C7", test_only)
    assert (same.status, same.measured) == (base.status, base.measured)
    won = _status("C7", val_win)
    assert won.status == "reproduced" and won.decided == base.cases
    with pytest.raises(ValueError, match="validation numbers select"):
        _status("C7", inconsistent)


def test_c7_compares_with_the_beta_selected_on_validation():
    """TRADES' β is selected like ν: a non-selected β that is excellent on test changes nothing,
    the same β winning on validation (and stored as selected) flips C7 against ADV-COMP-SUM,
    and a stored β its validation numbers do not select is refused."""
    recs = _records("e2")
    s = recs["e2"]["summary"]
    base = _status("C7", recs)
    assert len(s["betas"]) >= 2
    test_only, val_win, inconsistent = (copy.deepcopy(recs) for _ in range(3))
    for name in s["datasets"]:
        other = next(b for b in s["betas"] if b != P.selected_beta(s, name))
        for rec in (test_only, val_win, inconsistent):
            for metric in ("clean", "robust_margin"):
                _c7_set(rec, name, "trades", metric, [0.999] * 3, beta=other)
        for rec in (val_win, inconsistent):
            _c7_set(rec, name, "trades", "val_robust_margin", [1.0] * 3, beta=other)
        val_win["e2"]["summary"][f"{name}/trades/beta"] = other
    same = _status("C7", test_only)
    assert (same.status, same.measured) == (base.status, base.measured)
    lost = _status("C7", val_win)
    assert lost.status == "not reproduced" and lost.decided == base.cases
    with pytest.raises(ValueError, match="validation numbers select"):
        _status("C7", inconsistent)
