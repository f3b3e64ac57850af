"""Deterministic embeddings: texts sharing words are close (the package docstring,
"Embeddings")."""

from __future__ import annotations

import hashlib
import math
import re
from functools import lru_cache

_EMBED_WORD_RE = re.compile(r"\w+")
_STOP_WORDS = frozenset(
    (  # noqa: SIM905
        "a an and are as at be but by for from has have i in is it its me my of on or our that "
        "the their them there these this to was we were what when where which who will with you "
        "your"
    ).split()
)


@lru_cache(maxsize=65536)
def _bucket(word: str, dim: int) -> tuple[int, float]:
    n = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
    return n % dim, (1.0 if n >> 63 else -1.0)


def _embed_words(text: str) -> list[str]:
    words = _EMBED_WORD_RE.findall(text.lower())
    kept = [w for w in words if w not in _STOP_WORDS] or words
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in kept]


def embed_text(text: str, dim: int = 384) -> list[float]:
    """A deterministic unit vector for ``text`` (the package docstring, "Embeddings")."""
    vec = [0.0] * dim
    words = _embed_words(text)
    if not words:
        words = ["\0" + " ".join(text.split()).lower()]
    for word in words:
        idx, sign = _bucket(word, dim)
        vec[idx] += sign
    norm = math.sqrt(sum(x * x for x in vec))
    if norm == 0.0:  # every word cancelled out: fall back to the text's own bucket
        idx, sign = _bucket("\0" + text, dim)
        vec[idx] = sign
        norm = 1.0
    return [x / norm for x in vec]
