"""``python -m paper_repro.check [slug] [--records DIR] [--report PATH]``

Evaluates every paper's claims on the committed run records (``figures/<slug>/*.json``) and
prints one table per paper: id, claim, measured value, margin, outcome, and the outcome we
documented in ``paper_repro/<slug>.md``. The exit code is 1 when any measured outcome differs
from the documented one (a regression, or an improvement not yet written up), or when a record a
claim needs is missing; an honest, documented non-reproduction keeps it 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import pkgutil
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
REPRODUCED = "reproduced"
PARTLY = "partly reproduced"
NOT_REPRODUCED = "not reproduced"
UNDECIDED = "undecided"
STATUSES = (REPRODUCED, PARTLY, NOT_REPRODUCED, UNDECIDED)
MISSING = "missing record"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one claim measured: the verdict, the measured value(s), and the criterion used.

    Attributes:
      reproduced: ``True``/``False``, or one of :data:`STATUSES` for a graded verdict.
      measured: the measured numbers, one line.
      criterion: the decision rule (tolerance, ordering, ...), one line.
      decided: how many cases the claim could decide (``0`` makes it ``undecided``).
      cases: how many cases it looked at (decided or not).
    """

    reproduced: bool | str
    measured: str
    criterion: str
    decided: int | None = None
    cases: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.reproduced, str) and self.reproduced not in STATUSES:
            raise ValueError(f"`Outcome(reproduced=...)` must be a bool or one of {STATUSES}, "
                             f"got {self.reproduced!r}")

    @property
    def margin(self) -> str:  # the pre-v2 name of `criterion`
        return self.criterion

    @property
    def status(self) -> str:
        if self.decided == 0:
            return UNDECIDED
        if isinstance(self.reproduced, str):
            return self.reproduced
        return REPRODUCED if self.reproduced else NOT_REPRODUCED

    @classmethod
    def from_cases(
        cls, cases: Mapping[str, bool | None], measured: str, criterion: str
    ) -> Outcome:
        """An aggregate claim over named cases; ``None`` marks an undecided case.

        All decided cases hold: reproduced; some: partly reproduced; none: not reproduced; no
        decided case at all: undecided. ``measured`` gets a "k/n held (d decided)" suffix.
        """
        decided = [v for v in cases.values() if v is not None]
        held = sum(bool(v) for v in decided)
        if not decided:
            status = UNDECIDED
        elif held == len(decided):
            status = REPRODUCED
        elif held:
            status = PARTLY
        else:
            status = NOT_REPRODUCED
        failed = [k for k, v in cases.items() if v is False]
        suffix = f" [{held}/{len(decided)} held, {len(decided)} of {len(cases)} decided"
        suffix += f"; failing: {', '.join(failed[:6])}]" if failed else "]"
        return cls(status, measured + suffix, criterion, len(decided), len(cases))


@dataclasses.dataclass(frozen=True)
class Claim:
    """A checkable statement of the paper, evaluated on run records.

    Attributes:
      id: short id used in ``paper_repro/<slug>.md`` (``C1``...).
      statement: the paper's claim, with its section / figure.
      figures: the record ids it reads.
      evaluate: ``evaluate(records) -> Outcome`` where ``records[fig_id]`` is the JSON record.
    """

    id: str
    statement: str
    figures: tuple[str, ...]
    evaluate: Callable[[Mapping[str, Mapping[str, Any]]], Outcome]


@dataclasses.dataclass(frozen=True)
class Row:
    slug: str
    claim: Claim
    outcome: Outcome | None  # None: a record is missing, or evaluating the claim failed
    documented: str | None
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return f"error ({self.error})"
        return MISSING if self.outcome is None else self.outcome.status

    @property
    def ok(self) -> bool:
        return self.outcome is not None and self.status == self.documented


def claim_modules() -> dict[str, Any]:
    """``paper_repro.<slug>`` modules that define ``CLAIMS``, keyed by slug."""
    import paper_repro

    mods = {}
    for info in pkgutil.iter_modules(paper_repro.__path__):
        if info.name.startswith("_") or info.name == "check":
            continue
        mod = importlib.import_module(f"paper_repro.{info.name}")
        if hasattr(mod, "CLAIMS"):
            mods[info.name] = mod
    return mods


_ROW = re.compile(r"^\|\s*(?P<id>[A-Z]\d+[a-z]?)\s*\|(?P<rest>.*)\|\s*$")


def documented_outcomes(md_path: Path) -> dict[str, str]:
    """Claim id -> documented status from the claims table of ``paper_repro/<slug>.md``.

    The status is the table's cell that reads exactly ``reproduced`` or ``not reproduced``
    (bold or code markup allowed).
    """
    out: dict[str, str] = {}
    if not md_path.exists():
        return out
    for line in md_path.read_text().splitlines():
        m = _ROW.match(line.strip())
        if not m:
            continue
        cells = [c.strip().strip("*`").strip().lower() for c in m.group("rest").split("|")]
        for cell in cells:
            if cell in STATUSES:
                out[m.group("id")] = cell
                break
    return out


def load_records(folder: Path) -> dict[str, dict[str, Any]]:
    recs = {}
    for path in sorted(folder.glob("*.json")):
        with open(path) as f:
            recs[path.stem] = json.load(f)
    return recs


def evaluate(slug: str, mod: Any, records_dir: Path | None = None) -> list[Row]:
    folder = records_dir or REPO_ROOT / "figures" / slug
    records = load_records(folder)
    documented = documented_outcomes(REPO_ROOT / "paper_repro" / f"{slug}.md")
    rows = []
    for claim in mod.CLAIMS:
        outcome, error = None, None
        if all(f in records for f in claim.figures):
            try:
                outcome = claim.evaluate(records)
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                # a record without a field the claim reads: stale, or from older code
                error = f"{type(exc).__name__}: {exc}"
        rows.append(Row(slug, claim, outcome, documented.get(claim.id), error))
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_table(rows: Sequence[Row]) -> str:
    lines = [
        "| id | claim | measured | margin | outcome | documented |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        measured = "—" if r.outcome is None else r.outcome.measured
        margin = "—" if r.outcome is None else r.outcome.margin
        flag = "" if r.ok else " ⚠"
        lines.append(
            f"| {r.claim.id} | {_cell(r.claim.statement)} | {_cell(measured)} | "
            f"{_cell(margin)} | {r.status}{flag} | {r.documented or 'undocumented'} |"
        )
    return "\n".join(lines)


def summary_line(slug: str, rows: Sequence[Row]) -> str:
    n_rep = sum(r.status == REPRODUCED for r in rows)
    n_bad = sum(not r.ok for r in rows)
    return (
        f"{slug}: {n_rep}/{len(rows)} claims reproduced; "
        f"{n_bad} differ from paper_repro/{slug}.md"
    )


def report(all_rows: Mapping[str, Sequence[Row]]) -> str:
    parts = [
        "# Claims report",
        "",
        "Generated by `python -m paper_repro.check --report paper_repro/REPORT.md` from the "
        "committed run records in `figures/<slug>/*.json`. Do not edit by hand.",
        "",
    ]
    for slug, rows in all_rows.items():
        parts += [f"## {slug}", "", summary_line(slug, rows), "", format_table(rows), ""]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paper_repro.check", description=__doc__)
    parser.add_argument("slug", nargs="?", default=None, help="one paper (default: all)")
    parser.add_argument("--records", type=Path, default=None, help="records folder (one slug)")
    parser.add_argument("--report", type=Path, default=None, help="write a Markdown report")
    args = parser.parse_args(argv)
    mods = claim_modules()
    if args.slug is not None and args.slug not in mods:
        parser.error(f"unknown slug {args.slug!r}; known: {', '.join(sorted(mods))}")
    slugs = [args.slug] if args.slug else sorted(mods)
    all_rows = {s: evaluate(s, mods[s], args.records) for s in slugs}
    bad = 0
    for slug, rows in all_rows.items():
        print(f"\n## {slug}\n")
        print(format_table(rows))
        print("\n" + summary_line(slug, rows))
        bad += sum(not r.ok for r in rows)
    if args.report is not None:
        args.report.write_text(report(all_rows) + "\n")
        print(f"\nwrote {args.report}")
    if bad:
        print(
            f"\n{bad} claim(s) differ from the documented outcome: fix the regression, or "
            "update paper_repro/<slug>.md with the measured numbers.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
