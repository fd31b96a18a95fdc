"""Decoding bytes to text without guessing wildly: UTF-8 (with or without BOM), UTF-16/32
with a BOM, then Windows-1252 only when the result looks like text. Anything else is an
unknown encoding or binary, and says so."""

from __future__ import annotations

import codecs

from sovra.errors import ParseError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")


def looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:65536]


def _mostly_text(text: str) -> bool:
    if not text:
        return True
    bad = sum(1 for c in text[:65536] if (c < " " and c not in _ALLOWED_CONTROLS) or c == "\ufffd")
    return bad / min(len(text), 65536) < 0.01


def decode(data: bytes, name: str) -> str:
    """The text of ``data``; ParseError when no encoding fits."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ParseError(f"{name}: starts with a {encoding} byte-order mark but is "
                                 f"not valid {encoding} ({exc.reason})") from exc
    if looks_binary(data):
        raise ParseError(f"{name}: binary content (NUL bytes) in a text format; "
                         "unknown encoding or not a text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise ParseError(f"{name}: unknown text encoding (neither UTF-8 nor "
                             "Windows-1252); convert it to UTF-8") from exc
    if not _mostly_text(text):
        raise ParseError(f"{name}: does not look like text (control characters); "
                         "unknown encoding or binary data")
    return text


__all__ = ["decode", "looks_binary"]
