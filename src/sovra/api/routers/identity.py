"""Identity routes: principals, groups, API keys. Thin: parse, call the service, render."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from sovra.api.auth import authorized
from sovra.api.deps import get_instance
from sovra.identity import ApiKeyInfo, Caller, CreatedKey, PendingChange, Principal
from sovra.instance import Instance

router = APIRouter(prefix="/identity", tags=["identity"])

InstanceDep = Annotated[Instance, Depends(get_instance)]
Manager = Annotated[Caller, Depends(authorized("principals.manage", "Principal"))]
PrincipalManager = Annotated[Caller, Depends(authorized(
    "principals.manage", "Principal", resource_id_param="principal_id"))]
GroupManager = Annotated[Caller, Depends(authorized(
    "principals.manage", "Principal", resource_id_param="group_id"))]
ChangeApprover = Annotated[Caller, Depends(authorized("principals.approve", "Principal"))]


class PrincipalIn(BaseModel):
    principal_id: str
    kind: str = "user"
    roles: list[str] = Field(default_factory=list)
    clearance: str = "public"
    org_unit: str = ""
    jurisdiction: str = ""
    display_name: str | None = None


class PrincipalOut(BaseModel):
    principal_id: str
    kind: str
    display_name: str
    roles: list[str]
    clearance: str
    org_unit: str
    jurisdiction: str
    disabled: bool
    created_at: float

    @classmethod
    def of(cls, p: Principal) -> PrincipalOut:
        return cls(principal_id=p.principal_id, kind=p.kind, display_name=p.display_name,
                   roles=sorted(p.roles), clearance=p.clearance, org_unit=p.org_unit,
                   jurisdiction=p.jurisdiction, disabled=p.disabled, created_at=p.created_at)


class MemberIn(BaseModel):
    member_id: str


class ApiKeyIn(BaseModel):
    principal_id: str
    label: str = ""
    expires_at: float | None = Field(default=None, description="Unix time; none = no expiry")
    scope: list[str] | None = Field(default=None, description="Actions or prefix.*")


class ApiKeyOut(BaseModel):
    key_id: str
    prefix: str
    principal_id: str
    label: str
    scope: list[str] | None
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    @classmethod
    def of(cls, k: ApiKeyInfo) -> ApiKeyOut:
        return cls(key_id=k.key_id, prefix=k.prefix, principal_id=k.principal_id,
                   label=k.label, scope=None if k.scope is None else sorted(k.scope),
                   created_at=k.created_at, expires_at=k.expires_at, revoked_at=k.revoked_at)


class CreatedKeyOut(ApiKeyOut):
    key: str = Field(description="The full key. Shown once; store it now.")


class ChangeOut(BaseModel):
    """An identity change waiting for (or decided by) a second person (HTTP 202)."""

    change_id: str
    kind: str
    target: str
    request: dict[str, object]
    status: str
    requested_by: str
    requested_at: float
    decided_by: str | None
    decided_at: float | None

    @classmethod
    def of(cls, c: PendingChange) -> ChangeOut:
        return cls(change_id=c.change_id, kind=c.kind, target=c.target, request=c.request,
                   status=c.status, requested_by=c.requested_by, requested_at=c.requested_at,
                   decided_by=c.decided_by, decided_at=c.decided_at)


class ApprovedOut(BaseModel):
    change: ChangeOut
    key: CreatedKeyOut | None = Field(
        default=None, description="A handed-over key: shown once, to the approver, who "
        "hands it to its holder.")
    principal: PrincipalOut | None = None


class RejectIn(BaseModel):
    reason: str = ""


def _key_out(created: CreatedKey) -> CreatedKeyOut:
    return CreatedKeyOut(**ApiKeyOut.of(created.info).model_dump(), key=created.token)


def _pending(response: Response, change: PendingChange) -> ChangeOut:
    response.status_code = 202
    return ChangeOut.of(change)


@router.post("/principals", status_code=201, responses={202: {"model": ChangeOut}})
def create_principal(body: PrincipalIn, caller: Manager, instance: InstanceDep,
                     response: Response) -> PrincipalOut | ChangeOut:
    """Create a principal; with the admin or approver role it waits for an approver (202)."""
    made = instance.identity.changes.principal(
        caller, body.principal_id, kind=body.kind, roles=body.roles,
        clearance=body.clearance, org_unit=body.org_unit, jurisdiction=body.jurisdiction,
        display_name=body.display_name)
    return PrincipalOut.of(made) if isinstance(made, Principal) else _pending(response, made)


@router.get("/principals")
def list_principals(caller: Manager, instance: InstanceDep,
                    kind: str | None = None) -> list[PrincipalOut]:
    return [PrincipalOut.of(p) for p in instance.identity.list_principals(kind)]


@router.get("/principals/{principal_id}")
def get_principal(principal_id: str, caller: PrincipalManager,
                  instance: InstanceDep) -> PrincipalOut:
    return PrincipalOut.of(instance.identity.get_principal(principal_id))


@router.post("/principals/{principal_id}/disable")
def disable_principal(principal_id: str, caller: PrincipalManager,
                      instance: InstanceDep) -> PrincipalOut:
    return PrincipalOut.of(instance.identity.set_disabled(caller.principal_id, principal_id))


@router.post("/principals/{principal_id}/enable", responses={202: {"model": ChangeOut}})
def enable_principal(principal_id: str, caller: PrincipalManager, instance: InstanceDep,
                     response: Response) -> PrincipalOut | ChangeOut:
    """Enable; one holding the admin or approver role waits for an approver (202)."""
    made = instance.identity.changes.enable(caller, principal_id)
    return PrincipalOut.of(made) if isinstance(made, Principal) else _pending(response, made)


@router.get("/groups/{group_id}/members")
def list_members(group_id: str, caller: GroupManager, instance: InstanceDep) -> list[str]:
    return instance.identity.members(group_id)


@router.post("/groups/{group_id}/members", status_code=204,
             responses={202: {"model": ChangeOut}})
def add_member(group_id: str, body: MemberIn, caller: GroupManager,
               instance: InstanceDep) -> Response:
    """Add a member; to a group holding admin or approver it waits for an approver (202)."""
    pending = instance.identity.changes.member(caller, group_id, body.member_id)
    if pending is None:
        return Response(status_code=204)
    return Response(ChangeOut.of(pending).model_dump_json(), status_code=202,
                    media_type="application/json")


@router.delete("/groups/{group_id}/members/{member_id}", status_code=204)
def remove_member(group_id: str, member_id: str, caller: GroupManager,
                  instance: InstanceDep) -> None:
    instance.identity.remove_member(caller.principal_id, group_id, member_id)


@router.post("/apikeys", status_code=201, responses={202: {"model": ChangeOut}})
def create_api_key(body: ApiKeyIn, caller: Manager, instance: InstanceDep,
                   response: Response) -> CreatedKeyOut | ChangeOut:
    """Your own key now (201); a key for anyone else is a hand-over an approver must
    approve (202): nobody mints a credential for another person alone."""
    made = instance.identity.changes.api_key(
        caller, body.principal_id, label=body.label, expires_at=body.expires_at,
        scope=body.scope)
    return _key_out(made) if isinstance(made, CreatedKey) else _pending(response, made)


@router.get("/apikeys")
def list_api_keys(caller: Manager, instance: InstanceDep,
                  principal_id: str | None = None) -> list[ApiKeyOut]:
    return [ApiKeyOut.of(k) for k in instance.identity.list_api_keys(principal_id)]


@router.delete("/apikeys/{key_id}")
def revoke_api_key(key_id: str, caller: Manager, instance: InstanceDep) -> ApiKeyOut:
    return ApiKeyOut.of(instance.identity.revoke_api_key(caller.principal_id, key_id))


@router.get("/changes")
def list_changes(caller: ChangeApprover, instance: InstanceDep,
                 status: str | None = None) -> list[ChangeOut]:
    return [ChangeOut.of(c) for c in instance.identity.changes.list_changes(status)]


@router.post("/changes/{change_id}/approve")
def approve_change(change_id: str, caller: ChangeApprover,
                   instance: InstanceDep) -> ApprovedOut:
    """Apply a pending change as its second person (an approver, never the requester)."""
    done = instance.identity.changes.approve(caller, change_id, instance.policy)
    return ApprovedOut(change=ChangeOut.of(done.change),
                       key=None if done.key is None else _key_out(done.key),
                       principal=None if done.principal is None else
                       PrincipalOut.of(done.principal))


@router.post("/changes/{change_id}/reject")
def reject_change(change_id: str, body: RejectIn, caller: ChangeApprover,
                  instance: InstanceDep) -> ChangeOut:
    return ChangeOut.of(instance.identity.changes.reject(caller, change_id, instance.policy,
                                                         body.reason))
