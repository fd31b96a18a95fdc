"""The legal clocks of an incident, as a pure function of its recorded steps and now.

* DORA (Regulation (EU) 2022/2554 Art. 19(4), and the RTS/ITS on major incident
  reporting): the initial notification within 4 hours of classification as major and no
  later than 24 hours after awareness; the intermediate report within 72 hours of the
  initial notification; the final report within one month of the latest intermediate.
* NIS2 (Directive (EU) 2022/2555 Art. 23(4)): early warning within 24 hours of
  awareness, incident notification within 72 hours, final report within one month of
  the notification.
* GDPR (Regulation (EU) 2016/679 Art. 33(1)): notification to the supervisory authority
  within 72 hours of awareness of a personal-data breach.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

HOUR = 3600.0

# Notification kinds, in the order each regime expects them.
DORA = ("dora.initial", "dora.intermediate", "dora.final")
NIS2 = ("nis2.early_warning", "nis2.notification", "nis2.final")
GDPR = ("gdpr.authority",)
KINDS = frozenset(DORA + NIS2 + GDPR)
CLASSES = {"dora_major": DORA, "nis2_significant": NIS2, "gdpr_breach": GDPR}


class ClockState(Enum):
    MET = "met"            # sent before its deadline
    LATE = "late"          # sent, after its deadline
    PENDING = "pending"    # not sent, deadline ahead
    OVERDUE = "overdue"    # not sent, deadline passed
    WAITING = "waiting"    # its deadline starts with an earlier step not yet sent


@dataclass(frozen=True)
class Deadline:
    kind: str
    due: float | None  # None while WAITING
    sent_at: float | None
    state: ClockState
    basis: str  # what the deadline counts from, for the reader


def add_month(epoch_s: float) -> float:
    """One calendar month later, the day clamped to the month's end (31 Jan -> 28/29 Feb)."""
    t = datetime.fromtimestamp(epoch_s, UTC)
    year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
    day = min(t.day, calendar.monthrange(year, month)[1])
    return t.replace(year=year, month=month, day=day).timestamp()


def _state(due: float | None, sent: float | None, now: float) -> ClockState:
    if due is None:
        return ClockState.WAITING
    if sent is not None:
        return ClockState.MET if sent <= due else ClockState.LATE
    return ClockState.OVERDUE if now > due else ClockState.PENDING


def deadlines(*, aware_at: float, classified_at: float | None,
              classes: frozenset[str], sent: Mapping[str, float],
              now: float) -> tuple[Deadline, ...]:
    """Every deadline the incident's classification starts. ``sent`` maps a
    notification kind to when it was sent (for the intermediate report: the latest)."""
    out: list[Deadline] = []

    def add(kind: str, due: float | None, basis: str) -> None:
        out.append(Deadline(kind, due, sent.get(kind), _state(due, sent.get(kind), now),
                            basis))

    if "dora_major" in classes and classified_at is not None:
        add("dora.initial", min(classified_at + 4 * HOUR, aware_at + 24 * HOUR),
            "4 h after classification, at most 24 h after awareness")
        initial = sent.get("dora.initial")
        add("dora.intermediate", None if initial is None else initial + 72 * HOUR,
            "72 h after the initial notification")
        intermediate = sent.get("dora.intermediate")
        add("dora.final", None if intermediate is None else add_month(intermediate),
            "1 month after the latest intermediate report")
    if "nis2_significant" in classes:
        add("nis2.early_warning", aware_at + 24 * HOUR, "24 h after awareness")
        add("nis2.notification", aware_at + 72 * HOUR, "72 h after awareness")
        notified = sent.get("nis2.notification")
        add("nis2.final", None if notified is None else add_month(notified),
            "1 month after the incident notification")
    if "gdpr_breach" in classes:
        add("gdpr.authority", aware_at + 72 * HOUR, "72 h after awareness")
    return tuple(out)


__all__ = ["CLASSES", "DORA", "GDPR", "KINDS", "NIS2", "ClockState", "Deadline",
           "add_month", "deadlines"]
