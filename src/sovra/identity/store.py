"""Identity rows in and out of the database (SQLAlchemy Core, SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from sqlalchemy import Engine, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from sovra.errors import ConflictError, NotFoundError, StorageError
from sovra.identity.principals import ApiKeyInfo, Principal
from sovra.store.tables.identity import (
    identity_api_keys,
    identity_group_members,
    identity_principals,
)


def _principal(row: Row[tuple[object, ...]]) -> Principal:
    m = row._mapping
    return Principal(str(m["principal_id"]), str(m["kind"]), str(m["display_name"]),
                     frozenset(json.loads(str(m["roles"]))), str(m["clearance"]),
                     str(m["org_unit"]), str(m["jurisdiction"]), bool(m["disabled"]),
                     float(m["created_at"]))


def _key(row: Row[tuple[object, ...]]) -> ApiKeyInfo:
    m = row._mapping
    scope = None if m["scope"] is None else frozenset(json.loads(str(m["scope"])))
    return ApiKeyInfo(str(m["key_id"]), str(m["principal_id"]), str(m["label"]), scope,
                      float(m["created_at"]),
                      None if m["expires_at"] is None else float(m["expires_at"]),
                      None if m["revoked_at"] is None else float(m["revoked_at"]))


class IdentityStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def _read(self, stmt: object) -> list[Row[tuple[object, ...]]]:
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(stmt))  # type: ignore[call-overload]
        except SQLAlchemyError as exc:
            raise StorageError(f"identity store: {exc}") from exc

    def _write(self, *stmts: object) -> None:
        try:
            with self._engine.begin() as conn:
                for stmt in stmts:
                    conn.execute(stmt)  # type: ignore[call-overload]
        except IntegrityError as exc:
            raise ConflictError(f"identity store: conflicting change: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise StorageError(f"identity store: {exc}") from exc

    def principal(self, principal_id: str) -> Principal | None:
        rows = self._read(select(identity_principals)
                          .where(identity_principals.c.principal_id == principal_id))
        return _principal(rows[0]) if rows else None

    def require_principal(self, principal_id: str) -> Principal:
        found = self.principal(principal_id)
        if found is None:
            raise NotFoundError(f"no principal {principal_id!r}")
        return found

    def principals(self, kind: str | None = None) -> list[Principal]:
        stmt = select(identity_principals).order_by(identity_principals.c.principal_id)
        if kind is not None:
            stmt = stmt.where(identity_principals.c.kind == kind)
        return [_principal(r) for r in self._read(stmt)]

    def admin_exists(self) -> bool:
        return any("admin" in p.roles and not p.disabled for p in self.principals())

    def insert_principal(self, p: Principal, created_by: str) -> None:
        self._write(insert(identity_principals).values(
            principal_id=p.principal_id, kind=p.kind, display_name=p.display_name,
            roles=json.dumps(sorted(p.roles)), clearance=p.clearance, org_unit=p.org_unit,
            jurisdiction=p.jurisdiction, disabled=p.disabled, created_at=p.created_at,
            created_by=created_by))

    def set_disabled(self, principal_id: str, disabled: bool) -> None:
        self._write(update(identity_principals)
                    .where(identity_principals.c.principal_id == principal_id)
                    .values(disabled=disabled))

    def groups_of(self, member_id: str) -> list[Principal]:
        stmt = (select(identity_principals)
                .join(identity_group_members,
                      identity_group_members.c.group_id == identity_principals.c.principal_id)
                .where(identity_group_members.c.member_id == member_id))
        return [_principal(r) for r in self._read(stmt)]

    def members(self, group_id: str) -> list[str]:
        rows = self._read(select(identity_group_members.c.member_id)
                          .where(identity_group_members.c.group_id == group_id)
                          .order_by(identity_group_members.c.member_id))
        return [str(r[0]) for r in rows]

    def add_member(self, group_id: str, member_id: str) -> None:
        self._write(insert(identity_group_members).values(group_id=group_id,
                                                          member_id=member_id))

    def remove_member(self, group_id: str, member_id: str) -> None:
        self._write(delete(identity_group_members).where(
            identity_group_members.c.group_id == group_id,
            identity_group_members.c.member_id == member_id))

    def key_row(self, key_id: str) -> tuple[ApiKeyInfo, bytes] | None:
        rows = self._read(select(identity_api_keys)
                          .where(identity_api_keys.c.key_id == key_id))
        if not rows:
            return None
        return _key(rows[0]), bytes(rows[0]._mapping["secret_sha256"])

    def keys(self, principal_id: str | None = None) -> list[ApiKeyInfo]:
        stmt = select(identity_api_keys).order_by(identity_api_keys.c.created_at)
        if principal_id is not None:
            stmt = stmt.where(identity_api_keys.c.principal_id == principal_id)
        return [_key(r) for r in self._read(stmt)]

    def insert_key(self, info: ApiKeyInfo, secret_sha256: bytes) -> None:
        scope = None if info.scope is None else json.dumps(sorted(info.scope))
        self._write(insert(identity_api_keys).values(
            key_id=info.key_id, principal_id=info.principal_id, secret_sha256=secret_sha256,
            label=info.label, scope=scope, created_at=info.created_at,
            expires_at=info.expires_at, revoked_at=None))

    def revoke_key(self, key_id: str, when: float) -> None:
        self._write(update(identity_api_keys).where(identity_api_keys.c.key_id == key_id)
                    .values(revoked_at=when))



__all__ = ["IdentityStore"]
