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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from sovra.errors import StorageError
from sovra.store.tables.ai import ai_requests

log = logging.getLogger(__name__)


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
            if rows:
                await asyncio.to_thread(self._write, rows)

    def flush_sync(self) -> None:
        rows, self._pending = self._pending, []
        if rows:
            self._write(rows)

    def _write(self, rows: list[IndexRow]) -> None:
        with self._writer_lock:
            try:
                conn = self._writer_connection()
                with conn.begin():
                    conn.execute(insert(ai_requests), [row_values(r) for r in rows])
            except SQLAlchemyError:
                # The ledger already holds every one of these requests; losing index
                # rows only makes them slower to find, so log loudly rather than fail
                # requests.
                self._close_writer()
                log.exception("could not write %d request index rows", len(rows))

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
        try:
            with self._engine.connect() as conn:
                row: Any = conn.execute(select(ai_requests).where(
                    ai_requests.c.request_id == request_id)).first()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read the request index: {exc}") from exc
        if row is None:
            return None
        return IndexRow(**{k: row._mapping[k] for k in IndexRow.__dataclass_fields__})

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
        with self._writer_lock:
            self._close_writer()
