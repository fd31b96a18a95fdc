"""The request index: request id -> its ledger entries (and kept, encrypted texts).

The ledger is the record; this table only lets ``sovra trace`` find a request's entries
without scanning the log. Rows are written in batches from a background task so the
hot path pays no extra transaction per request; ``flush`` is awaited before a trace and
at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, insert, select
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


class RequestIndex:
    def __init__(self, engine: Engine, *, flush_every_s: float = 0.05) -> None:
        self._engine = engine
        self._every = flush_every_s
        self._pending: list[IndexRow] = []
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

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
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(ai_requests), [asdict(r) for r in rows])
        except SQLAlchemyError:
            # The ledger already holds every one of these requests; losing index rows
            # only makes them slower to find, so log loudly rather than fail requests.
            log.exception("could not write %d request index rows", len(rows))

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
