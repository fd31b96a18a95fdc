"""No plaintext key material on disk or in logs (issue 3, "Key hierarchy").

A full life cycle runs with every logger at DEBUG: ceremony, encryption (in memory and
streamed to files in the data directory), rotation, rewrap, minimum version, seal and
unseal, crypto-erasure. Along the way the test recovers every key that existed (root,
the HKDF wrapping key, every KEK version, every DEK) from the shares it holds, then
searches every file of the data directory and everything logged or printed for those
keys in raw, hex, and base64 forms. It runs on both profiles: on PostgreSQL the search also
covers the server's own files for this database (its heap and TOAST files after a
CHECKPOINT) and the WAL segments written during the test.
"""

from __future__ import annotations

import base64
import logging
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from sovra.config import Settings
from sovra.instance import Instance, open_instance
from sovra.keys import aead
from sovra.keys.keyring import dek_aad, kek_aad
from sovra.keys.root import derive_wrapping_key
from sovra.keys.shares import Share, combine_shares
from sovra.store.local_postgres import LocalPostgres
from sovra.store.tables.keys import keys_deks, keys_kek_versions
from tests.keys.conftest import deal


def _forms(key: bytes) -> list[bytes]:
    b64 = base64.b64encode(key)
    url = base64.urlsafe_b64encode(key)
    return [key, key.hex().encode(), key.hex().upper().encode(), b64, url,
            b64.rstrip(b"="), url.rstrip(b"="), base64.b32encode(key).rstrip(b"=")]


def _harvest(instance: Instance, root: bytes, ceremony_id: str, found: dict[str, bytes]) -> None:
    """Recover every KEK and DEK now in the database, as an attacker with the root would."""
    wrapping = aead.cipher(derive_wrapping_key(root, ceremony_id))
    with instance.engine.connect() as conn:
        keks = conn.execute(select(keys_kek_versions)).all()
        deks = conn.execute(select(keys_deks)).all()
    kek_by_version = {}
    for row in keks:
        if row.wrapped_kek is None:
            continue
        kek = bytes(aead.unwrap(wrapping, bytes(row.wrapped_kek),
                                kek_aad(ceremony_id, row.keyring_id, row.version)))
        found[f"kek {row.keyring_id} v{row.version}"] = kek
        kek_by_version[(row.keyring_id, row.version)] = aead.cipher(bytearray(kek))
    for row in deks:
        kek = kek_by_version[(row.keyring_id, row.kek_version)]
        dek = aead.unwrap(kek, bytes(row.wrapped_dek), dek_aad(
            row.keyring_id, row.object_id, bytes.fromhex(row.dek_id), row.kek_version))
        found[f"dek {row.object_id}"] = bytes(dek)


def _postgres_files(request: pytest.FixtureRequest, url: str, since: float) -> list[Path]:
    """This database's files in the PostgreSQL server (flushed by a CHECKPOINT first) and
    the WAL segments written since ``since``."""
    server: LocalPostgres = request.getfixturevalue("postgres_server")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
            oid = conn.execute(text("SELECT oid FROM pg_database "
                                    "WHERE datname = current_database()")).scalar_one()
    finally:
        engine.dispose()
    tables = [p for p in (server.data_dir / "base" / str(oid)).iterdir() if p.is_file()]
    wal = [p for p in (server.data_dir / "pg_wal").iterdir()
           if p.is_file() and p.stat().st_mtime >= since - 1]
    return tables + wal


def test_no_plaintext_key_material_on_disk_or_in_logs(
        settings: Settings, request: pytest.FixtureRequest,
        caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    started = time.time()
    found: dict[str, bytes] = {}
    objects = settings.data_dir / "objects"
    inst = open_instance(settings)
    try:
        shares: list[Share] = deal(inst)
        ceremony_id = shares[0].ceremony_id
        root = bytes(combine_shares(shares[:3]))
        found["root"] = root
        found["wrapping key"] = bytes(derive_wrapping_key(root, ceremony_id))
        for share in shares:
            found[f"share {share.index}"] = share.value

        inst.keys.create_keyring("tenant-a")
        inst.keys.create_keyring("tenant-b")
        blobs = {f"doc-{i}": inst.keys.encrypt("tenant-a", f"doc-{i}", b"record %d" % i)
                 for i in range(3)}
        objects.mkdir()
        with (objects / "big.plain").open("wb") as plain:
            plain.write(b"model weights " * 20_000)
        with (objects / "big.plain").open("rb") as src, (objects / "big.enc").open("wb") as dst:
            inst.keys.encrypt_stream("tenant-b", "big", src, dst, segment_size=4096)
        _harvest(inst, root, ceremony_id, found)

        inst.keys.rotate("tenant-a")
        blobs["doc-new"] = inst.keys.encrypt("tenant-a", "doc-new", b"after rotation")
        _harvest(inst, root, ceremony_id, found)
        inst.keys.rewrap("tenant-a")
        _harvest(inst, root, ceremony_id, found)
        inst.keys.set_min_version("tenant-a", 2)

        inst.keys.seal()
        reopened = open_instance(settings)
        try:
            for share in shares[2:]:
                reopened.keys.submit_share(share.token())
            for object_id, blob in blobs.items():
                assert reopened.keys.decrypt("tenant-a", object_id, blob)
            with (objects / "big.enc").open("rb") as src, \
                    (objects / "big.dec").open("wb") as dst:
                reopened.keys.decrypt_stream("tenant-b", "big", src, dst)
            reopened.keys.destroy_keyring("tenant-b")
            reopened.keys.status()
        finally:
            reopened.close()
    finally:
        inst.close()

    assert len([k for k in found if k.startswith("kek")]) == 3
    assert len([k for k in found if k.startswith("dek")]) == 5
    out, err = capfd.readouterr()
    logs = (caplog.text + out + err).encode()
    files = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    url = settings.effective_database_url
    if url.startswith("postgresql"):
        database = _postgres_files(request, url, started)
        assert any(p.parent.name == "pg_wal" for p in database)
        files += database
    else:  # the database file (and its -wal, -shm) wherever the settings put it
        database_file = Path(url.removeprefix("sqlite:///"))
        assert database_file.is_file()
        files += [p for p in database_file.parent.glob(database_file.name + "*")
                  if p not in files]
    # The search sees what the database stored: a wrapped DEK (ciphertext, fine to keep)
    # is found in these files, so a plaintext key stored the same way would be too.
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            wrapped = bytes(conn.execute(select(keys_deks.c.wrapped_dek).limit(1)).scalar_one())
    finally:
        engine.dispose()
    assert any(wrapped in path.read_bytes() for path in files)
    for name, key in found.items():
        for form in _forms(key):
            assert form not in logs, f"{name} appears in the logs"
            for path in files:
                assert form not in path.read_bytes(), f"{name} found in {path}"
