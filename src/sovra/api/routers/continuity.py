"""``GET /continuity/status``: the last backup, the last drill, targets and warnings.

Read-only evidence for auditors (DORA Art. 11: continuity tested at least yearly).
Backups, restores and drills run from the CLI on the data directory, where the shares
and the removable media are (docs/continuity.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from sovra.api.auth import authorized
from sovra.api.deps import get_instance
from sovra.continuity import status
from sovra.identity import Caller
from sovra.instance import Instance

router = APIRouter(tags=["continuity"])
StatusReader = Annotated[Caller, Depends(authorized("continuity.status", "Continuity"))]
InstanceDep = Annotated[Instance, Depends(get_instance)]


class ContinuityStatusOut(BaseModel):
    last_backup: dict[str, Any] | None
    last_drill: dict[str, Any] | None
    rto_target_s: float
    rpo_target_s: float
    held: dict[str, Any] | None
    warnings: list[str]


@router.get("/continuity/status")
def continuity_status(_caller: StatusReader, instance: InstanceDep) -> ContinuityStatusOut:
    found = status(instance.settings)
    return ContinuityStatusOut(last_backup=found.last_backup, last_drill=found.last_drill,
                               rto_target_s=found.rto_target_s,
                               rpo_target_s=found.rpo_target_s, held=found.held,
                               warnings=list(found.warnings))
