"""Compliance evidence an auditor verifies offline, and the incident register.

Pure cores: ``catalog`` (controls and the articles they evidence), ``evidence`` and
``collectors`` (claims from ledger events), ``clocks`` (legal deadlines), ``check`` (the
offline verifier, importing nothing but the ledger's pure modules). ``report`` and
``register`` do the IO on an instance. docs/compliance.md is the guide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export
from sovra.compliance.catalog import CONTROLS, REGIMES, Control
from sovra.compliance.check import CheckResult, check_report, read_report
from sovra.compliance.clocks import ClockState, Deadline, deadlines
from sovra.compliance.evidence import Claim, ControlResult, Finding, Match, Status

if TYPE_CHECKING:
    from sovra.compliance.document import signed_digest
    from sovra.compliance.drafts import draft as draft_notification
    from sovra.compliance.evidence import parse_time, rfc3339
    from sovra.compliance.incidents import OPEN as INCIDENT_OPEN
    from sovra.compliance.incidents import Incident
    from sovra.compliance.register import IncidentRegister
    from sovra.compliance.render import draft_pdf
    from sovra.compliance.report import generate as generate_report
    from sovra.compliance.subject import subject_report

# Loaded on first use (sovra._lazy): these do IO on an instance, which a caller
# importing the room for its pure parts should not pay for.
_HOMES = {
    "generate_report": "sovra.compliance.report:generate",
    "draft_notification": "sovra.compliance.drafts:draft",
    "parse_time": "sovra.compliance.evidence",
    "rfc3339": "sovra.compliance.evidence",
    "Incident": "sovra.compliance.incidents",
    "INCIDENT_OPEN": "sovra.compliance.incidents:OPEN",
    "IncidentRegister": "sovra.compliance.register",
    "subject_report": "sovra.compliance.subject",
    "draft_pdf": "sovra.compliance.render",
    "signed_digest": "sovra.compliance.document",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "CONTROLS",
    "INCIDENT_OPEN",
    "REGIMES",
    "CheckResult",
    "Claim",
    "ClockState",
    "Control",
    "ControlResult",
    "Deadline",
    "Finding",
    "Incident",
    "IncidentRegister",
    "Match",
    "Status",
    "check_report",
    "deadlines",
    "draft_notification",
    "draft_pdf",
    "generate_report",
    "parse_time",
    "read_report",
    "rfc3339",
    "signed_digest",
    "subject_report",
]
