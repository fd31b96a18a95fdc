"""Identity changes that wait for a second person: values and their rows (issue 13).

Three changes would let one administrator act as someone else or make itself an
approver, so over the API they are requests until an approver who is not the requester
approves them:

* ``apikey``: an API key for another principal (a credential hand-over). Nobody mints
  a credential for another person alone; the approver receives the key, once, and hands
  it to its holder.
* ``principal``: a principal created with the ``admin`` or ``approver`` role.
* ``member``: a member added to a group holding the ``admin`` or ``approver`` role.
* ``enable``: enabling a disabled principal or group that holds one (a grant again).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from sovra.errors import ConflictError, InvalidInputError, NotFoundError, StorageError
from sovra.store.tables.identity import identity_changes

# Roles that approve changes or manage who may: granting one is itself a change.
PRIVILEGED_ROLES = frozenset({"admin", "approver"})
KINDS = frozenset({"apikey", "principal", "member", "enable"})
STATUSES = frozenset({"pending", "approved", "rejected", "failed"})


@dataclass(frozen=True)
class PendingChange:
    """A requested identity change and, once decided, who decided it and when."""

    change_id: str
    kind: str
    target: str
    request: dict[str, Any]
    status: str
    requested_by: str
    requested_at: float
    decided_by: str | None = None
    decided_at: float | None = None


def new_change_id() -> str:
    return "chg-" + secrets.token_hex(8)


def _change(row: Row[tuple[object, ...]]) -> PendingChange:
    m = row._mapping
    return PendingChange(str(m["change_id"]), str(m["kind"]), str(m["target"]),
                         dict(json.loads(str(m["request"]))), str(m["status"]),
                         str(m["requested_by"]), float(m["requested_at"]),
                         None if m["decided_by"] is None else str(m["decided_by"]),
                         None if m["decided_at"] is None else float(m["decided_at"]))


class ChangeStore:
    """``identity_changes`` rows (SQLAlchemy Core, SQLite and PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def insert(self, change: PendingChange) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(identity_changes).values(
                    change_id=change.change_id, kind=change.kind, target=change.target,
                    request=json.dumps(change.request, sort_keys=True), status=change.status,
                    requested_by=change.requested_by, requested_at=change.requested_at,
                    decided_by=None, decided_at=None))
        except IntegrityError as exc:
            raise ConflictError(f"identity change {change.change_id} exists already") from exc
        except SQLAlchemyError as exc:
            raise StorageError(f"identity store: {exc}") from exc

    def get(self, change_id: str) -> PendingChange:
        try:
            with self._engine.connect() as conn:
                row = conn.execute(select(identity_changes)
                                   .where(identity_changes.c.change_id == change_id)).first()
        except SQLAlchemyError as exc:
            raise StorageError(f"identity store: {exc}") from exc
        if row is None:
            raise NotFoundError(f"no identity change {change_id!r}")
        return _change(row)

    def all(self, status: str | None = None) -> list[PendingChange]:
        if status is not None and status not in STATUSES:
            raise InvalidInputError(f"unknown status {status!r}; expected one of "
                                    f"{', '.join(sorted(STATUSES))}")
        stmt = select(identity_changes).order_by(identity_changes.c.requested_at)
        if status is not None:
            stmt = stmt.where(identity_changes.c.status == status)
        try:
            with self._engine.connect() as conn:
                return [_change(r) for r in conn.execute(stmt)]
        except SQLAlchemyError as exc:
            raise StorageError(f"identity store: {exc}") from exc

    def decide(self, change_id: str, status: str, decided_by: str, decided_at: float, *,
               from_status: str = "pending") -> None:
        """Move a change out of ``from_status``; exactly one decider wins a race."""
        try:
            with self._engine.begin() as conn:
                done = conn.execute(update(identity_changes).where(
                    identity_changes.c.change_id == change_id,
                    identity_changes.c.status == from_status).values(
                        status=status, decided_by=decided_by, decided_at=decided_at))
                if done.rowcount != 1:
                    raise ConflictError(f"identity change {change_id} is no longer "
                                        f"{from_status}")
        except SQLAlchemyError as exc:
            raise StorageError(f"identity store: {exc}") from exc


__all__ = ["KINDS", "PRIVILEGED_ROLES", "ChangeStore", "PendingChange", "new_change_id"]
