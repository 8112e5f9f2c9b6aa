"""The measured cells of paper_repro/zloss.md's claims table are the committed records' numbers.

Each accuracy claim's "measured" cell must read exactly what the claim computes from
``figures/zloss/*.json``: a regenerated record whose numbers differ fails here until the table
is updated (the status column stays hand-written and is checked by ``paper_repro.check``).
S1/S2 (timing, owned with the speed experiment) are not covered.
"""

import re
from pathlib import Path

import pytest

from paper_repro import check
from paper_repro import zloss as Z

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ("Z1", "Z2", "Z3", "I1")


def table_cells() -> dict[str, list[str]]:
    rows = {}
    for line in (ROOT / "paper_repro" / "zloss.md").read_text().splitlines():
        m = re.match(r"^\|\s*([A-Z]+\d+)\s*\|(.*)\|\s*$", line.strip())
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    return rows


@pytest.mark.parametrize("claim_id", GENERATED)
def test_measured_cell_matches_record(claim_id):
    records = check.load_records(ROOT / "figures" / "zloss")
    claim = next(c for c in Z.CLAIMS if c.id == claim_id)
    measured = claim.evaluate(records).measured
    cells = table_cells()
    assert claim_id in cells, f"no row for {claim_id} in paper_repro/zloss.md"
    assert cells[claim_id][-1] == measured, (
        f"{claim_id}: the .md measured cell is stale; the record gives:\n{measured}")


def test_table_parser_sees_every_claim():
    assert set(table_cells()) == {c.id for c in Z.CLAIMS}
