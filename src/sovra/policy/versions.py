"""Stored policy versions: rows in and out of ``policy_versions``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from sovra.errors import ConflictError, NotFoundError, StorageError
from sovra.store.tables.policy import policy_versions


@dataclass(frozen=True)
class PolicyVersion:
    """One version of the whole policy set and how it came to be."""

    version: int
    text: str
    sha256: str
    diff: str
    diff_sha256: str
    base_version: int | None
    status: str  # proposed | active | superseded
    comment: str
    proposed_by: str
    proposed_at: float
    approved_by: str | None
    approved_at: float | None


def _version(row: Row[tuple[object, ...]]) -> PolicyVersion:
    m = row._mapping
    return PolicyVersion(
        int(m["version"]), str(m["text"]), str(m["sha256"]), str(m["diff"]),
        str(m["diff_sha256"]), None if m["base_version"] is None else int(m["base_version"]),
        str(m["status"]), str(m["comment"]), str(m["proposed_by"]), float(m["proposed_at"]),
        None if m["approved_by"] is None else str(m["approved_by"]),
        None if m["approved_at"] is None else float(m["approved_at"]))


class VersionStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def active(self) -> PolicyVersion | None:
        try:
            with self._engine.connect() as conn:
                row = conn.execute(select(policy_versions)
                                   .where(policy_versions.c.status == "active")).first()
        except SQLAlchemyError as exc:
            raise StorageError(f"policy store: {exc}") from exc
        return None if row is None else _version(row)

    def active_number(self) -> int | None:
        try:
            with self._engine.connect() as conn:
                return conn.execute(select(policy_versions.c.version)
                                    .where(policy_versions.c.status == "active")).scalar()
        except SQLAlchemyError as exc:
            raise StorageError(f"policy store: {exc}") from exc

    def get(self, version: int) -> PolicyVersion:
        try:
            with self._engine.connect() as conn:
                row = conn.execute(select(policy_versions)
                                   .where(policy_versions.c.version == version)).first()
        except SQLAlchemyError as exc:
            raise StorageError(f"policy store: {exc}") from exc
        if row is None:
            raise NotFoundError(f"no policy version {version}")
        return _version(row)

    def all(self) -> list[PolicyVersion]:
        try:
            with self._engine.connect() as conn:
                rows = conn.execute(select(policy_versions)
                                    .order_by(policy_versions.c.version)).all()
        except SQLAlchemyError as exc:
            raise StorageError(f"policy store: {exc}") from exc
        return [_version(r) for r in rows]

    def next_number(self) -> int:
        try:
            with self._engine.connect() as conn:
                top = conn.execute(select(func.max(policy_versions.c.version))).scalar()
        except SQLAlchemyError as exc:
            raise StorageError(f"policy store: {exc}") from exc
        return 1 if top is None else int(top) + 1

    def insert(self, v: PolicyVersion) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(policy_versions).values(
                    version=v.version, text=v.text, sha256=v.sha256, diff=v.diff,
                    diff_sha256=v.diff_sha256, base_version=v.base_version, status=v.status,
                    comment=v.comment, proposed_by=v.proposed_by, proposed_at=v.proposed_at,
                    approved_by=v.approved_by, approved_at=v.approved_at))
        except IntegrityError as exc:
            raise ConflictError(f"policy version {v.version} exists already; retry") from exc
        except SQLAlchemyError as exc:
            raise StorageError(f"policy store: {exc}") from exc

    def activate(self, version: int, base_version: int | None, approved_by: str,
                 approved_at: float) -> None:
        """Make ``version`` active and its base superseded, in one transaction."""
        try:
            with self._engine.begin() as conn:
                if base_version is not None:
                    done = conn.execute(update(policy_versions).where(
                        policy_versions.c.version == base_version,
                        policy_versions.c.status == "active").values(status="superseded"))
                    if done.rowcount != 1:
                        raise ConflictError(
                            f"version {base_version} is no longer active; propose again")
                done = conn.execute(update(policy_versions).where(
                    policy_versions.c.version == version,
                    policy_versions.c.status == "proposed").values(
                        status="active", approved_by=approved_by, approved_at=approved_at))
                if done.rowcount != 1:
                    raise ConflictError(f"version {version} is not a pending proposal")
        except SQLAlchemyError as exc:
            raise StorageError(f"policy store: {exc}") from exc


__all__ = ["PolicyVersion", "VersionStore"]
