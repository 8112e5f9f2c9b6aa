"""The repository stands alone: no tracked file refers to notes kept outside it.

Facts about a paper are cited to the paper (section, equation, table, figure, abstract) or to its
official code (repository and commit), in ``paper_repro/<slug>.md``; research notes and the house
rules that are not part of the repository must not be referred to (no ``shared/`` or ``specs/``
paths, no style-guide file, no "spec §n" section numbers).
"""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# built from pieces so that this file does not match itself
FORBIDDEN = re.compile("|".join([r"shared" + "/", r"specs" + "/", r"\bSTYLE" + r"\b",
                                 r"\bspec" + r" §"]))


def _tracked_text_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True)
    files = []
    for name in out.stdout.decode().split("\0"):
        path = ROOT / name
        if name and path.is_file() and path != Path(__file__).resolve():
            data = path.read_bytes()
            if b"\0" not in data[:8192]:  # text only
                files.append(path)
    return files


def test_tracked_files_are_found():
    files = {p.relative_to(ROOT).as_posix() for p in _tracked_text_files()}
    assert {"pyproject.toml", "paper_repro/check.py", "README.md"} <= files


def test_no_tracked_file_refers_to_notes_outside_the_repository():
    hits = []
    for path in _tracked_text_files():
        for i, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if FORBIDDEN.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()[:120]}")
    assert not hits, (f"{len(hits)} line(s) refer to notes outside the repository (cite the paper "
                      "or the official code instead):\n" + "\n".join(hits))


def test_the_scan_catches_each_pattern():
    for text in ("see " + "shared" + "/notes", "the " + "specs" + "/x.md file",
                 "STYLE" + ".md §3", "as in " + "spec" + " §2"):
        assert FORBIDDEN.search(text), text
    assert not FORBIDDEN.search("importlib.util.find_spec(name); callspec.params")
