"""Test documents built in memory: a minimal PDF writer, DOCX via python-docx, hostile zips."""

from __future__ import annotations

import io
import zipfile


def make_pdf(pages: list[str]) -> bytes:
    """A small, valid PDF 1.4 with one text line per page (Helvetica), correct xref."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_id = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    return out.getvalue()


def make_docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                grid.cell(r, c).text = cell
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_with(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def docx_zip_bomb(expanded: int = 30 * 1024 * 1024) -> bytes:
    """A DOCX-looking zip whose one member inflates ~1000x."""
    return zip_with({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>",
                     "word/media/bomb.bin": b"\0" * expanded})


def docx_with_traversal() -> bytes:
    good = make_docx(["hello"])
    with zipfile.ZipFile(io.BytesIO(good)) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members["../../etc/cron.d/evil"] = b"* * * * * root rm -rf /"
    return zip_with(members)


EML = (b"From: Anna Keller <anna.keller@example.com>\r\nTo: hr@example.com\r\n"
       b"Subject: Contract\r\nDate: Mon, 3 Mar 2025 10:00:00 +0100\r\n"
       b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
       b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
       b"Hello, my IBAN is DE89 3704 0044 0532 0130 00.\r\n"
       b"--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
       b"filename=\"scan.pdf\"\r\n\r\nJVBERi0=\r\n--XX--\r\n")
