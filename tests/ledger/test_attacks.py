"""Storage tampering: an administrator with database access changes the ledger; the
export no longer verifies, and the verifier names the first bad entry or checkpoint.

Each attack is one test, named after it, on SQLite and PostgreSQL. The log holds 60
entries with checkpoints signed at sizes 20, 40 and 60; tampering happens in the
database, then the archive is exported as stored (``sign=False``), which is what an
auditor would receive from a compromised operator.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from sovra.errors import NoteError
from sovra.ledger import Ledger, VerificationResult, verify_archive
from sovra.ledger import note as notes
from sovra.ledger.archive import ArchivedCheckpoint, read_archive, write_archive
from sovra.ledger.merkle import leaf_hash
from sovra.store.tables.ledger import ledger_checkpoints, ledger_entries
from tests.ledger.conftest import fill


@pytest.fixture
def signed(ledger: Ledger) -> Ledger:
    fill(ledger, 60, checkpoint_every=20)
    return ledger


def _export(ledger: Ledger, tmp_path: Path) -> VerificationResult:
    archive = tmp_path / "export.tar"
    ledger.export(archive, sign=False)
    return verify_archive(archive, log_key=ledger.checkpoints.verifier.vkey)


def _body(engine: Engine, seq: int) -> bytes:
    with engine.connect() as conn:
        return bytes(conn.execute(select(ledger_entries.c.body)
                                  .where(ledger_entries.c.seq == seq)).scalar_one())


def _set(engine: Engine, seq: int, body: bytes, *, rehash: bool) -> None:
    values: dict[str, object] = {"body": body}
    if rehash:
        values["leaf_hash"] = leaf_hash(body)
    with engine.begin() as conn:
        conn.execute(update(ledger_entries).where(ledger_entries.c.seq == seq).values(**values))


def test_untampered_export_verifies(signed: Ledger, tmp_path: Path) -> None:
    result = _export(signed, tmp_path)
    assert result.valid, result.problems
    assert (result.entries, result.checkpoints_verified, result.latest_checkpoint) == (60, 3, 60)


def test_flip_a_byte_in_an_entry(signed: Ledger, engine: Engine, tmp_path: Path) -> None:
    body = bytearray(_body(engine, 27))
    body[body.index(b"data.ingest")] ^= 0x01  # "data.ingest" -> "eata.ingest"
    _set(engine, 27, bytes(body), rehash=False)
    result = _export(signed, tmp_path)
    assert not result.valid
    first = result.first_problem
    assert first is not None and (first.where, first.position) == ("entry", 27)
    assert "leaf hash" in first.message


def test_flip_a_byte_in_an_entry_and_rehash_it(signed: Ledger, engine: Engine,
                                               tmp_path: Path) -> None:
    body = _body(engine, 27).replace(b'"outcome":"success"', b'"outcome":"failure"')
    _set(engine, 27, body, rehash=True)  # a careful attacker fixes the leaf hash too
    result = _export(signed, tmp_path)
    first = result.first_problem
    assert first is not None and (first.where, first.position) == ("checkpoint", 40)
    assert "20..39" in first.message


def test_delete_an_entry(signed: Ledger, engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        conn.execute(delete(ledger_entries).where(ledger_entries.c.seq == 33))
    result = _export(signed, tmp_path)
    first = result.first_problem
    assert first is not None and (first.where, first.position) == ("entry", 33)
    assert "deleted" in first.message


def test_reorder_two_entries(signed: Ledger, engine: Engine, tmp_path: Path) -> None:
    a, b = _body(engine, 12), _body(engine, 45)
    _set(engine, 12, b, rehash=True)
    _set(engine, 45, a, rehash=True)
    result = _export(signed, tmp_path)
    first = result.first_problem
    assert first is not None and (first.where, first.position) == ("entry", 12)
    assert "reordered" in first.message


def test_truncate_the_tail(signed: Ledger, engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        conn.execute(delete(ledger_entries).where(ledger_entries.c.seq >= 50))
    result = _export(signed, tmp_path)
    first = result.first_problem
    assert first is not None and (first.where, first.position) == ("checkpoint", 60)
    assert "50..59 are missing" in first.message


def test_truncate_the_tail_and_its_checkpoints(signed: Ledger, engine: Engine,
                                               tmp_path: Path) -> None:
    with engine.begin() as conn:
        conn.execute(delete(ledger_entries).where(ledger_entries.c.seq >= 50))
        conn.execute(delete(ledger_checkpoints).where(ledger_checkpoints.c.tree_size > 40))
    # The log's own record of its last signature (outside the database) is exported.
    result = _export(signed, tmp_path)
    first = result.first_problem
    assert first is not None and (first.where, first.position) == ("checkpoint", 60)


def test_insert_a_forged_entry(signed: Ledger, engine: Engine, tmp_path: Path) -> None:
    forged = (b'{"action":"keys.unseal","actor":"user:mallory","details":{},'
              b'"outcome":"success","resource":"keyring:main","seq":27,'
              b'"time":"2026-01-01T00:00:00.000000Z"}')
    with engine.begin() as conn:  # make room at 27, then insert
        conn.execute(update(ledger_entries).where(ledger_entries.c.seq >= 27)
                     .values(seq=ledger_entries.c.seq + 1000))
        conn.execute(update(ledger_entries).where(ledger_entries.c.seq >= 1027)
                     .values(seq=ledger_entries.c.seq - 999))
        conn.execute(insert(ledger_entries).values(
            seq=27, leaf_hash=leaf_hash(forged), body=forged, action="keys.unseal",
            actor="user:mallory", resource="keyring:main"))
    result = _export(signed, tmp_path)
    first = result.first_problem
    assert first is not None and (first.where, first.position) == ("entry", 27)
    assert "inserted" in first.message


def test_replace_a_checkpoint(signed: Ledger, engine: Engine, tmp_path: Path) -> None:
    impostor = notes.Signer.generate(signed.checkpoints.verifier.name)
    forged = notes.sign_checkpoint(notes.Checkpoint(impostor.name, 40, bytes(32)), impostor)
    with engine.begin() as conn:
        conn.execute(update(ledger_checkpoints).where(ledger_checkpoints.c.tree_size == 40)
                     .values(note=forged, root_hash=bytes(32)))
    result = _export(signed, tmp_path)
    first = result.first_problem
    assert first is not None and (first.where, first.position) == ("checkpoint", 40)
    assert "no signature from a known key" in first.message


def test_replace_the_log_key_in_the_archive(signed: Ledger, tmp_path: Path) -> None:
    archive = tmp_path / "export.tar"
    signed.export(archive)
    other = notes.Signer.generate("sovra.local/ledger/other").verifier.vkey
    result = verify_archive(archive, log_key=other)
    assert not result.valid
    assert result.first_problem is not None and result.first_problem.where == "archive"


def test_rewrite_everything_after_a_point(signed: Ledger, engine: Engine,
                                          tmp_path: Path) -> None:
    # Re-append a different history from 30 on, with correct seqs and leaf hashes.
    for seq in range(30, 60):
        body = _body(engine, seq).replace(b'"outcome":"success"', b'"outcome":"denied"')
        _set(engine, seq, body, rehash=True)
    result = _export(signed, tmp_path)
    first = result.first_problem
    assert first is not None and (first.where, first.position) == ("checkpoint", 40)
    # Both later checkpoints fail; what follows the last good one (20) is unproven.
    assert [(p.where, p.position) for p in result.problems] == [
        ("checkpoint", 40), ("checkpoint", 60), ("entry", 20)]


def test_stale_leaf_hash_column_alone_is_caught(signed: Ledger, engine: Engine,
                                                tmp_path: Path) -> None:
    with engine.begin() as conn:
        conn.execute(update(ledger_entries).where(ledger_entries.c.seq == 5)
                     .values(leaf_hash=hashlib.sha256(b"x").digest()))
    result = _export(signed, tmp_path)
    first = result.first_problem
    assert first is not None and (first.where, first.position) == ("entry", 5)


# -- forgeries of the origin (issue 13) ----------------------------------------------
# The origin is the log's name: the first line of every checkpoint, and the name of the
# log key, which its key ID and so every signature cover (c2sp.org/signed-note,
# c2sp.org/tlog-checkpoint). The manifest's "origin" field is covered by nothing.

FORGED_ORIGIN = "sovra.local/ledger/forged0000000000"


def _with_manifest(archive: Path, out: Path, **changes: str) -> Path:
    """Copy ``archive`` with manifest fields replaced (the manifest is in no digest)."""
    with tarfile.open(archive) as src, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as dst:
        for info in src:
            data = src.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == "manifest.json":
                data = json.dumps({**json.loads(data), **changes}).encode()
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


def _archive_problems(result: VerificationResult) -> list[str]:
    return [p.message for p in result.problems if p.where == "archive"]


def test_alter_the_manifest_origin(signed: Ledger, tmp_path: Path) -> None:
    archive = tmp_path / "export.tar"
    signed.export(archive)
    real = signed.checkpoints.verifier
    forged = _with_manifest(archive, tmp_path / "forged.tar", origin=FORGED_ORIGIN)
    assert read_archive(forged).origin == FORGED_ORIGIN
    for pinned in (real.vkey, None):  # pinned, and trusting the archive's own key
        result = verify_archive(forged, log_key=pinned)
        assert not result.valid
        assert result.origin == real.name != FORGED_ORIGIN  # never the manifest's word
        assert any(FORGED_ORIGIN in m and "manifest was altered" in m
                   for m in _archive_problems(result)), result.problems
    untouched = verify_archive(archive, log_key=real.vkey)
    assert untouched.valid and untouched.origin == real.name


def test_relabel_the_archive_as_another_log(signed: Ledger, tmp_path: Path) -> None:
    # The same public key under another name, with the manifest's origin to match: the
    # key ID (which covers the name) and the checkpoints' origin line no longer agree.
    archive = tmp_path / "export.tar"
    signed.export(archive)
    real = signed.checkpoints.verifier
    renamed = notes.Verifier(FORGED_ORIGIN, real.key_type, real.public_key)
    forged = _with_manifest(archive, tmp_path / "forged.tar", origin=FORGED_ORIGIN,
                            log_key=renamed.vkey)
    unpinned = verify_archive(forged)
    assert not unpinned.valid
    assert unpinned.checkpoints_verified == 0
    assert all(p.where != "checkpoint" or "no signature from a known key" in p.message
               for p in unpinned.problems)
    pinned = verify_archive(forged, log_key=real.vkey)
    assert not pinned.valid and pinned.origin == real.name
    assert any("not the pinned key" in m for m in _archive_problems(pinned))


def _resign_for(signed: Ledger, tmp_path: Path, origin: str, *,
                claim_real_name: bool) -> Path:
    """Re-sign every checkpoint with the log's own key material for another origin.

    With ``claim_real_name`` the signature lines then carry the real log's name and key
    ID (the Ed25519 signature does not cover the line, only the note text)."""
    archive = tmp_path / "export.tar"
    signed.export(archive)
    contents = read_archive(archive)
    real = signed.checkpoints.signer
    other = notes.Signer(origin, real.key_type, real.seed)
    checkpoints = []
    for archived in contents.checkpoints:
        cp, _note, _ = notes.open_checkpoint(archived.note, real.verifier)
        moved = notes.Checkpoint(origin, cp.size, cp.root_hash, cp.extensions)
        signature = other.sign(moved.text())
        if claim_real_name:
            signature = notes.NoteSignature(real.name, real.verifier.key_id,
                                            signature.signature)
        checkpoints.append(ArchivedCheckpoint(
            archived.tree_size, notes.Note(moved.text(), (signature,)).render()))
    out = tmp_path / f"moved-{claim_real_name}.tar"
    lines = contents.entries.split(b"\n")[:-1]
    write_archive(out, log_vkey=(real if claim_real_name else other).verifier.vkey,
                  origin=real.name if claim_real_name else origin, entries=lines,
                  leaf_hashes=[contents.leaf_hashes], checkpoints=checkpoints,
                  cosignatures=[])
    return out


def test_checkpoints_signed_for_another_origin_with_the_same_key(
        signed: Ledger, tmp_path: Path) -> None:
    # One key, two logs: checkpoints of "another origin" must not pass for this log's.
    real = signed.checkpoints.verifier
    forged = _resign_for(signed, tmp_path, FORGED_ORIGIN, claim_real_name=False)
    assert verify_archive(forged).valid  # self-consistent as the other log...
    result = verify_archive(forged, log_key=real.vkey)  # ...but not as the pinned one
    assert not result.valid
    assert result.checkpoints_verified == 0
    first = result.first_problem
    assert first is not None and first.where == "archive"
    assert any(p.where == "checkpoint" for p in result.problems)


def test_checkpoints_for_another_origin_under_this_logs_signature_lines(
        signed: Ledger, tmp_path: Path) -> None:
    # The signature verifies (same key, text untouched); only the origin line betrays it.
    real = signed.checkpoints.verifier
    forged = _resign_for(signed, tmp_path, FORGED_ORIGIN, claim_real_name=True)
    for pinned in (real.vkey, None):
        result = verify_archive(forged, log_key=pinned)
        assert not result.valid and result.checkpoints_verified == 0
        assert result.origin == real.name
        checkpoint_problems = [p for p in result.problems if p.where == "checkpoint"]
        assert checkpoint_problems and all(FORGED_ORIGIN in p.message and "origin" in p.message
                                           for p in checkpoint_problems)


def test_pin_a_bare_key_without_its_origin(signed: Ledger, tmp_path: Path) -> None:
    real = signed.checkpoints.verifier
    bare = base64.b64encode(real.public_key).decode()
    with pytest.raises(NoteError, match="must come with its origin"):
        notes.parse_pinned_key(bare)
    archive = tmp_path / "export.tar"
    signed.export(archive)
    right = notes.parse_pinned_key(bare, real.name)
    assert right == real
    assert verify_archive(archive, log_key=right.vkey).valid
    wrong = notes.parse_pinned_key(bare, FORGED_ORIGIN)  # the same key for another log
    result = verify_archive(archive, log_key=wrong.vkey)
    assert not result.valid and result.checkpoints_verified == 0
    with pytest.raises(NoteError, match="is for origin"):
        notes.parse_pinned_key(real.vkey, FORGED_ORIGIN)
