"""Storage tampering: an administrator with database access changes the ledger; the
export no longer verifies, and the verifier names the first bad entry or checkpoint.

Each attack is one test, named after it, on SQLite and PostgreSQL. The log holds 60
entries with checkpoints signed at sizes 20, 40 and 60; tampering happens in the
database, then the archive is exported as stored (``sign=False``), which is what an
auditor would receive from a compromised operator.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from sovra.ledger import Ledger, VerificationResult, verify_archive
from sovra.ledger import note as notes
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
