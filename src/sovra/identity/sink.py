"""What identity and policy need from the ledger: a durable, blocking append.

A protocol rather than ``sovra.ledger.Ledger`` itself keeps these rooms importable by
an offline verifier or test runner that has no ledger (``sovra policy test``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class LedgerSink(Protocol):
    def append(self, actor: str, action: str, resource: str, outcome: str,
               details: Mapping[str, object] | None = None) -> object:
        """Record one event durably, or raise ``LedgerUnavailableError``."""
        ...


__all__ = ["LedgerSink"]
