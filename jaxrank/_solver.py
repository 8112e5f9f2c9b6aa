"""The :class:`Solver` contract (documented in :mod:`jaxrank.optim`), below every layer that
builds solvers: :mod:`jaxrank.optim` and the model trainers of :mod:`jaxrank.models` import it
from here; it stays importable from :mod:`jaxrank.optim` and :mod:`jaxrank.optim._base`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["Solver"]

Params = Any
State = Any


class Solver(NamedTuple):
    """A pair of pure functions ``init(params, *args)`` and ``update(params, state, *args)``.

    ``validate`` (optional) is ``validate(params, *args, *step)`` with the inputs of the first
    step: :func:`run` and :func:`run_until` call it, outside any trace, when every input is
    concrete, so checks that a traced ``update`` skips (label conventions, NaNs, shapes) raise
    the message of a direct call before anything is compiled. Its return value is ignored.
    """

    init: Callable[..., State]
    update: Callable[..., tuple[Params, State]]
    validate: Callable[..., Any] | None = None
