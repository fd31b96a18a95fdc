"""Split a document's text into overlapping chunks that keep their place for citations.

Invariant: ``chunk.text == text[chunk.start:chunk.end]``, and ``chunk.page`` is the page
(where the format has pages) on which the chunk starts. Cuts prefer a paragraph break,
then a sentence end, then whitespace, so that chunks read as whole thoughts.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from sovra.errors import InvalidInputError


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int
    end: int
    page: int | None
    text: str


@dataclass(frozen=True)
class ChunkingConfig:
    size: int = 800  # characters; MiniLM reads 256 word pieces, about 1000 characters
    overlap: int = 100

    def __post_init__(self) -> None:
        if self.size < 50 or not 0 <= self.overlap < self.size // 2:
            raise InvalidInputError("chunk size must be >= 50 and overlap < size/2")


_BREAKS = ("\n\n", ". ", "! ", "? ", ".\n", "\n", "; ", ", ", " ")


def _cut(text: str, start: int, limit: int, minimum: int) -> int:
    """The best end for a chunk starting at ``start`` and ending at most at ``limit``."""
    if limit >= len(text):
        return len(text)
    for mark in _BREAKS:
        at = text.rfind(mark, minimum, limit)
        if at != -1:
            return at + len(mark)
    return limit


def chunk_text(text: str, pages: list[tuple[int, int | None]] | None = None,
               config: ChunkingConfig | None = None) -> list[Chunk]:
    """Chunks of ``text``; ``pages`` lists (offset, page) where each page begins."""
    config = config or ChunkingConfig()
    offsets = [offset for offset, _ in pages] if pages else []
    chunks: list[Chunk] = []
    start = 0
    while start < len(text):
        while start < len(text) and text[start].isspace():
            start += 1
        if start >= len(text):
            break
        end = _cut(text, start, start + config.size, start + config.size // 2)
        body_end = end
        while body_end > start and text[body_end - 1].isspace():
            body_end -= 1
        page = None
        if pages:
            page = pages[max(0, bisect.bisect_right(offsets, start) - 1)][1]
        chunks.append(Chunk(len(chunks), start, body_end, page, text[start:body_end]))
        if end >= len(text):
            break
        # Step back by the overlap, to a word boundary, but always move forward.
        back = text.rfind(" ", start + 1, end - config.overlap) if config.overlap else -1
        start = back + 1 if back > start else end
    return chunks


__all__ = ["Chunk", "ChunkingConfig", "chunk_text"]
