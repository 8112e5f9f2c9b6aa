"""Claims on the committed records (the CI gate) and their schema against the smoke records."""

import json

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
def test_smoke_records_carry_every_key_claims_read(smoke_runs, slug):
    out, _ = smoke_runs(slug)
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
    out, err = capsys.readouterr()
    assert "missing record" in out
    # reported as missing, with the command that regenerates it, not as changed outcomes
    assert "missing records: bounds, fig1" in out and "0 differ" in out
    # the hint regenerates into the folder that was checked, never over the committed records
    assert f"`python -m experiments.perceptron --figure tab1 --out {tmp_path}`" in err
    assert "update the .md" not in err


def _committed(fig_id):
    return json.loads((check.REPO_ROOT / "figures" / "perceptron" / f"{fig_id}.json").read_text())


def test_check_reports_one_missing_record_as_missing(tmp_path, capsys):
    for path in (check.REPO_ROOT / "figures" / "perceptron").glob("*.json"):
        if path.stem != "tab1":
            (tmp_path / path.name).write_text(path.read_text())
    rows = check.evaluate("perceptron", MODULES["perceptron"], records_dir=tmp_path)
    tab1_claims = {r.claim.id for r in rows if "tab1" in r.claim.figures}
    assert {r.claim.id for r in rows if r.status == check.MISSING} == tab1_claims
    assert all(r.missing == ("tab1",) for r in rows if r.claim.id in tab1_claims)
    assert all(r.ok for r in rows if r.claim.id not in tab1_claims)
    assert "missing records: tab1" in check.summary_line("perceptron", rows)


@pytest.mark.parametrize(
    "edit, status, words",
    [
        (lambda r: r.update(mode="smoke"), check.SMOKE_RECORD, "is a smoke record, not FULL"),
        (lambda r: r["config"].update(max_iters=5), check.STALE_RECORD,
         "fields differ from the current FULL config: max_iters"),
        (lambda r: r["config"].pop("num_orders"), check.STALE_RECORD, "num_orders"),
    ],
)
def test_check_rejects_smoke_and_stale_records(tmp_path, capsys, edit, status, words):
    for path in (check.REPO_ROOT / "figures" / "perceptron").glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text())
    rec = _committed("tab1")
    edit(rec)
    (tmp_path / "tab1.json").write_text(json.dumps(rec))
    rows = check.evaluate("perceptron", MODULES["perceptron"], records_dir=tmp_path)
    for row in rows:
        if "tab1" in row.claim.figures:
            assert row.status == status and not row.ok and row.outcome is not None
            assert any(words in p and "`python -m experiments.perceptron --figure tab1`" in p
                       for p in row.problems)
        else:
            assert row.ok
    assert check.main(["perceptron", "--records", str(tmp_path)]) == 1
    assert words in capsys.readouterr().err


def test_committed_records_are_full_and_current():
    config = check.full_config("perceptron")
    for path in sorted((check.REPO_ROOT / "figures" / "perceptron").glob("*.json")):
        rec = json.loads(path.read_text())
        assert check.record_problem("perceptron", path.stem, rec, config) is None
        assert rec["env"]["x64"] is True, f"{path.name}: the FULL config is float64"


@pytest.mark.parametrize("slug", sorted(MODULES))
def test_committed_records_come_from_a_clean_tree(slug):
    """Every committed record was made from a committed tree (env.git_dirty is False)."""
    paths = sorted((check.REPO_ROOT / "figures" / slug).glob("*.json"))
    assert paths, f"figures/{slug}/ holds no records"
    for path in paths:
        rec = json.loads(path.read_text())
        assert rec["mode"] == "full", f"{slug}/{path.name}: a {rec['mode']} record"
        assert rec["env"]["git_dirty"] is False, f"{slug}/{path.name}: made from a dirty tree"


def test_compact_output_by_default_and_full_table_on_request(capsys):
    assert check.main(["perceptron"]) == 0
    out = capsys.readouterr().out
    assert "| id |" not in out
    for line in out.splitlines():
        if line.startswith("C"):
            assert len(line) < 160, line
    assert check.main(["perceptron", "--full"]) == 0
    out = capsys.readouterr().out
    assert "| id | claim | measured | criterion | outcome | documented |" in out
    assert "margin |" not in out


def test_outcome_from_cases_grades_and_counts_decided():
    o = check.Outcome.from_cases({"a": True, "b": None, "c": False}, "m", "c")
    assert (o.status, o.decided, o.cases) == (check.PARTLY, 2, 3)
    assert check.Outcome.from_cases({"a": None}, "m", "c").status == check.UNDECIDED
    assert check.Outcome.from_cases({"a": True}, "m", "c").status == check.REPRODUCED
    assert check.Outcome.from_cases({"a": False}, "m", "c").status == check.NOT_REPRODUCED
    assert check.Outcome(True, "m", "c", decided=0).status == check.UNDECIDED
    assert check.Outcome(True, "m", "c").margin == "c"  # the pre-v2 name still reads


def test_claim_reading_a_missing_field_is_an_error_not_a_crash(tmp_path):
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


@pytest.mark.parametrize("slug", sorted(MODULES))
def test_claims_tables_are_well_formed(slug):
    """Every row of the .md's claims table has the header's cells (an extra or lost `|` once
    left stale cells of an older table behind, unseen by the status parser)."""
    import re

    cells = lambda line: len(re.split(r"(?<!\\)\|", line)) - 2  # noqa: E731
    ids = {c.id for c in MODULES[slug].CLAIMS}
    width = None
    for line in (check.REPO_ROOT / "paper_repro" / f"{slug}.md").read_text().splitlines():
        if line.startswith("| id |"):
            width = cells(line)
        elif width is not None and line.startswith("| ") and line.split("|")[1].strip() in ids:
            assert cells(line) == width, f"{slug}.md row {line[:40]!r}: {cells(line)} cells"
