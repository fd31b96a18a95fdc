"""Plain text, Markdown, HTML (beautifulsoup4), CSV, JSON and e-mail (stdlib ``email``)."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
from email.message import EmailMessage

from sovra.data.parsers._text import decode
from sovra.data.parsers._types import ParsedDocument, ParseLimits, Segment
from sovra.errors import ParseError

_MAX_JSON_LINES = 2_000_000


def parse_text(data: bytes, name: str, limits: ParseLimits, kind: str = "text"
               ) -> ParsedDocument:
    # Markdown stays as written: it is readable as is, and offsets then match the file.
    text = decode(data, name)
    return ParsedDocument(kind, (Segment(text),))


def html_to_text(markup: str | bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for hidden in soup(["script", "style", "noscript", "template"]):
        hidden.decompose()
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    return "\n".join(line for line in lines if line)


def parse_html(data: bytes, name: str, limits: ParseLimits) -> ParsedDocument:
    text = decode(data, name)
    try:
        return ParsedDocument("html", (Segment(html_to_text(text)),))
    except (ValueError, RecursionError, AssertionError) as exc:
        raise ParseError(f"{name}: unreadable HTML ({exc})") from exc


def parse_csv(data: bytes, name: str, limits: ParseLimits) -> ParsedDocument:
    text = decode(data, name)
    try:
        dialect: type[csv.Dialect] | str = csv.Sniffer().sniff(text[:8192], ",;\t|")
    except csv.Error:
        dialect = "excel"
    try:
        rows = [" | ".join(cell.strip() for cell in row)
                for row in csv.reader(io.StringIO(text), dialect)]
    except csv.Error as exc:
        raise ParseError(f"{name}: malformed CSV ({exc})") from exc
    return ParsedDocument("csv", (Segment("\n".join(r for r in rows if r.strip(" |"))),))


def _flatten(value: object, path: str, out: list[str]) -> None:
    if len(out) > _MAX_JSON_LINES:
        raise ParseError("JSON document has too many values")
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", out)
    else:
        out.append(f"{path}: {value}" if path else str(value))


def parse_json(data: bytes, name: str, limits: ParseLimits) -> ParsedDocument:
    text = decode(data, name)
    try:
        value = json.loads(text)
        lines: list[str] = []
        _flatten(value, "", lines)
    except json.JSONDecodeError as exc:
        raise ParseError(f"{name}: invalid JSON at line {exc.lineno} column {exc.colno}: "
                         f"{exc.msg}") from exc
    except RecursionError as exc:
        raise ParseError(f"{name}: JSON nested too deeply") from exc
    return ParsedDocument("json", (Segment("\n".join(lines)),))


def parse_eml(data: bytes, name: str, limits: ParseLimits) -> ParsedDocument:
    """RFC 5322 / MIME message: the headers people read, then each text body part."""
    if b"\x00" in data[:65536]:
        raise ParseError(f"{name}: binary content in an e-mail message")
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise ParseError(f"{name}: not an e-mail message (no headers)")
    head = [f"{h}: {message[h]}" for h in ("From", "To", "Cc", "Date", "Subject")
            if message[h] is not None]
    segments = [Segment("\n".join(head))]
    attachments: list[str] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment":
            attachments.append(part.get_filename() or "(unnamed)")
            continue
        body = _part_text(part, name)
        if body:
            segments.append(Segment(body))
    metadata = {"attachments": ", ".join(attachments)} if attachments else {}
    return ParsedDocument("eml", tuple(segments), metadata)


def _part_text(part: email.message.Message, name: str) -> str:
    content_type = part.get_content_type()
    if content_type not in ("text/plain", "text/html"):
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset)
    except (LookupError, UnicodeDecodeError):
        text = decode(payload, name)
    return html_to_text(text) if content_type == "text/html" else text.strip()


__all__ = ["html_to_text", "parse_csv", "parse_eml", "parse_html", "parse_json", "parse_text"]
