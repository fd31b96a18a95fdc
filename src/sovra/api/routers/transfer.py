"""Bundle routes: pin the root, import (upload or server path), approve, status. Thin."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel

from sovra.api.auth import authorized
from sovra.api.deps import get_instance
from sovra.errors import FileTooLargeError, InvalidInputError
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.transfer import ImportResult, TransferStatus

router = APIRouter(prefix="/bundles", tags=["bundles"])

InstanceDep = Annotated[Instance, Depends(get_instance)]
Importer = Annotated[Caller, Depends(authorized("bundles.import", "Bundle"))]
Approver = Annotated[Caller, Depends(authorized(
    "bundles.approve", "Bundle", resource_id_param="bundle_id"))]
Reader = Annotated[Caller, Depends(authorized("bundles.read", "Bundle"))]


class TargetOut(BaseModel):
    path: str
    kind: str
    component: str
    version: str
    sha256: str
    length: int
    state: str


class ImportOut(BaseModel):
    bundle_id: str
    state: str
    versions: dict[str, int]
    sha256: dict[str, str]
    grace_allowed_s: float
    grace_needed_s: float
    checks: list[str]
    targets: list[TargetOut]
    bytes_verified: int


class ComponentOut(BaseModel):
    kind: str
    component: str
    version: str
    bundle_id: str
    built_at: str | None
    age_s: float | None


class StatusOut(BaseModel):
    root_version: int | None
    versions: dict[str, int]
    components: list[ComponentOut]
    newest_bundle_id: str | None
    patch_lag_s: float | None
    awaiting_approval: list[str]


class ModelOut(BaseModel):
    component: str
    version: str
    path: str
    sha256: str
    length: int
    manifest: dict[str, str]
    bundle_id: str


class TrustOut(BaseModel):
    root_version: int


@router.post("/trust")
def trust(instance: InstanceDep, caller: Importer,
          root: Annotated[UploadFile, File(description="The root metadata to pin.")]
          ) -> TrustOut:
    data = root.file.read(1_000_000)
    return TrustOut(root_version=instance.transfer.trust_root(data, caller))


@router.post("/import")
def import_bundle(instance: InstanceDep, caller: Importer,
                  bundle: Annotated[UploadFile | None, File(
                      description="The bundle archive (tar or tar.gz).")] = None,
                  path: Annotated[str | None, Form(
                      description="Or: a bundle already on the server's disk.")] = None
                  ) -> ImportOut:
    if (bundle is None) == (path is None):
        raise InvalidInputError("send either a `bundle` file or a server-side `path`")
    if path is not None:
        return _import_out(instance.transfer.import_bundle(Path(path), caller))
    if bundle is None:  # pragma: no cover - excluded by the check above
        raise InvalidInputError("no bundle")
    upload = _receive(instance, bundle)
    try:
        return _import_out(instance.transfer.import_bundle(upload, caller))
    finally:
        upload.unlink(missing_ok=True)


@router.post("/{bundle_id}/approve")
def approve(instance: InstanceDep, caller: Approver, bundle_id: str) -> ImportOut:
    return _import_out(instance.transfer.approve(bundle_id, caller))


class RejectIn(BaseModel):
    reason: str = ""


@router.post("/{bundle_id}/reject", status_code=204)
def reject(instance: InstanceDep, caller: Approver, bundle_id: str,
           body: RejectIn | None = None) -> None:
    instance.transfer.reject(bundle_id, caller, body.reason if body else "")


@router.get("/status")
def status(instance: InstanceDep, _caller: Reader) -> StatusOut:
    return _status_out(instance.transfer.status())


@router.get("/models")
def models(instance: InstanceDep, _caller: Reader) -> list[ModelOut]:
    return [ModelOut(component=m.component, version=m.version, path=str(m.path),
                     sha256=m.sha256, length=m.length, manifest=dict(m.manifest),
                     bundle_id=m.bundle_id) for m in instance.transfer.activated_models()]


def _receive(instance: Instance, bundle: UploadFile) -> Path:
    """Copy the upload into a private incoming folder, refusing more than the limit."""
    folder = instance.settings.data_dir / "transfer" / "incoming"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"upload-{secrets.token_hex(8)}.bundle"
    limit = instance.settings.bundle_max_bytes
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        copied = 0
        while chunk := bundle.file.read(1 << 20):
            copied += len(chunk)
            if copied > limit:
                out.close()
                path.unlink(missing_ok=True)
                raise FileTooLargeError(f"bundle upload exceeds {limit} bytes")
            out.write(chunk)
    return path


def _import_out(result: ImportResult) -> ImportOut:
    return ImportOut(
        bundle_id=result.bundle_id, state=result.state, versions=dict(result.versions),
        sha256=dict(result.sha256), grace_allowed_s=result.grace_allowed_s,
        grace_needed_s=result.grace_needed_s, checks=list(result.checks),
        targets=[TargetOut(path=t.path, kind=t.kind, component=t.component,
                           version=t.version, sha256=t.sha256, length=t.length,
                           state=t.state) for t in result.targets],
        bytes_verified=result.bytes_verified)


def _status_out(found: TransferStatus) -> StatusOut:
    return StatusOut(
        root_version=found.root_version, versions=dict(found.versions),
        components=[ComponentOut(kind=c.kind, component=c.component, version=c.version,
                                 bundle_id=c.bundle_id,
                                 built_at=c.built_at.isoformat() if c.built_at else None,
                                 age_s=c.age_s) for c in found.components],
        newest_bundle_id=found.newest_bundle_id, patch_lag_s=found.patch_lag_s,
        awaiting_approval=list(found.awaiting_approval))


