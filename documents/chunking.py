"""Text into passages of about CHUNK_CHARS characters, cut where a reader would pause.

Paragraphs (blank lines) are kept whole when they fit; a longer one is cut into sentences, a
longer sentence at spaces, a word longer than a chunk anywhere. Consecutive chunks share up to
OVERLAP_CHARS of whole sentences, so a fact cut at a boundary is still whole in one of them.
800 characters of English are about 200 word pieces, inside the embedder's 256.
"""

import re

CHUNK_CHARS = 800
OVERLAP_CHARS = 150

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
_SPACE = re.compile(r"\s+")


def chunk_text(text: str, *, size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS) -> list[str]:
    """The chunks of `text`, in order; none for text that is only whitespace."""
    chunks: list[str] = []
    current: list[str] = []  # pieces of the chunk being filled (whole sentences or paragraphs)
    for piece in _pieces(text, size):
        if current and _length([*current, piece]) > size:
            chunks.append(" ".join(current))
            current = _tail(current, overlap, room=size - len(piece) - 1)
        current.append(piece)
    if current:
        chunks.append(" ".join(current))
    return chunks


def _pieces(text: str, size: int):
    """Paragraphs that fit, else their sentences, else runs of words, else hard cuts."""
    for paragraph in _PARAGRAPH_BREAK.split(text):
        paragraph = _SPACE.sub(" ", paragraph).strip()
        if not paragraph:
            continue
        if len(paragraph) <= size:
            yield paragraph
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            yield from _fit(sentence, size)


def _fit(sentence: str, size: int):
    if len(sentence) <= size:
        yield sentence
        return
    line = ""
    for word in sentence.split(" "):
        while len(word) > size:  # no space to cut at
            if line:
                yield line
                line = ""
            yield word[:size]
            word = word[size:]
        if line and len(line) + 1 + len(word) > size:
            yield line
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        yield line


def _tail(pieces: list[str], overlap: int, *, room: int) -> list[str]:
    """The last whole pieces of a finished chunk, at most `overlap` characters (and never more
    than the next piece leaves room for), to start the next chunk with."""
    kept: list[str] = []
    for piece in reversed(pieces):
        if _length([piece, *kept]) > min(overlap, room):
            break
        kept.insert(0, piece)
    return kept


def _length(pieces: list[str]) -> int:
    return sum(len(piece) for piece in pieces) + max(len(pieces) - 1, 0)
