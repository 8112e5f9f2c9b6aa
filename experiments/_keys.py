"""The one builder of summary keys, shared by ``experiments/<slug>.py`` (which writes them) and
``paper_repro/<slug>.py`` (which reads them), so a renamed key breaks both sides at once.

``key("fmnist", "lr_gd", 100.0, "iterations")`` -> ``"fmnist/lr_gd/100/iterations"``: parts
are joined with ``/`` (a part may itself be a key, ``key(base, "min")``); numbers are written
with ``:g`` (``0.1`` -> ``"0.1"``, ``1e10`` -> ``"1e+10"``, ``100.0`` -> ``"100"``), so a step
size reads the same whether it came from a config tuple or a literal.

Some committed records predate ``fmt`` and write a number as Python's ``str`` does
(bo_rep: ``s0/bo_rep/calls_to_eps/1.0``). Summary keys are frozen (a rename needs an old -> new
map and a regeneration), so those call sites pass ``pystr(x)``, which keeps that text:
``key("s0", "bo_rep", "calls_to_eps", pystr(1.0))`` -> ``"s0/bo_rep/calls_to_eps/1.0"``.
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


def pystr(number: object) -> str:
    """A number as Python's ``str`` writes it (``1.0`` -> ``"1.0"``, ``1e-05`` -> ``"1e-05"``),
    for the keys whose records were written that way before ``fmt`` (see the module doc)."""
    if isinstance(number, bool) or not isinstance(number, numbers.Real):
        raise TypeError(f"`pystr(number)` needs an int or float, got "
                        f"{type(number).__name__} {number!r}")
    return str(number)


def key(*parts: object) -> str:
    """The summary key of ``parts``, joined with ``/``."""
    if not parts:
        raise ValueError("`key(...)` needs at least one part")
    return "/".join(fmt(p) for p in parts)
