"""The one builder of summary keys, shared by ``experiments/<slug>.py`` (which writes them) and
``paper_repro/<slug>.py`` (which reads them), so a renamed key breaks both sides at once.

``key("fmnist", "lr_gd", 100.0, "iterations")`` -> ``"fmnist/lr_gd/100/iterations"``: parts
are joined with ``/`` (a part may itself be a key, ``key(base, "min")``); numbers are written
with ``:g`` (``0.1`` -> ``"0.1"``, ``1e10`` -> ``"1e+10"``, ``100.0`` -> ``"100"``), so a step
size reads the same whether it came from a config tuple or a literal.
"""

from __future__ import annotations

import numbers


def fmt(part: object) -> str:
    """One key part: numbers with ``:g``, strings as they are."""
    if isinstance(part, bool):
        raise TypeError(f"`key(...)` parts must be str or numbers, got bool {part!r}")
    if isinstance(part, numbers.Real):
        return f"{float(part):g}"
    if isinstance(part, str):
        if not part or part.startswith("/") or part.endswith("/"):
            raise ValueError(f"`key(...)` parts must be non-empty without an outer '/', got "
                             f"{part!r}")
        return part
    raise TypeError(f"`key(...)` parts must be str or numbers, got {type(part).__name__}")


def key(*parts: object) -> str:
    """The summary key of ``parts``, joined with ``/``."""
    if not parts:
        raise ValueError("`key(...)` needs at least one part")
    return "/".join(fmt(p) for p in parts)
