"""Every BO-REP claim flips on a perturbed record and reports how many cases it decided."""

import copy

import pytest

from experiments import _keys
from paper_repro import bo_rep as C


def key(*parts):
    """bo_rep's keys write a number as ``str`` does (``pystr``: frozen record text, 1.0 -> 1.0)."""
    return _keys.key(*(p if isinstance(p, str) else _keys.pystr(p) for p in parts))

GRID = (0.01, 0.1, 1.0)
PERIODS = (1, 2, 4)
NOISE = (0.1, 0.3)
BASE = ("soba", "ma_soba")


EPS_GRID = (4.0, 2.0, 1.0, 0.5)


def _calls(e, power=2.0):
    return [100.0 / e**power, 110.0 / e**power]


def records():
    s0 = {key("s0", "eps"): 1.0, key("s0", "eps_grid"): list(EPS_GRID),
          key("s0", "bo_rep", "step_sizes"): list(GRID)}
    for lr in GRID:
        s0[key("s0", "bo_rep", "final_grad_norm", lr)] = 0.1
    for e in EPS_GRID:
        s0[key("s0", "bo_rep", "calls_to_eps", e)] = _calls(e)
        s0[key("s0", "bo_rep", "best_step_size", e)] = 0.1
        for m in BASE:
            s0[key("s0", m, "calls_to_eps", e)] = [10 * c for c in _calls(e)]
            s0[key("s0", m, "best_step_size", e)] = 0.01
    for m in BASE:
        s0[key("s0", m, "oracle_calls_total")] = 5000
    for p in PERIODS:
        s0[key("s0", "period", p, "final_grad_norm")] = 0.2
        s0[key("s0", "period", p, "oracle_calls")] = 100 // p
    s1 = {}
    for p in NOISE:
        s1[key("s1", p, "constant_acc")] = 0.5
        s1[key("s1", p, "bo_rep", "final_test_acc")] = [0.80, 0.82]
        s1[key("s1", p, "bo_rep", "weight_auroc")] = [0.7, 0.72]
        for m in BASE:
            s1[key("s1", p, m, "final_test_acc")] = [0.78, 0.79]
    s1[key("s1", "clean", "erm", "final_test_acc")] = [0.93, 0.95]
    s2 = {key("s2", m, "final_test_acc"): [0.7, 0.7] for m in ("bo_rep", *BASE)}
    s2[key("s2", "constant_acc")] = 0.5
    s3 = {key("s3", m, "final_meta_test_acc"): [0.8, 0.8] for m in ("bo_rep", "anil")}
    s3[key("s3", "constant_acc")] = 0.5
    return {
        "s0": {"summary": s0, "config": {"s0_periods": list(PERIODS),
                                         "s0_methods": ["bo_rep", *BASE]}},
        "s1": {"summary": s1, "config": {"s1_noise": list(NOISE),
                                         "s1_methods": ["bo_rep", *BASE]}},
        "s2": {"summary": s2, "config": {"s2_methods": ["bo_rep", *BASE]}},
        "s3": {"summary": s3, "config": {"s3_methods": ["bo_rep", "anil"]},
               "results": {"series": {key("bo_rep", "meta_test_acc"): [0.8, 0.8, 0.8]}}},
    }


def _set(recs, fig, k, v):
    recs[fig]["summary"][k] = v


PERTURB = {
    # calls to ε growing as ε⁻⁶ (slope 6 > 4): the rate fails, ε is still reached
    "C1": lambda r: [_set(r, "s0", key("s0", "bo_rep", "calls_to_eps", e), _calls(e, 6.0))
                     for e in EPS_GRID],
    "C2": lambda r: [_set(r, "s0", key("s0", m, "calls_to_eps", e), [c / 10 for c in _calls(e)])
                     for m in BASE for e in EPS_GRID],
    "C3": lambda r: [_set(r, "s0", key("s0", "period", p, "final_grad_norm"), 3.0)
                     for p in PERIODS[1:]],
    "C4": lambda r: [_set(r, "s1", key("s1", p, "bo_rep", "final_test_acc"), [0.6, 0.6])
                     for p in NOISE],
    "C5": lambda r: [_set(r, "s1", key("s1", p, "bo_rep", "weight_auroc"), [0.5, 0.5])
                     for p in NOISE],
    "C6": lambda r: _set(r, "s2", key("s2", "bo_rep", "final_test_acc"), [0.6, 0.6]),
    "C7": lambda r: _set(r, "s3", key("s3", "bo_rep", "final_meta_test_acc"), [0.7, 0.7]),
    "C8": lambda r: ([_set(r, "s1", key("s1", p, "constant_acc"), 0.9) for p in NOISE],
                     _set(r, "s2", key("s2", "constant_acc"), 0.9),
                     _set(r, "s3", key("s3", "constant_acc"), 0.9),
                     _set(r, "s1", key("s1", "clean", "erm", "final_test_acc"), [0.6, 0.62])),
}
DECIDED = {"C1": 2, "C2": 2, "C3": 2, "C4": 4, "C5": 2, "C6": 2, "C7": 1, "C8": 5}
PERTURBED = {"C1": "partly reproduced"}  # one of its two cases fails


@pytest.mark.parametrize("claim", C.CLAIMS, ids=lambda c: c.id)
def test_claim_flips_and_counts_cases(claim):
    base = claim.evaluate(records())
    assert base.status == "reproduced", (claim.id, base)
    assert base.decided == DECIDED[claim.id]
    bad = copy.deepcopy(records())
    PERTURB[claim.id](bad)
    out = claim.evaluate(bad)
    assert out.status == PERTURBED.get(claim.id, "not reproduced"), (claim.id, out)
    assert out.decided == DECIDED[claim.id]


def test_partial_outcomes():
    r = records()
    _set(r, "s1", key("s1", 0.3, "bo_rep", "final_test_acc"), [0.6, 0.6])
    assert C.c4(r).status == "partly reproduced"
    # C1: a seed that never reaches ε (finite ‖∇Φ‖) is a budget case, not a failure
    r = records()
    _set(r, "s0", key("s0", "bo_rep", "calls_to_eps", 1.0), [100.0, float("inf")])
    assert dict(C.c1(r).by_case)["reaches ε"] is None
    for lr in GRID:  # ... but every step size diverging is a failure
        _set(r, "s0", key("s0", "bo_rep", "final_grad_norm", lr), float("inf"))
    assert dict(C.c1(r).by_case)["reaches ε"] is False
    # C2: a baseline that never reaches ε counts at its budget: more calls than BO-REP holds
    r = records()
    for m in BASE:
        _set(r, "s0", key("s0", m, "calls_to_eps", 1.0), [float("inf")] * 2)
    assert C.c2(r).status == "reproduced"
    # ... but a censored baseline cannot be shown to need no more calls than BO-REP
    for m in BASE:
        _set(r, "s0", key("s0", m, "oracle_calls_total"), 10)
    assert C.c2(r).status == "undecided"
    # a tie within the tolerance holds; just outside it does not
    r = records()
    _set(r, "s2", key("s2", "soba", "final_test_acc"), [0.7 + C.ACC_TOL * 0.9] * 2)
    assert C.c6(r).status == "reproduced"
    _set(r, "s2", key("s2", "soba", "final_test_acc"), [0.7 + C.ACC_TOL * 1.5] * 2)
    assert C.c6(r).status == "partly reproduced"


def test_no_learning_makes_accuracy_claims_undecided():
    r = records()
    _set(r, "s2", key("s2", "constant_acc"), 0.7)  # BO-REP ends at the constant predictor
    out = C.c6(r)
    assert out.status == "undecided" and out.decided == 0 and out.cases == 2
    _set(r, "s2", key("s2", "constant_acc"), 0.5)
    assert C.c6(r).status == "reproduced"


def test_s3_guard_reads_the_stored_constant_not_step0_accuracy():
    """S3 fits a fresh head at evaluation, so its step-0 accuracy is far above the constant
    predictor; the old guard (max(a0, 1 − a0) of the curve's first point) called a run that
    stays at 0.8 "no learning". The stored constant (0.5) decides it."""
    r = records()
    r["s3"]["results"]["series"][key("bo_rep", "meta_test_acc")] = [0.8, 0.8, 0.8]
    out = C.c7(r)
    assert out.status == "reproduced" and out.decided == 1
    _set(r, "s3", key("s3", "constant_acc"), 0.8)
    assert C.c7(r).status == "undecided"


def test_learnable_claim_uses_the_best_method_and_its_margin():
    r = records()
    _set(r, "s3", key("s3", "constant_acc"), 0.8 - C.LEARN_MARGIN + 0.01)  # 0.8 < const + 0.15
    assert dict(C.c8(r).by_case)["S3"] is False
    _set(r, "s3", key("s3", "anil", "final_meta_test_acc"), [0.97, 0.99])  # the best decides
    assert dict(C.c8(r).by_case)["S3"] is True


def test_learnable_claim_needs_the_clean_label_reference_above_its_floor():
    r = records()
    assert dict(C.c8(r).by_case)["S1 clean labels"] is True
    _set(r, "s1", key("s1", "clean", "erm", "final_test_acc"), [0.80, 0.81])  # below 0.85
    out = C.c8(r)
    assert dict(out.by_case)["S1 clean labels"] is False and out.status == "partly reproduced"
    _set(r, "s1", key("s1", "clean", "erm", "final_test_acc"), [0.80, 0.92])  # 0.86 ± 0.06
    assert dict(C.c8(r).by_case)["S1 clean labels"] is None
    del r["s1"]["summary"][key("s1", "clean", "erm", "final_test_acc")]
    with pytest.raises(KeyError):
        C.c8(r)


def test_c1_slope_is_measured_on_the_eps_grid():
    r = records()
    out = C.c1(r)
    assert "slope of calls to ε vs 1/ε 2.00" in out.measured
    for e in EPS_GRID[1:]:  # fewer than 3 ε reached: the rate is undecided (budget)
        _set(r, "s0", key("s0", "bo_rep", "calls_to_eps", e), [float("inf")] * 2)
    assert dict(C.c1(r).by_case)["slope ≤ 4"] is None


def test_noninferiority_is_paired_over_seeds():
    """Seed-paired: a constant gap of −0.005 holds; a noisy gap around −0.005 is undecided."""
    r = records()
    _set(r, "s2", key("s2", "bo_rep", "final_test_acc"), [0.7, 0.7])
    _set(r, "s2", key("s2", "soba", "final_test_acc"), [0.705, 0.705])
    assert C.c6(r).status == "reproduced"
    _set(r, "s2", key("s2", "bo_rep", "final_test_acc"), [0.68, 0.73])
    _set(r, "s2", key("s2", "soba", "final_test_acc"), [0.705, 0.715])
    out = C.c6(r)
    assert dict(out.by_case)["soba"] is None


@pytest.mark.parametrize("fig,name", [("s1", "constant"), ("s2", "constant"),
                                      ("s3", "constant"), ("s2", "summary")])
def test_missing_key_raises(fig, name):
    """A summary key a claim needs but cannot find raises KeyError, never passes."""
    r = records()
    claim = {"s1": C.c4, "s2": C.c6, "s3": C.c7}[fig]
    claim(r)  # complete record: evaluates
    if name == "constant":
        for k in [k for k in r[fig]["summary"] if "constant" in k]:
            del r[fig]["summary"][k]
    else:
        del r[fig]["summary"][key(fig, "soba", "final_test_acc")]
    with pytest.raises(KeyError):
        claim(r)
