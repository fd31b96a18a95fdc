"""Reading and writing access requests and their votes (SQLAlchemy Core, both profiles).

Every change is conditional on the request not having changed since it was read (its
status and last event time), so two processes approving, revoking or using the same
request at once cannot both win: the loser gets ``lockbox.concurrent-change`` and
nothing of its change is stored.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from sovra.errors import ConflictError, NotFoundError, StorageUnavailableError
from sovra.lockbox.values import AccessRequest, Scope, Status, Vote, VoteKind
from sovra.store.tables.lockbox import lockbox_requests, lockbox_votes

_R = lockbox_requests.c
# Built once: building a select per decision cost more than running it.
_CURRENT = select(_R.status, _R.expires_at, _R.first_used_at).where(_R.id == bindparam("id"))


def _row_values(req: AccessRequest) -> dict[str, Any]:
    return {
        "id": req.id, "requester": req.requester, "jurisdiction": req.jurisdiction,
        "source": req.source, "scope_kind": req.scope.kind, "scope_id": req.scope.id,
        "actions": json.dumps(list(req.actions)), "reason": req.reason, "ticket": req.ticket,
        "duration_s": req.duration_s, "urgency": req.urgency, "single_use": req.single_use,
        "breakglass": req.breakglass, "tier": req.tier, "destructive": req.destructive,
        "required": req.required, "status": req.status.value, "created_at": req.created_at,
        "request_expires_at": req.request_expires_at, "last_event_at": req.last_event_at,
        "granted_at": req.granted_at, "expires_at": req.expires_at, "ended_at": req.ended_at,
        "ended_by": req.ended_by, "end_reason": req.end_reason,
        "first_used_at": req.first_used_at, "review_due": req.review_due,
        "ledger_seq": req.ledger_seq, "supervised": req.supervised,
    }


def _vote_values(request_id: str, vote: Vote) -> dict[str, Any]:
    return {"request_id": request_id, "voter": vote.voter, "kind": vote.kind.value,
            "jurisdiction": vote.jurisdiction, "source": vote.source, "at": vote.at,
            "comment": vote.comment}


def _request(row: Row[Any], votes: Sequence[Vote]) -> AccessRequest:
    return AccessRequest(
        id=row.id, requester=row.requester, jurisdiction=row.jurisdiction, source=row.source,
        scope=Scope(row.scope_kind, row.scope_id), actions=tuple(json.loads(row.actions)),
        reason=row.reason, ticket=row.ticket, duration_s=row.duration_s, urgency=row.urgency,
        single_use=bool(row.single_use), breakglass=bool(row.breakglass), tier=row.tier,
        destructive=bool(row.destructive), required=row.required, status=Status(row.status),
        created_at=row.created_at, request_expires_at=row.request_expires_at,
        last_event_at=row.last_event_at, granted_at=row.granted_at,
        expires_at=row.expires_at, ended_at=row.ended_at, ended_by=row.ended_by,
        end_reason=row.end_reason, first_used_at=row.first_used_at,
        review_due=row.review_due, votes=tuple(votes), ledger_seq=row.ledger_seq,
        supervised=bool(row.supervised))


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    """A database that cannot be reached (PostgreSQL restarting, a connection lost) is a
    temporary outage, not a fault: every decision reads grants here, so letting the
    driver's error through answered 500 on every route (issue 17)."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise StorageUnavailableError(
            "the database cannot be reached (restarting, or the connection was lost); "
            "the lockbox could not read or store access requests, so nothing was decided: "
            f"retry shortly ({type(exc.orig).__name__})") from exc


class RequestStore:
    """The lockbox's two tables."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _load(self, conn: Connection, rows: Iterable[Row[Any]]) -> list[AccessRequest]:
        rows = list(rows)
        if not rows:
            return []
        votes: dict[str, list[Vote]] = {}
        found = conn.execute(select(lockbox_votes).where(
            lockbox_votes.c.request_id.in_([r.id for r in rows]))
            .order_by(lockbox_votes.c.at)).all()
        for v in found:
            votes.setdefault(v.request_id, []).append(Vote(
                v.voter, VoteKind(v.kind), v.jurisdiction, v.source, v.at, v.comment))
        return [_request(r, votes.get(r.id, [])) for r in rows]

    def insert(self, req: AccessRequest) -> None:
        try:
            with _reachable(), self._engine.begin() as conn:
                conn.execute(insert(lockbox_requests).values(**_row_values(req)))
                for vote in req.votes:
                    conn.execute(insert(lockbox_votes).values(**_vote_values(req.id, vote)))
        except IntegrityError as exc:
            raise ConflictError(f"access request {req.id} exists already") from exc

    def get(self, request_id: str) -> AccessRequest:
        with _reachable(), self._engine.connect() as conn:
            found = self._load(conn, conn.execute(
                select(lockbox_requests).where(_R.id == request_id)).all())
        if not found:
            raise NotFoundError(f"no access request {request_id!r}; "
                                "list them with sovra access list")
        return found[0]

    def current(self, request_id: str) -> tuple[str, float | None, float | None] | None:
        """(status, expires_at, first_used_at) as stored now: one primary-key read, for
        the decision path (revocation, termination and use by any process)."""
        with _reachable(), self._engine.connect() as conn:
            row = conn.execute(_CURRENT, {"id": request_id}).first()
        return None if row is None else (row.status, row.expires_at, row.first_used_at)

    def replace(self, before: AccessRequest, after: AccessRequest,
                vote: Vote | None = None) -> None:
        """Store ``after`` (and a new vote) if the row is still ``before``."""
        values = _row_values(after)
        del values["id"]
        try:
            with _reachable(), self._engine.begin() as conn:
                done = conn.execute(update(lockbox_requests).where(and_(
                    _R.id == before.id, _R.status == before.status.value,
                    _R.last_event_at == before.last_event_at,
                    _R.first_used_at.is_(None) if before.first_used_at is None
                    else _R.first_used_at == before.first_used_at)).values(**values))
                if done.rowcount != 1:
                    raise ConflictError(
                        f"lockbox.concurrent-change: {before.id} changed while this change "
                        "was made; nothing was stored, read it again and retry")
                if vote is not None:
                    conn.execute(insert(lockbox_votes).values(**_vote_values(before.id, vote)))
        except IntegrityError as exc:
            raise ConflictError(f"lockbox.one-vote-per-approver: {vote.voter if vote else '?'} "
                                f"has already voted on {before.id}") from exc

    def query(self, *, since: float | None = None, requester: str | None = None,
              statuses: Sequence[Status] | None = None, limit: int = 1000
              ) -> list[AccessRequest]:
        q = select(lockbox_requests)
        if since is not None:
            q = q.where(_R.created_at >= since)
        if requester is not None:
            q = q.where(_R.requester == requester)
        if statuses is not None:
            q = q.where(_R.status.in_([s.value for s in statuses]))
        q = q.order_by(_R.created_at, _R.id).limit(limit)
        with _reachable(), self._engine.connect() as conn:
            return self._load(conn, conn.execute(q).all())

    def live_grants(self, now: float) -> list[AccessRequest]:
        """Grants that may still be in force at ``now`` (active and not yet expired)."""
        q = select(lockbox_requests).where(_R.status == Status.ACTIVE.value,
                                           _R.expires_at > now)
        with _reachable(), self._engine.connect() as conn:
            return self._load(conn, conn.execute(q).all())


__all__ = ["RequestStore"]
