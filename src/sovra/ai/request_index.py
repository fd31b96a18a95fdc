"""The request index: request id -> its ledger entries (and kept, encrypted texts).

The ledger is the record; this table only lets ``sovra trace`` find a request's entries
without scanning the log. Rows are written in batches from a background task so the
hot path pays no extra transaction per request; ``flush`` is awaited before a trace and
at shutdown.

The batches go through a connection of their own that does not wait for the disk at
commit (SQLite ``synchronous=NORMAL`` in WAL mode, PostgreSQL ``synchronous_commit=off``,
both per connection; ADR 0606). Their rows become durable with the next commit that
does sync, which on a serving instance is the ledger's next group commit, milliseconds
later: the write-ahead log is synced as a whole. Before, every batch was one more fsync
holding SQLite's single write lock, which the ledger's commits (on the request path)
then waited for.

A batched row may still be lost (a SIGKILL before its batch, a full disk), so nothing
relies on it (ADR 0608): ``find`` falls back to the ledger entries, which are durable
before an answer is released, and writes the row back. Kept text is the exception that
has no copy in the ledger: ``put_durable`` writes it on a syncing connection before the
answer is released, never through the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from sovra.ai.ledger_scan import find_in_ledger
from sovra.errors import SovraError, StorageError
from sovra.store.tables.ai import ai_requests

log = logging.getLogger(__name__)

# Rows kept for the next try when a batch cannot be written. Past this the oldest are
# let go (logged): their requests are still found through the ledger (``find``).
_RETRY_MAX = 100_000


@dataclass(frozen=True)
class IndexRow:
    request_id: str
    request_seq: int | None
    outcome_seq: int | None
    principal_id: str
    model_id: str
    created_at: float
    prompt_ciphertext: bytes | None = None
    answer_ciphertext: bytes | None = None


def row_values(row: IndexRow) -> dict[str, Any]:
    """The row's column values: what ``dataclasses.asdict`` returns for it, without the
    deep copy it makes of every value (about 25 µs a row, on the GIL the event loop
    needs; the values are immutable: str, int, float, bytes, None)."""
    return dict(vars(row))


class RequestIndex:
    def __init__(self, engine: Engine, *, flush_every_s: float = 0.05) -> None:
        self._engine = engine
        self._every = flush_every_s
        self._pending: list[IndexRow] = []
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._writer: Connection | None = None
        self._writer_lock = threading.Lock()  # flush (a worker thread) vs flush_sync

    def add(self, row: IndexRow) -> None:
        self._pending.append(row)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._later())

    async def _later(self) -> None:
        await asyncio.sleep(self._every)
        await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            rows, self._pending = self._pending, []
            if rows and not await asyncio.to_thread(self._write, rows):
                self._requeue(rows)  # on the loop, where ``add`` appends: no lost append

    def flush_sync(self) -> None:
        rows, self._pending = self._pending, []
        if rows and not self._write(rows):
            self._requeue(rows)

    def _requeue(self, rows: list[IndexRow]) -> None:
        """Keep a batch that failed for the next try, before the rows added since."""
        self._pending[:0] = rows
        if len(self._pending) > _RETRY_MAX:
            del self._pending[:len(self._pending) - _RETRY_MAX]

    def _write(self, rows: list[IndexRow]) -> bool:
        """Write one batch; False if it could not be written (logged)."""
        with self._writer_lock:
            try:
                conn = self._writer_connection()
                with conn.begin():
                    conn.execute(self._insert_new(), [row_values(r) for r in rows])
            except (SQLAlchemyError, SovraError):
                # Requests are not failed for this: the ledger holds every one of them
                # and ``find`` falls back to it. The caller keeps the rows for the next try.
                self._close_writer()
                log.exception("could not write %d request index rows; kept for the next "
                              "try", len(rows))
                return False
        return True

    def _insert_new(self) -> Any:
        """INSERT that leaves a row already there alone: a row written durably with its
        kept text, or one ``find`` wrote back from the ledger, is the same request."""
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(ai_requests).on_conflict_do_nothing(
            index_elements=["request_id"])

    def put_durable(self, row: IndexRow) -> None:
        """Write ``row`` (with its kept text) now, on a connection whose commit waits
        for the disk, as the ledger's do: durable when this returns (ADR 0608).

        Raises ``StorageError``; the caller then does not release the answer.
        """
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        values = row_values(row)
        statement = dialect.insert(ai_requests).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["request_id"],
            set_={k: statement.excluded[k] for k in values if k != "request_id"})
        try:
            with self._engine.begin() as conn:
                conn.execute(statement)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot keep the text of {row.request_id}: {exc}") from exc

    def _writer_connection(self) -> Connection:
        if self._writer is None:
            conn = self._engine.connect()
            # Out of the pool for good: the setting below must never reach a connection
            # that another part of Sovra (the ledger above all) commits on.
            conn.detach()
            if self._engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
            elif self._engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET synchronous_commit TO off")
            conn.commit()
            self._writer = conn
        return self._writer

    def _close_writer(self) -> None:
        conn, self._writer = self._writer, None
        if conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                conn.close()

    def close(self) -> None:
        """Write pending rows and close the index's own connection."""
        self.flush_sync()
        with self._writer_lock:
            self._close_writer()

    def get(self, request_id: str) -> IndexRow | None:
        """The stored row, as written (see ``find`` for the one a trace uses)."""
        try:
            with self._engine.connect() as conn:
                row: Any = conn.execute(select(ai_requests).where(
                    ai_requests.c.request_id == request_id)).first()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read the request index: {exc}") from exc
        if row is None:
            return None
        return IndexRow(**{k: row._mapping[k] for k in IndexRow.__dataclass_fields__})

    def find(self, request_id: str) -> IndexRow | None:
        """The request's row, completed from the ledger where the index lacks it or its
        outcome (ADR 0608); a row completed so is written back. None: no such request."""
        row = self.get(request_id)
        if row is not None and row.request_seq is not None and row.outcome_seq is not None:
            return row
        found = find_in_ledger(self._engine, request_id)
        if found is None:
            return row
        if row is None:
            row = IndexRow(request_id, found.request_seq, found.outcome_seq,
                           found.principal_id, found.model_id, found.created_at)
        elif row.request_seq == found.request_seq and found.outcome_seq == row.outcome_seq:
            return row
        else:
            row = IndexRow(request_id, found.request_seq, found.outcome_seq,
                           row.principal_id, row.model_id, row.created_at,
                           row.prompt_ciphertext, row.answer_ciphertext)
        self._write_back(row)
        return row

    def _write_back(self, row: IndexRow) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(update(ai_requests).where(
                    ai_requests.c.request_id == row.request_id).values(
                    request_seq=row.request_seq, outcome_seq=row.outcome_seq))
                conn.execute(self._insert_new(), [row_values(row)])
        except (SQLAlchemyError, SovraError):
            # The trace is answered from the ledger either way; the next one searches again.
            log.exception("could not write back the index row of %s", row.request_id)

    # -- kept text (erasure) ----------------------------------------------------------------
    def kept(self) -> list[IndexRow]:
        """Every row that holds kept (encrypted) text."""
        try:
            with self._engine.connect() as conn:
                rows: Any = conn.execute(select(ai_requests).where(
                    ai_requests.c.prompt_ciphertext.is_not(None)
                    | ai_requests.c.answer_ciphertext.is_not(None))).all()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read the request index: {exc}") from exc
        return [IndexRow(**{k: r._mapping[k] for k in IndexRow.__dataclass_fields__})
                for r in rows]

    def erase_texts(self, request_ids: list[str]) -> int:
        """Remove the kept text of these requests (the row and its ledger link stay);
        the number of rows changed. Batched rows never carry text (``put_durable`` writes
        it), so nothing in memory holds any."""
        wanted = set(request_ids)
        if not wanted:
            return 0
        try:
            with self._engine.begin() as conn:
                if conn.dialect.name == "sqlite":
                    # Overwrite the freed bytes rather than leave them in free pages.
                    conn.exec_driver_sql("PRAGMA secure_delete = ON")
                result = conn.execute(update(ai_requests).where(
                    ai_requests.c.request_id.in_(sorted(wanted))).values(
                    prompt_ciphertext=None, answer_ciphertext=None))
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot erase kept AI text: {exc}") from exc
        return int(result.rowcount or 0)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
        with self._writer_lock:
            self._close_writer()
