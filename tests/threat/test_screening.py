"""Screening of ingest on both profiles: a document matching YARA (EICAR) or a hash
indicator (the MISP feed) is quarantined: not indexed, recorded, alerted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sovra.data.values import CollectionSpec
from sovra.errors import QuarantinedError
from sovra.policy import Classification
from sovra.store.tables.data import data_documents
from sovra.store.tables.ledger import ledger_entries
from tests.threat.conftest import EICAR, Armed

PACK = Path(__file__).parent / "pack"


def collection(armed: Armed) -> str:
    armed.instance.data.create_collection(armed.admin, CollectionSpec(
        id="inbox", owner="SOC", purpose="triage", subject_categories=("staff",),
        data_categories=("reports",), retention_days=30, jurisdiction="EU",
        ceiling=Classification.SECRET))
    return "inbox"


def documents(armed: Armed) -> int:
    with armed.instance.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(data_documents)).scalar_one())


def test_eicar_is_quarantined_not_indexed(armed: Armed) -> None:
    target = collection(armed)
    data = armed.instance.data
    with pytest.raises(QuarantinedError, match=r"report\.txt: quarantined, not indexed: "
                                               r"matched yara .*eicar_test_file"):
        data.ingest(armed.admin, target, "report.txt",
                    b"Quarterly report.\n" + EICAR + b"\nEnd.\n")
    assert documents(armed) == 0
    (row,) = armed.instance.threat.quarantined()
    assert row["origin"] == "collection/inbox" and row["principal"] == "alice"
    (alert,) = armed.instance.threat.alerts.list()
    assert alert.severity == "high" and "report.txt" in alert.title
    with armed.instance.engine.connect() as conn:
        body = conn.execute(select(ledger_entries.c.body).where(
            ledger_entries.c.action == "threat.quarantine")).scalar_one()
    entry = json.loads(bytes(body))
    assert entry["outcome"] == "denied" and entry["details"]["name"] == "report.txt"
    assert list(armed.instance.threat.alerts.get(alert.id).events) == [entry["seq"]]
    # A clean document still goes in.
    result = data.ingest(armed.admin, target, "clean.txt", b"An ordinary memo about lunch.")
    assert result.status == "ingested" and documents(armed) == 1


def test_known_bad_hash_from_the_misp_feed_is_quarantined(armed: Armed) -> None:
    target = collection(armed)
    with pytest.raises(QuarantinedError, match=r"indicator misp:cert-feed@1"):
        armed.instance.data.ingest(armed.admin, target, "known-bad.txt",
                                   (PACK / "known-bad.txt").read_bytes())
    assert documents(armed) == 0


def test_a_bundle_payload_matching_yara_is_not_activated(armed: Armed, workshop: Any,
                                                          tmp_path: Path) -> None:
    from sovra.store.tables.transfer import transfer_targets
    from sovra.transfer import BundleSpec

    src = tmp_path / "feed-src"
    src.mkdir()
    (src / "feed.json").write_bytes(b'{"note": "' + EICAR.replace(b"\\", b"\\\\") + b'"}')
    spec = BundleSpec.model_validate({"name": "poisoned", "targets": [
        {"kind": "threat-intel", "path": src / "feed.json", "component": "feed",
         "version": "9"}]})
    with armed.instance.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(transfer_targets)).scalar_one()
    with pytest.raises(QuarantinedError, match=r"threat-intel/feed\.json: quarantined"):
        armed.instance.transfer.import_bundle(workshop.build(spec), armed.admin)
    with armed.instance.engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(transfer_targets)).scalar_one()
        failures = [json.loads(bytes(b)) for b in conn.execute(
            select(ledger_entries.c.body).where(
                ledger_entries.c.action == "bundles.activate")).scalars()]
    assert after == before
    assert [f["outcome"] for f in failures][-1] == "failure"
    assert not (armed.instance.settings.data_dir / "transfer" / "threat-intel").exists()
    (row,) = armed.instance.threat.quarantined()
    assert row["origin"].startswith("bundle:")
