"""Keyed index terms: the lexical index holds keyed hashes of words, never the words.

Each collection has its own 32-byte index key (stored wrapped under the collection's
keyring). A word becomes ``"t" + BLAKE2b-64(word, key)`` in hex: BM25 statistics still
work (equal words give equal terms within a collection), but the index on disk names no
word, and once the collection's keyring is destroyed the terms are unlinkable. Words are
Unicode-normalised (NFKD, accents dropped) and case-folded first; there is no stemming.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

_WORD = re.compile(r"\w+")
_MAX_QUERY_WORDS = 32


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (at least two characters, or a digit)."""
    if text.isascii():  # nothing to decompose: skip the per-character work
        plain = text.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return [w for w in _WORD.findall(plain) if len(w) > 1 or w.isdigit()]


def term(word: str, key: bytes) -> str:
    return "t" + hashlib.blake2b(word.encode("utf-8"), key=key, digest_size=8).hexdigest()


def index_terms(text: str, key: bytes) -> str:
    """The space-separated terms stored for a chunk."""
    return " ".join(term(w, key) for w in words(text))


def query_terms(text: str, key: bytes) -> list[str]:
    """Distinct terms of a query, in order, at most 32."""
    seen: dict[str, None] = {}
    for word in words(text)[:_MAX_QUERY_WORDS * 4]:
        seen.setdefault(term(word, key), None)
    return list(seen)[:_MAX_QUERY_WORDS]


def source_key(name: str, key: bytes) -> str:
    """Keyed hash of a source file name: finds earlier versions without storing the name."""
    return hmac.new(key, b"source\0" + name.encode("utf-8"), hashlib.sha256).hexdigest()


def content_mac(data: bytes, key: bytes) -> str:
    """Keyed hash of a file's bytes: detects changes without a plaintext-confirming hash."""
    return hmac.new(key, b"content\0" + data, hashlib.sha256).hexdigest()


__all__ = ["content_mac", "index_terms", "query_terms", "source_key", "term", "words"]
