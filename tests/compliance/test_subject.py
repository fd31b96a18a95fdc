"""``subject_report``: the documents holding a data subject's identifier, recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from sovra.compliance.subject import subject_report
from sovra.config import load_settings
from sovra.data.values import CollectionSpec
from sovra.errors import InvalidInputError
from sovra.identity import Caller
from sovra.instance import open_instance
from sovra.policy.classification import Classification

ADMIN = Caller("alice", "user", frozenset({"admin"}), "secret")
OUTSIDER = Caller("eve", "user", frozenset(), "secret")  # may read no collection


def test_subject_report_finds_the_identifier_and_records_itself(tmp_path: Path) -> None:
    # The lockbox off (development mode's behaviour): the report's content is under test,
    # not an administrator's standing access (tests/support/lockbox.py).
    inst = open_instance(load_settings(data_dir=tmp_path / "d", checkpoint_interval_s=0.0,
                                       lockbox_enforced=False))
    try:
        inst.keys.init(threshold=2, shares=3, deliver=lambda _: None)
        inst.data.create_collection(ADMIN, CollectionSpec(
            "hr", "HR department", "employment contracts", ("employees",), ("contact",),
            365, "EU-ES", Classification.SECRET))
        inst.data.ingest(ADMIN, "hr", "anna.txt",
                         b"Contract for Anna Keller, email Anna.Keller@example.com")
        inst.data.ingest(ADMIN, "hr", "other.txt", b"Contract for someone else entirely")
        found = subject_report(inst, ADMIN, "anna.keller@EXAMPLE.com")
        assert [d["name"] for d in found["documents"]] == ["anna.txt"]
        assert found["documents"][0]["matched_as"] == "email"
        assert found["documents"][0]["purpose"] == "employment contracts"
        last = inst.ledger.tail(1)[0].body
        assert b"compliance.subject_report" in last and b"example.com" not in last
        assert subject_report(inst, OUTSIDER, "anna.keller@example.com")["documents"] == []
        with pytest.raises(InvalidInputError, match="empty"):
            subject_report(inst, ADMIN, "  ")
    finally:
        inst.close()
