"""Compliance evidence an auditor verifies offline, and the incident register.

Pure cores: ``catalog`` (controls and the articles they evidence), ``evidence`` and
``collectors`` (claims from ledger events), ``clocks`` (legal deadlines), ``check`` (the
offline verifier, importing nothing but the ledger's pure modules). ``report`` and
``register`` do the IO on an instance. docs/compliance.md is the guide.
"""

from __future__ import annotations

from sovra.compliance.catalog import CONTROLS, REGIMES, Control
from sovra.compliance.check import CheckResult, check_report, read_report
from sovra.compliance.clocks import ClockState, Deadline, deadlines
from sovra.compliance.evidence import Claim, ControlResult, Finding, Match, Status

__all__ = ["CONTROLS", "REGIMES", "CheckResult", "Claim", "ClockState", "Control",
           "ControlResult", "Deadline", "Finding", "Match", "Status", "check_report",
           "deadlines", "read_report"]
