"""Identity routes: principals, groups, API keys. Thin: parse, call the service, render."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from sovra.api.auth import authorized
from sovra.api.deps import get_instance
from sovra.identity import ApiKeyInfo, Caller, Principal
from sovra.instance import Instance

router = APIRouter(prefix="/identity", tags=["identity"])

InstanceDep = Annotated[Instance, Depends(get_instance)]
Manager = Annotated[Caller, Depends(authorized("principals.manage", "Principal"))]
PrincipalManager = Annotated[Caller, Depends(authorized(
    "principals.manage", "Principal", resource_id_param="principal_id"))]
GroupManager = Annotated[Caller, Depends(authorized(
    "principals.manage", "Principal", resource_id_param="group_id"))]


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


@router.post("/principals", status_code=201)
def create_principal(body: PrincipalIn, caller: Manager, instance: InstanceDep) -> PrincipalOut:
    return PrincipalOut.of(instance.identity.create_principal(
        caller.principal_id, body.principal_id, kind=body.kind, roles=body.roles,
        clearance=body.clearance, org_unit=body.org_unit, jurisdiction=body.jurisdiction,
        display_name=body.display_name))


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


@router.post("/principals/{principal_id}/enable")
def enable_principal(principal_id: str, caller: PrincipalManager,
                     instance: InstanceDep) -> PrincipalOut:
    return PrincipalOut.of(instance.identity.set_disabled(
        caller.principal_id, principal_id, disabled=False))


@router.get("/groups/{group_id}/members")
def list_members(group_id: str, caller: GroupManager, instance: InstanceDep) -> list[str]:
    return instance.identity.members(group_id)


@router.post("/groups/{group_id}/members", status_code=204)
def add_member(group_id: str, body: MemberIn, caller: GroupManager,
               instance: InstanceDep) -> None:
    instance.identity.add_member(caller.principal_id, group_id, body.member_id)


@router.delete("/groups/{group_id}/members/{member_id}", status_code=204)
def remove_member(group_id: str, member_id: str, caller: GroupManager,
                  instance: InstanceDep) -> None:
    instance.identity.remove_member(caller.principal_id, group_id, member_id)


@router.post("/apikeys", status_code=201)
def create_api_key(body: ApiKeyIn, caller: Manager, instance: InstanceDep) -> CreatedKeyOut:
    created = instance.identity.create_api_key(
        caller.principal_id, body.principal_id, label=body.label, expires_at=body.expires_at,
        scope=body.scope)
    return CreatedKeyOut(**ApiKeyOut.of(created.info).model_dump(), key=created.token)


@router.get("/apikeys")
def list_api_keys(caller: Manager, instance: InstanceDep,
                  principal_id: str | None = None) -> list[ApiKeyOut]:
    return [ApiKeyOut.of(k) for k in instance.identity.list_api_keys(principal_id)]


@router.delete("/apikeys/{key_id}")
def revoke_api_key(key_id: str, caller: Manager, instance: InstanceDep) -> ApiKeyOut:
    return ApiKeyOut.of(instance.identity.revoke_api_key(caller.principal_id, key_id))
