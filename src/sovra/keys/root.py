"""The root key as an object that wraps and unwraps, never as bytes handed around.

Two implementations share one protocol: :class:`SoftwareRoot` holds the root rebuilt from
custodian shares in a wipeable buffer; ``sovra.keys.hsm.HsmRoot`` keeps it inside a
PKCS#11 token. The keyring code only ever calls ``wrap``/``unwrap``/``close``.

The software root is never used directly as an AES key: HKDF-SHA256 (RFC 5869) derives a
wrapping key bound to the ceremony, so the same root could never be confused with a key
of another purpose or another ceremony.
"""

from __future__ import annotations

import threading
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sovra.errors import SealedError
from sovra.keys import aead
from sovra.keys._bytes import framed


class RootKey(Protocol):
    """What the keyring needs from the root: seal and open short secrets, then forget."""

    @property
    def kind(self) -> str: ...

    def wrap(self, plaintext: bytes | bytearray, aad: bytes) -> bytes: ...

    def unwrap(self, blob: bytes, aad: bytes) -> bytearray: ...

    def close(self) -> None: ...


def verifier_aad(ceremony_id: str) -> bytes:
    return framed(b"sovra/ceremony-verifier/v1", ceremony_id)


def derive_wrapping_key(root: bytes | bytearray, ceremony_id: str) -> bytearray:
    """The key that actually wraps KEKs: HKDF-SHA256 of the root, bound to the ceremony."""
    # RFC 5869 §3.1: a fixed salt is fine for a uniformly random input key.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=aead.KEY_BYTES,
                salt=b"sovra/keys/root", info=framed(b"sovra/kek-wrap/v1", ceremony_id))
    return bytearray(hkdf.derive(bytes(root)))


class SoftwareRoot:
    """A root rebuilt from shares, kept only in this process's memory."""

    def __init__(self, root: bytearray, ceremony_id: str) -> None:
        self._key: AESGCM | None = aead.cipher(derive_wrapping_key(root, ceremony_id))
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        return "shamir"

    def _current(self) -> AESGCM:
        if self._key is None:
            raise SealedError("the instance is sealed: the root key was wiped")
        return self._key

    def wrap(self, plaintext: bytes | bytearray, aad: bytes) -> bytes:
        with self._lock:
            return aead.wrap(self._current(), plaintext, aad)

    def unwrap(self, blob: bytes, aad: bytes) -> bytearray:
        with self._lock:
            return aead.unwrap(self._current(), blob, aad)

    def close(self) -> None:
        with self._lock:
            self._key = None  # the last reference: OpenSSL cleanses the key schedule
