"""Every compsum claim flips on a perturbed record, and says how many cases it decided."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from experiments._keys import fmt
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


def _converge(rec, gain=0.0):
    """Mark every E1 run of the record as converged (late gain ``gain`` on every seed)."""
    s = rec["e1"]["summary"]
    for name in s["datasets"]:
        for tau in rec["e1"]["config"]["taus"]:
            s[f"{name}/tau{fmt(tau)}/late_gain"] = [gain] * len(s[f"{name}/tau1/errors"])


def test_c5_flips_when_logistic_is_far_worse():
    recs = _records("e1")
    out = _status("C5", recs)
    assert out.cases == len(recs["e1"]["summary"]["datasets"])
    bad = copy.deepcopy(recs)
    _converge(bad)
    for name in bad["e1"]["summary"]["datasets"]:
        _set_errors(bad, name, "1", [0.9, 0.91, 0.92])
        _set_errors(bad, name, "0.5", [0.1, 0.11, 0.12])
    assert _status("C5", bad).status == "not reproduced"
    good = copy.deepcopy(recs)
    _converge(good)
    for name in good["e1"]["summary"]["datasets"]:
        _set_errors(good, name, "1", [0.0, 0.0, 0.0])
    assert _status("C5", good).status == "reproduced"


def test_c5_within_delta_holds_and_beyond_it_fails():
    """Non-inferiority with the margin C5_DELTA: logistic worse by half the margin (no noise)
    holds, worse by twice the margin fails, a noisy difference is undecided."""
    recs = _records("e1")
    s = recs["e1"]["summary"]
    name = s["datasets"][0]
    taus = recs["e1"]["config"]["taus"]
    for extra, expect in ((0.5 * P.C5_DELTA, True), (2 * P.C5_DELTA, False)):
        rec = copy.deepcopy(recs)
        _converge(rec)
        for tau in taus:
            _set_errors(rec, name, fmt(tau), [0.2, 0.2, 0.2])
        _set_errors(rec, name, "1", [0.2 + extra] * 3)
        assert dict(_status("C5", rec).by_case)[name] is expect
    noisy = copy.deepcopy(recs)
    _converge(noisy)
    for tau in taus:
        _set_errors(noisy, name, fmt(tau), [0.2, 0.2, 0.2])
    _set_errors(noisy, name, "1", [0.1, 0.3, 0.25])
    assert dict(_status("C5", noisy).by_case)[name] is None


def test_c6_flips_with_the_gap_ordering():
    recs = _records("e1")
    out = _status("C6", recs)
    assert out.cases == 2
    good, bad = copy.deepcopy(recs), copy.deepcopy(recs)
    for rec, (small, large) in ((good, (0.0, 0.5)), (bad, (0.5, 0.0))):
        _converge(rec)
        for name in rec["e1"]["summary"]["datasets"]:
            _set_errors(rec, name, "1", [0.1, 0.11, 0.12])
            big = name in ("mix100", "letter")
            g = large if big else small
            _set_errors(rec, name, "2", [0.1 + g, 0.11 + g + 0.001, 0.12 + g])
    assert _status("C6", good).status == "reproduced"
    assert _status("C6", bad).status == "not reproduced"


def test_non_converged_e1_fails_c9_and_leaves_c5_c6_undecided():
    """A run whose validation error still fell late in training is flagged: C9 fails on it and
    C5/C6 refuse to decide on that data set; a converged record passes C9."""
    recs = _records("e1")
    good = copy.deepcopy(recs)
    _converge(good)
    assert _status("C9", good).status == "reproduced"
    bad = copy.deepcopy(recs)
    _converge(bad, gain=3 * P.CONVERGED_TOL)
    c9 = _status("C9", bad)
    assert c9.status == "not reproduced" and c9.decided == c9.cases
    assert _status("C5", bad).decided == 0
    assert _status("C6", bad).decided == 0


def test_late_gain_and_lr_selection():
    from experiments import compsum as E

    curve = np.array([[0.5, 0.3, 0.2, 0.2], [0.5, 0.3, 0.25, 0.1]])
    np.testing.assert_allclose(E.late_gain(curve, 0.25), [0.0, 0.15])
    with pytest.raises(ValueError, match="fraction"):
        E.late_gain(curve, 1.0)
    assert E.select_lr([[0.3, 0.3], [0.1, 0.2], [0.1, 0.2]], (1e-3, 3e-3, 1e-2)) == 1
    with pytest.raises(ValueError, match="select_lr"):
        E.select_lr([[0.3, 0.3]], (1e-3, 3e-3))
    with pytest.raises(ValueError, match="e1_epochs"):
        E.e1_epochs(E.FULL, "cifar")


def test_c8_tight_and_flips_when_the_bound_is_loose_or_violated():
    recs = _records("theory")
    out = _status("C8", recs)
    assert out.status == "reproduced" and out.decided == out.cases
    loose, violated = copy.deepcopy(recs), copy.deepcopy(recs)
    loose["theory"]["summary"]["n2/tau1/tight_max_ratio"] = 1.5
    violated["theory"]["summary"]["n2/tau2/tight_min_ratio"] = 0.9
    assert dict(_status("C8", loose).by_case)["τ=1"] is False
    assert dict(_status("C8", violated).by_case)["τ=2"] is False


def test_e1_record_learning_rates_are_selected_on_validation():
    """The stored lr per (data set, τ) is the one with the lowest mean validation error."""
    from experiments import compsum as E

    recs = _records("e1")
    s = recs["e1"]["summary"]
    lrs = tuple(s["lrs"])
    for name in s["datasets"]:
        for tau in recs["e1"]["config"]["taus"]:
            key = f"{name}/tau{fmt(tau)}"
            val = [s[f"{key}/lr{fmt(lr)}/val_errors"] for lr in lrs]
            assert s[f"{key}/lr"] == lrs[E.select_lr(val, lrs)]


def _c7_set(rec, name, method, metric, vals, nu=None, beta=None):
    key = (method if nu is None and beta is None else f"{method}/nu{fmt(nu)}" if beta is None
           else f"{method}/beta{fmt(beta)}")
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
