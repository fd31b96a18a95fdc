"""The IO half of the projection: ledger entries after a cursor into ``threat_events``.

``EventFeed`` reads the entries after its cursor, projects them and inserts them with the
cursor's new position in one transaction, so a crash between the two can neither skip
nor double an event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Engine, insert, select, update

from sovra.store.tables.data import data_documents
from sovra.store.tables.identity import identity_principals
from sovra.store.tables.ledger import ledger_entries
from sovra.store.tables.threat import threat_cursors, threat_events
from sovra.threat.events import RawEntry, details_of, document_ids, project
from sovra.vocabulary import Classification

FEED_CURSOR = "events"


class EventFeed:
    """Projects new ledger entries into ``threat_events`` (incremental, idempotent)."""

    def __init__(self, engine: Engine, *, batch: int = 20_000) -> None:
        self._engine = engine
        self._batch = batch

    def position(self) -> int:
        """The sequence number after the last projected entry."""
        with self._engine.connect() as conn:
            return read_cursor(conn, FEED_CURSOR)

    def catch_up(self) -> int:
        """Project every entry not yet projected; how many were added."""
        total = 0
        while (added := self._one_batch()) > 0:
            total += added
        return total

    def _one_batch(self) -> int:
        with self._engine.begin() as conn:
            start = read_cursor(conn, FEED_CURSOR)
            rows = conn.execute(select(ledger_entries.c.seq, ledger_entries.c.body)
                                .where(ledger_entries.c.seq >= start)
                                .order_by(ledger_entries.c.seq).limit(self._batch)).all()
            if not rows:
                return 0
            raw = [RawEntry(int(r.seq), json.loads(bytes(r.body))) for r in rows]
            roles = _roles(conn, {str(e.body.get("actor", "")) for e in raw})
            levels = _levels(conn, {i for e in raw for i in document_ids(details_of(e))})
            conn.execute(insert(threat_events), [project(e, roles, levels) for e in raw])
            write_cursor(conn, FEED_CURSOR, raw[-1].seq + 1)
            return len(raw)


def read_cursor(conn: Connection, name: str) -> int:
    value = conn.execute(select(threat_cursors.c.position)
                         .where(threat_cursors.c.name == name)).scalar_one_or_none()
    return int(value) if value is not None else 0


def write_cursor(conn: Connection, name: str, position: int) -> None:
    done = conn.execute(update(threat_cursors).where(threat_cursors.c.name == name)
                        .values(position=position))
    if done.rowcount == 0:
        conn.execute(insert(threat_cursors).values(name=name, position=position))


def _roles(conn: Connection, principals: Iterable[str]) -> dict[str, str]:
    wanted = sorted(p for p in principals if p)
    out: dict[str, str] = {}
    for part in _chunks(wanted, 500):
        for row in conn.execute(select(identity_principals.c.principal_id,
                                       identity_principals.c.roles)
                                .where(identity_principals.c.principal_id.in_(part))):
            roles = json.loads(row.roles)
            out[row.principal_id] = ",".join(roles) if isinstance(roles, list) else ""
    return out


def _levels(conn: Connection, document_ids: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in _chunks(sorted(document_ids), 500):
        for row in conn.execute(select(data_documents.c.id, data_documents.c.classification)
                                .where(data_documents.c.id.in_(part))):
            out[row.id] = Classification(int(row.classification)).label
    return out


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


__all__ = ["FEED_CURSOR", "EventFeed", "read_cursor", "write_cursor"]
