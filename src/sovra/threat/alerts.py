"""Alerts: stored, deduplicated, triaged; every change a ledger entry first.

An open (or acknowledged) alert absorbs later matches of the same rule for the same
group (its ``dedup_key``): its count grows and the new events are attached, so a noisy
rule raises one alert, not thousands. A closed alert stays closed; the next match opens
a new one. Triage (ack, assign, close, open incident) is recorded, then applied.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from sovra.errors import ConflictError, InvalidInputError, NotFoundError
from sovra.store.tables.threat import threat_alert_events, threat_alerts
from sovra.threat.hunt import Match
from sovra.vocabulary import LedgerSink

STATUSES = ("open", "acknowledged", "closed")
SYSTEM_ACTOR = "sovra.threat"


@dataclass(frozen=True)
class Alert:
    id: str
    rule_id: str
    title: str
    severity: str
    status: str
    assignee: str | None
    count: int
    first_seen: float
    last_seen: float
    created_at: float
    detail: dict[str, Any]
    close_reason: str | None
    incident_id: str | None
    events: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "rule_id": self.rule_id, "title": self.title,
                "severity": self.severity, "status": self.status, "assignee": self.assignee,
                "count": self.count, "first_seen": self.first_seen,
                "last_seen": self.last_seen, "created_at": self.created_at,
                "detail": self.detail, "close_reason": self.close_reason,
                "incident_id": self.incident_id, "events": list(self.events)}


def dedup_key(rule_id: str, group: Sequence[tuple[str, str]]) -> str:
    text = json.dumps([rule_id, [list(g) for g in group]], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:64]


class AlertStore:
    """Raise and triage alerts (``ThreatService.alerts``)."""

    def __init__(self, engine: Engine, ledger: LedgerSink, clock: Callable[[], float]) -> None:
        self._engine = engine
        self._ledger = ledger
        self._clock = clock

    def raise_matches(self, matches: Sequence[Match]) -> list[str]:
        """Store each match as a new alert or onto its open duplicate; the alert ids."""
        return [self._raise(m) for m in matches]

    def _raise(self, match: Match) -> str:
        key = dedup_key(match.rule_id, match.group)
        with self._engine.connect() as conn:
            found = conn.execute(select(threat_alerts.c.id).where(
                threat_alerts.c.dedup_key == key,
                threat_alerts.c.status != "closed")).scalar_one_or_none()
        current = None if found is None else str(found)
        detail = {"group": dict(match.group), "rule_id": match.rule_id}
        if current is not None:
            self._ledger.append(SYSTEM_ACTOR, "threat.alert.update", f"alert:{current}",
                                "success", {"rule_id": match.rule_id,
                                            "events": list(match.seqs[:50]),
                                            "added": len(match.seqs)})
            with self._engine.begin() as conn:
                known = set(conn.execute(select(threat_alert_events.c.seq).where(
                    threat_alert_events.c.alert_id == current)).scalars())
                new = [s for s in match.seqs if s not in known]
                conn.execute(update(threat_alerts).where(threat_alerts.c.id == current)
                             .values(count=threat_alerts.c.count + len(new),
                                     last_seen=func.max(threat_alerts.c.last_seen,
                                                        match.last_ts)
                                     if conn.dialect.name == "sqlite"
                                     else func.greatest(threat_alerts.c.last_seen,
                                                        match.last_ts)))
                _attach(conn, current, new)
            return current
        alert_id = secrets.token_hex(8)
        self._ledger.append(SYSTEM_ACTOR, "threat.alert.raise", f"alert:{alert_id}", "success",
                            {"rule_id": match.rule_id, "title": match.title[:200],
                             "severity": match.severity, "group": dict(match.group),
                             "events": list(match.seqs[:50])})
        with self._engine.begin() as conn:
            conn.execute(insert(threat_alerts).values(
                id=alert_id, rule_id=match.rule_id, title=match.title,
                severity=match.severity, dedup_key=key, status="open", assignee=None,
                count=len(match.seqs), first_seen=match.first_ts, last_seen=match.last_ts,
                created_at=self._clock(), detail_json=json.dumps(detail), close_reason=None,
                incident_id=None))
            _attach(conn, alert_id, list(match.seqs))
        return alert_id

    def list(self, status: str | None = None) -> list[Alert]:
        query = select(threat_alerts).order_by(threat_alerts.c.created_at, threat_alerts.c.id)
        if status is not None:
            if status not in STATUSES:
                raise InvalidInputError(f"alert status {status!r} is not one of "
                                        f"{', '.join(STATUSES)}")
            query = query.where(threat_alerts.c.status == status)
        with self._engine.connect() as conn:
            return [_alert(r._mapping) for r in conn.execute(query)]

    def get(self, alert_id: str) -> Alert:
        with self._engine.connect() as conn:
            row = conn.execute(select(threat_alerts).where(
                threat_alerts.c.id == alert_id)).first()
            if row is None:
                raise NotFoundError(f"no alert {alert_id!r}; list them with "
                                    "`sovra alerts list`")
            events = tuple(conn.execute(select(threat_alert_events.c.seq).where(
                threat_alert_events.c.alert_id == alert_id).order_by(
                threat_alert_events.c.seq)).scalars())
        return _alert(row._mapping, events)

    def ack(self, actor: str, alert_id: str) -> Alert:
        return self._triage(actor, alert_id, "ack", {"status": "acknowledged"})

    def assign(self, actor: str, alert_id: str, assignee: str) -> Alert:
        if not assignee.strip():
            raise InvalidInputError("name the principal to assign the alert to")
        return self._triage(actor, alert_id, "assign", {"assignee": assignee.strip()})

    def close(self, actor: str, alert_id: str, reason: str) -> Alert:
        if not reason.strip():
            raise InvalidInputError("closing an alert needs a reason (--reason TEXT): "
                                    "say why it is resolved or a false positive")
        return self._triage(actor, alert_id, "close",
                            {"status": "closed", "close_reason": reason.strip()})

    def open_incident(self, actor: str, alert_id: str) -> Alert:
        """Open an incident for the alert in the compliance room's register: its own
        ``compliance.incident.open`` entry (the register is rebuilt from the ledger, so
        the entry is the incident; its deadlines run from the alert's creation, when
        the site became aware), then the alert records which incident it opened."""
        from sovra.compliance import INCIDENT_OPEN as OPEN

        alert = self.get(alert_id)
        if alert.status == "closed":
            raise ConflictError(f"alert {alert_id} is closed; a new match opens a new alert")
        incident = f"inc-{secrets.token_hex(6)}"
        self._ledger.append(actor, OPEN, f"incident/{incident}", "success", {
            "title": f"Threat alert: {alert.title}"[:200],
            "description": (f"Opened from alert {alert_id}: rule {alert.rule_id}, severity "
                            f"{alert.severity}, {alert.count} event(s).")[:2000],
            "source": f"threat:alert:{alert_id}", "aware_at": min(alert.created_at,
                                                                  self._clock()),
            "opened_at": self._clock(), "alert_id": alert_id})
        return self._triage(actor, alert_id, "incident", {"incident_id": incident})

    def _triage(self, actor: str, alert_id: str, step: str, values: dict[str, str]) -> Alert:
        alert = self.get(alert_id)
        if alert.status == "closed":
            raise ConflictError(f"alert {alert_id} is closed; a new match opens a new alert")
        self._ledger.append(actor, f"threat.alert.{step}", f"alert:{alert_id}", "success",
                            values)
        with self._engine.begin() as conn:
            conn.execute(update(threat_alerts).where(threat_alerts.c.id == alert_id)
                         .values(**values))
        return self.get(alert_id)


def _attach(conn: Connection, alert_id: str, seqs: Sequence[int]) -> None:
    if seqs:
        conn.execute(insert(threat_alert_events),
                     [{"alert_id": alert_id, "seq": s} for s in seqs])


def _alert(row: Any, events: tuple[int, ...] = ()) -> Alert:
    return Alert(id=row["id"], rule_id=row["rule_id"], title=row["title"],
                 severity=row["severity"], status=row["status"], assignee=row["assignee"],
                 count=int(row["count"]), first_seen=float(row["first_seen"]),
                 last_seen=float(row["last_seen"]), created_at=float(row["created_at"]),
                 detail=json.loads(row["detail_json"]), close_reason=row["close_reason"],
                 incident_id=row["incident_id"], events=events)


__all__ = ["Alert", "AlertStore", "dedup_key"]
