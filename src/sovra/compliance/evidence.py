"""Evidence values: ledger events, the claims made from them, findings, control results.

A claim is checkable by construction: it states a count and the criteria (``Match``)
that select ledger entries, and cites exactly the entries that meet them. The offline
checker re-applies the same ``Match`` to the cited entries (and, given the export, to
the whole log) so a count that does not match its entries names the claim.
Pure: values in, values out.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from sovra.errors import InvalidInputError

# The most entries one claim cites; a claim over more entries cites this many and its
# full count is checked against the ledger export (sovra audit check --export).
MAX_CITES = 1000
_ACTION = re.compile(rb'\{"action":"([a-z0-9_.]+)"')


class Status(Enum):
    SATISFIED = "satisfied"
    FINDING = "finding"
    NOT_EVIDENCED = "not-evidenced"  # the room that would evidence it does not exist


@dataclass(frozen=True)
class Event:
    """One ledger entry: what every claim filters on (action, time, outcome) read at
    once, the rest (actor, resource, details) read from the bytes when first asked for:
    most entries are counted, never opened."""

    seq: int
    time: str
    action: str
    outcome: str
    body: bytes

    @functools.cached_property
    def _top(self) -> dict[str, Any]:
        found = top_fields(self.body)
        if found is None:  # not canonical in shape: decode it whole
            value = json.loads(self.body)
            found = {k: str(value.get(k, "")) for k in ("actor", "resource")}
        return found

    @functools.cached_property
    def actor(self) -> str:
        return str(self._top["actor"])

    @functools.cached_property
    def resource(self) -> str:
        return str(self._top["resource"])

    @functools.cached_property
    def details(self) -> Mapping[str, Any]:
        found = json.loads(self.body).get("details")
        return found if isinstance(found, dict) else {}


def outcome_of(body: bytes) -> str:
    """The top-level outcome: the last unescaped outcome key (see ``top_fields``)."""
    at = body.rfind(b',"outcome":"')
    return "" if at < 0 else body[at + 12:body.index(b'"', at + 12)].decode("ascii", "replace")


def _string(body: bytes, start: int, limit: int) -> str:
    """The JSON string whose text starts at ``start``: sliced when it has no escapes."""
    end = body.index(b'"', start, limit)
    if body.find(b"\\", start, end) < 0:
        return body[start:end].decode("utf-8")
    text, _ = scanstring(body[start:limit].decode("utf-8"), 0)
    return str(text)


def top_fields(body: bytes) -> dict[str, Any] | None:
    """``action``, ``actor``, ``outcome``, ``resource`` and ``time`` of a canonical entry,
    read without decoding its details; None if the bytes are not shaped like one.

    RFC 8785 orders the keys action, actor, details, outcome, resource, seq, time and
    escapes every quote inside a string, so an unescaped ``,"outcome":"`` can only be a
    key, and the last one is the top-level key (details come before it).
    """
    head = _ACTION.match(body)
    at_outcome = body.rfind(b',"outcome":"')
    at_resource = body.rfind(b',"resource":', at_outcome)
    at_seq = body.rfind(b',"seq":', at_resource)
    if head is None or min(at_outcome, at_resource, at_seq) < 0 or not body.startswith(
            b',"actor":"', head.end()):
        return None
    try:
        actor = _string(body, head.end() + 10, at_outcome)
        resource = _string(body, at_resource + 13, at_seq)
    except (ValueError, UnicodeDecodeError):
        return None
    return {"action": head.group(1).decode("ascii"), "actor": actor,
            "outcome": body[at_outcome + 12:at_resource - 1].decode("ascii"),
            "resource": resource, "time": body[-29:-2].decode("ascii")}


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

    def matches_event(self, e: Event) -> bool:
        """``matches`` on an event, opening its details only if the match needs them."""
        if e.action not in self.actions or (self.outcomes and e.outcome not in self.outcomes):
            return False
        if (self.since and e.time < self.since) or (self.until and e.time >= self.until):
            return False
        if (self.resource and e.resource != self.resource) or (
                self.actor and e.actor != self.actor):
            return False
        return all(e.details.get(k) == v for k, v in self.details.items())

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
                 if match.matches_event(e)]
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


def scan(rows: Iterable[tuple[int, bytes]], actions: frozenset[str],
         prefixes: tuple[str, ...] = ()) -> Events:
    """Keep only the entries whose action is wanted (the action is the first field of
    every canonical entry, so it is read without parsing the rest)."""
    wanted: list[Event] = []
    starts = prefixes or ("\0",)
    for seq, body in rows:
        head = _ACTION.match(body)
        if head is None:
            continue
        action = head.group(1).decode("ascii")
        if action not in actions and not action.startswith(starts):
            continue
        wanted.append(Event(seq, body[-29:-2].decode("ascii", "replace"), action,
                            outcome_of(body), bytes(body)))
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
           "Status", "outcome_of", "parse_time", "rfc3339", "scan", "top_fields"]
