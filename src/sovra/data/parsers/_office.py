"""PDF (pypdf) and DOCX (python-docx), behind checks that hostile files cannot pass.

A DOCX is a zip archive: before python-docx (and its XML parser) sees it, every member
is checked for path tricks (absolute paths, ``..``, backslashes, drive letters) and for
decompression bombs (total size, entry count, per-member ratio), using the sizes in the
central directory and then by reading with a hard cap, since headers can lie.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from sovra.data.parsers._types import ParsedDocument, ParseLimits, Segment
from sovra.errors import ParseError

_PDF_DAMAGE = (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError,
               OSError, AssertionError, ZeroDivisionError)


def parse_pdf(data: bytes, name: str, limits: ParseLimits) -> ParsedDocument:
    import pypdf
    from pypdf.errors import PyPdfError

    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise ParseError(f"{name}: not a PDF (no %PDF- header)")
    # pypdf signals damage with its own errors but also with built-in ones from deep
    # inside the object parser; all of them mean "this file is damaged".
    try:
        # strict: a truncated or corrupt file is an error, not a silent partial read.
        reader = pypdf.PdfReader(io.BytesIO(data), strict=True)
        encrypted, pages = reader.is_encrypted, len(reader.pages)
    except (PyPdfError, *_PDF_DAMAGE) as exc:
        raise _damaged(name, exc) from exc
    if encrypted:
        raise ParseError(f"{name}: the PDF is encrypted; decrypt it before ingesting")
    if pages > limits.max_pdf_pages:
        raise ParseError(f"{name}: {pages} pages, above the limit of {limits.max_pdf_pages}")
    segments = []
    total = 0
    for number in range(pages):
        try:
            text = reader.pages[number].extract_text() or ""
        except (PyPdfError, *_PDF_DAMAGE) as exc:
            raise _damaged(name, exc) from exc
        total += len(text)
        if total > limits.max_text_chars:
            raise ParseError(f"{name}: more than {limits.max_text_chars} characters of text")
        segments.append(Segment(text.strip(), page=number + 1))
    return ParsedDocument("pdf", tuple(segments))


def _damaged(name: str, exc: BaseException) -> ParseError:
    return ParseError(f"{name}: corrupt or truncated PDF ({type(exc).__name__}: {exc})")


def check_zip(data: bytes, name: str, limits: ParseLimits) -> zipfile.ZipFile:
    """Open a zip archive only if no member is a path trick or a bomb."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ParseError(f"{name}: corrupt or truncated zip container ({exc})") from exc
    if len(members) > limits.max_zip_entries:
        raise ParseError(f"{name}: {len(members)} zip entries, above {limits.max_zip_entries}")
    total = 0
    for member in members:
        _check_member_name(member.filename, name)
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if total > limits.max_unzipped_bytes or ratio > limits.max_compression_ratio:
            raise ParseError(f"{name}: zip bomb suspected ({member.filename!r} expands "
                             f"{ratio:.0f}x; {total} bytes in all)")
    return archive


def _check_member_name(member: str, name: str) -> None:
    path = PurePosixPath(member)
    if (member.startswith(("/", "\\")) or "\\" in member or ".." in path.parts
            or (len(member) > 1 and member[1] == ":") or "\x00" in member):
        raise ParseError(f"{name}: unsafe path in zip container: {member!r}")


def _read_capped(archive: zipfile.ZipFile, member: str, cap: int, name: str) -> bytes:
    # The central directory's sizes can lie; read with a hard cap regardless.
    try:
        with archive.open(member) as handle:
            data = handle.read(cap + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ParseError(f"{name}: corrupt zip member {member!r} ({exc})") from exc
    if len(data) > cap:
        raise ParseError(f"{name}: zip bomb suspected ({member!r} expands beyond {cap} bytes)")
    return data


def parse_docx(data: bytes, name: str, limits: ParseLimits) -> ParsedDocument:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    archive = check_zip(data, name, limits)
    budget = limits.max_unzipped_bytes
    for member in archive.infolist():
        budget -= len(_read_capped(archive, member.filename, budget, name))
    if "word/document.xml" not in archive.namelist():
        raise ParseError(f"{name}: not a Word document (no word/document.xml)")
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError,
            EOFError, SyntaxError) as exc:  # lxml's XMLSyntaxError is a SyntaxError
        raise ParseError(f"{name}: corrupt Word document ({type(exc).__name__}: {exc})"
                         ) from exc
    parts = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells]
            if any(cells):
                parts.append(" | ".join(cells))
    return ParsedDocument("docx", (Segment("\n".join(parts)),))


__all__ = ["check_zip", "parse_docx", "parse_pdf"]
