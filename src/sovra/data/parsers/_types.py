"""What a parser returns: text segments that remember where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field

SEPARATOR = "\n\n"  # between segments in the document text; chunk offsets count it


@dataclass(frozen=True)
class Segment:
    """A run of text from one place in the source: a PDF page, a sheet, a body part."""

    text: str
    page: int | None = None  # 1-based page number where the format has pages


@dataclass(frozen=True)
class ParseLimits:
    """Bounds that keep a hostile file from exhausting memory or time."""

    max_bytes: int = 50 * 1024 * 1024
    # DOCX/zip: total uncompressed size, entries, and per-member compression ratio.
    max_unzipped_bytes: int = 200 * 1024 * 1024
    max_zip_entries: int = 10_000
    max_compression_ratio: float = 200.0
    max_pdf_pages: int = 5_000
    max_text_chars: int = 20_000_000


@dataclass(frozen=True)
class ParsedDocument:
    """The text of one file, as segments, plus the format it was read as."""

    kind: str
    segments: tuple[Segment, ...]
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return SEPARATOR.join(s.text for s in self.segments)

    def page_starts(self) -> list[tuple[int, int | None]]:
        """(offset in ``text``, page) where each segment starts."""
        out: list[tuple[int, int | None]] = []
        offset = 0
        for segment in self.segments:
            out.append((offset, segment.page))
            offset += len(segment.text) + len(SEPARATOR)
        return out


__all__ = ["SEPARATOR", "ParseLimits", "ParsedDocument", "Segment"]
