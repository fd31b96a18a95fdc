"""The tamper-evident ledger: every event recorded, provable offline.

``Ledger`` is the service (``instance.ledger``); ``merkle`` and ``note`` are pure cores an
auditor's tools can reuse; ``verify_archive`` checks an export with no database.
"""

from __future__ import annotations

from sovra.ledger.entry import Entry, payload_ref
from sovra.ledger.log import Ledger, Receipt
from sovra.ledger.verify import Problem, VerificationResult, verify_archive

__all__ = ["Entry", "Ledger", "Problem", "Receipt", "VerificationResult", "payload_ref",
           "verify_archive"]
