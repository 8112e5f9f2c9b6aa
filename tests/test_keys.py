"""Summary keys come from ``experiments/_keys.py`` everywhere, and their text is frozen.

Fast static checks (no experiment runs): no experiment or claims module builds a summary key by
joining strings or defines a key builder of its own, and the committed BO-REP records keep the
numbers written as ``str`` writes them (``s0/bo_rep/calls_to_eps/1.0``), which ``pystr`` keeps.
"""

import json
import re
from pathlib import Path

import pytest

from experiments import _harness
from experiments._keys import fmt, key, pystr

REPO = Path(__file__).resolve().parent.parent
SLUGS = sorted(_harness.discover())
MODULES = [f"{pkg}/{slug}.py" for slug in SLUGS for pkg in ("experiments", "paper_repro")]

# a key builder of one's own, or a key joined by hand into a summary/series subscript
OWN_BUILDER = re.compile(r'^def (key|_k|summary_key)\(|"/"\.join\(str\(', re.M)
HAND_KEY = re.compile(r'\b(summary|series|summ|sm|s)\[f(["\'])[^"\']*/')


def test_pystr_writes_numbers_as_str_does():
    assert [pystr(x) for x in (1.0, 0.25, 1e-05, 0.001, 16, 1e16)] == [
        "1.0", "0.25", "1e-05", "0.001", "16", "1e+16"]
    assert key("s0", "bo_rep", "calls_to_eps", pystr(1.0)) == "s0/bo_rep/calls_to_eps/1.0"
    assert key("s0", "bo_rep", "calls_to_eps", 1.0) == "s0/bo_rep/calls_to_eps/1"  # fmt: :g
    for bad in (True, "1.0", None):
        with pytest.raises(TypeError, match=r"pystr\(number\)"):
            pystr(bad)


@pytest.mark.parametrize("path", MODULES)
def test_summary_keys_come_from_keys_module(path):
    src = (REPO / path).read_text()
    assert not OWN_BUILDER.search(src), f"{path} builds keys itself: use experiments._keys.key"
    hand = [m.group(0) for m in HAND_KEY.finditer(src)]
    assert not hand, f"{path} joins summary keys by hand: {hand[:3]}"
    assert re.search(r"^from experiments\._keys import|^from experiments import .*\b_keys\b",
                     src, re.M), f"{path} does not import experiments._keys"


def test_the_static_check_catches_a_hand_built_key():
    assert HAND_KEY.search('summary[f"{name}/tau{t:g}/errors"] = 1')
    assert OWN_BUILDER.search('def key(*parts):\n    return "/".join(str(p) for p in parts)\n')
    assert not HAND_KEY.search('cases[f"{met}/{base}"] = True')


def test_bo_rep_committed_keys_keep_str_written_numbers():
    """The committed S0/S1 records: every key the claims build with ``pystr`` is there (and the
    ``:g`` text would miss the integral step sizes), so no key text changed."""
    s0 = json.loads((REPO / "figures/bo_rep/s0.json").read_text())
    cfg, summ = s0["config"], s0["summary"]
    for m in cfg["s0_methods"]:
        steps = cfg["s0_bo_rep_step_sizes" if m == "bo_rep" else "s0_step_sizes"]
        for lr in steps:
            assert key("s0", m, "final_grad_norm", pystr(lr)) in summ
        for eps in (*cfg["s0_eps_grid"], cfg["s0_eps"]):
            assert key("s0", m, "calls_to_eps", pystr(eps)) in summ
    for p in cfg["s0_periods"]:
        assert key("s0", "period", pystr(p), "final_grad_norm") in summ
    assert key("s0", "bo_rep", "calls_to_eps", fmt(cfg["s0_eps"])) not in summ  # "1" vs "1.0"
    s1 = json.loads((REPO / "figures/bo_rep/s1.json").read_text())
    for p in s1["config"]["s1_noise"]:
        assert key("s1", pystr(p), "constant_acc") in s1["summary"]
