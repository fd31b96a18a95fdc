"""Backup encryption: one random backup key, wrapped by the root, one derived key per file.

The backup key is drawn fresh for every backup and stored only wrapped under the root key
(the custodians' shares or the HSM), with associated data binding it to the ceremony and
the backup id; so a restore needs unseal, and a key cannot be moved between backups.
Each file is sealed under its own key, HKDF-SHA256 (RFC 5869) of the backup key and the
file's index, in the same STREAM segments as stored objects (``sovra.keys.aead``), with the
file's restore path in the associated data: a stored file swapped for another fails.
Pure: file-like objects in and out, no paths, no database.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import blake3
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sovra.keys import aead, framed, wipe

SEGMENT_SIZE = 1 << 20


class Wrapper(Protocol):
    """The part of the root key a backup uses (``sovra.keys.root.RootKey``)."""

    def wrap(self, plaintext: bytes | bytearray, aad: bytes) -> bytes: ...

    def unwrap(self, blob: bytes, aad: bytes) -> bytearray: ...


def key_aad(ceremony_id: str, backup_id: str) -> bytes:
    return framed(b"sovra/backup-key/v1", ceremony_id, backup_id)


def file_aad(header: aead.Header, backup_id: str, path: str) -> bytes:
    return aead.object_aad(header, f"backup:{backup_id}", path)


def new_backup_key(root: Wrapper, ceremony_id: str, backup_id: str,
                   random: Callable[[int], bytes] = os.urandom) -> tuple[bytearray, bytes]:
    """A fresh backup key and its wrapped form (the only form that is stored)."""
    key = bytearray(random(aead.KEY_BYTES))
    return key, root.wrap(key, key_aad(ceremony_id, backup_id))


def open_backup_key(root: Wrapper, ceremony_id: str, backup_id: str, wrapped: bytes
                    ) -> bytearray:
    """Unwrap the backup key; DecryptionError if this root did not wrap it for this backup."""
    return root.unwrap(wrapped, key_aad(ceremony_id, backup_id))


def file_cipher(backup_key: bytearray, index: int) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=aead.KEY_BYTES, salt=b"sovra/backup",
                info=framed(b"sovra/backup-file/v1", index))
    derived = bytearray(hkdf.derive(bytes(backup_key)))
    return aead.cipher(derived)  # wipes ``derived``


@dataclass(frozen=True)
class Sealed:
    size: int
    stored_size: int
    stored_digest: str  # "blake3:<hex>" of the stored form (manifest v2)


class _CountingReader:
    def __init__(self, src: BinaryIO) -> None:
        self._src = src
        self.size = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._src.read(size)
        self.size += len(data)
        return data


class _HashingWriter:
    def __init__(self, dst: BinaryIO) -> None:
        self._dst = dst
        # BLAKE3 in one thread: 3x SHA-256 here, where hashing was half of a backup's
        # time (ADR 0801); one thread, so a backup never takes every core from serving.
        self.hash = blake3.blake3()
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self._dst.write(data)


def seal_file(backup_key: bytearray, index: int, backup_id: str, path: str, *, src: BinaryIO,
              dst: BinaryIO, random: Callable[[int], bytes] = os.urandom) -> Sealed:
    """Encrypt one file, hashing its stored form on the way (one pass over the bytes)."""
    header = aead.Header(0, random(aead.DEK_ID_BYTES), SEGMENT_SIZE,
                         random(aead.NONCE_PREFIX_BYTES))
    reader, writer = _CountingReader(src), _HashingWriter(dst)
    aead.encrypt_stream(file_cipher(backup_key, index), header,
                        file_aad(header, backup_id, path), reader,
                        writer)  # type: ignore[arg-type]  # a writer is all it uses
    return Sealed(reader.size, writer.size, "blake3:" + writer.hash.hexdigest())


def open_file(backup_key: bytearray, index: int, backup_id: str, path: str, *, src: BinaryIO,
              dst: BinaryIO) -> int:
    """Authenticate and decrypt one stored file; its plaintext size."""
    header = aead.Header.decode(src.read(aead.HEADER_BYTES))
    return aead.decrypt_stream(file_cipher(backup_key, index), header,
                               file_aad(header, backup_id, path), src, dst)


def forget(key: bytearray) -> None:
    wipe(key)
