"""Parsers: bytes in, text segments out, or a ParseError that names the file and why.

Pure apart from reading the bytes they are handed (no files, no network); the ingest
service reads files and enforces the size limit before calling ``parse``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath

from sovra.data.parsers._office import parse_docx, parse_pdf
from sovra.data.parsers._structured import (
    parse_csv,
    parse_eml,
    parse_html,
    parse_json,
    parse_text,
)
from sovra.data.parsers._tabular import parse_parquet, parse_xlsx
from sovra.data.parsers._types import SEPARATOR, ParsedDocument, ParseLimits, Segment
from sovra.errors import FileTooLargeError, ParseError

Parser = Callable[[bytes, str, ParseLimits], ParsedDocument]


def _markdown(data: bytes, name: str, limits: ParseLimits) -> ParsedDocument:
    return parse_text(data, name, limits, kind="markdown")


PARSERS: dict[str, Parser] = {
    ".txt": parse_text, ".text": parse_text, ".log": parse_text,
    ".md": _markdown, ".markdown": _markdown,
    ".html": parse_html, ".htm": parse_html,
    ".pdf": parse_pdf,
    ".docx": parse_docx,
    ".csv": parse_csv, ".tsv": parse_csv,
    ".parquet": parse_parquet, ".xlsx": parse_xlsx,
    ".json": parse_json,
    ".eml": parse_eml,
}


def supported(name: str) -> bool:
    return PurePath(name).suffix.lower() in PARSERS


def parse(name: str, data: bytes, limits: ParseLimits | None = None) -> ParsedDocument:
    """Parse ``data`` by the file name's extension; every failure is a ParseError."""
    limits = limits or ParseLimits()
    if len(data) > limits.max_bytes:
        raise FileTooLargeError(f"{name}: {len(data)} bytes, above the limit of "
                                f"{limits.max_bytes} bytes (setting data_max_file_bytes)")
    if not data.strip():
        raise ParseError(f"{name}: empty file")
    parser = PARSERS.get(PurePath(name).suffix.lower())
    if parser is None:
        known = ", ".join(sorted(PARSERS))
        raise ParseError(f"{name}: unsupported file type; supported: {known}")
    try:
        parsed = parser(data, name, limits)
    except (MemoryError, RecursionError) as exc:
        raise ParseError(f"{name}: too complex to parse ({type(exc).__name__})") from exc
    if not parsed.text.strip():
        raise ParseError(f"{name}: no text could be extracted ({parsed.kind})")
    if len(parsed.text) > limits.max_text_chars:
        raise ParseError(f"{name}: more than {limits.max_text_chars} characters of text")
    return parsed


__all__ = ["PARSERS", "SEPARATOR", "ParseLimits", "ParsedDocument", "Segment", "parse",
           "supported"]
