"""Backup and restore round trip on the embedded profile: equal data, identical ledger root."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from sovra.continuity import create_backup, list_backups, restore, verify_backup
from sovra.continuity.manifest import MANIFEST, decode
from sovra.continuity.restore import restored_settings
from sovra.errors import SealedError
from sovra.instance import open_instance
from tests.continuity.conftest import ADMIN, DOCUMENTS, POLICY_PACK, Source


def _tables(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every ordinary table but the ledger's (a restore appends to it)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE "
            "'CREATE VIRTUAL%' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'ledger_%'")]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr)
                for n in names}
    finally:
        conn.close()


def test_backup_then_restore_gives_equal_data_and_the_same_ledger_root(
        source: Source, tmp_path: Path) -> None:
    inst = source.instance
    made = create_backup(inst, actor="test", dest=tmp_path / "backups")
    assert made.ledger.size == inst.ledger.size
    assert made.ledger.root == inst.ledger.root(made.ledger.size)
    assert made.references == 1  # the model weights, by reference
    listed = list_backups(tmp_path / "backups")
    assert [b.backup_id for b in listed] == [made.backup_id]
    trusted = inst.ledger.checkpoints.verifier
    assert verify_backup(made.path, trusted).valid

    # The plain file set holds no plaintext: neither documents nor the policy pack.
    for stored in made.path.rglob("*.enc"):
        blob = stored.read_bytes()
        assert POLICY_PACK not in blob and b"twenty-five days" not in blob

    target = tmp_path / "restored"
    done = restore(made.path, target, trusted=trusted, shares=source.share_texts[:2],
                   checkpoint=None, actor="test")
    assert done.ledger_root == made.ledger.root
    assert not done.verdict.rolled_back
    assert done.missing_references == ("transfer/models/" + "cd" * 32 + "/model.gguf",)
    assert _tables(source.settings.data_dir / "sovra.db") == _tables(target / "sovra.db")
    pack = "transfer/policies/" + "ab" * 32 + "/pack.cedar"
    assert (target / pack).read_bytes() == POLICY_PACK
    assert stat.S_IMODE((target / "secrets" / "ledger-log.key").stat().st_mode) == 0o600

    restored = open_instance(restored_settings(target))
    try:
        assert restored.ledger.root(made.ledger.size) == made.ledger.root
        assert restored.ledger.integrity_problem is None
        bodies = b"".join(bytes(r.body) for r in restored.ledger.tail(3))
        assert b'"continuity.restore"' in bodies and b'"continuity.backup"' in bodies
        assert restored.keys.seal_status().sealed  # a restore needs unseal, like the original
        docs = restored.data.list_documents(ADMIN, "hr")
        with pytest.raises(SealedError):
            restored.data.read_document(ADMIN, docs[0].id)
        for share in source.share_texts[1:]:
            restored.keys.submit_share(share)
        texts = {restored.data.read_document(ADMIN, d.id)[2] for d in docs}
        assert texts == {body.decode() for body in DOCUMENTS.values()}
    finally:
        restored.close()


def test_weights_are_included_on_request(source: Source, tmp_path: Path) -> None:
    made = create_backup(source.instance, actor="test", dest=tmp_path / "b",
                         include_weights=True)
    manifest = decode((made.path / MANIFEST).read_bytes())
    assert made.references == 0
    assert any(f.path.endswith("model.gguf") for f in manifest.files)


def test_a_sealed_instance_makes_no_backup_and_records_nothing(
        source: Source, tmp_path: Path) -> None:
    inst = source.instance
    inst.keys.seal(actor="test")
    size = inst.ledger.size
    with pytest.raises(SealedError):
        create_backup(inst, actor="test", dest=tmp_path / "b")
    assert inst.ledger.size == size
    assert not (tmp_path / "b").exists()
