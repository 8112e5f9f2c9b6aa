"""Every AnyLoss claim flips on a perturbed record and reports how many cases it decided."""

import copy

import pytest

from paper_repro import anyloss as C

METRICS = ("accuracy", "f1", "f0.5", "f2", "gmean", "balanced_accuracy")
SETS = ("random", "breast")
AMPS = (30.0, 50.0, 73.0, 90.0, 110.0)


def _e1():
    s = {"num_sets": 20}
    for met in METRICS:
        for base in ("bce", "mse"):
            for r in (0.01, 0.05):
                win = met != "accuracy"
                s[f"sign/{met}/{base}/rope{r:g}/left"] = 0.0
                s[f"sign/{met}/{base}/rope{r:g}/rope"] = 0.0 if win else 1.0
                s[f"sign/{met}/{base}/rope{r:g}/right"] = 1.0 if win else 0.0
        for lo, hi, g in ((0.5, 0.7, 0.01), (0.7, 0.8, 0.03), (0.8, 0.9, 0.05), (0.9, 1.0, 0.2)):
            s[f"gain/{met}/{lo:g}-{hi:g}/mean"] = g
            s[f"gain/{met}/{lo:g}-{hi:g}/n"] = 5
        s[f"gain/{met}/spearman"] = 0.6
        s[f"gain/{met}/spearman_p"] = 0.001
        s[f"mean/bce/{met}"] = 0.8
        s[f"mean/{C.TARGET[met]}/{met}"] = 0.81 if met == "accuracy" else 0.9
    return {"summary": s, "config": {}}


def _e2():
    s = {}
    for name in SETS:
        for met in METRICS:
            s[f"{name}/bce/{met}"] = s[f"{name}/mse/{met}"] = 0.7
            s[f"{name}/sol_f1/{met}"] = s[f"{name}/sol_bacc/{met}"] = 0.75
            s[f"{name}/{C.TARGET[met]}/{met}"] = 0.8
            for loss in ("anyloss_acc", "anyloss_f1", "anyloss_bacc"):
                for a in AMPS:
                    s[f"{name}/sweep/{loss}/L{a:g}/{met}"] = 0.8
    return {"summary": s, "config": {"e2_sets": list(SETS)},
            "results": {"series": {"amplifiers": list(AMPS)}}}


def _e3():
    s = {}
    for name in SETS:
        for met in METRICS:
            s[f"{name}/bce_smote/{met}"] = s[f"{name}/bce_rus/{met}"] = 0.7
            s[f"{name}/{C.TARGET[met]}/{met}"] = 0.8
    return {"summary": s, "config": {"e2_sets": list(SETS)}}


def _e4():
    losses = ["bce", "anyloss_acc", "anyloss_f1", "anyloss_bacc", "sol_f1"]
    s = {f"{n}/{loss}/ratio_to_bce": (1.3 if loss.startswith("sol") else 1.0)
         for n in SETS for loss in losses}
    return {"summary": s, "config": {"timing_sets": list(SETS), "timing_losses": losses}}


def _records():
    return {"e1": _e1(), "e2": _e2(), "e3": _e3(), "e4": _e4(), "e1_mlp": _e1(),
            "e2_mlp": _e2()}


CLAIMS = {c.id: c for c in C.ALL_CLAIMS}
# claim id -> (figure, {summary key: new value}, expected decided cases of the base)
FLIPS = {
    "C1": ("e1", {"sign/f2/mse/rope0.01/right": 0.0}, 10),
    "C2": ("e1", {"sign/accuracy/bce/rope0.01/right": 0.97,
                  "sign/accuracy/bce/rope0.01/rope": 0.03}, 2),
    "C3": ("e1", {"gain/gmean/0.9-1/mean": -0.1}, 4),
    "C4": ("e2", {"breast/anyloss_f1/f1": 0.69}, 4),
    "C5": ("e2", {"random/sweep/anyloss_bacc/L90/balanced_accuracy": 0.7}, 6),
    "C6": ("e3", {"random/anyloss_bacc/balanced_accuracy": 0.6}, 4),
    "C7": ("e4", {"breast/anyloss_f1/ratio_to_bce": 3.0}, 2),
    "C7b": ("e4", {"random/sol_f1/ratio_to_bce": 0.5}, 2),
    "C8": ("e1", {"mean/anyloss_gmean/gmean": 0.7}, 5),
    "C1m": ("e1_mlp", {"sign/f0.5/bce/rope0.01/right": 0.01}, 10),
    "C2m": ("e1_mlp", {"sign/accuracy/mse/rope0.01/left": 0.96,
                       "sign/accuracy/mse/rope0.01/rope": 0.04}, 2),
    "C3m": ("e1_mlp", {"gain/f1/spearman": -0.2}, 4),
    "C4m": ("e2_mlp", {"random/anyloss_bacc/balanced_accuracy": 0.72}, 4),
    "C5m": ("e2_mlp", {"breast/sweep/anyloss_f1/L50/f1": 0.6}, 6),
    "C8m": ("e1_mlp", {"mean/anyloss_bacc/balanced_accuracy": 0.7}, 3),
}


def test_every_claim_has_a_flip_case():
    assert set(FLIPS) == set(CLAIMS)


@pytest.mark.parametrize("cid", sorted(FLIPS))
def test_claim_holds_on_base_and_flips_on_perturbation(cid):
    fig, change, decided = FLIPS[cid]
    recs = _records()
    base = CLAIMS[cid].evaluate(recs)
    assert base.status == "reproduced", base.measured
    assert base.decided == decided and base.cases == decided
    bad = copy.deepcopy(recs)
    assert set(change) <= set(bad[fig]["summary"])
    bad[fig]["summary"].update(change)
    out = CLAIMS[cid].evaluate(bad)
    assert out.status in ("partly reproduced", "not reproduced"), out.measured
    assert out.decided == decided


def test_undecided_cases():
    recs = _records()
    # C1: P(win) between 0.05 and 0.95 leaves the case undecided
    recs["e1"]["summary"]["sign/f1/bce/rope0.01/right"] = 0.5
    assert CLAIMS["C1"].evaluate(recs).decided == 9
    # C3: significant ordering needed; p = 0.2 leaves it undecided; tiny bins too
    recs["e1"]["summary"]["gain/f1/spearman_p"] = 0.2
    recs["e1"]["summary"]["gain/f2/0.5-0.7/n"] = 1
    assert CLAIMS["C3"].evaluate(recs).decided == 2
    # C5: no amplifier in [50, 90] besides 73: undecided
    recs["e2"]["results"]["series"]["amplifiers"] = [30.0, 73.0, 110.0]
    assert CLAIMS["C5"].evaluate(recs).status == "undecided"
    # C7b: no SOL timing
    recs["e4"]["config"]["timing_losses"] = ["bce", "anyloss_f1"]
    assert CLAIMS["C7b"].evaluate(recs).status == "undecided"
    # the MLP claims read their own records, not the SLP ones
    recs["e1_mlp"]["summary"]["sign/gmean/bce/rope0.01/right"] = 0.5
    assert CLAIMS["C1m"].evaluate(recs).decided == 9
    assert CLAIMS["C1"].evaluate(recs).decided == 9  # unchanged by the MLP record


@pytest.mark.slow  # compiles the experiment's SLP program (~30 s on a loaded 2-core machine)
def test_bench_tiny_record(tmp_path):
    import json

    from bench import anyloss as B

    out = tmp_path / "b.json"
    assert B.main(["--tiny", "--out", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["benchmark"] == "anyloss" and rec["mode"] == "tiny"
    assert set(rec["ratios"]) == {"loss_grad", "slp_fit/breast"}
    for r in rec["ratios"].values():
        assert r["bce"] == pytest.approx(1.0) and all(v > 0 for v in r.values())


@pytest.mark.parametrize("fig_id", ["e1_mlp", "e2_mlp"])
def test_committed_mlp_records_use_the_current_mlp_settings(fig_id):
    """The checker compares only ``config`` (whose ``mlp`` field is None = the official MLP), so
    the MLP settings a record used are compared here with the current defaults: changing
    ``MLP_FULL`` without regenerating the MLP records fails this test."""
    import dataclasses
    import json

    from experiments import anyloss as E
    from paper_repro import check

    rec = json.loads((check.REPO_ROOT / "figures" / "anyloss" / f"{fig_id}.json").read_text())
    used = rec["results"]["series"]["mlp_config"]
    current = json.loads(json.dumps(dataclasses.asdict(E.mlp_settings(E.FULL))))
    assert used == current, f"{fig_id}: rerun python -m experiments.anyloss --figure {fig_id}"
