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
    return {
        "s0": {"summary": s0, "config": {"s0_step_sizes": list(GRID), "s0_periods": list(PERIODS),
                                         "s0_methods": ["bo_rep", *BASE]}},
        "s1": {"summary": s1, "config": {"s1_noise": list(NOISE),
                                         "s1_methods": ["bo_rep", *BASE]}},
        "s2": {"summary": s2, "config": {"s2_methods": ["bo_rep", *BASE]}},
        "s3": {"summary": s3, "config": {"s3_methods": ["bo_rep", "anil"]}},
    }


def _set(recs, fig, k, v):
    recs[fig]["summary"][k] = v


PERTURB = {
    "C1": lambda r: [_set(r, "s0", key("s0", "bo_rep", "final_grad_norm", lr), 5.0)
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
    _set(r, "s0", key("s0", "bo_rep", "final_grad_norm", 1.0), 5.0)  # 2/3 < 70%
    assert C.c1(r).status == "partly reproduced"
    # a tie within the tolerance holds; just outside it does not
    r = records()
    _set(r, "s2", key("s2", "soba", "final_test_acc"), [0.7 + C.ACC_TOL * 0.9] * 2)
    assert C.c6(r).status == "reproduced"
    _set(r, "s2", key("s2", "soba", "final_test_acc"), [0.7 + C.ACC_TOL * 1.5] * 2)
    assert C.c6(r).status == "partly reproduced"


def test_no_learning_makes_accuracy_claims_undecided():
    r = records()
    r["s2"]["results"] = {"series": {key("bo_rep", "test_acc"): [0.538, 0.538, 0.538]}}
    out = C.c6(r)
    assert out.status == "undecided" and out.decided == 0 and out.cases == 2
    r["s2"]["results"]["series"][key("bo_rep", "test_acc")] = [0.462, 0.538, 0.538]  # majority
    assert C.c6(r).status == "undecided"
    r["s2"]["results"]["series"][key("bo_rep", "test_acc")] = [0.5, 0.6, 0.7]
    assert C.c6(r).status == "reproduced"
