"""Tabular documents as typed, classified tables. Pure: text in, values out.

The data room keeps each document's extracted text, sealed (docs/data.md): a CSV or TSV
file as one line per row with its cells joined by ``" | "``, a JSON file as
``path: value`` lines. A CSV table is read back from those lines (header first); a
Parquet file is stored the same way; an Excel workbook is one such block per sheet, each
opened by a ``## sheet: NAME`` line, and each sheet is a table (``<file>_<sheet>``); a
JSON document is a table when it is an array of flat objects (``[i].key: value``).
Anything else, or rows of the wrong width, is a ``ParseError`` naming the document.

Each column gets the highest level the data room's detectors find in its cells (an IBAN
column is confidential); each row gets its document's declared level, raised by a
``classification`` column when the table has one. These are what the governed query
masks and filters by (``governance.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sovra.data import SHEET_MARK
from sovra.data.classify import LevelMapping, scan
from sovra.errors import InvalidInputError, ParseError
from sovra.policy import Classification

CELL_SEPARATOR = " | "
LEVEL_COLUMN = "_sovra_level"
ROW_LABEL_COLUMN = "classification"
_JSON_LINE = re.compile(r"^\[(\d+)\]\.([^:\[\]]+): (.*)$")
_INT = re.compile(r"^[+-]?\d{1,18}$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_NAME = re.compile(r"[^a-z0-9_]+")
MAX_TABLE_CELLS = 20_000_000

Cell = str | int | float | None


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # BIGINT, DOUBLE or VARCHAR
    level: Classification
    kinds: tuple[str, ...]  # detector kinds found in the column (never the values)


@dataclass(frozen=True)
class Table:
    """A governed table: typed columns by position, and each row's level."""

    collection: str
    name: str
    document_id: str
    columns: tuple[Column, ...]
    values: tuple[tuple[Cell, ...], ...]  # one tuple per column
    row_levels: tuple[int, ...]

    @property
    def row_count(self) -> int:
        return len(self.row_levels)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def table_name(source_name: str) -> str:
    """The SQL name of a document's table: its file stem, lower case, ``[a-z0-9_]``."""
    stem = source_name.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    name = _NAME.sub("_", stem).strip("_") or "table"
    return f"t_{name}" if name[0].isdigit() else name


def sheets(kind: str, source_name: str, text: str) -> list[tuple[str, str]]:
    """(table name, text) of each table in a document: one, or one per sheet of a
    workbook (the data room's ``## sheet: NAME`` blocks)."""
    if kind != "xlsx":
        return [(table_name(source_name), text)]
    out: list[tuple[str, str]] = []
    for block in text.split("\n" + SHEET_MARK):
        title, _, body = block.removeprefix(SHEET_MARK).partition("\n")
        sheet = _NAME.sub("_", title.lower()).strip("_") or "sheet"
        name = f"{table_name(source_name)}_{sheet}"
        if body.strip(" |\n") and name not in dict(out):
            out.append((name, body))
    if not out:
        raise ParseError(f"{source_name}: no sheet with rows")
    return out


def parse_rows(kind: str, source_name: str, text: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows of strings) of a CSV/TSV, Parquet, sheet or JSON document's text."""
    if kind in ("csv", "parquet", "xlsx"):
        return _csv_rows(source_name, text)
    if kind == "json":
        return _json_rows(source_name, text)
    raise ParseError(f"{source_name}: a {kind} document is not a table (CSV, TSV, Parquet, "
                     "an Excel sheet or a JSON array of flat objects)")


def _csv_rows(source_name: str, text: str) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in text.split("\n") if line.strip(" |")]
    if not lines:
        raise ParseError(f"{source_name}: no header row")
    header = lines[0].split(CELL_SEPARATOR)
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split(CELL_SEPARATOR)
        if len(cells) != len(header):
            raise ParseError(f"{source_name}: row {number} has {len(cells)} cells, the header "
                             f"{len(header)}: a malformed table is not loaded")
        rows.append(cells)
    return header, rows


def _json_rows(source_name: str, text: str) -> tuple[list[str], list[list[str]]]:
    records: dict[int, dict[str, str]] = {}
    for line in text.split("\n"):
        found = _JSON_LINE.match(line)
        if found is None:
            raise ParseError(f"{source_name}: not an array of flat objects (line "
                             f"{line[:40]!r}); only such JSON documents are tables")
        records.setdefault(int(found.group(1)), {})[found.group(2)] = found.group(3)
    header = list(dict.fromkeys(key for record in records.values() for key in record))
    rows = [[records[i].get(key, "None") for key in header] for i in sorted(records)]
    return header, rows


def build_tables(collection: str, document_id: str, source_name: str, kind: str, text: str,
                 *, declared: Classification, mapping: LevelMapping) -> list[Table]:
    """Every table of one document (a workbook has one per sheet)."""
    return [build_table(collection, document_id, source_name, kind, body, declared=declared,
                        mapping=mapping, table=name)
            for name, body in sheets(kind, source_name, text)]


def build_table(collection: str, document_id: str, source_name: str, kind: str, text: str,
                *, declared: Classification, mapping: LevelMapping,
                table: str | None = None) -> Table:
    """Parse, type and classify one tabular document (or one sheet of it: ``table``)."""
    header, rows = parse_rows(kind, source_name, text)
    if len(header) * max(len(rows), 1) > MAX_TABLE_CELLS:
        raise ParseError(f"{source_name}: more than {MAX_TABLE_CELLS} cells")
    names = column_names(header)
    raw_columns = [[row[i].strip() for row in rows] for i in range(len(names))]
    columns, values = [], []
    for name, cells in zip(names, raw_columns, strict=True):
        sql_type, typed = _typed(cells)
        level, kinds = _column_level(cells, mapping)
        columns.append(Column(name, sql_type, level, kinds))
        values.append(tuple(typed))
    labels = raw_columns[names.index(ROW_LABEL_COLUMN)] if ROW_LABEL_COLUMN in names else None
    row_levels = tuple(max(int(declared), _label_level(labels[i]) if labels else 0)
                       for i in range(len(rows)))
    return Table(collection, table or table_name(source_name), document_id, tuple(columns),
                 tuple(values), row_levels)


def column_names(header: Sequence[str]) -> list[str]:
    """SQL column names: lower case ``[a-z0-9_]``, unique, never Sovra's own."""
    out: list[str] = []
    for index, raw in enumerate(header, start=1):
        name = _NAME.sub("_", raw.strip().lower()).strip("_") or f"col_{index}"
        if name[0].isdigit() or name.startswith("_sovra"):
            name = f"c_{name}"
        base, suffix = name, 2
        while name in out:
            name, suffix = f"{base}_{suffix}", suffix + 1
        out.append(name)
    return out


def _typed(cells: list[str]) -> tuple[str, list[Cell]]:
    present = [c for c in cells if c not in ("", "None", "null")]
    if present and all(_INT.match(c) for c in present):
        return "BIGINT", [int(c) if c is not None else None for c in _nulls(cells)]
    if present and all(_FLOAT.match(c) for c in present):
        return "DOUBLE", [float(c) if c is not None else None for c in _nulls(cells)]
    return "VARCHAR", list(_nulls(cells))


def _nulls(cells: list[str]) -> list[str | None]:
    return [None if c in ("", "None", "null") else c for c in cells]


def _column_level(cells: list[str], mapping: LevelMapping
                  ) -> tuple[Classification, tuple[str, ...]]:
    level = Classification.PUBLIC
    kinds: set[str] = set()
    for cell in cells:
        if not cell:
            continue
        for finding in scan(cell):
            kinds.add(finding.kind.value)
            level = max(level, mapping.level_for(finding.kind))
    return level, tuple(sorted(kinds))


def _label_level(label: str) -> int:
    try:
        return int(Classification.parse(label))
    except InvalidInputError:  # an unreadable label fails closed: the top level
        return int(Classification.SECRET)


__all__ = ["CELL_SEPARATOR", "LEVEL_COLUMN", "ROW_LABEL_COLUMN", "Cell", "Column", "Table",
           "build_table", "build_tables", "column_names", "parse_rows", "sheets",
           "table_name"]
