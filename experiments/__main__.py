"""``python -m experiments``: the front door to every paper's figures.

    python -m experiments                 # list papers and figure ids
    python -m experiments --help          # the same, with usage
    python -m experiments SLUG [--figure ID|all] [--smoke] [--out DIR] [--replot]
    python -m experiments all  [--figure ID|all] [--smoke] [--out DIR] [--replot]

``all`` runs every paper in turn, each in a fresh process (one process for all seven runs out
of memory maps for XLA's compiled code); each figure runs under its own paper's precision
(``Config.dtype``), so the order of papers does not change any record.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from experiments import _harness

USAGE = ("usage: python -m experiments [-h] [SLUG|all [--figure ID|all] [--smoke] [--out DIR] "
         "[--replot]]")


def listing(papers: Mapping[str, _harness.Paper]) -> str:
    lines = []
    for slug, paper in sorted(papers.items()):
        lines.append(f"{slug}: {paper.title}")
        lines.append(f"    {paper.reference}")
        for fig_id, fig in paper.figures.items():
            lines.append(f"    {fig_id:<14} {fig.paper_ref:<34} {fig.title}")
        lines.append(f"    run: python -m experiments {slug} [--figure ID|all] [--smoke] "
                     "[--out DIR]   (help: python -m experiments." + slug + " --help)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    papers = _harness.discover()
    if not argv or argv[0] in ("-h", "--help"):
        if argv:
            print(USAGE + "\n\n" + __doc__.split("\n\n", 1)[1].strip() + "\n")
            print(_harness.OVERWRITE_WARNING + "\n")
        print("papers and figure ids:\n" + listing(papers))
        return 0
    head, rest = argv[0], argv[1:]
    if head == "all":
        return _harness.main_all(papers, rest, prog="python -m experiments all")
    if head in papers:
        paper = papers[head]
        return _harness.main_for({head: paper}, rest, prog=f"python -m experiments {head}",
                                 description=f"{paper.title}\n  {paper.reference}")
    print(f"{USAGE}\npython -m experiments: error: unknown paper {head!r}; valid: all, "
          f"{', '.join(sorted(papers))}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
