"""The incident register, rebuilt from its ledger entries (every step is one entry).

Actions: ``compliance.incident.open`` (title, source, aware_at), ``.classify``
(dora_major, nis2_significant, gdpr_breach, classified_at), ``.notify`` (notification,
sent_at, reference), ``.overdue`` (an alert raised for a missed deadline), ``.close``.
The resource is ``incident/<id>``. Pure: events in, incidents out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sovra.compliance.clocks import CLASSES, Deadline, deadlines
from sovra.compliance.evidence import Event

PREFIX = "compliance.incident."
OPEN, CLASSIFY, NOTIFY = PREFIX + "open", PREFIX + "classify", PREFIX + "notify"
OVERDUE, CLOSE = PREFIX + "overdue", PREFIX + "close"
ACTIONS = frozenset({OPEN, CLASSIFY, NOTIFY, OVERDUE, CLOSE})


@dataclass
class Incident:
    id: str
    title: str
    description: str
    source: str
    opened_by: str
    aware_at: float
    opened_seq: int
    classes: frozenset[str] = frozenset()
    classified_at: float | None = None
    classify_seq: int | None = None
    sent: dict[str, float] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)
    alerted: set[str] = field(default_factory=set)
    closed_at: float | None = None
    steps: list[int] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def deadlines(self, now: float) -> tuple[Deadline, ...]:
        return deadlines(aware_at=self.aware_at, classified_at=self.classified_at,
                         classes=self.classes, sent=self.sent, now=now)

    @property
    def resource(self) -> str:
        return f"incident/{self.id}"


def _num(details: Mapping[str, Any], key: str, default: float) -> float:
    value = details.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else default


def rebuild(events: Iterable[Event]) -> dict[str, Incident]:
    """Replay the register's entries in sequence order."""
    found: dict[str, Incident] = {}
    for e in sorted(events, key=lambda e: e.seq):
        if not e.resource.startswith("incident/") or e.outcome != "success":
            continue
        incident_id = e.resource.removeprefix("incident/")
        d = e.details
        if e.action == OPEN:
            found[incident_id] = Incident(
                incident_id, str(d.get("title", "")), str(d.get("description", "")),
                str(d.get("source", "manual")), e.actor, _num(d, "aware_at", 0.0), e.seq,
                steps=[e.seq], details=dict(d))
            continue
        incident = found.get(incident_id)
        if incident is None:
            continue
        incident.steps.append(e.seq)
        if e.action == CLASSIFY:
            incident.classes = frozenset(c for c in CLASSES if d.get(c) is True)
            incident.classified_at = _num(d, "classified_at", 0.0)
            incident.classify_seq = e.seq
        elif e.action == NOTIFY:
            kind = str(d.get("notification", ""))
            incident.sent[kind] = _num(d, "sent_at", 0.0)
            incident.references[kind] = str(d.get("reference", ""))
        elif e.action == OVERDUE:
            incident.alerted.add(str(d.get("notification", "")))
        elif e.action == CLOSE:
            incident.closed_at = _num(d, "closed_at", 0.0)
    return found


__all__ = ["ACTIONS", "CLASSIFY", "CLOSE", "NOTIFY", "OPEN", "OVERDUE", "PREFIX",
           "Incident", "rebuild"]
