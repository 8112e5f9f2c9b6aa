"""``python -m paper_repro.check [slug] [--records DIR] [--report PATH] [--full]``

Evaluates every paper's claims on the committed run records (``figures/<slug>/*.json``) and
prints a compact view per paper (id, outcome, one line of measured values; ``--full`` prints the
Markdown table with the claim, measured values and criterion), next to the outcome documented in
``paper_repro/<slug>.md``. ``--report`` writes the full tables to a Markdown file.

A record is used only if it is a FULL record made with the paper's current FULL config: a
missing record is reported as missing, a smoke record or one made with another config as such,
each with the command that regenerates it.

Every claim carries two labels:

* ``source``: ``"paper"`` (a statement of the paper, cited by location in ``where``) or
  ``"reading"`` (our hypothesis, a comparative reading, or a check of our own). The summary line
  counts them separately: ``zloss: paper claims 4/5 reproduced (…); readings 1/2 (…)``.
* ``machine``: ``None`` for a deterministic computation (the same outcome on every machine), or
  :data:`TIMING` (wall-clock) or :data:`CHAOTIC` (a computation whose outcome moves with float
  rounding, e.g. float32 minibatch training) -- see :mod:`paper_repro.stats`.

Exit code (the strict check that ``make test`` and CI run): 1 when a record is missing or
unusable, a claim cannot be evaluated, or a *deterministic* claim's measured outcome differs from
the documented one (a regression, or an improvement not yet written up). A mismatch on a
machine-dependent claim is printed as such and never fails the check: another CPU measures other
times and rounds float32 training differently. An honest, documented non-reproduction keeps it 0.
``--records DIR`` reads another folder (``DIR/<slug>/`` when it holds one folder per paper, as
``make repro OUT=DIR`` writes); ``python -m paper_repro.compare DIR`` reports what differs from
the committed records.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
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
PAPER = "paper"  # Claim.source: a statement of the paper, cited by location
READING = "reading"  # Claim.source: our reading or hypothesis, or a check of our own
SOURCES = (PAPER, READING)
TIMING = "timing"  # Claim.machine: decided on wall-clock measurements
CHAOTIC = "chaotic"  # Claim.machine: decided on a computation chaotic in float rounding
MACHINE_KINDS = (TIMING, CHAOTIC)
SMOKE_RECORD = "smoke record"
STALE_RECORD = "stale record"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one claim measured: the verdict, the measured value(s), and the criterion used.

    Attributes:
      reproduced: ``True``/``False``, or one of :data:`STATUSES` for a graded verdict.
      measured: the measured numbers, one line.
      criterion: the decision rule (tolerance, ordering, ...), one line.
      decided: how many cases the claim could decide (``0`` makes it ``undecided``).
      cases: how many cases it looked at (decided or not).
      by_case: each case's decision (``True``/``False``/``None``) when built by
        :meth:`from_cases`, so decisions can be combined over replicas
        (:func:`paper_repro.stats.agree`).
    """

    reproduced: bool | str
    measured: str
    criterion: str
    decided: int | None = None
    cases: int | None = None
    by_case: tuple[tuple[str, bool | None], ...] | None = None

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
        return cls(status, measured + suffix, criterion, len(decided), len(cases),
                   tuple((k, None if v is None else bool(v)) for k, v in cases.items()))


@dataclasses.dataclass(frozen=True)
class Claim:
    """A checkable statement of the paper, evaluated on run records.

    Attributes:
      id: short id used in ``paper_repro/<slug>.md`` (``C1``...).
      statement: the paper's claim, with its section / figure.
      figures: the record ids it reads.
      evaluate: ``evaluate(records) -> Outcome`` where ``records[fig_id]`` is the JSON record.
      source: :data:`PAPER` (the paper states it; ``where`` cites the location) or
        :data:`READING` (ours; the default until a location in the paper is cited).
      where: the location in the paper (``"Thm 3.1"``, ``"abstract"``, ``"Table 1"``) for a
        paper claim; for a reading, optionally what it reads.
      machine: ``None`` (deterministic), :data:`TIMING` or :data:`CHAOTIC`: a mismatch with the
        documented outcome is then reported but never fails the strict check.
    """

    id: str
    statement: str
    figures: tuple[str, ...]
    evaluate: Callable[[Mapping[str, Mapping[str, Any]]], Outcome]
    source: str = READING
    where: str = ""
    machine: str | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"`Claim(source=...)` of {self.id} must be one of {SOURCES}, "
                             f"got {self.source!r}")
        if self.source == PAPER and not self.where.strip():
            raise ValueError(f"`Claim(where=...)` of paper claim {self.id} must cite its "
                             "location in the paper, got an empty string")
        if self.machine is not None and self.machine not in MACHINE_KINDS:
            raise ValueError(f"`Claim(machine=...)` of {self.id} must be None or one of "
                             f"{MACHINE_KINDS}, got {self.machine!r}")


@dataclasses.dataclass(frozen=True)
class Row:
    """One claim's evaluation. ``problems`` names unusable records (smoke, stale config) with
    the command that regenerates each; the outcome is still computed on them (so a smoke run
    shows that every key a claim reads exists) but never counts as the claim's outcome."""

    slug: str
    claim: Claim
    outcome: Outcome | None  # None: a record is missing, or evaluating the claim failed
    documented: str | None
    error: str | None = None
    problems: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        if self.error is not None:
            return f"error ({self.error})"
        if self.outcome is None:
            return MISSING
        if self.problems:
            return SMOKE_RECORD if all("smoke" in p for p in self.problems) else STALE_RECORD
        return self.outcome.status

    @property
    def ok(self) -> bool:
        return self.outcome is not None and not self.problems and self.status == self.documented

    @property
    def machine_mismatch(self) -> bool:
        """A usable record whose machine-dependent outcome differs from the documented one."""
        return (self.claim.machine is not None and self.outcome is not None
                and not self.problems and self.error is None and not self.ok)

    @property
    def fatal(self) -> bool:
        """Whether this row fails the strict check: anything not ok except a machine-dependent
        mismatch (reported, never fatal)."""
        return not self.ok and not self.machine_mismatch


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


def regenerate_command(slug: str, fig_id: str) -> str:
    return f"python -m experiments.{slug} --figure {fig_id}"


def full_config(slug: str) -> dict[str, Any] | None:
    """The paper's current FULL config as a record stores it, or ``None`` without a module."""
    try:
        mod = importlib.import_module(f"experiments.{slug}")
    except ModuleNotFoundError:
        return None
    paper = getattr(mod, "PAPER", None)
    if paper is None:
        return None
    from experiments._harness import to_jsonable

    return json.loads(json.dumps(to_jsonable(dataclasses.asdict(paper.full))))


CONFIG_RTOL = 1e-12  # a float config value read back from JSON, or computed on another CPU


def same_value(a: Any, b: Any) -> bool:
    """Equal JSON values, floats up to :data:`CONFIG_RTOL` (relative)."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return math.isclose(a, b, rel_tol=CONFIG_RTOL, abs_tol=0.0)
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def record_problem(slug: str, fig_id: str, record: Mapping[str, Any],
                   config: Mapping[str, Any] | None) -> str | None:
    """Why a record cannot back a claim (smoke mode, or another config), or ``None``."""
    cmd = regenerate_command(slug, fig_id)
    mode = record.get("mode")
    if mode != "full":
        what = "a smoke record" if mode == "smoke" else f"a record of mode {mode!r}"
        return f"{fig_id}.json is {what}, not FULL: regenerate with `{cmd}`"
    if config is not None:
        got = record.get("config", {})
        diff = sorted(k for k in set(config) | set(got) if not same_value(config.get(k),
                                                                           got.get(k)))
        if diff:
            return (f"{fig_id}.json was made with another config (fields differ from the "
                    f"current FULL config: {', '.join(diff)}): regenerate with `{cmd}`")
    return None


def records_folder(slug: str, records_dir: Path | None) -> Path:
    """Where ``slug``'s records are: ``records_dir/<slug>`` when that folder exists (a tree of
    per-paper folders, as ``make repro OUT=DIR`` writes), else ``records_dir`` itself, else the
    committed ``figures/<slug>``."""
    if records_dir is None:
        return REPO_ROOT / "figures" / slug
    nested = records_dir / slug
    return nested if nested.is_dir() else records_dir


def evaluate(slug: str, mod: Any, records_dir: Path | None = None) -> list[Row]:
    folder = records_folder(slug, records_dir)
    records = load_records(folder)
    documented = documented_outcomes(REPO_ROOT / "paper_repro" / f"{slug}.md")
    config = full_config(slug)
    problems = {f: record_problem(slug, f, r, config) for f, r in records.items()}
    rows = []
    for claim in mod.CLAIMS:
        outcome, error = None, None
        missing = tuple(f for f in claim.figures if f not in records)
        if not missing:
            try:
                outcome = claim.evaluate(records)
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                # a record without a field the claim reads: stale, or from older code
                error = f"{type(exc).__name__}: {exc}"
        bad = tuple(p for f in claim.figures if (p := problems.get(f)))
        rows.append(Row(slug, claim, outcome, documented.get(claim.id), error, bad, missing))
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_table(rows: Sequence[Row]) -> str:
    lines = [
        "| id | claim | measured | criterion | outcome | documented |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        measured = "—" if r.outcome is None else r.outcome.measured
        criterion = "—" if r.outcome is None else r.outcome.criterion
        flag = "" if r.ok else " ⚠"
        lines.append(
            f"| {r.claim.id} | {_cell(label(r.claim))} {_cell(r.claim.statement)} | "
            f"{_cell(measured)} | {_cell(criterion)} | {r.status}{flag} | "
            f"{r.documented or 'undocumented'} |"
        )
    return "\n".join(lines)


def label(claim: Claim) -> str:
    """``[paper: Thm 3.1]`` / ``[reading]``, plus ``[timing]``/``[chaotic]`` when
    machine-dependent."""
    src = f"[{PAPER}: {claim.where}]" if claim.source == PAPER else f"[{READING}]"
    return src + (f" [{claim.machine}]" if claim.machine else "")


def ordered(rows: Sequence[Row]) -> list[Row]:
    """The paper's own claims first, then our readings (each in declaration order)."""
    return ([r for r in rows if r.claim.source == PAPER]
            + [r for r in rows if r.claim.source != PAPER])


def _one_line(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_compact(rows: Sequence[Row], width: int = 100) -> str:
    """One line per claim: id, outcome (and the documented one when they differ), measured."""
    lines = []
    for r in rows:
        status = r.status if r.ok else f"{r.status} (documented: {r.documented or 'none'})"
        if r.machine_mismatch:
            status += f" [{r.claim.machine}: not fatal]"
        measured = "—" if r.outcome is None else r.outcome.measured
        src = "P" if r.claim.source == PAPER else "R"
        lines.append(f"{r.claim.id:<4} {src} {status:<20} {_one_line(measured, width)}")
    return "\n".join(lines)


def _counts(rows: Sequence[Row]) -> str:
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    graded = ", ".join(f"{n} {s}" for s, n in counts.items() if n and s != REPRODUCED)
    return f"{counts[REPRODUCED]}/{len(rows)} reproduced" + (f" ({graded})" if graded else "")


def summary_line(slug: str, rows: Sequence[Row]) -> str:
    paper = [r for r in rows if r.claim.source == PAPER]
    reading = [r for r in rows if r.claim.source != PAPER]
    line = f"{slug}: paper claims {_counts(paper)}; readings {_counts(reading)}"
    missing = sorted({f for r in rows for f in r.missing})
    unusable = sum(bool(r.problems) for r in rows)
    differ = sum(r.outcome is not None and not r.problems and not r.ok
                 and not r.machine_mismatch for r in rows)
    machine = sum(r.machine_mismatch for r in rows)
    errors = sum(r.error is not None for r in rows)
    if missing:
        line += f"; missing records: {', '.join(missing)}"
    if unusable:
        line += f"; {unusable} claim(s) on smoke or stale records"
    if errors:
        line += f"; {errors} claim(s) failed to evaluate"
    line += f"; {differ} differ from paper_repro/{slug}.md"
    if machine:
        line += f" (+{machine} machine-dependent, reported, not fatal)"
    return line


def advice(slug: str, rows: Sequence[Row]) -> list[str]:
    """What to do about each kind of problem, naming the regenerate commands."""
    out = []
    missing = sorted({f for r in rows for f in r.missing})
    if missing:
        out.append(f"{slug}: missing records {', '.join(missing)}: regenerate with "
                   + "; ".join(f"`{regenerate_command(slug, f)}`" for f in missing))
    for p in sorted({p for r in rows for p in r.problems}):
        out.append(f"{slug}: {p}")
    if any(r.error is not None for r in rows):
        out.append(f"{slug}: a claim could not read its record (a key is gone): regenerate the "
                   f"records with `python -m experiments.{slug}` or fix the claim")
    if any(r.outcome is not None and not r.problems and r.error is None and r.fatal
           for r in rows):
        out.append(f"{slug}: measured outcomes differ from paper_repro/{slug}.md: fix the "
                   f"regression, or update the .md with the measured numbers")
    return out


def machine_notes(slug: str, rows: Sequence[Row]) -> list[str]:
    """The machine-dependent mismatches: reported, never fatal."""
    return [f"{slug} {r.claim.id} [{r.claim.machine}]: measured '{r.status}', documented "
            f"'{r.documented}' ({_one_line(r.outcome.measured, 160)}): machine-dependent, "
            "not a failure" for r in rows if r.machine_mismatch and r.outcome is not None]


def report(all_rows: Mapping[str, Sequence[Row]]) -> str:
    parts = [
        "# Claims report",
        "",
        "Generated by `python -m paper_repro.check --report paper_repro/REPORT.md` from the "
        "committed run records in `figures/<slug>/*.json`. Do not edit by hand.",
        "",
    ]
    for slug, rows in all_rows.items():
        parts += [f"## {slug}", "", summary_line(slug, rows), "",
                  format_table(ordered(rows)), ""]
    return "\n".join(parts)


def version_notes(slug: str, folder: Path) -> list[str]:
    """Packages whose version in a record's ``env`` differs from the installed one."""
    import importlib.metadata as md

    dist = {"sklearn": "scikit-learn"}
    seen: dict[tuple[str, str], list[str]] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            versions = json.loads(path.read_text()).get("env", {}).get("versions", {})
        except (OSError, ValueError):
            continue
        for name, made in versions.items():
            try:
                installed = md.version(dist.get(name, name))
            except md.PackageNotFoundError:
                installed = "not installed"
            if made is not None and made != installed:
                seen.setdefault((name, f"{made} -> installed {installed}"), []).append(path.stem)
    return [f"{slug}: records {', '.join(figs)} were made with {name} {what} "
            "(`make setup` installs requirements/constraints.txt)"
            for (name, what), figs in seen.items()]


def with_out(note: str, records_dir: Path) -> str:
    """``note`` with ``--out <the records folder>`` inside each regenerate command, so a hint
    followed as printed writes where the records were read, never over the committed ones."""
    def add(m: re.Match) -> str:
        folder = records_folder(m.group(2), records_dir)
        return f"`{m.group(1)} --out {folder}`"

    return re.sub(r"`(python -m experiments\.(\w+)[^`]*)`", add, note)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paper_repro.check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("slug", nargs="?", default=None, help="one paper (default: all)")
    parser.add_argument("--records", type=Path, default=None,
                        help="records folder: DIR/<slug>/ per paper, or one paper's folder")
    parser.add_argument("--report", type=Path, default=None, help="write a Markdown report")
    parser.add_argument("--full", action="store_true",
                        help="print the full Markdown table instead of the compact view")
    args = parser.parse_args(argv)
    mods = claim_modules()
    if args.slug is not None and args.slug not in mods:
        parser.error(f"unknown slug {args.slug!r}; known: {', '.join(sorted(mods))}")
    slugs = [args.slug] if args.slug else sorted(mods)
    all_rows = {s: evaluate(s, mods[s], args.records) for s in slugs}
    fatal = 0
    notes, machine, versions = [], [], []
    for slug, rows in all_rows.items():
        print(f"\n## {slug}\n")
        print(format_table(ordered(rows)) if args.full else format_compact(ordered(rows)))
        print("\n" + summary_line(slug, rows))
        fatal += sum(r.fatal for r in rows)
        notes += advice(slug, rows)
        machine += machine_notes(slug, rows)
        versions += version_notes(slug, records_folder(slug, args.records))
    if args.records is not None:  # the hints must not overwrite the committed records
        notes = [with_out(n, args.records) for n in notes]
    if args.report is not None:
        args.report.write_text(report(all_rows) + "\n")
        print(f"\nwrote {args.report}")
    if versions:
        print("\n" + "\n".join(versions))
    if machine:
        print("\nmachine-dependent outcomes that differ from the .md (reported, not fatal):\n"
              + "\n".join(machine))
    if fatal:
        print("\n" + "\n".join(notes), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
