"""The data layer's database engine: the instance database through the one SQLite
library the process uses (ADR 0405).

Exactly one SQLite library may open the database file in a process. A second copy
(``pysqlite3``'s bundled SQLite beside CPython's ``sqlite3``, as before ADR 0405) keeps
its own table of POSIX locks, so closing a file descriptor in one library silently drops
the locks the other holds (sqlite.org, "How To Corrupt An SQLite Database File",
§2.2.1): concurrent writers then interleave pages and the file corrupts. The data layer
needs only FTS5, which CPython's SQLite builds in; vectors are plain BLOBs searched in
process (``_dense``). So on SQLite this is a second engine of the same ``sqlite3``
library on the same file, with the instance's durability settings (``make_engine``) and
read tuning of its own. On PostgreSQL the instance engine is used as is.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, event

from sovra.errors import ConfigError
from sovra.store import make_engine


def _tune_reads(dbapi_connection: Any, _record: Any) -> None:
    # The index is read at random (FTS matches joined to chunk rows, vector BLOBs when a
    # matrix is built): a larger page cache and memory-mapped reads keep those reads out
    # of system calls. Per connection, read-only tuning: durability comes from
    # make_engine's own settings, applied first.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


def _require_fts5() -> None:
    probe = sqlite3.connect(":memory:")
    try:
        options = {row[0] for row in probe.execute("PRAGMA compile_options")}
    finally:
        probe.close()
    if "ENABLE_FTS5" not in options:
        raise ConfigError(
            f"the embedded profile needs FTS5 in Python's sqlite3 (SQLite "
            f"{sqlite3.sqlite_version} here is built without it); use a Python built "
            "against a system SQLite with FTS5 (Debian's libsqlite3-0 has it) or the "
            "cluster profile (PostgreSQL)")


def data_engine(main: Engine, *, busy_timeout_s: float = 30.0) -> Engine:
    """An engine for the data tables: ``main``'s library and file (or ``main`` itself),
    waiting for locks no longer than the instance's bound."""
    if main.dialect.name != "sqlite":
        return main
    _require_fts5()
    engine = make_engine(main.url.render_as_string(hide_password=False),
                         busy_timeout_s=busy_timeout_s)
    event.listen(engine, "connect", _tune_reads)
    return engine


__all__ = ["data_engine"]
