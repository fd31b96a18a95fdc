"""The report document's shape, shared by the writer and the offline checker.

The signature covers the RFC 8785 canonical JSON of the document without ``claims``,
``entries`` and ``signature``; each claim is bound to it by its SHA-256 in
``claim_digests`` (so an altered claim is named, not only detected), and each cited
entry by its inclusion proof against the signed checkpoint. The signature itself is a
C2SP signed note whose text is ``FORMAT``, the log origin and that SHA-256, one per line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785

FORMAT = "sovra-compliance-report/1"
UNSIGNED = frozenset({"claims", "entries", "signature"})


def canonical(value: Any) -> bytes:
    return rfc8785.dumps(value)


def claim_digest(claim: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(dict(claim))).hexdigest()


def signed_digest(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in document.items()
                                     if k not in UNSIGNED})).hexdigest()


def note_text(origin: str, digest: str) -> str:
    return f"{FORMAT}\n{origin}\n{digest}\n"


__all__ = ["FORMAT", "UNSIGNED", "canonical", "claim_digest", "note_text", "signed_digest"]
