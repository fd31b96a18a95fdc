"""Per-object encryption under a document key.

Each document version has a random 256-bit document key, wrapped by ``sovra.keys`` under
the document's own keyring (whose KEK chain ends at the instance root). The document text
and every chunk get their own AES-256-GCM data key derived from it with HKDF-SHA256
(RFC 5869, info = object id), and the object id is the associated data, so a ciphertext
moved to another row fails to open. Destroying the document keyring destroys every key
derived from it (crypto-erasure).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sovra.errors import DecryptionError

KEY_BYTES = 32
_NONCE = 12
_VERSION = b"\x01"


def new_document_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _cipher(document_key: bytes, object_id: str) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                   info=b"sovra.data.object\0" + object_id.encode("utf-8")).derive(document_key)
    return AESGCM(derived)


def seal(document_key: bytes, object_id: str, plaintext: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    aad = _VERSION + object_id.encode("utf-8")
    return _VERSION + nonce + _cipher(document_key, object_id).encrypt(nonce, plaintext, aad)


def unseal(document_key: bytes, object_id: str, blob: bytes) -> bytes:
    if len(blob) < 1 + _NONCE + 16 or blob[:1] != _VERSION:
        raise DecryptionError(f"ciphertext of {object_id!r} is truncated or of an unknown "
                              "format")
    aad = _VERSION + object_id.encode("utf-8")
    try:
        return _cipher(document_key, object_id).decrypt(blob[1:1 + _NONCE], blob[1 + _NONCE:],
                                                        aad)
    except InvalidTag as exc:
        raise DecryptionError(f"ciphertext of {object_id!r} failed authentication") from exc


__all__ = ["KEY_BYTES", "new_document_key", "seal", "unseal"]
