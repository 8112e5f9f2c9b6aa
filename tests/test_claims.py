"""Claims on the committed records (the CI gate) and their schema against the smoke records."""

import pytest

from paper_repro import check

MODULES = check.claim_modules()


def test_claim_modules_are_discovered():
    assert "perceptron" in MODULES
    for mod in MODULES.values():
        ids = [c.id for c in mod.CLAIMS]
        assert len(ids) == len(set(ids)), "claim ids must be unique"


@pytest.mark.parametrize("slug", sorted(MODULES))
def test_committed_records_match_documented_outcomes(slug):
    rows = check.evaluate(slug, MODULES[slug])
    for row in rows:
        assert row.outcome is not None, f"{slug} {row.claim.id}: record missing"
        assert row.documented is not None, f"{slug} {row.claim.id}: not in paper_repro/{slug}.md"
        assert row.ok, (
            f"{slug} {row.claim.id}: measured '{row.status}' ({row.outcome.measured}) but "
            f"paper_repro/{slug}.md documents '{row.documented}'"
        )


@pytest.mark.parametrize("slug", sorted(MODULES))
def test_smoke_records_carry_every_key_claims_read(smoke_records, slug):
    out, _ = smoke_records
    rows = check.evaluate(slug, MODULES[slug], records_dir=out / slug)
    for row in rows:  # a KeyError here = a field a claim needs is gone from the records
        assert row.error is None, f"{row.claim.id}: {row.error}"
        assert row.outcome is not None, f"{row.claim.id}: smoke run lacks a figure"


def test_documented_outcomes_parser(tmp_path):
    md = tmp_path / "x.md"
    md.write_text(
        "| id | claim | check | status |\n|---|---|---|---|\n"
        "| C1 | a | b | **reproduced** |\n| C2 | a | b | not reproduced |\n"
        "| C10 | a | b | `reproduced` |\n"
    )
    assert check.documented_outcomes(md) == {
        "C1": "reproduced", "C2": "not reproduced", "C10": "reproduced"}


def test_check_exits_nonzero_when_records_are_missing(tmp_path, capsys):
    assert check.main(["perceptron", "--records", str(tmp_path)]) == 1
    assert "missing record" in capsys.readouterr().out


def test_claim_reading_a_missing_field_is_an_error_not_a_crash(tmp_path):
    import json

    (tmp_path / "tab1.json").write_text(json.dumps({"summary": {}}))

    class Mod:
        CLAIMS = (check.Claim("C3", "s", ("tab1",), lambda r: r["tab1"]["summary"]["gone"]),)

    (row,) = check.evaluate("perceptron", Mod, records_dir=tmp_path)
    assert row.error is not None and "gone" in row.error and not row.ok


def test_row_ok_only_when_measured_equals_documented():
    claim = check.Claim("C1", "s", ("f",), lambda r: check.Outcome(True, "m", "g"))
    good = check.Row("p", claim, check.Outcome(True, "m", "g"), "reproduced")
    bad = check.Row("p", claim, check.Outcome(False, "m", "g"), "reproduced")
    assert good.ok and not bad.ok


def test_committed_report_is_up_to_date():
    rows = {s: check.evaluate(s, MODULES[s]) for s in sorted(MODULES)}
    committed = (check.REPO_ROOT / "paper_repro" / "REPORT.md").read_text()
    assert committed == check.report(rows) + "\n", (
        "paper_repro/REPORT.md is stale: run `python -m paper_repro.check --report "
        "paper_repro/REPORT.md`"
    )
