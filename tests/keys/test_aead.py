"""The segmented (STREAM) ciphertext format: one test per attack, plus round trips."""

from __future__ import annotations

import io
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.errors import DecryptionError
from sovra.keys import aead

SEG = 64


def _header() -> aead.Header:
    return aead.Header(1, os.urandom(16), SEG, os.urandom(7))


def _seal(data: bytes, aad: bytes = b"object-a") -> tuple[AESGCM, aead.Header, bytes]:
    key, header = AESGCM(os.urandom(32)), _header()
    blob = aead.encrypt_bytes(key, header, aad, data)
    return key, header, blob[aead.HEADER_BYTES:]


def _open(key: AESGCM, header: aead.Header, body: bytes, aad: bytes = b"object-a") -> bytes:
    return aead.decrypt_bytes(key, header, aad, body)


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=5 * SEG + 3))
def test_round_trip_any_length(data: bytes) -> None:
    key, header, body = _seal(data)
    segments = max(1, -(-len(data) // SEG))
    assert len(body) == len(data) + segments * aead.TAG_BYTES
    assert _open(key, header, body) == data


def test_tampered_ciphertext() -> None:
    key, header, body = _seal(os.urandom(3 * SEG))
    tampered = bytearray(body)
    tampered[SEG + 5] ^= 0x01
    with pytest.raises(DecryptionError, match="segment 0 failed authentication"):
        _open(key, header, bytes(tampered))


def test_wrong_associated_data() -> None:
    key, header, body = _seal(b"payload")
    with pytest.raises(DecryptionError, match="another object"):
        _open(key, header, body, aad=b"object-b")


def test_truncated_stream_at_segment_boundary() -> None:
    key, header, body = _seal(os.urandom(3 * SEG + 10))
    with pytest.raises(DecryptionError, match="truncated after segment 1"):
        _open(key, header, body[: 2 * (SEG + aead.TAG_BYTES)])


def test_truncated_stream_mid_segment() -> None:
    key, header, body = _seal(os.urandom(3 * SEG))
    with pytest.raises(DecryptionError):
        _open(key, header, body[:-7])


def test_truncated_to_less_than_a_tag() -> None:
    key, header, body = _seal(b"")
    with pytest.raises(DecryptionError, match="incomplete"):
        _open(key, header, body[:5])


def test_reordered_segments() -> None:
    key, header, body = _seal(os.urandom(3 * SEG + 1))
    n = SEG + aead.TAG_BYTES
    swapped = body[n:2 * n] + body[:n] + body[2 * n:]
    with pytest.raises(DecryptionError, match="segment 0 failed"):
        _open(key, header, swapped)


def test_appended_data_after_final_segment() -> None:
    key, header, body = _seal(os.urandom(2 * SEG + 5))
    with pytest.raises(DecryptionError):
        _open(key, header, body + b"\x00" * 9)


def test_header_that_is_not_ours() -> None:
    with pytest.raises(DecryptionError, match="not a Sovra ciphertext"):
        aead.Header.decode(b"X" * aead.HEADER_BYTES)
    with pytest.raises(DecryptionError, match="shorter"):
        aead.Header.decode(b"SVKS")


def test_stream_memory_stays_bounded() -> None:
    """8 MiB through 64 KiB segments: the encryptor holds segments, never the object."""
    import tracemalloc

    class Zeros(io.RawIOBase):
        def __init__(self, size: int) -> None:
            self.left = size

        def read(self, n: int = -1) -> bytes:
            n = self.left if n < 0 else min(n, self.left)
            self.left -= n
            return bytes(n)

    class Sink(io.RawIOBase):
        written = 0

        def write(self, b: object) -> int:
            size = len(memoryview(b))  # type: ignore[arg-type]
            self.written += size
            return size

    header = aead.Header(1, os.urandom(16), 64 * 1024, os.urandom(7))
    sink = Sink()
    tracemalloc.start()
    aead.encrypt_stream(AESGCM(os.urandom(32)), header, b"", Zeros(8 << 20), sink)  # type: ignore[arg-type]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sink.written > 8 << 20
    assert peak < 1 << 20
