"""Evidence values: ledger events, the claims made from them, findings, control results.

A claim is checkable by construction: it states a count and the criteria (``Match``)
that select ledger entries, and cites exactly the entries that meet them. The offline
checker re-applies the same ``Match`` to the cited entries (and, given the export, to
the whole log) so a count that does not match its entries names the claim.
Pure: values in, values out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sovra.errors import InvalidInputError

# The most entries one claim cites; a claim over more entries cites this many and its
# full count is checked against the ledger export (sovra audit check --export).
MAX_CITES = 5000
_ACTION = re.compile(rb'\{"action":"([a-z0-9_.]+)"')


class Status(Enum):
    SATISFIED = "satisfied"
    FINDING = "finding"
    NOT_EVIDENCED = "not-evidenced"  # the room that would evidence it does not exist


@dataclass(frozen=True)
class Event:
    """One decoded ledger entry, with its stored bytes."""

    seq: int
    time: str
    actor: str
    action: str
    resource: str
    outcome: str
    details: Mapping[str, Any]
    body: bytes


@dataclass(frozen=True)
class Match:
    """Which entries a claim counts: action, outcome, time window, resource, details."""

    actions: tuple[str, ...]
    outcomes: tuple[str, ...] = ()
    since: str = ""
    until: str = ""
    resource: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    actor: str = ""

    def matches(self, entry: Mapping[str, Any]) -> bool:
        if entry.get("action") not in self.actions:
            return False
        if self.outcomes and entry.get("outcome") not in self.outcomes:
            return False
        when = str(entry.get("time", ""))
        if (self.since and when < self.since) or (self.until and when >= self.until):
            return False
        if self.resource and entry.get("resource") != self.resource:
            return False
        if self.actor and entry.get("actor") != self.actor:
            return False
        found = entry.get("details")
        details = found if isinstance(found, Mapping) else {}
        return all(details.get(k) == v for k, v in self.details.items())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"actions": list(self.actions)}
        if self.outcomes:
            out["outcomes"] = list(self.outcomes)
        for name in ("since", "until", "resource", "actor"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.details:
            out["details"] = dict(self.details)
        return out

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Match:
        actions = value.get("actions")
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise TypeError("a claim's match needs a list of actions")
        details = value.get("details", {})
        if not isinstance(details, dict):
            raise TypeError("a claim's match details must be an object")
        return cls(tuple(actions), tuple(value.get("outcomes", ())),
                   str(value.get("since", "")), str(value.get("until", "")),
                   str(value.get("resource", "")), details, str(value.get("actor", "")))


@dataclass(frozen=True)
class Claim:
    """``count`` ledger entries meet ``match``; ``cites`` are their sequence numbers."""

    id: str
    control: str
    statement: str
    match: Match
    count: int
    cites: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "control": self.control, "statement": self.statement,
                "match": self.match.to_json(), "count": self.count,
                "cites": list(self.cites)}


@dataclass(frozen=True)
class Finding:
    """A control not satisfied, with the claims that show it."""

    id: str
    control: str
    title: str
    description: str
    claims: tuple[str, ...]


@dataclass(frozen=True)
class ControlResult:
    control: str
    status: Status
    summary: str
    claims: tuple[Claim, ...] = ()
    findings: tuple[Finding, ...] = ()
    state: Mapping[str, Any] = field(default_factory=dict)  # instance state observed


class Events:
    """The ledger's events of interest, by action, in sequence order."""

    def __init__(self, events: Iterable[Event]) -> None:
        self._by_action: dict[str, list[Event]] = {}
        for event in events:
            self._by_action.setdefault(event.action, []).append(event)

    def select(self, match: Match) -> list[Event]:
        found = [e for a in match.actions for e in self._by_action.get(a, ())
                 if match.matches(_as_mapping(e))]
        found.sort(key=lambda e: e.seq)
        return found

    def select_all(self) -> list[Event]:
        return sorted((e for events in self._by_action.values() for e in events),
                      key=lambda e: e.seq)

    def claim(self, claim_id: str, control: str, statement: str, match: Match) -> Claim:
        """The claim over every event ``match`` selects (citing at most MAX_CITES)."""
        found = self.select(match)
        return Claim(claim_id, control, statement, match, len(found),
                     tuple(e.seq for e in found[:MAX_CITES]))

    def cited(self, claims: Iterable[Claim]) -> dict[int, Event]:
        wanted = {s for c in claims for s in c.cites}
        return {e.seq: e for events in self._by_action.values() for e in events
                if e.seq in wanted}


def _as_mapping(e: Event) -> dict[str, Any]:
    return {"action": e.action, "actor": e.actor, "outcome": e.outcome, "time": e.time,
            "resource": e.resource, "details": e.details}


def scan(rows: Iterable[tuple[int, bytes]], actions: frozenset[str],
         prefixes: tuple[str, ...] = ()) -> Events:
    """Decode only the entries whose action is wanted (the action is the first field of
    every canonical entry, so it is read without parsing the rest)."""
    wanted: list[Event] = []
    for seq, body in rows:
        head = _ACTION.match(body)
        if head is None:
            continue
        action = head.group(1).decode("ascii")
        if action not in actions and not action.startswith(prefixes or ("\0",)):
            continue
        value = json.loads(body)
        details = value.get("details")
        wanted.append(Event(seq, str(value["time"]), str(value["actor"]), action,
                            str(value["resource"]), str(value["outcome"]),
                            details if isinstance(details, dict) else {}, bytes(body)))
    return Events(wanted)


def rfc3339(epoch_s: float) -> str:
    """The ledger's own time format, so window bounds compare as text."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str, what: str) -> float:
    """A date (``2026-01-31``) or an RFC 3339 time, as epoch seconds (UTC if no zone)."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInputError(f"{what} {text!r} is not a date or time: write it like "
                                "2026-01-31 or 2026-01-31T12:00:00Z") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


__all__ = ["MAX_CITES", "Claim", "ControlResult", "Event", "Events", "Finding", "Match",
           "Status", "parse_time", "rfc3339", "scan"]
