"""Claims of Han, Moniz, Chawla (KDD 2024), AnyLoss, evaluated on ``figures/anyloss/*.json``.

C1–C7 are the spec's claims (shared/specs/anyloss.md §2); C8 compares the direction of our mean
table with the paper's 102-data-set SLP table. The paper's numbers live only here.
``paper_repro/anyloss.md`` documents each outcome with the measured numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from experiments.anyloss import replica_prefixes
from paper_repro import stats
from paper_repro.check import CHAOTIC, TIMING, Claim, Outcome

SLUG = "anyloss"
# AnyLoss variant aimed at each metric (the keys of the records)
TARGET = {"accuracy": "anyloss_acc", "f1": "anyloss_f1", "f0.5": "anyloss_f0.5",
          "f2": "anyloss_f2", "gmean": "anyloss_gmean", "balanced_accuracy": "anyloss_bacc"}
SOL_TARGET = {"f1": "sol_f1", "balanced_accuracy": "sol_bacc"}
C1_METRICS = ("f1", "f0.5", "f2", "gmean", "balanced_accuracy")
BASELINES = ("bce", "mse")
ROPE = 0.01  # the paper's primary ROPE
DECISIVE = 0.95  # a posterior probability at least this decides a sign-test case
C3_METRICS = ("f1", "f2", "gmean", "balanced_accuracy")
BIN_LOW, BIN_HIGH = "0.5-0.7", "0.9-1"
MIN_BIN = 3  # fewer data sets in a bin: that case is undecided
SOL_MARGIN = 0.01  # "comparable to SOL": at most this far below
FLAT = 0.03  # C5: |M(L) − M(73)| ≤ FLAT for L ∈ {50, 90}
DEFAULT_SLACK = 0.02  # C5: M(73) ≥ max_L M(L) − slack
RESAMPLE_MARGIN = 0.02  # C6: "competitive": at most this far below the best resampling
TIME_RATIO = 1.25  # C7: AnyLoss time ≤ 1.25 × BCE
# The paper's 102-set SLP means (spec §2, computed from the official CSVs): BCE vs target AnyLoss.
PAPER_SLP_MEANS = {"f1": (0.561, 0.673), "f2": (0.534, 0.753), "gmean": (0.620, 0.810),
                   "balanced_accuracy": (0.739, 0.815), "accuracy": (0.881, 0.887)}
# The paper's 102-set MLP means (spec §2; only F1, B-Acc and Acc are quoted there).
PAPER_MLP_MEANS = {"f1": (0.615, 0.727), "balanced_accuracy": (0.771, 0.832),
                   "accuracy": (0.894, 0.886)}
ACC_EQUIV = 0.02  # C8: |mean Acc(L_A) − mean Acc(BCE)| ≤ this, as the paper's 0.006


def _sign(s: Mapping[str, Any], met: str, base: str) -> dict[str, float]:
    return {side: float(s[f"sign/{met}/{base}/rope{ROPE:g}/{side}"])
            for side in ("left", "rope", "right")}


def c1(records: Mapping[str, Any], fig: str = "e1") -> Outcome:
    s = records[fig]["summary"]
    cases, parts = {}, []
    for met in C1_METRICS:
        for base in BASELINES:
            p = _sign(s, met, base)
            cases[f"{met}/{base}"] = (True if p["right"] >= DECISIVE
                                      else False if p["right"] <= 1 - DECISIVE else None)
            parts.append(f"{met} vs {base}: P(win)={p['right']:.3f}")
    return Outcome.from_cases(cases, f"{s['num_sets']} sets; " + "; ".join(parts),
                              f"Bayesian sign test, ROPE {ROPE:g}: P(AnyLoss better) ≥ "
                              f"{DECISIVE} holds, ≤ {1 - DECISIVE:.2f} fails, else undecided")


def c2(records: Mapping[str, Any], fig: str = "e1") -> Outcome:
    s = records[fig]["summary"]
    cases, parts = {}, []
    for base in BASELINES:
        p = _sign(s, "accuracy", base)
        cases[base] = (True if p["rope"] >= DECISIVE
                       else False if max(p["left"], p["right"]) >= DECISIVE else None)
        parts.append(f"L_A vs {base}: P(left/rope/right)={p['left']:.3f}/{p['rope']:.3f}/"
                     f"{p['right']:.3f}")
    return Outcome.from_cases(cases, "; ".join(parts),
                              f"accuracy, ROPE {ROPE:g}: P(rope) ≥ {DECISIVE} holds; P(left) or "
                              f"P(right) ≥ {DECISIVE} fails; else undecided")


def c3(records: Mapping[str, Any], fig: str = "e1") -> Outcome:
    s = records[fig]["summary"]
    cases, parts = {}, []
    for met in C3_METRICS:
        hi, lo = s[f"gain/{met}/{BIN_HIGH}/mean"], s[f"gain/{met}/{BIN_LOW}/mean"]
        n_hi, n_lo = s[f"gain/{met}/{BIN_HIGH}/n"], s[f"gain/{met}/{BIN_LOW}/n"]
        rho, pval = float(s[f"gain/{met}/spearman"]), float(s[f"gain/{met}/spearman_p"])
        if min(n_hi, n_lo) < MIN_BIN or math.isnan(hi) or math.isnan(lo):
            cases[met] = None
        elif hi <= lo or rho <= 0:
            cases[met] = False
        else:
            cases[met] = True if pval < 0.05 else None
        parts.append(f"{met}: gain {BIN_HIGH} {hi:+.3f} (n={n_hi}) vs {BIN_LOW} {lo:+.3f} "
                     f"(n={n_lo}), Spearman ρ={rho:+.2f} (p={pval:.2g})")
    return Outcome.from_cases(cases, "; ".join(parts),
                              "gain over BCE larger in the most imbalanced bin than in the least "
                              "and Spearman ρ(majority share, gain) > 0 with p < 0.05; ordering "
                              f"without significance undecided; bins with < {MIN_BIN} sets "
                              "undecided")


def c4(records: Mapping[str, Any], fig: str = "e2") -> Outcome:
    rec = records[fig]
    s = rec["summary"]
    cases, parts = {}, []
    for name in rec["config"]["e2_sets"]:
        for met in ("f1", "balanced_accuracy"):
            ours = s[f"{name}/{TARGET[met]}/{met}"]
            bce, mse = s[f"{name}/bce/{met}"], s[f"{name}/mse/{met}"]
            sol = s[f"{name}/{SOL_TARGET[met]}/{met}"]
            cases[f"{name}/{met}"] = ours > max(bce, mse) and ours >= sol - SOL_MARGIN
            parts.append(f"{name} {met}: AnyLoss {ours:.3f}, BCE {bce:.3f}, MSE {mse:.3f}, "
                         f"SOL {sol:.3f}")
    return Outcome.from_cases(cases, "; ".join(parts),
                              "target AnyLoss > max(BCE, MSE) and ≥ SOL − "
                              f"{SOL_MARGIN:g}, on F1 and B-Acc of each set")


def c5(records: Mapping[str, Any], fig: str = "e2") -> Outcome:
    rec = records[fig]
    s = rec["summary"]
    amps = [float(a) for a in rec["results"]["series"]["amplifiers"]]
    near = [a for a in amps if 50 <= a <= 90 and a != 73]
    cases, parts = {}, []
    for name in rec["config"]["e2_sets"]:
        for met in ("accuracy", "f1", "balanced_accuracy"):
            loss = TARGET[met]
            val = {a: s[f"{name}/sweep/{loss}/L{a:g}/{met}"] for a in amps}
            flat = all(abs(val[a] - val[73.0]) <= FLAT for a in near)
            good = val[73.0] >= max(val.values()) - DEFAULT_SLACK
            cases[f"{name}/{met}"] = (flat and good) if near else None  # no L in [50, 90]
            parts.append(f"{name} {met}: " + ", ".join(f"L{a:g} {v:.3f}" for a, v in val.items()))
    return Outcome.from_cases(cases, "; ".join(parts),
                              f"|M(L) − M(73)| ≤ {FLAT:g} for L ∈ {near} and M(73) ≥ max_L M(L) − "
                              f"{DEFAULT_SLACK:g}")


def c6(records: Mapping[str, Any]) -> Outcome:
    rec = records["e3"]
    s = rec["summary"]
    cases, parts = {}, []
    for name in rec["config"]["e2_sets"]:
        for met in ("f1", "balanced_accuracy"):
            ours = s[f"{name}/{TARGET[met]}/{met}"]
            smote, rus = s[f"{name}/bce_smote/{met}"], s[f"{name}/bce_rus/{met}"]
            cases[f"{name}/{met}"] = ours >= max(smote, rus) - RESAMPLE_MARGIN
            parts.append(f"{name} {met}: AnyLoss {ours:.3f}, BCE+SMOTE {smote:.3f}, "
                         f"BCE+RUS {rus:.3f}")
    return Outcome.from_cases(cases, "; ".join(parts),
                              f"target AnyLoss ≥ max(BCE+SMOTE, BCE+RUS) − {RESAMPLE_MARGIN:g}")


def _ratios(rec: Mapping[str, Any], name: str) -> tuple[float, float | None, float]:
    """Mean AnyLoss/BCE and SOL/BCE time ratios of a set, and the largest log-ratio SE of the
    losses involved (from the interleaved repeats)."""
    s = rec["summary"]
    losses = rec["config"]["timing_losses"]
    anyl = [float(s[f"{name}/{n}/ratio_to_bce"]) for n in losses if n.startswith("anyloss")]
    sol = [float(s[f"{name}/{n}/ratio_to_bce"]) for n in losses if n.startswith("sol")]
    se = max(float(s[f"{name}/{n}/log_ratio_se"]) for n in losses
             if n.startswith(("anyloss", "sol")))
    return sum(anyl) / len(anyl), (sum(sol) / len(sol) if sol else None), se


def c7(records: Mapping[str, Any]) -> Outcome:
    rec = records["e4"]
    cases, parts = {}, []
    for name in rec["config"]["timing_sets"]:
        a, sol, se = _ratios(rec, name)
        cases[name] = stats.ratio_below(a, TIME_RATIO, log_se=se)
        sol_txt = "" if sol is None else f", SOL/BCE {sol:.2f}"
        parts.append(f"{name}: AnyLoss/BCE {a:.2f}{sol_txt} (log SE {se:.3f})")
    return Outcome.from_cases(cases, "; ".join(parts),
                              f"mean AnyLoss (Acc, F1, B-Acc) time ≤ {TIME_RATIO:g} × BCE "
                              "(10-fold SLP fit, jitted, interleaved medians), undecided within "
                              f"max({stats.TIMING_REL_BAND:.0%}, {stats.Z:g} SE of the repeats)")


def c7b(records: Mapping[str, Any]) -> Outcome:
    rec = records["e4"]
    cases, parts = {}, []
    for name in rec["config"]["timing_sets"]:
        a, sol, se = _ratios(rec, name)
        cases[name] = None if sol is None else stats.ratio_above(sol / a, 1.0, log_se=se)
        parts.append(f"{name}: SOL/BCE {sol if sol is None else round(sol, 3)} vs AnyLoss/BCE "
                     f"{a:.3f}")
    return Outcome.from_cases(cases, "; ".join(parts),
                              "SOL time above AnyLoss time, undecided within "
                              f"max({stats.TIMING_REL_BAND:.0%}, {stats.Z:g} SE of the repeats)")


def c8(records: Mapping[str, Any], fig: str = "e1",
       paper: Mapping[str, tuple[float, float]] = PAPER_SLP_MEANS) -> Outcome:
    s = records[fig]["summary"]
    cases, parts = {}, []
    for met, (p_bce, p_ours) in paper.items():
        bce, ours = s[f"mean/bce/{met}"], s[f"mean/{TARGET[met]}/{met}"]
        if met == "accuracy":
            cases[met] = abs(ours - bce) <= ACC_EQUIV
        else:
            cases[met] = ours > bce
        parts.append(f"{met}: BCE {bce:.3f} → AnyLoss {ours:.3f} (paper {p_bce:.3f} → "
                     f"{p_ours:.3f})")
    return Outcome.from_cases(cases, "; ".join(parts),
                              "mean of the target metric over our sets: AnyLoss > BCE ("
                              + ", ".join(m for m in paper if m != "accuracy")
                              + f"); |Acc difference| ≤ {ACC_EQUIV:g}")


ALL_CLAIMS = (
    Claim("C1", "§4.1: AnyLoss aimed at F1, F0.5, F2, G-mean or B-Acc beats BCE and MSE on that "
          "metric across many data sets (Bayesian sign test, ROPE 0.01, P(win) ≈ 1)", ("e1",), c1),
    Claim("C2", "§4.1: L_A is practically equivalent to BCE and MSE on accuracy (ROPE 0.01)",
          ("e1",), c2),
    Claim("C3", "§4.1: the gain over BCE grows with class imbalance", ("e1",), c3),
    Claim("C4", "§4.2: on imbalanced sets L_F1 and L_B beat BCE/MSE on F1 and B-Acc, comparable "
          "to or better than SOL", ("e2",), c4),
    Claim("C5", "§4.2: L = 73 is a good default; performance is fairly flat between 50 and 90",
          ("e2",), c5),
    Claim("C6", "§4.2 / 4-11: AnyLoss without resampling is competitive with BCE + SMOTE / "
          "undersampling", ("e3",), c6),
    Claim("C7", "§4.3: AnyLoss costs about the same time as BCE", ("e4",), c7, machine=TIMING),
    Claim("C7b", "§4.3: SOL costs more time than AnyLoss", ("e4",), c7b, machine=TIMING),
    Claim("C8", "§4.1 mean table: AnyLoss raises the mean of its target metric over BCE (paper "
          "SLP: F1 .561→.673, F2 .534→.753, G .620→.810, B-Acc .739→.815; Acc .881→.887)",
          ("e1",), c8),
)

def replica_view(record: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """``record`` as replica ``prefix`` sees it: its summary keys unprefixed (shared keys kept)."""
    s = dict(record["summary"])
    if prefix:
        found = {k[len(prefix):]: v for k, v in record["summary"].items() if k.startswith(prefix)}
        if not found:
            raise KeyError(f"no summary key of replica {prefix!r}")
        s.update(found)
    return {**record, "summary": s}


def over_replicas(fn, fig: str, **kw):
    """A chaotic (float32 MLP) claim decided on every replica of the MLP record (seeds): a case
    holds or fails only when every replica agrees, else it is undecided (stats.agree)."""

    def evaluate(records: Mapping[str, Any]) -> Outcome:
        rec = records[fig]
        prefixes = replica_prefixes(rec["summary"])
        outs = [fn({**records, fig: replica_view(rec, p)}, fig=fig, **kw) for p in prefixes]
        per = [dict(o.by_case or ()) for o in outs]
        cases = {k: stats.agree(d[k] for d in per) for k in per[0]}
        split = [k for k in cases if cases[k] is None and any(d[k] is not None for d in per)]
        measured = (outs[0].measured.rsplit(" [", 1)[0]
                    + f" | replicas (MLP seeds): {', '.join(o.status for o in outs)}"
                    + (f"; replicas disagree on {', '.join(split[:6])}" if split else ""))
        return Outcome.from_cases(cases, measured, outs[0].criterion + f"; a case is decided "
                                  f"only when all {len(outs)} replicas (MLP seeds) agree")

    return evaluate


MLP_CLAIMS = (
    Claim("C1m", "§4.1, MLP: AnyLoss aimed at F1, F0.5, F2, G-mean or B-Acc beats BCE and MSE on "
          "that metric (Bayesian sign test, ROPE 0.01; paper MLP: P(win) = 1.0, F0.5 0.998)",
          ("e1_mlp",), over_replicas(c1, "e1_mlp"), machine=CHAOTIC),
    Claim("C2m", "§4.1, MLP: L_A is practically equivalent to BCE and MSE on accuracy (paper MLP: "
          "P(rope) = 0.99998)", ("e1_mlp",), over_replicas(c2, "e1_mlp"), machine=CHAOTIC),
    Claim("C3m", "§4.1, MLP (notebook 4-40 bins): the gain over BCE grows with class imbalance",
          ("e1_mlp",), over_replicas(c3, "e1_mlp"), machine=CHAOTIC),
    Claim("C4m", "§4.2, MLP: on imbalanced sets L_F1 and L_B beat BCE/MSE on F1 and B-Acc, "
          "comparable to or better than SOL", ("e2_mlp",), over_replicas(c4, "e2_mlp"),
          machine=CHAOTIC),
    Claim("C5m", "§4.2, MLP (the paper's L sweep): L = 73 is a good default; performance is "
          "fairly flat between 50 and 90", ("e2_mlp",), over_replicas(c5, "e2_mlp"),
          machine=CHAOTIC),
    Claim("C8m", "§4.1 MLP mean table: AnyLoss raises the mean of its target metric over BCE "
          "(paper MLP: F1 .615→.727, B-Acc .771→.832; Acc .894→.886)", ("e1_mlp",),
          over_replicas(c8, "e1_mlp", paper=PAPER_MLP_MEANS), machine=CHAOTIC),
)
ALL_CLAIMS = ALL_CLAIMS + MLP_CLAIMS

# Figures whose FULL records are committed; a claim is checked only when all its records are.
RECORDED = ("e1", "e2", "e3", "e4", "e1_mlp", "e2_mlp")
CLAIMS = tuple(c for c in ALL_CLAIMS if set(c.figures) <= set(RECORDED))
