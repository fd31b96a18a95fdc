"""SQL for the ledger tables (SQLAlchemy Core, same statements on SQLite and PostgreSQL).

Every database failure leaves this module as ``LedgerUnavailableError`` (for the write
path) or ``StorageError`` (for reads), never as a SQLAlchemy exception.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from sqlalchemy import Engine, PoolProxiedConnection, func, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from sovra.errors import CheckpointError, LedgerUnavailableError, StorageError
from sovra.store.tables.ledger import ledger_checkpoints, ledger_cosignatures, ledger_entries

_READ_CHUNK = 50_000
# Rows per INSERT statement: 6 parameters each stays below SQLite's 32766-variable limit.
_INSERT_CHUNK = 4096


_Row = tuple[int, bytes, bytes, str, str, str]
_Statement = tuple[str, tuple[object, ...]]
_COLUMNS = "seq, leaf_hash, body, action, actor, resource"
# The PostgreSQL advisory lock key that serializes appends between processes (ADR 0108):
# a constant, so every process of one database takes the same lock ("SVRALDGR").
SEQUENCE_LOCK_KEY = 0x535652414C444752


@functools.lru_cache(maxsize=256)
def _values_sql(count: int, paramstyle: str) -> str:
    """The text of a ``count``-row INSERT, built once per size: a lone caller's batches
    are one or two rows each, so the same few strings serve nearly every commit."""
    mark = "?" if paramstyle == "qmark" else "%s"
    row_marks = f"({', '.join([mark] * 6)})"
    # Only constants are interpolated: the table name and placeholders.
    return (f"INSERT INTO {ledger_entries.name} ({_COLUMNS}) VALUES "  # noqa: S608
            f"{', '.join([row_marks] * count)}")


def _values_statements(rows: Sequence[_Row], paramstyle: str) -> list[_Statement]:
    """Multi-row ``INSERT ... VALUES (...), (...)`` in chunks (SQLite)."""
    statements: list[_Statement] = []
    for at in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[at:at + _INSERT_CHUNK]
        statements.append((_values_sql(len(chunk), paramstyle),
                           tuple(chain.from_iterable(chunk))))
    return statements


def _postgres_statements(rows: Sequence[_Row]) -> list[_Statement]:
    """One ``INSERT ... SELECT FROM unnest(arrays)`` (PostgreSQL): six parameters
    whatever the batch size, so the statement is prepared once and binding is cheap.

    The statement first takes the sequence lock *shared* (no round trip of its own):
    while another process holds it exclusively (``LedgerStore.sequenced``) this insert
    waits, then clashes with the numbers that process took, and its writer switches to
    the lock too. Without it an optimistic writer that never clashed could win every
    race against a locked one forever (ADR 0108).
    """
    columns = list(zip(*rows, strict=True))
    # Only constants are interpolated: the lock key, the table name and its columns.
    sql = (f"WITH sequence_lock AS (SELECT pg_advisory_xact_lock_shared({SEQUENCE_LOCK_KEY}))"  # noqa: S608
           f" INSERT INTO {ledger_entries.name} ({_COLUMNS}) SELECT u.* FROM unnest("
           "%s::bigint[], %s::bytea[], %s::bytea[], %s::text[], %s::text[], %s::text[]) "
           "AS u CROSS JOIN sequence_lock")
    return [(sql, tuple(list(column) for column in columns))]


class SeqConflictError(Exception):
    """Another writer took these sequence numbers first (another process on the DB)."""


@dataclass(frozen=True)
class EntryRow:
    seq: int
    leaf_hash: bytes
    body: bytes


@dataclass(frozen=True)
class CheckpointRow:
    tree_size: int
    root_hash: bytes
    note: str
    created_at: float


@dataclass(frozen=True)
class CosignatureRow:
    tree_size: int
    witness: str
    signature_line: str
    created_at: float


class LedgerStore:
    """Reads and writes of the three ledger tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer: PoolProxiedConnection | None = None  # the writer thread's own
        # The driver's cursor on it, kept across batches: opening one through the pool
        # proxy per commit cost more than the statement itself with one caller.
        self._cursor: Any = None
        self._postgres = engine.dialect.name == "postgresql"
        self._paramstyle = engine.dialect.paramstyle
        self._in_sequence = False  # inside ``sequenced``: statements join its transaction

    @contextlib.contextmanager
    def sequenced(self, start: int) -> Iterator[list[tuple[int, bytes]]]:
        """Hold the ledger's sequence lock across reading the tail, inserting and
        committing, so no other process can take the same sequence numbers (ADR 0108).
        Yields (seq, leaf_hash) of every entry with ``seq >= start``, read under the lock.

        PostgreSQL: a transaction-scoped advisory lock, released by COMMIT or ROLLBACK
        (also when the connection dies); BEGIN, the lock and the tail read go as one
        simple-protocol string, one round trip, because every round trip here is time
        the lock is held for all processes. SQLite: ``BEGIN IMMEDIATE``, the database's
        one write lock. Called by the writer thread only.
        """
        dbapi = self.engine.dialect.loaded_dbapi
        cursor = self._writer_cursor()
        # Only integers are interpolated: the lock key and the tree size.
        tail_sql = (f"SELECT seq, leaf_hash FROM {ledger_entries.name} "  # noqa: S608
                    f"WHERE seq >= {int(start)} ORDER BY seq")
        try:
            if self._postgres:
                cursor.execute(f"BEGIN; SELECT pg_advisory_xact_lock({SEQUENCE_LOCK_KEY}); "
                               f"{tail_sql}")
                while cursor.nextset():  # past BEGIN's and the lock's results
                    pass
            else:
                cursor.execute("BEGIN IMMEDIATE")
                cursor.execute(tail_sql)
            tail = [(int(seq), bytes(leaf)) for seq, leaf in cursor.fetchall()]
        except dbapi.Error as exc:
            self._drop_writer()
            raise LedgerUnavailableError(
                f"cannot take the ledger's sequence lock ({type(exc).__name__}: {exc}); "
                "nothing in this batch was recorded") from exc
        self._in_sequence = True
        try:
            yield tail
        except BaseException:
            self._in_sequence = False
            try:
                cursor.execute("ROLLBACK")
            except dbapi.Error:
                self._drop_writer()
            raise
        self._in_sequence = False
        try:
            cursor.execute("COMMIT")
        except dbapi.Error as exc:
            self._drop_writer()
            raise LedgerUnavailableError(
                f"the ledger database failed during COMMIT ({type(exc).__name__}: {exc}); "
                "the batch may or may not be recorded") from exc

    def insert_entries(self, rows: Sequence[_Row]) -> None:
        """Insert one batch (seq, leaf_hash, body, action, actor, resource) in one
        transaction (one sync); durable when this returns. Called by the writer thread.

        The batch goes to the driver as one autocommitted statement on a connection the
        writer keeps: a single call that inserts, commits and syncs. Every call that
        leaves C for I/O must re-take the GIL from hundreds of busy callers, so a
        per-row ``executemany``, or BEGIN/INSERT/COMMIT and pool check-out/reset per
        batch, cost several switch intervals each (benchmarks/ledger_append.py).
        """
        statements = (_postgres_statements(rows) if self._postgres
                      else _values_statements(rows, self._paramstyle))
        if len(statements) > 1 and not self._in_sequence:
            self._insert_in_transaction(statements)  # an explicit transaction
            return
        dbapi = self.engine.dialect.loaded_dbapi
        try:
            cursor = self._writer_cursor()
            for statement in statements:
                cursor.execute(*statement)
        except dbapi.IntegrityError as exc:
            raise SeqConflictError(str(exc)) from exc
        except (dbapi.Error, SQLAlchemyError) as exc:
            self._drop_writer()  # the next batch starts from a fresh connection
            raise LedgerUnavailableError(
                f"the ledger database refused the write ({type(exc).__name__}: {exc}); "
                "nothing in this batch was recorded") from exc

    def _insert_in_transaction(self, statements: list[_Statement]) -> None:
        try:
            with self.engine.begin() as conn:
                for sql, params in statements:
                    conn.exec_driver_sql(sql, params)
        except IntegrityError as exc:
            raise SeqConflictError(str(exc.orig)) from exc
        except SQLAlchemyError as exc:
            raise LedgerUnavailableError(
                f"the ledger database refused the write ({type(exc).__name__}); "
                "nothing in this batch was recorded") from exc

    def _writer_connection(self) -> PoolProxiedConnection:
        if self._writer is None:
            connection = self.engine.raw_connection()
            driver = connection.driver_connection
            if self.engine.dialect.name == "sqlite":
                driver.isolation_level = None  # type: ignore[union-attr]
            else:
                driver.autocommit = True  # type: ignore[union-attr]
            self._writer = connection
        return self._writer

    def _writer_cursor(self) -> Any:
        if self._cursor is None:
            self._cursor = self._writer_connection().driver_connection.cursor()  # type: ignore[union-attr]
        return self._cursor

    def _drop_writer(self) -> None:
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            with contextlib.suppress(Exception):
                cursor.close()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.invalidate()
            self._writer = None

    def close(self) -> None:
        """Return the writer's connection (after the writer thread stopped)."""
        self._drop_writer()

    def leaf_hashes_from(self, start: int) -> Iterator[tuple[int, bytes]]:
        """(seq, leaf_hash) for every entry with ``seq >= start``, in order."""
        try:
            while True:
                with self.engine.connect() as conn:
                    rows = conn.execute(
                        select(ledger_entries.c.seq, ledger_entries.c.leaf_hash)
                        .where(ledger_entries.c.seq >= start)
                        .order_by(ledger_entries.c.seq).limit(_READ_CHUNK)).all()
                for seq, leaf in rows:
                    yield int(seq), bytes(leaf)
                if len(rows) < _READ_CHUNK:
                    return
                start = int(rows[-1][0]) + 1
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read ledger entries: {exc}") from exc

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[EntryRow]:
        """Entries with ``start <= seq < end`` in order, read in chunks."""
        try:
            while end is None or start < end:
                query = (select(ledger_entries.c.seq, ledger_entries.c.leaf_hash,
                                ledger_entries.c.body)
                         .where(ledger_entries.c.seq >= start)
                         .order_by(ledger_entries.c.seq).limit(_READ_CHUNK))
                if end is not None:
                    query = query.where(ledger_entries.c.seq < end)
                with self.engine.connect() as conn:
                    rows = conn.execute(query).all()
                for seq, leaf, body in rows:
                    yield EntryRow(int(seq), bytes(leaf), bytes(body))
                if len(rows) < _READ_CHUNK:
                    return
                start = int(rows[-1][0]) + 1
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read ledger entries: {exc}") from exc

    def entry(self, seq: int) -> EntryRow | None:
        return next(self.entries(seq, seq + 1), None)

    def count(self) -> int:
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(ledger_entries))
                           .scalar_one())
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read ledger entries: {exc}") from exc

    def insert_checkpoint(self, row: CheckpointRow) -> None:
        """Store a checkpoint once per tree size. Another process may store the same size
        at the same moment (ADR 0108): the primary key keeps one row, and a row already
        there must carry the same root, or the log would have signed a fork."""
        try:
            with self.engine.begin() as conn:
                found = conn.execute(select(ledger_checkpoints.c.root_hash).where(
                    ledger_checkpoints.c.tree_size == row.tree_size)).first()
                existing = None if found is None else bytes(found[0])
                if existing is None:
                    conn.execute(insert(ledger_checkpoints).values(
                        tree_size=row.tree_size, root_hash=row.root_hash, note=row.note,
                        created_at=row.created_at))
        except IntegrityError:  # the other process's insert won the race
            existing = self._checkpoint_root(row.tree_size)
        except SQLAlchemyError as exc:
            raise LedgerUnavailableError(f"cannot store the checkpoint: {exc}") from exc
        if existing is not None and existing != row.root_hash:
            raise CheckpointError(f"a checkpoint at size {row.tree_size} with another root "
                                  "is already stored: refusing to store a second one")

    def _checkpoint_root(self, tree_size: int) -> bytes | None:
        try:
            with self.engine.connect() as conn:
                found = conn.execute(select(ledger_checkpoints.c.root_hash).where(
                    ledger_checkpoints.c.tree_size == tree_size)).first()
        except SQLAlchemyError as exc:
            raise LedgerUnavailableError(f"cannot store the checkpoint: {exc}") from exc
        return None if found is None else bytes(found[0])

    def checkpoints(self) -> list[CheckpointRow]:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(select(ledger_checkpoints)
                                    .order_by(ledger_checkpoints.c.tree_size)).all()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read ledger checkpoints: {exc}") from exc
        return [CheckpointRow(int(r.tree_size), bytes(r.root_hash), str(r.note),
                              float(r.created_at)) for r in rows]

    def latest_checkpoint(self) -> CheckpointRow | None:
        try:
            with self.engine.connect() as conn:
                r = conn.execute(select(ledger_checkpoints)
                                 .order_by(ledger_checkpoints.c.tree_size.desc())
                                 .limit(1)).first()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read ledger checkpoints: {exc}") from exc
        if r is None:
            return None
        return CheckpointRow(int(r.tree_size), bytes(r.root_hash), str(r.note),
                             float(r.created_at))

    def insert_cosignature(self, row: CosignatureRow) -> bool:
        """Store a cosignature line once; ``False`` if it was already there."""
        try:
            with self.engine.begin() as conn:
                existing = conn.execute(select(ledger_cosignatures.c.id).where(
                    ledger_cosignatures.c.tree_size == row.tree_size,
                    ledger_cosignatures.c.signature_line == row.signature_line)).first()
                if existing is not None:
                    return False
                conn.execute(insert(ledger_cosignatures).values(
                    tree_size=row.tree_size, witness=row.witness,
                    signature_line=row.signature_line, created_at=row.created_at))
        except SQLAlchemyError as exc:
            raise LedgerUnavailableError(f"cannot store the cosignature: {exc}") from exc
        return True

    def cosignatures(self) -> list[CosignatureRow]:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(select(ledger_cosignatures)
                                    .order_by(ledger_cosignatures.c.tree_size,
                                              ledger_cosignatures.c.id)).all()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read ledger cosignatures: {exc}") from exc
        return [CosignatureRow(int(r.tree_size), str(r.witness), str(r.signature_line),
                               float(r.created_at)) for r in rows]
