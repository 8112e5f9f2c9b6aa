"""``python -m experiments`` lists every paper and figure; ``python -m experiments all [...]``
runs every paper's figures with the usual flags (``--figure``, ``--smoke``, ``--out``,
``--replot``)."""

from __future__ import annotations

import sys

from experiments import _harness


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    papers = _harness.discover()
    if argv and argv[0] == "all":
        return _harness.main_for(papers, argv[1:], prog="python -m experiments all")
    if argv:
        print("usage: python -m experiments [all [--figure ID|all] [--smoke] [--out DIR] "
              "[--replot]]", file=sys.stderr)
        return 2
    for slug, paper in sorted(papers.items()):
        print(f"{slug}: {paper.title}")
        print(f"    {paper.reference}")
        for fig_id, fig in paper.figures.items():
            print(f"    {fig_id:<14} {fig.paper_ref:<34} {fig.title}")
        print(f"    run: python -m experiments.{slug} [--figure ID|all] [--smoke] [--out DIR]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
