"""Compliance evidence and the incident register over HTTP.

``POST /compliance/reports`` generates the signed report (the same ``generate`` the CLI
calls); ``POST /compliance/check`` runs the offline checker on a posted report (no
export); ``/compliance/incidents`` is the register. Plain ``def``: ledger appends block,
so FastAPI runs them in its thread pool.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from sovra.api.auth import authorized
from sovra.api.deps import get_instance
from sovra.compliance import Incident, IncidentRegister, check_report, parse_time, rfc3339
from sovra.compliance import draft_notification as draft
from sovra.compliance import generate_report as generate
from sovra.identity import Caller
from sovra.instance import Instance

router = APIRouter(tags=["compliance"])

InstanceDep = Annotated[Instance, Depends(get_instance)]
Reporter = Annotated[Caller, Depends(authorized("compliance.report", "Compliance"))]
Reader = Annotated[Caller, Depends(authorized("compliance.read", "Compliance"))]
Handler = Annotated[Caller, Depends(authorized("compliance.incident", "Compliance"))]
YEAR = 365 * 86400.0


class ReportIn(BaseModel):
    since: str | None = Field(default=None, max_length=64)
    until: str | None = Field(default=None, max_length=64)
    regimes: list[str] = Field(default_factory=list, max_length=8)


class CheckIn(BaseModel):
    report: dict[str, Any]
    trusted_keys: list[str] = Field(default_factory=list, max_length=16)
    witnesses: list[str] = Field(default_factory=list, max_length=16)


class OpenIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    source: str = Field(default="manual", max_length=200)
    aware_at: str | None = Field(default=None, max_length=64)


class ClassifyIn(BaseModel):
    dora_major: bool = False
    nis2_significant: bool = False
    gdpr_breach: bool = False
    reason: str = Field(default="", max_length=2000)


class NotifyIn(BaseModel):
    notification: str = Field(max_length=64)
    reference: str = Field(default="", max_length=200)


def _incident(incident: Incident, now: float) -> dict[str, Any]:
    return {"id": incident.id, "title": incident.title, "source": incident.source,
            "aware_at": rfc3339(incident.aware_at), "classes": sorted(incident.classes),
            "closed": incident.closed_at is not None, "ledger_entries": incident.steps,
            "deadlines": [{"notification": d.kind, "state": d.state.value, "basis": d.basis,
                           "due": None if d.due is None else rfc3339(d.due),
                           "sent_at": None if d.sent_at is None else rfc3339(d.sent_at)}
                          for d in incident.deadlines(now)]}


@router.post("/compliance/reports")
def report_route(body: ReportIn, caller: Reporter, instance: InstanceDep) -> dict[str, Any]:
    """The signed evidence report over a period (default: the last year)."""
    until = time.time() if body.until is None else parse_time(body.until, "until")
    since = until - YEAR if body.since is None else parse_time(body.since, "since")
    return generate(instance, since=since, until=until, regime_names=body.regimes,
                    actor=caller.principal_id).document


@router.post("/compliance/check")
def check_route(body: CheckIn, _caller: Reader) -> dict[str, Any]:
    """Check a report as an auditor would (without the export)."""
    result = check_report(body.report, trusted_keys=body.trusted_keys,
                          witnesses=body.witnesses)
    return {"valid": result.valid, "problems": [str(p) for p in result.problems],
            "notes": list(result.notes)}


@router.get("/compliance/incidents")
def incidents_route(caller: Reader, instance: InstanceDep) -> list[dict[str, Any]]:
    """Every incident with its deadlines; overdue ones are raised as alerts once."""
    register = IncidentRegister(instance)
    register.check_overdue(caller.principal_id)
    now = time.time()
    return [_incident(i, now) for i in register.list()]


@router.post("/compliance/incidents", status_code=201)
def open_route(body: OpenIn, caller: Handler, instance: InstanceDep) -> dict[str, Any]:
    aware = None if body.aware_at is None else parse_time(body.aware_at, "aware_at")
    made = IncidentRegister(instance).open(caller.principal_id, body.title,
                                           description=body.description, source=body.source,
                                           aware_at=aware)
    return _incident(made, time.time())


@router.post("/compliance/incidents/{incident_id}/classify")
def classify_route(incident_id: str, body: ClassifyIn, caller: Handler,
                   instance: InstanceDep) -> dict[str, Any]:
    classes = frozenset(n for n in ("dora_major", "nis2_significant", "gdpr_breach")
                        if getattr(body, n))
    made = IncidentRegister(instance).classify(caller.principal_id, incident_id, classes,
                                               reason=body.reason)
    return _incident(made, time.time())


@router.post("/compliance/incidents/{incident_id}/notifications")
def notify_route(incident_id: str, body: NotifyIn, caller: Handler,
                 instance: InstanceDep) -> dict[str, Any]:
    made = IncidentRegister(instance).notify(caller.principal_id, incident_id,
                                             body.notification, reference=body.reference)
    return _incident(made, time.time())


@router.get("/compliance/incidents/{incident_id}/drafts/{notification}")
def draft_route(incident_id: str, notification: str, _caller: Reader,
                instance: InstanceDep) -> dict[str, Any]:
    incident = IncidentRegister(instance).get(incident_id)
    return draft(incident, notification, entity=instance.ledger.checkpoints.verifier.name,
                 now=time.time())
