"""What the instance holds about one data subject (GDPR Art. 15): every document where
the detectors find the subject's identifier (or its text appears), with the purpose and
retention of the collection holding it.

Documents are read through the data room's own decided and recorded reads, so the
person asking sees only what policy lets them read; collections they may not read are
listed as not searched, never silently skipped. The report itself is recorded
(``compliance.subject_report``) with a digest of the subject, never the identifier.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sovra.compliance.evidence import rfc3339
from sovra.data.classify import scan
from sovra.errors import InvalidInputError, PermissionDeniedError
from sovra.identity import Caller
from sovra.instance import Instance


def _normal(subject: str) -> tuple[str, str | None]:
    """The detectors' normal form when the subject is one identifier, else case-folded
    (the same rule subject erasure uses, so the two find the same documents)."""
    value = subject.strip()
    if not value:
        raise InvalidInputError("the subject identifier is empty")
    findings = scan(value)
    if len(findings) == 1 and findings[0].length >= len(value) - 2:
        return findings[0].normalized, findings[0].kind.value
    return value.casefold(), None


def subject_report(inst: Instance, caller: Caller, subject: str) -> dict[str, Any]:
    normalized, kind = _normal(subject)
    needle = subject.strip().casefold()
    held: list[dict[str, Any]] = []
    not_searched: list[dict[str, str]] = []
    for collection in inst.data.list_collections(caller):
        try:
            documents = inst.data.list_documents(caller, collection.id)
        except PermissionDeniedError as exc:
            not_searched.append({"collection": collection.id, "reason": str(exc)})
            continue
        for info in documents:
            try:
                _, name, text = inst.data.read_document(caller, info.id)
            except PermissionDeniedError as exc:
                not_searched.append({"collection": collection.id, "document": info.id,
                                     "reason": str(exc)})
                continue
            body = f"{name}\n{text}"
            hits = [f for f in scan(body) if kind is not None and f.kind.value == kind
                    and f.normalized == normalized]
            if not hits and needle not in body.casefold():
                continue
            held.append({"collection": collection.id, "document": info.id, "name": name,
                         "classification": info.classification.label,
                         "identifier_matches": len(hits) or body.casefold().count(needle),
                         "matched_as": kind or "text", "purpose": collection.spec.purpose,
                         "retention_days": collection.spec.retention_days,
                         "stored_since": rfc3339(info.created_at)})
    salt = secrets.token_hex(8)
    digest = hashlib.sha256(f"{salt}:{normalized}".encode()).hexdigest()
    receipt = inst.ledger.append(caller.principal_id, "compliance.subject_report",
                                 "data/subject", "success",
                                 {"subject_digest": digest, "salt": salt,
                                  "documents": [h["document"] for h in held],
                                  "not_searched": len(not_searched)})
    return {"subject_digest": digest, "salt": salt, "matched_as": kind or "text",
            "documents": held, "not_searched": not_searched, "ledger_seq": receipt.seq,
            "legal_basis": "GDPR Art. 15"}


__all__ = ["subject_report"]
