"""Parquet (pyarrow) and Excel workbooks (openpyxl): rows of cells, as the CSV parser.

Both become the same text as a CSV file (one line per row, cells joined by ``" | "``,
the header first), so search, classification and governed SQL (``sovra.analytics``)
treat them alike. A workbook is one segment per sheet, each opened by a
``SHEET_MARK`` line naming it, so each sheet is its own table. Everything is read from
the bytes in memory: no temporary file holds the plaintext (ADR 0406), which is why
Parquet is read by pyarrow from a buffer rather than by DuckDB from a path (ADR 1101).

Cells are written as text: ``None`` as an empty cell, dates in ISO 8601, and a cell
that holds the separator or a line break has them replaced (``" / "``, a space), so one
cell never becomes two.
"""

from __future__ import annotations

import io
from datetime import date, datetime, time
from typing import Any

from sovra.data.parsers._office import check_zip
from sovra.data.parsers._types import ParsedDocument, ParseLimits, Segment
from sovra.errors import ParseError

CELL_SEPARATOR = " | "
SHEET_MARK = "## sheet: "
MAX_CELLS = 20_000_000


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    text = str(value)
    return text.replace(CELL_SEPARATOR, " / ").replace("\r", " ").replace("\n", " ").strip()


def _lines(header: list[str], rows: list[list[Any]]) -> str:
    out = [CELL_SEPARATOR.join(cell_text(h) for h in header)]
    out.extend(CELL_SEPARATOR.join(cell_text(v) for v in row) for row in rows)
    return "\n".join(line for line in out if line.strip(" |"))


def parse_parquet(data: bytes, name: str, limits: ParseLimits) -> ParsedDocument:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(pa.BufferReader(data))
        shape = handle.metadata
        if shape.num_rows * max(shape.num_columns, 1) > MAX_CELLS:
            raise ParseError(f"{name}: {shape.num_rows} rows x {shape.num_columns} columns, "
                             f"above {MAX_CELLS} cells")
        table = handle.read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ParseError(f"{name}: corrupt or unreadable Parquet ({exc})") from exc
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else []
    text = _lines(list(table.column_names), rows)
    return ParsedDocument("parquet", (Segment(text),),
                          {"rows": str(table.num_rows), "columns": str(table.num_columns)})


def parse_xlsx(data: bytes, name: str, limits: ParseLimits) -> ParsedDocument:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    check_zip(data, name, limits)  # path tricks and zip bombs, before openpyxl unzips
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
        raise ParseError(f"{name}: not a readable Excel workbook (.xlsx) ({exc})") from exc
    segments, cells = [], 0
    try:
        for sheet in book.worksheets:
            rows = [list(row) for row in sheet.iter_rows(values_only=True)]
            rows = [row for row in rows if any(v not in (None, "") for v in row)]
            if not rows:
                continue
            width = max(len(r) for r in rows)
            cells += width * len(rows)
            if cells > MAX_CELLS:
                raise ParseError(f"{name}: more than {MAX_CELLS} cells")
            padded = [r + [None] * (width - len(r)) for r in rows]
            title = cell_text(sheet.title)
            segments.append(Segment(f"{SHEET_MARK}{title}\n{_lines(padded[0], padded[1:])}"))
    except (KeyError, ValueError, TypeError, OSError) as exc:
        raise ParseError(f"{name}: damaged Excel workbook ({exc})") from exc
    finally:
        book.close()
    if not segments:
        raise ParseError(f"{name}: every sheet is empty")
    return ParsedDocument("xlsx", tuple(segments), {"sheets": str(len(segments))})


__all__ = ["CELL_SEPARATOR", "SHEET_MARK", "cell_text", "parse_parquet", "parse_xlsx"]
