"""Parsers and chunking: every format, and one test per kind of bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.data.chunking import ChunkingConfig, chunk_text
from sovra.data.parsers import ParseLimits, parse
from sovra.errors import FileTooLargeError, ParseError
from tests.data.files import EML, docx_with_traversal, docx_zip_bomb, make_docx, make_pdf, zip_with


def test_plain_text_and_markdown_keep_the_text_as_written() -> None:
    assert parse("a.txt", "héllo wörld\n".encode()).text == "héllo wörld\n"
    md = parse("a.md", b"# Title\n\nSome *text*.")
    assert md.kind == "markdown" and md.text.startswith("# Title")


def test_utf16_with_bom_and_windows_1252_are_decoded() -> None:
    assert parse("a.txt", "Grüße".encode("utf-16")).text == "Grüße"
    assert parse("a.txt", "café déjà vu".encode("cp1252")).text == "café déjà vu"


def test_html_drops_scripts_and_markup() -> None:
    doc = parse("p.html", b"<html><script>var x=1</script><body><h1>Hi</h1><p>there</p>")
    assert doc.text == "Hi\nthere"


def test_pdf_pages_become_segments_with_page_numbers() -> None:
    doc = parse("r.pdf", make_pdf(["first page text", "second page text"]))
    assert [s.page for s in doc.segments] == [1, 2]
    assert "second page text" in doc.segments[1].text


def test_docx_paragraphs_and_tables() -> None:
    doc = parse("c.docx", make_docx(["Intro paragraph"], [["name", "iban"], ["Anna", "x"]]))
    assert "Intro paragraph" in doc.text and "Anna | x" in doc.text


def test_csv_json_and_eml() -> None:
    assert "Anna | 42" in parse("t.csv", b"name,age\nAnna,42\n").text
    flat = parse("d.json", json.dumps({"person": {"name": "Anna", "tags": ["a"]}}).encode())
    assert flat.text == "person.name: Anna\nperson.tags[0]: a"
    mail = parse("m.eml", EML)
    assert "Subject: Contract" in mail.text and "DE89 3704" in mail.text
    assert mail.metadata["attachments"] == "scan.pdf"


# --- bad input: one test per case ---------------------------------------------------

def test_corrupt_pdf_is_a_parse_error() -> None:
    data = bytearray(make_pdf(["hello"]))
    data[20:120] = b"\xff" * 100
    with pytest.raises(ParseError, match="corrupt or truncated PDF"):
        parse("bad.pdf", bytes(data))


def test_truncated_pdf_is_a_parse_error() -> None:
    data = make_pdf(["hello world"] * 3)
    with pytest.raises(ParseError, match=r"bad\.pdf"):
        parse("bad.pdf", data[: len(data) // 2])


def test_docx_zip_bomb_is_refused_before_opening() -> None:
    with pytest.raises(ParseError, match="zip bomb"):
        parse("bomb.docx", docx_zip_bomb())


def test_docx_bomb_with_lying_headers_is_caught_while_reading() -> None:
    # Small declared total but more than the cap in reality: the capped read stops it.
    limits = ParseLimits(max_unzipped_bytes=4096, max_compression_ratio=10_000)
    data = zip_with({"word/document.xml": b"<w/>" * 2000})
    with pytest.raises(ParseError, match="zip bomb"):
        parse("bomb.docx", data, limits)


def test_docx_path_traversal_is_refused() -> None:
    with pytest.raises(ParseError, match="unsafe path"):
        parse("evil.docx", docx_with_traversal())


def test_docx_absolute_path_is_refused() -> None:
    with pytest.raises(ParseError, match="unsafe path"):
        parse("evil.docx", zip_with({"/word/document.xml": b"<w/>"}))


def test_file_above_the_size_limit() -> None:
    with pytest.raises(FileTooLargeError, match="above the limit"):
        parse("big.txt", b"a" * 2000, ParseLimits(max_bytes=1000))


def test_binary_junk_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="binary"):
        parse("junk.txt", bytes(range(256)) * 4)


def test_unknown_encoding_is_a_parse_error() -> None:
    # Bytes that are neither UTF-8 nor Windows-1252 (0x81 is undefined there).
    with pytest.raises(ParseError, match="unknown text encoding"):
        parse("sjis.txt", "日本語のテキスト".encode("shift_jis") + b"\x81\x81")


def test_empty_file_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="empty file"):
        parse("empty.txt", b"")
    with pytest.raises(ParseError, match="empty file"):
        parse("blank.md", b"  \n\t ")


def test_unsupported_extension_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="unsupported file type"):
        parse("x.exe", b"MZ...")


def test_json_nested_too_deeply() -> None:
    with pytest.raises(ParseError, match="JSON"):
        parse("deep.json", b"[" * 100_000 + b"]" * 100_000)


# --- chunking ---------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab .\n"), min_size=0, max_size=4000),
       st.integers(min_value=60, max_value=500))
def test_chunks_are_exact_slices_that_cover_the_text(text: str, size: int) -> None:
    chunks = chunk_text(text, None, ChunkingConfig(size=size, overlap=size // 5))
    for chunk in chunks:
        assert text[chunk.start:chunk.end] == chunk.text
        assert chunk.end - chunk.start <= size
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, c in enumerate(text) if not c.isspace())
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_chunks_know_their_page() -> None:
    doc = parse("r.pdf", make_pdf(["alpha " * 200, "beta " * 200]))
    chunks = chunk_text(doc.text, doc.page_starts())
    assert chunks[0].page == 1 and chunks[-1].page == 2
    assert all(("beta" in c.text) == (c.page == 2) or "alpha" in c.text for c in chunks)
