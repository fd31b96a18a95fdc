"""Backup and restore round trip on the embedded profile: equal data, identical ledger root."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from sovra.continuity import create_backup, list_backups, restore, verify_backup
from sovra.continuity.manifest import MANIFEST, decode
from sovra.continuity.restore import restored_settings
from sovra.data.embed import Embedder
from sovra.errors import ConflictError, InvalidInputError, SealedError
from sovra.instance import open_instance
from sovra.store import make_engine
from sovra.store.local_postgres import LocalPostgres
from tests.continuity.conftest import ADMIN, DOCUMENTS, POLICY_PACK, Source, make_source
from tests.support.lockbox import lockbox_off


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
    assert made.database_copy == "pinned-file"  # a quiet instance: the file itself
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

    # The lockbox off (development mode's behaviour): the restored contents are under
    # test, not an administrator's standing access (tests/support/lockbox.py).
    restored = open_instance(lockbox_off(restored_settings(target)))
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


@pytest.mark.postgres
def test_cluster_backup_restores_into_a_new_database_with_equal_rows_and_root(
        tmp_path: Path, embedder: Embedder, postgres_server: LocalPostgres) -> None:
    source = make_source(tmp_path / "data", embedder,
                         database_url=postgres_server.create_database())
    inst = source.instance
    try:
        made = create_backup(inst, actor="test", dest=tmp_path / "backups")
        assert made.ledger.root == inst.ledger.root(made.ledger.size)
        trusted = inst.ledger.checkpoints.verifier
        target_db = postgres_server.create_database()
        with pytest.raises(InvalidInputError, match="cluster profile"):
            restore(made.path, tmp_path / "t0", trusted=trusted,
                    shares=source.share_texts[:2], checkpoint=None, actor="test")
        occupied = postgres_server.create_database()
        second = open_instance(restored_settings(tmp_path / "occupied", occupied))
        second.close()
        with pytest.raises(ConflictError, match=r"holds \d+ tables"):
            restore(made.path, tmp_path / "t1", trusted=trusted,
                    shares=source.share_texts[:2], checkpoint=None, actor="test",
                    database_url=occupied)
        done = restore(made.path, tmp_path / "restored", trusted=trusted,
                       shares=source.share_texts[:2], checkpoint=None, actor="test",
                       database_url=target_db)
        assert done.ledger_root == made.ledger.root
        assert not (tmp_path / "restored" / "database.pgdump").exists()
        assert _pg_tables(inst.settings.effective_database_url) == _pg_tables(target_db)
        restored = open_instance(lockbox_off(restored_settings(tmp_path / "restored",
                                                               target_db)))
        try:
            assert restored.ledger.root(made.ledger.size) == made.ledger.root
            for share in source.share_texts[:2]:
                restored.keys.submit_share(share)
            docs = restored.data.list_documents(ADMIN, "hr")
            texts = {restored.data.read_document(ADMIN, d.id)[2] for d in docs}
            assert texts == {body.decode() for body in DOCUMENTS.values()}
        finally:
            restored.close()
    finally:
        inst.close()


def _pg_tables(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but the ledger's and Alembic's, in a stable order."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = [r[0] for r in conn.execute(text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'ledger_%'"))]
            return {n: sorted((tuple(r) for r in conn.execute(text(f'SELECT * FROM "{n}"'))),
                              key=repr) for n in names}
    finally:
        engine.dispose()


def test_a_backup_taken_while_the_ledger_keeps_appending_is_one_consistent_state(
        source: Source, tmp_path: Path) -> None:
    """Appends from another thread during the backup: the restored log is exactly the
    manifest's (a prefix of the live one) and the database passes its integrity check."""
    inst = source.instance
    stop = threading.Event()

    def append() -> None:
        i = 0
        while not stop.is_set():
            inst.ledger.append("test", "test.event", f"thing/{i}", "success")
            i += 1

    writer = threading.Thread(target=append)
    writer.start()
    try:
        made = [create_backup(inst, actor="test", dest=tmp_path / "b") for _ in range(3)]
    finally:
        stop.set()
        writer.join()
    assert inst.ledger.size > made[-1].ledger.size
    # Under load most copies read the pinned file, some fall back to the online backup.
    assert {m.database_copy for m in made} <= {"pinned-file", "online-backup"}
    for n, one in enumerate(made):
        assert inst.ledger.root(one.ledger.size) == one.ledger.root
        target = tmp_path / f"restored-{n}"
        restore(one.path, target, trusted=inst.ledger.checkpoints.verifier,
                shares=source.share_texts[:2], checkpoint=None, actor="test")
        conn = sqlite3.connect(target / "sovra.db")
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            conn.close()
