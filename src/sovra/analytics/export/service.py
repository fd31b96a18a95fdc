"""The outbound diode: collect, classify, redact, review, two approvals, sign, record.

Everything that leaves the site goes through ``ExportService``:

* ``create`` collects (``collect.py``), redacts every detector finding and checks the
  redaction held (``redact.py``), decides ``export.create`` on the export with its
  level (the policy's ceiling forbids anything above it, whatever happens next),
  records, and keeps the redacted files and the unredacted view encrypted under the
  export's own keyring. Nothing is written outside the database yet.
* ``review`` shows a reviewer the listing and the diff against the unredacted view.
* ``approve`` takes one approval per approver; the requester never approves (built in,
  and Cedar's segregation rule). At two approvals the last approver's ``export.release``
  is decided again against the ceiling, and only then is the bundle signed and written
  (``bundle.py``), recorded, and the keyring destroyed: the unredacted view is gone.
* ``bundle_path`` hands out a released bundle; ``root`` the key receivers pin.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sovra.analytics.export.bundle import MANIFEST, ExportSigner, safe_name
from sovra.analytics.export.collect import KINDS, collect
from sovra.analytics.export.redact import (
    RedactedFile,
    SourceFile,
    level_of,
    redact_all,
    review_diff,
)
from sovra.analytics.export.rooms import Source
from sovra.config import Settings
from sovra.data import DataService
from sovra.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from sovra.identity import Caller
from sovra.keys import KeyService
from sovra.ledger import Ledger
from sovra.policy import Classification, PolicyService, Resource
from sovra.store.tables.analytics import analytics_export_approvals, analytics_exports

APPROVALS_NEEDED = 2


@dataclass(frozen=True)
class ExportInfo:
    id: str
    kind: str
    subject: str
    requester: str
    state: str  # pending, released
    classification: Classification
    listing: list[dict[str, Any]]
    approvers: tuple[str, ...]
    created_at: float
    released_at: float | None
    bundle_sha256: str | None


@dataclass(frozen=True)
class ExportReview:
    info: ExportInfo
    diff: str


class ExportService:
    """``instance.exports``: the one way out."""

    def __init__(self, engine: Engine, settings: Settings, *, ledger: Ledger,
                 policy: PolicyService, keys: KeyService, data: DataService,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine, self.settings, self.ledger = engine, settings, ledger
        self.policy, self.keys, self.data, self.clock = policy, keys, data, clock
        self.folder = settings.data_dir / "export"
        # On the keys room's token when the root key is on one (ADR 1101).
        self.signer = ExportSigner(self.folder, token=lambda: (
            None if (c := keys.custody.ceremony) is None else c.hsm))
        self.sources: dict[str, Source] = {}

    def use_sources(self, sources: Mapping[str, Source]) -> None:
        """Kinds other rooms collect (``rooms.py``: the compliance report, threat
        sightings); they pass through the same redaction, approvals and ceiling."""
        self.sources.update(sources)

    @property
    def kinds(self) -> tuple[str, ...]:
        return (*KINDS, *sorted(set(self.sources) - set(KINDS)))

    # -- create ----------------------------------------------------------------------

    def create(self, caller: Caller, kind: str, subject: str = "") -> ExportInfo:
        export_id = uuid.uuid4().hex
        resource = f"export/{export_id}"
        try:
            files = redact_all(self._collect(caller, kind, subject))
        except (InvalidInputError, PermissionDeniedError) as exc:
            outcome = "denied" if isinstance(exc, PermissionDeniedError) else "failure"
            self._record(caller, "export.create", resource, outcome,
                         {"kind": kind, "subject": subject, "reason": str(exc)})
            raise
        level = level_of(files)
        listing = [f.listing() for f in files]
        self._require(caller, "export.create", self._resource(
            export_id, kind, level, caller.principal_id))
        self._record(caller, "export.create", resource, "success", {
            "kind": kind, "subject": subject, "classification": level.label,
            "files": listing})
        keyring = _keyring(export_id)
        self.keys.create_keyring(keyring, actor=caller.principal_id)
        payload = self.keys.encrypt(keyring, resource, json.dumps([
            {"name": f.name, "original": f.original, "redacted": f.redacted,
             "declared": int(f.declared), "counts": f.counts} for f in files]).encode())
        with self.engine.begin() as conn:
            conn.execute(insert(analytics_exports).values(
                id=export_id, kind=kind, subject=subject, requester=caller.principal_id,
                state="pending", classification=int(level), listing=json.dumps(listing),
                payload=payload, created_at=self.clock()))
        return self.get(export_id)

    def _collect(self, caller: Caller, kind: str, subject: str) -> list[SourceFile]:
        if kind in self.sources:
            return self.sources[kind](caller, subject)
        if kind in KINDS:
            return collect(kind, subject, settings=self.settings, data=self.data,
                           ledger=self.ledger)
        raise InvalidInputError(f"unknown export kind {kind!r}; one of {', '.join(self.kinds)}")

    # -- review and approve ----------------------------------------------------------

    def review(self, caller: Caller, export_id: str) -> ExportReview:
        info = self.get(export_id)
        self.policy.require(caller, "export.review", self._of(info))
        if info.state != "pending":
            raise ConflictError(f"export {export_id} is {info.state}; its unredacted view "
                                "was erased when it was released")
        self._record(caller, "export.review", f"export/{export_id}", "success", {})
        return ExportReview(info, review_diff(self._files(info)))

    def approve(self, caller: Caller, export_id: str) -> ExportInfo:
        info = self.get(export_id)
        resource = f"export/{export_id}"
        if caller.principal_id == info.requester:
            self._record(caller, "export.approve", resource, "denied",
                         {"reason": "segregation of duties: the requester never approves"})
            raise PermissionDeniedError(f"{caller.principal_id} asked for export {export_id} "
                                        "and may not approve it: two other people must")
        self.policy.require(caller, "export.approve", self._of(info))
        if info.state != "pending":
            raise ConflictError(f"export {export_id} is already {info.state}")
        self._record(caller, "export.approve", resource, "success",
                     {"approvals": len(info.approvers) + 1})
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(analytics_export_approvals).values(
                    export_id=export_id, approver=caller.principal_id, at=self.clock()))
        except IntegrityError as exc:
            raise ConflictError(f"{caller.principal_id} approved export {export_id} "
                                "already; a second, different approver is needed") from exc
        info = self.get(export_id)
        if len(info.approvers) >= APPROVALS_NEEDED:
            return self._release(caller, info)
        return info

    def _release(self, caller: Caller, info: ExportInfo) -> ExportInfo:
        """Decide the ceiling again, then sign, write, record and erase the view."""
        resource = f"export/{info.id}"
        self._require(caller, "export.release", self._of(info))
        files = self._files(info)
        now = self.clock()
        manifest = {
            "type": "sovra.export", "version": 1, "id": info.id, "kind": info.kind,
            "subject": info.subject, "requester": info.requester,
            "approvers": list(info.approvers), "classification": info.classification.label,
            "created_at": info.created_at, "released_at": now, "files": info.listing}
        members = {safe_name(f.name): f.redacted.encode("utf-8") for f in files}
        members[MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True).encode()
        out = self.outbox / f"{info.id}.tar"
        self.signer.pack(out, members, datetime.fromtimestamp(now, UTC))
        digest = _sha256_file(out)
        self._record(caller, "export.release", resource, "success", {
            "bundle_sha256": digest, "approvers": list(info.approvers),
            "classification": info.classification.label})
        with self.engine.begin() as conn:
            conn.execute(update(analytics_exports).where(analytics_exports.c.id == info.id)
                         .values(state="released", released_at=now, bundle_sha256=digest,
                                 payload=None))
        self.keys.destroy_keyring(_keyring(info.id), actor=caller.principal_id)
        return self.get(info.id)

    # -- reading ---------------------------------------------------------------------

    @property
    def outbox(self) -> Path:
        return self.folder / "outbox"

    def list_exports(self, caller: Caller) -> list[ExportInfo]:
        self.policy.require(caller, "export.read", Resource("Export"))
        with self.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(select(analytics_exports.c.id)
                                              .order_by(analytics_exports.c.created_at))]
        return [self.get(i) for i in ids]

    def bundle_path(self, caller: Caller, export_id: str) -> Path:
        info = self.get(export_id)
        self.policy.require(caller, "export.read", self._of(info))
        if info.state != "released":
            raise ConflictError(f"export {export_id} is {info.state}: nothing leaves before "
                                f"{APPROVALS_NEEDED} approvals")
        self._record(caller, "export.fetch", f"export/{export_id}", "success",
                     {"bundle_sha256": info.bundle_sha256})
        return self.outbox / f"{export_id}.tar"

    def root(self) -> bytes:
        return self.signer.root(datetime.fromtimestamp(self.clock(), UTC))

    def get(self, export_id: str) -> ExportInfo:
        with self.engine.connect() as conn:
            row = conn.execute(select(analytics_exports).where(
                analytics_exports.c.id == export_id)).first()
            if row is None:
                raise NotFoundError(f"no export {export_id!r}")
            approvers = tuple(r[0] for r in conn.execute(
                select(analytics_export_approvals.c.approver)
                .where(analytics_export_approvals.c.export_id == export_id)
                .order_by(analytics_export_approvals.c.at)))
        return ExportInfo(row.id, row.kind, row.subject, row.requester, row.state,
                          Classification(row.classification), json.loads(row.listing),
                          approvers, row.created_at, row.released_at, row.bundle_sha256)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(analytics_exports))
                       .scalar_one())

    # -- helpers ---------------------------------------------------------------------

    def _files(self, info: ExportInfo) -> list[RedactedFile]:
        with self.engine.connect() as conn:
            payload = conn.execute(select(analytics_exports.c.payload).where(
                analytics_exports.c.id == info.id)).scalar_one()
        raw = json.loads(self.keys.decrypt(_keyring(info.id), f"export/{info.id}",
                                           bytes(payload)))
        return [RedactedFile(f["name"], f["original"], f["redacted"],
                             Classification(f["declared"]), f["counts"]) for f in raw]

    @staticmethod
    def _resource(export_id: str, kind: str, level: Classification, requester: str
                  ) -> Resource:
        return Resource("Export", export_id, {"classification": int(level), "kind": kind,
                                              "requester": requester})

    def _of(self, info: ExportInfo) -> Resource:
        return self._resource(info.id, info.kind, info.classification, info.requester)

    def _require(self, caller: Caller, action: str, resource: Resource) -> None:
        """Decide (recorded); a refusal names the level and the deciding policies."""
        try:
            self.policy.require(caller, action, resource)
        except PermissionDeniedError as exc:
            level = Classification(int(str(resource.attributes["classification"])))
            self._record(caller, action, f"export/{resource.id}", "denied", {
                "classification": level.label, "reasons": list(exc.reasons)})
            ceiling = (" (above the export ceiling: nothing of this level leaves, whatever "
                       "the approvals)") if "export-ceiling" in exc.reasons else ""
            raise PermissionDeniedError(
                f"{caller.principal_id} may not {action} export {resource.id} of level "
                f"{level.label}{ceiling}; deciding policies: "
                f"{', '.join(exc.reasons) or 'none permitted it'}", exc.reasons) from exc

    def _record(self, caller: Caller, action: str, resource: str, outcome: str,
                details: dict[str, object]) -> None:
        self.ledger.append(caller.principal_id, action, resource, outcome, details)


def _keyring(export_id: str) -> str:
    return f"analytics.export.{export_id}"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def open_exports(engine: Engine, settings: Settings, *, ledger: Ledger, policy: PolicyService,
                 keys: KeyService, data: DataService) -> ExportService:
    return ExportService(engine, settings, ledger=ledger, policy=policy, keys=keys, data=data)


__all__ = ["APPROVALS_NEEDED", "ExportInfo", "ExportReview", "ExportService", "open_exports"]
