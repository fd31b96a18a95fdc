"""The ledger explorer's reads: keyset pages over bounded sequence ranges, and one
entry verified against the latest signed checkpoint.

No query here scans the table. ``ledger_entries`` is indexed only by ``seq`` (the
ledger room dropped the actor and action indexes to keep group commits cheap, migration
ledger_0002), so a search walks back from a cursor through at most ``WINDOW`` entries by
primary key, applies the filters to those rows, and hands back the cursor where it
stopped: each page costs the same whatever the ledger's size. A time range becomes a
``seq`` range by binary search over entry times (O(log n) primary-key reads), as the
writer stamps entries in order.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from sovra.errors import InvalidInputError, NotFoundError, SovraError, StorageError
from sovra.ledger import Ledger
from sovra.ledger.merkle import leaf_hash, verify_inclusion
from sovra.ledger.note import open_checkpoint
from sovra.store.tables.ledger import ledger_entries

WINDOW = 20_000
PAGE_SIZE = 50


@dataclass(frozen=True)
class Query:
    """Filters (empty: any) and the keyset cursor: entries with ``seq < before``."""

    principal: str = ""
    action: str = ""  # exact, or a prefix ending in "*" (lockbox.*)
    resource: str = ""
    since: float | None = None
    until: float | None = None
    before: int | None = None


@dataclass(frozen=True)
class Row:
    seq: int
    time: str
    actor: str
    action: str
    resource: str
    outcome: str


@dataclass(frozen=True)
class Page:
    """Matching rows, newest first; ``older`` the cursor for the next page (None at the
    start of the range); ``scanned`` the sequence range this page looked through."""

    rows: tuple[Row, ...]
    older: int | None
    scanned: tuple[int, int]


def entry_time(body: bytes) -> float:
    """An entry's time (RFC 3339, UTC) as Unix seconds."""
    return datetime.fromisoformat(json.loads(body)["time"]).timestamp()


def parse_time(value: str) -> float | None:
    """A form's date-time (``2026-12-07T03:12``, read as UTC) as Unix seconds."""
    if not value:
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInputError(f"{value!r} is not a date and time: use the form "
                                "2026-12-07T03:12 (UTC)") from exc
    if found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    return found.timestamp()


def first_at_or_after(size: int, at: float, time_of: Callable[[int], float]) -> int:
    """The first ``seq`` in ``[0, size)`` whose time is ``>= at`` (``size`` if none)."""
    low, high = 0, size
    while low < high:
        middle = (low + high) // 2
        if time_of(middle) < at:
            low = middle + 1
        else:
            high = middle
    return low


def _bounds(ledger: Ledger, query: Query) -> tuple[int, int]:
    size = ledger.size

    def time_of(seq: int) -> float:
        return entry_time(ledger.entry(seq).body)

    low = 0 if query.since is None else first_at_or_after(size, query.since, time_of)
    high = size if query.until is None else first_at_or_after(size, query.until, time_of)
    if query.before is not None:
        high = min(high, query.before)
    return low, max(low, high)


def search(engine: Engine, ledger: Ledger, query: Query, *, window: int = WINDOW,
           page_size: int = PAGE_SIZE) -> Page:
    """One page of entries matching ``query``, newest first (see the module docstring)."""
    low, high = _bounds(ledger, query)
    start = max(low, high - window)
    table = ledger_entries.c
    statement = (select(table.seq, table.body).where(table.seq >= start, table.seq < high)
                 .order_by(table.seq.desc()).limit(page_size))
    if query.principal:
        statement = statement.where(table.actor == query.principal)
    if query.resource:
        statement = statement.where(table.resource == query.resource)
    if query.action.endswith("*"):
        statement = statement.where(table.action.startswith(query.action[:-1],
                                                            autoescape=True))
    elif query.action:
        statement = statement.where(table.action == query.action)
    try:
        with engine.connect() as conn:
            found = conn.execute(statement).all()
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot read ledger entries: {exc}") from exc
    rows = tuple(_row(int(seq), bytes(body)) for seq, body in found)
    if len(rows) == page_size:  # maybe more in this window: continue below the last
        return Page(rows, rows[-1].seq, (rows[-1].seq, high))
    return Page(rows, start if start > low else None, (start, high))


def _row(seq: int, body: bytes) -> Row:
    entry = json.loads(body)
    return Row(seq, str(entry["time"]), str(entry["actor"]), str(entry["action"]),
               str(entry["resource"]), str(entry["outcome"]))


@dataclass(frozen=True)
class Verified:
    """An entry and the outcome of checking its inclusion proof in the page's server.

    ``verified`` is True only when the leaf hash of the stored bytes, walked up the
    proof (RFC 9162 §2.1.3.2), gives the root of a checkpoint signed by the log key.
    """

    seq: int
    entry: dict[str, object]
    leaf_hash: str
    tree_size: int
    root_hash: str
    proof: tuple[str, ...]
    witnesses: int
    verified: bool
    reason: str


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def verify_entry(ledger: Ledger, seq: int) -> Verified:
    """Entry ``seq`` checked against the latest signed checkpoint that contains it."""
    if not 0 <= seq < ledger.size:
        raise NotFoundError(f"ledger entry {seq} does not exist (the ledger holds "
                            f"{ledger.size} entries)")
    body = ledger.entry(seq).body
    entry: dict[str, object] = json.loads(body)
    leaf = leaf_hash(body)
    try:
        checkpoint, _note, witnesses = open_checkpoint(ledger.latest_checkpoint(),
                                                       ledger.checkpoints.verifier)
    except (SovraError, ValueError) as exc:
        return Verified(seq, entry, _b64(leaf), 0, "", (), 0, verified=False,
                        reason=f"no signed checkpoint to verify against: {exc}")
    if seq >= checkpoint.size:
        return Verified(seq, entry, _b64(leaf), checkpoint.size, _b64(checkpoint.root_hash),
                        (), len(witnesses), verified=False,
                        reason=(f"entry {seq} is newer than the latest signed checkpoint "
                                f"(size {checkpoint.size}); the server signs one within "
                                "seconds: reload the page"))
    proof = ledger.inclusion_proof(seq, checkpoint.size)
    try:
        verify_inclusion(seq, checkpoint.size, leaf, proof, checkpoint.root_hash)
    except SovraError as exc:
        return Verified(seq, entry, _b64(leaf), checkpoint.size, _b64(checkpoint.root_hash),
                        tuple(_b64(p) for p in proof), len(witnesses), verified=False,
                        reason=f"the inclusion proof does not verify: {exc}")
    return Verified(seq, entry, _b64(leaf), checkpoint.size, _b64(checkpoint.root_hash),
                    tuple(_b64(p) for p in proof), len(witnesses), verified=True,
                    reason=(f"included in the checkpoint of size {checkpoint.size} signed "
                            f"by {checkpoint.origin}"))


__all__ = ["PAGE_SIZE", "WINDOW", "Page", "Query", "Row", "Verified", "first_at_or_after",
           "parse_time", "search", "verify_entry"]
