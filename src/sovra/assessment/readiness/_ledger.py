"""The ledger entries an assessment reads, decoded once, by action.

Only entries whose action is wanted are decoded (the action is the first key of every
canonical entry, RFC 8785 ordering), so a long log is scanned, not parsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_ACTION = re.compile(rb'\{"action":"([a-z0-9_.]+)"')


@dataclass(frozen=True)
class Entry:
    seq: int
    action: str
    actor: str
    resource: str
    outcome: str
    time: str
    details: dict[str, Any] = field(default_factory=dict)


class Entries:
    def __init__(self, entries: Iterable[Entry]) -> None:
        self._by_action: dict[str, list[Entry]] = {}
        for e in entries:
            self._by_action.setdefault(e.action, []).append(e)

    def of(self, action: str, outcome: str | None = None) -> list[Entry]:
        return [e for e in self._by_action.get(action, ())
                if outcome is None or e.outcome == outcome]

    def prefixed(self, prefix: str) -> list[Entry]:
        return sorted((e for a, es in self._by_action.items() if a.startswith(prefix)
                       for e in es), key=lambda e: e.seq)


def scan(rows: Iterable[tuple[int, bytes]], actions: frozenset[str],
         prefixes: tuple[str, ...] = ()) -> Entries:
    kept = []
    for seq, body in rows:
        head = _ACTION.match(body)
        if head is None:
            continue
        action = head.group(1).decode("ascii")
        if action not in actions and not (prefixes and action.startswith(prefixes)):
            continue
        value = json.loads(body)
        details = value.get("details")
        kept.append(Entry(seq, action, str(value.get("actor", "")),
                          str(value.get("resource", "")), str(value.get("outcome", "")),
                          str(value.get("time", "")),
                          details if isinstance(details, dict) else {}))
    return Entries(kept)


def seqs(entries: Iterable[Entry], limit: int = 20) -> tuple[int, ...]:
    """The newest ``limit`` sequence numbers, oldest first (a fact cites, not dumps)."""
    found = sorted(e.seq for e in entries)
    return tuple(found[-limit:])


__all__ = ["Entries", "Entry", "scan", "seqs"]
