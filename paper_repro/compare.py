"""``python -m paper_repro.compare NEW [--base DIR|git:REF] [--rtol R] [--report PATH]``

What differs between a user's regenerated records (``NEW/<slug>/*.json``, as ``make repro
OUT=NEW`` writes them) and ours (default: the committed records of ``git:HEAD``; or a folder
laid out like ``figures/``):

* claim outcomes, side by side, each labelled deterministic or machine-dependent
  (``[timing]``/``[chaotic]``, see :mod:`paper_repro.check`);
* summary values that differ beyond ``rtol`` (relative) / ``atol``, each labelled
  ``machine`` when it is a wall-clock key or belongs to a figure that only chaotic claims read,
  with the counts per figure;
* the packages and the CPU each record was made with, when they differ.

Exit code 1 when a deterministic claim's outcome differs (the same rule as the strict check),
else 0: machine-dependent differences are reported, never fatal. With ``--strict`` (the
no-result-change invariant that ``make verify`` checks) every deterministic summary value that
differs beyond ``rtol``, and every figure present on one side only, fails too; chaotic figures
are still compared at the level of claim outcomes only.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from paper_repro import check

RTOL = 1e-6  # summary values within this relative difference are the same number
ATOL = 1e-12
# Summary keys that are wall-clock measurements (or derived from them) in every paper.
TIMING_KEYS = ("*time*", "*_s", "*seconds*", "*ratio_to_bce", "*log_ratio_se", "speed/*",
               "cpu_count", "*/per_iter*", "*speedup*")


def _git_records(ref: str, slug: str) -> dict[str, dict[str, Any]]:
    root = check.REPO_ROOT
    try:
        names = subprocess.run(["git", "ls-tree", "--name-only", f"{ref}:figures/{slug}"],
                               cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    out = {}
    for name in names.split():
        if name.endswith(".json"):
            blob = subprocess.run(["git", "show", f"{ref}:figures/{slug}/{name}"], cwd=root,
                                  capture_output=True, text=True, check=True).stdout
            out[name[:-5]] = json.loads(blob)
    return out


def load_base(base: str, slug: str) -> dict[str, dict[str, Any]]:
    """Records of ``slug`` in ``base``: ``git:REF`` (committed) or a folder like ``figures/``."""
    if base.startswith("git:"):
        return _git_records(base[4:], slug)
    return check.load_records(check.records_folder(slug, Path(base)))


def machine_figures(mod: Any) -> set[str]:
    """Figures that only machine-dependent (chaotic) claims read: every key is machine's."""
    readers: dict[str, set[str | None]] = {}
    for c in mod.CLAIMS:
        for f in c.figures:
            readers.setdefault(f, set()).add(c.machine)
    return {f for f, kinds in readers.items() if kinds == {check.CHAOTIC}}


def is_machine_key(key: str, fig: str, chaotic: set[str]) -> bool:
    return fig in chaotic or any(fnmatch.fnmatchcase(key, p) for p in TIMING_KEYS)


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None
    try:
        return float(v)
    except ValueError:
        return None


def summary_diffs(new: Mapping[str, Any], old: Mapping[str, Any], *, rtol: float = RTOL,
                  atol: float = ATOL) -> list[tuple[str, Any, Any]]:
    """``(key, old, new)`` for every summary key whose values differ beyond the tolerance
    (numbers) or at all (other values), including keys on one side only."""
    out = []
    for k in sorted(set(new) | set(old)):
        a, b = old.get(k, "<absent>"), new.get(k, "<absent>")
        fa, fb = _num(a), _num(b)
        if fa is not None and fb is not None:
            if (math.isnan(fa) and math.isnan(fb)) or math.isclose(fa, fb, rel_tol=rtol,
                                                                    abs_tol=atol):
                continue
        elif a == b:
            continue
        out.append((k, a, b))
    return out


def _env_line(rec: Mapping[str, Any]) -> str:
    env = rec.get("env", {})
    cpu = env.get("cpu", {})
    isa = "/".join(i for i in cpu.get("vector_isa", []) if i.startswith("avx")) or "?"
    v = env.get("versions", {})
    return (f"{cpu.get('model', 'CPU not recorded')} ({isa}); jax {v.get('jax')}, numpy "
            f"{v.get('numpy')}, scipy {v.get('scipy')}")


def compare(new_dir: Path, base: str = "git:HEAD", *, rtol: float = RTOL,
            slugs: Sequence[str] | None = None, max_keys: int = 8,
            strict: bool = False) -> tuple[str, int]:
    """The Markdown difference report and the number of fatal differences: deterministic
    outcome changes, plus (``strict``) deterministic summary values and one-sided figures."""
    mods = check.claim_modules()
    lines = [f"# Differences: `{new_dir}` vs `{base}`", "",
             f"Summary values compared at rtol {rtol:g}; `machine` marks wall-clock keys and "
             "figures read only by chaotic claims (their differences are expected on another "
             "CPU). Claim outcomes: deterministic changes fail the check; machine-dependent "
             "ones are reported only.", ""]
    fatal = 0
    for slug in slugs or sorted(mods):
        folder = check.records_folder(slug, new_dir)
        new = check.load_records(folder)
        if not new:
            continue
        old = load_base(base, slug)
        mod = mods[slug]
        chaotic = machine_figures(mod)
        lines += [f"## {slug}", ""]
        new_rows = {r.claim.id: r for r in check.evaluate(slug, mod, new_dir)}
        old_rows = {r.claim.id: r for r in _evaluate_records(slug, mod, old)}
        changed = []
        for cid, r in new_rows.items():
            o = old_rows.get(cid)
            before = _status(o) if o is not None else "absent"
            if before != _status(r):
                kind = f"machine-dependent ({r.claim.machine})" if r.claim.machine else \
                    "deterministic"
                fatal += r.claim.machine is None
                changed.append(f"- {cid} [{kind}]: {before} → {_status(r)}"
                               + (f" ({check._one_line(r.outcome.measured, 200)})"
                                  if r.outcome else ""))
        lines += (["Claim outcomes that changed:", *changed] if changed
                  else ["Claim outcomes: all unchanged."])
        lines.append("")
        for fig in sorted(set(new) | set(old)):
            if fig not in new or fig not in old:
                lines.append(f"- `{fig}`: only in {'ours' if fig in old else 'yours'}")
                fatal += strict
                continue
            diffs = summary_diffs(new[fig].get("summary", {}), old[fig].get("summary", {}),
                                  rtol=rtol)
            env_new, env_old = _env_line(new[fig]), _env_line(old[fig])
            env = "" if env_new == env_old else f" (ours: {env_old}; yours: {env_new})"
            if not diffs:
                lines.append(f"- `{fig}`: summary identical{env}")
                continue
            mach = [d for d in diffs if is_machine_key(d[0], fig, chaotic)]
            det = [d for d in diffs if not is_machine_key(d[0], fig, chaotic)]
            fatal += strict and bool(det)
            lines.append(f"- `{fig}`: {len(diffs)} of {len(new[fig].get('summary', {}))} "
                         f"summary values differ: {len(det)} deterministic, {len(mach)} "
                         f"machine{env}")
            for k, a, b in (det + mach)[:max_keys]:
                tag = "machine" if is_machine_key(k, fig, chaotic) else "deterministic"
                lines.append(f"  - `{k}` [{tag}]: {a} → {b}")
        lines.append("")
    what = ("deterministic difference(s) (claim outcomes, summary values, figures)" if strict
            else "deterministic claim outcome(s) differ")
    lines.append(f"{fatal} {what}.")
    return "\n".join(lines) + "\n", fatal


def _status(row: check.Row) -> str:
    """The claim's measured outcome, whatever the record's mode or config (those are the
    strict check's business, not a difference between two runs)."""
    if row.outcome is not None:
        return row.outcome.status
    return check.MISSING if row.error is None else "error"


def _evaluate_records(slug: str, mod: Any, records: Mapping[str, Any]) -> list[check.Row]:
    rows = []
    for claim in mod.CLAIMS:
        outcome, error = None, None
        if all(f in records for f in claim.figures):
            try:
                outcome = claim.evaluate(records)
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                error = f"{type(exc).__name__}: {exc}"
        rows.append(check.Row(slug, claim, outcome, None, error))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paper_repro.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("new", type=Path, help="your records: NEW/<slug>/*.json")
    parser.add_argument("--base", default="git:HEAD",
                        help="ours: git:REF (default git:HEAD) or a folder laid out like figures/")
    parser.add_argument("--rtol", type=float, default=RTOL, help="relative tolerance")
    parser.add_argument("--slug", action="append", default=None, help="only these papers")
    parser.add_argument("--report", type=Path, default=None, help="also write the report here")
    parser.add_argument("--strict", action="store_true",
                        help="also fail on deterministic summary values beyond rtol and on "
                             "figures present on one side only (make verify)")
    args = parser.parse_args(argv)
    text, fatal = compare(args.new, args.base, rtol=args.rtol, slugs=args.slug,
                          strict=args.strict)
    print(text)
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
    return 1 if fatal else 0


if __name__ == "__main__":
    sys.exit(main())
