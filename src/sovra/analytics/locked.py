"""An in-process DuckDB connection locked down before any user SQL runs (ADR 1100).

In this order, on a fresh in-memory database: extensions are neither installed nor
loaded automatically, Python objects are never scanned by name (replacement scans),
the allowed directories and paths are emptied, the temporary directory is unset,
external access is switched off, and finally the configuration is locked so no later
statement can switch any of it back. Only then are the governed tables loaded (from
Python values, never from files) and the caller's query run. The sqlglot allowlist
(``sqlcheck.py``) refuses escapes before they reach here; this is the wall behind it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import duckdb

from sovra.analytics.tables import LEVEL_COLUMN, Table
from sovra.errors import InvalidInputError

# Settings DuckDB takes only at connect time.
_CONNECT_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "python_enable_replacements": False,
}
# Then, in order; the last one makes every setting read-only for this connection.
LOCKDOWN: tuple[str, ...] = (
    "SET allowed_directories = []",
    "SET allowed_paths = []",
    "SET temp_directory = ''",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)


def locked_connection(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection with every lock above in place."""
    config = dict(_CONNECT_CONFIG)
    if threads is not None:
        config["threads"] = threads
    connection = duckdb.connect(":memory:", config=config)
    try:
        for statement in LOCKDOWN:
            connection.execute(statement)
    except duckdb.Error:
        connection.close()
        raise
    return connection


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_tables(connection: duckdb.DuckDBPyConnection, tables: Iterable[Table]) -> None:
    """Create each table (with its hidden row level) and fill it from memory."""
    schemas: set[str] = set()
    for table in tables:
        if table.collection not in schemas:
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(table.collection)}")
            schemas.add(table.collection)
        target = f"{quote(table.collection)}.{quote(table.name)}"
        columns = ", ".join(f"{quote(c.name)} {c.sql_type}" for c in table.columns)
        connection.execute(f"CREATE TABLE {target} ({columns}, {LEVEL_COLUMN} INTEGER)")
        if not table.row_count:
            continue
        # One statement: each column arrives as one list parameter and is unnested
        # side by side (row-at-a-time inserts are three orders of magnitude slower).
        unnests = ", ".join(f"unnest(${i + 1})" for i in range(len(table.columns) + 1))
        params: list[Any] = [list(values) for values in table.values]
        params.append(list(table.row_levels))
        connection.execute(f"INSERT INTO {target} SELECT {unnests}", params)


def run_query(connection: duckdb.DuckDBPyConnection, sql: str, max_rows: int
              ) -> tuple[list[str], list[tuple[Any, ...]], bool]:
    """(column names, up to ``max_rows`` rows, whether more were left out)."""
    try:
        cursor = connection.execute(sql)
        names = [str(d[0]) for d in cursor.description or ()]
        rows = cursor.fetchmany(max_rows + 1)
    except duckdb.Error as exc:
        raise InvalidInputError(f"the query failed: {_message(exc)}") from exc
    return names, rows[:max_rows], len(rows) > max_rows


def _message(exc: duckdb.Error) -> str:
    return " ".join(str(exc).split("\n")[0:1]) or type(exc).__name__


__all__ = ["LOCKDOWN", "load_tables", "locked_connection", "quote", "run_query"]
