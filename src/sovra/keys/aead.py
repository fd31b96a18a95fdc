"""AES-256-GCM: key wrapping and the segmented ciphertext format for objects.

Pure: keys, bytes and file-like objects in, bytes out; no database, no key lookup.

Object ciphertexts use the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár,
"Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015,
§7): the plaintext is cut into fixed segments; segment *i* is sealed under the nonce
``prefix(7) || i (4, big-endian) || last (1)``, where *last* is 1 only for the final
segment. A reordered segment fails because its index is in the nonce; a stream cut at a
segment boundary fails because its new final segment was sealed with last = 0; bytes
appended after the final segment fail because they are read as part of it. Memory is
two segment buffers, whatever the object size.

Layout: header (37 bytes) then segments, each ``ciphertext || 16-byte tag``; every
segment but the last carries exactly ``segment_size`` plaintext bytes, the last carries
0..segment_size (an empty object is one empty final segment).
Associated data of each segment: the header plus the keyring and object id it belongs
to, so a ciphertext moved to another object or keyring fails to authenticate.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sovra.errors import DecryptionError, InvalidInputError
from sovra.keys._bytes import framed, wipe

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
DEK_ID_BYTES = 16
NONCE_PREFIX_BYTES = 7
DEFAULT_SEGMENT_SIZE = 1 << 20
MAX_SEGMENT_SIZE = 1 << 26
MAX_SEGMENTS = 1 << 32  # the 4-byte counter in the nonce

MAGIC = b"SVKS"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">4sBBI16sI7s")  # magic, format, flags, kek version, dek id, seg, prefix
HEADER_BYTES = _HEADER.size


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Header:
    """What a reader needs before the first segment; all of it is authenticated."""

    kek_version: int
    dek_id: bytes
    segment_size: int
    nonce_prefix: bytes

    def encode(self) -> bytes:
        return _HEADER.pack(MAGIC, FORMAT_VERSION, 0, self.kek_version, self.dek_id,
                            self.segment_size, self.nonce_prefix)

    @classmethod
    def decode(cls, raw: bytes) -> Header:
        if len(raw) != HEADER_BYTES:
            raise DecryptionError("not a Sovra ciphertext: shorter than its header")
        magic, fmt, flags, kek_version, dek_id, segment_size, prefix = _HEADER.unpack(raw)
        if magic != MAGIC or fmt != FORMAT_VERSION or flags != 0:
            raise DecryptionError("not a Sovra ciphertext (unknown magic or format version)")
        if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
            raise DecryptionError("corrupted ciphertext header: impossible segment size")
        return cls(kek_version, dek_id, segment_size, prefix)


def object_aad(header: Header, keyring_id: str, object_id: str) -> bytes:
    return framed(b"sovra/object/v1", header.encode(), keyring_id, object_id)


def segment_nonce(prefix: bytes, index: int, *, last: bool) -> bytes:
    if index >= MAX_SEGMENTS:
        raise InvalidInputError("object too large for the segment counter")
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def wrap(key: AESGCM, plaintext: bytes | bytearray, aad: bytes) -> bytes:
    """Seal a key (or any short secret) under ``key``: ``nonce || ciphertext || tag``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + key.encrypt(nonce, plaintext, aad)


def cipher(key: bytearray) -> AESGCM:
    """An AES-GCM object for ``key``, then wipe ``key``.

    The object keeps its own expanded copy inside OpenSSL, which cleanses it when the
    object is freed; so holders of key *objects* (never raw buffers) can drop them on seal
    while an operation already running on one finishes with the right key.
    """
    try:
        return AESGCM(key)
    finally:
        wipe(key)


def unwrap(key: AESGCM, blob: bytes, aad: bytes) -> bytearray:
    """Open a blob made by :func:`wrap` into a wipeable buffer; DecryptionError if not."""
    if len(blob) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("wrapped key is truncated")
    out = bytearray(len(blob) - NONCE_BYTES - TAG_BYTES)
    try:
        key.decrypt_into(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad, out)
    except InvalidTag as exc:
        raise DecryptionError("wrapped key failed authentication: wrong key or binding") from exc
    return out


def _read_full(src: _Reader, size: int) -> bytes:
    """Read ``size`` bytes unless the stream ends first (short reads are retried)."""
    first = src.read(size)
    if len(first) == size or not first:
        return first
    parts = [first]
    got = len(first)
    while got < size:
        more = src.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def encrypt_stream(dek: AESGCM, header: Header, aad: bytes, src: _Reader,
                   dst: BinaryIO) -> int:
    """Write header and sealed segments of ``src`` to ``dst``; returns bytes written."""
    seg = header.segment_size
    head = header.encode()
    dst.write(head)
    written = len(head)
    out = bytearray(seg + TAG_BYTES)
    view = memoryview(out)
    current = _read_full(src, seg)
    index = 0
    while True:
        following = _read_full(src, seg) if len(current) == seg else b""
        last = not following
        size = len(current) + TAG_BYTES
        dek.encrypt_into(segment_nonce(header.nonce_prefix, index, last=last), current, aad,
                         view[:size])
        dst.write(view[:size])
        written += size
        if last:
            return written
        current = following
        index += 1


def decrypt_stream(dek: AESGCM, header: Header, aad: bytes, src: _Reader,
                   dst: BinaryIO) -> int:
    """Authenticate and write the plaintext of the segments after the header.

    Segments are released as they verify (bounded memory), so on DecryptionError the
    caller must discard what was written (docs/keys.md, "Streaming").
    """
    chunk = header.segment_size + TAG_BYTES
    out = bytearray(header.segment_size)
    view = memoryview(out)
    current = _read_full(src, chunk)
    index = 0
    total = 0
    while True:
        if len(current) < TAG_BYTES:
            raise DecryptionError(f"ciphertext truncated: segment {index} is incomplete")
        following = _read_full(src, chunk) if len(current) == chunk else b""
        last = not following
        size = len(current) - TAG_BYTES
        try:
            dek.decrypt_into(segment_nonce(header.nonce_prefix, index, last=last), current, aad,
                             view[:size])
        except InvalidTag as exc:
            raise _explain(dek, header, aad, current, index, last=last) from exc
        dst.write(view[:size])
        total += size
        if last:
            return total
        current = following
        index += 1


def _explain(dek: AESGCM, header: Header, aad: bytes, segment: bytes, index: int, *,
             last: bool) -> DecryptionError:
    """Name the failure: a valid non-final segment at the end means the stream was cut."""
    if last:
        try:
            dek.decrypt(segment_nonce(header.nonce_prefix, index, last=False), segment, aad)
        except InvalidTag:
            pass
        else:
            return DecryptionError(f"ciphertext truncated after segment {index}: the final "
                                   "segment is missing")
    return DecryptionError(f"segment {index} failed authentication: the ciphertext was "
                           "tampered with, reordered, or belongs to another object or keyring")


def encrypt_bytes(dek: AESGCM, header: Header, aad: bytes, plaintext: bytes) -> bytes:
    out = io.BytesIO()
    encrypt_stream(dek, header, aad, io.BytesIO(plaintext), out)
    return out.getvalue()


def decrypt_bytes(dek: AESGCM, header: Header, aad: bytes, body: bytes) -> bytes:
    out = io.BytesIO()
    decrypt_stream(dek, header, aad, io.BytesIO(body), out)
    return out.getvalue()
