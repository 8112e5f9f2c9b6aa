"""Every AnyLoss claim flips on a perturbed record and reports how many cases it decided."""

import copy

import pytest

from paper_repro import anyloss as C

METRICS = ("accuracy", "f1", "f0.5", "f2", "gmean", "balanced_accuracy")
SETS = ("random", "breast")
AMPS = (30.0, 50.0, 73.0, 90.0, 110.0)


LOSSES = ("mse", "bce", "anyloss_acc", "anyloss_f1", "anyloss_f0.5", "anyloss_f2",
          "anyloss_gmean", "anyloss_bacc")
N_E1 = 20
# an L sweep where L = 73 wins clearly (by 0.02 > WIN_TIE) and stays within FLAT of L = 50, 90
SWEEP_VALUES = {30.0: 0.80, 50.0: 0.83, 73.0: 0.85, 90.0: 0.83, 110.0: 0.80}


def _e1_table():
    """Per-set values (sets, losses, metrics): BCE 0.8, MSE 0.7, target AnyLoss 0.9 (Acc 0.81)."""
    rows = []
    for _ in range(N_E1):
        rows.append([[0.7 if loss == "mse" else
                      (0.81 if met == "accuracy" else 0.9) if C.TARGET[met] == loss else 0.8
                      for met in METRICS] for loss in LOSSES])
    return rows


def _e1():
    s = {"num_sets": N_E1}
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
    return {"summary": s, "config": {},
            "results": {"series": {"table": _e1_table(), "losses": list(LOSSES),
                                   "metrics": list(METRICS)}}}


def _e2():
    s = {}
    for name in SETS:
        for met in METRICS:
            s[f"{name}/bce/{met}"] = s[f"{name}/mse/{met}"] = 0.7
            s[f"{name}/sol_f1/{met}"] = s[f"{name}/sol_bacc/{met}"] = 0.79
            s[f"{name}/{C.TARGET[met]}/{met}"] = 0.8
            for loss in ("anyloss_acc", "anyloss_f1", "anyloss_bacc"):
                for a in AMPS:
                    s[f"{name}/sweep/{loss}/L{a:g}/{met}"] = SWEEP_VALUES[a]
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
    s.update({f"{n}/{loss}/log_ratio_se": 0.01 for n in SETS for loss in losses})
    return {"summary": s, "config": {"timing_sets": list(SETS), "timing_losses": losses}}


def _conv(rec):
    """A converged-protocol record: flat training losses (relative change 0.001 < 0.01)."""
    rec["summary"].update({"epochs": 1000, "flat/tail": 0.1, "flat/threshold": 0.01,
                           "flat/max_rel_change": 0.001, "flat/bce/max_rel_change": 0.001,
                           "flat/mse/max_rel_change": 0.0005})
    return rec


def _records():
    return {"e1": _e1(), "e2": _e2(), "e3": _e3(), "e4": _e4(), "e1_mlp": _e1(),
            "e2_mlp": _e2(), "e1_mlp_conv": _conv(_e1()), "e2_mlp_conv": _conv(_e2())}


def _lower(met):
    """Target AnyLoss 0.1 below BCE on ``met`` on every set (C8: a decided failure)."""

    def change(rec):
        k, j = METRICS.index(met), LOSSES.index(C.TARGET[met])
        for row in rec["results"]["series"]["table"]:
            row[j][k] = 0.7

    return change


CLAIMS = {c.id: c for c in C.ALL_CLAIMS}
BOTH = {f"{name}/anyloss_f1/f1": 0.72 for name in SETS}  # above BCE, 0.07 below SOL on both
# claim id -> (figure, {summary key: new value} or a function editing the record, expected
# decided cases of the base)
FLIPS = {
    "C1": ("e1", {"sign/f2/mse/rope0.01/right": 0.0}, 10),
    "C2": ("e1", {"sign/accuracy/bce/rope0.01/right": 0.97,
                  "sign/accuracy/bce/rope0.01/rope": 0.03}, 2),
    "C3": ("e1", {"gain/gmean/0.9-1/mean": -0.1}, 4),
    "C4": ("e2", BOTH, 6),
    "C5": ("e2", {f"{name}/sweep/anyloss_bacc/L90/balanced_accuracy": 0.9 for name in SETS}, 3),
    "C6": ("e3", {f"{name}/anyloss_bacc/balanced_accuracy": 0.6 for name in SETS}, 4),
    "C7": ("e4", {"breast/anyloss_f1/ratio_to_bce": 3.0}, 2),
    "C7b": ("e4", {"random/sol_f1/ratio_to_bce": 0.5}, 2),
    "C8": ("e1", _lower("gmean"), 5),
    "C9": ("e2", {"random/sweep/anyloss_bacc/L90/balanced_accuracy": 0.7}, 6),
    "C1m": ("e1_mlp", {"sign/f0.5/bce/rope0.01/right": 0.01}, 10),
    "C2m": ("e1_mlp", {"sign/accuracy/mse/rope0.01/left": 0.96,
                       "sign/accuracy/mse/rope0.01/rope": 0.04}, 2),
    "C3m": ("e1_mlp", {"gain/f1/spearman": -0.2}, 4),
    "C4m": ("e2_mlp", BOTH, 6),
    "C5m": ("e2_mlp", {f"{name}/sweep/anyloss_f1/L50/f1": 0.9 for name in SETS}, 3),
    "C8m": ("e1_mlp", _lower("balanced_accuracy"), 3),
    "C9m": ("e2_mlp", {"breast/sweep/anyloss_f1/L50/f1": 0.6}, 6),
    # the fresh-start protocols read their own records (e1_mlp_conv, e2_mlp_conv)
    "C1c": ("e1_mlp_conv", {"sign/balanced_accuracy/mse/rope0.01/right": 0.01}, 10),
    "C2c": ("e1_mlp_conv", {"sign/accuracy/bce/rope0.01/left": 0.96,
                                 "sign/accuracy/bce/rope0.01/rope": 0.04}, 2),
    "C3c": ("e1_mlp_conv", {"gain/balanced_accuracy/spearman": -0.2}, 4),
    "C8c": ("e1_mlp_conv", _lower("balanced_accuracy"), 3),
    "F1c": ("e1_mlp_conv", {"flat/bce/max_rel_change": 0.05}, 2),
    "C4c": ("e2_mlp_conv", BOTH, 6),
    "F2c": ("e2_mlp_conv", {"flat/mse/max_rel_change": 0.05}, 2),
}


def test_every_claim_has_a_flip_case():
    assert set(FLIPS) == set(CLAIMS)


def test_sources_are_labelled():
    """Paper claims cite where; the MLP and L-sweep claims are chaotic, the timing claims
    machine-timed."""
    paper = {c.id for c in C.ALL_CLAIMS if c.source == "paper"}
    assert paper == {"C1", "C4", "C5", "C7", "C1m", "C4m", "C5m", "C1c", "C4c"}
    assert all(c.where for c in C.ALL_CLAIMS)
    assert {c.id for c in C.ALL_CLAIMS if c.machine == "chaotic"} == {
        c.id for c in C.MLP_CLAIMS + C.CONV_CLAIMS} | {"C5", "C9"}
    assert {c.id for c in C.ALL_CLAIMS if c.machine == "timing"} == {"C7", "C7b"}


@pytest.mark.parametrize("cid", sorted(FLIPS))
def test_claim_holds_on_base_and_flips_on_perturbation(cid):
    fig, change, decided = FLIPS[cid]
    recs = _records()
    base = CLAIMS[cid].evaluate(recs)
    assert base.status == "reproduced", base.measured
    assert base.decided == decided and base.cases == decided
    bad = copy.deepcopy(recs)
    if callable(change):
        change(bad[fig])
    else:
        assert set(change) <= set(bad[fig]["summary"])
        bad[fig]["summary"].update(change)
    out = CLAIMS[cid].evaluate(bad)
    assert out.status in ("partly reproduced", "not reproduced"), out.measured
    assert out.decided == decided


@pytest.mark.parametrize("cid", ["C4", "C5", "C6", "C9"])
def test_a_missing_summary_key_raises(cid):
    fig = CLAIMS[cid].figures[0]
    recs = _records()
    key = {"C4": "breast/sol_bacc/balanced_accuracy", "C6": "random/bce_rus/f1",
           "C5": "breast/sweep/anyloss_f1/L110/f1",
           "C9": "breast/sweep/anyloss_f1/L90/f1"}[cid]
    del recs[fig]["summary"][key]
    with pytest.raises(KeyError):
        CLAIMS[cid].evaluate(recs)


def test_c8_needs_the_per_set_table():
    recs = _records()
    del recs["e1"]["results"]["series"]["table"]
    with pytest.raises(KeyError):
        CLAIMS["C8"].evaluate(recs)


# The paper's own L-sweep table (official README doheonhan/anyloss@fb98590; MLP): Acc/F1/B-Acc.
PAPER_SWEEP = {
    "random": ((.915, .923, .924, .895, .922), (.636, .632, .637, .634, .635),
               (.840, .834, .852, .826, .825)),
    "credit": ((.952, .994, .995, .994, .994), (.935, .942, .945, .945, .944),
               (.950, .915, .962, .956, .871)),
    "breast": ((.998, .995, 1.000, .997, .997), (.980, .980, .989, .980, .969),
               (.949, .950, 1.000, .989, .996)),
    "diabetes": ((.948, .961, .961, .961, .961), (.728, .733, .736, .735, .734),
                 (.837, .859, .882, .832, .826)),
}


def _paper_sweep_record():
    s = {}
    for name, rows in PAPER_SWEEP.items():
        for (loss, met), vals in zip(C.SWEEP.items(), rows, strict=True):
            for a, v in zip(AMPS, vals, strict=True):
                s[f"{name}/sweep/{loss}/L{a:g}/{met}"] = v
    return {"e2": {"summary": s, "config": {"e2_sets": list(PAPER_SWEEP)},
                   "results": {"series": {"amplifiers": list(AMPS)}}}}


def test_c5_on_the_papers_own_sweep_is_not_contradicted_but_c9_is():
    """C5 (the paper's statement) holds where it is decided on the paper's table (L_B: L = 73
    clearly best on Random and Diabetes); the flatness reading C9 fails there (Credit B-Acc
    0.915 at L = 50 vs 0.962 at 73), which is why C9 is only a reading."""
    recs = _paper_sweep_record()
    c5 = CLAIMS["C5"].evaluate(recs)
    assert dict(c5.by_case) == {"anyloss_acc": None, "anyloss_f1": None, "anyloss_bacc": True}
    assert c5.status == "reproduced"
    c9 = dict(CLAIMS["C9"].evaluate(recs).by_case)
    assert c9["credit/balanced_accuracy"] is False and c9["breast/balanced_accuracy"] is False
    assert c9["random/f1"] is True


def test_c5_case_rules():
    recs = _records()
    s = recs["e2"]["summary"]
    # L = 73 ahead by less than WIN_TIE on every set: ties, undecided
    for name in SETS:
        s[f"{name}/sweep/anyloss_acc/L50/accuracy"] = 0.845
    assert dict(CLAIMS["C5"].evaluate(recs).by_case)["anyloss_acc"] is None
    # another L clearly best on one set, L = 73 still clearly best on the other: undecided
    s["random/sweep/anyloss_f1/L30/f1"] = 0.9
    assert dict(CLAIMS["C5"].evaluate(recs).by_case)["anyloss_f1"] is None
    # L = 73 alone decides nothing; L = 73 needs to be swept
    recs["e2"]["results"]["series"]["amplifiers"] = [73.0]
    assert CLAIMS["C5"].evaluate(recs).status == "undecided"
    recs["e2"]["results"]["series"]["amplifiers"] = [30.0, 50.0, 110.0]
    with pytest.raises(KeyError):
        CLAIMS["C5"].evaluate(recs)


def test_paired_rules_use_the_noise_band():
    recs = _records()
    # C4: AnyLoss above BCE on one set and below on the other: within 2 SE, undecided
    recs["e2"]["summary"]["breast/anyloss_f1/f1"] = 0.6
    assert dict(CLAIMS["C4"].evaluate(recs).by_case)["f1/bce"] is None
    # C8: accuracy 0.015 below BCE on every set is within δ = 0.02; 0.03 below is not
    k, j = METRICS.index("accuracy"), LOSSES.index("anyloss_acc")
    table = recs["e1"]["results"]["series"]["table"]
    for row in table:
        row[j][k] = 0.785
    assert dict(CLAIMS["C8"].evaluate(recs).by_case)["accuracy"] is True
    for row in table:
        row[j][k] = 0.77
    assert dict(CLAIMS["C8"].evaluate(recs).by_case)["accuracy"] is False


def test_mlp_claims_decide_only_where_replicas_agree():
    """A second replica (``replica1/`` keys, ``replica_tables``) that disagrees turns a case
    undecided; one that agrees keeps it."""
    recs = _records()
    rec = recs["e1_mlp"]
    rec["summary"]["replicas"] = 2
    rec["summary"].update({f"replica1/{k}": v for k, v in list(rec["summary"].items())
                           if k != "replicas"})
    rec["results"]["series"]["replica_tables"] = [copy.deepcopy(_e1_table())]
    assert CLAIMS["C8m"].evaluate(recs).decided == 3
    _lower("f1")({"results": {"series": {"table": rec["results"]["series"]["replica_tables"][0]}}})
    out = CLAIMS["C8m"].evaluate(recs)
    assert out.decided == 2 and dict(out.by_case)["f1"] is None
    del rec["results"]["series"]["replica_tables"]
    with pytest.raises(KeyError):
        CLAIMS["C8m"].evaluate(recs)


def test_undecided_cases():
    recs = _records()
    # C1: P(win) between 0.05 and 0.95 leaves the case undecided
    recs["e1"]["summary"]["sign/f1/bce/rope0.01/right"] = 0.5
    assert CLAIMS["C1"].evaluate(recs).decided == 9
    # C3: significant ordering needed; p = 0.2 leaves it undecided; tiny bins too
    recs["e1"]["summary"]["gain/f1/spearman_p"] = 0.2
    recs["e1"]["summary"]["gain/f2/0.5-0.7/n"] = 1
    assert CLAIMS["C3"].evaluate(recs).decided == 2
    # C9: no amplifier in [50, 90] besides 73: undecided
    recs["e2"]["results"]["series"]["amplifiers"] = [30.0, 73.0, 110.0]
    assert CLAIMS["C9"].evaluate(recs).status == "undecided"
    # C7b: no SOL timing
    recs["e4"]["config"]["timing_losses"] = ["bce", "anyloss_f1"]
    assert CLAIMS["C7b"].evaluate(recs).status == "undecided"
    # the MLP claims read their own records, not the SLP ones
    recs["e1_mlp"]["summary"]["sign/gmean/bce/rope0.01/right"] = 0.5
    assert CLAIMS["C1m"].evaluate(recs).decided == 9
    assert CLAIMS["C1"].evaluate(recs).decided == 9  # unchanged by the MLP record
    assert CLAIMS["C1c"].evaluate(recs).decided == 10  # nor the converged one


def test_protocols_are_labelled_and_read_their_own_records():
    """C1m-C9m are the official protocol (warm start: a leak), *-conv the converged one."""
    for c in C.MLP_CLAIMS:
        assert c.statement.startswith(C.OFFICIAL_LABEL) and "leak" in c.statement
        assert all(f in ("e1_mlp", "e2_mlp") for f in c.figures)
    conv = {c.id: c for c in C.CONV_CLAIMS}
    assert set(conv) == {"C1c", "C2c", "C3c", "C4c", "C8c", "F1c", "F2c"}
    for cid, c in conv.items():
        assert all(f.endswith("_conv") for f in c.figures), cid
        if not cid.startswith("F"):
            label = C.CONV_E2_LABEL if c.figures == ("e2_mlp_conv",) else C.CONV_LABEL
            assert c.statement.startswith(label)
            assert c.source == CLAIMS[cid.replace("c", "m")].source


def test_flatness_check_needs_its_keys_and_uses_the_threshold():
    recs = _records()
    recs["e1_mlp_conv"]["summary"]["flat/mse/max_rel_change"] = 0.02
    out = CLAIMS["F1c"].evaluate(recs)
    assert dict(out.by_case) == {"bce": True, "mse": False}
    del recs["e1_mlp_conv"]["summary"]["flat/threshold"]
    with pytest.raises(KeyError):
        CLAIMS["F1c"].evaluate(recs)


@pytest.mark.slow  # compiles the experiment's SLP program (~30 s on a loaded 2-core machine)
def test_bench_tiny_record(tmp_path):
    import json

    from bench import anyloss as B

    out = tmp_path / "b.json"
    assert B.main(["--tiny", "--out", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["benchmark"] == "anyloss" and rec["mode"] == "tiny"
    assert set(rec["ratios"]) == {"loss_grad", "slp_fit/breast", "slp_fit_shared_program/breast",
                                  "shared_over_own/breast"}
    for key, r in rec["ratios"].items():
        assert all(v > 0 for v in r.values())
        if not key.startswith("shared_over_own"):  # ratios to BCE; shared_over_own is per loss
            assert r["bce"] == pytest.approx(1.0)


@pytest.mark.parametrize("fig_id", [f for f in C.RECORDED if "mlp" in f])
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
    settings = {"e1_mlp_conv": E.conv_settings, "e2_mlp_conv": E.conv_e2_settings}.get(
        fig_id, E.mlp_settings)
    current = json.loads(json.dumps(dataclasses.asdict(settings(E.FULL))))
    assert used == current, f"{fig_id}: rerun python -m experiments.anyloss --figure {fig_id}"
