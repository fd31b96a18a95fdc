"""Each bad backup or bad restore request is refused with a clear message, nothing restored.

One test per attack or mistake, named after it (as tests/transfer/test_attacks.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from sovra.continuity import BackupInfo, create_backup, restore, verify_backup
from sovra.continuity.manifest import MANIFEST, SIGNATURE, sign
from sovra.data.embed import Embedder
from sovra.errors import BackupIntegrityError, ConflictError, DecryptionError, ShareError
from sovra.ledger import note as notes
from tests.continuity.conftest import Source, make_source


@pytest.fixture
def made(source: Source, tmp_path: Path) -> BackupInfo:
    return create_backup(source.instance, actor="test", dest=tmp_path / "backups")


def _restore(source: Source, folder: Path, target: Path, *,
             trusted: notes.Verifier | None = None, shares: list[str] | None = None) -> None:
    restore(folder, target, trusted=trusted or source.instance.ledger.checkpoints.verifier,
            shares=source.share_texts[:2] if shares is None else shares, checkpoint=None,
            actor="test")


def _nothing_restored(target: Path) -> None:
    assert not target.exists()
    assert not [p for p in target.parent.iterdir() if p.name.startswith(f".{target.name}.")]


def _stored(made: BackupInfo, index: int = 1) -> Path:
    return made.path / "files" / f"{index:06d}.enc"


def test_truncated_file_is_refused(source: Source, made: BackupInfo, tmp_path: Path) -> None:
    path = _stored(made)
    path.write_bytes(path.read_bytes()[:-20])
    assert "truncated" in verify_backup(made.path, source.instance.ledger.checkpoints.verifier
                                        ).problems[0]
    with pytest.raises(BackupIntegrityError, match="truncated"):
        _restore(source, made.path, tmp_path / "target")
    _nothing_restored(tmp_path / "target")


def test_altered_file_is_refused(source: Source, made: BackupInfo, tmp_path: Path) -> None:
    path = _stored(made, 0)  # the database
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(BackupIntegrityError, match="altered"):
        _restore(source, made.path, tmp_path / "target")
    _nothing_restored(tmp_path / "target")


def test_missing_file_is_refused(source: Source, made: BackupInfo, tmp_path: Path) -> None:
    _stored(made).unlink()
    with pytest.raises(BackupIntegrityError, match="missing"):
        _restore(source, made.path, tmp_path / "target")
    _nothing_restored(tmp_path / "target")


def test_altered_manifest_is_refused(source: Source, made: BackupInfo, tmp_path: Path) -> None:
    doc = json.loads((made.path / MANIFEST).read_bytes())
    doc["files"][1]["path"] = "secrets/../../escape"
    (made.path / MANIFEST).write_text(json.dumps(doc))
    with pytest.raises(BackupIntegrityError, match="unsafe path"):
        _restore(source, made.path, tmp_path / "target")
    doc["files"][1]["path"] = "renamed.txt"
    (made.path / MANIFEST).write_text(json.dumps(doc, sort_keys=True, indent=1) + "\n")
    with pytest.raises(BackupIntegrityError, match="altered after it was signed"):
        _restore(source, made.path, tmp_path / "target")
    _nothing_restored(tmp_path / "target")


def test_manifest_signed_by_an_unknown_key_is_refused(source: Source, made: BackupInfo,
                                                      tmp_path: Path) -> None:
    # The attacker's key carries the log's name, and the manifest is re-signed whole.
    impostor = notes.Signer.generate(source.instance.ledger.checkpoints.signer.name)
    body = (made.path / MANIFEST).read_bytes()
    (made.path / SIGNATURE).write_text(sign(made.backup_id, body, impostor))
    with pytest.raises(BackupIntegrityError, match="unknown key"):
        _restore(source, made.path, tmp_path / "target")
    _nothing_restored(tmp_path / "target")


def test_backup_from_another_instance_is_refused(source: Source, made: BackupInfo,
                                                 tmp_path: Path, embedder: Embedder) -> None:
    other = make_source(tmp_path / "other", embedder, documents=False)
    try:
        theirs = create_backup(other.instance, actor="test", dest=tmp_path / "their-backups")
    finally:
        other.instance.close()
    with pytest.raises(BackupIntegrityError, match="from another instance"):
        _restore(source, theirs.path, tmp_path / "target")
    _nothing_restored(tmp_path / "target")


def test_wrong_shares_are_refused(source: Source, made: BackupInfo, tmp_path: Path,
                                  embedder: Embedder) -> None:
    other = make_source(tmp_path / "other", embedder, documents=False)
    other.instance.close()
    with pytest.raises(ShareError, match="another ceremony"):
        _restore(source, made.path, tmp_path / "target", shares=other.share_texts[:2])
    with pytest.raises(ShareError, match="2 custodian shares are needed"):
        _restore(source, made.path, tmp_path / "target", shares=source.share_texts[:1])
    _nothing_restored(tmp_path / "target")


def test_non_empty_target_is_refused(source: Source, made: BackupInfo, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep-me.txt").write_text("someone's data")
    with pytest.raises(ConflictError, match="not empty"):
        _restore(source, made.path, target)
    assert [p.name for p in target.iterdir()] == ["keep-me.txt"]


def test_an_empty_existing_target_is_used(source: Source, made: BackupInfo,
                                          tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    _restore(source, made.path, target)
    assert (target / "sovra.db").is_file()


def test_stored_files_swapped_between_paths_fail_to_decrypt(
        source: Source, made: BackupInfo, tmp_path: Path) -> None:
    """Swapping two stored files and their manifest hashes still fails: the associated
    data binds each file to its path (needs the log key too, so this is defence in
    depth against someone holding it)."""
    one, two = _stored(made, 1), _stored(made, 2)
    scratch = tmp_path / "swap"
    shutil.copy(one, scratch)
    shutil.copy(two, one)
    shutil.copy(scratch, two)
    doc = json.loads((made.path / MANIFEST).read_bytes())
    f1, f2 = doc["files"][1], doc["files"][2]
    for key in ("stored_size", "stored_digest"):
        f1[key], f2[key] = f2[key], f1[key]
    body = (json.dumps(doc, sort_keys=True, indent=1) + "\n").encode()
    (made.path / MANIFEST).write_bytes(body)
    (made.path / SIGNATURE).write_text(
        sign(made.backup_id, body, source.instance.ledger.checkpoints.signer))
    with pytest.raises(DecryptionError):
        _restore(source, made.path, tmp_path / "target")
    _nothing_restored(tmp_path / "target")


def test_a_format_v1_backup_with_sha256_digests_still_verifies_and_restores(
        source: Source, made: BackupInfo, tmp_path: Path) -> None:
    """Backups written before the BLAKE3 digests (ADR 0801) stay restorable."""
    doc = json.loads((made.path / MANIFEST).read_bytes())
    doc["format"] = "sovra-backup/v1"
    for record in doc["files"]:
        del record["stored_digest"]
        record["stored_sha256"] = hashlib.sha256(
            (made.path / record["stored"]).read_bytes()).hexdigest()
    body = (json.dumps(doc, sort_keys=True, indent=1) + "\n").encode()
    (made.path / MANIFEST).write_bytes(body)
    (made.path / SIGNATURE).write_text(sign(
        made.backup_id, body, source.instance.ledger.checkpoints.signer, "sovra-backup/v1"))
    done = restore(made.path, tmp_path / "target",
                   trusted=source.instance.ledger.checkpoints.verifier,
                   shares=source.share_texts[:2], checkpoint=None, actor="test")
    assert (done.ledger_size, done.files) == (made.ledger.size, made.files)
    one = _stored(made, 1)
    one.write_bytes(one.read_bytes()[:-1] + b"\x00")
    with pytest.raises(BackupIntegrityError, match="sha256 digest does not match"):
        _restore(source, made.path, tmp_path / "target-2")
