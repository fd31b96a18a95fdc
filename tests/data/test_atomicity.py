"""Nothing half-written: a storage failure mid-document, and a ledger that cannot record."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from sovra.errors import LedgerUnavailableError, StorageError
from sovra.instance import Instance
from sovra.store.tables.data import data_chunks, data_documents
from tests.data.conftest import ADMIN, spec

TEXT = b"Quarterly figures: revenue grew, costs fell, and the canteen got a new menu."


def live_document_keyrings(instance: Instance) -> set[str]:
    return {k.keyring_id for k in instance.keys.status().keyrings
            if k.keyring_id.startswith("data.document.") and not k.destroyed}


def test_failure_inside_the_document_transaction_leaves_nothing(data: Instance) -> None:
    svc = data.data
    svc.create_collection(ADMIN, spec())
    # Break the last write of the transaction for real: storing the vectors fails.
    with svc.core.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("CREATE TRIGGER no_vectors BEFORE UPDATE OF embedding ON "
                              "data_chunk_content BEGIN SELECT RAISE(ABORT, 'no vectors'); "
                              "END"))
        else:
            conn.execute(text("ALTER TABLE data_chunk_content ADD CONSTRAINT no_vectors "
                              "CHECK (embedding IS NULL)"))
    with pytest.raises(StorageError):
        svc.ingest(ADMIN, "hr", "q.txt", TEXT)
    with svc.core.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(data_documents)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(data_chunks)).scalar_one() == 0
    assert live_document_keyrings(data) == set()  # the keyring made for it was destroyed
    with data.engine.connect() as conn:
        outcomes = [r[0] for r in conn.execute(text(
            "SELECT body FROM ledger_entries WHERE action = 'data.ingest' ORDER BY seq"))]
    assert b'"failure"' in bytes(outcomes[-1])


def test_no_ingest_without_a_ledger_record(data: Instance) -> None:
    svc = data.data
    svc.create_collection(ADMIN, spec())
    data.ledger.close()
    with pytest.raises(LedgerUnavailableError):
        svc.ingest(ADMIN, "hr", "q.txt", TEXT)
    with svc.core.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(data_documents)).scalar_one() == 0
    assert live_document_keyrings(data) == set()
