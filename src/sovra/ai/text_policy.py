"""Per-collection policy: keep the text of AI requests that used the collection?

Issue 7: the ledger holds the SHA-256 of prompt and answer; "the text itself [is] kept
only if the collection's policy says so, encrypted". The default is not to keep it.
Setting the policy is a ledger entry (record, then act).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from sovra.ai.events import Event, Outcome
from sovra.ai.ports import LedgerPort
from sovra.errors import StorageError
from sovra.store.tables.ai import ai_collection_policies


class TextPolicies:
    def __init__(self, engine: Engine, ledger: LedgerPort, *,
                 clock: Callable[[], float] = time.time, cache_ttl_s: float = 2.0) -> None:
        self._engine = engine
        self._ledger = ledger
        self._clock = clock
        self._ttl = cache_ttl_s
        self._cache: dict[str, bool] = {}
        self._cache_at = -1e18

    def keeps_text(self, collection_id: str) -> bool:
        now = time.monotonic()
        if now - self._cache_at > self._ttl:
            try:
                with self._engine.connect() as conn:
                    rows = conn.execute(select(ai_collection_policies)).all()
            except SQLAlchemyError as exc:
                raise StorageError(f"cannot read AI collection policies: {exc}") from exc
            self._cache = {row.collection_id: bool(row.keep_text) for row in rows}
            self._cache_at = now
        return self._cache.get(collection_id, False)

    def set(self, actor: str, collection_id: str, *, keep_text: bool) -> None:
        resource = f"collection/{collection_id}"
        self._ledger.append(*Event(actor, "ai.collection_policy.set", resource,
                                   Outcome.SUCCESS, {"keep_text": keep_text}).fields())
        try:
            with self._engine.begin() as conn:
                conn.execute(delete(ai_collection_policies).where(
                    ai_collection_policies.c.collection_id == collection_id))
                conn.execute(insert(ai_collection_policies).values(
                    collection_id=collection_id, keep_text=keep_text, set_by=actor,
                    set_at=self._clock()))
        except SQLAlchemyError as exc:
            failed = StorageError(f"cannot set the AI policy of {collection_id}: {exc}")
            self._ledger.append(*Event.failure(actor, "ai.collection_policy.set", resource,
                                               failed, {"keep_text": keep_text}).fields())
            raise failed from exc
        finally:
            self._cache_at = -1e18
