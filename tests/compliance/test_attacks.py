"""``sovra audit check`` against a tampered report: one test per attack, each failing
and naming what failed (the claim where there is one)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sovra.compliance import document
from sovra.compliance.check import CheckResult, check_report, read_report
from sovra.config import load_settings
from sovra.errors import ArchiveError
from sovra.instance import open_instance
from sovra.ledger import note as notes
from tests.compliance.conftest import Seeded

CLAIM = "sov-dec-1/denied"


def _check(seeded: Seeded, doc: dict[str, Any], **kw: Any) -> CheckResult:
    return check_report(doc, trusted_keys=[seeded.report_key, seeded.log_key], **kw)


def _where(result: CheckResult) -> set[str]:
    return {p.where for p in result.problems}


def _resign(doc: dict[str, Any], signer: notes.Signer) -> None:
    text = document.note_text(doc["origin"], document.signed_digest(doc))
    doc["signature"] = {"key": signer.verifier.vkey,
                        "note": notes.Note(text, (signer.sign(text),)).render()}


def test_altered_claim(seeded: Seeded) -> None:
    doc = copy.deepcopy(seeded.report)
    claim = next(c for c in doc["claims"] if c["id"] == CLAIM)
    claim["count"] = 1
    claim["cites"] = claim["cites"][:1]
    result = _check(seeded, doc)
    assert not result.valid
    assert f"claim {CLAIM}" in _where(result)


def test_altered_claim_with_its_digest_breaks_the_signature(seeded: Seeded) -> None:
    doc = copy.deepcopy(seeded.report)
    claim = next(c for c in doc["claims"] if c["id"] == CLAIM)
    claim["count"] = 1
    claim["cites"] = claim["cites"][:1]
    doc["claim_digests"][CLAIM] = document.claim_digest(claim)
    result = _check(seeded, doc)
    assert "signature" in _where(result)


def test_altered_cited_entry(seeded: Seeded) -> None:
    doc = copy.deepcopy(seeded.report)
    seq = next(c for c in doc["claims"] if c["id"] == CLAIM)["cites"][0]
    item = next(e for e in doc["entries"] if e["seq"] == seq)
    item["body"] = item["body"].replace('"denied"', '"allowed"')
    result = _check(seeded, doc)
    assert not result.valid
    assert f"entry {seq}" in _where(result)
    # the claim that relied on it is named too
    assert any(p.where == f"claim {CLAIM}" and str(seq) in p.message
               for p in result.problems)


def test_swapped_checkpoint(seeded: Seeded) -> None:
    doc = copy.deepcopy(seeded.report)
    led = seeded.instance.ledger
    led.append("x", "policy.decision", "y", "allowed", {})
    doc["checkpoint"]["note"] = led.sign_checkpoint()  # validly signed, another size
    result = _check(seeded, doc)
    assert not result.valid
    assert "checkpoint" in _where(result)
    assert any(p.where.startswith("entry ") for p in result.problems)


def test_forged_signature(seeded: Seeded) -> None:
    doc = copy.deepcopy(seeded.report)
    forger = notes.Signer.generate(notes.parse_vkey(seeded.report_key).name)
    _resign(doc, forger)
    result = _check(seeded, doc)
    assert not result.valid
    assert "signature" in _where(result)


def test_corrupted_signature_bytes(seeded: Seeded) -> None:
    doc = copy.deepcopy(seeded.report)
    note = notes.parse_note(doc["signature"]["note"])
    sig = note.signatures[0]
    bad = notes.NoteSignature(sig.name, sig.key_id, bytes(64))
    doc["signature"]["note"] = notes.Note(note.text, (bad,)).render()
    result = check_report(doc)  # fails even with the report's own keys
    assert "signature" in _where(result)


def test_proof_for_another_tree(seeded: Seeded, tmp_path: Path) -> None:
    other = open_instance(load_settings(data_dir=tmp_path / "other",
                                        checkpoint_interval_s=0.0))
    try:
        doc = copy.deepcopy(seeded.report)
        seq = next(c for c in doc["claims"] if c["id"] == CLAIM)["cites"][0]
        while other.ledger.size <= doc["checkpoint"]["size"]:
            other.ledger.append("z", "policy.decision", "w", "denied", {})
        proof = other.ledger.inclusion_proof(seq, doc["checkpoint"]["size"])
        item = next(e for e in doc["entries"] if e["seq"] == seq)
        item["proof"] = [p.hex() for p in proof]
    finally:
        other.close()
    result = _check(seeded, doc)
    assert not result.valid
    assert f"entry {seq}" in _where(result)


def test_a_report_signed_by_an_unpinned_key_is_refused(seeded: Seeded) -> None:
    doc = copy.deepcopy(seeded.report)
    forger = notes.Signer.generate("someone-else")
    _resign(doc, forger)
    assert check_report(doc).valid  # self-consistent ...
    result = _check(seeded, doc)  # ... but not by the pinned key
    assert any("not one of the trusted keys" in p.message for p in result.problems)


def test_a_missing_witness_cosignature_is_named(seeded: Seeded) -> None:
    other = notes.Signer.generate("witness.example/w2", notes.COSIGNATURE_V1)
    result = _check(seeded, seeded.report, witnesses=[other.verifier.vkey])
    assert any("witness.example/w2" in p.message for p in result.problems)


def test_tampered_export(seeded: Seeded, tmp_path: Path) -> None:
    export = tmp_path / "ledger.tar"
    seeded.instance.ledger.export(export)
    raw = export.read_bytes()
    tampered = tmp_path / "tampered.tar"
    tampered.write_bytes(raw.replace(b'"mallory"', b'"mallorz"'))
    result = _check(seeded, seeded.report, export=tampered)
    assert not result.valid
    assert "export" in _where(result)


def test_a_claim_that_leaves_entries_out_fails_against_the_export(seeded: Seeded,
                                                                  tmp_path: Path) -> None:
    # Re-signed by the real key (an insider with the report key): only the export shows
    # that the count leaves entries out.
    doc = copy.deepcopy(seeded.report)
    claim = next(c for c in doc["claims"] if c["id"] == CLAIM)
    claim["count"], claim["cites"] = 1, claim["cites"][:1]
    doc["claim_digests"][CLAIM] = document.claim_digest(claim)
    from sovra.compliance.reportkey import load_or_create_report_key
    _resign(doc, load_or_create_report_key(seeded.instance.settings.secrets_dir, ""))
    assert _check(seeded, doc).valid
    export = tmp_path / "ledger.tar"
    seeded.instance.ledger.export(export)
    result = _check(seeded, doc, export=export)
    assert f"claim {CLAIM}" in _where(result)


def test_report_file_round_trip(seeded: Seeded) -> None:
    assert check_report(json.loads(seeded.path.read_text())).valid


def test_a_report_without_its_checkpoint_is_unreadable(seeded: Seeded, tmp_path: Path) -> None:
    doc = copy.deepcopy(seeded.report)
    del doc["checkpoint"]
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ArchiveError, match="has no 'checkpoint'"):
        read_report(path)


def test_an_empty_checkpoint_note_is_named(seeded: Seeded) -> None:
    doc = copy.deepcopy(seeded.report)
    doc["checkpoint"]["note"] = ""
    result = _check(seeded, doc)
    assert any(p.where == "checkpoint" and "not a valid signed checkpoint" in p.message
               for p in result.problems)
