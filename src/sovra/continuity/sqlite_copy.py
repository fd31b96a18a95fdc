"""A consistent copy of the live SQLite database, at the speed of reading a file.

SQLite's online backup API copies page by page through the pager (about 200 MB/s here,
the largest cost of a backup, docs/PERFORMANCE.md "Continuity"). In WAL mode there is a
cheaper consistent copy: fold the WAL into the database and truncate it
(``wal_checkpoint(TRUNCATE)``), then open a read transaction. If the WAL is still empty
once that transaction has begun, the reader took WAL read-lock 0 and reads the database
file alone; and no checkpoint can write a frame back into the database file while any
reader holds read-lock 0 (sqlite.org/wal.html, "Concurrency"; wal.c ``walCheckpoint``
takes that lock exclusively before backfilling). Writers go on appending to the WAL.
So, while the transaction stays open, the file's first ``page_count`` pages *are* the
snapshot, and are encrypted straight from it. The ledger head is read in the same
transaction. When the checkpoint is busy or a writer got in first, the online backup
API is used instead (always correct, slower).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sovra.continuity import manifest
from sovra.errors import StorageError
from sovra.ledger import merkle
from sovra.store.tables.ledger import ledger_entries

Sealer = Callable[[BinaryIO], manifest.FileRecord]


class _Limited:
    """The first ``limit`` bytes of a file (the database's pages at the snapshot)."""

    def __init__(self, src: BinaryIO, limit: int) -> None:
        self._src = src
        self._left = limit

    def read(self, size: int = -1, /) -> bytes:
        if size < 0 or size > self._left:
            size = self._left
        data = self._src.read(size)
        self._left -= len(data)
        return data


def _head(conn: sqlite3.Connection) -> manifest.LedgerHead:
    table = ledger_entries.name
    leaves = [bytes(row[0]) for row in conn.execute(
        f"SELECT leaf_hash FROM {table} ORDER BY seq")]  # noqa: S608 - our table name
    last = conn.execute(
        f"SELECT body FROM {table} ORDER BY seq DESC LIMIT 1").fetchone()  # noqa: S608
    when = None if last is None else manifest.entry_time(bytes(last[0]))
    return manifest.LedgerHead(len(leaves), merkle.root_of(leaves), when)


def ledger_head(db: Path) -> manifest.LedgerHead:
    """Size, RFC 9162 root and last entry time of the log inside a database copy."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return _head(conn)
    finally:
        conn.close()


def seal_database(db: Path, scratch: Path, seal: Sealer
                  ) -> tuple[manifest.FileRecord, manifest.LedgerHead, str]:
    """Seal one consistent copy of ``db``; (record, ledger head, the method used)."""
    try:
        pinned = _seal_pinned(db, seal)
        if pinned is not None:
            return (*pinned, "pinned-file")
        copy = scratch / db.name
        _online_backup(db, copy)
        with copy.open("rb") as src:
            return seal(src), ledger_head(copy), "online-backup"
    except sqlite3.Error as exc:
        raise StorageError(f"cannot take a consistent copy of {db}: {exc}") from exc


def _seal_pinned(db: Path, seal: Sealer
                 ) -> tuple[manifest.FileRecord, manifest.LedgerHead] | None:
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        busy, wal_frames, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()  # the read begins
        wal = db.with_name(db.name + "-wal")
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if busy != 0 or mode != "wal" or wal_frames != 0 or wal.stat().st_size != 0:
            conn.execute("COMMIT")
            return None
        size = (conn.execute("PRAGMA page_count").fetchone()[0]
                * conn.execute("PRAGMA page_size").fetchone()[0])
        head = _head(conn)
        with db.open("rb") as raw:
            record = seal(_Limited(raw, size))  # type: ignore[arg-type]  # read() only
        conn.execute("COMMIT")
        return record, head
    finally:
        conn.close()


def _online_backup(db: Path, target: Path) -> None:
    source = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        copy = sqlite3.connect(target)
        try:
            # A scratch copy, encrypted and fsynced next: its own journal and syncs
            # would only cost time.
            copy.execute("PRAGMA journal_mode=OFF")
            copy.execute("PRAGMA synchronous=OFF")
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
