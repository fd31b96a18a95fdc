"""Lockbox routes: access requests, approvals, grants, break-glass, status.

Thin: the door of each route is ``authorized(...)`` on the lockbox's own actions (the
decision recorded in the ledger); the service then decides the exact action on the
exact request (its requester, jurisdiction, tier and votes are attributes Cedar reads)
and records the outcome. Plain ``def`` routes: the service blocks on durable appends.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sovra.api.auth import authorized
from sovra.api.deps import get_instance
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.lockbox import (
    DEV_MODE_LOCKBOX_WARNING,
    AccessRequest,
    RequestSpec,
    Scope,
    State,
    Watch,
    report_json,
)

router = APIRouter(prefix="/lockbox", tags=["lockbox"])

InstanceDep = Annotated[Instance, Depends(get_instance)]
Requester = Annotated[Caller, Depends(authorized("lockbox.request", "AccessRequest"))]
Reader = Annotated[Caller, Depends(authorized("lockbox.read", "AccessRequest"))]
Breaker = Annotated[Caller, Depends(authorized("lockbox.breakglass", "AccessRequest"))]
Watcher = Annotated[Caller, Depends(authorized("lockbox.watch", "AccessRequest"))]
# The report is ledger evidence (entries and proofs): for those who read the ledger.
LedgerReader = Annotated[Caller, Depends(authorized("ledger.read", "Ledger"))]


class RequestIn(BaseModel):
    scope: str = Field(min_length=1, max_length=200,
                       description="collection:ID, document:ID, keyring:ID or instance")
    actions: list[str] = Field(min_length=1, max_length=32)
    reason: str = Field(max_length=4000)
    ticket: str = Field(default="", max_length=128)
    duration_s: float | None = Field(default=None, gt=0)
    urgency: str = "normal"
    single_use: bool = False
    request_ttl_s: float | None = Field(default=None, gt=0)
    supervised: bool = Field(default=False, description="Refused while no approver watches")

    def spec(self) -> RequestSpec:
        return RequestSpec(scope=Scope.parse(self.scope), actions=tuple(self.actions),
                           reason=self.reason, ticket=self.ticket, duration_s=self.duration_s,
                           urgency=self.urgency, single_use=self.single_use,
                           request_ttl_s=self.request_ttl_s, supervised=self.supervised)


class VoteIn(BaseModel):
    comment: str = Field(default="", max_length=4000)


class RevokeIn(BaseModel):
    reason: str = Field(default="", max_length=4000)


class VoteOut(BaseModel):
    voter: str
    kind: str
    jurisdiction: str
    source: str
    at: float
    comment: str


class AccessRequestOut(BaseModel):
    id: str
    state: str
    requester: str
    jurisdiction: str
    source: str
    scope: str
    actions: list[str]
    reason: str
    ticket: str
    duration_s: float
    urgency: str
    single_use: bool
    breakglass: bool
    supervised: bool
    tier: int
    required_approvals: int
    approvals: int
    created_at: float
    request_expires_at: float
    granted_at: float | None
    expires_at: float | None
    ended_at: float | None
    ended_by: str | None
    end_reason: str
    review_due: float | None
    votes: list[VoteOut]

    @classmethod
    def of(cls, req: AccessRequest, state: str) -> AccessRequestOut:
        return cls(
            id=req.id, state=state, requester=req.requester, jurisdiction=req.jurisdiction,
            source=req.source, scope=str(req.scope), actions=list(req.actions),
            reason=req.reason, ticket=req.ticket, duration_s=req.duration_s,
            urgency=req.urgency, single_use=req.single_use, breakglass=req.breakglass,
            supervised=req.supervised,
            tier=req.tier, required_approvals=req.required, approvals=req.approvals,
            created_at=req.created_at, request_expires_at=req.request_expires_at,
            granted_at=req.granted_at, expires_at=req.expires_at, ended_at=req.ended_at,
            ended_by=req.ended_by, end_reason=req.end_reason, review_due=req.review_due,
            votes=[VoteOut(voter=v.voter, kind=v.kind.value, jurisdiction=v.jurisdiction,
                           source=v.source, at=v.at, comment=v.comment) for v in req.votes])


class StatusOut(BaseModel):
    pending: int
    active: int
    findings: list[str]
    overdue_reviews: list[AccessRequestOut]
    # False: administrators need no grant (development mode; ADR 0700 addendum).
    enforced: bool = True
    warning: str | None = None


def _out(inst: Instance, req: AccessRequest) -> AccessRequestOut:
    return AccessRequestOut.of(req, inst.lockbox.state(req).value)


def _source(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/requests", status_code=201, summary="Ask for a time-boxed grant")
def create_request(body: RequestIn, request: Request, caller: Requester,
                   inst: InstanceDep) -> AccessRequestOut:
    return _out(inst, inst.lockbox.request(caller, body.spec(), source=_source(request)))


@router.get("/requests", summary="Requests and grants (history stays after expiry)")
def list_requests(caller: Reader, inst: InstanceDep,
                  since: Annotated[float | None, Query(description="Unix time")] = None,
                  requester: str | None = None) -> list[AccessRequestOut]:
    return [_out(inst, r) for r in inst.lockbox.list(since=since, requester=requester)]


@router.get("/requests/{request_id}", summary="One request or grant, with its votes")
def show_request(request_id: str, caller: Reader, inst: InstanceDep) -> AccessRequestOut:
    return _out(inst, inst.lockbox.get(request_id))


@router.post("/requests/{request_id}/approve", summary="Approve (the quorum opens the grant)")
def approve_request(request_id: str, body: VoteIn, request: Request, caller: Reader,
                    inst: InstanceDep) -> AccessRequestOut:
    return _out(inst, inst.lockbox.approve(caller, request_id, source=_source(request),
                                           comment=body.comment))


@router.post("/requests/{request_id}/deny", summary="Deny (one denial ends the request)")
def deny_request(request_id: str, body: VoteIn, request: Request, caller: Reader,
                 inst: InstanceDep) -> AccessRequestOut:
    return _out(inst, inst.lockbox.deny(caller, request_id, source=_source(request),
                                        comment=body.comment))


@router.post("/requests/{request_id}/revoke", summary="End a request or grant now")
def revoke_request(request_id: str, body: RevokeIn, caller: Reader,
                   inst: InstanceDep) -> AccessRequestOut:
    return _out(inst, inst.lockbox.revoke(caller, request_id, reason=body.reason))


@router.post("/requests/{request_id}/review", summary="Review a break-glass grant")
def review_request(request_id: str, body: VoteIn, request: Request, caller: Reader,
                   inst: InstanceDep) -> AccessRequestOut:
    return _out(inst, inst.lockbox.review(caller, request_id, source=_source(request),
                                          comment=body.comment))


@router.post("/breakglass", status_code=201, summary="Open an emergency grant (alerts)")
def breakglass(body: RequestIn, request: Request, caller: Breaker,
               inst: InstanceDep) -> AccessRequestOut:
    return _out(inst, inst.lockbox.breakglass(caller, body.spec(), source=_source(request)))


@router.get("/status", summary="Pending requests, live grants, findings")
def status(caller: Reader, inst: InstanceDep) -> StatusOut:
    found = inst.lockbox.status()
    return StatusOut(pending=len(found.pending), active=len(found.active),
                     findings=list(found.findings),
                     overdue_reviews=[_out(inst, r) for r in found.overdue_reviews],
                     enforced=found.enforced,
                     warning=None if found.enforced else DEV_MODE_LOCKBOX_WARNING)


@router.get("/report", summary="Evidence: each grant's story with ledger inclusion proofs")
def report(caller: LedgerReader, inst: InstanceDep,
           since: Annotated[float, Query(description="Unix time")] = 0.0
           ) -> dict[str, object]:
    return report_json(inst.lockbox.report(inst.ledger, since=since))


def _sse(event: str, data: dict[str, object]) -> str:
    # The text/event-stream format (HTML Living Standard, "Server-sent events").
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


async def _events(inst: Instance, watch: Watch, request: Request) -> AsyncIterator[str]:
    try:
        yield _sse("watching", {"grant": watch.grant_id, "watcher": watch.watcher})
        while True:
            event = await run_in_threadpool(watch.get, 1.0)
            if event is not None:
                yield _sse(event.kind, event.data)
                if event.kind == "ended":
                    return
                continue
            if await request.is_disconnected():
                return
            found = await run_in_threadpool(inst.lockbox.get, watch.grant_id)
            state = inst.lockbox.state(found)
            if state not in (State.PENDING, State.ACTIVE):
                yield _sse("ended", {"state": state.value, "at": found.ended_at})
                return
            yield ": keep-alive\n\n"
    finally:
        watch.close()  # the grant is unwatched from now on: supervised use stops


@router.get("/grants/{grant_id}/events", response_class=StreamingResponse,
            summary="Watch a grant live: every decision under it (server-sent events)")
async def watch_events(grant_id: str, request: Request, caller: Watcher,
                       inst: InstanceDep) -> StreamingResponse:
    watch = await run_in_threadpool(inst.lockbox.watch_grant, caller, grant_id,
                                    source=_source(request))
    return StreamingResponse(_events(inst, watch, request), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})
