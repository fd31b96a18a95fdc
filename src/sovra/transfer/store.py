"""Database access for the transfer room (SQLAlchemy Core, SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from sovra.errors import BundleVerificationError, NotFoundError, StorageError
from sovra.store.tables.transfer import transfer_bundles, transfer_targets, transfer_trust
from sovra.transfer.results import TargetRecord
from sovra.transfer.verify import TrustState, VerifiedMetadata, sha256_hex

_SIGNED_ROLES = ("timestamp", "snapshot", "targets")


@dataclass(frozen=True)
class PendingBundle:
    bundle_id: str
    status: str
    importer: str
    staging_path: str | None
    metadata: Mapping[str, Any]
    grace_s: float


def load_trust(engine: Engine) -> TrustState | None:
    """The pinned root and applied versions, or None when no root is pinned yet."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(transfer_trust)).mappings().all()
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot read transfer trust state: {exc}") from exc
    by_role = {row["role"]: row for row in rows}
    if "root" not in by_role:
        return None
    return TrustState(bytes(by_role["root"]["body"]),
                      {role: int(row["version"]) for role, row in by_role.items()})


def pin_root(engine: Engine, data: bytes, version: int, now: float) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(insert(transfer_trust).values(
                role="root", version=version, sha256=sha256_hex(data), body=data,
                updated_at=now))
    except IntegrityError as exc:
        raise BundleVerificationError("a root is pinned already; rotate it with a bundle "
                                      "that carries the next root versions") from exc
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot pin root: {exc}") from exc


def advance_trust(conn: Connection, before: TrustState, verified: VerifiedMetadata,
                  bodies: Mapping[str, bytes], now: float) -> None:
    """Move every role to its new version if nobody else moved it since ``before``.

    A compare-and-set per role: two imports racing cannot both win, and a version
    never goes backwards in the database (rollback and freeze protection persist).
    """
    for role in ("root", *_SIGNED_ROLES):
        new_version = verified.versions[role]
        body = verified.root if role == "root" else bodies[role]
        values = {"version": new_version, "sha256": sha256_hex(body), "body": body,
                  "updated_at": now}
        old = before.version(role)
        if role == "root" and new_version == old:
            continue
        if role not in before.versions:
            try:
                conn.execute(insert(transfer_trust).values(role=role, **values))
            except IntegrityError as exc:
                raise _raced(role) from exc
            continue
        moved = conn.execute(update(transfer_trust).where(
            transfer_trust.c.role == role, transfer_trust.c.version == old).values(**values))
        if moved.rowcount != 1:
            raise _raced(role)


def _raced(role: str) -> BundleVerificationError:
    return BundleVerificationError(
        f"rollback: another bundle advanced {role} while this one was being verified")


def insert_bundle(conn: Connection, bundle_id: str, status: str, importer: str, *,
                  verified: VerifiedMetadata, bodies: Mapping[str, bytes], now: float,
                  staging_path: str | None) -> None:
    metadata = {"roots": {str(v): b.decode() for v, b in bodies_roots(verified).items()},
                **{role: bodies[role].decode() for role in _SIGNED_ROLES}}
    conn.execute(insert(transfer_bundles).values(
        id=bundle_id, status=status, importer=importer, approver=None, imported_at=now,
        activated_at=None,
        built_at=verified.built_at.timestamp() if verified.built_at else None,
        root_version=verified.versions["root"],
        timestamp_version=verified.versions["timestamp"],
        snapshot_version=verified.versions["snapshot"],
        targets_version=verified.versions["targets"],
        root_sha256=verified.sha256["root"], timestamp_sha256=verified.sha256["timestamp"],
        snapshot_sha256=verified.sha256["snapshot"], targets_sha256=verified.sha256["targets"],
        grace_s=verified.grace_allowed_s, staging_path=staging_path,
        metadata_json=json.dumps(metadata)))


def bodies_roots(verified: VerifiedMetadata) -> dict[int, bytes]:
    """The new root versions the bundle carried (for re-verification at approval)."""
    first = verified.root_version - len(verified.new_roots) + 1
    return {first + i: data for i, data in enumerate(verified.new_roots)}


def mark_activated(conn: Connection, bundle_id: str, approver: str | None, now: float) -> None:
    conn.execute(update(transfer_bundles).where(transfer_bundles.c.id == bundle_id).values(
        status="activated", approver=approver, activated_at=now, staging_path=None))


def mark_rejected(engine: Engine, bundle_id: str, by: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(transfer_bundles).where(
            transfer_bundles.c.id == bundle_id,
            transfer_bundles.c.status == "awaiting_approval").values(
            status="rejected", approver=by, staging_path=None))


def insert_targets(conn: Connection, bundle_id: str, records: Sequence[TargetRecord],
                   now: float) -> None:
    if not records:
        return
    conn.execute(insert(transfer_targets), [
        {"bundle_id": bundle_id, "path": r.path, "kind": r.kind, "component": r.component,
         "version": r.version, "sha256": r.sha256, "length": r.length,
         "stored_path": str(r.stored_path), "custom_json": json.dumps(dict(r.custom)),
         "state": r.state, "activated_at": now} for r in records])


def pending_bundle(engine: Engine, bundle_id: str) -> PendingBundle:
    with engine.connect() as conn:
        row = conn.execute(select(transfer_bundles).where(
            transfer_bundles.c.id == bundle_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"no bundle {bundle_id!r}")
    return PendingBundle(row["id"], row["status"], row["importer"], row["staging_path"],
                         json.loads(row["metadata_json"]), float(row["grace_s"]))


def target_rows(engine: Engine, kind: str | None = None) -> list[Mapping[str, Any]]:
    query = select(transfer_targets).order_by(transfer_targets.c.activated_at,
                                              transfer_targets.c.id)
    if kind is not None:
        query = query.where(transfer_targets.c.kind == kind)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings().all()]


def bundle_rows(engine: Engine) -> list[Mapping[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(transfer_bundles).order_by(transfer_bundles.c.imported_at)).mappings()]


def set_target_state(engine: Engine, path: str, sha256: str, state: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(transfer_targets).where(
            transfer_targets.c.path == path, transfer_targets.c.sha256 == sha256,
            transfer_targets.c.state == "awaiting_approval").values(state=state))
