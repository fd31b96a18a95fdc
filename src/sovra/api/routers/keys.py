"""Key custody routes: seal status and unsealing (open by design), sealing and keyrings.

``/sys/seal-status``, ``/sys/unseal`` and ``/sys/unseal/reset`` need no credential: a
sealed instance cannot check one, and the custodian's share *is* the credential (every
attempt, good or bad, is recorded in the ledger). Everything else goes through
``authorized``. Routes are plain ``def``: the durable ledger append blocks, so FastAPI
runs them in its thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from sovra.api.auth import authorized
from sovra.api.deps import get_instance
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.keys import KeyringInfo, SealStatus

router = APIRouter(tags=["keys"])

InstanceDep = Annotated[Instance, Depends(get_instance)]
Sealer = Annotated[Caller, Depends(authorized("keys.seal", "Keys"))]
StatusReader = Annotated[Caller, Depends(authorized("keys.status", "Keys"))]
Rotator = Annotated[Caller, Depends(authorized("keys.rotate", "Keys",
                                               resource_id_param="keyring_id"))]
Eraser = Annotated[Caller, Depends(authorized("keys.erase", "Keys",
                                              resource_id_param="keyring_id"))]


class SealStatusOut(BaseModel):
    initialized: bool
    sealed: bool
    mode: str | None
    dev_mode: bool
    ceremony_id: str | None
    threshold: int | None
    shares: int | None
    progress: int
    hsm_token: str | None
    last_error: str | None
    # False in development mode: administrators need no lockbox grant (ADR 0700 addendum).
    lockbox_enforced: bool = True

    @classmethod
    def of(cls, s: SealStatus) -> SealStatusOut:
        return cls(initialized=s.initialized, sealed=s.sealed, mode=s.mode, dev_mode=s.dev_mode,
                   ceremony_id=s.ceremony_id, threshold=s.threshold, shares=s.shares,
                   progress=s.progress, hsm_token=s.hsm_token, last_error=s.last_error)


class ShareIn(BaseModel):
    share: str = Field(min_length=1, max_length=4096,
                       description="One custodian's share line (sovra-share-1:...) or file text")


class KeyringOut(BaseModel):
    keyring_id: str
    current_version: int
    min_version: int
    live_versions: list[int]
    destroyed: bool
    created_at: float
    destroyed_at: float | None

    @classmethod
    def of(cls, k: KeyringInfo) -> KeyringOut:
        return cls(keyring_id=k.keyring_id, current_version=k.current_version,
                   min_version=k.min_version, live_versions=list(k.live_versions),
                   destroyed=k.destroyed, created_at=k.created_at, destroyed_at=k.destroyed_at)


class KeyStatusOut(BaseModel):
    seal: SealStatusOut
    keyrings: list[KeyringOut]


class MinVersionIn(BaseModel):
    version: int = Field(ge=1)
    force: bool = False


class MinVersionOut(BaseModel):
    keyring_id: str
    min_version: int
    retired_versions: list[int]
    erased_data_keys: int


class RewrapOut(BaseModel):
    keyring_id: str
    rewrapped: int


class ErasureOut(BaseModel):
    keyring_id: str
    kek_versions: int
    data_keys: int


def _custodian(request: Request) -> str:
    return f"custodian@{request.client.host if request.client else 'unknown'}"


@router.get("/sys/seal-status")
def seal_status(instance: InstanceDep) -> SealStatusOut:
    return SealStatusOut.of(instance.keys.seal_status()).model_copy(
        update={"lockbox_enforced": instance.policy.lockbox_enforced})


@router.post("/sys/unseal")
def unseal(body: ShareIn, request: Request, instance: InstanceDep) -> SealStatusOut:
    return SealStatusOut.of(instance.keys.submit_share(body.share, actor=_custodian(request)))


@router.post("/sys/unseal/reset")
def unseal_reset(request: Request, instance: InstanceDep) -> SealStatusOut:
    return SealStatusOut.of(instance.keys.reset_unseal(actor=_custodian(request)))


@router.post("/sys/seal")
def seal(caller: Sealer, instance: InstanceDep) -> SealStatusOut:
    return SealStatusOut.of(instance.keys.seal(actor=caller.principal_id))


@router.get("/keys/status")
def key_status(_caller: StatusReader, instance: InstanceDep) -> KeyStatusOut:
    status = instance.keys.status()
    return KeyStatusOut(seal=SealStatusOut.of(status.seal),
                        keyrings=[KeyringOut.of(k) for k in status.keyrings])


@router.post("/keys/keyrings/{keyring_id}/rotate")
def rotate(keyring_id: str, caller: Rotator, instance: InstanceDep) -> KeyringOut:
    instance.keys.rotate(keyring_id, actor=caller.principal_id)
    return KeyringOut.of(instance.keys.keyring(keyring_id))


@router.post("/keys/keyrings/{keyring_id}/rewrap")
def rewrap(keyring_id: str, caller: Rotator, instance: InstanceDep) -> RewrapOut:
    return RewrapOut(keyring_id=keyring_id,
                     rewrapped=instance.keys.rewrap(keyring_id, actor=caller.principal_id))


@router.post("/keys/keyrings/{keyring_id}/min-version")
def min_version(keyring_id: str, body: MinVersionIn, caller: Rotator,
                instance: InstanceDep) -> MinVersionOut:
    done = instance.keys.set_min_version(keyring_id, body.version, force=body.force,
                                         actor=caller.principal_id)
    return MinVersionOut(keyring_id=done.keyring_id, min_version=done.min_version,
                         retired_versions=list(done.retired_versions),
                         erased_data_keys=done.erased_data_keys)


@router.delete("/keys/keyrings/{keyring_id}")
def erase(keyring_id: str, caller: Eraser, instance: InstanceDep) -> ErasureOut:
    done = instance.keys.destroy_keyring(keyring_id, actor=caller.principal_id)
    return ErasureOut(keyring_id=done.keyring_id, kek_versions=done.kek_versions,
                      data_keys=done.data_keys)
