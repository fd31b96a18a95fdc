"""Legal holds, retention, erasure by data subject with a signed certificate."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from sovra.data.certificates import verify_certificate
from sovra.data.hooks import ErasureRequest
from sovra.errors import ErasureCertificateError, LegalHoldError
from sovra.instance import Instance
from sovra.store.tables.data import data_chunk_content, data_chunks, data_documents
from tests.data.conftest import ADMIN, spec

ANNA = (b"Anna Keller (anna.keller@example.com) joined on 2020-01-01. Her IBAN is "
        b"DE89 3704 0044 0532 0130 00.")
BOB = b"Bob Smith works in logistics and can be reached at bob@example.com."
DAY = 86_400.0


def count(instance: Instance, table: object) -> int:
    with instance.data.core.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def vectors(instance: Instance) -> int:
    with instance.data.core.engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM data_chunk_content WHERE embedding IS NOT NULL")
        ).scalar_one())


def test_erasure_by_subject_deletes_everything_and_certifies(data: Instance) -> None:
    svc = data.data
    svc.create_collection(ADMIN, spec())
    anna = svc.ingest(ADMIN, "hr", "anna.txt", ANNA)
    svc.ingest(ADMIN, "hr", "bob.txt", BOB)
    seen: list[ErasureRequest] = []
    svc.erasers.register("answer-cache", lambda req: seen.append(req) or 3)
    # The IBAN written without spaces matches by the detector's normal form.
    certificate = svc.erase_subject(ADMIN, "DE89370400440532013000")
    body = verify_certificate(certificate)
    erased = body["erased"]
    assert isinstance(erased, list) and [e["document_id"] for e in erased] == [anna.document_id]
    assert "Keller" not in certificate and "DE89" not in certificate
    # Beside the AI gateway's own eraser for kept text, which open_instance registers.
    assert body["cached_answers"] == {"ai.kept_text": 0, "answer-cache": 3}
    assert seen[0].document_ids == (anna.document_id,)
    ledger = body["ledger"]
    assert isinstance(ledger, dict)
    with data.engine.connect() as conn:
        action = conn.execute(text("SELECT action FROM ledger_entries WHERE seq = :s"),
                              {"s": ledger["seq"]}).scalar_one()
    assert action == "data.erase"
    # Gone: rows, chunks, vectors, lexical entries, and the key (crypto-erasure).
    assert count(data, data_documents) == 1
    with svc.core.engine.connect() as conn:
        remaining = {r[0] for r in conn.execute(select(data_chunks.c.document_id))}
    assert remaining == {d.id for d in svc.list_documents(ADMIN, "hr")}
    assert vectors(data) == count(data, data_chunks)
    assert data.keys.keyring(f"data.document.{anna.document_id}").destroyed
    assert all("Keller" not in h.text for h in svc.retrieve(ADMIN, "Anna Keller IBAN", k=10))
    assert svc.certificate(str(body["id"])) == certificate


def test_erasure_by_exact_name(data: Instance) -> None:
    svc = data.data
    svc.create_collection(ADMIN, spec())
    svc.ingest(ADMIN, "hr", "anna.txt", ANNA)
    svc.ingest(ADMIN, "hr", "bob.txt", BOB)
    svc.ingest(ADMIN, "hr", "Bob Smith review.txt", b"Meets expectations in every area.")
    body = verify_certificate(svc.erase_subject(ADMIN, "bob smith"))
    assert body["match"] == "exact" and len(body["erased"]) == 2  # type: ignore[arg-type]
    assert count(data, data_documents) == 1


def test_tampered_certificate_fails_verification(data: Instance) -> None:
    svc = data.data
    svc.create_collection(ADMIN, spec())
    svc.ingest(ADMIN, "hr", "anna.txt", ANNA)
    document = json.loads(svc.erase_subject(ADMIN, "anna.keller@example.com"))
    document["erased"] = []
    with pytest.raises(ErasureCertificateError):
        verify_certificate(json.dumps(document))


def test_legal_hold_blocks_every_deletion_path(data: Instance) -> None:
    svc = data.data
    svc.create_collection(ADMIN, spec(retention_days=1))
    doc = svc.ingest(ADMIN, "hr", "anna.txt", ANNA)
    assert doc.document_id is not None
    hold = svc.set_hold(ADMIN, "hr", "case 2025-17 (labour court)")
    with pytest.raises(LegalHoldError):
        svc.delete_document(ADMIN, doc.document_id)
    report = svc.run_retention(now=svc.core.clock() + 10 * DAY)
    assert report.deleted == () and report.held == (doc.document_id,)
    body = verify_certificate(svc.erase_subject(ADMIN, "anna.keller@example.com"))
    assert body["erased"] == [] and len(body["withheld"]) == 1  # type: ignore[arg-type]
    assert count(data, data_documents) == 1
    svc.release_hold(ADMIN, hold.id)
    svc.delete_document(ADMIN, doc.document_id)
    assert count(data, data_documents) == 0 and count(data, data_chunks) == 0
    with data.engine.connect() as conn:
        actions = [r[0] for r in conn.execute(text("SELECT action FROM ledger_entries"))]
    assert {"data.hold.set", "data.hold.release", "data.document.delete"} <= set(actions)


def test_retention_deletes_expired_documents_and_their_keys(data: Instance) -> None:
    svc = data.data
    svc.create_collection(ADMIN, spec(retention_days=30))
    old = svc.ingest(ADMIN, "hr", "anna.txt", ANNA)
    now = svc.core.clock()
    assert svc.run_retention(now=now + 29 * DAY).deleted == ()
    report = svc.run_retention(now=now + 31 * DAY)
    assert report.deleted == (old.document_id,)
    assert count(data, data_chunks) == 0 and vectors(data) == 0
    assert count(data, data_chunk_content) == 0
    assert data.keys.keyring(f"data.document.{old.document_id}").destroyed
