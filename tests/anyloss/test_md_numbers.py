"""The measured cells of paper_repro/anyloss.md's claims table are the committed records' numbers.

Each row's "measured" cell must read exactly what its claim computes from
``figures/anyloss/*.json``: a regenerated record whose numbers differ fails here until the table
is updated (the status column stays hand-written and is checked by ``paper_repro.check``).
"""

import re
from pathlib import Path

import pytest

from paper_repro import anyloss as A
from paper_repro import check

ROOT = Path(__file__).resolve().parents[2]


def table_cells() -> dict[str, list[str]]:
    """The rows of the claims table (the one headed ``| id |``), cells split on unescaped |."""
    rows, inside = {}, False
    for line in (ROOT / "paper_repro" / "anyloss.md").read_text().splitlines():
        inside = line.startswith("| id |") or (inside and line.startswith("|"))
        m = re.match(r"^\|\s*([A-Z]+\d+[a-z]*)\s*\|(.*)\|\s*$", line.strip())
        if inside and m:
            rows[m.group(1)] = [c.strip() for c in re.split(r"(?<!\\)\|", m.group(2))]
    return rows


@pytest.fixture(scope="module")
def records():
    return check.load_records(ROOT / "figures" / "anyloss")


@pytest.mark.parametrize("claim_id", [c.id for c in A.CLAIMS])
def test_measured_cell_matches_record(claim_id, records):
    claim = next(c for c in A.CLAIMS if c.id == claim_id)
    measured = check._cell(claim.evaluate(records).measured)
    cells = table_cells()
    assert claim_id in cells, f"no row for {claim_id} in paper_repro/anyloss.md"
    assert cells[claim_id][-1] == measured, (
        f"{claim_id}: the .md measured cell is stale; the record gives:\n{measured}")


def test_table_parser_sees_every_claim():
    assert set(table_cells()) == {c.id for c in A.CLAIMS}
