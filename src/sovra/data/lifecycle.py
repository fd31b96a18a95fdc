"""Legal holds, deletion, retention and erasure by data subject (GDPR Art. 17).

Every deletion path goes through ``_erase_document``: it refuses held documents, records
first (fail closed), destroys the document's keyring (crypto-erasure: the document key
and so every chunk key derived from it are gone, also from backups), then deletes the
rows, FTS entries and vectors in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from sovra.data import sealing
from sovra.data._core import Core, document_keyring
from sovra.data.certificates import CertificateSigner
from sovra.data.classify import scan
from sovra.data.hooks import ErasureRequest
from sovra.data.values import Hold, RetentionReport
from sovra.errors import InvalidInputError, KeyDestroyedError, LegalHoldError, NotFoundError
from sovra.identity import Caller
from sovra.policy import Resource
from sovra.store.tables.data import (
    data_chunk_content,
    data_chunks,
    data_collections,
    data_documents,
    data_erasures,
    data_holds,
)

_DAY = 86_400.0


class Lifecycle:
    core: Core
    signer: CertificateSigner

    # -- legal holds -------------------------------------------------------------------

    def set_hold(self, caller: Caller, collection_id: str, reason: str,
                 document_id: str | None = None) -> Hold:
        if not reason.strip():
            raise InvalidInputError("a legal hold needs a reason (case or matter reference)")
        core = self.core
        with core.engine.connect() as conn:
            core.collection_row(conn, collection_id)
            if document_id is not None and core.document_row(
                    conn, document_id).collection_id != collection_id:
                raise NotFoundError(f"no document {document_id!r} in {collection_id!r}")
        core.record(caller, "data.hold.set", f"collection/{collection_id}", "success",
                    {"document_id": document_id, "reason": reason})
        now = core.clock()
        with core.engine.begin() as conn:
            hold_id = conn.execute(insert(data_holds).values(
                collection_id=collection_id, document_id=document_id, reason=reason,
                set_by=caller.principal_id, set_at=now)).inserted_primary_key
        return Hold(int(hold_id[0]) if hold_id else 0, collection_id, document_id, reason,
                    caller.principal_id, now)

    def release_hold(self, caller: Caller, hold_id: int,
                     collection_id: str | None = None) -> Hold:
        core = self.core
        with core.engine.connect() as conn:
            row = conn.execute(select(data_holds).where(data_holds.c.id == hold_id)).first()
        if row is None or row.released_at is not None or (
                collection_id is not None and row.collection_id != collection_id):
            raise NotFoundError(f"no active legal hold {hold_id}")
        core.record(caller, "data.hold.release", f"collection/{row.collection_id}", "success",
                    {"hold_id": hold_id, "document_id": row.document_id})
        now = core.clock()
        with core.engine.begin() as conn:
            conn.execute(update(data_holds).where(data_holds.c.id == hold_id).values(
                released_by=caller.principal_id, released_at=now))
        return Hold(hold_id, row.collection_id, row.document_id, row.reason, row.set_by,
                    row.set_at, now)

    def holds(self, collection_id: str) -> list[Hold]:
        with self.core.engine.connect() as conn:
            rows = conn.execute(select(data_holds).where(
                data_holds.c.collection_id == collection_id,
                data_holds.c.released_at.is_(None))).all()
        return [Hold(r.id, r.collection_id, r.document_id, r.reason, r.set_by, r.set_at)
                for r in rows]

    # -- deletion ----------------------------------------------------------------------

    def delete_document(self, caller: Caller, document_id: str) -> None:
        """Delete one document version (``collections.erase``), unless held."""
        with self.core.engine.connect() as conn:
            row = self.core.document_row(conn, document_id)
        self.core.policy.require(caller, "collections.erase", Resource(
            "Document", document_id, {"classification": row.classification}))
        self._erase_document(caller, row, "data.document.delete", {})

    def _erase_document(self, caller: Caller | str, row: Any, action: str,
                        details: dict[str, object]) -> dict[str, object]:
        core = self.core
        with core.engine.connect() as conn:
            if core.held(conn, row.collection_id, row.id):
                core.record(caller, action, f"document/{row.id}", "denied",
                            {**details, "reason": "legal hold"})
                raise LegalHoldError(f"document {row.id} is under a legal hold")
        summary: dict[str, object] = {
            "document_id": row.id, "collection_id": row.collection_id, "version": row.version,
            "content_mac": row.content_mac, "body_sha256": row.body_sha256,
            "chunks": row.chunk_count, "keyring_id": row.keyring_id}
        core.record(caller, action, f"document/{row.id}", "success", {**details, **summary})
        actor = caller if isinstance(caller, str) else caller.principal_id
        core.keys.destroy_keyring(document_keyring(row.id), actor=actor)
        with core.engine.begin() as conn:
            _secure_delete(conn)
            chunks = conn.execute(
                select(data_chunks.c.id, data_chunk_content.c.terms)
                .join(data_chunk_content, data_chunk_content.c.id == data_chunks.c.id)
                .where(data_chunks.c.document_id == row.id)).all()
            core.index.remove(conn, [(c.id, c.terms) for c in chunks])
            ids = [c.id for c in chunks]
            conn.execute(delete(data_chunk_content).where(data_chunk_content.c.id.in_(ids)))
            conn.execute(delete(data_chunks).where(data_chunks.c.document_id == row.id))
            conn.execute(delete(data_documents).where(data_documents.c.id == row.id))
            core.bump_generation(conn, row.collection_id)
        return summary

    # -- retention -------------------------------------------------------------------

    def run_retention(self, actor: str = "sovra.retention", now: float | None = None
                      ) -> RetentionReport:
        """Delete every document older than its collection's retention, unless held."""
        core = self.core
        core.require_unsealed()
        now = core.clock() if now is None else now
        with core.engine.connect() as conn:
            rows = conn.execute(
                select(data_documents, data_collections.c.retention_days)
                .join(data_collections, data_collections.c.id == data_documents.c.collection_id)
                .order_by(data_documents.c.created_at)).all()
            expired = [r for r in rows if r.created_at + r.retention_days * _DAY <= now]
            held = [r.id for r in expired if core.held(conn, r.collection_id, r.id)]
        deleted = []
        for row in expired:
            if row.id in held:
                continue
            self._erase_document(actor, row, "data.retention.delete",
                                 {"retention_days": row.retention_days})
            deleted.append(row.id)
        if held:
            core.record(actor, "data.retention.held", "data/retention", "success",
                        {"documents": held})
        return RetentionReport(tuple(deleted), tuple(held))

    # -- erasure by data subject (GDPR Art. 17) --------------------------------------

    def erase_subject(self, caller: Caller, subject: str) -> str:
        """Erase every document mentioning ``subject``; return the signed certificate."""
        core = self.core
        core.require_unsealed()
        normalized, kind = _normalize(subject)
        matches = self._documents_mentioning(subject, normalized, kind)
        for collection_id in sorted({m.collection_id for m in matches}):
            core.policy.require(caller, "collections.erase", Resource("Collection",
                                                                       collection_id))
        certificate_id = uuid.uuid4().hex
        digest = hashlib.sha256(f"{certificate_id}:{normalized}".encode()).hexdigest()
        with core.engine.connect() as conn:
            withheld = [m for m in matches if core.held(conn, m.collection_id, m.id)]
        to_erase = [m for m in matches if m not in withheld]
        receipt = core.record(caller, "data.erase", "data/subject", "success", {
            "certificate_id": certificate_id, "subject_digest": digest,
            "documents": [m.id for m in to_erase],
            "withheld": [m.id for m in withheld]})
        erased = [self._erase_document(caller, row, "data.erase.document",
                                       {"certificate_id": certificate_id})
                  for row in to_erase]
        hooks = core.erasers.run(ErasureRequest(
            subject, normalized, tuple(m.id for m in to_erase), actor=caller.principal_id,
            certificate_id=certificate_id))
        body = {
            "type": "sovra.data.erasure-certificate", "version": 1, "id": certificate_id,
            "issued_at": core.clock(), "actor": caller.principal_id,
            "legal_basis": "GDPR Art. 17", "subject_digest": digest,
            "subject_digest_alg": "sha256(certificate_id ':' normalized subject)",
            "match": kind or "exact", "erased": erased,
            "withheld": [{"document_id": m.id, "collection_id": m.collection_id,
                          "reason": "legal hold (GDPR Art. 17(3)(e))"} for m in withheld],
            "cached_answers": hooks,
            "ledger": {"seq": receipt.seq, "leaf_hash": receipt.leaf_hash.hex()}}
        certificate = self.signer.sign(body)
        with core.engine.begin() as conn:
            conn.execute(insert(data_erasures).values(
                id=certificate_id, kind="subject", certificate=certificate,
                ledger_seq=receipt.seq, created_at=core.clock()))
        return certificate

    def certificate(self, certificate_id: str) -> str:
        with self.core.engine.connect() as conn:
            text = conn.execute(select(data_erasures.c.certificate).where(
                data_erasures.c.id == certificate_id)).scalar_one_or_none()
        if text is None:
            raise NotFoundError(f"no erasure certificate {certificate_id!r}")
        return str(text)

    def _documents_mentioning(self, subject: str, normalized: str, kind: str | None
                              ) -> list[Any]:
        """Decrypt and scan every document: by the detectors' normal form and exactly."""
        core = self.core
        needle = subject.strip().casefold()
        with core.engine.connect() as conn:
            rows = conn.execute(select(data_documents)).all()
        found = []
        for row in rows:
            try:
                key = core.keys.decrypt(document_keyring(row.id), f"data/document/{row.id}",
                                        bytes(row.wrapped_key))
            except KeyDestroyedError:
                # Deleted since the rows were read (its key goes first): crypto-erased
                # already, nothing under it can mention anyone (issue 13's load test).
                continue
            body = json.loads(sealing.unseal(key, f"document/{row.id}", bytes(row.body)))
            # The file name counts too ("anna_keller_cv.pdf" mentions Anna Keller).
            text = f"{body['name']}\n{body['text']}"
            if needle in text.casefold() or (kind is not None and any(
                    f.kind.value == kind and f.normalized == normalized for f in scan(text))):
                found.append(row)
        return found


def _normalize(subject: str) -> tuple[str, str | None]:
    """The detectors' canonical form when the subject is one identifier, else case-folded."""
    value = subject.strip()
    if not value:
        raise InvalidInputError("the subject identifier is empty")
    findings = scan(value)
    if len(findings) == 1 and findings[0].length >= len(value) - 2:
        return findings[0].normalized, findings[0].kind.value
    return value.casefold(), None


def _secure_delete(conn: Connection) -> None:
    # SQLite keeps deleted bytes in free pages unless told to overwrite them.
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete = ON")


__all__ = ["Lifecycle"]
