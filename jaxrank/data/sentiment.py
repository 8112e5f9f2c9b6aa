"""Labelled sentiment text: the VADER ground-truth corpora, and a synthetic stand-in for tests.

The VADER corpora (Hutto & Gilbert, ICWSM 2014; MIT) ship only inside the ``vaderSentiment``
3.3.2 *source* distribution. ``make data`` (or by hand) puts that sdist in the cache folder::

    pip download --no-deps --no-binary :all: vaderSentiment==3.3.2 -d ~/.cache/jaxrank

(``JAXRANK_VADER_SDIST`` may point at the file instead). Nothing is downloaded at run time.
Four domains: tweets, movie-review, Amazon-review and NYT-editorial snippets, each with a mean
sentiment score in [-4, 4]; the binary label is ``score > 0`` (score-0 items are dropped).
"""

from __future__ import annotations

import collections
import functools
import io
import os
import re
import tarfile
from pathlib import Path

import numpy as np

from jaxrank.data.images import DataNotFoundError

__all__ = ["VADER_DOMAINS", "vader_sdist_path", "load_vader", "tokenize", "build_vocab",
           "encode", "synthetic_sentiment"]

VADER_DOMAINS = ("tweets", "movieReviewSnippets", "amazonReviewSnippets", "nytEditorialSnippets")
VADER_SDIST = "vaderSentiment-3.3.2.tar.gz"
VADER_ENV = "JAXRANK_VADER_SDIST"
_TOKEN = re.compile(r"[a-z0-9']+|[!?]")


def vader_sdist_path() -> Path:
    """Where the sdist is (``$JAXRANK_VADER_SDIST`` or ``~/.cache/jaxrank/``), else raise."""
    candidates = []
    if os.environ.get(VADER_ENV):
        candidates.append(Path(os.environ[VADER_ENV]))
    candidates.append(Path.home() / ".cache" / "jaxrank" / VADER_SDIST)
    for c in candidates:
        if c.is_file():
            return c
    raise DataNotFoundError(
        f"the VADER corpora need {VADER_SDIST}; run `pip download --no-deps --no-binary :all: "
        f"vaderSentiment==3.3.2 -d ~/.cache/jaxrank` (looked at {[str(c) for c in candidates]})"
    )


@functools.cache
def load_vader(domain: str) -> tuple[tuple[str, ...], np.ndarray]:
    """``(texts, scores)`` of one VADER ground-truth file (all items, file order).

    Example:
      >>> texts, scores = load_vader("tweets")  # doctest: +SKIP
      >>> len(texts), scores.shape               # doctest: +SKIP
      (4200, (4200,))
    """
    if domain not in VADER_DOMAINS:
        raise ValueError(f"`load_vader(domain=...)` must be one of {VADER_DOMAINS}, got {domain!r}")
    with tarfile.open(vader_sdist_path()) as t:
        inner = t.extractfile(
            "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz").read()
    with tarfile.open(fileobj=io.BytesIO(inner)) as t2:
        raw = t2.extractfile(f"hutto_ICWSM_2014/{domain}_GroundTruth.txt").read()
    texts, scores = [], []
    for line in raw.decode("latin-1").splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        scores.append(float(parts[1]))
        texts.append("\t".join(parts[2:]))
    return tuple(texts), np.asarray(scores)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, apostrophes) plus ``!`` and ``?``.

    Example:
      >>> tokenize("Great phone!! Don't buy?")
      ['great', 'phone', '!', '!', "don't", 'buy', '?']
    """
    return _TOKEN.findall(text.lower().replace("&amp;", "&"))


def build_vocab(token_lists, max_size: int) -> dict[str, int]:
    """Word -> id for the ``max_size - 2`` most frequent tokens (ties by first appearance);
    id 0 is padding and id 1 the unknown word."""
    counts = collections.Counter(t for toks in token_lists for t in toks)
    words = [w for w, _ in counts.most_common(max(max_size - 2, 0))]
    return {w: i + 2 for i, w in enumerate(words)}


def encode(token_lists, vocab: dict[str, int], max_len: int) -> np.ndarray:
    """Token ids, truncated / zero-padded to ``max_len`` (int32, shape (n, max_len))."""
    out = np.zeros((len(token_lists), max_len), np.int32)
    for i, toks in enumerate(token_lists):
        ids = [vocab.get(t, 1) for t in toks[:max_len]]
        out[i, : len(ids)] = ids
    return out


def synthetic_sentiment(seed: int, n: int, *, vocab_size: int = 200, max_len: int = 16,
                        num_domains: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token sequences whose label is the sign of a sum of word polarities (for tests/smoke).

    Returns ``(tokens (n, max_len) int32, labels (n,) int32 in {0, 1}, domains (n,) int32)``.
    Each domain uses its own subset of polar words, so few-shot tasks across domains differ.
    """
    rng = np.random.default_rng(seed)
    polarity = rng.choice([-1.0, 0.0, 0.0, 1.0], size=vocab_size)
    polarity[:2] = 0.0
    domains = rng.integers(0, num_domains, n).astype(np.int32)
    lengths = rng.integers(max_len // 2, max_len + 1, n)
    tokens = np.zeros((n, max_len), np.int32)
    labels = np.zeros(n, np.int32)
    for i in range(n):
        lo = 2 + domains[i] * (vocab_size - 2) // (2 * num_domains)
        words = rng.integers(2, vocab_size, lengths[i])
        words[: lengths[i] // 3] = rng.integers(lo, lo + (vocab_size - 2) // 2, lengths[i] // 3)
        tokens[i, : lengths[i]] = words
        s = polarity[words].sum() + 0.1 * rng.standard_normal()
        labels[i] = int(s > 0)
    return tokens, labels, domains
