"""API key format and hashing (pure).

A key is ``sk-sovra-<key_id>_<secret>``: ``key_id`` is 12 lower-case hex characters
(public; it names the key in logs and finds its row with one indexed lookup) and
``secret`` is 32 random bytes, base64url. Only SHA-256 of the secret (domain-separated
and bound to the key id) is stored. The secret has 256 bits of entropy, so brute force against a
stolen table is infeasible with or without a slow password KDF, and a fast hash keeps
verification in microseconds; see docs/adr/0302-identity-api-key-hashing.md.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sovra.errors import AuthenticationError

KEY_PREFIX = "sk-sovra-"
_KEY = re.compile(r"sk-sovra-([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_DOMAIN = b"sovra-api-key-v1\x00"


@dataclass(frozen=True)
class ParsedKey:
    key_id: str
    secret: str


@dataclass(frozen=True)
class NewKey:
    """A freshly generated key: ``token`` is shown once and never stored."""

    key_id: str
    token: str
    secret_sha256: bytes


def secret_digest(key_id: str, secret: str) -> bytes:
    """SHA-256 over a domain tag, the key id and the secret."""
    return hashlib.sha256(_DOMAIN + key_id.encode("ascii") + b"\x00" +
                          secret.encode("ascii")).digest()


def generate(token_bytes: int = 32) -> NewKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(token_bytes)
    return NewKey(key_id, f"{KEY_PREFIX}{key_id}_{secret}", secret_digest(key_id, secret))


def parse(token: str) -> ParsedKey:
    """Split a presented key; any malformed key is an ``AuthenticationError``."""
    found = _KEY.fullmatch(token)
    if found is None:
        raise AuthenticationError("malformed API key")
    return ParsedKey(found.group(1), found.group(2))


def matches(parsed: ParsedKey, stored_sha256: bytes) -> bool:
    """Constant-time comparison of the presented secret with the stored digest."""
    return hmac.compare_digest(secret_digest(parsed.key_id, parsed.secret), stored_sha256)


def looks_like_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


__all__ = ["KEY_PREFIX", "NewKey", "ParsedKey", "generate", "looks_like_api_key", "matches",
           "parse", "secret_digest"]
