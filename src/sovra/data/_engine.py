"""The data layer's database engine.

On the embedded profile the data layer needs two SQLite extensions that CPython's
``sqlite3`` may not be able to load (pyenv and some distributions build it without
``enable_load_extension``): FTS5 is built in everywhere, sqlite-vec is not. So the data
service opens the same database file through ``pysqlite3`` (a wheel with a current SQLite
that can load extensions) and loads sqlite-vec on every connection. Other rooms keep the
instance engine; SQLite's file locking and WAL keep the two consistent. On PostgreSQL the
instance engine is used as is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

from sovra.errors import ConfigError


def _configure(dbapi_connection: Any, _record: Any) -> None:
    import sqlite_vec

    dbapi_connection.enable_load_extension(True)  # noqa: FBT003 - DB-API signature
    sqlite_vec.load(dbapi_connection)
    dbapi_connection.enable_load_extension(False)  # noqa: FBT003
    cursor = dbapi_connection.cursor()
    # The same durability settings as sovra.store.engine (synchronous=FULL: a commit
    # survives power loss), so data rows are as durable as the ledger entries about them.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # The index is read at random (FTS matches joined to chunk rows): a larger page cache
    # and memory-mapped reads keep those reads out of system calls.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


def data_engine(main: Engine) -> Engine:
    """An engine on the instance database that can run sqlite-vec (or ``main`` itself)."""
    if main.dialect.name != "sqlite":
        return main
    try:
        import pysqlite3.dbapi2 as sqlite_module
    except ImportError as exc:
        raise ConfigError("the embedded profile needs pysqlite3-binary and sqlite-vec "
                          "(pip install pysqlite3-binary sqlite-vec)") from exc
    engine = create_engine(main.url, module=sqlite_module,
                           connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _configure)
    return engine


__all__ = ["data_engine"]
