"""Every claim of paper_repro/gn_smoothness.py flips on a perturbed record and reports how many
cases it decided."""

import copy

import numpy as np
import pytest

from experiments._keys import key
from paper_repro import gn_smoothness as P
from paper_repro.check import PAPER, READING

CONFIG = {"logistic_iters": 300, "softmax_iters": 200, "fmnist_iters": 200}
LSE_METHODS = ("exact", "weighted_gn", "gauss_newton_gm", "gradient_method")


def _fig_summary(methods, counts, extra=None):
    s = {"tol": 1e-8, "methods": list(methods)}
    for m in methods:
        s[key(m, "iters_to_tol")] = counts.get(m, -1)
        s[key(m, "final_residual")] = 1e-20
        s[key(m, "radius_first")] = 1.0
        s[key(m, "radius_max")] = 300.0
        s[key(m, "radius_last")] = 200.0
        s[key(m, "max_increase")] = -1e-9
        s[key(m, "max_increase_searched")] = -1e-9
        s[key(m, "forced_steps")] = 0
        s[key(m, "forced_before_tol")] = 0
        s[key(m, "work_iters")] = 100
        s[key(m, "time_to_tol_s")] = 1.0
        s[key(m, "time_per_iter_s")] = 0.01
    s.update(extra or {})
    return {"summary": s, "config": CONFIG}


def _real(methods, datasets):
    s = {"datasets": list(datasets), "methods": list(methods), "tol": 1e-9}
    for d in datasets:
        for i, m in enumerate(methods):
            s[key(d, m, "iters_to_tol")] = 10 + 5 * i
            s[key(d, m, "time_to_tol_s")] = 1.0 if m == "fixed_bound" else 2.0 + i
            s[key(d, m, "final_residual")] = 1e-12
            s[key(d, m, "iterations_run")] = 200
            s[key(d, m, "work_iters")] = 200
            s[key(d, m, "time_per_iter_s")] = 0.01
    return {"summary": s, "config": CONFIG}


LINEAR = (-0.1 * np.arange(121)).tolist()  # log10 residual, rate 10^-0.1 per iteration
SUBLINEAR = (-np.log10(np.arange(1, 202))).tolist()  # f ~ 1/k


def _zero_residual():
    s = {"datasets": ["least_squares", "logistic", "softmax"], "tol": 1e-12}
    for d, m in P.ZERO_C1 + P.CONTRASTS:
        s[key(d, m, "iters_to_tol")] = 120 if (d, m) in P.ZERO_C1 else -1
        s[key(d, m, "final_residual")] = 1e-12 if (d, m) in P.ZERO_C1 else 1e-3
        s[key(d, m, "log10_residual")] = LINEAR if (d, m) in P.ZERO_C1 else SUBLINEAR
    return {"summary": s, "config": CONFIG}


def _gamma_rules():
    s = {"tol": 1e-10}
    for m, k, f, g in (("search", 22, 37, 1.5), ("rule_1_over_M", 30, 59, 1.0),
                       ("rule_grad_over_M", 34, 59, 0.9)):
        s[key(m, "iters_to_tol")] = k
        s[key(m, "factorizations")] = f
        s[key(m, "radius_log10_mean")] = g
    return {"summary": s, "config": CONFIG}


@pytest.fixture()
def records():
    recs = {
        "lse": _fig_summary(LSE_METHODS, {"exact": 35, "weighted_gn": 94,
                                          "gauss_newton_gm": 152}),
        "p4": _fig_summary(("exact", "fisher", "gauss_newton_gm", "gradient_method"),
                           {"exact": 30, "fisher": 20, "gauss_newton_gm": 28,
                            "gradient_method": 88}),
        "rosenbrock": _fig_summary(("exact", "gradient_method"), {"exact": 51}),
        "nl_rosenbrock": _fig_summary(("exact", "inexact", "gradient_method"),
                                      {"exact": 64, "inexact": 65}),
        "chebyshev": _fig_summary(("super_newton", "inexact", "gradient_method"), {},
                                  {"d": 1000}),
        "chebyshev_d100": _fig_summary(("super_newton", "inexact", "gradient_method"),
                                       {"super_newton": 32, "inexact": 24}, {"d": 100}),
        "logistic": _real(P.APPROX, ("adult", "mushroom")),
        "softmax": _real(P.SOFTMAX_APPROX, ("digits",)),
        "fmnist": _real(P.SOFTMAX_APPROX, ("fashion_mnist",)),
        "zero_residual": _zero_residual(),
        "gamma_rules": _gamma_rules(),
    }
    for m in ("gauss_newton_gm", "gradient_method"):
        recs["lse"]["summary"][key(m, "radius_last")] = 1e-3
    recs["p4"]["summary"][key("fisher", "time_to_tol_s")] = 0.1
    for fig, v in P.REFERENCE_GM_FINAL.items():
        recs[fig]["summary"][key("gradient_method", "final_residual")] = v
    ch = recs["chebyshev"]["summary"]
    ch[key("inexact", "final_residual")] = 1e-26
    ch[key("super_newton", "final_residual")] = 1e-23
    ch[key("gradient_method", "final_residual")] = 1e-7
    return recs


def _claim(cid):
    return next(c for c in P.CLAIMS if c.id == cid)


def _set(recs, fig, k, v):
    recs = copy.deepcopy(recs)
    recs[fig]["summary"][k] = v
    return recs


def _diverge(recs, fig, d, m):
    recs = _set(recs, fig, key(d, m, "iters_to_tol"), -1)
    return _set(recs, fig, key(d, m, "final_residual"), float("inf"))


PERTURB = {
    "C1": lambda r: _set(r, "lse", key("weighted_gn", "iters_to_tol"), 150),
    "C2": lambda r: _set(r, "p4", key("fisher", "iters_to_tol"), 40),
    "C3": lambda r: _set(r, "rosenbrock", key("exact", "iters_to_tol"), 58),
    "C4": lambda r: _set(r, "nl_rosenbrock", key("inexact", "iters_to_tol"), 80),
    "C5": lambda r: _set(r, "chebyshev_d100", key("inexact", "iters_to_tol"), 40),
    "C6": lambda r: _set(r, "p4", key("fisher", "iters_to_tol"), 31),
    "C7": lambda r: _set(r, "lse", key("exact", "radius_max"), 2.0),
    "C8": lambda r: _set(r, "p4", key("fisher", "time_to_tol_s"), 5.0),
    "C9": lambda r: _set(r, "rosenbrock", key("gradient_method", "final_residual"), 1e-3),
    "C10": lambda r: _set(r, "chebyshev", key("inexact", "final_residual"), 1e-20),
    "C11": lambda r: _set(r, "p4", key("fisher", "max_increase_searched"), 1e-12),
    "C12": lambda r: _diverge(r, "logistic", "adult", "lazy"),
    "C13": lambda r: _set(r, "logistic", key("mushroom", "exact", "iters_to_tol"), 100),
    "C14": lambda r: _set(r, "logistic", key("adult", "fixed_bound", "time_to_tol_s"), 9.0),
    "C15": lambda r: _diverge(r, "softmax", "digits", "diagonal"),
    "C16": lambda r: _set(r, "softmax", key("digits", "exact", "iters_to_tol"), 99),
    "C17": lambda r: _diverge(r, "fmnist", "fashion_mnist", "weighted_gn"),
    "C18": lambda r: _set(r, "fmnist", key("fashion_mnist", "exact", "iters_to_tol"), 99),
    "C19": lambda r: _set(r, "zero_residual", key("softmax", "fisher", "log10_residual"),
                          SUBLINEAR),
    "C20": lambda r: _set(r, "zero_residual", key("softmax", "weighted_gn", "log10_residual"),
                          LINEAR),
    "C21": lambda r: _set(r, "gamma_rules", key("search", "iters_to_tol"), 31),
    "C22": lambda r: _set(r, "gamma_rules", key("search", "radius_log10_mean"), 0.5),
}
DECIDED = {"C1": 3, "C2": 4, "C3": 1, "C4": 2, "C5": 2, "C6": 7, "C7": 4, "C8": 1, "C9": 3,
           "C10": 2, "C11": 9, "C12": 8, "C13": 6, "C14": 6, "C15": 3, "C16": 2,
           "C17": 3, "C18": 2, "C19": 3, "C20": 2, "C21": 4, "C22": 2}


def test_every_claim_has_a_flip_test():
    assert set(PERTURB) == {c.id for c in P.CLAIMS} == set(DECIDED)


@pytest.mark.parametrize("cid", sorted(PERTURB, key=lambda c: int(c[1:])))
def test_claim_flips_on_perturbed_record(records, cid):
    claim = _claim(cid)
    good = claim.evaluate(records)
    assert good.status == "reproduced", good.measured
    assert good.decided == DECIDED[cid]
    bad = claim.evaluate(PERTURB[cid](records))
    assert bad.status in ("partly reproduced", "not reproduced"), bad.measured


def test_never_reached_is_undecided_not_a_win(records):
    recs = _set(records, "rosenbrock", key("exact", "iters_to_tol"), -1)
    assert _claim("C3").evaluate(recs).status == "undecided"
    recs = _set(records, "p4", key("fisher", "time_to_tol_s"), -1.0)
    recs = _set(recs, "p4", key("exact", "time_to_tol_s"), -1.0)
    assert _claim("C8").evaluate(recs).status == "undecided"


def test_tolerance_boundary():
    assert P._within(33, 30) and not P._within(34, 30)
    assert P._within(187, 170) and not P._within(188, 170)


def test_c1_reference_is_the_official_count_at_the_same_tolerance(records):
    """Issue 18: our counts 35/94/152 held against the plot readings 35/95/170 only partly (GN
    152 vs ≈170, the plot's 1e-13 crossing); against the official code's counts at 1e-8 they
    hold, and the old plot reading 170 as a measurement now fails."""
    assert P.REFERENCE_COUNTS["lse"] == {"exact": 35, "weighted_gn": 94, "gauss_newton_gm": 152}
    assert _claim("C1").evaluate(records).status == "reproduced"
    old = _set(records, "lse", key("gauss_newton_gm", "iters_to_tol"), 170)
    assert _claim("C1").evaluate(old).status == "partly reproduced"


def test_c11_covers_accepted_steps_only(records):
    """Issue 18: p = 4 Fisher's 7.65e-57 increase came from a step forced after 41 rejections,
    after convergence: outside Lemma 1, so C11 holds (it failed before); a forced step before
    tol, or an increase on an accepted step, fails."""
    recs = _set(records, "p4", key("fisher", "max_increase"), 7.65e-57)
    recs = _set(recs, "p4", key("fisher", "forced_steps"), 60)
    assert _claim("C11").evaluate(recs).status == "reproduced"
    assert _claim("C11").evaluate(_set(recs, "p4", key("fisher", "forced_before_tol"), 1)
                                  ).status == "partly reproduced"


def test_paper_claim_is_the_zero_c1_linear_rate():
    """Issue 18: C12/C15/C17 (every approximation reaches 1e-9 where C₁ > 0) are readings; the
    abstract's linear rate is C19, on C₁ = 0 problems."""
    src = {c.id: c.source for c in P.CLAIMS}
    assert src["C12"] == src["C15"] == src["C17"] == READING
    assert src["C19"] == PAPER
    assert [c for c, v in src.items() if v == PAPER] == ["C19"]


@pytest.mark.parametrize("seq,reached,expected", [
    (LINEAR, False, True),  # constant rate
    ((-0.002 * np.arange(201) ** 2).tolist(), True, True),  # superlinear
    (SUBLINEAR, False, False),  # f ~ 1/k
    ((-2 * np.log10(np.arange(1, 202))).tolist(), False, False),  # f ~ 1/k²
    ([0.0] * 200, False, False),  # stalled
    ([0.0, -3.0, -6.0, -13.0], True, True),  # tol within LINEAR_MIN_POINTS
    ([0.0, -1.0, -2.0], False, None),  # too short and not reached
])
def test_linear_rate_rule(seq, reached, expected):
    assert P.linear_rate(seq, reached)[0] is expected


@pytest.mark.parametrize("cid,fig,d,m", [("C12", "logistic", "adult", "lazy"),
                                         ("C15", "softmax", "digits", "diagonal"),
                                         ("C17", "fmnist", "fashion_mnist", "weighted_gn")])
def test_unreached_within_the_cap_is_budget_not_failure(records, cid, fig, d, m):
    """Global convergence: a finite run that did not reach tol within our cap is undecided
    (the theory's linear rate hides its constant), a diverged one fails."""
    recs = _set(records, fig, key(d, m, "iters_to_tol"), -1)
    out = _claim(cid).evaluate(recs)
    assert out.status == "reproduced" and out.decided == DECIDED[cid] - 1
    assert _claim(cid).evaluate(_diverge(records, fig, d, m)).status == "partly reproduced"


def test_never_reached_time_is_bounded_by_the_cap(records):
    """C14: a run that never reached tol took > iterations × time per iteration."""
    recs = _set(records, "logistic", key("adult", "fixed_bound", "time_to_tol_s"), -1.0)
    recs = _set(recs, "logistic", key("adult", "fixed_bound", "time_per_iter_s"), 0.1)  # > 20 s
    out = _claim("C14").evaluate(recs)
    assert dict(out.by_case)["adult: fixed_bound faster than exact"] is False
    recs = _set(recs, "logistic", key("adult", "fixed_bound", "time_per_iter_s"), 0.001)  # 0.2 s
    out = _claim("C14").evaluate(recs)
    assert dict(out.by_case)["adult: fixed_bound faster than exact"] is None


@pytest.mark.parametrize("fig,k", [("logistic", ("adult", "exact", "final_residual")),
                                   ("logistic", ("adult", "lazy", "time_per_iter_s")),
                                   ("softmax", ("digits", "exact", "iters_to_tol"))])
def test_missing_key_raises(records, fig, k):
    recs = copy.deepcopy(records)
    del recs[fig]["summary"][key(*k)]
    cid = {"logistic": "C14" if "time" in k[2] else "C12", "softmax": "C15"}[fig]
    with pytest.raises(KeyError):
        _claim(cid).evaluate(recs)
