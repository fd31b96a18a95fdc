"""Keyrings on a real instance: binding, rotation, minimum version, rewrap, crypto-erasure."""

from __future__ import annotations

import io
import os
import shutil

import pytest
from sqlalchemy import select

from sovra.config import Settings
from sovra.errors import (
    ConflictError,
    DecryptionError,
    InvalidInputError,
    KeyDestroyedError,
    NotFoundError,
)
from sovra.instance import Instance, open_instance
from sovra.store.tables.keys import keys_deks, keys_kek_versions
from tests.keys.conftest import deal


@pytest.fixture
def keys(instance: Instance) -> Instance:
    deal(instance)
    instance.keys.create_keyring("tenant-a")
    return instance


def test_round_trip(keys: Instance) -> None:
    blob = keys.keys.encrypt("tenant-a", "doc-1", b"hello")
    assert b"hello" not in blob
    assert keys.keys.decrypt("tenant-a", "doc-1", blob) == b"hello"


def test_wrong_aad_object_id(keys: Instance) -> None:
    """A ciphertext moved to another object does not decrypt."""
    blob = keys.keys.encrypt("tenant-a", "doc-1", b"for doc 1 only")
    keys.keys.encrypt("tenant-a", "doc-2", b"other")
    with pytest.raises(DecryptionError, match="does not belong to object 'doc-2'"):
        keys.keys.decrypt("tenant-a", "doc-2", blob)


def test_wrong_keyring(keys: Instance) -> None:
    keys.keys.create_keyring("tenant-b")
    blob = keys.keys.encrypt("tenant-a", "doc-1", b"a's data")
    with pytest.raises(DecryptionError):
        keys.keys.decrypt("tenant-b", "doc-1", blob)


def test_tampered_ciphertext(keys: Instance) -> None:
    blob = bytearray(keys.keys.encrypt("tenant-a", "doc-1", b"x" * 100))
    blob[-20] ^= 0x80
    with pytest.raises(DecryptionError, match="failed authentication"):
        keys.keys.decrypt("tenant-a", "doc-1", bytes(blob))


def test_tampered_header_key_version(keys: Instance) -> None:
    blob = bytearray(keys.keys.encrypt("tenant-a", "doc-1", b"x"))
    blob[9] ^= 0x01  # the KEK version field of the header is authenticated too
    with pytest.raises(DecryptionError):
        keys.keys.decrypt("tenant-a", "doc-1", bytes(blob))


def test_truncated_stream(keys: Instance) -> None:
    src = io.BytesIO(os.urandom(10_000))
    out = io.BytesIO()
    keys.keys.encrypt_stream("tenant-a", "big", src, out, segment_size=1024)
    blob = out.getvalue()
    cut = blob[: 37 + 5 * (1024 + 16)]
    with pytest.raises(DecryptionError, match="truncated"):
        keys.keys.decrypt_stream("tenant-a", "big", io.BytesIO(cut), io.BytesIO())


def test_reordered_segments(keys: Instance) -> None:
    out = io.BytesIO()
    keys.keys.encrypt_stream("tenant-a", "big", io.BytesIO(os.urandom(5000)), out,
                             segment_size=1024)
    blob, n = out.getvalue(), 1024 + 16
    head, body = blob[:37], blob[37:]
    swapped = head + body[n:2 * n] + body[:n] + body[2 * n:]
    with pytest.raises(DecryptionError, match="segment 0"):
        keys.keys.decrypt_stream("tenant-a", "big", io.BytesIO(swapped), io.BytesIO())


def test_stream_round_trip(keys: Instance) -> None:
    data = os.urandom(100_000)
    enc, dec = io.BytesIO(), io.BytesIO()
    keys.keys.encrypt_stream("tenant-a", "big", io.BytesIO(data), enc, segment_size=4096)
    enc.seek(0)
    assert keys.keys.decrypt_stream("tenant-a", "big", enc, dec) == len(data)
    assert dec.getvalue() == data
    # the in-memory API reads the same format
    assert keys.keys.decrypt("tenant-a", "big", enc.getvalue()) == data


def test_rotation_and_min_version(keys: Instance) -> None:
    old = keys.keys.encrypt("tenant-a", "v1-doc", b"under v1")
    assert keys.keys.rotate("tenant-a") == 2
    new = keys.keys.encrypt("tenant-a", "v2-doc", b"under v2")
    assert new[5:10] != old[5:10]  # the header names the version it was made under
    # old versions still decrypt until the minimum is raised
    assert keys.keys.decrypt("tenant-a", "v1-doc", old) == b"under v1"
    with pytest.raises(ConflictError, match="run rewrap first"):
        keys.keys.set_min_version("tenant-a", 2)
    with pytest.raises(InvalidInputError):
        keys.keys.set_min_version("tenant-a", 3)
    assert keys.keys.rewrap("tenant-a") == 1
    done = keys.keys.set_min_version("tenant-a", 2)
    assert done.retired_versions == (1,)
    assert keys.keys.keyring("tenant-a").live_versions == (2,)
    assert keys.keys.decrypt("tenant-a", "v1-doc", old) == b"under v1"
    assert keys.keys.decrypt("tenant-a", "v2-doc", new) == b"under v2"
    with pytest.raises(InvalidInputError, match="only goes up"):
        keys.keys.set_min_version("tenant-a", 1)


def test_forced_min_version_erases_unrewrapped_objects(keys: Instance) -> None:
    old = keys.keys.encrypt("tenant-a", "v1-doc", b"under v1")
    keys.keys.rotate("tenant-a")
    done = keys.keys.set_min_version("tenant-a", 2, force=True)
    assert done.erased_data_keys == 1
    with pytest.raises(KeyDestroyedError, match="retired"):
        keys.keys.decrypt("tenant-a", "v1-doc", old)


def test_rewrap_does_not_reencrypt(keys: Instance) -> None:
    blobs = {f"o{i}": keys.keys.encrypt("tenant-a", f"o{i}", os.urandom(50)) for i in range(5)}
    keys.keys.rotate("tenant-a")
    with keys.engine.connect() as conn:
        before = dict(conn.execute(select(keys_deks.c.dek_id, keys_deks.c.wrapped_dek)).all())
    assert keys.keys.rewrap("tenant-a") == 5
    with keys.engine.connect() as conn:
        after = conn.execute(select(keys_deks.c.dek_id, keys_deks.c.wrapped_dek,
                                    keys_deks.c.kek_version)).all()
    assert {row.kek_version for row in after} == {2}
    assert all(bytes(before[row.dek_id]) != bytes(row.wrapped_dek) for row in after)
    for object_id, blob in blobs.items():  # the very same ciphertext bytes still open
        assert len(keys.keys.decrypt("tenant-a", object_id, blob)) == 50
    assert keys.keys.rewrap("tenant-a") == 0


def test_crypto_erasure(keys: Instance) -> None:
    blob = keys.keys.encrypt("tenant-a", "doc-1", b"to be forgotten")
    keys.keys.rotate("tenant-a")
    keys.keys.create_keyring("tenant-b")
    kept = keys.keys.encrypt("tenant-b", "doc-1", b"stays")
    erased = keys.keys.destroy_keyring("tenant-a")
    assert (erased.kek_versions, erased.data_keys) == (2, 1)
    with pytest.raises(KeyDestroyedError, match="crypto-erased"):
        keys.keys.decrypt("tenant-a", "doc-1", blob)
    with pytest.raises(KeyDestroyedError):
        keys.keys.encrypt("tenant-a", "doc-2", b"x")
    with pytest.raises(ConflictError, match="never reused"):
        keys.keys.create_keyring("tenant-a")
    with keys.engine.connect() as conn:
        wrapped = conn.execute(select(keys_kek_versions.c.wrapped_kek).where(
            keys_kek_versions.c.keyring_id == "tenant-a")).scalars().all()
        deks = conn.execute(select(keys_deks).where(
            keys_deks.c.keyring_id == "tenant-a")).all()
    assert wrapped == [None, None] and deks == []
    assert keys.keys.decrypt("tenant-b", "doc-1", kept) == b"stays"


def test_erasure_holds_in_a_later_backup(sqlite_settings: Settings, tmp_path) -> None:
    """A copy of the data directory made after erasure cannot decrypt, even unsealed."""
    inst = open_instance(sqlite_settings)
    try:
        shares = deal(inst)
        inst.keys.create_keyring("tenant-a")
        blob = inst.keys.encrypt("tenant-a", "doc-1", b"gone")
        with inst.engine.connect() as conn:
            wrapped = [bytes(w) for w in conn.execute(select(keys_kek_versions.c.wrapped_kek))
                       .scalars()] + [bytes(w) for w in conn.execute(
                           select(keys_deks.c.wrapped_dek)).scalars()]
        inst.keys.destroy_keyring("tenant-a")
        # Copied while the instance runs: the wrapped keys are gone byte for byte, not
        # left in free pages (secure_delete) nor in the write-ahead log (checkpoint).
        files = [p for p in sqlite_settings.data_dir.rglob("*") if p.is_file()]
        assert len(wrapped) == 2
        for key in wrapped:
            assert not any(key in path.read_bytes() for path in files)
        backup_dir = tmp_path / "backup"
        shutil.copytree(sqlite_settings.data_dir, backup_dir)
    finally:
        inst.close()
    restored = open_instance(Settings(data_dir=backup_dir, checkpoint_interval_s=0.0))
    try:
        for share in shares[:3]:
            restored.keys.submit_share(share.token())
        assert not restored.keys.seal_status().sealed
        with pytest.raises(KeyDestroyedError):
            restored.keys.decrypt("tenant-a", "doc-1", blob)
    finally:
        restored.close()


def test_unknown_keyring(keys: Instance) -> None:
    with pytest.raises(NotFoundError):
        keys.keys.encrypt("nope", "doc", b"x")
    with pytest.raises(NotFoundError):
        keys.keys.destroy_keyring("nope")


def test_status_lists_keyrings(keys: Instance) -> None:
    keys.keys.rotate("tenant-a")
    status = keys.keys.status()
    assert not status.seal.sealed
    assert [(k.keyring_id, k.current_version) for k in status.keyrings] == [("tenant-a", 2)]


def test_kek_cache_is_bounded(keys: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    from sovra.keys import keyring as keyring_module

    monkeypatch.setattr(keyring_module, "KEK_CACHE_SIZE", 2)
    blobs = {}
    for n in range(4):
        keys.keys.create_keyring(f"doc-{n}")
        blobs[n] = keys.keys.encrypt(f"doc-{n}", "o", b"%d" % n)
    rings = keys.keys._keyrings
    assert rings is not None and len(rings._keks) == 2
    for n, blob in blobs.items():  # evicted KEKs are unwrapped again from the root
        assert keys.keys.decrypt(f"doc-{n}", "o", blob) == b"%d" % n
