"""The tamper-evident ledger: every event recorded, provable offline.

``Ledger`` is the service (``instance.ledger``); ``merkle`` and ``note`` are pure cores an
auditor's tools can reuse; ``verify_archive`` checks an export with no database.

The exports load on first use, so importing a pure core (``sovra.ledger.merkle``) does not
load the service's database stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export

if TYPE_CHECKING:
    from sovra.ledger.archive import ArchivedCheckpoint, read_archive
    from sovra.ledger.entry import Entry, payload_ref
    from sovra.ledger.keyfile import read_private, write_private
    from sovra.ledger.log import Ledger, Receipt
    from sovra.ledger.storage import EntryRow, LedgerStore
    from sovra.ledger.verify import Problem, VerificationResult, verify_archive, verify_contents

_HOMES = {
    "Entry": "sovra.ledger.entry",
    "payload_ref": "sovra.ledger.entry",
    "Ledger": "sovra.ledger.log",
    "Receipt": "sovra.ledger.log",
    "Problem": "sovra.ledger.verify",
    "VerificationResult": "sovra.ledger.verify",
    "verify_archive": "sovra.ledger.verify",
    "ArchivedCheckpoint": "sovra.ledger.archive",
    "read_archive": "sovra.ledger.archive",
    "read_private": "sovra.ledger.keyfile",
    "write_private": "sovra.ledger.keyfile",
    "EntryRow": "sovra.ledger.storage",
    "LedgerStore": "sovra.ledger.storage",
    "verify_contents": "sovra.ledger.verify",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "ArchivedCheckpoint",
    "Entry",
    "EntryRow",
    "Ledger",
    "LedgerStore",
    "Problem",
    "Receipt",
    "VerificationResult",
    "payload_ref",
    "read_archive",
    "read_private",
    "verify_archive",
    "verify_contents",
    "write_private",
]
