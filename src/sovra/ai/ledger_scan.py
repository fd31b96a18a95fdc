"""Find a chat request's ledger entries by its id, in the ledger itself (ADR 0608).

The request index is a shortcut, written in batches that do not wait for the disk; the
ledger entries are durable before an answer is released. When the index has no row for
a request (the process was killed before the batch was written, or the disk was full),
``sovra trace`` finds the entries here instead: the request entry (``ai.chat``, written
before the model ran) and the outcome entry (``ai.chat.outcome``), both naming the
request id in their details.

The search reads the ledger table (read-only) with the id as a byte needle, then checks
each candidate's decoded details exactly. It scans the table, so it is the fallback,
not the path: a found request is written back to the index, and the next trace of it
reads one row.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from sovra.errors import StorageError
from sovra.store.tables.ledger import ledger_entries

# What ``new_request_id`` makes (chatcmpl-<hex>, embd-<hex>); anything else is not one,
# and is answered "not found" without touching the ledger.
_REQUEST_ID = re.compile(r"[a-z]{1,16}-[0-9a-f]{1,40}")

# Only constants are interpolated: the table name.
_SQL = {
    "sqlite": (f"SELECT seq, action, body FROM {ledger_entries.name} "  # noqa: S608
               "WHERE action IN ('ai.chat', 'ai.chat.outcome') AND instr(body, :needle) > 0 "
               "ORDER BY seq"),
    "postgresql": (f"SELECT seq, action, body FROM {ledger_entries.name} "  # noqa: S608
                   "WHERE action IN ('ai.chat', 'ai.chat.outcome') "
                   "AND position(:needle IN body) > 0 ORDER BY seq"),
}


@dataclass(frozen=True)
class FoundEntries:
    """The request's entries as the ledger holds them (``outcome_seq`` None: none yet)."""

    request_seq: int
    outcome_seq: int | None
    principal_id: str
    model_id: str
    created_at: float


def is_request_id(request_id: str) -> bool:
    return _REQUEST_ID.fullmatch(request_id) is not None


def find_in_ledger(engine: Engine, request_id: str) -> FoundEntries | None:
    """The allowed request entry naming ``request_id`` and its outcome entry, or None."""
    if not is_request_id(request_id):
        return None
    sql = _SQL.get(engine.dialect.name)
    if sql is None:
        raise StorageError(f"cannot search the ledger on {engine.dialect.name}")
    needle = json.dumps(request_id).encode()
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(sql), {"needle": needle}).all()
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot search the ledger for {request_id!r}: {exc}") from exc
    request: tuple[int, dict[str, Any]] | None = None
    outcome_seq: int | None = None
    for seq, action, body in rows:
        entry = json.loads(bytes(body))
        details = entry.get("details", {})
        if details.get("request_id") != request_id:
            continue
        if action == "ai.chat" and entry.get("outcome") == "allowed" and request is None:
            request = (int(seq), entry)
        elif (action == "ai.chat.outcome" and request is not None
              and details.get("request_seq") == request[0]):
            outcome_seq = int(seq)
    if request is None:
        return None
    seq, entry = request
    return FoundEntries(seq, outcome_seq, str(entry.get("actor", "")),
                        str(entry.get("details", {}).get("model", "")),
                        _timestamp(entry.get("time")))


def _timestamp(value: object) -> float:
    """An entry's ``time`` (RFC 3339, UTC, ``Z``) as a POSIX timestamp; 0 if absent."""
    if not isinstance(value, str):
        return 0.0
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


__all__ = ["FoundEntries", "find_in_ledger", "is_request_id"]
