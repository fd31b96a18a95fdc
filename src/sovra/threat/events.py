"""Security events: every ledger entry projected to the fields detection rules read.

Pure: values in, rows out (``sovra.threat.feed`` does the IO). The field mapping from
Sigma's taxonomy is in docs/threat.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

# Every field a rule may name: the projected columns (the Sigma field names too).
FIELDS = frozenset({"seq", "ts", "timestamp", "principal", "role", "action", "resource",
                    "outcome", "source_ip", "classification", "model", "credential",
                    "documents", "chunks", "bytes", "hour", "grant_id", "user_agent",
                    "domain"})
# sovra.policy.Classification's labels in order (not imported: this module stays pure
# and light, without the policy room's engine).
LEVELS = ("public", "internal", "confidential", "secret")


@dataclass(frozen=True)
class RawEntry:
    """A ledger entry as the feed reads it (decoded JSON, not yet projected)."""

    seq: int
    body: Mapping[str, Any]


def project(entry: RawEntry, roles: Mapping[str, str],
            document_levels: Mapping[str, str]) -> dict[str, Any]:
    """One event row for one ledger entry; ``roles`` and ``document_levels`` resolve
    what the entry names but does not carry (a principal's roles, a document's level)."""
    body = entry.body
    details = body.get("details")
    d: Mapping[str, Any] = details if isinstance(details, dict) else {}
    stamp = str(body.get("time", ""))
    moment = _parse_time(stamp)
    principal = str(body.get("actor", ""))
    resource = str(body.get("resource", ""))
    documents, chunks = _retrieved(d)
    return {
        "seq": entry.seq, "ts": moment.timestamp() if moment else 0.0, "timestamp": stamp,
        "principal": principal[:256], "role": roles.get(principal, ""),
        "action": fold(str(body.get("action", ""))[:128]), "resource": resource[:512],
        "outcome": str(body.get("outcome", ""))[:16],
        "source_ip": _source_ip(resource, d),
        "classification": _classification(d, document_levels),
        "model": _text(d.get("model"), 256), "credential": _text(d.get("credential"), 64),
        "documents": documents, "chunks": chunks, "bytes": _bytes(d),
        "hour": moment.hour if moment else 0,
        # A decision made under a lockbox grant names it (sovra.lockbox, ADR 0700).
        "grant_id": _text(d.get("grant_id"), 64),
        # Request metadata, where the recording room has it: domain and user-agent
        # indicators are matched against these (sovra.threat.service).
        "user_agent": _text(d.get("user_agent"), 256),
        "domain": _domain(d),
    }


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(value: str) -> str:
    """ASCII letters in lower case, others kept: exactly what SQLite's NOCASE folds, so
    an action stored folded compares with ``=`` as Sigma's case-insensitive match."""
    return value.translate(_ASCII_LOWER)


def details_of(entry: RawEntry) -> Mapping[str, Any]:
    details = entry.body.get("details")
    return details if isinstance(details, dict) else {}


def _parse_time(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def _text(value: object, width: int) -> str | None:
    return value[:width] if isinstance(value, str) and value else None


def _source_ip(resource: str, details: Mapping[str, Any]) -> str | None:
    # Authentication failures name the client as their resource ("client:10.0.0.5");
    # other entries carry it in details where the recording room knows it.
    if resource.startswith("client:"):
        return resource[len("client:"):][:64]
    return _text(details.get("client_ip") or details.get("source_ip"), 64)


def document_ids(details: Mapping[str, Any]) -> list[str]:
    chunks = details.get("chunks")
    ids = [c.split("#", 1)[0] for c in chunks if isinstance(c, str)] \
        if isinstance(chunks, list) else []
    doc = details.get("document_id")
    if isinstance(doc, str):
        ids.append(doc)
    return ids


def _retrieved(details: Mapping[str, Any]) -> tuple[int, int]:
    chunks = details.get("chunks")
    count = len(chunks) if isinstance(chunks, list) else (
        chunks if isinstance(chunks, int) and not isinstance(chunks, bool) else 0)
    return len(set(document_ids(details))), count


def _classification(details: Mapping[str, Any],
                    document_levels: Mapping[str, str]) -> str | None:
    for key in ("level", "classification"):
        value = details.get(key)
        if isinstance(value, str) and value in LEVELS:
            return value
    # A retrieval names chunks, not their level: the highest level among its documents.
    levels = [LEVELS.index(document_levels[i]) for i in document_ids(details)
              if document_levels.get(i) in LEVELS]
    return LEVELS[max(levels)] if levels else None


def _domain(details: Mapping[str, Any]) -> str | None:
    """The domain a request names or came from: ``domain`` or ``host`` as given, else
    the host of a ``url``, ``origin`` or ``referer``; lower case, no trailing dot."""
    for key in ("domain", "host", "url", "origin", "referer"):
        value = details.get(key)
        if not isinstance(value, str) or not value:
            continue
        host = urlsplit(value).hostname if "://" in value else value.split(":", 1)[0]
        if host:
            return host.lower().rstrip(".")[:253]
    return None


def _bytes(details: Mapping[str, Any]) -> int:
    for key in ("size_bytes", "bytes", "length"):
        value = details.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return 0


__all__ = ["FIELDS", "RawEntry", "details_of", "document_ids", "fold", "project"]
