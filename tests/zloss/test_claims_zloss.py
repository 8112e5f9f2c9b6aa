"""Every claim of paper_repro/zloss.py flips on a perturbed record and reports its decided count."""

import copy

import pytest

from experiments.zloss import (
    KS,
    fm_key,
    fm_seeds_key,
    lm_flat_key,
    lm_key,
    lm_seeds_key,
    sp_key,
    sp_ratio_key,
)
from paper_repro import zloss as Z
from paper_repro.check import NOT_REPRODUCED, PARTLY, REPRODUCED, UNDECIDED

SEED_NOISE = (-0.001, 0.0, 0.001)  # the same per-seed offsets for every loss: paired SE 0


def lm_record(errors, noise=SEED_NOISE, drop=0.0):
    """errors: loss -> list of top-k test errors (one per k in KS), spread over 3 seeds;
    ``drop``: the relative drop of every curve over the last 20 % of steps (0: flat)."""
    s = {"lm/num_test": 10000}
    for loss, vals in errors.items():
        for k, v in zip(KS, vals, strict=True):
            s[lm_key(loss, k)] = v
            s[lm_seeds_key(loss, k)] = [v + e for e in noise]
            for split in ("valid", "test"):
                s[lm_flat_key(loss, k, split)] = drop
    return {"lm_topk": {"summary": s}}


BASE_LM = {  # softmax best at top-1, Z-loss best from k = 10, the other spherical ones worse
    "log_softmax": [0.70, 0.50, 0.40, 0.30, 0.20, 0.15],
    "log_taylor_softmax": [0.80, 0.60, 0.50, 0.40, 0.30, 0.25],
    "log_spherical_softmax": [0.85, 0.65, 0.55, 0.45, 0.35, 0.30],
    "z_loss": [0.75, 0.52, 0.37, 0.27, 0.17, 0.12],
}


def speed_record(slope, ratio, ratio_h, max_d=1_000_000, slope_se=0.01):
    s = {"speed/factored_zloss/loglog_slope": slope, "speed/naive_softmax/loglog_slope": 1.0,
         "speed/factored_zloss/loglog_slope_se": slope_se,
         "speed/max_D": max_d, "speed/dim": 128, "speed/batch": 1, "speed/backend": "cpu",
         sp_ratio_key("naive_softmax"): ratio, sp_ratio_key("hsoftmax"): ratio_h,
         sp_key("factored_zloss", max_d): 1e-4, sp_key("hsoftmax", max_d): 1e-4 * ratio_h}
    return {"speed": {"summary": s}}


def fm_record(taylor, softmax, taylor_noise=(0.0, 0.0, 0.0)):
    s = {}
    for name, v in (("log_softmax", softmax), ("log_taylor_softmax", taylor),
                    ("log_spherical_softmax", 0.2), ("z_loss", 0.2)):
        noise = taylor_noise if name == "log_taylor_softmax" else (0.0, 0.0, 0.0)
        s[fm_key(name)] = v
        s[fm_seeds_key(name)] = [v + e for e in noise]
    return {"fmnist": {"summary": s, "seeds": [1, 2, 3]}}


def test_z1_flips_and_counts():
    out = Z.z1(lm_record(BASE_LM))
    assert out.status == REPRODUCED and out.decided == out.cases == 12
    bad = copy.deepcopy(BASE_LM)
    bad["z_loss"][3] = 0.46  # worse than both others at k = 20
    out = Z.z1(lm_record(bad))
    assert out.status == PARTLY and "top20" in out.measured
    tie = copy.deepcopy(BASE_LM)
    tie["z_loss"][0] = 0.8 - Z.LM_MARGIN / 2  # better than Taylor, but within the margin
    assert Z.z1(lm_record(tie)).decided == 11


def test_lm_seed_spread_makes_a_case_undecided():
    """A mean difference beyond the margin but within 2 SE of the paired seeds: undecided."""
    errs = copy.deepcopy(BASE_LM)
    rec = lm_record(errs)
    s = rec["lm_topk"]["summary"]
    s[lm_seeds_key("z_loss", 1)] = [0.75, 0.60, 0.90]   # mean 0.75 vs 0.80, 0.85; SE large
    out = Z.z1(rec)
    assert out.decided == 10 and out.status == REPRODUCED
    assert dict(out.by_case)["top1/log_taylor_softmax"] is None


def test_z2_flips():
    assert Z.z2(lm_record(BASE_LM)).status == REPRODUCED
    worse = copy.deepcopy(BASE_LM)
    worse["z_loss"] = [v + 0.1 for v in BASE_LM["log_softmax"]]
    out = Z.z2(lm_record(worse))
    assert out.status == NOT_REPRODUCED and out.decided == 5
    tied = copy.deepcopy(BASE_LM)
    tied["z_loss"] = list(BASE_LM["log_softmax"])
    out = Z.z2(lm_record(tied))
    assert out.status == UNDECIDED and out.decided == 0


# claim: (a k it compares, its cases at that k, its cases, a k it does not compare or None)
GATED = {"z1": (20, 2, 12, None), "z2": (20, 1, 5, 1), "z3": (1, 3, 3, 20)}


@pytest.mark.parametrize("claim", sorted(GATED))
def test_unflattened_curves_make_lm_claims_undecided(claim):
    """A comparison on curves still falling over the last 20 % of steps is undecided: every
    case when no curve flattened, only that k's cases when one loss's top-k curve did not."""
    fn = getattr(Z, claim)
    k, at_k, n, unused = GATED[claim]
    out = fn(lm_record(BASE_LM, drop=Z.FLAT_REL))   # at the limit: flat
    assert out.status == REPRODUCED and out.decided == n
    out = fn(lm_record(BASE_LM, drop=1.5 * Z.FLAT_REL))
    assert out.status == UNDECIDED and out.decided == 0 and "NOT flat" in out.measured
    rec = lm_record(BASE_LM)
    rec["lm_topk"]["summary"][lm_flat_key("z_loss", k, "test")] = 1.5 * Z.FLAT_REL
    out = fn(rec)
    assert out.decided == n - at_k and f"NOT flat at top-{k} (z_loss test 3.0 %)" in out.measured
    assert out.status == (UNDECIDED if n == at_k else REPRODUCED)
    if unused is not None:  # a curve still falling at a k the claim does not compare: no effect
        other = lm_record(BASE_LM)
        other["lm_topk"]["summary"][lm_flat_key("z_loss", unused, "valid")] = 0.5
        assert fn(other).decided == n
    rising = lm_record(BASE_LM, drop=-0.05)   # past the plateau (rising): flat enough
    assert fn(rising).status == REPRODUCED
    gone = lm_record(BASE_LM)
    del gone["lm_topk"]["summary"][lm_flat_key("z_loss", k)]
    with pytest.raises(KeyError):
        fn(gone)


def test_flatness_gate_can_turn_a_failure_into_undecided_but_never_into_a_pass():
    """Z-loss worse than every other loss at every k: Z1 and Z2 fail on flat curves. With the
    curves of k = 5 … 50 still falling, Z1 still fails on the cases it can decide (k = 1, 100);
    Z2 (some k ≥ 5) decides only top-100, a failure, and with four cases open it is undecided."""
    worse = copy.deepcopy(BASE_LM)
    worse["z_loss"] = [v + 0.2 for v in BASE_LM["log_spherical_softmax"]]
    assert Z.z1(lm_record(worse)).status == NOT_REPRODUCED
    assert Z.z2(lm_record(worse)).status == NOT_REPRODUCED
    rec = lm_record(worse)
    for k in (5, 10, 20, 50):
        rec["lm_topk"]["summary"][lm_flat_key("z_loss", k, "valid")] = 0.03
    out = Z.z1(rec)
    assert out.status == NOT_REPRODUCED and out.decided == 4
    out = Z.z2(rec)
    assert out.status == UNDECIDED and out.decided == 1


def test_z3_flips():
    out = Z.z3(lm_record(BASE_LM))
    assert out.status == REPRODUCED and out.decided == 3
    bad = copy.deepcopy(BASE_LM)
    bad["z_loss"][0] = 0.6
    assert Z.z3(lm_record(bad)).status == PARTLY


def test_s1_flips_and_undecided_below_1e6():
    assert Z.s1(speed_record(0.02, 500.0, 5.0)).status == REPRODUCED
    assert Z.s1(speed_record(0.5, 500.0, 5.0)).status == PARTLY
    assert Z.s1(speed_record(0.5, 50.0, 5.0)).status == NOT_REPRODUCED
    out = Z.s1(speed_record(0.02, 50.0, 5.0, max_d=100_000))
    assert out.decided == 1 and out.cases == 2
    # a slope of 0.101 against 0.1 is timing noise: undecided, whatever its SE
    assert dict(Z.s1(speed_record(0.101, 500.0, 5.0)).by_case)[
        f"factored slope ≤ {Z.MAX_SLOPE:g}"] is None
    gone = speed_record(0.02, 500.0, 5.0)
    del gone["speed"]["summary"]["speed/factored_zloss/loglog_slope_se"]
    with pytest.raises(KeyError):
        Z.s1(gone)


def test_s2_flips():
    assert Z.s2(speed_record(0.0, 500.0, 5.0)).status == REPRODUCED
    assert Z.s2(speed_record(0.0, 500.0, 3.0)).status == NOT_REPRODUCED
    assert Z.s2(speed_record(0.0, 500.0, 5.0, max_d=3000)).status == UNDECIDED


def test_i1_flips():
    assert Z.i1(fm_record(0.10, 0.12)).status == REPRODUCED
    assert Z.i1(fm_record(0.12, 0.10)).status == NOT_REPRODUCED
    out = Z.i1(fm_record(0.100, 0.101))   # within the margin
    assert out.status == UNDECIDED and out.decided == 0
    out = Z.i1(fm_record(0.10, 0.12, taylor_noise=(-0.05, 0.0, 0.05)))  # within 2 SE
    assert out.status == UNDECIDED


def test_accuracy_claims_need_per_seed_values():
    rec = lm_record(BASE_LM)
    del rec["lm_topk"]["summary"][lm_seeds_key("z_loss", 1)]
    with pytest.raises(KeyError):
        Z.z1(rec)
    fm = fm_record(0.10, 0.12)
    del fm["fmnist"]["summary"][fm_seeds_key("log_softmax")]
    with pytest.raises(KeyError):
        Z.i1(fm)


@pytest.mark.parametrize("claim", Z.CLAIMS, ids=lambda c: c.id)
def test_sources(claim):
    want = {"Z1": "paper", "Z2": "paper", "Z3": "reading", "S1": "paper", "S2": "paper",
            "I1": "paper"}
    assert claim.source == want[claim.id]
    if claim.source == "paper":
        assert "abstract" in claim.where


@pytest.mark.parametrize("claim", Z.CLAIMS, ids=lambda c: c.id)
def test_every_claim_reads_declared_figures(claim):
    assert set(claim.figures) <= {"lm_topk", "speed", "fmnist", "invariance"}
