"""Every BO-REP claim flips on a perturbed record and reports how many cases it decided."""

import copy

import pytest

from experiments.bo_rep import key
from paper_repro import bo_rep as C

GRID = (0.01, 0.1, 1.0)
PERIODS = (1, 2, 4)
NOISE = (0.1, 0.3)
BASE = ("soba", "ma_soba")


def records():
    s0 = {key("s0", "eps"): 1.0}
    for lr in GRID:
        s0[key("s0", "bo_rep", "final_grad_norm", lr)] = 0.1
        for m in BASE:
            s0[key("s0", m, "final_grad_norm", lr)] = 0.1 if lr == 0.01 else float("inf")
    for p in PERIODS:
        s0[key("s0", "period", p, "final_grad_norm")] = 0.2
        s0[key("s0", "period", p, "oracle_calls")] = 100 // p
    s1 = {}
    for p in NOISE:
        s1[key("s1", p, "bo_rep", "final_test_acc")] = [0.80, 0.82]
        s1[key("s1", p, "bo_rep", "weight_auroc")] = [0.7, 0.72]
        for m in BASE:
            s1[key("s1", p, m, "final_test_acc")] = [0.78, 0.79]
    s2 = {key("s2", m, "final_test_acc"): [0.7, 0.7] for m in ("bo_rep", *BASE)}
    s3 = {key("s3", m, "final_meta_test_acc"): [0.6, 0.6] for m in ("bo_rep", "anil")}
    learned = [0.5, 0.6, 0.9]  # BO-REP's test-accuracy curve leaves the constant predictor
    s1_curves = {key(p, "bo_rep", "test_acc"): learned for p in NOISE}
    return {
        "s0": {"summary": s0, "config": {"s0_step_sizes": list(GRID), "s0_periods": list(PERIODS),
                                         "s0_methods": ["bo_rep", *BASE]}},
        "s1": {"summary": s1, "config": {"s1_noise": list(NOISE),
                                         "s1_methods": ["bo_rep", *BASE]},
               "results": {"series": s1_curves}},
        "s2": {"summary": s2, "config": {"s2_methods": ["bo_rep", *BASE]},
               "results": {"series": {key("bo_rep", "test_acc"): learned}}},
        "s3": {"summary": s3, "config": {"s3_methods": ["bo_rep", "anil"]},
               "results": {"series": {key("bo_rep", "meta_test_acc"): learned}}},
    }


def _set(recs, fig, k, v):
    recs[fig]["summary"][k] = v


PERTURB = {
    "C1": lambda r: [_set(r, "s0", key("s0", "bo_rep", "final_grad_norm", lr), float("inf"))
                     for lr in GRID],
    "C2": lambda r: [_set(r, "s0", key("s0", m, "final_grad_norm", lr), 0.1)
                     for m in BASE for lr in GRID],
    "C3": lambda r: [_set(r, "s0", key("s0", "period", p, "final_grad_norm"), 3.0)
                     for p in PERIODS[1:]],
    "C4": lambda r: [_set(r, "s1", key("s1", p, "bo_rep", "final_test_acc"), [0.5, 0.5])
                     for p in NOISE],
    "C5": lambda r: [_set(r, "s1", key("s1", p, "bo_rep", "weight_auroc"), [0.5, 0.5])
                     for p in NOISE],
    "C6": lambda r: _set(r, "s2", key("s2", "bo_rep", "final_test_acc"), [0.5, 0.5]),
    "C7": lambda r: _set(r, "s3", key("s3", "bo_rep", "final_meta_test_acc"), [0.5, 0.5]),
}
DECIDED = {"C1": 3, "C2": 2, "C3": 2, "C4": 4, "C5": 2, "C6": 2, "C7": 1}


@pytest.mark.parametrize("claim", C.CLAIMS, ids=lambda c: c.id)
def test_claim_flips_and_counts_cases(claim):
    base = claim.evaluate(records())
    assert base.status == "reproduced", (claim.id, base)
    assert base.decided == DECIDED[claim.id]
    bad = copy.deepcopy(records())
    PERTURB[claim.id](bad)
    out = claim.evaluate(bad)
    assert out.status == "not reproduced", (claim.id, out)
    assert out.decided == DECIDED[claim.id]


def test_partial_outcomes():
    r = records()
    _set(r, "s1", key("s1", 0.3, "bo_rep", "final_test_acc"), [0.5, 0.5])
    assert C.c4(r).status == "partly reproduced"
    r = records()
    _set(r, "s0", key("s0", "bo_rep", "final_grad_norm", 1.0), float("inf"))  # 2/3 < 70%
    assert C.c1(r).status == "partly reproduced"
    # a finite, unreached ‖∇Φ‖ is a budget case: undecided, not a failure
    _set(r, "s0", key("s0", "bo_rep", "final_grad_norm", 1.0), 5.0)
    out = C.c1(r)
    assert out.status == "undecided" and out.decided == 0
    _set(r, "s0", key("s0", "bo_rep", "final_grad_norm", 0.1), float("inf"))  # 1 held, 1 open
    assert C.c1(r).status == "partly reproduced"
    # a tie within the tolerance holds; just outside it does not
    r = records()
    _set(r, "s2", key("s2", "soba", "final_test_acc"), [0.7 + C.ACC_TOL * 0.9] * 2)
    assert C.c6(r).status == "reproduced"
    _set(r, "s2", key("s2", "soba", "final_test_acc"), [0.7 + C.ACC_TOL * 1.5] * 2)
    assert C.c6(r).status == "partly reproduced"


def test_no_learning_makes_accuracy_claims_undecided():
    r = records()
    r["s2"]["results"]["series"][key("bo_rep", "test_acc")] = [0.538, 0.538, 0.538]
    out = C.c6(r)
    assert out.status == "undecided" and out.decided == 0 and out.cases == 2
    r["s2"]["results"]["series"][key("bo_rep", "test_acc")] = [0.462, 0.538, 0.538]  # majority
    assert C.c6(r).status == "undecided"
    r["s2"]["results"]["series"][key("bo_rep", "test_acc")] = [0.5, 0.6, 0.7]
    assert C.c6(r).status == "reproduced"


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


@pytest.mark.parametrize("fig,where", [("s1", "results"), ("s2", "results"),
                                       ("s3", "results"), ("s2", "summary")])
def test_missing_key_raises(fig, where):
    """A curve or summary key a claim needs but cannot find raises KeyError, never passes."""
    r = records()
    claim = {"s1": C.c4, "s2": C.c6, "s3": C.c7}[fig]
    claim(r)  # complete record: evaluates
    if where == "results":
        r[fig]["results"]["series"].clear()
    else:
        del r[fig]["summary"][key(fig, "soba", "final_test_acc")]
    with pytest.raises(KeyError):
        claim(r)
