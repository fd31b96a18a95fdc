"""Shamir shares of the 256-bit root key: split, encode, parse, check, combine.

Pure: values and bytes in, values and bytes out. The arithmetic is pycryptodome's
``Crypto.Protocol.SecretSharing.Shamir`` (GF(2^128), audited and maintained) rather than
our own; it shares 16-byte secrets, so the 32-byte root is split as two halves with the
same x-coordinates (pycryptodome numbers shares 1..N in order for both calls), and a
custodian's share is the pair of y-values, 32 bytes. ADR 0200 records the choice.

A share travels as one line of text a custodian can type or paste::

    sovra-share-1:<ceremony id>:<index>:<threshold>:<value, 64 hex>:<checksum, 8 hex>

The checksum catches typing and storage corruption; the *fingerprint* (a different hash)
names the share in the ledger and in the ceremony record, so a share whose checksum is
fine but whose value is not the one dealt at the ceremony is still recognised as wrong.
Neither reveals the value: both are SHA-256 over 256 bits the attacker does not know.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from Crypto.Protocol.SecretSharing import Shamir

from sovra.errors import ShareError
from sovra.keys._bytes import framed

ROOT_KEY_BYTES = 32
_HALF = ROOT_KEY_BYTES // 2
PREFIX = "sovra-share-1"
MAX_SHARES = 255  # pycryptodome indices are field elements; 255 is far above any ceremony

_TOKEN = re.compile(
    r"^sovra-share-1:(?P<ceremony>[0-9a-f]{16}):(?P<index>[0-9]{1,3}):(?P<threshold>[0-9]{1,3})"
    r":(?P<value>[0-9a-f]{64}):(?P<checksum>[0-9a-f]{8})$"
)


@dataclass(frozen=True, repr=False)
class Share:
    """One custodian's share. ``repr`` leaves the value out so it never reaches a log."""

    ceremony_id: str
    index: int
    threshold: int
    value: bytes

    def __repr__(self) -> str:
        return (f"Share(ceremony_id={self.ceremony_id!r}, index={self.index}, "
                f"threshold={self.threshold}, fingerprint={self.fingerprint!r})")

    @property
    def fingerprint(self) -> str:
        return share_fingerprint(self.ceremony_id, self.index, self.value)

    def token(self) -> str:
        """The one-line text form handed to the custodian."""
        body = f"{PREFIX}:{self.ceremony_id}:{self.index}:{self.threshold}:{self.value.hex()}"
        return f"{body}:{_checksum(self.ceremony_id, self.index, self.threshold, self.value)}"


def share_fingerprint(ceremony_id: str, index: int, value: bytes) -> str:
    digest = hashlib.sha256(framed(b"sovra/share-fingerprint/v1", ceremony_id, index, value))
    return f"SHA256:{digest.hexdigest()[:32]}"


def _checksum(ceremony_id: str, index: int, threshold: int, value: bytes) -> str:
    digest = hashlib.sha256(framed(b"sovra/share-checksum/v1", ceremony_id, index, threshold,
                                   value))
    return digest.hexdigest()[:8]


def check_parameters(threshold: int, shares: int) -> None:
    if not 1 <= threshold <= shares <= MAX_SHARES:
        raise ShareError(
            f"need 1 <= threshold <= shares <= {MAX_SHARES}; got threshold={threshold}, "
            f"shares={shares}"
        )


def split_root(root: bytes | bytearray, ceremony_id: str, threshold: int,
               shares: int) -> tuple[Share, ...]:
    """Deal ``shares`` shares of ``root``, any ``threshold`` of which rebuild it."""
    check_parameters(threshold, shares)
    if len(root) != ROOT_KEY_BYTES:
        raise ShareError(f"root key must be {ROOT_KEY_BYTES} bytes")
    low = Shamir.split(threshold, shares, bytes(root[:_HALF]))
    high = Shamir.split(threshold, shares, bytes(root[_HALF:]))
    dealt = []
    for (x_low, y_low), (x_high, y_high) in zip(low, high, strict=True):
        if x_low != x_high:  # pycryptodome contract: indices 1..n in order for both halves
            raise ShareError("Shamir implementation returned mismatched share indices")
        dealt.append(Share(ceremony_id, x_low, threshold, y_low + y_high))
    return tuple(dealt)


def parse_share(text: str) -> Share:
    """Parse a share token (or a share file's text: '#' lines are comments).

    Raises ShareError naming the problem: not a share at all, or corrupted (checksum).
    """
    lines = [ln.strip() for ln in text.splitlines()]
    candidates = [ln for ln in lines if ln and not ln.startswith("#")]
    if len(candidates) != 1:
        raise ShareError("not a Sovra key share: expected exactly one 'sovra-share-1:...' line")
    token = candidates[0]
    match = _TOKEN.match(token)
    if match is None:
        if token.startswith(PREFIX):
            raise ShareError("share is corrupted: it does not have the form "
                             "sovra-share-1:<ceremony>:<index>:<threshold>:<value>:<checksum>")
        raise ShareError("not a Sovra key share: it must start with 'sovra-share-1:'")
    share = Share(match["ceremony"], int(match["index"]), int(match["threshold"]),
                  bytes.fromhex(match["value"]))
    expected = _checksum(share.ceremony_id, share.index, share.threshold, share.value)
    if not hmac.compare_digest(expected, match["checksum"]):
        raise ShareError(f"share #{share.index} is corrupted (checksum mismatch): re-enter it "
                         "exactly as dealt, or use the custodian's share file")
    if not 1 <= share.index <= MAX_SHARES or not 1 <= share.threshold <= MAX_SHARES:
        raise ShareError("share is corrupted: index or threshold out of range")
    return share


def combine_shares(shares: Sequence[Share]) -> bytearray:
    """Rebuild the root from exactly ``threshold`` distinct shares of one ceremony.

    The caller has already checked ceremony, fingerprints and duplicates; a wrong result
    is caught by the ceremony's verifier, not here.
    """
    if not shares:
        raise ShareError("no shares to combine")
    threshold = shares[0].threshold
    if len(shares) != threshold or len({s.index for s in shares}) != threshold:
        raise ShareError(f"need exactly {threshold} distinct shares, got {len(shares)}")
    low = Shamir.combine([(s.index, s.value[:_HALF]) for s in shares])
    high = Shamir.combine([(s.index, s.value[_HALF:]) for s in shares])
    return bytearray(low + high)
