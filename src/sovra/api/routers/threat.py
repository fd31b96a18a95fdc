"""Threat routes: alerts (list, show, triage), hunts on demand, pack status. Thin.

The door of each route is ``authorized(...)`` on the threat actions (recorded in the
ledger); the service decides again on the exact alert and records each triage step.
Plain ``def`` routes: the service blocks on durable appends and database reads.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from sovra.api.auth import authorized
from sovra.api.deps import get_instance
from sovra.identity import Caller
from sovra.instance import Instance

router = APIRouter(tags=["threat"])

InstanceDep = Annotated[Instance, Depends(get_instance)]
Reader = Annotated[Caller, Depends(authorized("threat.read", "Threat"))]
Triager = Annotated[Caller, Depends(authorized("threat.triage", "Threat",
                                               resource_id_param="alert_id"))]
Hunter = Annotated[Caller, Depends(authorized("threat.hunt", "Threat"))]


class AssignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=256)


class CloseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=4000,
                        description="why the alert is resolved or a false positive")


@router.get("/alerts")
def list_alerts(caller: Reader, instance: InstanceDep,
                status: Annotated[str | None, Query(max_length=16)] = None
                ) -> list[dict[str, Any]]:
    return [a.as_dict() for a in instance.threat.list_alerts(caller, status)]


@router.get("/alerts/{alert_id}")
def show_alert(alert_id: str, caller: Reader, instance: InstanceDep) -> dict[str, Any]:
    return instance.threat.show_alert(caller, alert_id).as_dict()


@router.post("/alerts/{alert_id}/ack")
def ack_alert(alert_id: str, caller: Triager, instance: InstanceDep) -> dict[str, Any]:
    return instance.threat.ack(caller, alert_id).as_dict()


@router.post("/alerts/{alert_id}/assign")
def assign_alert(alert_id: str, body: AssignIn, caller: Triager,
                 instance: InstanceDep) -> dict[str, Any]:
    return instance.threat.assign(caller, alert_id, body.assignee).as_dict()


@router.post("/alerts/{alert_id}/close")
def close_alert(alert_id: str, body: CloseIn, caller: Triager,
                instance: InstanceDep) -> dict[str, Any]:
    return instance.threat.close_alert(caller, alert_id, body.reason).as_dict()


@router.post("/alerts/{alert_id}/incident")
def open_incident(alert_id: str, caller: Triager, instance: InstanceDep) -> dict[str, Any]:
    return instance.threat.open_incident(caller, alert_id).as_dict()


@router.post("/threat/hunt")
def hunt(caller: Hunter, instance: InstanceDep) -> dict[str, Any]:
    return instance.threat.hunt(caller).as_dict()


@router.get("/threat/status")
def status(caller: Reader, instance: InstanceDep) -> dict[str, Any]:
    return instance.threat.status(caller).as_dict()
