"""What identity and policy need from the ledger: a durable, blocking append.

The protocol lives in the leaf ``sovra.vocabulary`` (policy uses it without importing
identity); this module keeps the name where identity's own modules look for it.
"""

from __future__ import annotations

from sovra.vocabulary import LedgerSink

__all__ = ["LedgerSink"]
