"""Policy routes: the active set, versions, proposals and approvals. Thin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from sovra.api.auth import authorized
from sovra.api.deps import get_instance
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.policy import PolicyVersion

router = APIRouter(prefix="/policy", tags=["policy"])

InstanceDep = Annotated[Instance, Depends(get_instance)]
Reader = Annotated[Caller, Depends(authorized("policy.read", "Policy"))]
VersionReader = Annotated[Caller, Depends(authorized(
    "policy.read", "Policy", resource_id_param="version"))]
Proposer = Annotated[Caller, Depends(authorized("policy.propose", "Policy"))]
Approver = Annotated[Caller, Depends(authorized(
    "policy.approve", "Policy", resource_id_param="version"))]


class ProposalIn(BaseModel):
    text: str
    comment: str = ""


class VersionOut(BaseModel):
    version: int
    status: str
    sha256: str
    diff_sha256: str
    base_version: int | None
    comment: str
    proposed_by: str
    proposed_at: float
    approved_by: str | None
    approved_at: float | None


class VersionTextOut(VersionOut):
    text: str
    diff: str


def _out(v: PolicyVersion) -> VersionOut:
    return VersionOut(version=v.version, status=v.status, sha256=v.sha256,
                      diff_sha256=v.diff_sha256, base_version=v.base_version,
                      comment=v.comment, proposed_by=v.proposed_by, proposed_at=v.proposed_at,
                      approved_by=v.approved_by, approved_at=v.approved_at)


def _full(v: PolicyVersion) -> VersionTextOut:
    return VersionTextOut(**_out(v).model_dump(), text=v.text, diff=v.diff)


@router.get("")
def show_active(caller: Reader, instance: InstanceDep) -> VersionTextOut:
    return _full(instance.policy.show())


@router.get("/versions")
def list_versions(caller: Reader, instance: InstanceDep) -> list[VersionOut]:
    return [_out(v) for v in instance.policy.versions()]


@router.get("/versions/{version}")
def get_version(version: int, caller: VersionReader, instance: InstanceDep) -> VersionTextOut:
    return _full(instance.policy.get(version))


@router.post("/proposals", status_code=201)
def propose(body: ProposalIn, caller: Proposer, instance: InstanceDep) -> VersionOut:
    return _out(instance.policy.propose(caller, body.text, body.comment))


@router.post("/versions/{version}/approve")
def approve(version: int, caller: Approver, instance: InstanceDep) -> VersionOut:
    return _out(instance.policy.approve(caller, version))
