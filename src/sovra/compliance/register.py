"""The incident register's service: every step one ledger entry, state replayed from them.

Keeping the register only in the ledger means its history cannot diverge from the
evidence: the report's incident control and ``sovra incident list`` read the same
entries. Overdue deadlines are raised once each, as an ALERT log line and a
``compliance.incident.overdue`` entry.
"""

from __future__ import annotations

import builtins
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from sovra.compliance import incidents
from sovra.compliance.clocks import CLASSES, KINDS, ClockState, Deadline
from sovra.compliance.evidence import scan
from sovra.errors import ConflictError, InvalidInputError, NotFoundError
from sovra.instance import Instance
from sovra.ledger import LedgerStore

log = logging.getLogger("sovra.compliance")
MAX_TEXT = 2000


class IncidentRegister:
    def __init__(self, inst: Instance, *, clock: Callable[[], float] = time.time) -> None:
        self._inst = inst
        self._clock = clock

    def _all(self) -> dict[str, incidents.Incident]:
        store = LedgerStore(self._inst.engine)
        rows = ((r.seq, r.body) for r in store.entries(0, self._inst.ledger.refresh()))
        return incidents.rebuild(scan(rows, incidents.ACTIONS).select_all())

    def list(self) -> list[incidents.Incident]:
        return sorted(self._all().values(), key=lambda i: i.opened_seq)

    def get(self, incident_id: str) -> incidents.Incident:
        found = self._all().get(incident_id)
        if found is None:
            raise NotFoundError(f"incident {incident_id} does not exist: see `sovra incident "
                                "list`")
        return found

    def _record(self, actor: str, action: str, incident_id: str,
                details: dict[str, Any]) -> None:
        self._inst.ledger.append(actor, action, f"incident/{incident_id}", "success", details)

    def open(self, actor: str, title: str, *, description: str = "", source: str = "manual",
             aware_at: float | None = None) -> incidents.Incident:
        if not title.strip() or len(title) > 200 or len(description) > MAX_TEXT:
            raise InvalidInputError("an incident needs a title (at most 200 characters) and "
                                    f"a description of at most {MAX_TEXT}")
        now = self._clock()
        aware = now if aware_at is None else aware_at
        if aware > now:
            raise InvalidInputError("the time of awareness is in the future")
        incident_id = f"inc-{secrets.token_hex(6)}"
        self._record(actor, incidents.OPEN, incident_id,
                     {"title": title, "description": description, "source": source,
                      "aware_at": aware, "opened_at": now})
        return self.get(incident_id)

    def classify(self, actor: str, incident_id: str, classes: frozenset[str], *,
                 reason: str = "") -> incidents.Incident:
        unknown = classes - set(CLASSES)
        if unknown:
            raise InvalidInputError(f"unknown classification {', '.join(sorted(unknown))}; "
                                    f"choose from {', '.join(CLASSES)}")
        self._open_one(incident_id)
        self._record(actor, incidents.CLASSIFY, incident_id,
                     {**{c: c in classes for c in CLASSES}, "classified_at": self._clock(),
                      "reason": reason})
        return self.get(incident_id)

    def notify(self, actor: str, incident_id: str, kind: str, *, reference: str = ""
               ) -> incidents.Incident:
        if kind not in KINDS:
            raise InvalidInputError(f"unknown notification {kind!r}; choose from "
                                    f"{', '.join(sorted(KINDS))}")
        incident = self._open_one(incident_id)
        if not any(kind in kinds for c, kinds in CLASSES.items() if c in incident.classes):
            raise ConflictError(f"{incident_id} is not classified for {kind}: classify it "
                                "first")
        self._record(actor, incidents.NOTIFY, incident_id,
                     {"notification": kind, "sent_at": self._clock(), "reference": reference})
        return self.get(incident_id)

    def close(self, actor: str, incident_id: str, *, reason: str = "") -> incidents.Incident:
        self._open_one(incident_id)
        self._record(actor, incidents.CLOSE, incident_id,
                     {"closed_at": self._clock(), "reason": reason})
        return self.get(incident_id)

    def _open_one(self, incident_id: str) -> incidents.Incident:
        incident = self.get(incident_id)
        if incident.closed_at is not None:
            raise ConflictError(f"{incident_id} is closed")
        return incident

    def check_overdue(self, actor: str = "system"
                      ) -> builtins.list[tuple[incidents.Incident, Deadline]]:
        """Raise an alert for every deadline passed unmet (once each); returns all."""
        now = self._clock()
        overdue = []
        for incident in self.list():
            for d in incident.deadlines(now):
                if d.state is not ClockState.OVERDUE:
                    continue
                overdue.append((incident, d))
                if d.kind in incident.alerted:
                    continue
                log.warning("ALERT compliance.incident.overdue %s %s was due %s",
                            incident.id, d.kind, d.due)
                self._record(actor, incidents.OVERDUE, incident.id,
                             {"notification": d.kind, "due": d.due, "alert": True})
        return overdue


__all__ = ["IncidentRegister"]
