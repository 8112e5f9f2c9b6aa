"""Identities the committed bo_rep FULL records must satisfy (no rerun: they read figures/)."""

from pathlib import Path

from experiments import _harness
from experiments._keys import pystr

ROOT = Path(__file__).resolve().parents[2]


def _s0():
    return _harness.read_record(ROOT / "figures" / "bo_rep" / "s0.json")


def test_refinement_ablation_with_arm_is_the_period_panels_run():
    """The ablation's "with refinement" arm is BO-REP at (s0_curve_lr, s0_period, s0_refine):
    the period panel's run at I = s0_period, read once (not run a second time)."""
    rec = _s0()
    cfg, s = rec["config"], rec["summary"]
    assert cfg["s0_period"] in cfg["s0_periods"]
    with_ = f"s0/refine_ablation/{pystr(cfg['s0_refine'])}"
    period = f"s0/period/{pystr(cfg['s0_period'])}"
    assert s[f"{with_}/final_grad_norm"] == s[f"{period}/final_grad_norm"]
    assert s[f"{with_}/oracle_calls"] == s[f"{period}/oracle_calls"]


def test_refinement_ablation_without_arm_saves_exactly_the_refinement_calls():
    """Epoch-SGD runs T₁(2^E − 1) lower steps at t = 0 (E = 2 epochs in make_solver): the run
    without it makes that many fewer oracle calls."""
    s, cfg = _s0()["summary"], _s0()["config"]
    refine_total = cfg["s0_refine"] * (2**2 - 1)
    with_, without = (s[f"s0/refine_ablation/{pystr(r)}/oracle_calls"]
                      for r in (cfg["s0_refine"], 0))
    assert with_ - without == refine_total


def test_ablation_needs_its_period_in_the_period_panel():
    import dataclasses

    import pytest

    from experiments import bo_rep as E

    bad = dataclasses.replace(E.SMOKE, s0_period=3)
    with pytest.raises(ValueError, match=r"`Config.s0_period` must be one of"):
        E.run_s0(bad)


def _s3():
    return _harness.read_record(ROOT / "figures" / "bo_rep" / "s3.json")


def test_s3_refinement_ablation_with_arm_is_bo_reps_run():
    """S3's ablation runs only the arm without refinement; the other is BO-REP's tuned run."""
    from experiments import bo_rep as E

    s = _s3()["summary"]
    with_ = s[f"s3/refine_ablation/{pystr(E.S3_REFINE)}/final_meta_test_acc"]
    assert with_ == s["s3/bo_rep/final_meta_test_acc"]
    assert len(s["s3/refine_ablation/0/final_meta_test_acc"]) == len(with_)


def test_s3_times_every_method_and_runs_maml():
    """The time panel's x axis: a positive, finite training time per outer step per method."""
    import math

    rec = _s3()
    assert "maml" in rec["config"]["s3_methods"]
    for m in rec["config"]["s3_methods"]:
        sec = rec["summary"][f"s3/{m}/seconds_per_step"]
        assert math.isfinite(sec) and sec > 0, m
